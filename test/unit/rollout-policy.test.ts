import { RINGS } from '../../policy/rings';
import type { Ring } from '../../policy/rings';
import {
  defaultRolloutPolicy,
  mergeRolloutPolicy,
  rolloutPolicyOverridesSchema,
} from '../../policy/rollout-policy';
import type { RolloutPolicyOverrides } from '../../policy/rollout-policy';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('defaultRolloutPolicy', () => {
  it.each<{ case: string; ring: Ring; minSuccessRate: number }>([
    { case: 'requires every LAB device to succeed', ring: 'LAB', minSuccessRate: 1 },
    { case: 'requires 98% success in CANARY', ring: 'CANARY', minSuccessRate: 0.98 },
    { case: 'requires 97% success in PILOT', ring: 'PILOT', minSuccessRate: 0.97 },
    { case: 'requires 96% success in DEPARTMENT', ring: 'DEPARTMENT', minSuccessRate: 0.96 },
    { case: 'requires 95% success in GLOBAL', ring: 'GLOBAL', minSuccessRate: 0.95 },
  ])('$case', ({ ring, minSuccessRate }) => {
    expect(defaultRolloutPolicy().rings[ring].minSuccessRate).toBe(minSuccessRate);
  });

  it('expires a CAB decision after 7 days', () => {
    expect(defaultRolloutPolicy().cabTimeoutMs).toBe(7 * DAY);
  });

  it('expects a connector heartbeat at least every hour', () => {
    expect(defaultRolloutPolicy().heartbeatTimeoutMs).toBe(HOUR);
  });

  it('counts a rollback as done when 99% of devices reverted within 2 days', () => {
    expect(defaultRolloutPolicy().rollback).toEqual({ minSuccessRate: 0.99, reportDeadlineMs: 2 * DAY });
  });

  it.each(RINGS)('gives %s a report deadline no shorter than its time-to-compliance limit', (ring) => {
    const { maxTimeToComplianceMs, reportDeadlineMs } = defaultRolloutPolicy().rings[ring];
    expect(reportDeadlineMs).toBeGreaterThanOrEqual(maxTimeToComplianceMs);
  });

  it('asks for more reporting devices in each ring than in the one before', () => {
    const minDevices = RINGS.map((ring) => defaultRolloutPolicy().rings[ring].minDevices);
    expect(minDevices).toEqual([1, 10, 50, 200, 500]);
  });

  it('satisfies its own overrides schema', () => {
    expect(rolloutPolicyOverridesSchema.safeParse(defaultRolloutPolicy()).success).toBe(true);
  });

  it('returns a fresh policy each time, so one caller cannot change another’s', () => {
    expect(defaultRolloutPolicy()).not.toBe(defaultRolloutPolicy());
    expect(defaultRolloutPolicy()).toEqual(defaultRolloutPolicy());
  });
});

