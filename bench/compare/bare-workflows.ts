import { proxyActivities } from '@temporalio/workflow';
import type { BareActivities } from './bare-activities';

/**
 * Bare Temporal workflows with the shape of EUCORA's work and none of its bookkeeping: what the
 * comparison benchmark measures EUCORA against, on the same dev server in the same run.
 */

const { assess } = proxyActivities<BareActivities>({ startToCloseTimeout: '1 minute' });
const { deploy } = proxyActivities<BareActivities>({ startToCloseTimeout: '1 day' });

/** Intake: one activity, its result is the workflow's result (EUCORA: the risk answer). */
export async function bareAssess(index: number): Promise<number> {
  return assess(index);
}

/** Lifecycle: one activity, then one asynchronously completed activity per ring (5 rings). */
export async function bareRollout(index: number): Promise<number> {
  let total = await assess(index);
  for (const ring of ['LAB', 'CANARY', 'PILOT', 'DEPARTMENT', 'GLOBAL']) {
    total += await deploy(ring, false);
  }
  return total;
}

/** Parked: one activity, then an asynchronously completed activity nobody completes. */
export async function bareParked(index: number): Promise<number> {
  return (await assess(index)) + (await deploy('LAB', true));
}
