import { z } from 'zod';
import { DEFAULT_CAB_QUORUM_RULE } from './cab-quorum';
import type { CabQuorumRule } from './cab-quorum';
import { RINGS } from './rings';
import type { Ring } from './rings';

/** What a ring must show before the rollout is promoted past it. */
export interface RingPolicy {
  /** Fraction of reporting devices that must succeed, 0..1 (inclusive boundary: exactly the rate passes). */
  readonly minSuccessRate: number;
  /** Fewest devices that must report (success + failure) for the verdict to count. */
  readonly minDevices: number;
  /** Longest allowed time from the ring's start to its final report. */
  readonly maxTimeToComplianceMs: number;
  /** Durable wait after a passed gate before the next ring starts. */
  readonly soakMs: number;
  /** The connector must send its final report within this time, or the ring fails and the rollout rolls back. */
  readonly reportDeadlineMs: number;
}

export interface RolloutPolicy {
  readonly cabTimeoutMs: number;
  readonly rings: Readonly<Record<Ring, RingPolicy>>;
  /** A connector must report (heartbeat) at least this often while a ring is pending; null disables the check. */
  readonly heartbeatTimeoutMs: number | null;
  readonly rollback: { readonly minSuccessRate: number; readonly reportDeadlineMs: number };
  /**
   * N-of-M CAB quorum: from this risk score an intent needs this many distinct approvals. Absent from
   * policies snapshotted before the quorum existed: those intents need one approval, as they did then.
   */
  readonly cabQuorum?: CabQuorumRule;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export function defaultRolloutPolicy(): RolloutPolicy {
  return {
    cabTimeoutMs: 7 * DAY,
    rings: {
      LAB: {
        minSuccessRate: 1,
        minDevices: 1,
        maxTimeToComplianceMs: DAY,
        soakMs: HOUR,
        reportDeadlineMs: 2 * DAY,
      },
      CANARY: {
        minSuccessRate: 0.98,
        minDevices: 10,
        maxTimeToComplianceMs: 2 * DAY,
        soakMs: DAY,
        reportDeadlineMs: 3 * DAY,
      },
      PILOT: {
        minSuccessRate: 0.97,
        minDevices: 50,
        maxTimeToComplianceMs: 3 * DAY,
        soakMs: 2 * DAY,
        reportDeadlineMs: 4 * DAY,
      },
      DEPARTMENT: {
        minSuccessRate: 0.96,
        minDevices: 200,
        maxTimeToComplianceMs: 5 * DAY,
        soakMs: 3 * DAY,
        reportDeadlineMs: 7 * DAY,
      },
      GLOBAL: {
        minSuccessRate: 0.95,
        minDevices: 500,
        maxTimeToComplianceMs: 7 * DAY,
        soakMs: 0,
        reportDeadlineMs: 10 * DAY,
      },
    },
    heartbeatTimeoutMs: HOUR,
    rollback: { minSuccessRate: 0.99, reportDeadlineMs: 2 * DAY },
    cabQuorum: DEFAULT_CAB_QUORUM_RULE,
  };
}

const rate = z.number().min(0).max(1);
const millis = z.number().int().min(0);

const ringPolicyOverrides = z.strictObject({
  minSuccessRate: rate.optional(),
  minDevices: z.number().int().min(0).optional(),
  maxTimeToComplianceMs: millis.optional(),
  soakMs: millis.optional(),
  reportDeadlineMs: millis.min(1).optional(),
});

/** Partial overrides, e.g. from the ROLLOUT_POLICY environment variable or a test. */
export const rolloutPolicyOverridesSchema = z.strictObject({
  cabTimeoutMs: millis.min(1).optional(),
  rings: z.partialRecord(z.enum(RINGS), ringPolicyOverrides).optional(),
  heartbeatTimeoutMs: millis.min(1).nullable().optional(),
  rollback: z
    .strictObject({ minSuccessRate: rate.optional(), reportDeadlineMs: millis.min(1).optional() })
    .optional(),
  cabQuorum: z
    .strictObject({
      riskThreshold: z.number().int().min(0).max(100).optional(),
      approvals: z.number().int().min(1).max(100).optional(),
    })
    .optional(),
});
export type RolloutPolicyOverrides = z.infer<typeof rolloutPolicyOverridesSchema>;

export function mergeRolloutPolicy(base: RolloutPolicy, overrides: RolloutPolicyOverrides): RolloutPolicy {
  const rings = Object.fromEntries(
    RINGS.map((ring) => [ring, { ...base.rings[ring], ...stripUndefined(overrides.rings?.[ring] ?? {}) }]),
  ) as Record<Ring, RingPolicy>;
  return {
    cabTimeoutMs: overrides.cabTimeoutMs ?? base.cabTimeoutMs,
    rings,
    heartbeatTimeoutMs:
      overrides.heartbeatTimeoutMs === undefined ? base.heartbeatTimeoutMs : overrides.heartbeatTimeoutMs,
    rollback: { ...base.rollback, ...stripUndefined(overrides.rollback ?? {}) },
    ...(base.cabQuorum === undefined && overrides.cabQuorum === undefined
      ? {}
      : {
          cabQuorum: {
            ...(base.cabQuorum ?? DEFAULT_CAB_QUORUM_RULE),
            ...stripUndefined(overrides.cabQuorum ?? {}),
          },
        }),
  };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
