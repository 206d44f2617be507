import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import type { DeploymentIntentRow } from '../db/repositories/deployment-intents';
import type { TenantStore } from '../db/tenant-store';
import type { RolloutPolicy } from '../policy/rollout-policy';
import { DEPLOYMENT_INTENT_WORKFLOW } from '../workflows/definitions';
import type { DeploymentIntentInput } from '../workflows/definitions';
import { ORPHAN_RECOVERED } from '../workflows/reconciliation';
import { AppNameKey, IntentStatusKey } from '../workflows/search-attributes';

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
    };
  }

  /** Starts the workflow unless it exists: a running one is kept, a closed one is never run again. */
  async start(intent: DeploymentIntentRow): Promise<void> {
    try {
      await this.options.client.workflow.start(DEPLOYMENT_INTENT_WORKFLOW, {
        workflowId: intent.workflowId,
        taskQueue: this.options.taskQueue,
        args: [this.input(intent)],
        memo: { correlationId: intent.correlationId, tenantId: intent.tenantId },
        typedSearchAttributes: [
          { key: AppNameKey, value: intent.appName },
          { key: IntentStatusKey, value: 'SUBMITTED' },
        ],
        workflowIdConflictPolicy: 'USE_EXISTING',
        // An intent has one rollout: a start that finds it finished must not roll it out again.
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) return;
      throw error;
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
