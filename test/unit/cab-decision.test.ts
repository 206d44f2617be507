import { refuseCabDecision } from '../../policy/cab-decision';
import type { CabDecision, CabDecisionRefusal } from '../../policy/cab-decision';
import type { Ring } from '../../policy/rings';

const SUBMITTER = 'alice@example.com';
const APPROVER = 'bob@example.com';
const DAY = 86_400_000;

type Context = Parameters<typeof refuseCabDecision>[1];

function context(overrides: Partial<Context> = {}): Context {
  return { awaitingCab: true, submitterId: SUBMITTER, targetRing: 'PILOT', ...overrides };
}

function decision(overrides: Partial<CabDecision> = {}): CabDecision {
  return { decision: 'APPROVED', approverId: APPROVER, ...overrides };
}

describe('refuseCabDecision: refusals', () => {
  it.each<{ case: string; cabDecision: CabDecision; intent: Context; refusal: CabDecisionRefusal }>([
    {
      case: 'refuses any decision when the intent is not awaiting CAB',
      cabDecision: decision(),
      intent: context({ awaitingCab: false }),
      refusal: { type: 'NotAwaitingCab', message: 'the intent is not awaiting a CAB decision' },
    },
    {
      case: 'says the intent is not awaiting CAB before checking who decides',
      cabDecision: decision({ approverId: SUBMITTER }),
      intent: context({ awaitingCab: false }),
      refusal: { type: 'NotAwaitingCab', message: 'the intent is not awaiting a CAB decision' },
    },
    {
      case: 'refuses the submitter approving their own intent',
      cabDecision: decision({ approverId: SUBMITTER }),
      intent: context(),
      refusal: { type: 'SelfApprovalForbidden', message: "the intent's submitter cannot decide on it" },
    },
    {
      case: 'refuses the submitter rejecting their own intent',
      cabDecision: decision({ decision: 'REJECTED', approverId: SUBMITTER }),
      intent: context(),
      refusal: { type: 'SelfApprovalForbidden', message: "the intent's submitter cannot decide on it" },
    },
    {
      case: 'refuses the submitter approving conditionally, before checking the conditions',
      cabDecision: decision({ decision: 'CONDITIONAL', approverId: SUBMITTER }),
      intent: context(),
      refusal: { type: 'SelfApprovalForbidden', message: "the intent's submitter cannot decide on it" },
    },
    {
      case: 'refuses a CONDITIONAL decision without conditions',
      cabDecision: decision({ decision: 'CONDITIONAL' }),
      intent: context(),
      refusal: { type: 'InvalidCabDecision', message: 'a CONDITIONAL decision needs at least one condition' },
    },
    {
      case: 'refuses a CONDITIONAL decision with an empty conditions object',
      cabDecision: decision({ decision: 'CONDITIONAL', conditions: {} }),
      intent: context(),
      refusal: { type: 'InvalidCabDecision', message: 'a CONDITIONAL decision needs at least one condition' },
    },
    {
      case: 'refuses a CONDITIONAL decision whose only condition is manual promotion turned off',
      cabDecision: decision({ decision: 'CONDITIONAL', conditions: { manualPromotion: false } }),
      intent: context(),
      refusal: { type: 'InvalidCabDecision', message: 'a CONDITIONAL decision needs at least one condition' },
    },
    {
      case: 'refuses an APPROVED decision that carries a max ring',
      cabDecision: decision({ conditions: { maxRing: 'CANARY' } }),
      intent: context(),
      refusal: {
        type: 'InvalidCabDecision',
        message: 'conditions belong to CONDITIONAL decisions, not APPROVED',
      },
    },
    {
      case: 'refuses an APPROVED decision that carries manual promotion',
      cabDecision: decision({ conditions: { manualPromotion: true } }),
      intent: context(),
      refusal: {
        type: 'InvalidCabDecision',
        message: 'conditions belong to CONDITIONAL decisions, not APPROVED',
      },
    },
    {
      case: 'refuses a max ring one beyond the target ring',
      cabDecision: decision({ decision: 'CONDITIONAL', conditions: { maxRing: 'DEPARTMENT' } }),
      intent: context({ targetRing: 'PILOT' }),
      refusal: {
        type: 'InvalidCabDecision',
        message: "max_ring DEPARTMENT is beyond the intent's target ring PILOT",
      },
    },
    {
      case: 'refuses a max ring of GLOBAL for an intent targeting LAB',
      cabDecision: decision({ decision: 'CONDITIONAL', conditions: { maxRing: 'GLOBAL' } }),
      intent: context({ targetRing: 'LAB' }),
      refusal: {
        type: 'InvalidCabDecision',
        message: "max_ring GLOBAL is beyond the intent's target ring LAB",
      },
    },
    {
      case: 'refuses a max ring beyond the target before looking at the extra soak',
      cabDecision: decision({ decision: 'CONDITIONAL', conditions: { maxRing: 'GLOBAL', extraSoakMs: -1 } }),
      intent: context({ targetRing: 'PILOT' }),
      refusal: {
        type: 'InvalidCabDecision',
        message: "max_ring GLOBAL is beyond the intent's target ring PILOT",
      },
    },
    {
      case: 'refuses a negative extra soak',
      cabDecision: decision({ decision: 'CONDITIONAL', conditions: { extraSoakMs: -1 } }),
      intent: context(),
      refusal: { type: 'InvalidCabDecision', message: 'extra_soak must be a non-negative duration' },
    },
    {
      case: 'refuses a non-integer extra soak',
      cabDecision: decision({ decision: 'CONDITIONAL', conditions: { extraSoakMs: 1.5 } }),
      intent: context(),
      refusal: { type: 'InvalidCabDecision', message: 'extra_soak must be a non-negative duration' },
    },
    {
      case: 'refuses an extra soak that is not a number',
      cabDecision: decision({ decision: 'CONDITIONAL', conditions: { extraSoakMs: Number.NaN } }),
      intent: context(),
      refusal: { type: 'InvalidCabDecision', message: 'extra_soak must be a non-negative duration' },
    },
    {
      case: 'refuses an infinite extra soak',
      cabDecision: decision({
        decision: 'CONDITIONAL',
        conditions: { extraSoakMs: Number.POSITIVE_INFINITY },
      }),
      intent: context(),
      refusal: { type: 'InvalidCabDecision', message: 'extra_soak must be a non-negative duration' },
    },
    {
      case: 'refuses a negative extra soak alongside an allowed max ring',
      cabDecision: decision({
        decision: 'CONDITIONAL',
        conditions: { maxRing: 'CANARY', extraSoakMs: -DAY },
      }),
      intent: context(),
      refusal: { type: 'InvalidCabDecision', message: 'extra_soak must be a non-negative duration' },
    },
  ])('$case', ({ cabDecision, intent, refusal }) => {
    expect(refuseCabDecision(cabDecision, intent)).toEqual(refusal);
  });
  it('refuses a second approval by a member the quorum already counts, but not their rejection', () => {
    const counted = context({ approvedBy: [APPROVER] });
    expect(refuseCabDecision(decision(), counted)?.type).toBe('AlreadyApproved');
    expect(
      refuseCabDecision(decision({ decision: 'CONDITIONAL', conditions: { maxRing: 'LAB' } }), counted)?.type,
    ).toBe('AlreadyApproved');
    expect(refuseCabDecision(decision({ decision: 'REJECTED' }), counted)).toBeUndefined();
    expect(refuseCabDecision(decision({ approverId: 'carol@example.com' }), counted)).toBeUndefined();
  });

  it('refuses a REJECTED decision that carries a condition, even an extra soak of zero', () => {
    const refusal = refuseCabDecision(
      decision({ decision: 'REJECTED', conditions: { extraSoakMs: 0 } }),
      context(),
    );
    expect(refusal?.type).toBe('InvalidCabDecision');
    expect(refusal?.message).toMatch(/^conditions belong to CONDITIONAL decisions, not REJECTED$/);
  });
});

