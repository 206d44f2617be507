import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { Client as PgClient } from 'pg';
import { evidenceHash } from '../../api/services/intents';
import type { ConnectorType } from '../../policy/connectors';
import { openDatabase } from '../../db/client';
import { DataStore } from '../../db/tenant-store';
import { asTenantId } from '../../db/tenant-id';
import type { TenantStore } from '../../db/tenant-store';
import { workflowIdForIntent } from '../../workflows/definitions';
import { lowRiskEvidence } from '../fixtures/evidence';
import { ApiHarness } from '../helpers/api';
import type { Agent } from '../helpers/api';
import { createTestDatabase, databaseKinds } from '../helpers/database';
import type { TestDatabase } from '../helpers/database';
import { TENANT_A, eventually } from '../helpers/harness';

interface PendingWork {
  deployments: { intent_id: string; ring: string; action: string }[];
  rollbacks: { intent_id: string; ring: string; action: string }[];
}

interface Problem {
  type: string;
  errors?: { field: string; in?: string }[];
}

const TENANT_B = 'tenant-long-poll-b';

/** A pending ring deployment for a seeded intent, recorded as the worker's activity records it. */
async function recordPending(
  store: TenantStore,
  intentId: string,
  connectorType: ConnectorType = 'intune',
  kind: 'DEPLOY' | 'ROLLBACK' = 'DEPLOY',
): Promise<void> {
  await store.ringDeployments.recordPending({
    intentId,
    correlationId: randomUUID(),
    ring: 'LAB',
    kind,
    connectorType,
    platforms: ['windows'],
    workflowId: workflowIdForIntent(intentId),
    activityId: `${kind.toLowerCase()}-LAB-${connectorType}`,
    attempt: 1,
    appName: '7-Zip',
    appVersion: '1.0.0',
    startedAt: new Date(),
    deadlineAt: new Date(Date.now() + 3_600_000),
  });
}

/** Waits (by looking, not by timing) until `count` polls of this store are held. */
async function held(store: DataStore, count: number, what: string): Promise<void> {
  await eventually(() => Promise.resolve(store.pendingWork.holding === count ? true : undefined), what);
}

