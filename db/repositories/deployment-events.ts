import { and, asc, desc, eq, gt } from 'drizzle-orm';
import type { SQL } from 'drizzle-orm';
import type { DatabaseExecutor } from '../client';
import type { TenantId } from '../tenant-id';
import { deploymentEvents } from '../schema';
import { decodeCursor, toPage } from '../pagination';
import type { Page } from '../pagination';

export type DeploymentEventRow = typeof deploymentEvents.$inferSelect;
/** Every writer says which request caused the event (null: none did, e.g. the workflow on its own account). */
export type NewDeploymentEvent = Omit<
  typeof deploymentEvents.$inferInsert,
  'id' | 'tenantId' | 'requestId'
> & {
  readonly requestId: string | null;
};

export interface EventFilter {
  readonly intentId?: string;
  readonly correlationId?: string;
  readonly requestId?: string;
  readonly eventType?: string;
}

export class DeploymentEventRepository {
  constructor(
    private readonly db: DatabaseExecutor,
    private readonly tenantId: TenantId,
  ) {}

  /** Appends once per event key: a retried write is a no-op. Returns whether a row was added. */
  async append(event: NewDeploymentEvent): Promise<boolean> {
    const inserted = await this.db
      .insert(deploymentEvents)
      .values({ ...event, tenantId: this.tenantId })
      .onConflictDoNothing({ target: [deploymentEvents.tenantId, deploymentEvents.eventKey] })
      .returning({ id: deploymentEvents.id });
    return inserted.length > 0;
  }

  /** The trail in the order it was written, oldest first. */
  async list(
    filter: EventFilter,
    page: { limit: number; cursor?: string },
  ): Promise<Page<DeploymentEventRow>> {
    const conditions: SQL[] = [eq(deploymentEvents.tenantId, this.tenantId)];
    if (filter.intentId !== undefined) conditions.push(eq(deploymentEvents.intentId, filter.intentId));
    if (filter.correlationId !== undefined)
      conditions.push(eq(deploymentEvents.correlationId, filter.correlationId));
    if (filter.requestId !== undefined) conditions.push(eq(deploymentEvents.requestId, filter.requestId));
    if (filter.eventType !== undefined) conditions.push(eq(deploymentEvents.eventType, filter.eventType));
    if (page.cursor !== undefined) {
      const [afterId] = decodeCursor(page.cursor, ['row-id']);
      conditions.push(gt(deploymentEvents.id, afterId));
    }
    const rows = await this.db
      .select()
      .from(deploymentEvents)
      .where(and(...conditions))
      .orderBy(asc(deploymentEvents.id))
      .limit(page.limit + 1);
    return toPage(rows, page.limit, (row) => [row.id]);
  }

  /** The newest `limit` events of an intent, returned oldest first. */
  async recentForIntent(intentId: string, limit: number): Promise<DeploymentEventRow[]> {
    const rows = await this.db
      .select()
      .from(deploymentEvents)
      .where(and(eq(deploymentEvents.tenantId, this.tenantId), eq(deploymentEvents.intentId, intentId)))
      .orderBy(desc(deploymentEvents.id))
      .limit(limit);
    return rows.reverse();
  }
}
