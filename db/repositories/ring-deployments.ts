import { and, asc, desc, eq, inArray } from 'drizzle-orm';
import type { DatabaseExecutor } from '../client';
import type { TenantId } from '../tenant-id';
import { deploymentIntents, evidencePacks, ringDeployments } from '../schema';
import type { RingDeploymentKind, RingDeploymentOutcome, RingDeploymentStatus } from '../schema';
import type { Ring } from '../../policy/rings';
import type { GateVerdict } from '../../policy/promotion-gate';

export type RingDeploymentRow = typeof ringDeployments.$inferSelect;
export type NewRingDeployment = Omit<
  typeof ringDeployments.$inferInsert,
  'id' | 'tenantId' | 'status' | 'successCount' | 'failureCount' | 'outcome' | 'gateVerdict'
>;

const OPEN: RingDeploymentStatus[] = ['PENDING', 'IN_PROGRESS'];

export interface RingDeploymentKey {
  readonly correlationId: string;
  readonly ring: Ring;
  readonly connectorType: string;
  /** Narrows to the deployment or the rollback; a ring may have both. */
  readonly kind?: RingDeploymentKind;
}

export class RingDeploymentRepository {
  constructor(
    private readonly db: DatabaseExecutor,
    private readonly tenantId: TenantId,
  ) {}

  /**
   * Records that a ring waits for its connector. A retried activity attempt updates the attempt number
   * and keeps the counts already reported: the connector completes it by workflow and activity id.
   */
  async recordPending(deployment: NewRingDeployment): Promise<RingDeploymentRow> {
    const [row] = await this.db
      .insert(ringDeployments)
      .values({ ...deployment, tenantId: this.tenantId, status: 'PENDING' })
      .onConflictDoUpdate({
        target: [
          ringDeployments.intentId,
          ringDeployments.ring,
          ringDeployments.kind,
          ringDeployments.connectorType,
        ],
        set: {
          attempt: deployment.attempt ?? 1,
          activityId: deployment.activityId,
          deadlineAt: deployment.deadlineAt,
        },
        setWhere: eq(ringDeployments.tenantId, this.tenantId),
      })
      .returning();
    if (row === undefined) throw new Error('ring deployment belongs to another tenant');
    return row;
  }

  /** The deployment or rollback of this ring that still waits for the connector, if any (the newest). */
  async findOpen(key: RingDeploymentKey): Promise<RingDeploymentRow | undefined> {
    const [row] = await this.db
      .select()
      .from(ringDeployments)
      .where(and(this.matches(key), inArray(ringDeployments.status, OPEN)))
      .orderBy(desc(ringDeployments.startedAt))
      .limit(1);
    return row;
  }

  /** Every connector's deployments and rollbacks of this ring of one intent. */
  async forRing(correlationId: string, ring: Ring): Promise<RingDeploymentRow[]> {
    return this.db
      .select()
      .from(ringDeployments)
      .where(
        and(
          eq(ringDeployments.tenantId, this.tenantId),
          eq(ringDeployments.correlationId, correlationId),
          eq(ringDeployments.ring, ring),
        ),
      )
      .orderBy(asc(ringDeployments.startedAt));
  }

  /** Every deployment and rollback of this ring for one connector, oldest first. */
  async findAll(key: RingDeploymentKey): Promise<RingDeploymentRow[]> {
    return this.db
      .select()
      .from(ringDeployments)
      .where(this.matches(key))
      .orderBy(asc(ringDeployments.startedAt));
  }

  async recordReport(
    id: string,
    report: {
      successCount: number;
      failureCount: number;
      connectorObjectId: string;
      final: boolean;
      at: Date;
    },
  ): Promise<RingDeploymentRow | undefined> {
    const [row] = await this.db
      .update(ringDeployments)
      .set({
        successCount: report.successCount,
        failureCount: report.failureCount,
        connectorObjectId: report.connectorObjectId,
        lastReportAt: report.at,
        status: report.final ? 'REPORTED' : 'IN_PROGRESS',
        completedAt: report.final ? report.at : null,
      })
      .where(
        and(
          eq(ringDeployments.tenantId, this.tenantId),
          eq(ringDeployments.id, id),
          inArray(ringDeployments.status, OPEN),
        ),
      )
      .returning();
    return row;
  }

  async settle(
    intentId: string,
    ring: Ring,
    kind: RingDeploymentKind,
    connectorType: string,
    settlement: {
      status?: RingDeploymentStatus;
      outcome: RingDeploymentOutcome;
      gateVerdict?: GateVerdict;
      /** The counts the connector completed the activity with: they win over any lost interim write. */
      report?: { successCount: number; failureCount: number; connectorObjectId: string };
      completedAt: Date;
    },
  ): Promise<void> {
    const { status, report, ...rest } = settlement;
    await this.db
      .update(ringDeployments)
      .set({
        ...rest,
        ...(status === undefined ? {} : { status }),
        ...(report === undefined ? {} : { ...report, status: status ?? 'REPORTED' }),
      })
      .where(
        and(
          eq(ringDeployments.tenantId, this.tenantId),
          eq(ringDeployments.intentId, intentId),
          eq(ringDeployments.ring, ring),
          eq(ringDeployments.kind, kind),
          eq(ringDeployments.connectorType, connectorType),
        ),
      );
  }

  async forIntent(intentId: string): Promise<RingDeploymentRow[]> {
    return this.db
      .select()
      .from(ringDeployments)
      .where(and(eq(ringDeployments.tenantId, this.tenantId), eq(ringDeployments.intentId, intentId)))
      .orderBy(asc(ringDeployments.startedAt));
  }

  /** What a connector has to carry out: open deployments and rollbacks, with the artifact to install. */
  async openForConnector(connectorType: string, ring?: Ring) {
    const conditions = [
      eq(ringDeployments.tenantId, this.tenantId),
      eq(ringDeployments.connectorType, connectorType),
      inArray(ringDeployments.status, OPEN),
    ];
    if (ring !== undefined) conditions.push(eq(ringDeployments.ring, ring));
    return this.db
      .select({
        deployment: ringDeployments,
        evidence: evidencePacks.content,
        targetRing: deploymentIntents.targetRing,
      })
      .from(ringDeployments)
      .innerJoin(
        deploymentIntents,
        and(
          eq(deploymentIntents.id, ringDeployments.intentId),
          eq(deploymentIntents.tenantId, this.tenantId),
        ),
      )
      .innerJoin(evidencePacks, eq(evidencePacks.id, deploymentIntents.evidencePackId))
      .where(and(...conditions))
      .orderBy(asc(ringDeployments.startedAt))
      .limit(500);
  }

  private matches(key: RingDeploymentKey) {
    return and(
      eq(ringDeployments.tenantId, this.tenantId),
      eq(ringDeployments.correlationId, key.correlationId),
      eq(ringDeployments.ring, key.ring),
      eq(ringDeployments.connectorType, key.connectorType),
      key.kind === undefined ? undefined : eq(ringDeployments.kind, key.kind),
    );
  }
}
