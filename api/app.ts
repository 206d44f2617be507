import express from 'express';
import type { Express } from 'express';
import type { Client, ConnectionLike } from '@temporalio/client';
import { evidenceBundleEndpoints } from './routes/evidence-bundle';
import { mountMethodNotAllowed } from './method-not-allowed';
import type { DatabaseHandle } from '../db/client';
import type { DataStore } from '../db/tenant-store';
import type { RolloutPolicy } from '../policy/rollout-policy';
import type { RateLimits } from '../runtime/config';
import type { Logger } from '../runtime/logger';
import { temporalHealthy } from '../runtime/temporal';
import { mountEndpoint } from './endpoint';
import type { Endpoint, EndpointContext } from './endpoint';
import { consoleApp } from './console';
import { DEFAULT_IDEMPOTENCY_SETTINGS } from './idempotency';
import type { IdempotencySettings } from './idempotency';
import { authentication, publicOperationKeys, sessionUnlessCredential } from './middleware/authentication';
import { requestId } from './middleware/correlation';
import { notFound, problemHandler } from './middleware/problem-handler';
import { refusalAudit } from './middleware/refusal-audit';
import { requestLog } from './middleware/request-log';
import { noStore, securityHeaders } from './middleware/security-headers';
import { createRateLimiters } from './rate-limits';
import { buildOpenApiDocument, swaggerUi } from './openapi';
import type { EntraIdentity } from './identity/entra';
import { ApiMetrics } from './metrics';
import { authEndpoints } from './routes/auth';
import { cabEndpoints } from './routes/cab';
import { connectorCredentialEndpoints } from './routes/connector-credentials';
import { connectorEndpoints } from './routes/connectors';
import type { RouteDependencies } from './routes/dependencies';
import { eventEndpoints } from './routes/events';
import { evidencePackEndpoints } from './routes/evidence-packs';
import { healthEndpoints } from './routes/health';
import { intentEndpoints } from './routes/intents';
import { metricsEndpoints } from './routes/metrics';
import { riskEndpoints } from './routes/risk';
import { ConnectorReportService } from './services/connector-reports';
import { IntentService } from './services/intents';
import { SignInService } from './services/sign-in';
import type { SessionBackend } from './session';

export interface ApiDependencies {
  readonly logger: Logger;
  /** The origin browsers reach the API at (PUBLIC_URL): the CSRF check compares against it. */
  readonly publicUrl: string;
  /** HSTS and upgrade-insecure-requests (NODE_ENV=production, always https). */
  readonly production: boolean;
  /** Express's `trust proxy` (TRUST_PROXY): which hops may tell the client's address and scheme. */
  readonly trustProxy: boolean | number | string | readonly string[];
  readonly rateLimits: RateLimits;
  /** Redis key prefix of the rate limit counters (tests use their own). */
  readonly rateLimitPrefix?: string;
  readonly devLogin: boolean;
  /** Entra ID sign-in and service principals; undefined when not configured. */
  readonly entra?: EntraIdentity | undefined;
  readonly defaultTenantId: string;
  readonly database: Pick<DatabaseHandle, 'kind' | 'ping'>;
  readonly store: DataStore;
  readonly sessions: SessionBackend;
  readonly temporal: {
    readonly client: Client;
    readonly connection: ConnectionLike;
    readonly taskQueue: string;
    /** How long the Temporal calls of one request may take together (TEMPORAL_CALL_TIMEOUT). */
    readonly callTimeoutMs?: number;
  };
  readonly rolloutPolicy: RolloutPolicy;
  /**
   * How long a long-polling connector's request is held at most, whatever its `wait` asks (default:
   * the 30 s the document allows; 0 answers every poll at once).
   */
  readonly connectorMaxWaitMs?: number;
  /** A SIEM is configured: `/health` and `/metrics` report its backlog (SIEM_DEGRADED_AFTER). */
  readonly siem?: { readonly degradedAfterMs: number } | undefined;
  /** Idempotency-Key lifetime and lease; the defaults of api/idempotency.ts when unset. */
  readonly idempotency?: IdempotencySettings;
  /** The Temporal Web UI's page of a workflow, linked from the console; undefined when no UI is known. */
  readonly temporalWorkflowUrl?: ((workflowId: string) => string) | undefined;
  /** The browser console's build, served at `/`; none when undefined. */
  readonly consoleRoot?: string | undefined;
}

export const DEFAULT_TEMPORAL_CALL_TIMEOUT_MS = 2_000;

