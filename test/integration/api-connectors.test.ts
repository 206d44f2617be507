import { createHash, randomUUID } from 'node:crypto';
import type { DeploymentIntentRow } from '../../db/repositories/deployment-intents';
import type { ConnectorType } from '../../policy/connectors';
import type { IntentStatus } from '../../policy/intent-status';
import type { Ring } from '../../policy/rings';
import type { RolloutPolicy } from '../../policy/rollout-policy';
import { abortSignal } from '../../workflows/definitions';
import { ApiHarness } from '../helpers/api';
import type { Agent } from '../helpers/api';
import { TENANT_A, eventually, fastPolicy } from '../helpers/harness';
import type { submission } from '../helpers/harness';

interface PendingItem {
  correlation_id: string;
  intent_id: string;
  ring: Ring;
  action: 'DEPLOY' | 'ROLLBACK';
  status: string;
  started_at: string;
  deadline_at: string;
  success_count: number;
  failure_count: number;
  rollback_steps: { platform: string }[];
}

interface Problem {
  type: string;
  detail?: string;
  errors?: { field: string }[];
}

describe('connector endpoints: pending deployments and status reports', () => {
  let api: ApiHarness;
  let intune: Agent;
  let jamf: Agent;
  let operator: Agent;

  beforeAll(async () => {
    api = await ApiHarness.start();
    intune = (await api.connector('intune')).agent;
    jamf = (await api.connector('jamf')).agent;
    operator = await api.agent('ops@example.com', ['operator']);
  });
  afterAll(async () => {
    await api.close();
  });
  afterEach(() => {
    expect(api.contractViolations()).toEqual([]);
  });

  /** Submits a low-risk intent through the same service the API uses, with its own rollout policy. */
  async function submitIntent(
    overrides: Parameters<typeof submission>[0] = {},
    policy: RolloutPolicy = fastPolicy(),
  ): Promise<DeploymentIntentRow> {
    const { intent, risk } = await api.submit(overrides, policy);
    expect(risk?.requiresCab).toBe(false);
    return intent;
  }

  /** Polls the listing over HTTP, as a connector does, until the intent's item for that ring shows. */
  async function awaitItem(
    intent: DeploymentIntentRow,
    ring: Ring,
    action: 'DEPLOY' | 'ROLLBACK' = 'DEPLOY',
    agent: Agent = intune,
    connectorType: ConnectorType = 'intune',
  ): Promise<PendingItem> {
    // Deployments and rollbacks are listed apart: a connector asks for rollbacks explicitly.
    const list = action === 'DEPLOY' ? 'pending-deployments' : 'pending-rollbacks';
    return eventually(async () => {
      const res = await agent
        .get(`/api/v1/connectors/${list}`)
        .query({ connector_type: connectorType })
        .expect(200);
      const items = res.body as PendingItem[];
      return items.find(
        (item) =>
          item.correlation_id === intent.correlationId && item.ring === ring && item.action === action,
      );
    }, `${action} of ${ring} listed`);
  }

  function report(
    agent: Agent,
    intent: DeploymentIntentRow,
    ring: Ring,
    counts: { success: number; failure: number; final: boolean; action?: 'DEPLOY' | 'ROLLBACK' },
    connectorType: ConnectorType = 'intune',
  ) {
    return agent.post('/api/v1/connectors/update-deployment-status').send({
      correlation_id: intent.correlationId,
      ring,
      connector_type: connectorType,
      ...(counts.action === undefined ? {} : { action: counts.action }),
      connector_object_id: `intune-app-assignment-${ring.toLowerCase()}`,
      success_count: counts.success,
      failure_count: counts.failure,
      final: counts.final,
    });
  }

  async function awaitIntentStatus(intent: DeploymentIntentRow, status: IntentStatus) {
    return eventually(async () => {
      const row = await api.tenant().intents.get(intent.id);
      return row?.status === status ? row : undefined;
    }, `intent ${status}`);
  }

  async function eventsOf(intent: DeploymentIntentRow, eventType: string) {
    const page = await api.tenant().events.list({ intentId: intent.id, eventType }, { limit: 100 });
    return page.items;
  }

  describe('GET /connectors/pending-deployments', () => {
    it('lists a new intent’s LAB deployment with its artifact and the rollback steps of its platforms', async () => {
      const intent = await submitIntent();
      const item = await awaitItem(intent, 'LAB');
      expect(item).toEqual({
        ring_deployment_id: expect.any(String) as string,
        correlation_id: intent.correlationId,
        intent_id: intent.id,
        ring: 'LAB',
        action: 'DEPLOY',
        connector_type: 'intune',
        platforms: ['windows'],
        app_name: '7-Zip',
        app_version: '24.08',
        version: '24.08',
        target_ring: 'GLOBAL',
        evidence_pack_id: intent.evidencePackId,
        artifact: {
          hash: 'a'.repeat(64),
          storage_url: 'https://artifacts.example.com/7zip/24.08/7z2408-x64.msi',
          size_bytes: 1_572_864,
        },
        rollback_steps: [
          {
            platform: 'windows',
            strategy: 'UNINSTALL',
            instructions: 'msiexec /x {product-code} /qn',
            tested: true,
          },
        ],
        status: 'PENDING',
        attempt: 1,
        started_at: expect.any(String) as string,
        deadline_at: expect.any(String) as string,
        success_count: 0,
        failure_count: 0,
      });
      expect(Date.parse(item.deadline_at) - Date.parse(item.started_at)).toBe(60_000);

      const onlyLab = await intune
        .get('/api/v1/connectors/pending-deployments?connector_type=intune&ring=LAB')
        .expect(200);
      expect(JSON.stringify(onlyLab.body)).toContain(intent.correlationId);
      const onlyCanary = await intune
        .get('/api/v1/connectors/pending-deployments?connector_type=intune&ring=CANARY')
        .expect(200);
      expect(JSON.stringify(onlyCanary.body)).not.toContain(intent.correlationId);
      const none = await jamf.get('/api/v1/connectors/pending-deployments?connector_type=jamf').expect(200);
      expect(none.body).toEqual([]);
      // A connector key needs no connector_type: its own is the default.
      const own = await intune.get('/api/v1/connectors/pending-deployments').expect(200);
      expect(JSON.stringify(own.body)).toContain(intent.correlationId);
    });

    it('lets an operator look at any connector type’s work', async () => {
      const intent = await submitIntent();
      await awaitItem(intent, 'LAB', 'DEPLOY', operator);
      await operator.get('/api/v1/connectors/pending-deployments?connector_type=ansible').expect(200);
    });

    it('answers 400 naming an unknown connector_type, ring or query field', async () => {
      const res = await operator
        .get('/api/v1/connectors/pending-deployments?connector_type=teams&ring=MOON&page=2')
        .expect(400);
      const fields = (res.body as Problem).errors?.map((e) => e.field);
      expect(fields).toEqual(expect.arrayContaining(['connector_type', 'ring', 'page']));
      const missing = await operator.get('/api/v1/connectors/pending-rollbacks').expect(400);
      expect((missing.body as Problem).errors?.map((e) => e.field)).toEqual(['connector_type']);
      const missingBoth = await operator.get('/api/v1/connectors/pending-work').expect(400);
      expect((missingBoth.body as Problem).errors?.map((e) => e.field)).toEqual(['connector_type']);
    });

    it('refuses a connector asking for another connector type’s work with 403', async () => {
      const res = await intune.get('/api/v1/connectors/pending-deployments?connector_type=jamf').expect(403);
      expect((res.body as Problem).detail).toContain('intune');
      await intune.get('/api/v1/connectors/pending-rollbacks?connector_type=jamf').expect(403);
      await intune.get('/api/v1/connectors/pending-work?connector_type=jamf').expect(403);
    });

    it('refuses submitters with 403 and anonymous callers with 401', async () => {
      const submitter = await api.agent('packager@example.com', ['submitter']);
      await submitter.get('/api/v1/connectors/pending-deployments?connector_type=intune').expect(403);
      await api.anonymous().get('/api/v1/connectors/pending-deployments?connector_type=intune').expect(401);
      await submitter.get('/api/v1/connectors/pending-work?connector_type=intune').expect(403);
      await api.anonymous().get('/api/v1/connectors/pending-work?connector_type=intune').expect(401);
    });
  });

  describe('POST /connectors/update-deployment-status', () => {
    it('records an interim report as a heartbeat, then completes LAB with the final one and opens CANARY', async () => {
      const intent = await submitIntent();
      await awaitItem(intent, 'LAB');

      const interim = await report(intune, intent, 'LAB', { success: 40, failure: 1, final: false }).expect(
        200,
      );
      expect(interim.body).toMatchObject({
        outcome: 'HEARTBEAT_RECORDED',
        deployment: {
          ring: 'LAB',
          action: 'DEPLOY',
          status: 'IN_PROGRESS',
          success_count: 40,
          failure_count: 1,
          connector_object_id: 'intune-app-assignment-lab',
          completed_at: null,
          outcome: null,
        },
      });
      const listed = await awaitItem(intent, 'LAB');
      expect(listed).toMatchObject({ status: 'IN_PROGRESS', success_count: 40, failure_count: 1 });

      const final = await report(intune, intent, 'LAB', {
        success: 100,
        failure: 0,
        final: true,
        action: 'DEPLOY',
      }).expect(200);
      expect(final.body).toMatchObject({
        outcome: 'COMPLETED',
        deployment: { status: 'REPORTED', success_count: 100, failure_count: 0 },
      });
      await awaitItem(intent, 'CANARY');
      const labRows = (await api.tenant().ringDeployments.forIntent(intent.id)).filter(
        (r) => r.ring === 'LAB',
      );
      expect(labRows).toEqual([expect.objectContaining({ status: 'REPORTED', outcome: 'SUCCEEDED' })]);

      const reported = await eventsOf(intent, 'CONNECTOR_REPORTED');
      expect(reported.map((event) => event.payload.final)).toEqual([false, true]);
      expect(reported[0]?.actor).toMatch(/^connector:intune-/);
    });

    it('answers a repeated identical final report with ALREADY_COMPLETED and refuses other counts with 409', async () => {
      const intent = await submitIntent();
      await awaitItem(intent, 'LAB');
      await report(intune, intent, 'LAB', { success: 25, failure: 0, final: true }).expect(200);

      const again = await report(intune, intent, 'LAB', { success: 25, failure: 0, final: true }).expect(200);
      expect(again.body).toMatchObject({
        outcome: 'ALREADY_COMPLETED',
        deployment: { status: 'REPORTED', success_count: 25 },
      });
      const different = await report(intune, intent, 'LAB', { success: 24, failure: 1, final: true }).expect(
        409,
      );
      expect((different.body as Problem).type).toMatch(/ring-finished$/);
      const lateInterim = await report(intune, intent, 'LAB', {
        success: 25,
        failure: 0,
        final: false,
      }).expect(409);
      expect((lateInterim.body as Problem).type).toMatch(/ring-finished$/);
      expect(await eventsOf(intent, 'CONNECTOR_REPORTED')).toHaveLength(1);
    });

    it('lists the rollbacks after CANARY fails its gate and rolls the intent back when they are reported', async () => {
      const intent = await submitIntent();
      await awaitItem(intent, 'LAB');
      await report(intune, intent, 'LAB', { success: 10, failure: 0, final: true }).expect(200);
      await awaitItem(intent, 'CANARY');
      await report(intune, intent, 'CANARY', { success: 50, failure: 50, final: true }).expect(200);

      const canaryRollback = await awaitItem(intent, 'CANARY', 'ROLLBACK');
      expect(canaryRollback).toMatchObject({
        status: 'PENDING',
        rollback_steps: [{ platform: 'windows', strategy: 'UNINSTALL' }],
      });
      // One request for both lists: each is what its own endpoint answers, and the rollback is not a deployment.
      const [work, deployments, rollbacks] = await Promise.all(
        ['pending-work', 'pending-deployments', 'pending-rollbacks'].map(async (list) => {
          const res = await intune.get(`/api/v1/connectors/${list}`).expect(200);
          return res.body as unknown;
        }),
      );
      expect(work).toEqual({ deployments, rollbacks });
      const both = work as { deployments: PendingItem[]; rollbacks: PendingItem[] };
      expect(both.rollbacks).toContainEqual(canaryRollback);
      expect(both.deployments.every((item) => item.action === 'DEPLOY')).toBe(true);
      expect(both.rollbacks.every((item) => item.action === 'ROLLBACK')).toBe(true);
      // The deployment of CANARY is over: a report naming it is refused, the rollback is untouched.
      const late = await report(intune, intent, 'CANARY', {
        success: 99,
        failure: 1,
        final: true,
        action: 'DEPLOY',
      }).expect(409);
      expect((late.body as Problem).detail).toContain('deploy of CANARY');
      await report(intune, intent, 'CANARY', { success: 100, failure: 0, final: true, action: 'ROLLBACK' })
        .expect(200)
        .expect((res) => {
          expect(res.body).toMatchObject({ outcome: 'COMPLETED', deployment: { action: 'ROLLBACK' } });
        });

      await awaitItem(intent, 'LAB', 'ROLLBACK');
      await report(intune, intent, 'LAB', {
        success: 10,
        failure: 0,
        final: true,
        action: 'ROLLBACK',
      }).expect(200);
      await awaitIntentStatus(intent, 'ROLLED_BACK');

      const repeated = await report(intune, intent, 'LAB', {
        success: 10,
        failure: 0,
        final: true,
        action: 'ROLLBACK',
      }).expect(200);
      expect(repeated.body).toMatchObject({
        outcome: 'ALREADY_COMPLETED',
        deployment: { action: 'ROLLBACK' },
      });
      await report(intune, intent, 'LAB', { success: 9, failure: 1, final: true, action: 'ROLLBACK' }).expect(
        409,
      );
      // Without an action, a report is about the deployment, never the rollback.
      const deployment = await report(intune, intent, 'LAB', { success: 10, failure: 0, final: true }).expect(
        200,
      );
      expect(deployment.body).toMatchObject({
        outcome: 'ALREADY_COMPLETED',
        deployment: { action: 'DEPLOY' },
      });
    });

    it('refuses a deployment report that comes after the ring’s deadline with 409, while its rollback waits', async () => {
      const intent = await submitIntent({}, fastPolicy({ rings: { LAB: { reportDeadlineMs: 1_500 } } }));
      await awaitItem(intent, 'LAB');
      await awaitItem(intent, 'LAB', 'ROLLBACK');

      const late = await report(intune, intent, 'LAB', {
        success: 10,
        failure: 0,
        final: true,
        action: 'DEPLOY',
      }).expect(409);
      expect((late.body as Problem).detail).toContain('is timed out');
      const lab = await api.tenant().ringDeployments.forIntent(intent.id);
      expect(lab.map((row) => [row.kind, row.status])).toEqual([
        ['DEPLOY', 'TIMED_OUT'],
        ['ROLLBACK', 'PENDING'],
      ]);

      await report(intune, intent, 'LAB', {
        success: 10,
        failure: 0,
        final: true,
        action: 'ROLLBACK',
      }).expect(200);
      await awaitIntentStatus(intent, 'ROLLED_BACK');
    });

    it('refuses with 409 a report that Temporal no longer waits for, even before the orchestrator noticed', async () => {
      const intent = await submitIntent({}, fastPolicy({ rings: { LAB: { reportDeadlineMs: 1_000 } } }));
      await awaitItem(intent, 'LAB');
      // With no worker the workflow cannot settle the timeout, so the read model still shows LAB open.
      await api.temporal.stopWorker();
      try {
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        expect((await awaitItem(intent, 'LAB')).status).toBe('PENDING');
        const late = await report(intune, intent, 'LAB', { success: 5, failure: 0, final: false }).expect(
          409,
        );
        expect((late.body as Problem).detail).toContain('no longer waiting');
      } finally {
        await api.temporal.start();
      }
      await awaitItem(intent, 'LAB', 'ROLLBACK');
    });

    it('refuses with 409 a report on a deployment the operator aborted, while its rollback waits', async () => {
      const intent = await submitIntent();
      await awaitItem(intent, 'LAB');
      await report(intune, intent, 'LAB', { success: 3, failure: 0, final: false }).expect(200);
      await api.temporal.client.workflow
        .getHandle(intent.workflowId)
        .signal(abortSignal, { by: 'ops@example.com', reason: 'wrong package' });
      await awaitItem(intent, 'LAB', 'ROLLBACK');

      const late = await report(intune, intent, 'LAB', {
        success: 3,
        failure: 0,
        final: true,
        action: 'DEPLOY',
      }).expect(409);
      expect((late.body as Problem).detail).toContain('cancelled');
      await report(intune, intent, 'LAB', { success: 3, failure: 0, final: true, action: 'ROLLBACK' }).expect(
        200,
      );
      await awaitIntentStatus(intent, 'ROLLED_BACK');
    });

    it('refuses with 403 a report naming another connector type, or for a ring another connector deploys', async () => {
      const intent = await submitIntent();
      await awaitItem(intent, 'LAB');
      const foreignType = await report(
        intune,
        intent,
        'LAB',
        { success: 1, failure: 0, final: true },
        'jamf',
      );
      expect(foreignType.status).toBe(403);
      const notItsRing = await report(jamf, intent, 'LAB', { success: 1, failure: 0, final: true }, 'jamf');
      expect(notItsRing.status).toBe(403);
      expect((notItsRing.body as Problem).detail).toContain('not deployed through jamf');
      const listed = await awaitItem(intent, 'LAB');
      expect(listed.status).toBe('PENDING');
    });

    it('accepts reports only from connector API keys, not from users, even admins', async () => {
      const intent = await submitIntent();
      await awaitItem(intent, 'LAB');
      const admin = await api.agent('root@example.com', ['admin']);
      await report(admin, intent, 'LAB', { success: 1, failure: 0, final: true }).expect(403);
      await report(operator, intent, 'LAB', { success: 1, failure: 0, final: true }).expect(403);
    });

    it('answers 404 for an unknown correlation id, and for a rollback of a ring that was never rolled back', async () => {
      const unknown = await intune.post('/api/v1/connectors/update-deployment-status').send({
        correlation_id: randomUUID(),
        ring: 'LAB',
        connector_type: 'intune',
        connector_object_id: 'x',
        success_count: 1,
        failure_count: 0,
        final: true,
      });
      expect(unknown.status).toBe(404);

      const intent = await submitIntent();
      await awaitItem(intent, 'LAB');
      await report(intune, intent, 'LAB', { success: 1, failure: 0, final: true, action: 'ROLLBACK' }).expect(
        404,
      );
    });

    it('answers 400 naming every bad field of the report', async () => {
      const res = await intune
        .post('/api/v1/connectors/update-deployment-status')
        .send({
          correlation_id: 'not-a-uuid',
          ring: 'MOON',
          connector_type: 'intune',
          action: 'UNINSTALL',
          connector_object_id: '',
          success_count: -1,
          failure_count: 1.5,
          unexpected: true,
        })
        .expect(400);
      const fields = (res.body as Problem).errors?.map((e) => e.field);
      expect(fields).toEqual(
        expect.arrayContaining([
          'correlation_id',
          'ring',
          'action',
          'connector_object_id',
          'success_count',
          'failure_count',
          'unexpected',
        ]),
      );
      // The seed's report has neither: `final` defaults to true, `connector_object_id` is optional.
      expect(fields).not.toContain('final');
      const tooMany = await intune.post('/api/v1/connectors/update-deployment-status').send({
        correlation_id: randomUUID(),
        ring: 'LAB',
        connector_type: 'intune',
        connector_object_id: 'a'.repeat(257),
        success_count: 10_000_001,
        failure_count: 0,
        final: 'yes',
      });
      expect(tooMany.status).toBe(400);
      expect((tooMany.body as Problem).errors?.map((e) => e.field)).toEqual([
        'connector_object_id',
        'success_count',
        'final',
      ]);
    });

    it('authenticates a keyed request by its key alone: a session cookie beside it is neither read nor renewed', async () => {
      const { apiKey } = await api.connector('intune');
      // The operator's session agent, presenting the connector's key: the key decides who calls.
      const me = await operator.get('/api/v1/auth/me').set('Authorization', `Bearer ${apiKey}`).expect(200);
      expect(me.body).toMatchObject({ kind: 'connector', connector_type: 'intune' });
      expect(me.headers['set-cookie']).toBeUndefined();
      // Without the key the same agent is the operator, and its rolling session is renewed.
      const session = await operator.get('/api/v1/auth/me').expect(200);
      expect(session.body).toMatchObject({ kind: 'user', roles: ['operator'] });
      expect(session.headers['set-cookie']).toBeDefined();
    });

    it('answers 401 without a key, with a malformed one and with a revoked one', async () => {
      await api.anonymous().post('/api/v1/connectors/update-deployment-status').send({}).expect(401);
      await api
        .anonymous()
        .post('/api/v1/connectors/update-deployment-status')
        .set('Authorization', 'Bearer not-a-connector-key')
        .send({})
        .expect(401);

      const admin = await api.agent('root@example.com', ['admin']);
      const issued = await admin
        .post('/api/v1/connector-credentials')
        .send({ connector_type: 'intune', name: 'intune-soon-revoked' })
        .expect(201);
      const { id, api_key: apiKey } = issued.body as { id: string; api_key: string };
      await api
        .anonymous()
        .get('/api/v1/connectors/pending-deployments?connector_type=intune')
        .set('Authorization', `Bearer ${apiKey}`)
        .expect(200);
      await admin.delete(`/api/v1/connector-credentials/${id}`).send({}).expect(204);
      const revoked = await api
        .anonymous()
        .get('/api/v1/connectors/pending-deployments?connector_type=intune')
        .set('Authorization', `Bearer ${apiKey}`)
        .expect(401);
      expect((revoked.body as Problem).detail).toContain('revoked');
    });
  });

  describe('connector credentials', () => {
    let admin: Agent;
    beforeAll(async () => {
      admin = await api.agent('root@example.com', ['admin']);
    });

    it('issues a key once, lists credentials without keys, notes their use and revokes them, all audited', async () => {
      const issued = await admin
        .post('/api/v1/connector-credentials')
        .send({ connector_type: 'jamf', name: 'jamf-prod.eu_1' })
        .expect(201);
      const credential = issued.body as { id: string; api_key: string; name: string; connector_type: string };
      expect(credential).toMatchObject({ name: 'jamf-prod.eu_1', connector_type: 'jamf' });
      expect(credential.api_key).toMatch(/^eucora_ck_[A-Za-z0-9_-]{43}$/);

      await api
        .anonymous()
        .get('/api/v1/connectors/pending-deployments?connector_type=jamf')
        .set('Authorization', `Bearer ${credential.api_key}`)
        .expect(200);

      const list = await admin.get('/api/v1/connector-credentials').expect(200);
      expect(JSON.stringify(list.body)).not.toContain(credential.api_key);
      const listed = (list.body as { items: Record<string, unknown>[] }).items.find(
        (item) => item.id === credential.id,
      );
      expect(listed).toEqual({
        id: credential.id,
        name: 'jamf-prod.eu_1',
        scope: 'connector',
        connector_type: 'jamf',
        // Tells which credential a key is, without showing it.
        key_fingerprint: createHash('sha256').update(credential.api_key).digest('hex').slice(0, 12),
        created_at: expect.any(String) as string,
        created_by: 'root@example.com',
        last_used_at: expect.any(String) as string,
        expires_at: null,
        revoked_at: null,
      });

      await admin.delete(`/api/v1/connector-credentials/${credential.id}`).send({}).expect(204);
      await admin.delete(`/api/v1/connector-credentials/${credential.id}`).send({}).expect(404);
      const after = await admin.get('/api/v1/connector-credentials').expect(200);
      const revoked = (after.body as { items: { id: string; revoked_at: string | null }[] }).items.find(
        (item) => item.id === credential.id,
      );
      expect(revoked?.revoked_at).toEqual(expect.any(String));

      const trail = await api.tenant().events.list({}, { limit: 500 });
      const audited = trail.items.filter((event) => event.payload.credentialId === credential.id);
      expect(audited.map((event) => [event.eventType, event.actor])).toEqual([
        ['CONNECTOR_CREDENTIAL_ISSUED', 'root@example.com'],
        ['CONNECTOR_CREDENTIAL_REVOKED', 'root@example.com'],
      ]);
    });

    it('issues a key with an expiry: it works until then and is answered 401 after; admins see expiry and last use', async () => {
      const expiresAt = new Date(Date.now() + 1500);
      const issued = await admin
        .post('/api/v1/connector-credentials')
        .send({ connector_type: 'intune', name: 'intune-expiring', expires_at: expiresAt.toISOString() })
        .expect(201);
      const credential = issued.body as { id: string; api_key: string; expires_at: string };
      expect(credential.expires_at).toBe(expiresAt.toISOString());
      const bearer = `Bearer ${credential.api_key}`;
      await api
        .anonymous()
        .get('/api/v1/connectors/pending-deployments?connector_type=intune')
        .set('Authorization', bearer)
        .expect(200);
      const list = await admin.get('/api/v1/connector-credentials').expect(200);
      expect(
        (list.body as { items: Record<string, unknown>[] }).items.find((i) => i.id === credential.id),
      ).toMatchObject({
        expires_at: expiresAt.toISOString(),
        last_used_at: expect.any(String) as string,
      });
      await new Promise((resolve) => setTimeout(resolve, expiresAt.getTime() - Date.now() + 50));
      const expired = await api
        .anonymous()
        .get('/api/v1/connectors/pending-deployments?connector_type=intune')
        .set('Authorization', bearer)
        .expect(401);
      expect((expired.body as Problem).detail).toContain('expired');
      const past = await admin
        .post('/api/v1/connector-credentials')
        .send({ connector_type: 'intune', name: 'intune-born-dead', expires_at: '2020-01-01T00:00:00Z' })
        .expect(400);
      expect((past.body as Problem).errors?.map((e) => e.field)).toEqual(['expires_at']);
    });

    it('issues a metrics key that reads the tenant’s metrics and nothing else, until revoked', async () => {
      const issued = await admin
        .post('/api/v1/connector-credentials')
        .send({ scope: 'metrics', name: 'prometheus-eu' })
        .expect(201);
      const credential = issued.body as { id: string; api_key: string };
      expect(issued.body).toMatchObject({ name: 'prometheus-eu', scope: 'metrics', connector_type: null });
      expect(credential.api_key).toMatch(/^eucora_mk_[A-Za-z0-9_-]{43}$/);
      const scraper = api.anonymous();
      const bearer = `Bearer ${credential.api_key}`;

      const scrape = await scraper.get('/api/v1/metrics').set('Authorization', bearer).expect(200);
      expect(scrape.text).toContain(`eucora_cab_queue_depth{tenant="${TENANT_A}"}`);
      const me = await scraper.get('/api/v1/auth/me').set('Authorization', bearer).expect(200);
      expect(me.body).toMatchObject({
        id: 'metrics:prometheus-eu',
        kind: 'service',
        roles: ['metrics_reader'],
      });
      await scraper.get('/api/v1/deployment-intents').set('Authorization', bearer).expect(403);
      await scraper.get('/api/v1/events').set('Authorization', bearer).expect(403);
      await scraper
        .get('/api/v1/connectors/pending-deployments?connector_type=intune')
        .set('Authorization', bearer)
        .expect(403);
      // A connector key does not read metrics, and a key under the other scope's prefix is unknown.
      await intune.get('/api/v1/metrics').expect(403);
      const swapped = credential.api_key.replace('eucora_mk_', 'eucora_ck_');
      await scraper.get('/api/v1/metrics').set('Authorization', `Bearer ${swapped}`).expect(401);

      await admin.delete(`/api/v1/connector-credentials/${credential.id}`).send({}).expect(204);
      await scraper.get('/api/v1/metrics').set('Authorization', bearer).expect(401);
      const trail = await api.tenant().events.list({}, { limit: 500 });
      const audited = trail.items.filter((event) => event.payload.credentialId === credential.id);
      expect(audited.map((event) => [event.eventType, event.payload.scope])).toEqual([
        ['CONNECTOR_CREDENTIAL_ISSUED', 'metrics'],
        ['CONNECTOR_CREDENTIAL_REVOKED', 'metrics'],
      ]);
    });

    it('answers 400 naming connector_type when the scope needs it or forbids it, and naming a bad scope', async () => {
      const fields = async (body: object) => {
        const res = await admin.post('/api/v1/connector-credentials').send(body).expect(400);
        return (res.body as Problem).errors?.map((e) => e.field);
      };
      expect(await fields({ scope: 'metrics', connector_type: 'intune', name: 'both' })).toEqual([
        'connector_type',
      ]);
      expect(await fields({ name: 'neither' })).toEqual(['connector_type']);
      expect(await fields({ scope: 'connector', name: 'neither' })).toEqual(['connector_type']);
      expect(await fields({ scope: 'billing', name: 'other' })).toEqual(['scope']);
    });

    it('refuses a name already taken with 409', async () => {
      await admin
        .post('/api/v1/connector-credentials')
        .send({ connector_type: 'sccm', name: 'sccm-primary' })
        .expect(201);
      const res = await admin
        .post('/api/v1/connector-credentials')
        .send({ connector_type: 'landscape', name: 'sccm-primary' })
        .expect(409);
      expect((res.body as Problem).type).toMatch(/credential-name-taken$/);
    });

    it('answers 400 naming a bad name, connector type or unknown field, and for an id that is no uuid', async () => {
      const res = await admin
        .post('/api/v1/connector-credentials')
        .send({ connector_type: 'teams', name: 'has spaces', key: 'mine' })
        .expect(400);
      expect((res.body as Problem).errors?.map((e) => e.field)).toEqual(
        expect.arrayContaining(['connector_type', 'name', 'key']),
      );
      await admin
        .post('/api/v1/connector-credentials')
        .send({ connector_type: 'intune', name: 'x'.repeat(101) })
        .expect(400);
      await admin.delete('/api/v1/connector-credentials/not-a-uuid').send({}).expect(400);
    });

    it('answers 404 when revoking a credential that does not exist', async () => {
      await admin.delete(`/api/v1/connector-credentials/${randomUUID()}`).send({}).expect(404);
    });

    it('is for admins only: 403 for operators and connectors, 401 for anonymous callers', async () => {
      await operator.get('/api/v1/connector-credentials').expect(403);
      await operator
        .post('/api/v1/connector-credentials')
        .send({ connector_type: 'intune', name: 'sneaky' })
        .expect(403);
      await intune.get('/api/v1/connector-credentials').expect(403);
      await intune.delete(`/api/v1/connector-credentials/${randomUUID()}`).send({}).expect(403);
      await api.anonymous().get('/api/v1/connector-credentials').expect(401);
    });
  });
});
