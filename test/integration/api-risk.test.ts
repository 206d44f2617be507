import { randomUUID } from 'node:crypto';
import { and, count, eq } from 'drizzle-orm';
import type { AnyPgColumn, PgTable } from 'drizzle-orm/pg-core';
import type { Role } from '../../api/request-context';
import { evidenceHash } from '../../api/services/intents';
import {
  deploymentEvents,
  deploymentIntents,
  evidencePacks,
  riskAssessments,
  riskModels,
} from '../../db/schema';
import { RISK_MODEL_V1 } from '../../policy/risk-model';
import type { RiskModelDefinition } from '../../policy/risk-model';
import { scoreRisk } from '../../policy/risk-scoring';
import { ApiHarness } from '../helpers/api';
import type { Agent } from '../helpers/api';
import { TENANT_A, TENANT_B } from '../helpers/harness';
import { highRiskEvidence, lowRiskEvidence } from '../fixtures/evidence';

interface Problem {
  type: string;
  detail?: string;
  errors?: { field: string; message: string }[];
}

interface RiskEvaluation {
  model_version: string;
  score: number;
  threshold: number;
  requires_cab: boolean;
  auto_approval_blockers: string[];
  factors: { factor: string; weight: number; score: number; contribution: number }[];
  evidence_hash?: string;
  missing_evidence: string[];
  as_of: string;
}

interface RiskModelBody {
  version: string;
  description: string;
  threshold: number;
  active: boolean;
  created_at: string;
  created_by: string;
  activated_at: string | null;
  factors: { id: string; name: string; weight: number; rubric?: unknown }[];
}

function fieldsOf(body: unknown): string[] {
  return ((body as Problem).errors ?? []).map((error) => error.field);
}

/** A tenant of its own, so model activations in one test never leak into another. */
function freshTenant(): string {
  return `tenant-${randomUUID().slice(0, 8)}`;
}

/** v1.0 retuned: only signing and privileges count, and CAB above 10. */
function strictModel(version: string, overrides: Partial<RiskModelDefinition> = {}): RiskModelDefinition {
  const byId = new Map(RISK_MODEL_V1.factors.map((factor) => [factor.id, factor]));
  const signing = byId.get('code_signing');
  const privileges = byId.get('privilege_elevation');
  if (signing === undefined || privileges === undefined) throw new Error('v1.0 lacks a factor');
  return {
    version,
    description: `strict model ${version}: signing and privileges only`,
    threshold: 10,
    factors: [
      { ...signing, weight: 0.5 },
      { ...privileges, weight: 0.5 },
    ],
    ...overrides,
  };
}

/** A body just over the 256 kB JSON limit. */
function oversized(base: object): object {
  return { ...base, description: 'x'.repeat(300_000) };
}

const DRY_RUN = {
  target_ring: 'GLOBAL',
  connectors: { windows: 'intune', linux: 'landscape' },
} as const;

