import { randomUUID } from 'node:crypto';
import { ApiHarness } from '../helpers/api';
import type { Agent } from '../helpers/api';
import { eventually } from '../helpers/harness';
import { highRiskEvidence, lowRiskEvidence } from '../fixtures/evidence';
import { ConnectorReportService } from '../../api/services/connector-reports';
import { cabDecisionUpdate, intentStateQuery } from '../../workflows/definitions';

interface Problem {
  status: number;
  type: string;
  errors?: { field: string }[];
}

interface Created {
  id: string;
  workflow_id: string;
  correlation_id: string;
}
interface Page {
  items: { id: string; current_ring: string | null }[];
  next_cursor: string | null;
}
interface Detail {
  cab: unknown;
  recent_events: { event_type: string }[];
}

// supertest types bodies as any; the contract check validates their shape, these name it.
const asCreated = (res: { body: unknown }) => res.body as Created;
const asPage = (res: { body: unknown }) => res.body as Page;
const asDetail = (res: { body: unknown }) => res.body as Detail;

function body(overrides: Record<string, unknown> = {}) {
  return {
    app_name: '7-Zip',
    version: '24.08',
    target_ring: 'LAB',
    connectors: { windows: 'intune' },
    evidence_pack: lowRiskEvidence(),
    ...overrides,
  };
}

