import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { DeploymentIntentRow } from '../../db/repositories/deployment-intents';
import type { IntentStatus } from '../../policy/intent-status';
import { RINGS } from '../../policy/rings';
import type { Ring } from '../../policy/rings';
import { abortSignal } from '../../workflows/definitions';
import type { IntentOutcome } from '../../workflows/definitions';
import { ApiHarness } from '../helpers/api';
import type { Agent } from '../helpers/api';
import { eventually } from '../helpers/harness';

/** What the seed's PowerShell connector reads from each pending item. */
interface SeedItem {
  correlation_id: string;
  app_name: string;
  version: string;
  evidence_pack_id: string;
}

interface PendingItem extends SeedItem {
  ring_deployment_id: string;
  intent_id: string;
  ring: Ring;
  action: 'DEPLOY' | 'ROLLBACK';
}

interface Problem {
  type: string;
  detail?: string;
}

/**
 * Issue 7, finding 5: a connector written from the seed's contract works unchanged, apart from its
 * credential (a connector API key as `Authorization: Bearer`).
 */
describe('the seed’s connector contract', () => {
  let api: ApiHarness;
  let seed: Agent;

  beforeAll(async () => {
    api = await ApiHarness.start();
    seed = (await api.connector('intune')).agent;
  });
  afterAll(async () => {
    await api.close();
  });
  afterEach(() => {
    expect(api.contractViolations()).toEqual([]);
  });

  /** The seed's poll: a JSON array, read only for its four fields. */
  async function seedPoll(agent: Agent = seed): Promise<PendingItem[]> {
    const res = await agent.get('/api/v1/connectors/pending-deployments/').expect(200);
    expect(Array.isArray(res.body)).toBe(true);
    return res.body as PendingItem[];
  }

  /** The seed's report: exactly these six fields, to the path with its trailing slash. */
  function seedReport(item: SeedItem & { ring: Ring }, success: number, failure: number, agent = seed) {
    return agent
      .post('/api/v1/connectors/update-deployment-status/')
      .set('Content-Type', 'application/json')
      .send({
        correlation_id: item.correlation_id,
        ring: item.ring,
        connector_type: 'intune',
        connector_object_id: `intune-assignment-${item.ring.toLowerCase()}`,
        success_count: success,
        failure_count: failure,
      });
  }

  async function awaitSeedItem(intent: DeploymentIntentRow, ring: Ring, agent: Agent = seed) {
    return eventually(async () => {
      const items = await seedPoll(agent);
      return items.find((item) => item.correlation_id === intent.correlationId && item.ring === ring);
    }, `${ring} of ${intent.id} listed`);
  }

  async function awaitIntentStatus(intent: DeploymentIntentRow, status: IntentStatus) {
    return eventually(async () => {
      const row = await api.tenant().intents.get(intent.id);
      return row?.status === status ? row : undefined;
    }, `intent ${status}`);
  }

  it('carries an intent from LAB to GLOBAL with nothing but the seed’s payloads', async () => {
    const { intent } = await api.submit({ targetRing: 'GLOBAL' });
    for (const ring of RINGS) {
      const item = await awaitSeedItem(intent, ring);
      expect(item).toMatchObject({
        correlation_id: intent.correlationId,
        app_name: '7-Zip',
        version: '24.08',
        evidence_pack_id: intent.evidencePackId,
        action: 'DEPLOY',
      });
      const answer = await seedReport({ ...item, ring }, 50, 0).expect(200);
      expect(answer.body).toMatchObject({ outcome: 'COMPLETED', deployment: { ring, status: 'REPORTED' } });
    }
    const outcome = (await api.temporal.client.workflow
      .getHandle(intent.workflowId)
      .result()) as IntentOutcome;
    expect(outcome).toMatchObject({ status: 'COMPLETED', completedRings: [...RINGS] });
    const reported = await api
      .tenant()
      .events.list({ intentId: intent.id, eventType: 'CONNECTOR_REPORTED' }, { limit: 50 });
    expect(reported.items.map((event) => [event.payload.ring, event.payload.final])).toEqual(
      RINGS.map((ring) => [ring, true]),
    );
  });

  it('takes a report without connector_object_id', async () => {
    const { intent } = await api.submit({ targetRing: 'LAB' });
    const item = await awaitSeedItem(intent, 'LAB');
    const answer = await seed
      .post('/api/v1/connectors/update-deployment-status')
      .send({
        correlation_id: item.correlation_id,
        ring: 'LAB',
        connector_type: 'intune',
        success_count: 3,
        failure_count: 0,
      })
      .expect(200);
    expect(answer.body).toMatchObject({
      outcome: 'COMPLETED',
      deployment: { connector_object_id: null, status: 'REPORTED' },
    });
    await awaitIntentStatus(intent, 'COMPLETED');
  });

  it('never hands a rollback to a connector that does not ask for rollbacks', async () => {
    const { intent } = await api.submit({ targetRing: 'CANARY' });
    const lab = await awaitSeedItem(intent, 'LAB');
    await seedReport({ ...lab, ring: 'LAB' }, 10, 0).expect(200);
    const canary = await awaitSeedItem(intent, 'CANARY');
    // CANARY misses its success-rate gate: CANARY and LAB are rolled back.
    await seedReport({ ...canary, ring: 'CANARY' }, 1, 9).expect(200);
    await awaitIntentStatus(intent, 'ROLLING_BACK');

    const rollbacks = await eventually(async () => {
      const res = await seed.get('/api/v1/connectors/pending-rollbacks').expect(200);
      const items = (res.body as PendingItem[]).filter((item) => item.intent_id === intent.id);
      return items.length > 0 ? items : undefined;
    }, 'the rollback listed');
    expect(rollbacks).toEqual([expect.objectContaining({ ring: 'CANARY', action: 'ROLLBACK' })]);

    // While the rollback waits, the seed's list shows nothing of this intent, however often it asks.
    for (let poll = 0; poll < 5; poll += 1) {
      const items = await seedPoll();
      expect(items.filter((item) => item.correlation_id === intent.correlationId)).toEqual([]);
    }
    // A seed report on the rolled-back ring names its deployment, which is over: the rollback is untouched.
    const late = await seedReport({ ...canary, ring: 'CANARY' }, 10, 0).expect(409);
    expect((late.body as Problem).detail).toContain('deploy of CANARY');
    const rows = await api.tenant().ringDeployments.forIntent(intent.id);
    expect(rows.find((row) => row.ring === 'CANARY' && row.kind === 'ROLLBACK')).toMatchObject({
      status: 'PENDING',
      successCount: 0,
    });
  });

  it('lists rollbacks only at their own path, for a connector that asks for them', async () => {
    const { intent } = await api.submit({ targetRing: 'LAB', connectors: { linux: 'landscape' } });
    const landscape = (await api.connector('landscape')).agent;
    const lab = await awaitSeedItem(intent, 'LAB', landscape);
    await api.temporal.client.workflow
      .getHandle(intent.workflowId)
      .signal(abortSignal, { by: 'ops@example.com', reason: 'wrong package' });
    const rollback = await eventually(async () => {
      const res = await landscape.get('/api/v1/connectors/pending-rollbacks').expect(200);
      return (res.body as PendingItem[]).find((item) => item.intent_id === intent.id);
    }, 'the LAB rollback');
    expect(rollback).toMatchObject({
      ring: 'LAB',
      action: 'ROLLBACK',
      correlation_id: lab.correlation_id,
      version: '24.08',
    });
    expect(rollback.ring_deployment_id).not.toBe(lab.ring_deployment_id);
    await landscape
      .post('/api/v1/connectors/update-deployment-status')
      .send({
        ring_deployment_id: rollback.ring_deployment_id,
        correlation_id: rollback.correlation_id,
        ring: 'LAB',
        connector_type: 'landscape',
        success_count: 4,
        failure_count: 0,
      })
      .expect(200);
    await awaitIntentStatus(intent, 'ROLLED_BACK');
  });

  describe('which ring deployment a report is about', () => {
    it('resolves a ring_deployment_id exactly, and refuses one that disagrees with the rest of the report', async () => {
      const { intent } = await api.submit({ targetRing: 'LAB' });
      const item = await awaitSeedItem(intent, 'LAB');
      const base = {
        correlation_id: item.correlation_id,
        ring: 'LAB',
        connector_type: 'intune',
        success_count: 2,
        failure_count: 0,
        final: false,
      };
      const unknown = await seed
        .post('/api/v1/connectors/update-deployment-status')
        .send({ ...base, ring_deployment_id: randomUUID() })
        .expect(404);
      expect((unknown.body as Problem).type).toMatch(/not-found$/);
      const otherRing = await seed
        .post('/api/v1/connectors/update-deployment-status')
        .send({ ...base, ring: 'CANARY', ring_deployment_id: item.ring_deployment_id })
        .expect(422);
      expect((otherRing.body as Problem).type).toMatch(/report-mismatch$/);
      const jamf = (await api.connector('jamf')).agent;
      await jamf
        .post('/api/v1/connectors/update-deployment-status')
        .send({ ...base, connector_type: 'jamf', ring_deployment_id: item.ring_deployment_id })
        .expect(403);
      const otherAction = await seed
        .post('/api/v1/connectors/update-deployment-status')
        .send({ ...base, action: 'ROLLBACK', ring_deployment_id: item.ring_deployment_id })
        .expect(422);
      expect((otherAction.body as Problem).type).toMatch(/report-mismatch$/);

      await seed
        .post('/api/v1/connectors/update-deployment-status')
        .send({ ...base, final: true, ring_deployment_id: item.ring_deployment_id })
        .expect(200);
      await awaitIntentStatus(intent, 'COMPLETED');
    });

    it('answers 409 for a reference that matches more than one ring deployment, and touches neither', async () => {
      const { intent: first } = await api.submit({ targetRing: 'LAB' });
      const { intent: second } = await api.submit({ targetRing: 'LAB' });
      await awaitSeedItem(first, 'LAB');
      await awaitSeedItem(second, 'LAB');
      // Two rows under one correlation id can only come from before correlation ids were unique.
      const legacy = (await api.tenant().ringDeployments.forIntent(second.id))[0];
      if (legacy === undefined) throw new Error('no LAB row');
      await api.db.handle.db.execute(
        sql`update ring_deployments set correlation_id = ${first.correlationId} where id = ${legacy.id}`,
      );
      const answer = await seedReport(
        {
          correlation_id: first.correlationId,
          ring: 'LAB',
          app_name: '7-Zip',
          version: '24.08',
          evidence_pack_id: first.evidencePackId,
        },
        1,
        0,
      ).expect(409);
      expect((answer.body as Problem).type).toMatch(/ambiguous-reference$/);
      const rows = [
        ...(await api.tenant().ringDeployments.forIntent(first.id)),
        ...(await api.tenant().ringDeployments.forIntent(second.id)),
      ];
      expect(rows.map((row) => row.status)).toEqual(['PENDING', 'PENDING']);
    });
  });
});