describe('risk API', () => {
  let api: ApiHarness;
  let submitter: Agent;
  let admin: Agent;

  beforeAll(async () => {
    api = await ApiHarness.start();
    submitter = await api.agent('packager@example.com', ['submitter']);
    admin = await api.agent('admin@example.com', ['admin']);
  });
  afterAll(async () => {
    await api.close();
  });
  afterEach(() => {
    expect(api.contractViolations()).toEqual([]);
  });

  async function rowsOf(table: PgTable & { tenantId: AnyPgColumn }, tenantId: string) {
    const [row] = await api.db.handle.db
      .select({ n: count() })
      .from(table)
      .where(eq(table.tenantId, tenantId));
    return row?.n ?? 0;
  }

  async function eventsOf(eventType: string, tenantId: string) {
    const page = await api.tenant(tenantId).events.list({ eventType }, { limit: 200 });
    return page.items;
  }

  async function activeVersions(tenantId: string): Promise<string[]> {
    const rows = await api.db.handle.db
      .select({ version: riskModels.version })
      .from(riskModels)
      .where(and(eq(riskModels.tenantId, tenantId), eq(riskModels.active, true)));
    return rows.map((row) => row.version);
  }

  describe('POST /api/v1/risk/evaluate', () => {
    it('scores inline evidence against the active model as an intent would be scored', async () => {
      const pack = lowRiskEvidence();
      const before = Date.now();
      const res = await submitter
        .post('/api/v1/risk/evaluate')
        .send({ ...DRY_RUN, evidence_pack: pack })
        .expect(200);
      const body = res.body as RiskEvaluation;
      const expected = scoreRisk(RISK_MODEL_V1, {
        evidence: pack,
        targetRing: 'GLOBAL',
        targetPlatforms: ['windows', 'linux'],
        asOf: body.as_of,
      });
      expect(body).toEqual({
        model_version: '1.0',
        score: expected.score,
        threshold: 50,
        requires_cab: false,
        auto_approval_blockers: [],
        factors: expected.factors,
        evidence_hash: evidenceHash(pack),
        missing_evidence: [],
        as_of: body.as_of,
      });
      expect(Date.parse(body.as_of)).toBeGreaterThanOrEqual(before);
      expect(Date.parse(body.as_of)).toBeLessThanOrEqual(Date.now());
    });

    it('sends risky evidence to the CAB and lets the target device count raise the blast radius', async () => {
      const risky = await submitter
        .post('/api/v1/risk/evaluate')
        .send({ target_ring: 'CANARY', connectors: { windows: 'sccm' }, evidence_pack: highRiskEvidence() })
        .expect(200);
      expect(risky.body).toMatchObject({ requires_cab: true });
      expect((risky.body as RiskEvaluation).score).toBeGreaterThan(50);

      const blastOf = (body: unknown) =>
        (body as RiskEvaluation).factors.find((factor) => factor.factor === 'blast_radius')?.score;
      const ring = {
        target_ring: 'CANARY',
        connectors: { windows: 'intune' },
        evidence_pack: lowRiskEvidence(),
      };
      const small = await submitter.post('/api/v1/risk/evaluate').send(ring).expect(200);
      const large = await submitter
        .post('/api/v1/risk/evaluate')
        .send({ ...ring, target_device_count: 20_000 })
        .expect(200);
      expect(blastOf(small.body)).toBe(0.2);
      expect(blastOf(large.body)).toBe(1);
    });

    it('scores a stored pack named by evidence_pack_id and reports its content hash', async () => {
      const pack = highRiskEvidence({ artifact_hash: 'd'.repeat(64) });
      const stored = await submitter.post('/api/v1/evidence-packs').send(pack).expect(201);
      const { id, content_hash } = stored.body as { id: string; content_hash: string };
      const byId = await submitter
        .post('/api/v1/risk/evaluate')
        .send({ ...DRY_RUN, evidence_pack_id: id })
        .expect(200);
      const inline = await submitter
        .post('/api/v1/risk/evaluate')
        .send({ ...DRY_RUN, evidence_pack: pack })
        .expect(200);
      expect((byId.body as RiskEvaluation).evidence_hash).toBe(content_hash);
      expect({ ...(byId.body as RiskEvaluation), as_of: null }).toEqual({
        ...(inline.body as RiskEvaluation),
        as_of: null,
      });
    });

    it('scores incomplete evidence as risky and names what an intent would still require', async () => {
      const res = await submitter
        .post('/api/v1/risk/evaluate')
        .send({
          ...DRY_RUN,
          evidence_pack: { privileges: { requires_admin: false, requests_elevation: false } },
        })
        .expect(200);
      expect(res.body).toMatchObject({
        requires_cab: true,
        auto_approval_blockers: ['SCAN_DECISION_MISSING'],
        missing_evidence: [
          'artifact_hash',
          'signature',
          'artifact_storage_url',
          'sbom',
          'scan_results',
          'scan_decision',
          'rollback_plan',
        ],
      });
    });

    it('stores nothing: no evidence pack, no assessment, no event, no intent', async () => {
      const tenant = freshTenant();
      const agent = await api.agent('dry.runner@example.com', ['submitter'], tenant);
      // The tenant's first look at risk installs v1.0; count after that.
      await agent.get('/api/v1/risk-models').expect(200);
      const tables = { evidencePacks, riskAssessments, deploymentEvents, riskModels, deploymentIntents };
      const counts = async () =>
        Object.fromEntries(
          await Promise.all(
            Object.entries(tables).map(async ([name, table]) => [name, await rowsOf(table, tenant)] as const),
          ),
        );
      const before = await counts();

      await agent
        .post('/api/v1/risk/evaluate')
        .send({ ...DRY_RUN, evidence_pack: highRiskEvidence({ artifact_hash: 'e'.repeat(64) }) })
        .expect(200);
      await agent
        .post('/api/v1/risk/evaluate')
        .send({
          ...DRY_RUN,
          evidence_pack: lowRiskEvidence({ artifact_hash: 'f'.repeat(64) }),
          model_version: '1.0',
        })
        .expect(200);

      expect(await counts()).toEqual(before);
      expect(before.evidencePacks).toBe(0);
    });

    it('scores with the named model_version, and answers 404 for a version the tenant does not have', async () => {
      const tenant = freshTenant();
      const tenantAdmin = await api.agent('admin@example.com', ['admin'], tenant);
      await tenantAdmin.post('/api/v1/risk-models').send(strictModel('2.0')).expect(201);
      const named = await tenantAdmin
        .post('/api/v1/risk/evaluate')
        .send({ ...DRY_RUN, evidence_pack: lowRiskEvidence(), model_version: '2.0' })
        .expect(200);
      expect(named.body).toMatchObject({ model_version: '2.0', threshold: 10 });
      const active = await tenantAdmin
        .post('/api/v1/risk/evaluate')
        .send({ ...DRY_RUN, evidence_pack: lowRiskEvidence() })
        .expect(200);
      expect(active.body).toMatchObject({ model_version: '1.0' });

      const res = await tenantAdmin
        .post('/api/v1/risk/evaluate')
        .send({ ...DRY_RUN, evidence_pack: lowRiskEvidence(), model_version: '9.9' })
        .expect(404);
      expect((res.body as Problem).detail).toContain('9.9');
      // Another tenant's models are not this tenant's.
      await submitter
        .post('/api/v1/risk/evaluate')
        .send({ ...DRY_RUN, evidence_pack: lowRiskEvidence(), model_version: '2.0' })
        .expect(404);
    });

    it("answers 422 naming evidence_pack_id for an unknown pack or another tenant's", async () => {
      const theirs = await api.agent('packager@tenant-b.example.com', ['submitter'], TENANT_B);
      const stored = await theirs.post('/api/v1/evidence-packs').send(lowRiskEvidence()).expect(201);
      for (const id of [randomUUID(), (stored.body as { id: string }).id]) {
        const res = await submitter
          .post('/api/v1/risk/evaluate')
          .send({ ...DRY_RUN, evidence_pack_id: id })
          .expect(422);
        expect(res.body).toMatchObject({ type: expect.stringContaining('unknown-evidence-pack') as string });
        expect(fieldsOf(res.body)).toEqual(['evidence_pack_id']);
      }
    });

    it('answers 400 naming each platform a connector cannot reach (the document lists the ones that can)', async () => {
      const res = await submitter
        .post('/api/v1/risk/evaluate')
        .send({
          target_ring: 'LAB',
          connectors: { windows: 'jamf', macos: 'intune', linux: 'sccm' },
          evidence_pack: lowRiskEvidence(),
        })
        .expect(400);
      expect(fieldsOf(res.body)).toEqual(['connectors.windows', 'connectors.linux']);
    });

    it('names each bad field with 400', async () => {
      const both = await submitter
        .post('/api/v1/risk/evaluate')
        .send({ ...DRY_RUN, evidence_pack: lowRiskEvidence(), evidence_pack_id: randomUUID() })
        .expect(400);
      expect(fieldsOf(both.body)).toEqual(['evidence_pack']);
      const neither = await submitter.post('/api/v1/risk/evaluate').send(DRY_RUN).expect(400);
      expect(fieldsOf(neither.body)).toEqual(['evidence_pack']);

      const bad = await submitter
        .post('/api/v1/risk/evaluate')
        .send({
          target_ring: 'EVERYWHERE',
          connectors: { windows: 'chef' },
          evidence_pack_id: 'pack-1',
          target_device_count: 0,
          model_version: 'latest',
          dry: true,
        })
        .expect(400);
      expect(fieldsOf(bad.body)).toEqual(
        expect.arrayContaining([
          'target_ring',
          'connectors.windows',
          'evidence_pack_id',
          'target_device_count',
          'model_version',
          'dry',
        ]),
      );

      const noConnector = await submitter
        .post('/api/v1/risk/evaluate')
        .send({ target_ring: 'LAB', connectors: {}, evidence_pack: lowRiskEvidence() })
        .expect(400);
      expect(fieldsOf(noConnector.body)).toEqual(['connectors']);

      const badPack = await submitter
        .post('/api/v1/risk/evaluate')
        .send({ ...DRY_RUN, evidence_pack: { ...lowRiskEvidence(), signature: { status: 'SIGNED' } } })
        .expect(400);
      expect(fieldsOf(badPack.body)).toEqual(['evidence_pack.signature.status']);
    });

    it('refuses a body over the 256 kB limit with 413', async () => {
      await submitter
        .post('/api/v1/risk/evaluate')
        .send(oversized({ ...DRY_RUN, evidence_pack: lowRiskEvidence() }))
        .expect(413);
    });

    it('lets submitters, CAB members and admins dry-run; 403 for others, 401 anonymous', async () => {
      const body = { ...DRY_RUN, evidence_pack: lowRiskEvidence() };
      await api.anonymous().post('/api/v1/risk/evaluate').send(body).expect(401);
      const cab = await api.agent('cab.chair@example.com', ['cab_member']);
      await cab.post('/api/v1/risk/evaluate').send(body).expect(200);
      await admin.post('/api/v1/risk/evaluate').send(body).expect(200);
      for (const role of ['operator', 'auditor'] as const) {
        const agent = await api.agent(`${role}@example.com`, [role]);
        await agent.post('/api/v1/risk/evaluate').send(body).expect(403);
      }
      const { agent: connector } = await api.connector('intune');
      await connector.post('/api/v1/risk/evaluate').send(body).expect(403);
    });
  });

  describe('GET /api/v1/risk-models', () => {
    it('shows a new tenant its v1.0, installed and active on first use', async () => {
      const tenant = freshTenant();
      const reader = await api.agent('auditor@example.com', ['auditor'], tenant);
      const res = await reader.get('/api/v1/risk-models').expect(200);
      const items = (res.body as { items: RiskModelBody[] }).items;
      expect(items).toEqual([
        {
          version: '1.0',
          description: RISK_MODEL_V1.description,
          threshold: 50,
          active: true,
          created_at: expect.any(String) as string,
          created_by: 'system:bootstrap',
          activated_at: expect.any(String) as string,
          factors: RISK_MODEL_V1.factors.map(({ id, name, weight }) => ({ id, name, weight })),
        },
      ]);
      // Reading again installs nothing more.
      await reader.get('/api/v1/risk-models').expect(200);
      expect(await rowsOf(riskModels, tenant)).toBe(1);
    });

    it('lets every reading role list, refuses connectors with 403 and anonymous callers with 401', async () => {
      for (const role of ['submitter', 'cab_member', 'operator', 'auditor', 'admin'] satisfies Role[]) {
        const agent = await api.agent(`list.${role}@example.com`, [role]);
        await agent.get('/api/v1/risk-models').expect(200);
      }
      const { agent: connector } = await api.connector('ansible');
      await connector.get('/api/v1/risk-models').expect(403);
      await api.anonymous().get('/api/v1/risk-models').expect(401);
    });
  });

  describe('GET /api/v1/risk-models/{version}', () => {
    it('shows the full definition, rubrics included', async () => {
      const res = await submitter.get('/api/v1/risk-models/1.0').expect(200);
      const body = res.body as RiskModelBody;
      expect(body).toMatchObject({ version: '1.0', active: true, threshold: 50 });
      expect(body.factors).toEqual(RISK_MODEL_V1.factors);
    });

    it('installs v1.0 for a tenant whose first request reads it', async () => {
      const reader = await api.agent('operator@example.com', ['operator'], freshTenant());
      await reader.get('/api/v1/risk-models/1.0').expect(200);
    });

    it('answers 404 for an unknown or other-tenant version and 400 naming `version` for a malformed one', async () => {
      await submitter.get('/api/v1/risk-models/7.7').expect(404);
      const tenantBAdmin = await api.agent('admin@tenant-b.example.com', ['admin'], TENANT_B);
      await tenantBAdmin.post('/api/v1/risk-models').send(strictModel('5.0')).expect(201);
      await tenantBAdmin.get('/api/v1/risk-models/5.0').expect(200);
      await submitter.get('/api/v1/risk-models/5.0').expect(404);
      const res = await submitter.get('/api/v1/risk-models/latest').expect(400);
      expect(fieldsOf(res.body)).toEqual(['version']);
    });

    it('refuses connectors with 403 and anonymous callers with 401', async () => {
      const { agent: connector } = await api.connector('jamf');
      await connector.get('/api/v1/risk-models/1.0').expect(403);
      await api.anonymous().get('/api/v1/risk-models/1.0').expect(401);
    });
  });

  describe('POST /api/v1/risk-models', () => {
    it('creates an inactive version, audited as RISK_MODEL_CREATED', async () => {
      const tenant = freshTenant();
      const tenantAdmin = await api.agent('admin@example.com', ['admin'], tenant);
      const requestId = randomUUID();
      const definition = strictModel('1.1');
      const res = await tenantAdmin
        .post('/api/v1/risk-models')
        .set('X-Correlation-ID', requestId)
        .send(definition)
        .expect(201);
      expect(res.headers.location).toBe('/api/v1/risk-models/1.1');
      expect(res.body).toEqual({
        version: '1.1',
        description: definition.description,
        threshold: 10,
        active: false,
        created_at: expect.any(String) as string,
        created_by: 'admin@example.com',
        activated_at: null,
        factors: definition.factors,
      });
      expect(await activeVersions(tenant)).toEqual(['1.0']);
      const events = await eventsOf('RISK_MODEL_CREATED', tenant);
      expect(events).toEqual([
        expect.objectContaining({
          requestId,
          actor: 'admin@example.com',
          intentId: null,
          payload: {
            version: '1.1',
            threshold: 10,
            weights: { code_signing: 0.5, privilege_elevation: 0.5 },
          },
        }),
      ]);
      const read = await tenantAdmin.get('/api/v1/risk-models/1.1').expect(200);
      expect(read.body).toEqual(res.body);
    });

    it('fills in the default threshold of 50', async () => {
      const { threshold, ...withoutThreshold } = strictModel('1.2');
      expect(threshold).toBe(10);
      const res = await admin.post('/api/v1/risk-models').send(withoutThreshold).expect(201);
      expect(res.body).toMatchObject({ version: '1.2', threshold: 50 });
    });

    it('answers 409 for a version that exists, v1.0 included: versions are immutable', async () => {
      const tenant = freshTenant();
      const tenantAdmin = await api.agent('admin@example.com', ['admin'], tenant);
      await tenantAdmin.post('/api/v1/risk-models').send(strictModel('3.0')).expect(201);
      const again = await tenantAdmin
        .post('/api/v1/risk-models')
        .send(strictModel('3.0', { threshold: 90 }))
        .expect(409);
      expect(again.body).toMatchObject({
        type: expect.stringContaining('risk-model-version-exists') as string,
      });
      await tenantAdmin.post('/api/v1/risk-models').send(strictModel('1.0')).expect(409);

      const stored = await tenantAdmin.get('/api/v1/risk-models/3.0').expect(200);
      expect(stored.body).toMatchObject({ threshold: 10 });
      const v1 = await tenantAdmin.get('/api/v1/risk-models/1.0').expect(200);
      expect((v1.body as RiskModelBody).factors).toEqual(RISK_MODEL_V1.factors);
      expect(await eventsOf('RISK_MODEL_CREATED', tenant)).toHaveLength(1);
    });

    it('answers 400 naming `factors` when the weights do not sum to 1', async () => {
      const definition = strictModel('4.0');
      const res = await admin
        .post('/api/v1/risk-models')
        .send({ ...definition, factors: definition.factors.map((factor) => ({ ...factor, weight: 0.4 })) })
        .expect(400);
      expect(fieldsOf(res.body)).toEqual(['factors']);
      expect((res.body as Problem).detail).toContain('sum to 0.8');
      await admin.get('/api/v1/risk-models/4.0').expect(404);
    });

    it('names each bad field of a definition with 400', async () => {
      const definition = strictModel('latest');
      const signing = definition.factors[0];
      const res = await admin
        .post('/api/v1/risk-models')
        .send({
          ...definition,
          threshold: 101,
          owner: 'me',
          factors: [
            { ...signing, rubric: { ...(signing?.rubric as object), unsigned: 2 } },
            { ...signing, id: 'astrology', weight: 0.5 },
          ],
        })
        .expect(400);
      expect(fieldsOf(res.body)).toEqual(
        expect.arrayContaining([
          'version',
          'threshold',
          'owner',
          'factors.0.rubric.unsigned',
          'factors.1.id',
        ]),
      );
    });

    it('refuses a body over the 256 kB limit with 413', async () => {
      await admin
        .post('/api/v1/risk-models')
        .send(oversized(strictModel('8.0')))
        .expect(413);
    });

    it('is for admins only: 403 for every other role, 401 anonymous', async () => {
      for (const role of ['submitter', 'cab_member', 'operator', 'auditor'] satisfies Role[]) {
        const agent = await api.agent(`create.${role}@example.com`, [role]);
        await agent.post('/api/v1/risk-models').send(strictModel('6.0')).expect(403);
      }
      await api.anonymous().post('/api/v1/risk-models').send(strictModel('6.0')).expect(401);
      await admin.get('/api/v1/risk-models/6.0').expect(404);
    });
  });

  describe('POST /api/v1/risk-models/{version}/activate', () => {
    it('switches the one active model, audits the previous version, and dry runs use the new one', async () => {
      const tenant = freshTenant();
      const tenantAdmin = await api.agent('admin@example.com', ['admin'], tenant);
      const tenantSubmitter = await api.agent('packager@example.com', ['submitter'], tenant);
      const dryRun = { ...DRY_RUN, evidence_pack: lowRiskEvidence({ signature: { status: 'UNTRUSTED' } }) };
      const before = (await tenantSubmitter.post('/api/v1/risk/evaluate').send(dryRun).expect(200))
        .body as RiskEvaluation;
      expect(before).toMatchObject({ model_version: '1.0', requires_cab: false });

      await tenantAdmin.post('/api/v1/risk-models').send(strictModel('2.0')).expect(201);
      const requestId = randomUUID();
      const res = await tenantAdmin
        .post('/api/v1/risk-models/2.0/activate')
        .send({})
        .set('X-Correlation-ID', requestId)
        .expect(200);
      expect(res.body).toMatchObject({
        version: '2.0',
        active: true,
        activated_at: expect.any(String) as string,
      });

      expect(await activeVersions(tenant)).toEqual(['2.0']);
      const list = await tenantSubmitter.get('/api/v1/risk-models').expect(200);
      const items = (list.body as { items: RiskModelBody[] }).items;
      expect(items.filter((item) => item.active).map((item) => item.version)).toEqual(['2.0']);
      expect(items.map((item) => item.version).sort()).toEqual(['1.0', '2.0']);

      const events = await eventsOf('RISK_MODEL_ACTIVATED', tenant);
      expect(events).toEqual([
        expect.objectContaining({
          requestId,
          actor: 'admin@example.com',
          payload: { version: '2.0', previousVersion: '1.0' },
        }),
      ]);

      const after = (await tenantSubmitter.post('/api/v1/risk/evaluate').send(dryRun).expect(200))
        .body as RiskEvaluation;
      // Untrusted signing alone: 0.5 × 0.7 × 100 = 35, over the new threshold of 10.
      expect(after).toMatchObject({ model_version: '2.0', threshold: 10, score: 35, requires_cab: true });
      expect(after.factors.map((factor) => factor.factor)).toEqual(['code_signing', 'privilege_elevation']);

      // And back: the older version becomes the only active one again.
      await tenantAdmin.post('/api/v1/risk-models/1.0/activate').send({}).expect(200);
      expect(await activeVersions(tenant)).toEqual(['1.0']);
      const reverted = await tenantSubmitter.post('/api/v1/risk/evaluate').send(dryRun).expect(200);
      expect(reverted.body).toMatchObject({ model_version: '1.0', score: before.score });
      expect((await eventsOf('RISK_MODEL_ACTIVATED', tenant)).map((event) => event.payload)).toEqual([
        { version: '2.0', previousVersion: '1.0' },
        { version: '1.0', previousVersion: '2.0' },
      ]);
    });

    it('is idempotent: activating the active version answers 200 and changes nothing', async () => {
      const tenant = freshTenant();
      const tenantAdmin = await api.agent('admin@example.com', ['admin'], tenant);
      const first = await tenantAdmin.post('/api/v1/risk-models/1.0/activate').send({}).expect(200);
      const second = await tenantAdmin.post('/api/v1/risk-models/1.0/activate').send({}).expect(200);
      expect(second.body).toEqual(first.body);
      expect(first.body).toMatchObject({ version: '1.0', active: true });
      expect(await activeVersions(tenant)).toEqual(['1.0']);
      expect(await eventsOf('RISK_MODEL_ACTIVATED', tenant)).toEqual([]);
    });

    it('keeps exactly one active model when two versions are activated at once', async () => {
      const tenant = freshTenant();
      const tenantAdmin = await api.agent('admin@example.com', ['admin'], tenant);
      await tenantAdmin.post('/api/v1/risk-models').send(strictModel('2.0')).expect(201);
      await tenantAdmin.post('/api/v1/risk-models').send(strictModel('3.0')).expect(201);
      const results = await Promise.all([
        tenantAdmin.post('/api/v1/risk-models/2.0/activate').send({}),
        tenantAdmin.post('/api/v1/risk-models/3.0/activate').send({}),
      ]);
      expect(results.map((result) => result.status)).toEqual([200, 200]);
      const active = await activeVersions(tenant);
      expect(active).toHaveLength(1);
      const events = await eventsOf('RISK_MODEL_ACTIVATED', tenant);
      expect(events).toHaveLength(2);
      // The activations took turns: the last one recorded replaced the first.
      expect(events[1]?.payload).toEqual({ version: active[0], previousVersion: events[0]?.payload.version });
    });

    it('answers 404 for an unknown version and leaves the active model alone', async () => {
      const tenant = freshTenant();
      const tenantAdmin = await api.agent('admin@example.com', ['admin'], tenant);
      await tenantAdmin.post('/api/v1/risk-models/9.9/activate').send({}).expect(404);
      expect(await activeVersions(tenant)).toEqual(['1.0']);
      expect(await eventsOf('RISK_MODEL_ACTIVATED', tenant)).toEqual([]);
    });

    it("answers 404 for another tenant's version", async () => {
      const tenantBAdmin = await api.agent('admin@tenant-b.example.com', ['admin'], TENANT_B);
      await tenantBAdmin.post('/api/v1/risk-models').send(strictModel('5.5')).expect(201);
      await admin.post('/api/v1/risk-models/5.5/activate').send({}).expect(404);
      expect(await activeVersions(TENANT_A)).toEqual(['1.0']);
      expect(await activeVersions(TENANT_B)).toEqual(['1.0']);
    });

    it('answers 400 naming `version` for a malformed version', async () => {
      const res = await admin.post('/api/v1/risk-models/v2/activate').send({}).expect(400);
      expect(fieldsOf(res.body)).toEqual(['version']);
    });

    it('is for admins only: 403 for every other role, 401 anonymous', async () => {
      for (const role of ['submitter', 'cab_member', 'operator', 'auditor'] satisfies Role[]) {
        const agent = await api.agent(`activate.${role}@example.com`, [role]);
        await agent.post('/api/v1/risk-models/1.0/activate').send({}).expect(403);
      }
      const { agent: connector } = await api.connector('intune');
      await connector.post('/api/v1/risk-models/1.0/activate').send({}).expect(403);
      await api.anonymous().post('/api/v1/risk-models/1.0/activate').send({}).expect(401);
    });
  });
});
