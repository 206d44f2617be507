import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { sql } from 'drizzle-orm';
import { Client as PgClient } from 'pg';
import type { Response } from 'supertest';
import { createSessionBackend } from '../../api/session';
import { openDatabase } from '../../db/client';
import type { DatabaseHandle } from '../../db/client';
import { DataStore } from '../../db/tenant-store';
import { unavailableDependency } from '../../runtime/dependency-failure';
import { createLogger } from '../../runtime/logger';
import { lowRiskEvidence } from '../fixtures/evidence';
import { ApiHarness } from '../helpers/api';
import { createTestDatabase } from '../helpers/database';
import { freePort } from '../helpers/free-port';
import { startPrivateRedis } from '../helpers/private-redis';
import { unreachableTemporal } from '../helpers/unreachable-temporal';

/**
 * Each dependency down in its own way, in this process: every request that needs it is answered 503
 * problem+json with Retry-After, within the configured bound (a hang would meet the supertest timeout,
 * far below the 20 s of the Temporal client's retries or an unbounded connection wait), and nothing
 * ends the process.
 */

/** Far below what an unbounded wait takes, far above what a bounded one should. */
const NO_HANG = { response: 10_000 };

function expectUnavailable(res: Response, dependency: string): void {
  expect([res.status, res.headers['content-type']]).toEqual([
    503,
    expect.stringMatching(/^application\/problem\+json/),
  ]);
  expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  expect((res.body as { detail: string }).detail).toContain(dependency);
}

const submission = () => ({
  app_name: `Outage-${randomUUID().slice(0, 8)}`,
  version: '1.0',
  target_ring: 'LAB',
  connectors: { windows: 'intune' },
  evidence_pack: lowRiskEvidence(),
});

