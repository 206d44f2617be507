import { and, eq, sql } from 'drizzle-orm';
import type { DatabaseExecutor } from '../client';
import type { TenantId } from '../tenant-id';
import { riskAssessments } from '../schema';
import type { RiskScore } from '../../policy/risk-scoring';
import type { RiskSummary, SubmittedAssessment } from '../../workflows/definitions';

export type RiskAssessmentRow = typeof riskAssessments.$inferSelect;
export type NewRiskAssessment = Omit<typeof riskAssessments.$inferInsert, 'id' | 'tenantId' | 'createdAt'>;

export class RiskAssessmentRepository {
  constructor(
    private readonly db: DatabaseExecutor,
    private readonly tenantId: TenantId,
  ) {}

  /** One assessment per intent: a retried activity gets the row it wrote the first time. */
  /**
   * Records the intent's assessment, or answers the one recorded first (a retry changes nothing): one
   * statement, whose no-op update on a conflict returns the existing row as it is.
   */
  async record(assessment: NewRiskAssessment): Promise<RiskAssessmentRow> {
    const [row] = await this.db
      .insert(riskAssessments)
      .values({ ...assessment, tenantId: this.tenantId })
      .onConflictDoUpdate({
        target: riskAssessments.intentId,
        set: { intentId: sql`${riskAssessments.intentId}` },
        setWhere: eq(riskAssessments.tenantId, this.tenantId),
      })
      .returning();
    if (row === undefined)
      throw new Error(`risk assessment for intent ${assessment.intentId} belongs to another tenant`);
    return row;
  }

  async forIntent(intentId: string): Promise<RiskAssessmentRow | undefined> {
    const [row] = await this.db
      .select()
      .from(riskAssessments)
      .where(and(eq(riskAssessments.tenantId, this.tenantId), eq(riskAssessments.intentId, intentId)));
    return row;
  }
}

/** The assessment as the workflow and the API speak of it. */
export function riskSummaryOf(row: RiskAssessmentRow): RiskSummary {
  return {
    modelVersion: row.modelVersion,
    score: row.score,
    threshold: row.threshold,
    requiresCab: row.requiresCab,
    autoApprovalBlockers: row.autoApprovalBlockers as RiskSummary['autoApprovalBlockers'],
    factors: row.factors,
    evidenceHash: row.evidenceHash,
  };
}

/** A score as the trail and the workflow input keep it: with the evidence it was made on and when. */
export function assessmentOf(risk: RiskScore, evidenceHash: string, assessedAt: string): SubmittedAssessment {
  return {
    modelVersion: risk.modelVersion,
    score: risk.score,
    threshold: risk.threshold,
    requiresCab: risk.requiresCab,
    autoApprovalBlockers: [...risk.autoApprovalBlockers],
    factors: [...risk.factors],
    evidenceHash,
    assessedAt,
  };
}
