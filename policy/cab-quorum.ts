import type { CabConditions, CabDecision } from './cab-decision';
import type { Ring } from './rings';
import { lowerRing } from './rings';

/**
 * N-of-M CAB quorum (issue 9, "Authorization as policy"): at or above a risk score an intent needs
 * approvals from several distinct CAB members. Pure, so the workflow and the API count the same way.
 */
export interface CabQuorumRule {
  /** From this risk score (inclusive) an intent needs `approvals` distinct approvals. */
  readonly riskThreshold: number;
  /** Distinct CAB members who must approve an intent at or above the threshold. */
  readonly approvals: number;
}

export const DEFAULT_CAB_QUORUM_RULE: CabQuorumRule = { riskThreshold: 80, approvals: 2 };

/** How many distinct approvals an intent with this risk score needs (one below the threshold). */
export function requiredCabApprovals(score: number, rule: CabQuorumRule): number {
  return score >= rule.riskThreshold ? Math.max(1, rule.approvals) : 1;
}

export type CabQuorumState = 'PENDING' | 'APPROVED' | 'CONDITIONAL' | 'REJECTED';

export interface CabQuorumTally {
  readonly state: CabQuorumState;
  /** Distinct members who approved (with or without conditions), in the order they first approved. */
  readonly approvers: readonly string[];
  readonly required: number;
  /** The most restrictive of every approver's conditions. */
  readonly conditions: CabConditions;
}

/**
 * Counts the decisions taken so far: any rejection ends it REJECTED; a member approving twice counts
 * once (their first approval's conditions stand); quorum reached is APPROVED, or CONDITIONAL when any
 * approver attached conditions.
 */
export function tallyCabQuorum(decisions: readonly CabDecision[], required: number): CabQuorumTally {
  const approvals = new Map<string, CabConditions>();
  let rejected = false;
  for (const decision of decisions) {
    if (decision.decision === 'REJECTED') {
      rejected = true;
    } else if (!approvals.has(decision.approverId)) {
      approvals.set(decision.approverId, decision.conditions ?? {});
    }
  }
  const approvers = [...approvals.keys()];
  const conditions = mostRestrictiveConditions([...approvals.values()]);
  if (rejected) return { state: 'REJECTED', approvers, required, conditions };
  if (approvers.length < required) return { state: 'PENDING', approvers, required, conditions };
  const conditional =
    conditions.maxRing !== undefined ||
    conditions.extraSoakMs !== undefined ||
    conditions.manualPromotion === true;
  return { state: conditional ? 'CONDITIONAL' : 'APPROVED', approvers, required, conditions };
}

/** The lowest max_ring, the longest extra_soak, and manual promotion if anyone asked for it. */
export function mostRestrictiveConditions(all: readonly CabConditions[]): CabConditions {
  let maxRing: Ring | undefined;
  let extraSoakMs: number | undefined;
  let manualPromotion = false;
  for (const c of all) {
    if (c.maxRing !== undefined) maxRing = maxRing === undefined ? c.maxRing : lowerRing(maxRing, c.maxRing);
    if (c.extraSoakMs !== undefined) extraSoakMs = Math.max(extraSoakMs ?? 0, c.extraSoakMs);
    if (c.manualPromotion === true) manualPromotion = true;
  }
  return {
    ...(maxRing === undefined ? {} : { maxRing }),
    ...(extraSoakMs === undefined ? {} : { extraSoakMs }),
    ...(manualPromotion ? { manualPromotion } : {}),
  };
}

/** Reads CAB_QUORUM_RISK_THRESHOLD (0..100, default 80) and CAB_QUORUM_APPROVALS (≥ 1, default 2). */
export function parseCabQuorumRule(env: Readonly<Record<string, string | undefined>>): CabQuorumRule {
  return {
    riskThreshold: integerSetting(
      env,
      'CAB_QUORUM_RISK_THRESHOLD',
      DEFAULT_CAB_QUORUM_RULE.riskThreshold,
      0,
      100,
    ),
    approvals: integerSetting(env, 'CAB_QUORUM_APPROVALS', DEFAULT_CAB_QUORUM_RULE.approvals, 1, 100),
  };
}

function integerSetting(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!/^\d+$/u.test(raw.trim()) || !Number.isInteger(value) || value < min || value > max) {
    throw new Error(
      `${name} must be an integer from ${String(min)} to ${String(max)}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}
