import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent';
import type { Express } from 'express';
import { createApp } from '../../api/app';
import type { ApiDependencies } from '../../api/app';
import { createSessionBackend } from '../../api/session';
import type { SessionBackend, SessionOptions } from '../../api/session';
import { UNLIMITED } from '../../api/rate-limits';
import { issueConnectorCredential } from '../../api/services/connector-credentials';
import { IntentService } from '../../api/services/intents';
import type { IntentSubmission, SubmittedIntent } from '../../api/services/intents';
import type { Role } from '../../api/request-context';
import { asTenantId } from '../../db/tenant-id';
import type { TenantStore } from '../../db/tenant-store';
import type { DeploymentIntentRow } from '../../db/repositories/deployment-intents';
import { lowRiskEvidence } from '../fixtures/evidence';
import { workflowIdForIntent } from '../../workflows/definitions';
import type { ConnectorType } from '../../policy/connectors';
import type { RolloutPolicy } from '../../policy/rollout-policy';
import { createLogger } from '../../runtime/logger';
import { ContractValidator } from './contract';
import type { RecordedResponse } from './contract';
import { createTestDatabase } from './database';
import { unreachableTemporal } from './unreachable-temporal';
import type { TestDatabase } from './database';
import { SUBMITTER, TENANT_A, fastPolicy, startTemporalWorker, submission } from './harness';
import type { TemporalWorkerHandle } from './harness';

export type Agent = InstanceType<typeof TestAgent>;

const METHODS = new Set(['get', 'post', 'put', 'delete', 'patch']);

export interface ApiHarnessOptions {
  readonly policy?: RolloutPolicy;
  /** The public origin the API serves (PUBLIC_URL); `http://127.0.0.1` unless a test needs https. */
  readonly publicUrl?: string;
  readonly session?: Partial<
    Pick<SessionOptions, 'secureCookies' | 'idleTimeoutMs' | 'absoluteTimeoutMs' | 'redisUrl'>
  >;
  readonly overrides?: Partial<ApiDependencies>;
}

/**
 * The real app (createApp) on a fresh database, the shared Temporal dev server and a real worker,
 * with Redis sessions when REDIS_URL is set. Every response a test receives through `agent()` or
 * `anonymous()` is recorded; `contractViolations()` checks them against the served OpenAPI document.
 */
export class ApiHarness {
  recorded: RecordedResponse[] = [];
  private readonly contract: ContractValidator;

  private readonly cleanups: (() => Promise<void>)[] = [];

  private constructor(
    readonly app: Express,
    readonly db: TestDatabase,
    readonly temporal: TemporalWorkerHandle,
    readonly sessions: SessionBackend,
    readonly document: unknown,
  ) {
    this.contract = new ContractValidator(document as ConstructorParameters<typeof ContractValidator>[0]);
  }

  static async start(options: ApiHarnessOptions = {}): Promise<ApiHarness> {
    const db = await createTestDatabase();
    const temporal = await startTemporalWorker(db);
    const logger = createLogger({ level: 'silent' });
    const prefix = randomUUID();
    const sessions = await createSessionBackend({
      redisUrl: process.env.REDIS_URL,
      secret: 'test-session-secret-test-session-secret',
      secureCookies: false,
      idleTimeoutMs: 30 * 60_000,
      absoluteTimeoutMs: 8 * 3_600_000,
      // As with Temporal: a loaded CI machine must not turn a slow Redis answer into a 503.
      redisTimeoutMs: 10_000,
      ...options.session,
      logger,
      prefix: `eucora-test:${prefix}:sess:`,
    });
    const app = createApp(ApiHarness.dependencies(db, temporal, sessions, options, prefix));
    const schema = await request(app).get('/api/schema');
    const harness = new ApiHarness(app, db, temporal, sessions, schema.body);
    harness.prefix = prefix;
    // As the API runs (runtime/system.ts): connector keys verified from memory while revocations are heard.
    const watching = await db.store.watchCredentialChanges(db.handle.listen);
    harness.cleanups.push(() => watching.close());
    // And long-polling connectors woken by new work, on the same listening connection.
    const pendingWork = await db.store.watchPendingWork(db.handle.listen);
    harness.cleanups.push(() => pendingWork.close());
    return harness;
  }

