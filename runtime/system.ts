import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import type { Worker } from '@temporalio/worker';
import type * as AppModule from '../api/app';
import type * as ConsoleModule from '../api/console';
import type * as EntraModule from '../api/identity/entra';
import type * as SessionModule from '../api/session';
import type { SessionBackend } from '../api/session';
import { openDatabase } from '../db/client';
import type { DatabaseHandle } from '../db/client';
import { asTenantId } from '../db/tenant-id';
import { DataStore } from '../db/tenant-store';
import { RISK_MODEL_V1 } from '../policy/risk-model';
import type { AppConfig } from './config';
import { connectWorker, createDeploymentWorker, reusableWorkflowBundle } from './deployment-worker';
import { heapSizeLimitMb } from './heap-limit';
import { listen } from './http-listener';
import { loadSecrets } from './secrets';
import type { KeyVaultAccess, SecretSource } from './secrets';
import { ensureReconcilerSchedule } from './reconciler-schedule';
import { ShutdownStack } from './shutdown-stack';
import { SiemForwarder, logsIngestionUploader } from './siem-forwarder';
import type { LogsIngestionAccess } from './siem-forwarder';
import type { Logger } from './logger';
import { startTemporal } from './temporal';
import type { TemporalConnection, TemporalRuntime } from './temporal';

/**
 * The API's modules, required only where the API runs: a worker process never loads express, the
 * OpenAPI registry, MSAL or the session stores (about 50 MiB of RSS, docs/benchmarks.md).
 */
function loadApiModules() {
  /* eslint-disable @typescript-eslint/no-require-imports -- deferred on purpose, see above */
  return {
    ...(require('../api/app') as Pick<typeof AppModule, 'createApp'>),
    ...(require('../api/console') as Pick<typeof ConsoleModule, 'consoleBuildDirectory'>),
    ...(require('../api/identity/entra') as Pick<typeof EntraModule, 'createEntraIdentity'>),
    ...(require('../api/session') as Pick<typeof SessionModule, 'createSessionBackend'>),
  };
  /* eslint-enable @typescript-eslint/no-require-imports */
}

export type ProcessRole = 'all' | 'api' | 'worker';

export interface RunningSystem {
  readonly apiUrl: string | undefined;
  /** The browser console, when its build is there. */
  readonly consoleUrl: string | undefined;
  readonly docsUrl: string | undefined;
  readonly temporalUiUrl: string | undefined;
  /** Resolves when the worker stops on its own (it failed); never for the API alone. */
  readonly workerStopped: Promise<void>;
  stop(): Promise<void>;
}

let temporalRuntimeInstalled = false;

