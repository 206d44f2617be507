import {
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  isGrpcCancelledError,
  isGrpcDeadlineError,
} from '@temporalio/client';
import type { Client, WorkflowStartOptions } from '@temporalio/client';
import type { DeploymentIntentRow } from '../db/repositories/deployment-intents';
import type { TenantStore } from '../db/tenant-store';
import type { RolloutPolicy } from '../policy/rollout-policy';
import { DEPLOYMENT_INTENT_WORKFLOW, riskAssessedUpdate } from '../workflows/definitions';
import type { DeploymentIntentInput, RiskSummary } from '../workflows/definitions';
import { ORPHAN_RECOVERED } from '../workflows/reconciliation';
import { AppNameKey, IntentStatusKey } from '../workflows/search-attributes';
import { withRetryDeadline } from './temporal-retry';

/**
 * The workflow task timeout of every intent's workflow. When the worker's sticky cache is full, the
 * Temporal core evicts its least recently used run even while that run's workflow task waits on a local
 * activity (a slow database write): the task is dropped unanswered, and the server hands it out again only
 * when it times out. Temporal's default of 10 s equals the API's risk wait, so such an intent was answered
 * without its risk; this bound keeps the retry well inside it. A local activity that runs longer is not cut:
 * the core extends the task (a heartbeat) at 80% of it. Seen in the comparison benchmark at concurrency 32
 * with the default cache of 50 (its `unanswered_creates`: WORKFLOW_TASK_TIMED_OUT 10 s after the start, the
 * core logging "…if the activation was only an eviction. This is an SDK bug." and "Tried to complete
 * untracked local activity"); a fixed start option, so no workflow code or history changes.
 */
export const INTENT_WORKFLOW_TASK_TIMEOUT_MS = 4_000;

/** How long a submission whose call ran out of time waits to learn whether its workflow started. */
const EXISTS_CHECK_MS = 2_000;

/** A call cut by its deadline or cancelled: it may have taken effect. */
function ranOutOfTime(error: unknown): boolean {
  return (
    error instanceof WorkflowUpdateRPCTimeoutOrCancelledError ||
    isGrpcDeadlineError(error) ||
    isGrpcCancelledError(error)
  );
}

/** A started workflow's risk assessment (null when it ended first), or null and why it did not come in time. */
export interface StartedWithRisk {
  readonly risk: RiskSummary | null;
  /** Present when the assessment did not come before the deadline: the error of the call. */
  readonly unanswered?: unknown;
}

export interface IntentWorkflowsOptions {
  readonly client: Client;
  readonly taskQueue: string;
  /** The input of intents recorded before their row kept it (migration 0003): this process's policy. */
  readonly rolloutPolicy: RolloutPolicy;
}

/**
 * Starting an intent's workflow, from its read-model row alone: the API at submission, the API again
 * when a retried submission finds the workflow missing, and the worker's reconciler. All three build the
 * same input from the same row, under the intent's deterministic workflow id, so a start is idempotent
 * and a late start runs exactly the rollout the first attempt would have run.
 */
export class IntentWorkflows {
  constructor(private readonly options: IntentWorkflowsOptions) {}

  input(intent: DeploymentIntentRow): DeploymentIntentInput {
    return {
      intentId: intent.id,
      tenantId: intent.tenantId,
      correlationId: intent.correlationId,
      appName: intent.appName,
      version: intent.version,
      targetRing: intent.targetRing,
      connectors: intent.connectors,
      submitterId: intent.submitterId,
      ...(intent.targetDeviceCount === null ? {} : { targetDeviceCount: intent.targetDeviceCount }),
      policy: intent.rolloutPolicy ?? this.options.rolloutPolicy,
      ...(intent.riskAssessment === null ? {} : { assessment: intent.riskAssessment }),
    };
  }

  /** How every start of an intent's workflow is made, plain or with the risk update. */
  private startOptions(intent: DeploymentIntentRow) {
    return {
      workflowId: intent.workflowId,
      taskQueue: this.options.taskQueue,
      args: [this.input(intent)],
      memo: { correlationId: intent.correlationId, tenantId: intent.tenantId },
      workflowTaskTimeout: INTENT_WORKFLOW_TASK_TIMEOUT_MS,
      typedSearchAttributes: [
        { key: AppNameKey, value: intent.appName },
        { key: IntentStatusKey, value: 'SUBMITTED' },
      ],
      // A running one is kept (update-with-start requires this policy)...
      workflowIdConflictPolicy: 'USE_EXISTING',
      // ...and an intent has one rollout: a start that finds it finished must not roll it out again.
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
    } satisfies WorkflowStartOptions;
  }