  /** The Redis key prefix of this harness's deployment: its replicas share sessions and rate limit counts. */
  private prefix = randomUUID();

  private static dependencies(
    db: TestDatabase,
    temporal: TemporalWorkerHandle,
    sessions: SessionBackend,
    options: ApiHarnessOptions,
    prefix: string,
  ): ApiDependencies {
    return {
      logger: createLogger({ level: 'silent' }),
      publicUrl: options.publicUrl ?? 'http://127.0.0.1',
      production: false,
      trustProxy: 'loopback',
      // Tests about rate limits set their own; the others must never meet one.
      rateLimits: UNLIMITED,
      rateLimitPrefix: `eucora-test:${prefix}:rl:`,
      devLogin: true,
      defaultTenantId: TENANT_A,
      database: db.handle,
      store: db.store,
      sessions,
      temporal: {
        client: temporal.client,
        connection: temporal.client.connection,
        taskQueue: temporal.taskQueue,
        // A loaded CI machine must not turn a slow answer into a 503; the fault tests set their own bound.
        callTimeoutMs: 10_000,
      },
      rolloutPolicy: options.policy ?? fastPolicy(),
      ...options.overrides,
    };
  }

  /**
   * A second API process on the same database, sessions and worker (a replica, or the process that
   * comes back after a crash), configured with `options`. Closing this harness closes both.
   */
  replica(options: ApiHarnessOptions = {}): ApiHarness {
    const app = createApp(
      ApiHarness.dependencies(this.db, this.temporal, this.sessions, options, this.prefix),
    );
    const replica = new ApiHarness(app, this.db, this.temporal, this.sessions, this.document);
    // Its responses count against the same contract.
    replica.recorded = this.recorded;
    return replica;
  }

  /** The real app whose Temporal client reaches no server, for the 503 paths. */
  static async startWithUnreachableTemporal(): Promise<ApiHarness> {
    const unreachable = await unreachableTemporal();
    const api = await ApiHarness.start({
      overrides: {
        temporal: {
          client: unreachable.client,
          connection: unreachable.connection,
          taskQueue: 'unreachable',
        },
      },
    });
    api.cleanups.push(() => unreachable.close());
    return api;
  }

  /** The intent service the API uses, on this harness's worker, with a rollout policy of the test's own. */
  intentService(policy: RolloutPolicy = fastPolicy()): IntentService {
    return new IntentService({
      client: this.temporal.client,
      taskQueue: this.temporal.taskQueue,
      rolloutPolicy: policy,
      logger: createLogger({ level: 'silent' }),
    });
  }

  /** Submits an intent as SUBMITTER of tenant A, as the API would, without going through HTTP. */
  async submit(overrides: Partial<IntentSubmission> = {}, policy?: RolloutPolicy): Promise<SubmittedIntent> {
    return this.intentService(policy).submit(
      this.tenant(),
      SUBMITTER,
      randomUUID(),
      submission(overrides),
      undefined,
    );
  }

  /**
   * An intent row (with its stored evidence pack) in the read model only, no workflow behind it: for tests
   * of what the API decides before it asks Temporal anything.
   */
  async seedIntent(
    overrides: Partial<Pick<DeploymentIntentRow, 'status' | 'submitterId' | 'targetRing'>> = {},
    tenantId: string = TENANT_A,
  ): Promise<DeploymentIntentRow> {
    const store = this.tenant(tenantId);
    const author = { ...SUBMITTER, tenantId: asTenantId(tenantId) };
    const pack = await this.intentService().storeEvidencePack(store, author, randomUUID(), lowRiskEvidence());
    const id = randomUUID();
    const row = await store.intents.create({
      id,
      appName: '7-Zip',
      version: `seeded-${id.slice(0, 8)}`,
      targetRing: overrides.targetRing ?? 'GLOBAL',
      connectors: [{ connectorType: 'intune', platforms: ['windows'] }],
      evidencePackId: pack.row.id,
      submitterId: overrides.submitterId ?? SUBMITTER.id,
      status: overrides.status ?? 'AWAITING_CAB',
      correlationId: randomUUID(),
      workflowId: workflowIdForIntent(id),
      idempotencyKey: null,
    });
    if (row === undefined) throw new Error('seeded intent not created');
    return row;
  }

