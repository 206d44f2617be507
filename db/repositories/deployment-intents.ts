import { and, desc, eq, isNull, ne, sql } from 'drizzle-orm';
import type { SQL } from 'drizzle-orm';
import type { DatabaseExecutor } from '../client';
import type { TenantId } from '../tenant-id';
import { deploymentIntents, evidencePacks } from '../schema';
import type { EvidencePackRow } from './evidence-packs';
import type { IntentStatus } from '../../policy/intent-status';
import type { Ring } from '../../policy/rings';
import { decodeCursor, toPage } from '../pagination';
import type { Page } from '../pagination';

export type DeploymentIntentRow = typeof deploymentIntents.$inferSelect;
export type NewDeploymentIntent = Omit<
  typeof deploymentIntents.$inferInsert,
  'tenantId' | 'createdAt' | 'updatedAt'
>;

/** The columns of an intent that its summary (the intent list's item) shows, with its keyset position. */
export const INTENT_SUMMARY_COLUMNS = {
  id: deploymentIntents.id,
  appName: deploymentIntents.appName,
  version: deploymentIntents.version,
  targetRing: deploymentIntents.targetRing,
  status: deploymentIntents.status,
  currentRing: deploymentIntents.currentRing,
  riskScore: deploymentIntents.riskScore,
  requiresCab: deploymentIntents.requiresCab,
  submitterId: deploymentIntents.submitterId,
  correlationId: deploymentIntents.correlationId,
  createdAt: deploymentIntents.createdAt,
  updatedAt: deploymentIntents.updatedAt,
};

export type DeploymentIntentSummary = Pick<DeploymentIntentRow, keyof typeof INTENT_SUMMARY_COLUMNS>;

export interface IntentFilter {
  readonly status?: IntentStatus;
  readonly ring?: Ring;
  readonly appName?: string;
  readonly submitterId?: string;
}

export interface IntentProgress {
  readonly status: IntentStatus;
  readonly currentRing?: Ring | null;
  readonly riskScore?: number;
  readonly riskModelVersion?: string;
  readonly requiresCab?: boolean;
}

export class DeploymentIntentRepository {
  constructor(
    private readonly db: DatabaseExecutor,
    private readonly tenantId: TenantId,
  ) {}

  /**
   * Inserts the intent; undefined when an intent with its id exists already (a retried submission
   * reuses the id its Idempotency-Key fixed, and the caller reads that intent).
   */
  async create(intent: NewDeploymentIntent): Promise<DeploymentIntentRow | undefined> {
    const [row] = await this.db
      .insert(deploymentIntents)
      .values({ ...intent, tenantId: this.tenantId })
      .onConflictDoNothing({ target: deploymentIntents.id })
      .returning();
    return row;
  }

  /** The intent's correlation id, as the server generated it (or as the migration to unique ids reassigned it). */
  async correlationIdOf(id: string): Promise<string | undefined> {
    const [row] = await this.db
      .select({ correlationId: deploymentIntents.correlationId })
      .from(deploymentIntents)
      .where(and(eq(deploymentIntents.tenantId, this.tenantId), eq(deploymentIntents.id, id)));
    return row?.correlationId;
  }

  async get(id: string): Promise<DeploymentIntentRow | undefined> {
    const [row] = await this.db
      .select()
      .from(deploymentIntents)
      .where(and(eq(deploymentIntents.tenantId, this.tenantId), eq(deploymentIntents.id, id)));
    return row;
  }

  /**
   * What a risk assessment reads, in one query: the intent's correlation id and evidence pack id, and
   * that pack (null when it is gone). Undefined when the tenant has no such intent.
   */
  async withEvidence(
    id: string,
  ): Promise<{ correlationId: string; evidencePackId: string; pack: EvidencePackRow | null } | undefined> {
    const [row] = await this.db
      .select({
        correlationId: deploymentIntents.correlationId,
        evidencePackId: deploymentIntents.evidencePackId,
        pack: evidencePacks,
      })
      .from(deploymentIntents)
      .leftJoin(
        evidencePacks,
        and(
          eq(evidencePacks.tenantId, deploymentIntents.tenantId),
          eq(evidencePacks.id, deploymentIntents.evidencePackId),
        ),
      )
      .where(and(eq(deploymentIntents.tenantId, this.tenantId), eq(deploymentIntents.id, id)));
    return row;
  }

  /** One page of whole rows, newest first. */
  async list(
    filter: IntentFilter,
    page: { limit: number; cursor?: string },
  ): Promise<Page<DeploymentIntentRow>> {
    const rows = await this.db
      .select()
      .from(deploymentIntents)
      .where(this.listConditions(filter, page.cursor))
      .orderBy(desc(deploymentIntents.createdAt), desc(deploymentIntents.id))
      .limit(page.limit + 1);
    return toPage(rows, page.limit, (row) => [row.createdAt.getTime(), row.id]);
  }

