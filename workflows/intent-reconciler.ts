import { proxyActivities } from '@temporalio/workflow';
import type * as reconciler from '../activities/reconciler';
import type { ReconcileRequest, ReconciliationReport } from './reconciliation';

type ReconcilerActivities = ReturnType<typeof reconciler.createReconcilerActivities>;

/** One sweep may read many rows; a failed one is retried a little, then left to the next scheduled run. */
const { reconcileIntents, purgeExpiredIdempotencyKeys } = proxyActivities<ReconcilerActivities>({
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumAttempts: 3 },
});

/**
 * One reconciliation, run by a Temporal schedule (runtime/reconciler-schedule.ts): start the
 * workflows of intents recorded without one, repair read-model rows from their workflows' state, and
 * forget expired Idempotency-Keys.
 */
export async function intentReconcilerWorkflow(request: ReconcileRequest): Promise<ReconciliationReport> {
  const repairs = await reconcileIntents(request);
  const idempotencyKeysPurged = await purgeExpiredIdempotencyKeys(request.batchSize);
  return { ...repairs, idempotencyKeysPurged };
}
