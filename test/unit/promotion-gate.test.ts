import { evaluatePromotionGate, rollbackSucceeded, successRate } from '../../policy/promotion-gate';
import type { RingOutcome } from '../../policy/promotion-gate';
import { RINGS } from '../../policy/rings';
import { defaultRolloutPolicy } from '../../policy/rollout-policy';
import type { RingPolicy } from '../../policy/rollout-policy';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

// Each test varies one rule; the others are set so they cannot fail.
function policy(overrides: Partial<RingPolicy> = {}): RingPolicy {
  return {
    minSuccessRate: 0,
    minDevices: 0,
    maxTimeToComplianceMs: DAY,
    soakMs: HOUR,
    reportDeadlineMs: 2 * DAY,
    ...overrides,
  };
}

function outcome(overrides: Partial<RingOutcome> = {}): RingOutcome {
  return { ring: 'PILOT', successCount: 100, failureCount: 0, timeToComplianceMs: HOUR, ...overrides };
}

function check(verdict: ReturnType<typeof evaluatePromotionGate>, rule: string) {
  return verdict.checks.find((candidate) => candidate.rule === rule)!;
}

describe('evaluatePromotionGate: minimum success rate', () => {
  it.each<{
    case: string;
    successCount: number;
    failureCount: number;
    minSuccessRate: number;
    passed: boolean;
  }>([
    {
      case: 'passes 97/100 against 0.97 (exactly at the minimum)',
      successCount: 97,
      failureCount: 3,
      minSuccessRate: 0.97,
      passed: true,
    },
    {
      case: 'passes 98/100 against 0.98 (exactly at the minimum)',
      successCount: 98,
      failureCount: 2,
      minSuccessRate: 0.98,
      passed: true,
    },
    {
      case: 'passes 49/50 against 0.98 (exactly at the minimum)',
      successCount: 49,
      failureCount: 1,
      minSuccessRate: 0.98,
      passed: true,
    },
    {
      case: 'passes 96/100 against 0.96 (DEPARTMENT default)',
      successCount: 96,
      failureCount: 4,
      minSuccessRate: 0.96,
      passed: true,
    },
    {
      case: 'passes 95/100 against 0.95 (GLOBAL default)',
      successCount: 95,
      failureCount: 5,
      minSuccessRate: 0.95,
      passed: true,
    },
    {
      case: 'passes 57/100 against 0.57 although 0.57 × 10000 is 5699.999… in floating point',
      successCount: 57,
      failureCount: 43,
      minSuccessRate: 0.57,
      passed: true,
    },
    {
      case: 'passes 1/3 against 0.3333',
      successCount: 1,
      failureCount: 2,
      minSuccessRate: 0.3333,
      passed: true,
    },
    { case: 'passes 100/100 against 1', successCount: 100, failureCount: 0, minSuccessRate: 1, passed: true },
    { case: 'passes 0/100 against 0', successCount: 0, failureCount: 100, minSuccessRate: 0, passed: true },
    {
      case: 'passes 98/100 against 0.97 (above the minimum)',
      successCount: 98,
      failureCount: 2,
      minSuccessRate: 0.97,
      passed: true,
    },
    {
      case: 'fails 9699/10000 against 0.97 (one basis point below)',
      successCount: 9699,
      failureCount: 301,
      minSuccessRate: 0.97,
      passed: false,
    },
    {
      case: 'fails 96/100 against 0.97',
      successCount: 96,
      failureCount: 4,
      minSuccessRate: 0.97,
      passed: false,
    },
    {
      case: 'fails 48/50 against 0.98',
      successCount: 48,
      failureCount: 2,
      minSuccessRate: 0.98,
      passed: false,
    },
    {
      case: 'fails 2/3 against 0.6667',
      successCount: 2,
      failureCount: 1,
      minSuccessRate: 0.6667,
      passed: false,
    },
    {
      case: 'fails 999/1000 against 1 (LAB default)',
      successCount: 999,
      failureCount: 1,
      minSuccessRate: 1,
      passed: false,
    },
  ])('$case', ({ successCount, failureCount, minSuccessRate, passed }) => {
    const verdict = evaluatePromotionGate(
      outcome({ successCount, failureCount }),
      policy({ minSuccessRate }),
    );
    expect(verdict.passed).toBe(passed);
    expect(check(verdict, 'min_success_rate')).toEqual({
      rule: 'min_success_rate',
      passed,
      actual: successCount / (successCount + failureCount),
      required: minSuccessRate,
    });
    expect(verdict.reasons).toHaveLength(passed ? 0 : 1);
  });
});

