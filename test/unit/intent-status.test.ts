import { INTENT_STATUSES, TERMINAL_STATUSES, isTerminal } from '../../policy/intent-status';
import type { IntentStatus } from '../../policy/intent-status';

const LIFECYCLE: { case: string; status: IntentStatus; terminal: boolean }[] = [
  { case: 'SUBMITTED is not terminal', status: 'SUBMITTED', terminal: false },
  { case: 'AWAITING_CAB is not terminal', status: 'AWAITING_CAB', terminal: false },
  { case: 'APPROVED is not terminal', status: 'APPROVED', terminal: false },
  { case: 'DEPLOYING is not terminal', status: 'DEPLOYING', terminal: false },
  { case: 'SOAKING is not terminal', status: 'SOAKING', terminal: false },
  { case: 'AWAITING_PROMOTION is not terminal', status: 'AWAITING_PROMOTION', terminal: false },
  { case: 'PAUSED is not terminal', status: 'PAUSED', terminal: false },
  { case: 'ROLLING_BACK is not terminal', status: 'ROLLING_BACK', terminal: false },
  { case: 'COMPLETED is terminal', status: 'COMPLETED', terminal: true },
  { case: 'REJECTED is terminal', status: 'REJECTED', terminal: true },
  { case: 'EXPIRED is terminal', status: 'EXPIRED', terminal: true },
  { case: 'ROLLED_BACK is terminal', status: 'ROLLED_BACK', terminal: true },
  { case: 'FAILED is terminal', status: 'FAILED', terminal: true },
  { case: 'ABORTED is terminal', status: 'ABORTED', terminal: true },
];

describe('isTerminal', () => {
  it.each(LIFECYCLE)('$case', ({ status, terminal }) => {
    expect(isTerminal(status)).toBe(terminal);
  });

  it('has a row above for every status of the lifecycle, in lifecycle order', () => {
    expect(LIFECYCLE.map((row) => row.status)).toEqual(INTENT_STATUSES);
  });

  it('treats only lifecycle statuses as terminal', () => {
    expect(TERMINAL_STATUSES.every((status) => INTENT_STATUSES.includes(status))).toBe(true);
  });
});
