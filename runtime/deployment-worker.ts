import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import type { WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import type { ActivityDependencies } from '../activities';
import { createReconcilerActivities } from '../activities/reconciler';
import type { RolloutPolicy } from '../policy/rollout-policy';

import { cachedWorkflowBundle } from './workflow-bundle-cache';
import type { CachedWorkflowBundle, WorkflowBundleSources } from './workflow-bundle-cache';
import type { Logger } from './logger';

export const WORKFLOWS_PATH = require.resolve('../workflows');

function packageVersion(name: string): string {
  // `main` is lib/index.js: the package's package.json sits one folder above it.
  const manifest = path.join(path.dirname(require.resolve(name)), '..', 'package.json');
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

/** What the deployment workflows' bundle is made of: workflows/ and the pure policy/ it imports. */
export function deploymentWorkflowSources(): WorkflowBundleSources {
  const root = path.resolve(__dirname, '..');
  return {
    workflowsPath: WORKFLOWS_PATH,
    sourceDirectories: [path.join(root, 'workflows'), path.join(root, 'policy')],
    packageVersions: {
      '@temporalio/workflow': packageVersion('@temporalio/workflow'),
      '@temporalio/worker': packageVersion('@temporalio/worker'),
    },
  };
}

/**
 * The workflow bundle for a start without a prebuilt one: reused from `cacheDirectory` when workflows/
 * and policy/ are unchanged since it was built, otherwise bundled with webpack and stored there.
 */
export async function reusableWorkflowBundle(
  cacheDirectory: string,
  logger: Logger,
): Promise<CachedWorkflowBundle> {
  const bundle = await cachedWorkflowBundle(
    deploymentWorkflowSources(),
    cacheDirectory,
    async (workflowsPath) => {
      const { code } = await bundleWorkflowCode({ workflowsPath, logger: quietBundlerLogger(logger) });
      return code;
    },
  );
  logger.info(
    { codePath: bundle.codePath, built: bundle.built },
    bundle.built ? 'workflows bundled' : 'workflow bundle reused',
  );
  return bundle;
}

function quietBundlerLogger(logger: Logger) {
  return {
    log: () => undefined,
    trace: () => undefined,
    debug: () => undefined,
    info: () => undefined,
    warn: (message: string) => {
      logger.warn({ bundler: true }, message);
    },
    error: (message: string) => {
      logger.error({ bundler: true }, message);
    },
  };
}

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
