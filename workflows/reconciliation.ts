/**
 * The messages of the intent reconciler workflow (workflows/intent-reconciler.ts), shared by the
 * workflow, its activities and the schedule that runs it. Add optional fields only.
 */

export const INTENT_RECONCILER_WORKFLOW = 'intentReconcilerWorkflow';

/** The audit event of a workflow started late for an intent recorded without one (by the reconciler or a retried submission). */
export const ORPHAN_RECOVERED = 'ORPHAN_RECOVERED';

/** The audit event of a read-model row the reconciler set to its workflow's state. */
export const READ_MODEL_REPAIRED = 'READ_MODEL_REPAIRED';

/**
 * The audit event of a ring's connector activity attempt the reconciler failed (as retryable) because the
 * worker that started it ended before recording the ring: Temporal runs the next attempt, which does.
 */
export const RING_WORK_RELEASED = 'RING_WORK_RELEASED';

/** The actor of the audit events the reconciler records. */
export const RECONCILER_ACTOR = 'system:reconciler';

export interface ReconcileRequest {
  /**
   * Age before the reconciler acts: a SUBMITTED intent this old without a workflow is started, and a
   * row this long unchanged that disagrees with its workflow is repaired. Younger ones may be in flight.
   */
  readonly thresholdMs: number;
  /** Rows read per database query. */
  readonly batchSize: number;
}

export interface ReconciliationReport {
  /** Intents recorded without a workflow whose workflow this run started. */
  readonly orphansStarted: number;
  /** Read-model rows this run set to their workflow's state. */
  readonly statusesRepaired: number;
  /**
   * Ring connector activities started by a worker that ended before recording their ring (no connector
   * could see them), failed by this run so that Temporal retries them. Absent from runs before it existed.
   */
  readonly ringWorkReleased?: number;
  /** Rows whose workflow could not be found or asked (logged with the reason); tried again next run. */
  readonly unrepairable: number;
  /** Expired Idempotency-Keys forgotten. */
  readonly idempotencyKeysPurged: number;
}
