import { separationOfDuties } from './authorization';
import type { Ring } from './rings';
import { ringIndex } from './rings';

export const CAB_DECISIONS = ['APPROVED', 'REJECTED', 'CONDITIONAL'] as const;
export type CabDecisionKind = (typeof CAB_DECISIONS)[number];

/** Conditions a CAB attaches to a CONDITIONAL approval; the workflow enforces each one. */
export interface CabConditions {
  /** The rollout stops after this ring and the intent completes there. */
  readonly maxRing?: Ring;
  /** Added to every ring's soak time. */
  readonly extraSoakMs?: number;
  /** Each ring waits for an explicit promote before it starts. */
  readonly manualPromotion?: boolean;
}

export interface CabDecision {
  readonly decision: CabDecisionKind;
  readonly approverId: string;
  readonly comments?: string;
  readonly conditions?: CabConditions;
}

export type CabDecisionRefusal =
  | { readonly type: 'NotAwaitingCab'; readonly message: string }
  | { readonly type: 'SelfApprovalForbidden'; readonly message: string }
  | { readonly type: 'AlreadyApproved'; readonly message: string }
  | { readonly type: 'InvalidCabDecision'; readonly message: string };

/**
 * Why a CAB decision cannot be accepted, or undefined when it can. Pure, so the workflow's
 * synchronous update validator and the API agree on the rules.
 */
export function refuseCabDecision(
  decision: CabDecision,
  context: {
    readonly awaitingCab: boolean;
    readonly submitterId: string;
    readonly targetRing: Ring;
    /** Members whose approval towards a quorum is already counted. */
    readonly approvedBy?: readonly string[];
  },
): CabDecisionRefusal | undefined {
  if (!context.awaitingCab) {
    return { type: 'NotAwaitingCab', message: 'the intent is not awaiting a CAB decision' };
  }
  const duties = separationOfDuties('decide_cab', decision.approverId, context);
  if (!duties.allowed) return { type: 'SelfApprovalForbidden', message: duties.reason };
  if (decision.decision !== 'REJECTED' && context.approvedBy?.includes(decision.approverId) === true) {
    return {
      type: 'AlreadyApproved',
      message: 'you have already approved this intent; its quorum needs approvals from other CAB members',
    };
  }
  const conditions = decision.conditions;
  const hasConditions =
    conditions !== undefined &&
    (conditions.maxRing !== undefined ||
      conditions.extraSoakMs !== undefined ||
      conditions.manualPromotion === true);
  if (decision.decision === 'CONDITIONAL' && !hasConditions) {
    return { type: 'InvalidCabDecision', message: 'a CONDITIONAL decision needs at least one condition' };
  }
  if (decision.decision !== 'CONDITIONAL' && hasConditions) {
    return {
      type: 'InvalidCabDecision',
      message: `conditions belong to CONDITIONAL decisions, not ${decision.decision}`,
    };
  }
  if (conditions?.maxRing !== undefined && ringIndex(conditions.maxRing) > ringIndex(context.targetRing)) {
    return {
      type: 'InvalidCabDecision',
      message: `max_ring ${conditions.maxRing} is beyond the intent's target ring ${context.targetRing}`,
    };
  }
  if (
    conditions?.extraSoakMs !== undefined &&
    (!Number.isInteger(conditions.extraSoakMs) || conditions.extraSoakMs < 0)
  ) {
    return { type: 'InvalidCabDecision', message: 'extra_soak must be a non-negative duration' };
  }
  return undefined;
}
