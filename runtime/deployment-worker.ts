import { NativeConnection, Worker } from '@temporalio/worker';
import type { WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import type { ActivityDependencies } from '../activities';

export const WORKFLOWS_PATH = require.resolve('../workflows');

export interface DeploymentWorkerOptions {
  readonly connection: NativeConnection;
  readonly namespace: string;
  readonly taskQueue: string;
  readonly dependencies: ActivityDependencies;
  /** A bundle built ahead of time (production); unset bundles workflows/ at start-up. */
  readonly workflowBundlePath?: string;
  readonly workerOptions?: Partial<WorkerOptions>;
}

/** The worker that runs deployment intent workflows and their activities. */
export async function createDeploymentWorker(options: DeploymentWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: createActivities(options.dependencies),
    ...(options.workflowBundlePath === undefined
      ? { workflowsPath: WORKFLOWS_PATH }
      : { workflowBundle: { codePath: options.workflowBundlePath } }),
    ...options.workerOptions,
  });
}

export async function connectWorker(address: string, options: { tls: boolean; apiKey: string | undefined }) {
  return NativeConnection.connect({ address, tls: options.tls ? {} : undefined, apiKey: options.apiKey });
}
