import type { Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import type { ActivityDependencies } from '../activities';
import { createReconcilerActivities } from '../activities/reconciler';
import type { RolloutPolicy } from '../policy/rollout-policy';

export const WORKFLOWS_PATH = require.resolve('../workflows');

export interface DeploymentWorkerOptions {
  readonly connection: NativeConnection;
  readonly namespace: string;
  readonly taskQueue: string;
  readonly dependencies: ActivityDependencies;
  /** What the reconciler needs besides the store: a client to reach the workflows, the fallback policy. */
  readonly reconciler: { readonly client: Client; readonly rolloutPolicy: RolloutPolicy };
  /** A bundle built ahead of time (production); unset bundles workflows/ at start-up. */
  readonly workflowBundlePath?: string;
  readonly workerOptions?: Partial<WorkerOptions>;
}

/** The worker that runs deployment intent workflows, the reconciler workflow, and their activities. */
export async function createDeploymentWorker(options: DeploymentWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: {
      ...createActivities(options.dependencies),
      ...createReconcilerActivities({
        ...options.dependencies,
        ...options.reconciler,
        taskQueue: options.taskQueue,
      }),
    },
    ...(options.workflowBundlePath === undefined
      ? { workflowsPath: WORKFLOWS_PATH }
      : { workflowBundle: { codePath: options.workflowBundlePath } }),
    ...options.workerOptions,
  });
}

export async function connectWorker(address: string, options: { tls: boolean; apiKey: string | undefined }) {
  return NativeConnection.connect({ address, tls: options.tls ? {} : undefined, apiKey: options.apiKey });
}