describe('evaluatePromotionGate: minimum devices', () => {
  it.each<{ case: string; reportingDevices: number; minDevices: number; passed: boolean }>([
    {
      case: 'passes with exactly the minimum of 50 devices',
      reportingDevices: 50,
      minDevices: 50,
      passed: true,
    },
    {
      case: 'passes with one device more than the minimum',
      reportingDevices: 51,
      minDevices: 50,
      passed: true,
    },
    { case: 'fails with one device below the minimum', reportingDevices: 49, minDevices: 50, passed: false },
    {
      case: 'fails a single device against a minimum of 10',
      reportingDevices: 1,
      minDevices: 10,
      passed: false,
    },
    {
      case: 'passes a single device against a minimum of 1 (LAB default)',
      reportingDevices: 1,
      minDevices: 1,
      passed: true,
    },
  ])('$case', ({ reportingDevices, minDevices, passed }) => {
    const verdict = evaluatePromotionGate(
      outcome({ successCount: reportingDevices, failureCount: 0 }),
      policy({ minDevices }),
    );
    expect(verdict.passed).toBe(passed);
    expect(verdict.reportingDevices).toBe(reportingDevices);
    expect(check(verdict, 'min_devices')).toEqual({
      rule: 'min_devices',
      passed,
      actual: reportingDevices,
      required: minDevices,
    });
  });

  it('counts failed devices as reporting devices', () => {
    const verdict = evaluatePromotionGate(
      outcome({ successCount: 30, failureCount: 20 }),
      policy({ minDevices: 50 }),
    );
    expect(verdict.reportingDevices).toBe(50);
    expect(check(verdict, 'min_devices').passed).toBe(true);
  });
});

describe('evaluatePromotionGate: maximum time to compliance', () => {
  it.each<{ case: string; timeToComplianceMs: number; passed: boolean }>([
    { case: 'passes exactly at the limit', timeToComplianceMs: DAY, passed: true },
    { case: 'fails 1 ms over the limit', timeToComplianceMs: DAY + 1, passed: false },
    { case: 'passes 1 ms under the limit', timeToComplianceMs: DAY - 1, passed: true },
    { case: 'passes when compliance was immediate', timeToComplianceMs: 0, passed: true },
  ])('$case', ({ timeToComplianceMs, passed }) => {
    const verdict = evaluatePromotionGate(
      outcome({ timeToComplianceMs }),
      policy({ maxTimeToComplianceMs: DAY }),
    );
    expect(verdict.passed).toBe(passed);
    expect(verdict.timeToComplianceMs).toBe(timeToComplianceMs);
    expect(check(verdict, 'max_time_to_compliance')).toEqual({
      rule: 'max_time_to_compliance',
      passed,
      actual: timeToComplianceMs,
      required: DAY,
    });
  });
});

describe('evaluatePromotionGate: no reporting devices', () => {
  it.each<{ case: string; ringPolicy: RingPolicy }>([
    {
      case: 'fails even when every minimum is zero',
      ringPolicy: policy({ minSuccessRate: 0, minDevices: 0 }),
    },
    { case: 'fails under the LAB default policy', ringPolicy: defaultRolloutPolicy().rings.LAB },
    { case: 'fails under the GLOBAL default policy', ringPolicy: defaultRolloutPolicy().rings.GLOBAL },
  ])('$case', ({ ringPolicy }) => {
    const verdict = evaluatePromotionGate(
      outcome({ successCount: 0, failureCount: 0, timeToComplianceMs: 0 }),
      ringPolicy,
    );
    expect(verdict.passed).toBe(false);
    expect(verdict.successRate).toBe(0);
    expect(verdict.reportingDevices).toBe(0);
    expect(check(verdict, 'min_success_rate').passed).toBe(false);
  });
});