describe('mergeRolloutPolicy', () => {
  const base = defaultRolloutPolicy();

  it('keeps every value when there is nothing to override', () => {
    expect(mergeRolloutPolicy(base, {})).toEqual(base);
  });

  it('overrides one field of one ring and keeps the rest of that ring and the other rings', () => {
    const merged = mergeRolloutPolicy(base, { rings: { PILOT: { minSuccessRate: 0.9 } } });
    expect(merged.rings.PILOT).toEqual({ ...base.rings.PILOT, minSuccessRate: 0.9 });
    for (const ring of RINGS.filter((candidate) => candidate !== 'PILOT')) {
      expect(merged.rings[ring]).toEqual(base.rings[ring]);
    }
  });

  it('overrides several rings at once', () => {
    const merged = mergeRolloutPolicy(base, {
      rings: { LAB: { soakMs: 0 }, GLOBAL: { minDevices: 1, reportDeadlineMs: HOUR } },
    });
    expect(merged.rings.LAB).toEqual({ ...base.rings.LAB, soakMs: 0 });
    expect(merged.rings.GLOBAL).toEqual({ ...base.rings.GLOBAL, minDevices: 1, reportDeadlineMs: HOUR });
    expect(merged.rings.CANARY).toEqual(base.rings.CANARY);
  });

  it.each<{ case: string; overrides: RolloutPolicyOverrides; heartbeatTimeoutMs: number | null }>([
    {
      case: 'keeps the heartbeat timeout when it is not overridden',
      overrides: {},
      heartbeatTimeoutMs: HOUR,
    },
    {
      case: 'keeps the heartbeat timeout when the override is explicitly undefined',
      overrides: { heartbeatTimeoutMs: undefined },
      heartbeatTimeoutMs: HOUR,
    },
    {
      case: 'disables the heartbeat check with a null override',
      overrides: { heartbeatTimeoutMs: null },
      heartbeatTimeoutMs: null,
    },
    {
      case: 'replaces the heartbeat timeout with a number',
      overrides: { heartbeatTimeoutMs: 5_000 },
      heartbeatTimeoutMs: 5_000,
    },
  ])('$case', ({ overrides, heartbeatTimeoutMs }) => {
    expect(mergeRolloutPolicy(base, overrides).heartbeatTimeoutMs).toBe(heartbeatTimeoutMs);
  });

  it('keeps a disabled heartbeat check disabled until an override sets a timeout', () => {
    const disabled = mergeRolloutPolicy(base, { heartbeatTimeoutMs: null });
    expect(mergeRolloutPolicy(disabled, {}).heartbeatTimeoutMs).toBeNull();
    expect(mergeRolloutPolicy(disabled, { heartbeatTimeoutMs: 2 * HOUR }).heartbeatTimeoutMs).toBe(2 * HOUR);
  });

  it('overrides the CAB timeout', () => {
    expect(mergeRolloutPolicy(base, { cabTimeoutMs: DAY }).cabTimeoutMs).toBe(DAY);
  });

  it('overrides one rollback field and keeps the other', () => {
    expect(mergeRolloutPolicy(base, { rollback: { minSuccessRate: 0.9 } }).rollback).toEqual({
      minSuccessRate: 0.9,
      reportDeadlineMs: 2 * DAY,
    });
  });

  it('keeps base values for ring and rollback fields that are explicitly undefined', () => {
    const merged = mergeRolloutPolicy(base, {
      rings: { CANARY: { minSuccessRate: undefined, soakMs: HOUR } },
      rollback: { minSuccessRate: undefined },
    });
    expect(merged.rings.CANARY).toEqual({ ...base.rings.CANARY, soakMs: HOUR });
    expect(merged.rollback).toEqual(base.rollback);
  });

  it('leaves the base policy unchanged', () => {
    const before = defaultRolloutPolicy();
    const original = defaultRolloutPolicy();
    mergeRolloutPolicy(before, {
      cabTimeoutMs: 1,
      heartbeatTimeoutMs: null,
      rings: { LAB: { minDevices: 0 } },
      rollback: { reportDeadlineMs: 1 },
    });
    expect(before).toEqual(original);
  });

  it('applies overrides parsed from ROLLOUT_POLICY-style JSON text', () => {
    const overrides = rolloutPolicyOverridesSchema.parse(
      JSON.parse('{"cabTimeoutMs":60000,"rings":{"CANARY":{"minDevices":2}},"heartbeatTimeoutMs":null}'),
    );
    const merged = mergeRolloutPolicy(base, overrides);
    expect(merged.cabTimeoutMs).toBe(60_000);
    expect(merged.rings.CANARY.minDevices).toBe(2);
    expect(merged.heartbeatTimeoutMs).toBeNull();
  });
});

