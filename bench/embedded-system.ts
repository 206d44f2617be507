import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createApp } from '../api/app';
import { UNLIMITED } from '../api/rate-limits';
import { createSessionBackend } from '../api/session';
import { openDatabase } from '../db/client';
import { DataStore } from '../db/tenant-store';
import { defaultRolloutPolicy } from '../policy/rollout-policy';
import { createDeploymentWorker } from '../runtime/deployment-worker';
import type { Logger } from '../runtime/logger';
import { listen } from '../runtime/http-listener';
import { ShutdownStack } from '../runtime/shutdown-stack';
import { startEphemeralTemporal } from '../test/helpers/ephemeral-temporal';

export const BENCH_TENANT = 'bench-tenant';
const TASK_QUEUE = 'eucora-bench';

export interface EmbeddedSystem {
  /** http://127.0.0.1:<port>/api/v1 */
  readonly apiUrl: string;
  readonly temporalPid: number;
  /** Milliseconds each part took to start. */
  readonly startup: {
    readonly database_ms: number;
    readonly temporal_dev_server_ms: number;
    readonly worker_ms: number;
    readonly api_ms: number;
  };
  stop(): Promise<void>;
}

/**
 * The whole control plane in this process on its embedded defaults: PGlite in memory, in-process
 * sessions, a headless in-memory Temporal dev server, a worker that bundles workflows/ at start-up,
 * and the real app listening on a free loopback port.
 */
export async function startEmbeddedSystem(
  logger: Logger,
  progress: (line: string) => void,
): Promise<EmbeddedSystem> {
  const cleanups = new ShutdownStack(logger);
  const stop = () => cleanups.unwind();
  const timed = async <T>(work: () => Promise<T>): Promise<[T, number]> => {
    const started = performance.now();
    const value = await work();
    return [value, Math.round(performance.now() - started)];
  };

  try {
    // The Temporal core logs worker state changes at INFO; warnings are enough here. Once per process.
    Runtime.install({ logger: new DefaultLogger('WARN') });

    progress('opening PGlite in memory');
    const [database, databaseMs] = await timed(async () => {
      const handle = await openDatabase({ pgliteDataDir: 'memory://' });
      cleanups.push(() => handle.close());
      await handle.migrate();
      return handle;
    });
    const store = new DataStore(database.db);

    progress('starting the Temporal dev server');
    const [devServer, temporalMs] = await timed(async () => {
      const { server } = await startEphemeralTemporal('the benchmark', logger);
      cleanups.push(() => server.stop());
      return server;
    });
    const connection = await Connection.connect({ address: devServer.address });
    cleanups.push(() => connection.close());
    const client = new Client({ connection, namespace: 'default' });

    progress('bundling workflows and starting the worker');
    const [, workerMs] = await timed(async () => {
      const native = await NativeConnection.connect({ address: devServer.address });
      cleanups.push(() => native.close());
      const worker = await createDeploymentWorker({
        connection: native,
        namespace: 'default',
        taskQueue: TASK_QUEUE,
        dependencies: { store, logger },
        reconciler: { client, rolloutPolicy: defaultRolloutPolicy() },
        workerOptions: { shutdownGraceTime: '1 second' },
      });
      const running = worker.run().catch((error: unknown) => {
        logger.error({ err: error }, 'benchmark worker failed');
      });
      cleanups.push(async () => {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await running;
      });
    });

    const [apiUrl, apiMs] = await timed(async () => {
      const sessions = await createSessionBackend({
        redisUrl: undefined,
        secret: randomBytes(32).toString('hex'),
        secureCookies: false,
        idleTimeoutMs: 3_600_000,
        absoluteTimeoutMs: 3_600_000,
        logger,
      });
      cleanups.push(() => sessions.close());
      const app = createApp({
        logger,
        publicUrl: 'http://127.0.0.1',
        production: false,
        trustProxy: false,
        // The benchmark measures the API, not its rate limits.
        rateLimits: UNLIMITED,
        devLogin: true,
        defaultTenantId: BENCH_TENANT,
        database,
        store,
        sessions,
        temporal: { client, connection, taskQueue: TASK_QUEUE },
        rolloutPolicy: defaultRolloutPolicy(),
      });
      const listener = await listen(app, 0, '127.0.0.1');
      cleanups.push(() => listener.close());
      return `http://127.0.0.1:${String(listener.port)}/api/v1`;
    });

    return {
      apiUrl,
      temporalPid: devServer.pid,
      startup: {
        database_ms: databaseMs,
        temporal_dev_server_ms: temporalMs,
        worker_ms: workerMs,
        api_ms: apiMs,
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