describe('long-polling connectors: GET /connectors/pending-work?wait=…', () => {
  let api: ApiHarness;
  let intune: Agent;
  let intuneKey: string;
  let jamf: Agent;
  let store: DataStore;
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    api = await ApiHarness.start();
    store = api.db.store;
    ({ agent: intune, apiKey: intuneKey } = await api.connector('intune'));
    jamf = (await api.connector('jamf')).agent;
  });
  afterAll(async () => {
    await api.close();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    expect(api.contractViolations()).toEqual([]);
    expect(store.pendingWork.waiting).toBe(0);
  });

  /** Settles what earlier tests left open, so that "nothing pending" holds for the next one. */
  async function settleEverything(): Promise<void> {
    await api.db.handle.db.execute(
      sql`update ring_deployments set status = 'CANCELLED' where status in ('PENDING', 'IN_PROGRESS')`,
    );
  }
  beforeEach(settleEverything);

  /** The API on a real socket, so that a test can hang up on a held request. */
  async function serve(app: http.RequestListener): Promise<string> {
    const server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => {
            resolve();
          });
          server.closeAllConnections();
        }),
    );
    return `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
  }

  it('answers a held poll with the deployment recorded while it waited, long before its wait ends', async () => {
    const intent = await api.seedIntent();
    const events: string[] = [];
    const poll = intune
      .get('/api/v1/connectors/pending-work')
      .query({ wait: 30 })
      .then((res) => {
        events.push('answered');
        return res;
      });
    await held(store, 1, 'the poll to be held');
    events.push('held');
    await recordPending(api.tenant(), intent.id);
    events.push('recorded');
    const res = await poll;
    expect(res.status).toBe(200);
    // A wait that ran out answers what it read before waiting (nothing): this answer was woken.
    expect((res.body as PendingWork).deployments.map((item) => item.intent_id)).toEqual([intent.id]);
    expect((res.body as PendingWork).rollbacks).toEqual([]);
    expect(events).toEqual(['held', 'recorded', 'answered']);
  });

  it('answers at once when work is open, as without `wait`', async () => {
    const intent = await api.seedIntent();
    await recordPending(api.tenant(), intent.id, 'intune', 'ROLLBACK');
    const res = await intune.get('/api/v1/connectors/pending-work').query({ wait: 30 }).expect(200);
    expect((res.body as PendingWork).rollbacks.map((item) => item.intent_id)).toEqual([intent.id]);
    expect(store.pendingWork.holding).toBe(0);
  });

  it('answers two empty lists when the wait ends with nothing recorded', async () => {
    const res = await intune.get('/api/v1/connectors/pending-work').query({ wait: 1 }).expect(200);
    expect(res.body).toEqual({ deployments: [], rollbacks: [] });
  });

  it('keeps holding through work of another connector type or tenant, and of the other list', async () => {
    const other = await api.seedIntent({}, TENANT_B);
    const mine = await api.seedIntent();
    const announced = jest.spyOn(store.pendingWork, 'announce');
    cleanups.push(() => {
      announced.mockRestore();
      return Promise.resolve();
    });
    // `then` sends it (supertest sends a request when it is awaited).
    const poll = intune
      .get('/api/v1/connectors/pending-deployments')
      .query({ wait: 30 })
      .then((res) => res);
    await held(store, 1, 'the poll to be held');
    await recordPending(api.tenant(), mine.id, 'jamf');
    await recordPending(api.tenant(TENANT_B), other.id, 'intune');
    await recordPending(api.tenant(), mine.id, 'intune', 'ROLLBACK');
    // The rollback's announcement wakes it (intune work of tenant A): it reads, finds no deployment and
    // is held again. An announcement wakes synchronously, so three heard and one held is that state.
    await eventually(
      () =>
        Promise.resolve(
          announced.mock.calls.length === 3 && store.pendingWork.holding === 1 ? true : undefined,
        ),
      'the three announcements, and the poll held again',
    );
    await recordPending(api.tenant(), mine.id, 'intune', 'DEPLOY');
    const res = await poll;
    expect(res.status).toBe(200);
    expect((res.body as { intent_id: string; action: string }[]).map((item) => item.action)).toEqual([
      'DEPLOY',
    ]);
  });

  it('releases the place of a caller that hangs up, at once', async () => {
    const base = await serve(api.app);
    const hangUp = new AbortController();
    const poll = fetch(`${base}/api/v1/connectors/pending-work?wait=30`, {
      headers: { Authorization: `Bearer ${intuneKey}` },
      signal: hangUp.signal,
    }).catch((error: unknown) => error);
    await held(store, 1, 'the poll to be held');
    expect(store.pendingWork.waiting).toBe(1);
    hangUp.abort();
    expect(await poll).toMatchObject({ name: 'AbortError' });
    await eventually(
      () => Promise.resolve(store.pendingWork.waiting === 0 ? true : undefined),
      'the place to be released',
    );
    expect(store.pendingWork.holding).toBe(0);
  });

  it('answers at once, 200 and empty, beyond its bound of held polls', async () => {
    const bounded = new DataStore(api.db.handle.db, { maxPendingWorkWaiters: 1 });
    const watch = await bounded.watchPendingWork(api.db.handle.listen);
    cleanups.push(() => watch.close());
    const replica = api.replica({ overrides: { store: bounded } });
    const { apiKey } = await replica.connector('intune');
    const agent = () => replica.anonymous().set('Authorization', `Bearer ${apiKey}`);
    const first = agent()
      .get('/api/v1/connectors/pending-work')
      .query({ wait: 30 })
      .then((res) => res);
    await held(bounded, 1, 'the first poll to be held');
    const second = await agent().get('/api/v1/connectors/pending-work').query({ wait: 30 }).expect(200);
    expect(second.body).toEqual({ deployments: [], rollbacks: [] });
    expect(bounded.pendingWork.holding).toBe(1);
    // Shutting down answers the held one at once, and holds none after.
    await watch.close();
    expect((await first).body).toEqual({ deployments: [], rollbacks: [] });
    await agent().get('/api/v1/connectors/pending-work').query({ wait: 30 }).expect(200);
    expect(bounded.pendingWork.waiting).toBe(0);
  });

  it('reads the database again and again while announcements do not reach the process', async () => {
    // Never watched: nothing announces anything to it, as with its listener down.
    const deaf = new DataStore(api.db.handle.db, { pendingWorkRecheckMs: 50 });
    cleanups.push(() => {
      deaf.pendingWork.close();
      return Promise.resolve();
    });
    const replica = api.replica({ overrides: { store: deaf } });
    const { apiKey } = await replica.connector('intune');
    const intent = await api.seedIntent();
    const poll = replica
      .anonymous()
      .set('Authorization', `Bearer ${apiKey}`)
      .get('/api/v1/connectors/pending-work')
      .query({ wait: 30 })
      .then((res) => res);
    await held(deaf, 1, 'the poll to be held');
    await recordPending(api.tenant(), intent.id);
    const res = await poll;
    expect((res.body as PendingWork).deployments.map((item) => item.intent_id)).toEqual([intent.id]);
  });

  it('keeps who may ask: connector keys of that type, operators; `wait` changes nothing', async () => {
    const submitter = await api.agent('long-poll-submitter@example.com', ['submitter']);
    await submitter.get('/api/v1/connectors/pending-work').query({ wait: 1 }).expect(403);
    await api.anonymous().get('/api/v1/connectors/pending-work').query({ wait: 1 }).expect(401);
    await jamf
      .get('/api/v1/connectors/pending-work')
      .query({ connector_type: 'intune', wait: 1 })
      .expect(403);
    const operator = await api.agent('long-poll-operator@example.com', ['operator']);
    await operator.get('/api/v1/connectors/pending-work').query({ wait: 1 }).expect(400);
    await operator
      .get('/api/v1/connectors/pending-work')
      .query({ connector_type: 'jamf', wait: 1 })
      .expect(200, { deployments: [], rollbacks: [] });
    expect(store.pendingWork.waiting).toBe(0);
  });

  it.each(['31', '-1', '1.5', 'soon', '1e9', '', '%20', '0x1f', '%2B5', '1e1'])(
    'refuses wait=%s with a 400 problem naming `wait`',
    async (wait) => {
      const res = await intune.get(`/api/v1/connectors/pending-work?wait=${wait}`).expect(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect((res.body as Problem).errors).toEqual([expect.objectContaining({ field: 'wait', in: 'query' })]);
      expect(store.pendingWork.waiting).toBe(0);
    },
  );

  it('refuses a repeated wait with a 400', async () => {
    const res = await intune.get('/api/v1/connectors/pending-work?wait=1&wait=2').expect(400);
    expect((res.body as Problem).errors?.map((error) => error.field)).toEqual(['wait']);
  });

  it('caps the wait at the configured maximum (0: every poll answers at once)', async () => {
    const replica = api.replica({ overrides: { connectorMaxWaitMs: 0 } });
    const { apiKey } = await replica.connector('intune');
    await replica
      .anonymous()
      .set('Authorization', `Bearer ${apiKey}`)
      .get('/api/v1/connectors/pending-work')
      .query({ wait: 30 })
      .expect(200, { deployments: [], rollbacks: [] });
  });

  it('documents `wait` as an integer of 0..30 seconds, 0 by default', () => {
    const document = api.document as {
      paths: Record<string, { get: { parameters: { name: string; schema: Record<string, unknown> }[] } }>;
    };
    for (const list of ['pending-work', 'pending-deployments', 'pending-rollbacks']) {
      const wait = document.paths[`/api/v1/connectors/${list}`]?.get.parameters.find(
        (parameter) => parameter.name === 'wait',
      );
      expect(wait?.schema).toMatchObject({ type: 'integer', minimum: 0, maximum: 30, default: 0 });
    }
  });
});

describe.each(databaseKinds())('new work announced when it commits (%s)', (kind) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase(kind);
  });
  afterAll(async () => {
    await db.drop();
  });

  it('announces a new ring deployment to the waiters of its tenant and connector type', async () => {
    const store = new DataStore(db.handle.db);
    const watch = await store.watchPendingWork(db.handle.listen);
    try {
      await eventually(
        () => Promise.resolve(store.pendingWork.serving ? true : undefined),
        'the subscription',
      );
      const tenant = store.forTenant(asTenantId(TENANT_A));
      const ticket = store.pendingWork.enter(asTenantId(TENANT_A), 'intune');
      if (ticket === undefined) throw new Error('no ticket');
      const outcome = ticket.wait(600_000, new AbortController().signal);
      const intentId = await seedIntentRow(tenant);
      await recordPending(tenant, intentId);
      expect(await outcome).toBe('announced');
      ticket.release();
    } finally {
      await watch.close();
    }
  });

  if (kind === 'postgres') {
    it('holds polls for at most the recheck interval while it cannot listen (a database that refuses)', async () => {
      const refusing = await openDatabase({
        url: 'postgres://postgres@127.0.0.1:1/none',
        connectTimeoutMs: 500,
      });
      const store = new DataStore(refusing.db, { pendingWorkRecheckMs: 1 });
      const watch = await store.watchPendingWork(refusing.listen);
      try {
        expect(store.pendingWork.serving).toBe(false);
        const ticket = store.pendingWork.enter(asTenantId(TENANT_A), 'intune');
        expect(await ticket?.wait(600_000, new AbortController().signal)).toBe('recheck');
        ticket?.release();
      } finally {
        await watch.close();
        await refusing.close();
      }
    });

    it('listens for credential changes and for new work on one connection, and listens again after losing it', async () => {
      const store = new DataStore(db.handle.db);
      const credentials = await store.watchCredentialChanges(db.handle.listen);
      const work = await store.watchPendingWork(db.handle.listen);
      const admin = new PgClient({ connectionString: db.url });
      await admin.connect();
      const listeners = async () =>
        (
          await admin.query<{ n: number }>(
            "select count(*)::int as n from pg_stat_activity where datname = current_database() and query like 'LISTEN%'",
          )
        ).rows[0]?.n;
      try {
        expect(await listeners()).toBe(1);
        const ticket = store.pendingWork.enter(asTenantId(TENANT_A), 'intune');
        if (ticket === undefined) throw new Error('no ticket');
        const stop = new AbortController();
        const lost = ticket.wait(600_000, stop.signal);
        await admin.query(
          "select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query like 'LISTEN%'",
        );
        // Announcements may have been missed: the waiter reads again.
        expect(await lost).toBe('recheck');
        await eventually(
          () => Promise.resolve(store.pendingWork.serving ? true : undefined),
          'listening again',
        );
        expect(await listeners()).toBe(1);
        const woken = ticket.wait(600_000, stop.signal);
        const tenant = store.forTenant(asTenantId(TENANT_A));
        await recordPending(tenant, await seedIntentRow(tenant));
        // The first wake after listening again may be the `recheck` of the subscription itself.
        const first = await woken;
        const outcome = first === 'announced' ? first : await ticket.wait(600_000, stop.signal);
        expect(outcome).toBe('announced');
        ticket.release();
      } finally {
        await admin.end();
        await work.close();
        await credentials.close();
      }
    });
  }
});

/** An intent row with its evidence pack, no workflow behind it. */
async function seedIntentRow(store: TenantStore): Promise<string> {
  const id = randomUUID();
  const evidence = lowRiskEvidence({ artifact_hash: randomUUID().replaceAll('-', '').padEnd(64, '0') });
  const pack = await store.evidencePacks.store({
    contentHash: evidenceHash(evidence),
    content: evidence,
    createdBy: 'submitter@example.com',
  });
  await store.intents.create({
    id,
    appName: '7-Zip',
    version: `long-poll-${id.slice(0, 8)}`,
    targetRing: 'GLOBAL',
    connectors: [{ connectorType: 'intune', platforms: ['windows'] }],
    evidencePackId: pack.row.id,
    submitterId: 'submitter@example.com',
    status: 'DEPLOYING',
    correlationId: randomUUID(),
    workflowId: workflowIdForIntent(id),
    idempotencyKey: null,
  });
  return id;
}
