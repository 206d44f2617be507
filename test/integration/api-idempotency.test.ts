import { randomUUID } from 'node:crypto';
import type { Response, Test } from 'supertest';
import { sql } from 'drizzle-orm';
import { RISK_MODEL_V1 } from '../../policy/risk-model';
import { cabDecisionUpdate, intentStateQuery } from '../../workflows/definitions';
import { highRiskEvidence, lowRiskEvidence } from '../fixtures/evidence';
import { ApiHarness } from '../helpers/api';
import type { Agent } from '../helpers/api';
import { dyingTemporal } from '../helpers/dying-temporal';
import type { DyingCall } from '../helpers/dying-temporal';
import { unreachableTemporal } from '../helpers/unreachable-temporal';
import { CAB_MEMBER, TENANT_B, eventually } from '../helpers/harness';

interface Problem {
  type: string;
}

interface OpenApiOperation {
  operationId: string;
  parameters?: { name: string; in: string }[];
  responses: Record<string, { headers?: Record<string, unknown> }>;
}

/** Unsafe operations that take no Idempotency-Key, and why. */
const WITHOUT_KEY: Record<string, string> = {
  devLogin: 'signing in creates a session, not a resource; a retry signs in again',
  redeemSignInCode: 'signing in creates a session; an authorization code is single-use at the provider',
  logout: 'ending a session twice ends it once',
  evaluateRisk: 'a dry run: it stores nothing',
  updateDeploymentStatus: 'a connector report is deduplicated by its own content',
};

const UNSAFE_METHODS = new Set(['post', 'put', 'patch', 'delete']);

/** A risk model version no other test uses (versions are numbers: 1.0, 1.2.3). */
const freshModelVersion = () => `7.${String(Math.floor(Math.random() * 1e9))}`;

const replayed = (res: { headers: Record<string, string | undefined> }) => res.headers['idempotent-replayed'];

/**
 * Every unsafe operation takes an Idempotency-Key: a retry answers the first response (status and body)
 * with `Idempotent-Replayed: true` and has no second effect; the same key with another request is a
 * 409; keys are per tenant.
 */