  /**
   * The same page with only what the intent list shows (`INTENT_SUMMARY_COLUMNS`): the API's list reads
   * and maps no JSON documents (connectors, rollout policy) and a third fewer columns per row.
   */
  async listSummaries(
    filter: IntentFilter,
    page: { limit: number; cursor?: string },
  ): Promise<Page<DeploymentIntentSummary>> {
    const rows = await this.db
      .select(INTENT_SUMMARY_COLUMNS)
      .from(deploymentIntents)
      .where(this.listConditions(filter, page.cursor))
      .orderBy(desc(deploymentIntents.createdAt), desc(deploymentIntents.id))
      .limit(page.limit + 1);
    return toPage(rows, page.limit, (row) => [row.createdAt.getTime(), row.id]);
  }

  /** The tenant, the filter and the keyset position: what both list queries read. */
  private listConditions(filter: IntentFilter, cursor: string | undefined): SQL | undefined {
    const conditions: SQL[] = [eq(deploymentIntents.tenantId, this.tenantId)];
    if (filter.status !== undefined) conditions.push(eq(deploymentIntents.status, filter.status));
    if (filter.ring !== undefined) conditions.push(eq(deploymentIntents.currentRing, filter.ring));
    if (filter.appName !== undefined) conditions.push(eq(deploymentIntents.appName, filter.appName));
    if (filter.submitterId !== undefined)
      conditions.push(eq(deploymentIntents.submitterId, filter.submitterId));
    if (cursor !== undefined) {
      const [createdAtMs, id] = decodeCursor(cursor, ['time', 'uuid']);
      // A row comparison, so PostgreSQL starts the index scan right after the cursor's row.
      conditions.push(
        sql`(${deploymentIntents.createdAt}, ${deploymentIntents.id}) < (${new Date(createdAtMs)}, ${id})`,
      );
    }
    return and(...conditions);
  }

  /**
   * Sets the status (and ring) the intent's workflow reports, only if the row is still as the caller
   * read it: a write the workflow made meanwhile wins. True when the row was repaired.
   */
  async repairStatus(
    id: string,
    seen: { readonly status: IntentStatus; readonly updatedAt: Date },
    to: { readonly status: IntentStatus; readonly currentRing: Ring | null },
    at: Date,
  ): Promise<boolean> {
    const repaired = await this.db
      .update(deploymentIntents)
      .set({ status: to.status, currentRing: to.currentRing, updatedAt: at })
      .where(
        and(
          eq(deploymentIntents.tenantId, this.tenantId),
          eq(deploymentIntents.id, id),
          eq(deploymentIntents.status, seen.status),
          eq(deploymentIntents.updatedAt, seen.updatedAt),
        ),
      )
      .returning({ id: deploymentIntents.id });
    return repaired.length > 0;
  }

  /**
   * FAILED for an intent whose workflow the API could not confirm started, unless that workflow has begun
   * after all (its first step, the risk assessment, locks the row and records a score). One of the two
   * wins, so a client told "FAILED, submit again" never sees that intent roll out. True when given up.
   */
  async giveUpUnstarted(id: string, at: Date): Promise<boolean> {
    const givenUp = await this.db
      .update(deploymentIntents)
      .set({ status: 'FAILED', updatedAt: at })
      .where(
        and(
          eq(deploymentIntents.tenantId, this.tenantId),
          eq(deploymentIntents.id, id),
          eq(deploymentIntents.status, 'SUBMITTED'),
          isNull(deploymentIntents.riskScore),
        ),
      )
      .returning({ id: deploymentIntents.id });
    return givenUp.length > 0;
  }

  /** The intent's status, its row locked until the caller's transaction ends (see giveUpUnstarted). */
  /**
   * Moves the intent's read model; answers its correlation id (undefined: no such intent in this tenant,
   * or it is in `unless`). The row stays locked until the transaction ends; a row another transaction
   * holds is checked against `unless` again once that one ends.
   */
  async recordProgress(
    id: string,
    progress: IntentProgress,
    at: Date,
    unless?: IntentStatus,
  ): Promise<string | undefined> {
    const [row] = await this.db
      .update(deploymentIntents)
      .set({ ...progress, updatedAt: at })
      .where(
        and(
          eq(deploymentIntents.tenantId, this.tenantId),
          eq(deploymentIntents.id, id),
          unless === undefined ? undefined : ne(deploymentIntents.status, unless),
        ),
      )
      .returning({ correlationId: deploymentIntents.correlationId });
    return row?.correlationId;
  }
}