/** Links to a workflow’s page in the Temporal Web UI of the dev server the one-command start runs. */
function temporalWorkflowLink(
  uiUrl: string | undefined,
  namespace: string,
): ((workflowId: string) => string) | undefined {
  const base = uiUrl;
  if (base === undefined) return undefined;
  return (workflowId) =>
    `${base.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

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

/** How tests reach stand-ins for Azure: their Key Vault and OpenID Provider trust the test's own CA. */
export interface SystemOverrides {
  readonly keyVault?: KeyVaultAccess;
  readonly logsIngestion?: LogsIngestionAccess;
  readonly issuerFetch?: typeof fetch;
}

/**
 * Records each change the start-up made to which Entra ID directory signs in to which tenant: who may
 * sign in is a privileged fact, so it is in the tenant's audit trail.
 */
async function synchroniseTenants(config: AppConfig, store: DataStore, logger: Logger): Promise<void> {
  const at = new Date();
  const changes = await store.tenants.synchronise(config.entra?.tenants ?? [], [config.defaultTenantId], at);
  const correlationId = randomUUID();
  for (const change of changes) {
    await store.forTenant(asTenantId(change.tenantId)).events.append({
      eventKey: `tenant-directory:${randomUUID()}`,
      eventType: change.change === 'linked' ? 'TENANT_DIRECTORY_LINKED' : 'TENANT_DIRECTORY_UNLINKED',
      intentId: null,
      correlationId,
      requestId: null,
      actor: 'configuration',
      payload: { entra_tenant_id: change.entraTenantId },
      occurredAt: at,
    });
    logger.info(
      { tenant: change.tenantId, entraTenantId: change.entraTenantId, change: change.change },
      'tenant directory link changed',
    );
  }
}

/**
 * An API process waits on a statement at most 2 s (plus the client's grace, 0.5 s): a database that
 * stops answering mid-statement is a 503 within 3 s. Workers (and a combined process) keep the
 * configured timeout, their activities are retried anyway.
 */
export const API_STATEMENT_TIMEOUT_MS = 2_000;

/** Records per upload, the first retry's wait, and how long a claim holds a tenant's records (an upload gets half). */
const SIEM_BATCH_SIZE = 200;
const SIEM_RETRY_BASE_MS = 1_000;
const SIEM_LEASE_MS = 120_000;

export function statementTimeoutFor(role: ProcessRole, configuredMs: number): number {
  return role === 'api' ? Math.min(configuredMs, API_STATEMENT_TIMEOUT_MS) : configuredMs;
}

/**
 * Starts what this process runs: the database (migrated), Temporal (a dev server when no address is
 * configured), the worker and/or the HTTP API. `stop()` undoes it in reverse order.
 */
export async function startSystem(
  config: AppConfig,
  logger: Logger,
  role: ProcessRole,
  overrides: SystemOverrides = {},
): Promise<RunningSystem> {
  const cleanups = new ShutdownStack(logger);
  const stop = () => cleanups.unwind();

  try {
    const secrets: SecretSource = await loadSecrets(config, logger, overrides.keyVault);
    cleanups.push(() => {
      secrets.close();
      return Promise.resolve();
    });
    const database: DatabaseHandle = await openDatabase({
      url: config.database.url,
      pgliteDataDir: path.join(config.dataDir, 'pglite'),
      poolSize: config.database.poolSize,
      connectTimeoutMs: config.database.connectTimeoutMs,
      statementTimeoutMs: statementTimeoutFor(role, config.database.statementTimeoutMs),
      logger,
      ...(secrets.current().databasePassword === undefined
        ? {}
        : { password: () => secrets.current().databasePassword ?? '' }),
    });
    cleanups.push(() => database.close());
    await database.migrate();
    const store = new DataStore(database.db, { siemOutbox: config.siem !== undefined });
    await store
      .forTenant(asTenantId(config.defaultTenantId))
      .riskModels.activeOrInstall(RISK_MODEL_V1, new Date());
    if (role !== 'worker') {
      await synchroniseTenants(config, store, logger);
      // Connector keys are verified from memory while revocations reach this process (db/credential-cache.ts).
      const watching = await store.watchCredentialChanges(database.listen);
      cleanups.push(() => watching.close());
      // Long-polling connectors are woken by new work committed in any process, on the same connection.
      const pendingWork = await store.watchPendingWork(database.listen);
      cleanups.push(() => pendingWork.close());
    }
    logger.info({ database: database.kind }, 'database ready');
    // Before Temporal: forwarding goes on while Temporal is down (docs/audit.md, "SIEM forwarding").
    if (role !== 'api' && config.siem !== undefined) {
      const forwarder = new SiemForwarder({
        outbox: store.siemOutbox,
        uploader: logsIngestionUploader(config.siem, overrides.logsIngestion),
        logger,
        batchSize: SIEM_BATCH_SIZE,
        pollIntervalMs: config.siem.pollIntervalMs,
        retry: { baseMs: SIEM_RETRY_BASE_MS, maxMs: config.siem.retryMaxMs },
        leaseMs: SIEM_LEASE_MS,
      });
      forwarder.start();
      cleanups.push(() => forwarder.stop());
      logger.info({ stream: config.siem.stream }, 'SIEM forwarder running');
    }

    const workerConnection = (address: string) => {
      installTemporalRuntime(logger);
      return connectWorker(address, { tls: config.temporal.tls, apiKey: config.temporal.apiKey });
    };
    // A worker process has one connection, the worker's native one, which its client (the reconciler,
    // the schedule) shares: no gRPC channel in JavaScript beside it (docs/benchmarks.md, "Worker RSS at
    // start"). A process that serves the API keeps the API's connection for its requests.
    const temporal: TemporalRuntime<TemporalConnection> =
      role === 'worker'
        ? await startTemporal(config, logger, workerConnection)
        : await startTemporal(config, logger);
    cleanups.push(() => temporal.close());

    let workerStopped = new Promise<void>(() => undefined);
    if (role !== 'api') {
      let native: NativeConnection;
      if (temporal.connection instanceof NativeConnection) native = temporal.connection;
      else {
        const own = await workerConnection(temporal.address);
        cleanups.push(() => own.close());
        native = own;
      }
      const worker: Worker = await createDeploymentWorker({
        connection: native,
        namespace: config.temporal.namespace,
        taskQueue: config.temporal.taskQueue,
        dependencies: { store, logger },
        reconciler: { client: temporal.client, rolloutPolicy: config.rolloutPolicy },
        workflowBundlePath:
          config.temporal.workflowBundlePath ??
          (await reusableWorkflowBundle(path.join(config.dataDir, 'workflow-bundle'), logger)).codePath,
        workerOptions: {
          maxCachedWorkflows: config.worker.maxCachedWorkflows,
          maxConcurrentWorkflowTaskExecutions: config.worker.maxConcurrentWorkflowTaskExecutions,
          maxConcurrentActivityTaskExecutions: config.worker.maxConcurrentActivityTaskExecutions,
        },
      });
      const running = worker.run();
      workerStopped = running.catch((error: unknown) => {
        logger.error({ err: error }, 'worker failed');
      });
      cleanups.push(async () => {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await workerStopped;
      });
      logger.info(
        {
          taskQueue: config.temporal.taskQueue,
          maxCachedWorkflows: config.worker.maxCachedWorkflows,
          // What V8 applied (runtime/heap-limit.ts), not what was asked: old space plus young generation.
          heapSizeLimitMb: heapSizeLimitMb(),
        },
        'worker running',
      );
      await ensureReconcilerSchedule(
        temporal.client,
        { taskQueue: config.temporal.taskQueue, ...config.reconciler },
        logger,
      );
    }

    let apiUrl: string | undefined;
    let consoleRoot: string | undefined;
    if (role !== 'worker') {
      const { createApp, consoleBuildDirectory, createEntraIdentity, createSessionBackend } =
        loadApiModules();
      const sessions: SessionBackend = await createSessionBackend({
        redisUrl: config.redisUrl,
        secret: secrets.current().sessionSecrets,
        secureCookies: config.session.secureCookies,
        idleTimeoutMs: config.session.idleTimeoutMs,
        absoluteTimeoutMs: config.session.absoluteTimeoutMs,
        redisTimeoutMs: config.redisTimeoutMs,
        logger,
      });
      cleanups.push(() => sessions.close());
      const entra =
        config.entra === undefined
          ? undefined
          : createEntraIdentity(config.entra, {
              credentials: () => ({
                clientSecret: secrets.current().entraClientSecret,
                clientCertificate: secrets.current().entraClientCertificate,
              }),
              logger,
              ...(overrides.issuerFetch === undefined ? {} : { fetch: overrides.issuerFetch }),
            });
      secrets.onChange((values) => {
        sessions.rotateSecrets(values.sessionSecrets);
        entra?.signIn.credentialsChanged();
      });
      if (entra === undefined && !config.devLogin) {
        logger.warn('neither Entra ID (ENTRA_CLIENT_ID) nor the dev login is configured: nobody can sign in');
      }
      consoleRoot = consoleBuildDirectory();
      if (consoleRoot === undefined)
        logger.warn('the console is not built (npm run build:console): / serves nothing');
      const app = createApp({
        logger,
        publicUrl: config.http.publicUrl,
        production: config.env === 'production',
        trustProxy: config.trustProxy,
        rateLimits: config.rateLimits,
        devLogin: config.devLogin,
        entra,
        defaultTenantId: config.defaultTenantId,
        database,
        store,
        sessions,
        temporal: {
          client: temporal.client,
          connection: temporal.connection,
          taskQueue: config.temporal.taskQueue,
          callTimeoutMs: config.temporal.callTimeoutMs,
        },
        rolloutPolicy: config.rolloutPolicy,
        siem: config.siem,
        idempotency: config.idempotency,
        connectorMaxWaitMs: config.connectorMaxWaitMs,
        consoleRoot,
        temporalWorkflowUrl: temporalWorkflowLink(temporal.devServer?.uiUrl, config.temporal.namespace),
      });
      const listener = await listen(app, config.http.port, config.http.host);
      cleanups.push(() => listener.close());
      // Before the listener drops the open connections: held long polls answer (with nothing) first.
      cleanups.push(async () => {
        store.pendingWork.close();
        await new Promise((resolve) => setImmediate(resolve));
      });
      apiUrl = `${config.http.publicUrl}/api/v1`;
    }

    return {
      apiUrl,
      consoleUrl: consoleRoot === undefined || apiUrl === undefined ? undefined : `${config.http.publicUrl}/`,
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