describe('Idempotency-Key on every unsafe operation', () => {
  let api: ApiHarness;
  let submitter: Agent;
  let operator: Agent;
  let cab: Agent;
  let admin: Agent;

  beforeAll(async () => {
    api = await ApiHarness.start();
    submitter = await api.agent('packager@example.com', ['submitter']);
    operator = await api.agent('ops@example.com', ['operator']);
    cab = await api.agent(CAB_MEMBER.id, ['cab_member']);
    admin = await api.agent('admin@example.com', ['admin']);
  });
  afterAll(async () => {
    await api.close();
  });
  afterEach(() => {
    expect(api.contractViolations()).toEqual([]);
  });

  /** Sends the same request twice: the second answers the first's status and body, marked replayed. */
  async function sentTwice(send: () => Test, status: number) {
    const first = await send().expect(status);
    const again = await send().expect(status);
    expect(replayed(first)).toBeUndefined();
    expect(replayed(again)).toBe('true');
    return { first, again };
  }

  async function eventCount(eventType: string, intentId?: string): Promise<number> {
    const page = await api
      .tenant()
      .events.list({ eventType, ...(intentId === undefined ? {} : { intentId }) }, { limit: 200 });
    return page.items.length;
  }

  /** Waits for the workflow to record an event, then for any second one to have had time to land. */
  async function settledCount(eventType: string, intentId: string): Promise<number> {
    await eventually(async () => ((await eventCount(eventType, intentId)) > 0 ? true : undefined), eventType);
    await new Promise((resolve) => setTimeout(resolve, 500));
    return eventCount(eventType, intentId);
  }

  async function awaitingCab() {
    const { intent } = await api.submit({ evidencePack: highRiskEvidence(), targetRing: 'GLOBAL' });
    await eventually(
      async () => ((await api.tenant().intents.get(intent.id))?.status === 'AWAITING_CAB' ? true : undefined),
      'AWAITING_CAB',
    );
    return intent;
  }

  it('declares Idempotency-Key and Idempotent-Replayed on every unsafe operation of the document', () => {
    const document = api.document as { paths: Record<string, Record<string, OpenApiOperation>> };
    const unsafe = Object.values(document.paths).flatMap((operations) =>
      Object.entries(operations)
        .filter(([method]) => UNSAFE_METHODS.has(method))
        .map(([, operation]) => operation),
    );
    const keyed = unsafe.filter((operation) => !(operation.operationId in WITHOUT_KEY));
    expect(keyed.map((operation) => operation.operationId).sort()).toEqual([
      'abortDeploymentIntent',
      'activateRiskModel',
      'createDeploymentIntent',
      'createRiskModel',
      'decideCab',
      'issueConnectorCredential',
      'pauseDeploymentIntent',
      'promoteDeploymentIntent',
      'resumeDeploymentIntent',
      'revokeConnectorCredential',
      'storeEvidencePack',
    ]);
    for (const operation of keyed) {
      const header = operation.parameters?.find(
        (parameter) => parameter.in === 'header' && parameter.name.toLowerCase() === 'idempotency-key',
      );
      expect([operation.operationId, header?.name.toLowerCase()]).toEqual([
        operation.operationId,
        'idempotency-key',
      ]);
      const successes = Object.entries(operation.responses).filter(([status]) => status.startsWith('2'));
      expect(successes.length).toBeGreaterThan(0);
      for (const [status, response] of successes) {
        expect([operation.operationId, status, Object.keys(response.headers ?? {})]).toEqual([
          operation.operationId,
          status,
          expect.arrayContaining(['Idempotent-Replayed']),
        ]);
      }
    }
  });

  describe('a retry with the same key answers the first response and has no second effect', () => {
    it('a CAB decision', async () => {
      const intent = await awaitingCab();
      const key = randomUUID();
      const { first, again } = await sentTwice(
        () =>
          cab
            .post(`/api/v1/cab/${intent.id}/decision`)
            .set('Idempotency-Key', key)
            .send({ decision: 'APPROVED', comments: 'ok' }),
        200,
      );
      expect(again.body).toEqual(first.body);
      expect(await settledCount('CAB_DECIDED', intent.id)).toBe(1);
    });

    it('pause, resume and abort', async () => {
      const { intent } = await api.submit({ targetRing: 'CANARY' });
      const path = `/api/v1/deployment-intents/${intent.id}`;
      for (const [action, eventType] of [
        ['pause', 'PAUSE_REQUESTED'],
        ['resume', 'RESUME_REQUESTED'],
        ['abort', 'ABORT_REQUESTED'],
      ] as const) {
        const key = randomUUID();
        const { first, again } = await sentTwice(
          () => operator.post(`${path}/${action}`).set('Idempotency-Key', key).send({ reason: action }),
          202,
        );
        expect(again.body).toEqual(first.body);
        expect(await settledCount(eventType, intent.id)).toBe(1);
      }
    });

    it('a promotion', async () => {
      const intent = await awaitingCab();
      const handle = api.temporal.client.workflow.getHandle(intent.workflowId);
      await handle.executeUpdate(cabDecisionUpdate, {
        args: [{ decision: 'CONDITIONAL', approverId: CAB_MEMBER.id, conditions: { manualPromotion: true } }],
      });
      await eventually(async () => {
        const state = await handle.query(intentStateQuery);
        return state.awaitingPromotion === 'LAB' ? state : undefined;
      }, 'LAB waiting for promotion');
      const key = randomUUID();
      const { first, again } = await sentTwice(
        () =>
          operator
            .post(`/api/v1/deployment-intents/${intent.id}/promote`)
            .set('Idempotency-Key', key)
            .send({ ring: 'LAB' }),
        202,
      );
      expect(again.body).toEqual(first.body);
      expect(await settledCount('PROMOTION_GRANTED', intent.id)).toBe(1);
    });

    it('a credential issue: the replay names the same credential, without the key, and no table holds it', async () => {
      const key = randomUUID();
      const name = `intune-${randomUUID().slice(0, 8)}`;
      const { first, again } = await sentTwice(
        () =>
          admin
            .post('/api/v1/connector-credentials')
            .set('Idempotency-Key', key)
            .send({ connector_type: 'intune', name }),
        201,
      );
      const issued = first.body as { id: string; api_key: string };
      expect(issued.api_key).toMatch(/^eucora_ck_/);
      // The replay is the first answer less the key, which is stored nowhere.
      expect({ ...(again.body as object), api_key: issued.api_key }).toEqual(first.body);
      expect(again.body).not.toHaveProperty('api_key');
      const rows = await api.tenant().connectorCredentials.list();
      expect(rows.filter((row) => row.name === name)).toHaveLength(1);
      expect(await eventCount('CONNECTOR_CREDENTIAL_ISSUED')).toBeGreaterThan(0);

      // Nothing at rest holds the key in plaintext: not the credentials, not the stored answer.
      // Both drivers answer raw SQL with `{ rows }`.
      const query = async (statement: ReturnType<typeof sql>) => {
        const result: unknown = await api.db.handle.db.execute(statement);
        return (result as { rows: Record<string, unknown>[] }).rows;
      };
      const tables = await query(
        sql`select table_name from information_schema.tables where table_schema = 'public'`,
      );
      expect(tables.map((row) => row.table_name)).toContain('connector_credentials');
      for (const { table_name: table } of tables) {
        const found = await query(
          sql`select 1 from ${sql.identifier(String(table))} t where t::text like ${`%${issued.api_key}%`}`,
        );
        expect([table, found.length]).toEqual([table, 0]);
      }
    });

    it('a credential revocation', async () => {
      const issued = await admin
        .post('/api/v1/connector-credentials')
        .send({ connector_type: 'jamf', name: `jamf-${randomUUID().slice(0, 8)}` })
        .expect(201);
      const key = randomUUID();
      await sentTwice(
        () =>
          admin
            .delete(`/api/v1/connector-credentials/${(issued.body as { id: string }).id}`)
            .set('Idempotency-Key', key)
            .send({}),
        204,
      );
    });

    it('a risk model creation and its activation', async () => {
      const version = freshModelVersion();
      const created = await sentTwice(
        () =>
          admin
            .post('/api/v1/risk-models')
            .set('Idempotency-Key', `create-${version}`)
            .send({ ...RISK_MODEL_V1, version }),
        201,
      );
      expect(created.again.body).toEqual(created.first.body);
      expect(created.again.headers.location).toBe(created.first.headers.location);
      const activated = await sentTwice(
        () =>
          admin
            .post(`/api/v1/risk-models/${version}/activate`)
            .set('Idempotency-Key', `activate-${version}`)
            .send({}),
        200,
      );
      expect(activated.again.body).toEqual(activated.first.body);
      const trail = await api.tenant().events.list({}, { limit: 200 });
      const about = (type: string) =>
        trail.items.filter((event) => event.eventType === type && event.payload.version === version);
      expect(about('RISK_MODEL_CREATED')).toHaveLength(1);
      expect(about('RISK_MODEL_ACTIVATED')).toHaveLength(1);
      await admin.post('/api/v1/risk-models/1.0/activate').send({}).expect(200);
    });

    it('an evidence pack', async () => {
      const pack = lowRiskEvidence({ artifact_hash: randomUUID().replaceAll('-', '').padEnd(64, '0') });
      const key = randomUUID();
      const { first, again } = await sentTwice(
        () => submitter.post('/api/v1/evidence-packs').set('Idempotency-Key', key).send(pack),
        201,
      );
      expect(again.body).toEqual(first.body);
      expect(again.headers.location).toBe(first.headers.location);
    });
  });

  it('refuses the same key with another request: 409, and nothing happens', async () => {
    const key = randomUUID();
    const version = freshModelVersion();
    await admin
      .post('/api/v1/risk-models')
      .set('Idempotency-Key', key)
      .send({ ...RISK_MODEL_V1, version })
      .expect(201);
    const other = `${version}.1`;
    const conflict = await admin
      .post('/api/v1/risk-models')
      .set('Idempotency-Key', key)
      .send({ ...RISK_MODEL_V1, version: other })
      .expect(409);
    expect((conflict.body as Problem).type).toContain('idempotency-key-reused');
    await admin.get(`/api/v1/risk-models/${other}`).expect(404);
    // The same key on another operation is another request too.
    const elsewhere = await admin
      .post(`/api/v1/risk-models/${version}/activate`)
      .set('Idempotency-Key', key)
      .send({})
      .expect(409);
    expect((elsewhere.body as Problem).type).toContain('idempotency-key-reused');
  });

  it('keeps keys per tenant: another tenant’s request with the same key is its own', async () => {
    const key = randomUUID();
    const name = `intune-${randomUUID().slice(0, 8)}`;
    const strangerAdmin = await api.agent('admin@other.example', ['admin'], TENANT_B);
    const mine = await admin
      .post('/api/v1/connector-credentials')
      .set('Idempotency-Key', key)
      .send({ connector_type: 'intune', name })
      .expect(201);
    const theirs = await strangerAdmin
      .post('/api/v1/connector-credentials')
      .set('Idempotency-Key', key)
      .send({ connector_type: 'intune', name })
      .expect(201);
    expect(replayed(theirs)).toBeUndefined();
    expect((theirs.body as { id: string }).id).not.toBe((mine.body as { id: string }).id);
  });

  describe('a crash after the effect, before the answer was stored: the retry finishes the job', () => {
    /** A replica of the API that dies at `call`, holding its keys for half a second. */
    function dyingReplica(call: DyingCall) {
      const dying = dyingTemporal(api.temporal.client, call, 'after');
      const replica = api.replica({
        overrides: {
          temporal: {
            client: dying.client,
            connection: api.temporal.client.connection,
            taskQueue: api.temporal.taskQueue,
          },
          idempotency: { ttlMs: 60_000, leaseMs: 500 },
        },
      });
      return {
        replica,
        release: () => {
          dying.release();
        },
      };
    }

    /** Retries as a client would: after the in-progress answer's Retry-After. */
    async function untilAnswered(send: () => Test): Promise<Response> {
      for (let attempt = 0; ; attempt += 1) {
        const res = await send();
        if (res.status !== 409 || attempt > 20) return res;
        expect((res.body as Problem).type).toContain('idempotency-key-in-progress');
        await new Promise((resolve) => setTimeout(resolve, Number(res.headers['retry-after']) * 1000));
      }
    }

    it('a CAB decision the workflow took is answered, not decided twice or refused', async () => {
      const intent = await awaitingCab();
      const { replica, release } = dyingReplica('startUpdate');
      try {
        const key = randomUUID();
        const decide = (agent: Agent) =>
          agent
            .post(`/api/v1/cab/${intent.id}/decision`)
            .set('Idempotency-Key', key)
            .send({ decision: 'APPROVED' });
        const dead = await replica.agent(CAB_MEMBER.id, ['cab_member']);
        await expect(decide(dead).timeout({ response: 2000 })).rejects.toThrow(/timeout/i);
        const retry = await untilAnswered(() => decide(cab));
        expect(retry.status).toBe(200);
        expect(replayed(retry)).toBe('true');
        expect(retry.body).toMatchObject({ intent_id: intent.id, status: 'APPROVED', decision: 'APPROVED' });
        expect(await settledCount('CAB_DECIDED', intent.id)).toBe(1);
      } finally {
        release();
      }
    });

    it('a pause the workflow took is answered 202 and signalled once', async () => {
      const { intent } = await api.submit({ targetRing: 'CANARY' });
      const { replica, release } = dyingReplica('signal');
      try {
        const key = randomUUID();
        const pause = (agent: Agent) =>
          agent
            .post(`/api/v1/deployment-intents/${intent.id}/pause`)
            .set('Idempotency-Key', key)
            .send({ reason: 'freeze' });
        const dead = await replica.agent('ops@example.com', ['operator']);
        await expect(pause(dead).timeout({ response: 2000 })).rejects.toThrow(/timeout/i);
        const retry = await untilAnswered(() => pause(operator));
        expect(retry.status).toBe(202);
        expect(replayed(retry)).toBe('true');
        expect(await settledCount('PAUSE_REQUESTED', intent.id)).toBe(1);
      } finally {
        release();
      }
    });
  });

  it('delivers a CAB decision the orchestrator refused (503) when retried with the same key', async () => {
    const intent = await awaitingCab();
    const unreachable = await unreachableTemporal();
    try {
      const down = api.replica({
        overrides: {
          temporal: {
            client: unreachable.client,
            connection: unreachable.connection,
            taskQueue: api.temporal.taskQueue,
          },
        },
      });
      const key = randomUUID();
      const decide = (agent: Agent) =>
        agent
          .post(`/api/v1/cab/${intent.id}/decision`)
          .set('Idempotency-Key', key)
          .send({ decision: 'REJECTED', comments: 'not now' });
      await decide(await down.agent(CAB_MEMBER.id, ['cab_member'])).expect(503);
      const retry = await decide(cab).expect(200);
      expect(retry.body).toMatchObject({ status: 'REJECTED', decision: 'REJECTED' });
      // The refused attempt forgot nothing and decided nothing: the retry's decision is the only one.
      expect(await settledCount('CAB_DECIDED', intent.id)).toBe(1);
      const again = await decide(cab).expect(200);
      expect(replayed(again)).toBe('true');
    } finally {
      await unreachable.close();
    }
  });

  it('forgets a key after its time to live: the same key is then a new request', async () => {
    const shortLived = api.replica({ overrides: { idempotency: { ttlMs: 1000, leaseMs: 500 } } });
    const agent = await shortLived.agent('admin@example.com', ['admin']);
    const key = randomUUID();
    const version = freshModelVersion();
    await agent
      .post('/api/v1/risk-models')
      .set('Idempotency-Key', key)
      .send({ ...RISK_MODEL_V1, version })
      .expect(201);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const later = await agent
      .post('/api/v1/risk-models')
      .set('Idempotency-Key', key)
      .send({ ...RISK_MODEL_V1, version: `${version}.1` })
      .expect(201);
    expect(replayed(later)).toBeUndefined();
  });

  it('forgets the key of a refused request (4xx): the key may carry a corrected request', async () => {
    const key = randomUUID();
    await admin.post('/api/v1/risk-models/9.99/activate').set('Idempotency-Key', key).send({}).expect(404);
    const version = freshModelVersion();
    await admin
      .post('/api/v1/risk-models')
      .set('Idempotency-Key', key)
      .send({ ...RISK_MODEL_V1, version })
      .expect(201);
    const intentKey = randomUUID();
    await operator
      .post(`/api/v1/deployment-intents/${randomUUID()}/pause`)
      .set('Idempotency-Key', intentKey)
      .send({})
      .expect(404);
    const { intent } = await api.submit({ targetRing: 'CANARY' });
    await operator
      .post(`/api/v1/deployment-intents/${intent.id}/abort`)
      .set('Idempotency-Key', intentKey)
      .send({})
      .expect(202);
  });

  describe('identical requests arriving together have exactly one effect', () => {
    it('two CAB decisions: one decides, the other waits its turn (409 in progress) or replays', async () => {
      const intent = await awaitingCab();
      const key = randomUUID();
      const decide = () =>
        cab
          .post(`/api/v1/cab/${intent.id}/decision`)
          .set('Idempotency-Key', key)
          .send({ decision: 'APPROVED' });
      const answers = await Promise.all([decide(), decide()]);
      const decided = answers.filter((res) => res.status === 200 && replayed(res) === undefined);
      expect(decided).toHaveLength(1);
      for (const res of answers.filter((answer) => !decided.includes(answer))) {
        if (res.status === 409) {
          expect((res.body as Problem).type).toContain('idempotency-key-in-progress');
          expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
        } else {
          expect([res.status, replayed(res)]).toEqual([200, 'true']);
        }
      }
      const retry = await decide().expect(200);
      expect(replayed(retry)).toBe('true');
      expect(await settledCount('CAB_DECIDED', intent.id)).toBe(1);
    });

    it('three credential issues: one credential, one key shown, the others replay', async () => {
      const key = randomUUID();
      const name = `intune-${randomUUID().slice(0, 8)}`;
      const issue = () =>
        admin
          .post('/api/v1/connector-credentials')
          .set('Idempotency-Key', key)
          .send({ connector_type: 'intune', name });
      const answers = await Promise.all([issue(), issue(), issue()]);
      expect(answers.map((res) => res.status)).toEqual([201, 201, 201]);
      expect(answers.filter((res) => replayed(res) === undefined)).toHaveLength(1);
      expect(answers.filter((res) => (res.body as { api_key?: string }).api_key !== undefined)).toHaveLength(
        1,
      );
      const rows = await api.tenant().connectorCredentials.list();
      expect(rows.filter((row) => row.name === name)).toHaveLength(1);
    });
  });
});