/** Every endpoint of the API, in the order the OpenAPI document lists them. */
export function apiEndpoints(deps: RouteDependencies): Endpoint[] {
  return [
    ...healthEndpoints(
      [
        { name: 'database', kind: deps.database.kind, check: () => deps.database.ping() },
        { name: 'session_store', kind: deps.sessions.kind, check: () => deps.sessions.ping() },
        {
          name: 'temporal',
          kind: 'temporal',
          check: async () => {
            if (!(await temporalHealthy(deps.temporal.connection)))
              throw new Error('temporal frontend not answering');
          },
        },
      ],
      deps.logger,
      deps.siem === undefined
        ? undefined
        : {
            degradedAfterMs: deps.siem.degradedAfterMs,
            backlog: () => deps.store.siemOutbox.backlog(),
          },
    ),
    ...authEndpoints({
      store: deps.store,
      signIn: deps.signIn,
      entra: deps.entra,
      publicUrl: deps.publicUrl,
      devLogin: deps.devLogin,
      defaultTenantId: deps.defaultTenantId,
    }),
    ...intentEndpoints(deps),
    ...evidencePackEndpoints(deps),
    ...riskEndpoints(),
    ...cabEndpoints(deps),
    ...connectorEndpoints(deps),
    ...connectorCredentialEndpoints(),
    ...eventEndpoints(deps),
    ...evidenceBundleEndpoints(deps),
    ...metricsEndpoints(deps),
  ];
}

export function createApp(deps: ApiDependencies): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', typeof deps.trustProxy === 'object' ? [...deps.trustProxy] : deps.trustProxy);
  app.set('query parser', 'simple');

  const routeDeps: RouteDependencies = {
    ...deps,
    intents: new IntentService({
      client: deps.temporal.client,
      taskQueue: deps.temporal.taskQueue,
      rolloutPolicy: deps.rolloutPolicy,
      logger: deps.logger,
      unreachableAfterMs: deps.temporal.callTimeoutMs ?? DEFAULT_TEMPORAL_CALL_TIMEOUT_MS,
    }),
    reports: new ConnectorReportService(deps.temporal.client),
    signIn: new SignInService(deps.store, deps.entra, deps.logger),
    metrics: new ApiMetrics(),
  };
  const endpoints = apiEndpoints(routeDeps);
  const document = buildOpenApiDocument(endpoints, deps.publicUrl, deps.sessions.cookieName);
  const limits = createRateLimiters({
    limits: deps.rateLimits,
    redis: deps.sessions.redis,
    ...(deps.rateLimitPrefix === undefined ? {} : { prefix: deps.rateLimitPrefix }),
    logger: deps.logger,
  });
  const guards = {
    publicOrigin: new URL(deps.publicUrl).origin,
    signInLimit: limits.signIn,
    writeLimit: limits.writes,
  };

  app.use(requestId());
  app.use(securityHeaders({ production: deps.production }));
  app.use(requestLog(deps.logger));
  app.use(routeDeps.metrics.middleware());
  app.get('/api/schema', (_req, res) => {
    res.json(document);
  });
  app.use('/api/schema/swagger-ui', swaggerUi());

  const api = express.Router();
  api.use(noStore);
  api.use(express.json({ limit: '256kb', strict: true }));
  const publicOperations = publicOperationKeys(
    endpoints.map((definition) => ({
      method: definition.method,
      path: definition.path,
      public: definition.access.kind === 'public',
    })),
  );
  // A connector's key (or a service principal's token) is its identity: no session is read or renewed.
  api.use(sessionUnlessCredential(deps.sessions.middleware, publicOperations));
  api.use(authentication(deps.store, limits.keyFailures, routeDeps.signIn, publicOperations));
  const context: EndpointContext = {
    ...guards,
    store: deps.store,
    idempotency: deps.idempotency ?? DEFAULT_IDEMPOTENCY_SETTINGS,
    logger: deps.logger,
    temporalBudget: (work) =>
      deps.temporal.connection.withDeadline(
        Date.now() + (deps.temporal.callTimeoutMs ?? DEFAULT_TEMPORAL_CALL_TIMEOUT_MS),
        work,
      ),
  };
  for (const definition of endpoints) mountEndpoint(api, definition, context);
  mountMethodNotAllowed(api, endpoints);
  app.use('/api/v1', api);
  if (deps.consoleRoot !== undefined) app.use(consoleApp(deps.consoleRoot));

  app.use(notFound());
  app.use(refusalAudit({ store: deps.store, limits, logger: deps.logger }));
  app.use(problemHandler(deps.logger));
  return app;
}