describe('the API while a dependency is down', () => {
  let api: ApiHarness;

  beforeAll(async () => {
    api = await ApiHarness.start();
  });
  afterAll(async () => {
    await api.close();
  });
  afterEach(() => {
    expect(api.contractViolations()).toEqual([]);
  });

  /** A session cookie of a signed-in submitter, valid on every replica (they share the session store). */
  async function sessionCookie(): Promise<string> {
    const res = await api
      .anonymous()
      .post('/api/v1/auth/dev-login')
      .send({ username: 'packager@example.com', roles: ['submitter', 'operator'], tenant_id: 'tenant-a' })
      .expect(200);
    const cookie = (res.headers['set-cookie'] as unknown as string[] | undefined)?.[0]?.split(';')[0];
    if (cookie === undefined) throw new Error('no session cookie');
    return cookie;
  }

  describe('PostgreSQL', () => {
    it('a connection the server drops while a transaction holds it ends no process, and the pool recovers', async () => {
      const database = await createTestDatabase('postgres');
      const lines: string[] = [];
      const handle = await openDatabase({
        url: database.url,
        poolSize: 2,
        logger: createLogger({ level: 'warn', destination: { write: (line: string) => lines.push(line) } }),
      });
      const admin = new PgClient({ connectionString: database.url });
      await admin.connect();
      try {
        const failure = await handle.db
          .transaction(async (tx) => {
            const result: unknown = await tx.execute(sql`select pg_backend_pid() as pid`);
            const [backend] = (result as { rows: { pid: number }[] }).rows;
            await admin.query('select pg_terminate_backend($1)', [backend?.pid]);
            // The server's goodbye reaches the checked-out client as an 'error' event, between two statements.
            await new Promise((resolve) => setTimeout(resolve, 300));
            await tx.execute(sql`select 1`);
          })
          .then(
            () => undefined,
            (error: unknown) => error,
          );
        expect(unavailableDependency(failure)).toBe('database');
        await handle.ping();
        expect(lines.join('')).toContain('database connection lost');
      } finally {
        await admin.end();
        await handle.close();
        await database.drop();
      }
    });

    async function deadDatabase(
      kind: 'refuses' | 'never answers',
    ): Promise<{ handle: DatabaseHandle; close(): Promise<void> }> {
      const held: net.Socket[] = [];
      const silent = net.createServer((socket) => held.push(socket));
      const port =
        kind === 'refuses'
          ? await freePort()
          : await new Promise<number>((resolve) => {
              silent.listen(0, '127.0.0.1', () => {
                resolve((silent.address() as net.AddressInfo).port);
              });
            });
      const handle = await openDatabase({
        url: `postgres://postgres@127.0.0.1:${String(port)}/eucora`,
        connectTimeoutMs: 300,
      });
      return {
        handle,
        async close() {
          await handle.close();
          for (const socket of held) socket.destroy();
          if (silent.listening) await new Promise((resolve) => silent.close(resolve));
        },
      };
    }

    it.each(['refuses', 'never answers'] as const)(
      'a database that %s connections is a 503 to key, session and anonymous callers',
      async (kind) => {
        const { apiKey } = await api.connector('intune');
        const cookie = await sessionCookie();
        const dead = await deadDatabase(kind);
        try {
          const replica = api.replica({
            overrides: { database: dead.handle, store: new DataStore(dead.handle.db) },
          });
          const connector = await replica
            .anonymous()
            .get('/api/v1/connectors/pending-deployments?connector_type=intune')
            .set('Authorization', `Bearer ${apiKey}`)
            .timeout(NO_HANG);
          expectUnavailable(connector, 'database');
          const list = await replica
            .anonymous()
            .get('/api/v1/deployment-intents')
            .set('Cookie', cookie)
            .timeout(NO_HANG);
          expectUnavailable(list, 'database');
          const submit = await replica
            .anonymous()
            .post('/api/v1/deployment-intents')
            .set('Cookie', cookie)
            .set('Origin', 'http://127.0.0.1')
            .set('Idempotency-Key', randomUUID())
            .send(submission())
            .timeout(NO_HANG);
          expectUnavailable(submit, 'database');
          const health = await replica.anonymous().get('/api/v1/health').timeout(NO_HANG);
          expect([
            health.status,
            (health.body as { checks: { database: { status: string } } }).checks.database.status,
          ]).toEqual([503, 'failing']);
        } finally {
          await dead.close();
        }
      },
    );
  });

  describe('Redis', () => {
    it('a frozen, then killed, session store is a 503 to signed-in callers; key callers carry on', async () => {
      const redis = await startPrivateRedis();
      const sessions = await createSessionBackend({
        redisUrl: redis.url,
        secret: 'test-session-secret-test-session-secret',
        secureCookies: false,
        idleTimeoutMs: 60_000,
        absoluteTimeoutMs: 3_600_000,
        redisTimeoutMs: 300,
        logger: createLogger({ level: 'silent' }),
      });
      try {
        const replica = api.replica({ overrides: { sessions } });
        const user = await replica.agent('alice@example.com', ['submitter']);
        const { agent: connector } = await replica.connector('intune');
        await user.get('/api/v1/auth/me').expect(200);

        redis.freeze();
        try {
          expectUnavailable(await user.get('/api/v1/auth/me').timeout(NO_HANG), 'session store');
          // The rate limit counts in the same Redis fail open: connectors do not need the session store.
          await connector
            .get('/api/v1/connectors/pending-deployments?connector_type=intune')
            .timeout(NO_HANG)
            .expect(200);
        } finally {
          redis.thaw();
        }

        await redis.kill();
        expectUnavailable(await user.get('/api/v1/auth/me').timeout(NO_HANG), 'session store');
        const signIn = await replica
          .anonymous()
          .post('/api/v1/auth/dev-login')
          .send({ username: 'bob@example.com', roles: ['submitter'], tenant_id: 'tenant-a' })
          .timeout(NO_HANG);
        expectUnavailable(signIn, 'session store');
        await connector
          .get('/api/v1/connectors/pending-deployments?connector_type=intune')
          .timeout(NO_HANG)
          .expect(200);
      } finally {
        await redis.kill();
        await sessions.close();
      }
    });
  });

  describe('Temporal', () => {
    it('an unreachable Temporal is a 503 within the call timeout, and the refused submission succeeds when retried with its key', async () => {
      const running = await api.submit({ targetRing: 'CANARY' });
      const unreachable = await unreachableTemporal({ retrying: true });
      try {
        const replica = api.replica({
          overrides: {
            temporal: {
              client: unreachable.client,
              connection: unreachable.connection,
              taskQueue: api.temporal.taskQueue,
              callTimeoutMs: 500,
            },
          },
        });
        const submitter = await replica.agent('packager@example.com', ['submitter']);
        const key = randomUUID();
        const body = submission();
        const refused = await submitter
          .post('/api/v1/deployment-intents')
          .set('Idempotency-Key', key)
          .send(body)
          .timeout(NO_HANG);
        expectUnavailable(refused, 'orchestrator');

        const operator = await replica.agent('ops@example.com', ['operator']);
        const pause = await operator
          .post(`/api/v1/deployment-intents/${running.intent.id}/pause`)
          .send({ reason: 'freeze' })
          .timeout(NO_HANG);
        expectUnavailable(pause, 'orchestrator');

        // Temporal is back (the API of the live server): the same key records nothing new and starts it.
        const retried = await (
          await api.agent('packager@example.com', ['submitter'])
        )
          .post('/api/v1/deployment-intents')
          .set('Idempotency-Key', key)
          .send(body)
          .expect(201);
        const id = (retried.body as { id: string }).id;
        expect(id).toBe(
          (await api.tenant().intents.list({}, { limit: 50 })).items.find((i) => i.appName === body.app_name)
            ?.id,
        );
        const workflowId = (await api.tenant().intents.get(id))?.workflowId ?? '';
        await expect(api.temporal.client.workflow.getHandle(workflowId).describe()).resolves.toBeDefined();
      } finally {
        await unreachable.close();
      }
    });
  });
});
