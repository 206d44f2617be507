import type { Platform } from './connectors';
import type { EvidencePack } from './evidence-pack';
import type { Ring } from './rings';
import type { FactorScore, RiskModelDefinition } from './risk-model';
import { evaluateFactor, isScanExceptionExpired } from './risk-factors';

/**
 * Scores an intent against a risk model and decides whether it needs CAB review. Pure and
 * deterministic: the "current time" is `asOf`, so a workflow replay scores exactly the same.
 */

export interface RiskInput {
  readonly evidence: EvidencePack;
  readonly targetRing: Ring;
  readonly targetPlatforms: readonly Platform[];
  readonly targetDeviceCount?: number;
  /** ISO 8601 timestamp the assessment is made at, e.g. when the intent was submitted. */
  readonly asOf: string;
}

/** Reasons an intent goes to CAB whatever its score. */
export type AutoApprovalBlocker = 'SCAN_DECISION_FAIL' | 'SCAN_EXCEPTION_EXPIRED' | 'SCAN_DECISION_MISSING';

export interface RiskScore {
  readonly modelVersion: string;
  readonly threshold: number;
  /** 0..100 */
  readonly score: number;
  readonly requiresCab: boolean;
  readonly autoApprovalBlockers: readonly AutoApprovalBlocker[];
  readonly factors: readonly FactorScore[];
}

export function scoreRisk(model: RiskModelDefinition, input: RiskInput): RiskScore {
  const factors = model.factors.map((factor): FactorScore => {
    const { score, rationale } = evaluateFactor(factor, input);
    return {
      factor: factor.id,
      name: factor.name,
      weight: factor.weight,
      score,
      contribution: roundTo(factor.weight * score * 100, 2),
      rationale,
    };
  });
  const weightedSum = factors.reduce((sum, factor) => sum + factor.weight * factor.score, 0);
  const score = clampScore(roundTo(100 * weightedSum, 0));
  const autoApprovalBlockers = blockersOf(input.evidence.scan_decision, input.asOf);
  return {
    modelVersion: model.version,
    threshold: model.threshold,
    score,
    requiresCab: requiresCab(score, model.threshold, autoApprovalBlockers),
    autoApprovalBlockers,
    factors,
  };
}

/** A score exactly at the threshold is auto-approved; any blocker sends the intent to CAB. */
export function requiresCab(
  score: number,
  threshold: number,
  blockers: readonly AutoApprovalBlocker[],
): boolean {
  return blockers.length > 0 || score > threshold;
}

function blockersOf(decision: EvidencePack['scan_decision'], asOf: string): AutoApprovalBlocker[] {
  if (decision === undefined) return ['SCAN_DECISION_MISSING'];
  if (decision.decision === 'FAIL') return ['SCAN_DECISION_FAIL'];
  if (decision.decision === 'EXCEPTION' && isScanExceptionExpired(decision.expires_at, asOf)) {
    return ['SCAN_EXCEPTION_EXPIRED'];
  }
  return [];
}

/** Rounds half up after dropping binary noise, so 0.15 × 0.25 × 100 gives 3.75 and not 3.7499…. */
function roundTo(value: number, decimals: number): number {
  const scale = 10 ** decimals;
  return Math.round(Number((value * scale).toPrecision(12))) / scale;
}

/** Weights outside the schema (an unvalidated model) could leave 0..100; NaN fails closed to 100. */
function clampScore(score: number): number {
  if (Number.isNaN(score)) return 100;
  return Math.min(100, Math.max(0, score));
}
