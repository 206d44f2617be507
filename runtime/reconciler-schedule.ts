import { ScheduleAlreadyRunning } from '@temporalio/client';
import type { Client, ScheduleOptionsStartWorkflowAction, ScheduleSpec } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import { INTENT_RECONCILER_WORKFLOW } from '../workflows/reconciliation';
import type { ReconcileRequest } from '../workflows/reconciliation';
import type { Logger } from './logger';

export interface ReconcilerSettings extends ReconcileRequest {
  /** The worker's task queue: the schedule's runs and the deployment workflows they look after. */
  readonly taskQueue: string;
  /** How often a reconciliation runs. */
  readonly intervalMs: number;
}

/** One schedule per task queue, so deployments sharing a namespace each reconcile their own intents. */
export function reconcilerScheduleId(taskQueue: string): string {
  return `eucora-intent-reconciler-${taskQueue}`;
}

/**
 * Creates the Temporal schedule that runs the reconciler, or brings an existing one to these settings
 * (a paused schedule stays paused: an operator paused it). A schedule rather than a timer in the
 * worker: however many workers run, one reconciliation runs at a time (overlap SKIP); runs survive
 * worker restarts; operators see, pause and trigger it in the Temporal UI, each run with its history.
 */
export async function ensureReconcilerSchedule(
  client: Client,
  settings: ReconcilerSettings,
  logger: Logger,
): Promise<void> {
  const scheduleId = reconcilerScheduleId(settings.taskQueue);
  const request: ReconcileRequest = { thresholdMs: settings.thresholdMs, batchSize: settings.batchSize };
  const spec: ScheduleSpec = { intervals: [{ every: settings.intervalMs }] };
  const action: ScheduleOptionsStartWorkflowAction<Workflow> = {
    type: 'startWorkflow',
    workflowType: INTENT_RECONCILER_WORKFLOW,
    workflowId: `intent-reconciler-${settings.taskQueue}`,
    taskQueue: settings.taskQueue,
    args: [request],
    // A run nobody picks up (no worker) must not block the next ones for ever.
    workflowExecutionTimeout: Math.max(settings.intervalMs * 5, 15 * 60_000),
  };
  // Missed runs during an outage are not made up: the next one covers them.
  const policies = { overlap: 'SKIP' as const, catchupWindow: '1 minute' };
  try {
    await client.schedule.create({ scheduleId, spec, action, policies });
    logger.info({ scheduleId, intervalMs: settings.intervalMs }, 'reconciler schedule created');
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
    await client.schedule.getHandle(scheduleId).update((previous) => ({
      spec,
      action,
      policies,
      state: {
        paused: previous.state.paused,
        ...(previous.state.note === undefined ? {} : { note: previous.state.note }),
      },
    }));
    logger.info({ scheduleId, intervalMs: settings.intervalMs }, 'reconciler schedule updated');
  }
}
