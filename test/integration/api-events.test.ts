import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { IntentService } from '../../api/services/intents';
import type { DeploymentIntentRow } from '../../db/repositories/deployment-intents';
import { createLogger } from '../../runtime/logger';
import { highRiskEvidence } from '../fixtures/evidence';
import { ApiHarness } from '../helpers/api';
import type { Agent } from '../helpers/api';
import { SUBMITTER, TENANT_B, eventually, fastPolicy, submission } from '../helpers/harness';

interface AuditEvent {
  id: number;
  event_type: string;
  intent_id: string | null;
  correlation_id: string;
  actor: string;
  payload: Record<string, unknown>;
  occurred_at: string;
  seq: number;
  prev_hash: string;
  hash: string;
}
interface ChainVerification {
  intact: boolean;
  from_event_id: number | null;
  verified: number;
  last_verified: { event_id: number; seq: number; hash: string } | null;
  head: { seq: number; hash: string };
  first_broken_link: { event_id: number; seq: number; reason: string } | null;
}
interface EventPage {
  items: AuditEvent[];
  next_cursor: string | null;
}
interface Problem {
  errors?: { field: string; message: string }[];
}

describe('GET /events — the audit trail', () => {
  let api: ApiHarness;
  let auditor: Agent;
  let first: DeploymentIntentRow;
  let second: DeploymentIntentRow;
  const loginRequestId = randomUUID();

  /** Submits a high-risk intent: its trail stops growing once the workflow waits for the CAB. */
  async function awaitingCab(intents: IntentService): Promise<DeploymentIntentRow> {
    const { intent } = await intents.submit(
      api.tenant(),
      SUBMITTER,
      randomUUID(),
      submission({ evidencePack: highRiskEvidence() }),
      undefined,
    );
    await eventually(
      async () => (await api.tenant().cabApprovals.forIntent(intent.id))?.state,
      'the CAB request',
    );
    return intent;
  }

  beforeAll(async () => {
    api = await ApiHarness.start();
    const intents = new IntentService({
      client: api.temporal.client,
      taskQueue: api.temporal.taskQueue,
      rolloutPolicy: fastPolicy(),
      logger: createLogger({ level: 'silent' }),
    });
    first = await awaitingCab(intents);
    second = await awaitingCab(intents);
    // Signing in is itself audited, with the sign-in request's X-Correlation-ID as its request id.
    auditor = api.anonymous();
    await auditor
      .post('/api/v1/auth/dev-login')
      .set('X-Correlation-ID', loginRequestId)
      .send({ username: 'audit@example.com', roles: ['auditor'] })
      .expect(200);
  });
  afterAll(async () => {
    await api.close();
  });
  afterEach(() => {
    expect(api.contractViolations()).toEqual([]);
  });

  async function events(agent: Agent, query: string): Promise<EventPage> {
    const res = await agent.get(`/api/v1/events?${query}`).expect(200);
    return res.body as EventPage;
  }

  it('filters by intent_id, oldest first, from INTENT_CREATED to the CAB request', async () => {
    const page = await events(auditor, `intent_id=${first.id}&limit=200`);
    expect(page.next_cursor).toBeNull();
    expect(page.items.every((event) => event.intent_id === first.id)).toBe(true);
    expect(page.items.map((event) => event.event_type)).toEqual([
      'INTENT_CREATED',
      'RISK_ASSESSED',
      'CAB_REQUESTED',
    ]);
    const ids = page.items.map((event) => event.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(page.items[0]).toMatchObject({
      correlation_id: first.correlationId,
      actor: SUBMITTER.id,
      payload: { appName: '7-Zip', targetRing: 'GLOBAL' },
    });
    expect(Number.isNaN(Date.parse(page.items[0]?.occurred_at ?? ''))).toBe(false);
  });

  it('filters by request_id, and by correlation_id', async () => {
    const login = await events(auditor, `request_id=${loginRequestId}`);
    expect(login.items).toEqual([
      expect.objectContaining({
        event_type: 'DEV_LOGIN',
        intent_id: null,
        request_id: loginRequestId,
        actor: 'audit@example.com',
      }),
    ]);
    // The sign-in has a correlation id of its own, never the caller's.
    const signIn = login.items[0]?.correlation_id ?? '';
    expect(signIn).not.toBe(loginRequestId);
    expect((await events(auditor, `correlation_id=${signIn}`)).items).toEqual(login.items);
    const rollout = await events(auditor, `correlation_id=${second.correlationId}`);
    expect(rollout.items.length).toBeGreaterThanOrEqual(3);
    expect(rollout.items.every((event) => event.correlation_id === second.correlationId)).toBe(true);
  });

  it('filters by event_type, alone and combined with intent_id', async () => {
    const requested = await events(auditor, 'event_type=CAB_REQUESTED');
    expect(requested.items.every((event) => event.event_type === 'CAB_REQUESTED')).toBe(true);
    expect(requested.items.map((event) => event.intent_id)).toEqual([first.id, second.id]);
    const one = await events(auditor, `event_type=RISK_ASSESSED&intent_id=${second.id}`);
    expect(one.items).toHaveLength(1);
    expect(one.items[0]).toMatchObject({ intent_id: second.id, actor: 'system:workflow' });
    expect((await events(auditor, 'event_type=NO_SUCH_EVENT')).items).toEqual([]);
  });

  it('pages through the trail with next_cursor, without repeating or skipping an event', async () => {
    const whole = await events(auditor, 'limit=200');
    expect(whole.items.length).toBeGreaterThan(5);
    const paged: AuditEvent[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: EventPage = await events(auditor, `limit=2${cursor === null ? '' : `&cursor=${cursor}`}`);
      expect(page.items.length).toBeLessThanOrEqual(2);
      paged.push(...page.items);
      cursor = page.next_cursor;
      pages += 1;
    } while (cursor !== null);
    expect(pages).toBe(Math.ceil(whole.items.length / 2));
    expect(paged.map((event) => event.id)).toEqual(whole.items.map((event) => event.id));
  });

  it('answers 400 naming the cursor when it is not one the API issued', async () => {
    for (const cursor of ['bm90LWEtY3Vyc29y', Buffer.from('[1.5]').toString('base64url'), 'a%21b']) {
      const res = await auditor.get(`/api/v1/events?cursor=${cursor}`).expect(400);
      expect((res.body as Problem).errors?.map((e) => e.field)).toEqual(['cursor']);
    }
  });

  it('answers 400 naming malformed filters and unknown parameters', async () => {
    const res = await auditor
      .get('/api/v1/events?correlation_id=nope&intent_id=1&event_type=drop%20table&limit=0&colour=red')
      .expect(400);
    expect((res.body as Problem).errors?.map((e) => e.field).sort()).toEqual(
      ['colour', 'correlation_id', 'event_type', 'intent_id', 'limit'].sort(),
    );
  });

  it('shows each tenant only its own trail', async () => {
    const other = await api.agent('audit@tenant-b.example.com', ['auditor'], TENANT_B);
    expect((await events(other, `intent_id=${first.id}`)).items).toEqual([]);
    expect((await events(other, `correlation_id=${first.correlationId}`)).items).toEqual([]);
    const all = await events(other, 'limit=200');
    expect(all.items.map((event) => event.event_type)).toEqual(['DEV_LOGIN']);
    expect(all.items[0]?.actor).toBe('audit@tenant-b.example.com');
  });

  it('is open to auditors, operators and CAB members, not to submitters or anonymous callers', async () => {
    await events(await api.agent('ops@example.com', ['operator']), 'limit=1');
    await events(await api.agent('cab@example.com', ['cab_member']), 'limit=1');
    await (await api.agent(SUBMITTER.id, ['submitter'])).get('/api/v1/events').expect(403);
    await api.anonymous().get('/api/v1/events').expect(401);
  });

  describe('GET /events/verify — the hash chain', () => {
    async function verify(query = ''): Promise<ChainVerification> {
      const res = await auditor.get(`/api/v1/events/verify${query}`).expect(200);
      return res.body as ChainVerification;
    }

    it('chains every event of the tenant: seq 1, 2, 3… each pointing at its predecessor’s hash', async () => {
      const whole = await events(auditor, 'limit=200');
      expect(whole.items.map((event) => event.seq)).toEqual(whole.items.map((_, index) => index + 1));
      expect(whole.items[0]?.prev_hash).toBe('0'.repeat(64));
      for (let index = 1; index < whole.items.length; index += 1) {
        expect(whole.items[index]?.prev_hash).toBe(whole.items[index - 1]?.hash);
      }
      const result = await verify();
      expect(result).toMatchObject({ intact: true, first_broken_link: null, from_event_id: null });
      expect(result.verified).toBeGreaterThanOrEqual(whole.items.length);
      expect(result.last_verified?.seq).toBe(result.head.seq);
      expect(result.last_verified?.hash).toBe(result.head.hash);
    });

    it('verifies from an event id, and answers 404 for an event the tenant does not have', async () => {
      const whole = await events(auditor, 'limit=200');
      const third = whole.items[2];
      if (third === undefined) throw new Error('too few events');
      const result = await verify(`?from_event_id=${String(third.id)}`);
      expect(result).toMatchObject({ intact: true, from_event_id: third.id });
      expect(result.verified).toBe(result.head.seq - 2);
      await auditor.get('/api/v1/events/verify?from_event_id=999999999').expect(404);
      await auditor.get('/api/v1/events/verify?from_event_id=first').expect(400);
      const other = await api.agent('audit@tenant-b.example.com', ['auditor'], TENANT_B);
      await other.get(`/api/v1/events/verify?from_event_id=${String(third.id)}`).expect(404);
    });

    it('is open to auditors and admins only', async () => {
      await (await api.agent('admin@example.com', ['admin'])).get('/api/v1/events/verify').expect(200);
      await (await api.agent('ops@example.com', ['operator'])).get('/api/v1/events/verify').expect(403);
      await api.anonymous().get('/api/v1/events/verify').expect(401);
    });

    // Last: it breaks the chain on purpose.
    it('names the edited row when a superuser disables the append-only trigger and rewrites one', async () => {
      const trail = (await events(auditor, `intent_id=${second.id}`)).items;
      const victim = trail.find((event) => event.event_type === 'RISK_ASSESSED');
      if (victim === undefined) throw new Error('no RISK_ASSESSED event');
      const db = api.db.handle.db;
      await db.execute(sql`alter table deployment_events disable trigger deployment_events_no_update_delete`);
      try {
        await db.execute(
          sql`update deployment_events set payload = payload || '{"score": 1}'::jsonb where id = ${victim.id}`,
        );
      } finally {
        await db.execute(
          sql`alter table deployment_events enable trigger deployment_events_no_update_delete`,
        );
      }
      const result = await verify();
      expect(result.intact).toBe(false);
      expect(result.first_broken_link).toEqual({
        event_id: victim.id,
        seq: victim.seq,
        reason: 'HASH_MISMATCH',
      });
      expect(result.verified).toBe(victim.seq - 1);
      // The tenant next door keeps an intact chain.
      const other = await api.agent('audit@tenant-b.example.com', ['auditor'], TENANT_B);
      const theirs = (await other.get('/api/v1/events/verify').expect(200)).body as ChainVerification;
      expect(theirs.intact).toBe(true);
    });
  });
});