describe('rolloutPolicyOverridesSchema', () => {
  it.each<{ case: string; overrides: unknown }>([
    { case: 'accepts no overrides', overrides: {} },
    { case: 'accepts a null heartbeat timeout', overrides: { heartbeatTimeoutMs: null } },
    { case: 'accepts an empty rings object', overrides: { rings: {} } },
    { case: 'accepts an empty override of one ring', overrides: { rings: { LAB: {} } } },
    {
      case: 'accepts the inclusive lower bounds: rate 0, no devices, zero times',
      overrides: {
        rings: { GLOBAL: { minSuccessRate: 0, minDevices: 0, maxTimeToComplianceMs: 0, soakMs: 0 } },
      },
    },
    {
      case: 'accepts the smallest positive deadlines and timeouts: 1 ms',
      overrides: {
        cabTimeoutMs: 1,
        heartbeatTimeoutMs: 1,
        rings: { LAB: { reportDeadlineMs: 1 } },
        rollback: { reportDeadlineMs: 1 },
      },
    },
    {
      case: 'accepts a success rate of exactly 1',
      overrides: { rings: { PILOT: { minSuccessRate: 1 } }, rollback: { minSuccessRate: 1 } },
    },
  ])('$case', ({ overrides }) => {
    expect(rolloutPolicyOverridesSchema.safeParse(overrides).error?.issues).toBeUndefined();
  });

  it.each<{ case: string; overrides: unknown; path: PropertyKey[] }>([
    { case: 'rejects an unknown top-level key', overrides: { cabTimeout: 1 }, path: [] },
    { case: 'rejects an unknown ring', overrides: { rings: { STAGING: {} } }, path: ['rings'] },
    { case: 'rejects a lower-case ring name', overrides: { rings: { lab: {} } }, path: ['rings'] },
    {
      case: 'rejects an unknown ring field',
      overrides: { rings: { LAB: { minDevice: 1 } } },
      path: ['rings', 'LAB'],
    },
    {
      case: 'rejects an unknown rollback field',
      overrides: { rollback: { deadlineMs: 1 } },
      path: ['rollback'],
    },
    {
      case: 'rejects a success rate above 1',
      overrides: { rings: { CANARY: { minSuccessRate: 1.01 } } },
      path: ['rings', 'CANARY', 'minSuccessRate'],
    },
    {
      case: 'rejects a negative success rate',
      overrides: { rings: { CANARY: { minSuccessRate: -0.01 } } },
      path: ['rings', 'CANARY', 'minSuccessRate'],
    },
    {
      case: 'rejects a success rate given as a percentage string',
      overrides: { rings: { CANARY: { minSuccessRate: '98%' } } },
      path: ['rings', 'CANARY', 'minSuccessRate'],
    },
    {
      case: 'rejects a negative device count',
      overrides: { rings: { PILOT: { minDevices: -1 } } },
      path: ['rings', 'PILOT', 'minDevices'],
    },
    {
      case: 'rejects a fractional device count',
      overrides: { rings: { PILOT: { minDevices: 2.5 } } },
      path: ['rings', 'PILOT', 'minDevices'],
    },
    {
      case: 'rejects a negative time to compliance',
      overrides: { rings: { PILOT: { maxTimeToComplianceMs: -1 } } },
      path: ['rings', 'PILOT', 'maxTimeToComplianceMs'],
    },
    {
      case: 'rejects a fractional soak',
      overrides: { rings: { PILOT: { soakMs: 1.5 } } },
      path: ['rings', 'PILOT', 'soakMs'],
    },
    {
      case: 'rejects a zero report deadline',
      overrides: { rings: { PILOT: { reportDeadlineMs: 0 } } },
      path: ['rings', 'PILOT', 'reportDeadlineMs'],
    },
    { case: 'rejects a zero CAB timeout', overrides: { cabTimeoutMs: 0 }, path: ['cabTimeoutMs'] },
    {
      case: 'rejects a CAB timeout given as a duration string',
      overrides: { cabTimeoutMs: '7d' },
      path: ['cabTimeoutMs'],
    },
    {
      case: 'rejects a zero heartbeat timeout (use null to disable it)',
      overrides: { heartbeatTimeoutMs: 0 },
      path: ['heartbeatTimeoutMs'],
    },
    {
      case: 'rejects a rollback success rate above 1',
      overrides: { rollback: { minSuccessRate: 2 } },
      path: ['rollback', 'minSuccessRate'],
    },
    {
      case: 'rejects a zero rollback report deadline',
      overrides: { rollback: { reportDeadlineMs: 0 } },
      path: ['rollback', 'reportDeadlineMs'],
    },
    { case: 'rejects rings given as an array', overrides: { rings: [] }, path: ['rings'] },
  ])('$case', ({ overrides, path }) => {
    const issues = rolloutPolicyOverridesSchema.safeParse(overrides).error?.issues ?? [];
    expect(issues.map((issue) => issue.path)).toEqual([path]);
  });
});