  tenant(tenantId: string = TENANT_A): TenantStore {
    return this.db.store.forTenant(asTenantId(tenantId));
  }

  /** A caller with no session and no key. */
  anonymous(): Agent {
    return this.recording(request.agent(this.app));
  }

  /** A signed-in user (through the dev login) with the given roles. */
  async agent(username: string, roles: Role[], tenantId: string = TENANT_A): Promise<Agent> {
    const agent = this.recording(request.agent(this.app));
    await agent.post('/api/v1/auth/dev-login').send({ username, roles, tenant_id: tenantId }).expect(200);
    return agent;
  }

  /** A connector authenticated by a freshly issued API key. */
  async connector(
    connectorType: ConnectorType,
    tenantId: string = TENANT_A,
  ): Promise<{ agent: Agent; apiKey: string }> {
    const { apiKey } = await issueConnectorCredential(
      this.tenant(tenantId),
      {
        tenantId: asTenantId(tenantId),
        id: 'test-admin',
        displayName: 'test admin',
        roles: ['admin'],
        kind: 'user',
      },
      randomUUID(),
      { scope: 'connector', connectorType, name: `${connectorType}-${randomUUID().slice(0, 8)}` },
    );
    const agent = this.recording(request.agent(this.app));
    agent.set('Authorization', `Bearer ${apiKey}`);
    return { agent, apiKey };
  }

  /** A Prometheus scraper authenticated by a freshly issued metrics key. */
  async metricsScraper(tenantId: string = TENANT_A): Promise<{ agent: Agent; apiKey: string }> {
    const { apiKey } = await issueConnectorCredential(
      this.tenant(tenantId),
      {
        tenantId: asTenantId(tenantId),
        id: 'test-admin',
        displayName: 'test admin',
        roles: ['admin'],
        kind: 'user',
      },
      randomUUID(),
      { scope: 'metrics', name: `prometheus-${randomUUID().slice(0, 8)}` },
    );
    const agent = this.recording(request.agent(this.app));
    agent.set('Authorization', `Bearer ${apiKey}`);
    return { agent, apiKey };
  }

  /**
   * The seconds the session store keeps the session a Set-Cookie header names (Redis' TTL): undefined when
   * it holds no such session, or when sessions are not in Redis.
   */
  async sessionTtlSeconds(setCookie: string[] | string | undefined): Promise<number | undefined> {
    const headers = typeof setCookie === 'string' ? [setCookie] : (setCookie ?? []);
    const value = headers
      .map((header) => /^(?:__Host-)?eucora\.sid=([^;]+)/.exec(header)?.[1])
      .find((found) => found !== undefined);
    // A signed cookie is `s:<session id>.<signature>`, URI-encoded.
    const sessionId = /^s:([^.]+)\./.exec(decodeURIComponent(value ?? ''))?.[1];
    if (sessionId === undefined || this.sessions.redis === undefined) return undefined;
    const ttl = Number(
      await this.sessions.redis.sendCommand(['TTL', `eucora-test:${this.prefix}:sess:${sessionId}`]),
    );
    return ttl >= 0 ? ttl : undefined;
  }

  /** Every response recorded since the last call that breaks the OpenAPI contract, as readable lines. */
  contractViolations(): string[] {
    return this.recorded.splice(0).flatMap((response) => this.contract.check(response));
  }

  async close(): Promise<void> {
    for (const cleanup of this.cleanups.splice(0)) await cleanup();
    await this.sessions.close();
    await this.temporal.close();
    await this.db.drop();
  }

  private recording(agent: Agent): Agent {
    return new Proxy(agent, {
      get: (target, property, receiver) => {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof property !== 'string' || !METHODS.has(property) || typeof value !== 'function') {
          return typeof value === 'function'
            ? (value as (...args: unknown[]) => unknown).bind(target)
            : value;
        }
        return (url: string) => {
          const test = (value as (url: string) => request.Test).call(target, url);
          test.on('response', (response: request.Response) => {
            this.recorded.push({
              method: property.toUpperCase(),
              path: url,
              status: response.status,
              contentType: response.headers['content-type'],
              // supertest parses JSON into `body` and leaves text responses (metrics) in `text`.
              body: response.type.startsWith('text/') ? response.text : response.body,
            });
          });
          return test;
        };
      },
    });
  }
}