describe('evaluatePromotionGate: verdict', () => {
  it('passes a ring that meets every rule, with every check recorded and no reasons', () => {
    const verdict = evaluatePromotionGate(
      { ring: 'CANARY', successCount: 49, failureCount: 1, timeToComplianceMs: 2 * DAY },
      defaultRolloutPolicy().rings.CANARY,
    );
    expect(verdict).toEqual({
      ring: 'CANARY',
      passed: true,
      successRate: 0.98,
      reportingDevices: 50,
      timeToComplianceMs: 2 * DAY,
      checks: [
        { rule: 'min_success_rate', passed: true, actual: 0.98, required: 0.98 },
        { rule: 'min_devices', passed: true, actual: 50, required: 10 },
        { rule: 'max_time_to_compliance', passed: true, actual: 2 * DAY, required: 2 * DAY },
      ],
      reasons: [],
    });
  });

  it('gives one readable reason per failed check, in rule order', () => {
    const verdict = evaluatePromotionGate(
      { ring: 'CANARY', successCount: 8, failureCount: 1, timeToComplianceMs: 2 * DAY + 1 },
      defaultRolloutPolicy().rings.CANARY,
    );
    expect(verdict.passed).toBe(false);
    expect(verdict.checks.map((candidate) => candidate.passed)).toEqual([false, false, false]);
    expect(verdict.reasons).toEqual([
      'CANARY success rate 88.88% is below the required 98.00%',
      'CANARY had 9 reporting devices, fewer than the required 10',
      'CANARY took 172800001 ms to reach compliance, over the limit of 172800000 ms',
    ]);
  });

  it.each<{ case: string; ringOutcome: RingOutcome; ringPolicy: RingPolicy; reasons: string[] }>([
    {
      case: 'names only the success rate when that is the one failure',
      ringOutcome: outcome({ ring: 'PILOT', successCount: 96, failureCount: 4 }),
      ringPolicy: policy({ minSuccessRate: 0.97 }),
      reasons: ['PILOT success rate 96.00% is below the required 97.00%'],
    },
    {
      case: 'truncates the displayed rate so a failing rate never shows as the required one',
      ringOutcome: outcome({ ring: 'PILOT', successCount: 2, failureCount: 1 }),
      ringPolicy: policy({ minSuccessRate: 0.6667 }),
      reasons: ['PILOT success rate 66.66% is below the required 66.67%'],
    },
    {
      case: 'names only the device count when that is the one failure',
      ringOutcome: outcome({ ring: 'DEPARTMENT', successCount: 199, failureCount: 0 }),
      ringPolicy: policy({ minDevices: 200 }),
      reasons: ['DEPARTMENT had 199 reporting devices, fewer than the required 200'],
    },
    {
      case: 'names only the time to compliance when that is the one failure',
      ringOutcome: outcome({ ring: 'GLOBAL', timeToComplianceMs: 1001 }),
      ringPolicy: policy({ maxTimeToComplianceMs: 1000 }),
      reasons: ['GLOBAL took 1001 ms to reach compliance, over the limit of 1000 ms'],
    },
    {
      case: 'names the success rate and the device count when both fail',
      ringOutcome: outcome({ ring: 'LAB', successCount: 0, failureCount: 0 }),
      ringPolicy: policy({ minSuccessRate: 1, minDevices: 1 }),
      reasons: [
        'LAB success rate 0.00% is below the required 100.00%',
        'LAB had 0 reporting devices, fewer than the required 1',
      ],
    },
  ])('$case', ({ ringOutcome, ringPolicy, reasons }) => {
    const verdict = evaluatePromotionGate(ringOutcome, ringPolicy);
    expect(verdict.passed).toBe(false);
    expect(verdict.reasons).toEqual(reasons);
  });

  it.each(RINGS)('reports the ring it judged (%s)', (ring) => {
    expect(evaluatePromotionGate(outcome({ ring }), policy()).ring).toBe(ring);
  });
});

