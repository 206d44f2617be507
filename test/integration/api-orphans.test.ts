import { randomUUID } from 'node:crypto';
import type { Response, Test } from 'supertest';
import { defaultPayloadConverter } from '@temporalio/common';
import type { DeploymentIntentInput } from '../../workflows/definitions';
import { lowRiskEvidence } from '../fixtures/evidence';
import { ApiHarness } from '../helpers/api';
import { dyingTemporal } from '../helpers/dying-temporal';
import { eventually, fastPolicy } from '../helpers/harness';
import { unreachableTemporal } from '../helpers/unreachable-temporal';
import type { UnreachableTemporal } from '../helpers/unreachable-temporal';

interface Problem {
  type: string;
}
interface Created {
  id: string;
  workflow_id: string;
  status: string;
}

function body(overrides: Record<string, unknown> = {}) {
  return {
    app_name: '7-Zip',
    version: '24.08',
    target_ring: 'LAB',
    connectors: { windows: 'intune' },
    evidence_pack: lowRiskEvidence(),
    target_device_count: 1234,
    ...overrides,
  };
}

/** A client's retry loop: while the key's first request is (or looks) in progress, wait as told and retry. */
async function untilAnswered(send: () => Test): Promise<Response> {
  const deadline = Date.now() + 45_000;
  for (;;) {
    const res = await send();
    const inProgress =
      res.status === 409 && (res.body as Problem).type.includes('idempotency-key-in-progress');
    if (!inProgress || Date.now() > deadline) return res;
    await new Promise((resolve) => setTimeout(resolve, Number(res.headers['retry-after'] ?? '1') * 1000));
  }
}

/** The input the intent's workflow was started with, read back from its history. */
async function startedInput(api: ApiHarness, workflowId: string): Promise<DeploymentIntentInput> {
  const history = await api.temporal.client.workflow.getHandle(workflowId).fetchHistory();
  const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (payload === undefined) throw new Error(`no start input in the history of ${workflowId}`);
  return defaultPayloadConverter.fromPayload(payload);
}

/**
 * Issue 8, findings 3 and 5: a submission whose workflow never started is not stranded. The client's
 * retry with the same Idempotency-Key starts it, with exactly the input the first attempt would have used.
 */
describe('no orphan intents', () => {
  let api: ApiHarness;
  let unreachable: UnreachableTemporal;

  beforeAll(async () => {
    api = await ApiHarness.start();
    unreachable = await unreachableTemporal();
  });
  afterAll(async () => {
    await unreachable.close();
    await api.close();
  });
  afterEach(() => {
    expect(api.contractViolations()).toEqual([]);
  });

  async function intentsWithKey(key: string) {
    const page = await api.tenant().intents.list({}, { limit: 200 });
    return page.items.filter((row) => row.idempotencyKey === key);
  }

  it('a retry after the API died between recording the intent and starting its workflow starts it', async () => {
    // The process that dies ran with its own rollout policy: the workflow must get that one, not the
    // policy of the process that answers the retry.
    const firstPolicy = fastPolicy({ rings: { LAB: { minDevices: 7 } } });
    const dying = dyingTemporal(api.temporal.client, 'start', 'before');
    const crashed = api.replica({
      policy: firstPolicy,
      overrides: {
        // The retry may take over the dead attempt's key half a second after it was taken.
        idempotency: { ttlMs: 60_000, leaseMs: 500 },
        temporal: {
          client: dying.client,
          connection: api.temporal.client.connection,
          taskQueue: api.temporal.taskQueue,
        },
      },
    });
    const key = randomUUID();
    try {
      const first = await crashed.agent('packager@example.com', ['submitter']);
      await expect(
        first
          .post('/api/v1/deployment-intents')
          .set('Idempotency-Key', key)
          .send(body())
          .timeout({ response: 3000 }),
      ).rejects.toThrow(/timeout/i);
      const [recorded] = await intentsWithKey(key);
      expect(recorded?.status).toBe('SUBMITTED');

      const submitter = await api.agent('packager@example.com', ['submitter']);
      const retry = await untilAnswered(() =>
        submitter.post('/api/v1/deployment-intents').set('Idempotency-Key', key).send(body()),
      );
      expect(retry.status).toBe(201);
      expect(retry.headers['idempotent-replayed']).toBe('true');
      const created = retry.body as Created;
      expect(created.id).toBe(recorded?.id);
      expect(await intentsWithKey(key)).toHaveLength(1);

      const description = await api.temporal.client.workflow.getHandle(created.workflow_id).describe();
      expect(description.status.name).toBe('RUNNING');
      const input = await startedInput(api, created.workflow_id);
      expect(input.policy).toEqual(firstPolicy);
      expect(input.targetDeviceCount).toBe(1234);
      await eventually(async () => {
        const row = await api.tenant().intents.get(created.id);
        return row?.status === 'DEPLOYING' ? row : undefined;
      }, 'the recovered intent to deploy LAB');
      const trail = await api.tenant().events.list({ intentId: created.id }, { limit: 50 });
      expect(trail.items.map((event) => event.eventType).slice(0, 3)).toEqual([
        'INTENT_CREATED',
        'ORPHAN_RECOVERED',
        'RISK_ASSESSED',
      ]);
    } finally {
      dying.release();
    }
  });

  it('a submission refused with 503 succeeds when retried with the same Idempotency-Key', async () => {
    const refusing = api.replica({
      overrides: {
        temporal: {
          client: unreachable.client,
          connection: unreachable.connection,
          taskQueue: api.temporal.taskQueue,
        },
      },
    });
    const key = randomUUID();
    const first = await refusing.agent('packager@example.com', ['submitter']);
    const refused = await first
      .post('/api/v1/deployment-intents')
      .set('Idempotency-Key', key)
      .send(body())
      .expect(503);
    expect((refused.body as Problem).type).toContain('service-unavailable');
    const [recorded] = await intentsWithKey(key);
    // Left startable, not FAILED forever.
    expect(recorded?.status).toBe('SUBMITTED');

    const submitter = await api.agent('packager@example.com', ['submitter']);
    const retry = await untilAnswered(() =>
      submitter.post('/api/v1/deployment-intents').set('Idempotency-Key', key).send(body()),
    );
    expect(retry.status).toBe(201);
    const created = retry.body as Created;
    expect(created.id).toBe(recorded?.id);
    expect(created.status).toBe('APPROVED');
    expect(await intentsWithKey(key)).toHaveLength(1);
    const description = await api.temporal.client.workflow.getHandle(created.workflow_id).describe();
    expect(description.status.name).toBe('RUNNING');
    const trail = await api.tenant().events.list({ intentId: created.id }, { limit: 50 });
    expect(trail.items.map((event) => event.eventType)).not.toContain('FAILED');
  });

  it('a submission without a key that the orchestrator refuses is marked FAILED: no one can retry it', async () => {
    const refusing = api.replica({
      overrides: {
        temporal: {
          client: unreachable.client,
          connection: unreachable.connection,
          taskQueue: api.temporal.taskQueue,
        },
      },
    });
    const first = await refusing.agent('packager@example.com', ['submitter']);
    const app = `Unkeyed-${randomUUID().slice(0, 8)}`;
    await first
      .post('/api/v1/deployment-intents')
      .send(body({ app_name: app }))
      .expect(503);
    const page = await api.tenant().intents.list({ appName: app }, { limit: 10 });
    expect(page.items.map((row) => row.status)).toEqual(['FAILED']);
  });
});
