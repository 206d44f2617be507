import path from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { createApp } from '../api/app';
import { createSessionBackend } from '../api/session';
import type { SessionBackend } from '../api/session';
import { openDatabase } from '../db/client';
import type { DatabaseHandle } from '../db/client';
import { asTenantId } from '../db/tenant-id';
import { DataStore } from '../db/tenant-store';
import { RISK_MODEL_V1 } from '../policy/risk-model';
import type { AppConfig } from './config';
import { connectWorker, createDeploymentWorker } from './deployment-worker';
import { listen } from './http-listener';
import { ensureReconcilerSchedule } from './reconciler-schedule';
import { ShutdownStack } from './shutdown-stack';
import type { Logger } from './logger';
import { startTemporal } from './temporal';
import type { TemporalRuntime } from './temporal';

export type ProcessRole = 'all' | 'api' | 'worker';

export interface RunningSystem {
  readonly apiUrl: string | undefined;
  readonly docsUrl: string | undefined;
  readonly temporalUiUrl: string | undefined;
  /** Resolves when the worker stops on its own (it failed); never for the API alone. */
  readonly workerStopped: Promise<void>;
  stop(): Promise<void>;
}

let temporalRuntimeInstalled = false;

/** Routes the Temporal core's log lines into our JSON logger; the runtime can be installed once per process. */
function installTemporalRuntime(logger: Logger): void {
  if (temporalRuntimeInstalled) return;
  temporalRuntimeInstalled = true;
  Runtime.install({
    logger: new DefaultLogger('WARN', (entry) => {
      const level = entry.level === 'ERROR' ? 'error' : entry.level === 'WARN' ? 'warn' : 'info';
      logger[level]({ temporal: entry.meta }, entry.message);
    }),
  });
}

/**
 * Starts what this process runs: the database (migrated), Temporal (a dev server when no address is
 * configured), the worker and/or the HTTP API. `stop()` undoes it in reverse order.
 */
export async function startSystem(
  config: AppConfig,
  logger: Logger,
  role: ProcessRole,
): Promise<RunningSystem> {
  const cleanups = new ShutdownStack(logger);
  const stop = () => cleanups.unwind();

  try {
    const database: DatabaseHandle = await openDatabase({
      url: config.database.url,
      pgliteDataDir: path.join(config.dataDir, 'pglite'),
      poolSize: config.database.poolSize,
    });
    cleanups.push(() => database.close());
    await database.migrate();
    const store = new DataStore(database.db);
    await store
      .forTenant(asTenantId(config.defaultTenantId))
      .riskModels.activeOrInstall(RISK_MODEL_V1, new Date());
    logger.info({ database: database.kind }, 'database ready');

    const temporal: TemporalRuntime = await startTemporal(config, logger);
    cleanups.push(() => temporal.close());

    let workerStopped = new Promise<void>(() => undefined);
    if (role !== 'api') {
      installTemporalRuntime(logger);
      const native: NativeConnection = await connectWorker(temporal.address, {
        tls: config.temporal.tls,
        apiKey: config.temporal.apiKey,
      });
      cleanups.push(() => native.close());
      const worker: Worker = await createDeploymentWorker({
        connection: native,
        namespace: config.temporal.namespace,
        taskQueue: config.temporal.taskQueue,
        dependencies: { store, logger },
        reconciler: { client: temporal.client, rolloutPolicy: config.rolloutPolicy },
        workflowBundlePath: config.temporal.workflowBundlePath,
      });
      const running = worker.run();
      workerStopped = running.catch((error: unknown) => {
        logger.error({ err: error }, 'worker failed');
      });
      cleanups.push(async () => {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await workerStopped;
      });
      logger.info({ taskQueue: config.temporal.taskQueue }, 'worker running');
      await ensureReconcilerSchedule(
        temporal.client,
        { taskQueue: config.temporal.taskQueue, ...config.reconciler },
        logger,
      );
    }

    let apiUrl: string | undefined;
    if (role !== 'worker') {
      const sessions: SessionBackend = await createSessionBackend({
        redisUrl: config.redisUrl,
        secret: config.session.secret,
        secureCookies: config.session.secureCookies,
        idleTimeoutMs: config.session.idleTimeoutMs,
        absoluteTimeoutMs: config.session.absoluteTimeoutMs,
        logger,
      });
      cleanups.push(() => sessions.close());
      const app = createApp({
        logger,
        publicUrl: config.http.publicUrl,
        production: config.env === 'production',
        trustProxy: config.trustProxy,
        rateLimits: config.rateLimits,
        devLogin: config.devLogin,
        defaultTenantId: config.defaultTenantId,
        database,
        store,
        sessions,
        temporal: {
          client: temporal.client,
          connection: temporal.connection,
          taskQueue: config.temporal.taskQueue,
        },
        rolloutPolicy: config.rolloutPolicy,
        idempotency: config.idempotency,
      });
      const listener = await listen(app, config.http.port, config.http.host);
      cleanups.push(() => listener.close());
      apiUrl = `${config.http.publicUrl}/api/v1`;
    }

    return {
      apiUrl,
      docsUrl: apiUrl === undefined ? undefined : `${config.http.publicUrl}/api/schema/swagger-ui/`,
      temporalUiUrl: temporal.devServer?.uiUrl,
      workerStopped,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