describe('deployment intents API', () => {
  let api: ApiHarness;
  let submitter: Agent;
  let operator: Agent;
  let auditor: Agent;

  beforeAll(async () => {
    api = await ApiHarness.start();
    submitter = await api.agent('packager@example.com', ['submitter']);
    operator = await api.agent('ops@example.com', ['operator']);
    auditor = await api.agent('audit@example.com', ['auditor']);
  });
  afterAll(async () => {
    await api.close();
  });
  afterEach(() => {
    expect(api.contractViolations()).toEqual([]);
  });

  /** Plays the connector for LAB: reports the pending deployment (or rollback) as done. */
  async function finishLab(
    intent: { id: string; correlation_id: string },
    kind: 'DEPLOY' | 'ROLLBACK' = 'DEPLOY',
  ) {
    await eventually(async () => {
      const rows = await api.tenant().ringDeployments.forIntent(intent.id);
      return rows.find((row) => row.ring === 'LAB' && row.kind === kind && row.status === 'PENDING');
    }, `LAB ${kind} pending`);
    await new ConnectorReportService(api.temporal.client).report(
      api.tenant(),
      {
        correlationId: intent.correlation_id,
        ring: 'LAB',
        connectorType: 'intune',
        kind,
        connectorObjectId: 'app-1',
        successCount: 3,
        failureCount: 0,
        final: true,
      },
      'connector:test',
    );
  }

  describe('POST /deployment-intents', () => {
    it('accepts a low-risk intent with its risk and starts its workflow', async () => {
      const res = await submitter.post('/api/v1/deployment-intents').send(body()).expect(201);
      expect(res.body).toMatchObject({
        status: 'APPROVED',
        risk: { requires_cab: false, model_version: '1.0' },
      });
      expect(res.headers.location).toBe(`/api/v1/deployment-intents/${asCreated(res).id}`);
      const description = await api.temporal.client.workflow.getHandle(asCreated(res).workflow_id).describe();
      expect(description.status.name).toBe('RUNNING');
    });

    it('reports AWAITING_CAB for a high-risk intent', async () => {
      const res = await submitter
        .post('/api/v1/deployment-intents')
        .send(body({ evidence_pack: highRiskEvidence(), target_ring: 'GLOBAL' }))
        .expect(201);
      expect(res.body).toMatchObject({ status: 'AWAITING_CAB', risk: { requires_cab: true } });
    });

    it('accepts a stored evidence pack by id', async () => {
      const pack = await submitter
        .post('/api/v1/evidence-packs')
        .send(lowRiskEvidence({ artifact_hash: 'c'.repeat(64) }))
        .expect(201);
      await submitter
        .post('/api/v1/deployment-intents')
        .send(body({ evidence_pack: undefined, evidence_pack_id: asCreated(pack).id }))
        .expect(201);
    });

    it('returns the same intent for a retried Idempotency-Key and starts no second workflow', async () => {
      const key = `retry-${randomUUID()}`;
      const first = await submitter
        .post('/api/v1/deployment-intents')
        .set('Idempotency-Key', key)
        .send(body())
        .expect(201);
      const second = await submitter
        .post('/api/v1/deployment-intents')
        .set('Idempotency-Key', key)
        .send(body())
        .expect(201);
      expect(second.headers['idempotent-replayed']).toBe('true');
      expect(asCreated(second).id).toBe(asCreated(first).id);
      const page = await api.tenant().intents.list({}, { limit: 200 });
      expect(page.items.filter((row) => row.idempotencyKey === key)).toHaveLength(1);
      const conflict = await submitter
        .post('/api/v1/deployment-intents')
        .set('Idempotency-Key', key)
        .send(body({ version: '25.00' }))
        .expect(409);
      expect((conflict.body as Problem).type).toContain('idempotency-key-reused');
    });

    it('answers 422 naming every missing part of an incomplete evidence pack, and writes nothing', async () => {
      const before = (await api.tenant().intents.list({}, { limit: 200 })).items.length;
      const pack = lowRiskEvidence();
      delete pack.sbom;
      delete pack.rollback_plan;
      delete pack.signature;
      const res = await submitter
        .post('/api/v1/deployment-intents')
        .send(body({ evidence_pack: pack }))
        .expect(422);
      expect((res.body as Problem).errors?.map((e) => e.field)).toEqual([
        'evidence_pack.signature',
        'evidence_pack.sbom',
        'evidence_pack.rollback_plan',
      ]);
      expect((await api.tenant().intents.list({}, { limit: 200 })).items).toHaveLength(before);
    });

    it('answers 400 for a connector that cannot reach its platform (the document lists the ones that can), 422 for an unknown evidence pack id', async () => {
      const unsupported = await submitter
        .post('/api/v1/deployment-intents')
        .send(body({ connectors: { linux: 'jamf' } }))
        .expect(400);
      expect((unsupported.body as Problem).errors?.map((e) => e.field)).toEqual(['connectors.linux']);
      const unknown = await submitter
        .post('/api/v1/deployment-intents')
        .send(body({ evidence_pack: undefined, evidence_pack_id: randomUUID() }))
        .expect(422);
      expect((unknown.body as Problem).errors?.map((e) => e.field)).toEqual(['evidence_pack_id']);
    });

    it('answers 400 naming each bad field, unknown fields included', async () => {
      const res = await submitter
        .post('/api/v1/deployment-intents')
        .send(body({ app_name: '', target_ring: 'MOON', connectors: {}, colour: 'red' }))
        .expect(400);
      const fields = (res.body as Problem).errors?.map((e) => e.field) ?? [];
      expect(fields).toEqual(expect.arrayContaining(['app_name', 'target_ring', 'connectors', 'colour']));
      const both = await submitter
        .post('/api/v1/deployment-intents')
        .send(body({ evidence_pack_id: randomUUID() }))
        .expect(400);
      expect((both.body as Problem).errors?.map((e) => e.field)).toEqual(['evidence_pack']);
      await submitter
        .post('/api/v1/deployment-intents')
        .set('Idempotency-Key', 'bad key!')
        .send(body())
        .expect(400);
    });

    it('answers 401 to anonymous callers and 403 to roles that may not submit', async () => {
      await api.anonymous().post('/api/v1/deployment-intents').send(body()).expect(401);
      await auditor.post('/api/v1/deployment-intents').send(body()).expect(403);
    });

    it('answers 413 for an oversized body', async () => {
      const huge = body({ app_name: 'x'.repeat(300_000) });
      await submitter.post('/api/v1/deployment-intents').send(huge).expect(413);
    });
  });

  describe('GET /deployment-intents', () => {
    it('filters by status, ring, app name and submitter, and pages with next_cursor', async () => {
      const app = `Filter-${randomUUID().slice(0, 8)}`;
      for (let i = 0; i < 3; i += 1) {
        await submitter
          .post('/api/v1/deployment-intents')
          .send(body({ app_name: app }))
          .expect(201);
      }
      const first = await auditor.get(`/api/v1/deployment-intents?app_name=${app}&limit=2`).expect(200);
      expect(asPage(first).items).toHaveLength(2);
      expect(asPage(first).next_cursor).toEqual(expect.any(String));
      const second = await auditor
        .get(`/api/v1/deployment-intents?app_name=${app}&limit=2&cursor=${String(asPage(first).next_cursor)}`)
        .expect(200);
      expect(asPage(second).items).toHaveLength(1);
      expect(asPage(second).next_cursor).toBeNull();
      const ids = [...asPage(first).items, ...asPage(second).items].map((item) => item.id);
      expect(new Set(ids).size).toBe(3);

      const bySubmitter = await auditor
        .get(`/api/v1/deployment-intents?submitter=packager@example.com&app_name=${app}`)
        .expect(200);
      expect(asPage(bySubmitter).items).toHaveLength(3);
      const byStatus = await auditor
        .get(`/api/v1/deployment-intents?status=COMPLETED&app_name=${app}`)
        .expect(200);
      expect(asPage(byStatus).items).toHaveLength(0);
      const byRing = await auditor.get(`/api/v1/deployment-intents?ring=LAB&app_name=${app}`).expect(200);
      expect(asPage(byRing).items.every((item) => item.current_ring === 'LAB')).toBe(true);
    });

    it('answers 400 for a bad filter or cursor', async () => {
      await auditor.get('/api/v1/deployment-intents?status=DONE').expect(400);
      await auditor.get('/api/v1/deployment-intents?limit=0').expect(400);
      await auditor.get('/api/v1/deployment-intents?cursor=bm90LWEtY3Vyc29y').expect(400);
      await auditor.get('/api/v1/deployment-intents?shoe_size=9').expect(400);
    });
  });

  describe('GET /deployment-intents/{id}', () => {
    it('shows risk breakdown, per-ring progress with the gate verdict, and recent events', async () => {
      const created = await submitter.post('/api/v1/deployment-intents').send(body()).expect(201);
      await finishLab(created.body as { id: string; correlation_id: string });
      await api.temporal.client.workflow.getHandle(asCreated(created).workflow_id).result();
      const res = await auditor.get(`/api/v1/deployment-intents/${asCreated(created).id}`).expect(200);
      expect(res.body).toMatchObject({
        status: 'COMPLETED',
        current_ring: 'LAB',
        cab: null,
        risk: { factors: expect.any(Array) as unknown },
        rings: [
          { ring: 'LAB', action: 'DEPLOY', status: 'REPORTED', outcome: 'SUCCEEDED', gate: { passed: true } },
        ],
      });
      const types = asDetail(res).recent_events.map((e) => e.event_type);
      expect(types[0]).toBe('INTENT_CREATED');
      expect(types.at(-1)).toBe('COMPLETED');
    });

    it('shows the CAB state of an intent that needs one', async () => {
      const created = await submitter
        .post('/api/v1/deployment-intents')
        .send(body({ evidence_pack: highRiskEvidence(), target_ring: 'GLOBAL' }))
        .expect(201);
      const res = await auditor.get(`/api/v1/deployment-intents/${asCreated(created).id}`).expect(200);
      expect(asDetail(res).cab).toMatchObject({ state: 'PENDING', approver_id: null });
    });

    it("answers 404 for unknown ids and for another tenant's intent, 400 for a malformed id", async () => {
      const created = await submitter.post('/api/v1/deployment-intents').send(body()).expect(201);
      await auditor.get(`/api/v1/deployment-intents/${randomUUID()}`).expect(404);
      const stranger = await api.agent('audit@other.example', ['auditor'], 'tenant-b');
      await stranger.get(`/api/v1/deployment-intents/${asCreated(created).id}`).expect(404);
      await auditor.get('/api/v1/deployment-intents/not-a-uuid').expect(400);
    });
  });

  describe('pause, resume, abort and promote', () => {
    it('pauses, refuses a second pause, resumes and aborts a running intent', async () => {
      const created = await submitter
        .post('/api/v1/deployment-intents')
        .send(body({ target_ring: 'CANARY' }))
        .expect(201);
      const path = `/api/v1/deployment-intents/${asCreated(created).id}`;
      const paused = await operator.post(`${path}/pause`).send({ reason: 'change freeze' }).expect(202);
      expect(paused.body).toMatchObject({ action: 'pause' });
      await operator.post(`${path}/pause`).send({}).expect(409);
      await operator.post(`${path}/resume`).send({}).expect(202);
      await operator.post(`${path}/resume`).send({}).expect(409);
      await operator.post(`${path}/promote`).send({}).expect(409);
      await operator.post(`${path}/abort`).send({ reason: 'wrong package' }).expect(202);
      await operator.post(`${path}/abort`).send({}).expect(409);
      // Aborted while LAB was pending: LAB is rolled back through the connector.
      await finishLab(created.body as { id: string; correlation_id: string }, 'ROLLBACK');
      const result: unknown = await api.temporal.client.workflow
        .getHandle(asCreated(created).workflow_id)
        .result();
      expect(result).toMatchObject({ status: 'ROLLED_BACK', rolledBackRings: ['LAB'] });
      await operator.post(`${path}/resume`).send({}).expect(409);
      const trail = await api.tenant().events.list({ intentId: asCreated(created).id }, { limit: 100 });
      const abort = trail.items.find((event) => event.eventType === 'ABORT_REQUESTED');
      expect(abort).toMatchObject({ actor: 'ops@example.com', payload: { reason: 'wrong package' } });
    });

    it('promotes the ring that waits for a manual promotion', async () => {
      const created = await submitter
        .post('/api/v1/deployment-intents')
        .send(body({ evidence_pack: highRiskEvidence(), target_ring: 'GLOBAL' }))
        .expect(201);
      const handle = api.temporal.client.workflow.getHandle(asCreated(created).workflow_id);
      const cab = await api.agent('cab@example.com', ['cab_member']);
      await handle.executeUpdate(cabDecisionUpdate, {
        args: [
          { decision: 'CONDITIONAL', approverId: 'cab@example.com', conditions: { manualPromotion: true } },
        ],
      });
      await eventually(async () => {
        const state = await handle.query(intentStateQuery);
        return state.awaitingPromotion === 'LAB' ? state : undefined;
      }, 'LAB waiting for promotion');
      const path = `/api/v1/deployment-intents/${asCreated(created).id}`;
      await cab.post(`${path}/promote`).send({ ring: 'CANARY' }).expect(409);
      await cab.post(`${path}/promote`).send({ ring: 'LAB' }).expect(202);
      await finishLab(created.body as { id: string; correlation_id: string });
      await eventually(async () => {
        const state = await handle.query(intentStateQuery);
        return state.awaitingPromotion === 'CANARY' ? state : undefined;
      }, 'CANARY waiting for promotion');
      await operator.post(`${path}/abort`).send({}).expect(202);
      await finishLab(created.body as { id: string; correlation_id: string }, 'ROLLBACK');
      expect(await handle.result()).toMatchObject({ status: 'ROLLED_BACK' });
    });

    it('answers 403 to submitters, 404 for unknown intents and 400 for unknown fields', async () => {
      const id = randomUUID();
      await submitter.post(`/api/v1/deployment-intents/${id}/pause`).send({}).expect(403);
      await operator.post(`/api/v1/deployment-intents/${id}/pause`).send({}).expect(404);
      await operator.post(`/api/v1/deployment-intents/${id}/abort`).send({ force: true }).expect(400);
    });
  });
});
