import { and, asc, eq } from 'drizzle-orm';
import type { DatabaseExecutor } from '../client';
import type { TenantId } from '../tenant-id';
import { cabApprovals, deploymentIntents, riskAssessments } from '../schema';
import type { CabConditions } from '../../policy/cab-decision';

export type CabApprovalRow = typeof cabApprovals.$inferSelect;
export type CabState = CabApprovalRow['state'];

export interface CabOutcome {
  readonly state: Exclude<CabState, 'PENDING'>;
  readonly approverId?: string;
  readonly comments?: string;
  readonly conditions?: CabConditions;
  readonly decidedAt: Date;
}

export class CabApprovalRepository {
  constructor(
    private readonly db: DatabaseExecutor,
    private readonly tenantId: TenantId,
  ) {}

  async request(intentId: string, requestedAt: Date, deadlineAt: Date): Promise<void> {
    await this.db
      .insert(cabApprovals)
      .values({ tenantId: this.tenantId, intentId, state: 'PENDING', requestedAt, deadlineAt })
      .onConflictDoNothing({ target: cabApprovals.intentId });
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

  /** The CAB queue, oldest request first, with what a member needs to decide. */
  async pending(limit: number) {
    return this.db
      .select({ approval: cabApprovals, intent: deploymentIntents, assessment: riskAssessments })
      .from(cabApprovals)
      .innerJoin(
        deploymentIntents,
        and(eq(deploymentIntents.id, cabApprovals.intentId), eq(deploymentIntents.tenantId, this.tenantId)),
      )
      .leftJoin(riskAssessments, eq(riskAssessments.intentId, cabApprovals.intentId))
      .where(
        and(
          eq(cabApprovals.tenantId, this.tenantId),
          eq(cabApprovals.state, 'PENDING'),
          eq(deploymentIntents.status, 'AWAITING_CAB'),
        ),
      )
      .orderBy(asc(cabApprovals.requestedAt))
      .limit(limit);
  }
}