describe('successRate', () => {
  it.each<{ case: string; successCount: number; failureCount: number; rate: number }>([
    { case: 'is 0 when no device reported', successCount: 0, failureCount: 0, rate: 0 },
    { case: 'is 1 when every device succeeded', successCount: 12, failureCount: 0, rate: 1 },
    { case: 'is 0 when every device failed', successCount: 0, failureCount: 5, rate: 0 },
    { case: 'is the share of succeeded devices', successCount: 3, failureCount: 1, rate: 0.75 },
  ])('$case', ({ successCount, failureCount, rate }) => {
    expect(successRate(successCount, failureCount)).toBe(rate);
  });
});

describe('rollbackSucceeded', () => {
  it.each<{
    case: string;
    successCount: number;
    failureCount: number;
    minSuccessRate: number;
    succeeded: boolean;
  }>([
    {
      case: 'succeeds with 0 devices: nothing was installed, nothing to revert',
      successCount: 0,
      failureCount: 0,
      minSuccessRate: 0.99,
      succeeded: true,
    },
    {
      case: 'succeeds with 0 devices even when every device must revert',
      successCount: 0,
      failureCount: 0,
      minSuccessRate: 1,
      succeeded: true,
    },
    {
      case: 'succeeds exactly at the minimum (99/100 at 0.99)',
      successCount: 99,
      failureCount: 1,
      minSuccessRate: 0.99,
      succeeded: true,
    },
    {
      case: 'succeeds above the minimum (100/100 at 0.99)',
      successCount: 100,
      failureCount: 0,
      minSuccessRate: 0.99,
      succeeded: true,
    },
    {
      case: 'fails below the minimum (98/100 at 0.99)',
      successCount: 98,
      failureCount: 2,
      minSuccessRate: 0.99,
      succeeded: false,
    },
    {
      case: 'fails one basis point below the minimum (9899/10000 at 0.99)',
      successCount: 9899,
      failureCount: 101,
      minSuccessRate: 0.99,
      succeeded: false,
    },
    {
      case: 'fails when every device failed to revert',
      successCount: 0,
      failureCount: 4,
      minSuccessRate: 0.5,
      succeeded: false,
    },
    {
      case: 'succeeds when none reverted but the minimum is 0',
      successCount: 0,
      failureCount: 4,
      minSuccessRate: 0,
      succeeded: true,
    },
  ])('$case', ({ successCount, failureCount, minSuccessRate, succeeded }) => {
    expect(rollbackSucceeded(successCount, failureCount, minSuccessRate)).toBe(succeeded);
  });
});

describe('evaluatePromotionGate: precision', () => {
  const exact = (minSuccessRate: number): RingPolicy => ({
    minSuccessRate,
    minDevices: 0,
    maxTimeToComplianceMs: 10,
    soakMs: 0,
    reportDeadlineMs: 1,
  });

  it.each([
    {
      case: 'fails 97/100 against a minimum finer than a basis point (0.97004)',
      success: 97,
      min: 0.97004,
      passed: false,
    },
    { case: 'passes 97/100 against exactly 0.97', success: 97, min: 0.97, passed: true },
    { case: 'passes 57/100 against 0.57, whose double is not exact', success: 57, min: 0.57, passed: true },
  ])('$case', ({ success, min, passed }) => {
    const verdict = evaluatePromotionGate(
      { ring: 'PILOT', successCount: success, failureCount: 100 - success, timeToComplianceMs: 0 },
      exact(min),
    );
    expect(verdict.passed).toBe(passed);
    expect(rollbackSucceeded(success, 100 - success, min)).toBe(passed);
  });

  it('shows the percentages that were compared, without float error', () => {
    const verdict = evaluatePromotionGate(
      { ring: 'PILOT', successCount: 56, failureCount: 44, timeToComplianceMs: 0 },
      exact(0.57),
    );
    expect(verdict.reasons).toEqual(['PILOT success rate 56.00% is below the required 57.00%']);
  });

  it('says that no device reported rather than comparing 0% with 0%', () => {
    const verdict = evaluatePromotionGate(
      { ring: 'LAB', successCount: 0, failureCount: 0, timeToComplianceMs: 0 },
      exact(0),
    );
    expect(verdict.passed).toBe(false);
    expect(verdict.reasons).toEqual(['LAB: no device reported, so there is no success rate to promote on']);
  });
});
