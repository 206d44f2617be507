import {
  DEFAULT_CAB_QUORUM_RULE,
  mostRestrictiveConditions,
  parseCabQuorumRule,
  requiredCabApprovals,
  tallyCabQuorum,
} from '../../policy/cab-quorum';
import type { CabDecision } from '../../policy/cab-decision';

const HOUR = 3_600_000;

function approve(approverId: string, conditions?: CabDecision['conditions']): CabDecision {
  return conditions === undefined
    ? { decision: 'APPROVED', approverId }
    : { decision: 'CONDITIONAL', approverId, conditions };
}

describe('requiredCabApprovals', () => {
  it.each<{ score: number; rule: { riskThreshold: number; approvals: number }; required: number }>([
    { score: 79, rule: DEFAULT_CAB_QUORUM_RULE, required: 1 },
    { score: 80, rule: DEFAULT_CAB_QUORUM_RULE, required: 2 },
    { score: 85, rule: DEFAULT_CAB_QUORUM_RULE, required: 2 },
    { score: 100, rule: { riskThreshold: 90, approvals: 3 }, required: 3 },
    { score: 89, rule: { riskThreshold: 90, approvals: 3 }, required: 1 },
    { score: 95, rule: { riskThreshold: 90, approvals: 1 }, required: 1 },
  ])('score $score with $rule needs $required', ({ score, rule, required }) => {
    expect(requiredCabApprovals(score, rule)).toBe(required);
  });
});

describe('tallyCabQuorum', () => {
  it.each<{
    case: string;
    decisions: CabDecision[];
    required: number;
    expected: ReturnType<typeof tallyCabQuorum>;
  }>([
    {
      case: 'no decisions yet: pending, none counted',
      decisions: [],
      required: 2,
      expected: { state: 'PENDING', approvers: [], required: 2, conditions: {} },
    },
    {
      case: 'one approval of two: still pending',
      decisions: [approve('bob')],
      required: 2,
      expected: { state: 'PENDING', approvers: ['bob'], required: 2, conditions: {} },
    },
    {
      case: 'the same member twice counts once',
      decisions: [approve('bob'), approve('bob')],
      required: 2,
      expected: { state: 'PENDING', approvers: ['bob'], required: 2, conditions: {} },
    },
    {
      case: 'two distinct approvals reach a quorum of two',
      decisions: [approve('bob'), approve('carol')],
      required: 2,
      expected: { state: 'APPROVED', approvers: ['bob', 'carol'], required: 2, conditions: {} },
    },
    {
      case: 'a single approval suffices below the threshold',
      decisions: [approve('bob')],
      required: 1,
      expected: { state: 'APPROVED', approvers: ['bob'], required: 1, conditions: {} },
    },
    {
      case: 'any rejection ends it, even after an approval',
      decisions: [approve('bob'), { decision: 'REJECTED', approverId: 'carol' }],
      required: 2,
      expected: { state: 'REJECTED', approvers: ['bob'], required: 2, conditions: {} },
    },
    {
      case: 'conditions from any approver make the quorum CONDITIONAL',
      decisions: [approve('bob'), approve('carol', { maxRing: 'PILOT' })],
      required: 2,
      expected: {
        state: 'CONDITIONAL',
        approvers: ['bob', 'carol'],
        required: 2,
        conditions: { maxRing: 'PILOT' },
      },
    },
    {
      case: 'several conditional approvals: the most restrictive of each condition applies',
      decisions: [
        approve('bob', { maxRing: 'DEPARTMENT', extraSoakMs: 4 * HOUR }),
        approve('carol', { maxRing: 'CANARY', extraSoakMs: HOUR, manualPromotion: true }),
      ],
      required: 2,
      expected: {
        state: 'CONDITIONAL',
        approvers: ['bob', 'carol'],
        required: 2,
        conditions: { maxRing: 'CANARY', extraSoakMs: 4 * HOUR, manualPromotion: true },
      },
    },
  ])('$case', ({ decisions, required, expected }) => {
    expect(tallyCabQuorum(decisions, required)).toEqual(expected);
  });
});

describe('mostRestrictiveConditions', () => {
  it('keeps manual promotion when any member asked for it, and nothing when none did', () => {
    expect(mostRestrictiveConditions([{ manualPromotion: true }, { manualPromotion: false }])).toEqual({
      manualPromotion: true,
    });
    expect(mostRestrictiveConditions([{}, {}])).toEqual({});
  });
});

describe('parseCabQuorumRule', () => {
  it('defaults to a risk score of 80 and two approvals', () => {
    expect(parseCabQuorumRule({})).toEqual({ riskThreshold: 80, approvals: 2 });
  });
  it('reads CAB_QUORUM_RISK_THRESHOLD and CAB_QUORUM_APPROVALS', () => {
    expect(parseCabQuorumRule({ CAB_QUORUM_RISK_THRESHOLD: '90', CAB_QUORUM_APPROVALS: '3' })).toEqual({
      riskThreshold: 90,
      approvals: 3,
    });
  });
  it.each([
    { CAB_QUORUM_RISK_THRESHOLD: '101' },
    { CAB_QUORUM_RISK_THRESHOLD: 'high' },
    { CAB_QUORUM_APPROVALS: '0' },
    { CAB_QUORUM_APPROVALS: '1.5' },
  ])('refuses %p, naming the variable', (env) => {
    expect(() => parseCabQuorumRule(env)).toThrow(Object.keys(env)[0]);
  });
});
