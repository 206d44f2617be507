import { and, asc, count, eq, gt, or, sql } from 'drizzle-orm';
import type { SQL } from 'drizzle-orm';
import type { DatabaseExecutor } from '../client';
import type { TenantId } from '../tenant-id';
import { cabApprovals, deploymentIntents, evidencePacks, riskAssessments } from '../schema';
import type { CabApprovalEntry } from '../schema';
import type { CabConditions } from '../../policy/cab-decision';
import { decodeCursor, toPage } from '../pagination';
import type { Page } from '../pagination';
import type { DeploymentIntentRow } from './deployment-intents';
import type { EvidencePackRow } from './evidence-packs';
import type { RiskAssessmentRow } from './risk-assessments';

export type CabApprovalRow = typeof cabApprovals.$inferSelect;
export type CabState = CabApprovalRow['state'];

export interface CabOutcome {
  readonly state: Exclude<CabState, 'PENDING'>;
  readonly approverId?: string;
  readonly comments?: string;
  readonly conditions?: CabConditions;
  readonly decidedAt: Date;
  /** Every approval of a quorum (the deciding one included); absent for runs before the quorum. */
  readonly approvals?: readonly CabApprovalEntry[];
  readonly evidenceHash?: string;
  readonly riskModelVersion?: string;
}

/** One entry of the CAB queue: the request, its intent, the risk assessment and the evidence behind it. */
export interface PendingCabRequest {
  readonly approval: CabApprovalRow;
  readonly intent: DeploymentIntentRow;
  readonly assessment: RiskAssessmentRow | null;
  readonly evidence: EvidencePackRow;
}

export class CabApprovalRepository {
  constructor(
    private readonly db: DatabaseExecutor,
    private readonly tenantId: TenantId,
  ) {}

  async request(intentId: string, requestedAt: Date, deadlineAt: Date, requiredApprovals = 1): Promise<void> {
    await this.db
      .insert(cabApprovals)
      .values({
        tenantId: this.tenantId,
        intentId,
        state: 'PENDING',
        requestedAt,
        deadlineAt,
        requiredApprovals,
      })
      .onConflictDoNothing({ target: cabApprovals.intentId });
  }

  /**
   * Adds one approval towards the quorum of a pending request. Once per member: a retried write (or a
   * member already counted) adds nothing.
   */
  async addApproval(intentId: string, approval: CabApprovalEntry): Promise<boolean> {
    const updated = await this.db
      .update(cabApprovals)
      .set({ approvals: sql`${cabApprovals.approvals} || ${JSON.stringify([approval])}::jsonb` })
      .where(
        and(
          eq(cabApprovals.tenantId, this.tenantId),
          eq(cabApprovals.intentId, intentId),
          eq(cabApprovals.state, 'PENDING'),
          sql`not ${cabApprovals.approvals} @> ${JSON.stringify([{ approverId: approval.approverId }])}::jsonb`,
        ),
      )
      .returning({ intentId: cabApprovals.intentId });
    return updated.length > 0;
  }

  async settle(intentId: string, outcome: CabOutcome): Promise<void> {
    await this.db
      .update(cabApprovals)
      .set({
        state: outcome.state,
        approverId: outcome.approverId ?? null,
        comments: outcome.comments ?? null,
        conditions: outcome.conditions ?? null,
        decidedAt: outcome.decidedAt,
        ...(outcome.approvals === undefined ? {} : { approvals: outcome.approvals }),
        ...(outcome.evidenceHash === undefined ? {} : { evidenceHash: outcome.evidenceHash }),
        ...(outcome.riskModelVersion === undefined ? {} : { riskModelVersion: outcome.riskModelVersion }),
      })
      .where(and(eq(cabApprovals.tenantId, this.tenantId), eq(cabApprovals.intentId, intentId)));
  }

  async forIntent(intentId: string): Promise<CabApprovalRow | undefined> {
    const [row] = await this.db
      .select()
      .from(cabApprovals)
      .where(and(eq(cabApprovals.tenantId, this.tenantId), eq(cabApprovals.intentId, intentId)));
    return row;
  }

  /**
   * The CAB queue, oldest request first, with what a member needs to decide. Keyset-paginated on
   * (requested_at, intent_id), so a decision taken between two pages never shifts an item out of view.
   */
  async pending(page: { limit: number; cursor?: string }): Promise<Page<PendingCabRequest>> {
    const conditions: SQL[] = this.awaitingDecision();
    if (page.cursor !== undefined) {
      const [requestedAtMs, intentId] = decodeCursor(page.cursor, ['time', 'uuid']);
      const requestedAt = new Date(requestedAtMs);
      const after = or(
        gt(cabApprovals.requestedAt, requestedAt),
        and(eq(cabApprovals.requestedAt, requestedAt), gt(cabApprovals.intentId, intentId)),
      );
      if (after !== undefined) conditions.push(after);
    }
    const rows = await this.db
      .select({
        approval: cabApprovals,
        intent: deploymentIntents,
        assessment: riskAssessments,
        evidence: evidencePacks,
      })
      .from(cabApprovals)
      .innerJoin(
        deploymentIntents,
        and(eq(deploymentIntents.id, cabApprovals.intentId), eq(deploymentIntents.tenantId, this.tenantId)),
      )
      .innerJoin(
        evidencePacks,
        and(
          eq(evidencePacks.id, deploymentIntents.evidencePackId),
          eq(evidencePacks.tenantId, this.tenantId),
        ),
      )
      .leftJoin(
        riskAssessments,
        and(eq(riskAssessments.intentId, cabApprovals.intentId), eq(riskAssessments.tenantId, this.tenantId)),
      )
      .where(and(...conditions))
      .orderBy(asc(cabApprovals.requestedAt), asc(cabApprovals.intentId))
      .limit(page.limit + 1);
    return toPage(rows, page.limit, (row) => [row.approval.requestedAt.getTime(), row.approval.intentId]);
  }

  /** How many intents wait for a decision: the length of the queue `pending` pages through. */
  async pendingCount(): Promise<number> {
    const [row] = await this.db
      .select({ depth: count() })
      .from(cabApprovals)
      .innerJoin(
        deploymentIntents,
        and(eq(deploymentIntents.id, cabApprovals.intentId), eq(deploymentIntents.tenantId, this.tenantId)),
      )
      .where(and(...this.awaitingDecision()));
    return row?.depth ?? 0;
  }

  /** Pending approvals whose intent still waits: a decided or aborted intent leaves the queue at once. */
  private awaitingDecision(): SQL[] {
    return [
      eq(cabApprovals.tenantId, this.tenantId),
      eq(cabApprovals.state, 'PENDING'),
      eq(deploymentIntents.status, 'AWAITING_CAB'),
    ];
  }
}
