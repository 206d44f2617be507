import type { Ring } from './rings';
import type { RingPolicy } from './rollout-policy';

/** What the connectors reported for one ring, summed over every connector that deployed it. */
export interface RingOutcome {
  readonly ring: Ring;
  readonly successCount: number;
  readonly failureCount: number;
  /** From the ring's start to its last final report, measured on the workflow clock. */
  readonly timeToComplianceMs: number;
}

export type GateRule = 'min_success_rate' | 'min_devices' | 'max_time_to_compliance';

export interface GateCheck {
  readonly rule: GateRule;
  readonly passed: boolean;
  readonly actual: number;
  readonly required: number;
}

export interface GateVerdict {
  readonly ring: Ring;
  readonly passed: boolean;
  readonly successRate: number;
  readonly reportingDevices: number;
  readonly timeToComplianceMs: number;
  readonly checks: readonly GateCheck[];
  /** Human-readable reasons for a failed verdict, one per failed check. */
  readonly reasons: readonly string[];
}

/**
 * Whether `successCount` of `total` reaches `minRate`. A quotient and a decimal literal are both the
 * nearest double to the same value when they are equal (97/100 and 0.97), so a direct comparison is
 * exact at the boundary; the epsilon only absorbs rates that are not short decimals.
 */
function meetsRate(successCount: number, total: number, minRate: number): boolean {
  return successCount / total + 1e-12 >= minRate;
}

/** Success rate in [0, 1]; no devices reporting is a rate of 0, never a pass. */
export function successRate(successCount: number, failureCount: number): number {
  const total = successCount + failureCount;
  return total === 0 ? 0 : successCount / total;
}

/**
 * The promotion gate between rings. Pure and deterministic: every input is in the arguments, and
 * every boundary is inclusive (a rate exactly at the minimum, a time exactly at the limit, pass).
 */
export function evaluatePromotionGate(outcome: RingOutcome, policy: RingPolicy): GateVerdict {
  const reportingDevices = outcome.successCount + outcome.failureCount;
  const rate = successRate(outcome.successCount, outcome.failureCount);
  const checks: GateCheck[] = [
    {
      rule: 'min_success_rate',
      passed:
        reportingDevices > 0 && meetsRate(outcome.successCount, reportingDevices, policy.minSuccessRate),
      actual: rate,
      required: policy.minSuccessRate,
    },
    {
      rule: 'min_devices',
      passed: reportingDevices >= policy.minDevices,
      actual: reportingDevices,
      required: policy.minDevices,
    },
    {
      rule: 'max_time_to_compliance',
      passed: outcome.timeToComplianceMs <= policy.maxTimeToComplianceMs,
      actual: outcome.timeToComplianceMs,
      required: policy.maxTimeToComplianceMs,
    },
  ];
  const reasons = checks
    .filter((check) => !check.passed)
    .map((check) => describeFailure(outcome.ring, check));
  return {
    ring: outcome.ring,
    passed: reasons.length === 0,
    successRate: rate,
    reportingDevices,
    timeToComplianceMs: outcome.timeToComplianceMs,
    checks,
    reasons,
  };
}

function describeFailure(ring: Ring, check: GateCheck): string {
  switch (check.rule) {
    case 'min_success_rate':
      return check.actual === 0 && check.required === 0
        ? `${ring}: no device reported, so there is no success rate to promote on`
        : `${ring} success rate ${percent(check.actual)} is below the required ${percent(check.required)}`;
    case 'min_devices':
      return `${ring} had ${check.actual} reporting devices, fewer than the required ${check.required}`;
    case 'max_time_to_compliance':
      return `${ring} took ${check.actual} ms to reach compliance, over the limit of ${check.required} ms`;
  }
}

function percent(rate: number): string {
  // Floored so a rate just under the minimum never displays as equal to it; the epsilon undoes float error.
  return `${(Math.floor(rate * 10_000 + 1e-9) / 100).toFixed(2)}%`;
}

/** A rollback counts as done when at least this share of the ring's devices reverted. */
export function rollbackSucceeded(
  successCount: number,
  failureCount: number,
  minSuccessRate: number,
): boolean {
  const total = successCount + failureCount;
  if (total === 0) return true; // nothing was installed there, nothing to revert
  return meetsRate(successCount, total, minSuccessRate);
}