describe('refuseCabDecision: accepted decisions', () => {
  it.each<{ case: string; cabDecision: CabDecision; targetRing: Ring }>([
    { case: 'accepts an APPROVED decision by another member', cabDecision: decision(), targetRing: 'PILOT' },
    {
      case: 'accepts a REJECTED decision with comments',
      cabDecision: decision({ decision: 'REJECTED', comments: 'critical CVE open' }),
      targetRing: 'GLOBAL',
    },
    {
      case: 'accepts an APPROVED decision with an empty conditions object',
      cabDecision: decision({ conditions: {} }),
      targetRing: 'PILOT',
    },
    {
      case: 'accepts an APPROVED decision with manual promotion turned off',
      cabDecision: decision({ conditions: { manualPromotion: false } }),
      targetRing: 'PILOT',
    },
    {
      case: 'accepts a max ring equal to the target ring',
      cabDecision: decision({ decision: 'CONDITIONAL', conditions: { maxRing: 'PILOT' } }),
      targetRing: 'PILOT',
    },
    {
      case: 'accepts a max ring below the target ring',
      cabDecision: decision({ decision: 'CONDITIONAL', conditions: { maxRing: 'LAB' } }),
      targetRing: 'GLOBAL',
    },
    {
      case: 'accepts a max ring of GLOBAL for an intent targeting GLOBAL',
      cabDecision: decision({ decision: 'CONDITIONAL', conditions: { maxRing: 'GLOBAL' } }),
      targetRing: 'GLOBAL',
    },
    {
      case: 'accepts an extra soak of zero',
      cabDecision: decision({ decision: 'CONDITIONAL', conditions: { extraSoakMs: 0 } }),
      targetRing: 'PILOT',
    },
    {
      case: 'accepts an extra soak of one day',
      cabDecision: decision({ decision: 'CONDITIONAL', conditions: { extraSoakMs: DAY } }),
      targetRing: 'PILOT',
    },
    {
      case: 'accepts manual promotion as the only condition',
      cabDecision: decision({ decision: 'CONDITIONAL', conditions: { manualPromotion: true } }),
      targetRing: 'PILOT',
    },
    {
      case: 'accepts every condition together',
      cabDecision: decision({
        decision: 'CONDITIONAL',
        conditions: { maxRing: 'CANARY', extraSoakMs: 2 * DAY, manualPromotion: true },
      }),
      targetRing: 'DEPARTMENT',
    },
  ])('$case', ({ cabDecision, targetRing }) => {
    expect(refuseCabDecision(cabDecision, context({ targetRing }))).toBeUndefined();
  });
});
