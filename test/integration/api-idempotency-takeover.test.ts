import { randomUUID } from 'node:crypto';
import type { Response, Test } from 'supertest';
import { cabDecisionUpdate, intentStateQuery } from '../../workflows/definitions';
import type { IntentState } from '../../workflows/definitions';
import { highRiskEvidence, lowRiskEvidence } from '../fixtures/evidence';
import { ApiHarness } from '../helpers/api';
import type { Agent } from '../helpers/api';
import { dyingTemporal } from '../helpers/dying-temporal';
import type { DyingCall } from '../helpers/dying-temporal';
import { CAB_MEMBER, eventually } from '../helpers/harness';

interface Problem {
  type: string;
}

const replayed = (res: { headers: Record<string, string | undefined> }) => res.headers['idempotent-replayed'];

/**
 * A retry that takes over an Idempotency-Key whose first attempt took effect and died before it
 * answered (api/idempotency.ts, `recorded` endpoints). Whatever happened to the rollout in between,
 * the retry has no second effect: it answers the effect the first attempt had.
 */
describe('a retry that takes over a key whose first attempt took effect', () => {
  let api: ApiHarness;
  let operator: Agent;
  let cab: Agent;

  beforeAll(async () => {
    api = await ApiHarness.start();
    operator = await api.agent('ops@example.com', ['operator']);
    cab = await api.agent(CAB_MEMBER.id, ['cab_member']);
  });
  afterAll(async () => {
    await api.close();
  });
  afterEach(() => {
    expect(api.contractViolations()).toEqual([]);
  });

  /** A replica of the API that dies right after `call` took effect, holding its keys for half a second. */
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

  async function eventCount(eventType: string, intentId: string): Promise<number> {
    return (await api.tenant().events.list({ eventType, intentId }, { limit: 200 })).items.length;
  }

  async function workflowState(workflowId: string, until: (state: IntentState) => boolean, what: string) {
    const handle = api.temporal.client.workflow.getHandle(workflowId);
    return eventually(async () => {
      const state = await handle.query(intentStateQuery);
      return until(state) ? state : undefined;
    }, what);
  }

  async function awaitingCab() {
    const { intent } = await api.submit({ evidencePack: highRiskEvidence(), targetRing: 'GLOBAL' });
    await workflowState(intent.workflowId, (state) => state.status === 'AWAITING_CAB', 'AWAITING_CAB');
    return intent;
  }

  it('a pause retried after another operator resumed the rollout does not pause it again', async () => {
    const { intent } = await api.submit({ targetRing: 'CANARY' });
    const path = `/api/v1/deployment-intents/${intent.id}`;
    const { replica, release } = dyingReplica('signal');
    try {
      const key = randomUUID();
      const pause = (agent: Agent) =>
        agent.post(`${path}/pause`).set('Idempotency-Key', key).send({ reason: 'freeze' });
      const dead = await replica.agent('ops@example.com', ['operator']);
      await expect(pause(dead).timeout({ response: 2000 })).rejects.toThrow(/timeout/i);
      await workflowState(intent.workflowId, (state) => state.paused, 'paused');

      // Another operator lifts the pause before the first one's client retries.
      await operator.post(`${path}/resume`).set('Idempotency-Key', randomUUID()).send({}).expect(202);
      await workflowState(intent.workflowId, (state) => !state.paused, 'resumed');

      const retry = await untilAnswered(() => pause(operator));
      expect([retry.status, replayed(retry)]).toEqual([202, 'true']);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(
        (await api.temporal.client.workflow.getHandle(intent.workflowId).query(intentStateQuery)).paused,
      ).toBe(false);
      expect(await eventCount('PAUSE_REQUESTED', intent.id)).toBe(1);
    } finally {
      release();
    }
  });

  it('a promotion of “whichever ring waits”, retried once the next ring waits, does not release that ring', async () => {
    const intent = await awaitingCab();
    const handle = api.temporal.client.workflow.getHandle(intent.workflowId);
    await handle.executeUpdate(cabDecisionUpdate, {
      args: [{ decision: 'CONDITIONAL', approverId: CAB_MEMBER.id, conditions: { manualPromotion: true } }],
    });
    await workflowState(intent.workflowId, (state) => state.awaitingPromotion === 'LAB', 'LAB waiting');

    const { replica, release } = dyingReplica('signal');
    try {
      const key = randomUUID();
      const promote = (agent: Agent) =>
        agent.post(`/api/v1/deployment-intents/${intent.id}/promote`).set('Idempotency-Key', key).send({});
      const dead = await replica.agent('ops@example.com', ['operator']);
      await expect(promote(dead).timeout({ response: 2000 })).rejects.toThrow(/timeout/i);

      // LAB deploys and passes its gate; CANARY then waits for a promotion nobody has given yet.
      const { agent: intune } = await api.connector('intune');
      await workflowState(
        intent.workflowId,
        (state) => state.currentRing === 'LAB' && state.awaitingPromotion === null,
        'LAB deploying',
      );
      await eventually(async () => {
        const res = await intune.post('/api/v1/connectors/update-deployment-status').send({
          correlation_id: intent.correlationId,
          ring: 'LAB',
          connector_type: 'intune',
          success_count: 5,
          failure_count: 0,
        });
        return res.status === 200 ? res : undefined;
      }, 'the LAB report taken');
      await workflowState(
        intent.workflowId,
        (state) => state.awaitingPromotion === 'CANARY',
        'CANARY waiting',
      );

      const retry = await untilAnswered(() => promote(operator));
      expect([retry.status, replayed(retry)]).toEqual([202, 'true']);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect((await handle.query(intentStateQuery)).awaitingPromotion).toBe('CANARY');
      expect(await eventCount('PROMOTION_GRANTED', intent.id)).toBe(1);
    } finally {
      release();
    }
  });

  // The workflow records the key's request id with ABORT_REQUESTED: the retry finds its own abort there.
  it('an abort retried after it ended the intent is answered 202, not refused', async () => {
    const intent = await awaitingCab();
    const { replica, release } = dyingReplica('signal');
    try {
      const key = randomUUID();
      const abort = (agent: Agent) =>
        agent
          .post(`/api/v1/deployment-intents/${intent.id}/abort`)
          .set('Idempotency-Key', key)
          .send({ reason: 'withdrawn' });
      const dead = await replica.agent('ops@example.com', ['operator']);
      await expect(abort(dead).timeout({ response: 2000 })).rejects.toThrow(/timeout/i);
      await eventually(
        async () => ((await api.tenant().intents.get(intent.id))?.status === 'ABORTED' ? true : undefined),
        'ABORTED',
      );
      const retry = await untilAnswered(() => abort(operator));
      expect([retry.status, replayed(retry)]).toEqual([202, 'true']);
      expect(retry.body).toMatchObject({ intent_id: intent.id, action: 'abort', status: 'ABORTED' });
      expect(await eventCount('ABORT_REQUESTED', intent.id)).toBe(1);
      // Another key's abort of the ended intent is refused as before.
      const other = await operator
        .post(`/api/v1/deployment-intents/${intent.id}/abort`)
        .set('Idempotency-Key', randomUUID())
        .send({ reason: 'withdrawn' });
      expect(other.status).toBe(409);
    } finally {
      release();
    }
  });

  // The slow attempt renews its lease while it works and its client waits: the retry is told to wait
  // (409 in progress), then replays the first attempt's answer; nothing is "recovered".
  it('a retry during a slow but live submission waits for it and records no orphan recovery', async () => {
    const slowStart = new Proxy(api.temporal.client.workflow, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        const method = (value as (...args: unknown[]) => unknown).bind(target);
        if (property !== 'start' && property !== 'executeUpdateWithStart') return method;
        return async (...args: unknown[]) => {
          await new Promise((resolve) => setTimeout(resolve, 1500));
          return method(...args);
        };
      },
    });
    const slowClient = new Proxy(api.temporal.client, {
      get(target, property, receiver) {
        if (property === 'workflow') return slowStart;
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const slow = api.replica({
      overrides: {
        temporal: {
          client: slowClient,
          connection: api.temporal.client.connection,
          taskQueue: api.temporal.taskQueue,
          // Slow, not unavailable: its 1.5 s start stays inside the request's Temporal budget.
          callTimeoutMs: 10_000,
        },
        idempotency: { ttlMs: 60_000, leaseMs: 500 },
      },
    });
    const key = randomUUID();
    const body = {
      app_name: `Slow-${randomUUID().slice(0, 8)}`,
      version: '1.0',
      target_ring: 'LAB',
      connectors: { windows: 'intune' },
      evidence_pack: lowRiskEvidence(),
    };
    const submitter = await api.agent('packager@example.com', ['submitter']);
    const first = (await slow.agent('packager@example.com', ['submitter']))
      .post('/api/v1/deployment-intents')
      .set('Idempotency-Key', key)
      .send(body);
    const retried = (async () => {
      await new Promise((resolve) => setTimeout(resolve, 800));
      return untilAnswered(() =>
        submitter.post('/api/v1/deployment-intents').set('Idempotency-Key', key).send(body),
      );
    })();
    const [a, b] = await Promise.all([first, retried]);
    expect([a.status, b.status]).toEqual([201, 201]);
    const id = (a.body as { id: string }).id;
    expect(await eventCount('ORPHAN_RECOVERED', id)).toBe(0);
  });

  it('a CAB rejection the workflow took (and closed on) is answered to the retry, not refused', async () => {
    const intent = await awaitingCab();
    const { replica, release } = dyingReplica('startUpdate');
    try {
      const key = randomUUID();
      const decide = (agent: Agent) =>
        agent
          .post(`/api/v1/cab/${intent.id}/decision`)
          .set('Idempotency-Key', key)
          .send({ decision: 'REJECTED', comments: 'not this quarter' });
      const dead = await replica.agent(CAB_MEMBER.id, ['cab_member']);
      await expect(decide(dead).timeout({ response: 2000 })).rejects.toThrow(/timeout/i);
      await eventually(
        async () => ((await api.tenant().intents.get(intent.id))?.status === 'REJECTED' ? true : undefined),
        'REJECTED',
      );
      const retry = await untilAnswered(() => decide(cab));
      expect([retry.status, replayed(retry)]).toEqual([200, 'true']);
      expect(retry.body).toMatchObject({ intent_id: intent.id, status: 'REJECTED', decision: 'REJECTED' });
      expect(await eventCount('CAB_DECIDED', intent.id)).toBe(1);
    } finally {
      release();
    }
  });
});