  /** Starts the workflow unless it exists: a running one is kept, a closed one is never run again. */
  async start(intent: DeploymentIntentRow): Promise<void> {
    try {
      await this.options.client.workflow.start(DEPLOYMENT_INTENT_WORKFLOW, this.startOptions(intent));
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) return;
      throw error;
    }
  }

  /**
   * Starts the workflow (as `start` does) and asks it for its risk assessment in the same round trip:
   * one update-with-start call, answered when the workflow has assessed the risk. Resolves with the
   * assessment, or with `risk: null` and the reason when the workflow started but did not answer before
   * `deadlines.answer`. Rejects with the start's error when the workflow did not start, or when whether it
   * started cannot be told (the caller handles that as a start whose answer was lost).
   *
   * The start's own answer travels with the update's: when the deadline cuts the call, the start's
   * outcome is lost with it even though the start took effect (the server holds the call until the
   * update is answered). So a call that ran out of time asks whether the workflow exists.
   */
  async startWithRisk(
    intent: DeploymentIntentRow,
    deadlines: {
      /** When to stop waiting for the risk assessment. */
      readonly answer: number;
      /** When to stop retrying a server that cannot be reached (the request's own Temporal budget). */
      readonly reach: number;
    },
  ): Promise<StartedWithRisk> {
    const { client } = this.options;
    const operation = new WithStartWorkflowOperation(DEPLOYMENT_INTENT_WORKFLOW, this.startOptions(intent));
    const start: { started?: boolean } = {};
    void operation.workflowHandle().then(
      () => (start.started = true),
      () => (start.started = false),
    );
    try {
      const risk = await withRetryDeadline(deadlines.reach, () =>
        client.withDeadline(deadlines.answer, () =>
          client.workflow.executeUpdateWithStart(riskAssessedUpdate, { startWorkflowOperation: operation }),
        ),
      );
      return { risk };
    } catch (error) {
      // The SDK settles the operation before the call rejects; let its callbacks run.
      await new Promise((resolve) => setImmediate(resolve));
      if (start.started === true) return { risk: null, unanswered: error };
      // A closed workflow of this id: as `start`, it exists and is not run again.
      if (error instanceof WorkflowExecutionAlreadyStartedError) return { risk: null, unanswered: error };
      if (ranOutOfTime(error) && (await this.existsWithin(intent, EXISTS_CHECK_MS))) {
        return { risk: null, unanswered: error };
      }
      throw error;
    }
  }

  /** `exists`, bounded: false when Temporal does not say in time. */
  private async existsWithin(
    intent: Pick<DeploymentIntentRow, 'workflowId'>,
    budgetMs: number,
  ): Promise<boolean> {
    try {
      return await this.options.client.withDeadline(Date.now() + budgetMs, () => this.exists(intent));
    } catch {
      return false;
    }
  }

  /** Whether the intent has a workflow, running or closed. */
  async exists(intent: Pick<DeploymentIntentRow, 'workflowId'>): Promise<boolean> {
    try {
      await this.options.client.workflow.getHandle(intent.workflowId).describe();
      return true;
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return false;
      throw error;
    }
  }

  /**
   * Starts the workflow of an intent that was recorded without one (its submitter's process died, or
   * the orchestrator refused the start). Record, then act: the audit event precedes the start, under a
   * key of the intent's own, so repeated recoveries record it once. True when the workflow was missing.
   */
  async recover(
    store: TenantStore,
    intent: DeploymentIntentRow,
    by: { readonly actor: string; readonly requestId: string | null; readonly trigger: string },
  ): Promise<boolean> {
    if (await this.exists(intent)) return false;
    await store.events.append({
      eventKey: `${intent.id}:0000:${ORPHAN_RECOVERED}`,
      eventType: ORPHAN_RECOVERED,
      intentId: intent.id,
      correlationId: intent.correlationId,
      requestId: by.requestId,
      actor: by.actor,
      payload: {
        workflowId: intent.workflowId,
        trigger: by.trigger,
        submittedAt: intent.createdAt.toISOString(),
      },
    });
    await this.start(intent);
    return true;
  }
}
