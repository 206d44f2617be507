import { encodeCursor } from '../../db/pagination';
import { RISK_MODEL_V1 } from '../../policy/risk-model';
import { lowRiskEvidence } from '../fixtures/evidence';
import { ApiHarness } from '../helpers/api';
import type { Agent } from '../helpers/api';

/**
 * Issue 7, findings 3 and 4: input PostgreSQL cannot store, and malformed requests, are a 400 naming the
 * field — never a 500, never a write that fails later, never a session from a refused sign-in.
 */

const NUL = 'a\u0000b';

interface Problem {
  status: number;
  errors?: { field: string; in?: string }[];
}

function fieldsOf(body: unknown): string[] {
  return ((body as Problem).errors ?? []).map((error) => error.field);
}

describe('input the database cannot store, and malformed requests', () => {
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

  it('refuses NUL in an evidence pack with 400 naming the field', async () => {
    const pack = lowRiskEvidence();
    const response = await submitter.post('/api/v1/evidence-packs').send({
      ...pack,
      rollback_plan: { steps: [{ ...pack.rollback_plan?.steps[0], instructions: NUL }] },
    });
    expect(response.status).toBe(400);
    expect(fieldsOf(response.body)).toContain('rollback_plan.steps.0.instructions');
  });

  it('refuses NUL in an inline evidence pack of a submission', async () => {
    const pack = lowRiskEvidence();
    const response = await submitter.post('/api/v1/deployment-intents').send({
      app_name: '7-Zip',
      version: '24.08',
      target_ring: 'LAB',
      connectors: { windows: 'intune' },
      evidence_pack: { ...pack, signature: { status: 'TRUSTED_PUBLISHER', publisher: NUL } },
    });
    expect(response.status).toBe(400);
    expect(fieldsOf(response.body)).toContain('evidence_pack.signature.publisher');
  });

  it('refuses NUL in a list filter', async () => {
    const response = await submitter.get('/api/v1/deployment-intents').query({ submitter: NUL });
    expect(response.status).toBe(400);
    expect(fieldsOf(response.body)).toContain('submitter');
  });

  it('refuses NUL in a risk model', async () => {
    const response = await admin
      .post('/api/v1/risk-models')
      .send({ ...RISK_MODEL_V1, version: '9.9', description: NUL });
    expect(response.status).toBe(400);
    expect(fieldsOf(response.body)).toContain('description');
  });

  it('refuses NUL in a dev-login display name, and gives no session', async () => {
    const agent = api.anonymous();
    const login = await agent
      .post('/api/v1/auth/dev-login')
      .send({ username: 'nul@example.com', display_name: NUL, roles: ['auditor'] });
    expect(login.status).toBe(400);
    expect(fieldsOf(login.body)).toContain('display_name');
    expect((await agent.get('/api/v1/auth/me')).status).toBe(401);
  });

  it('refuses NUL in a CAB comment and in a control reason before anything reaches the workflow', async () => {
    const intent = await api.seedIntent({ status: 'AWAITING_CAB', submitterId: 'someone.else@example.com' });
    const cab = await api.agent('cab.member@example.com', ['cab_member']);
    const decision = await cab
      .post(`/api/v1/cab/${intent.id}/decision`)
      .send({ decision: 'APPROVED', comments: NUL });
    expect(decision.status).toBe(400);
    expect(fieldsOf(decision.body)).toContain('comments');
    const operator = await api.agent('operator@example.com', ['operator']);
    const pause = await operator.post(`/api/v1/deployment-intents/${intent.id}/pause`).send({ reason: NUL });
    expect(pause.status).toBe(400);
    expect(fieldsOf(pause.body)).toContain('reason');
  });

  it('refuses NUL in an object key the schema does not know', async () => {
    const response = await submitter.post('/api/v1/evidence-packs').send({ [NUL]: 1 });
    expect(response.status).toBe(400);
  });

  it('answers a path with bad percent-encoding 400, also anonymously', async () => {
    expect((await api.anonymous().get('/api/v1/deployment-intents/%E0%A4%A')).status).toBe(400);
    expect((await submitter.get('/api/v1/deployment-intents/%E0%A4%A')).status).toBe(400);
  });

  it.each([
    [
      'a cursor of a date no clock reaches',
      encodeCursor([8.64e15 + 1, '00000000-0000-4000-8000-000000000000']),
    ],
    ['a cursor whose id is not a UUID', encodeCursor([Date.now(), 'not-a-uuid'])],
    ['a cursor of a fractional time', encodeCursor([1.5, '00000000-0000-4000-8000-000000000000'])],
  ])('answers the intents list 400 for %s', async (_name, cursor) => {
    const response = await submitter.get('/api/v1/deployment-intents').query({ cursor });
    expect(response.status).toBe(400);
    expect(fieldsOf(response.body)).toContain('cursor');
  });

  it('answers a forged cursor on the CAB queue and the events list 400', async () => {
    const cab = await api.agent('cab.reader@example.com', ['cab_member']);
    const cabCursor = encodeCursor([Date.now(), 'not-a-uuid']);
    expect((await cab.get('/api/v1/cab/pending').query({ cursor: cabCursor })).status).toBe(400);
    const auditor = await api.agent('auditor@example.com', ['auditor']);
    const eventsCursor = encodeCursor([-1]);
    expect((await auditor.get('/api/v1/events').query({ cursor: eventsCursor })).status).toBe(400);
  });

  it('answers a method a known path does not serve 405 with Allow, and an unknown path 404', async () => {
    const trace = await submitter.trace('/api/v1/deployment-intents');
    expect(trace.status).toBe(405);
    expect(trace.headers.allow).toBe('GET, HEAD, POST');
    expect(trace.headers['content-type']).toMatch(/^application\/problem\+json/);
    const put = await submitter
      .put('/api/v1/deployment-intents/00000000-0000-4000-8000-000000000000')
      .send({});
    expect(put.status).toBe(405);
    expect(put.headers.allow).toBe('GET, HEAD');
    const patch = await api.anonymous().patch('/api/v1/health');
    expect(patch.status).toBe(405);
    expect(patch.headers.allow).toBe('GET, HEAD');
    expect((await submitter.get('/api/v1/no-such-thing')).status).toBe(404);
  });

  it('documents every request body as required, as a session caller must send one', () => {
    const document = api.document as {
      paths: Record<string, Record<string, { requestBody?: { required?: boolean } }>>;
    };
    const optional = Object.entries(document.paths).flatMap(([path, operations]) =>
      Object.entries(operations)
        .filter(
          ([, operation]) => operation.requestBody !== undefined && operation.requestBody.required !== true,
        )
        .map(([method]) => `${method.toUpperCase()} ${path}`),
    );
    expect(optional).toEqual([]);
  });

  it('serves only patterns that compile with the u flag and mean what the server checks', () => {
    const patterns = new Map<string, string>();
    const walk = (node: unknown, path: string): void => {
      if (Array.isArray(node)) {
        node.forEach((item, index) => {
          walk(item, `${path}/${String(index)}`);
        });
      } else if (node !== null && typeof node === 'object') {
        for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
          if (key === 'pattern' && typeof value === 'string') patterns.set(path, value);
          else walk(value, `${path}/${key}`);
        }
      }
    };
    walk(api.document, '');
    expect(patterns.size).toBeGreaterThan(5);
    for (const [where, pattern] of patterns) {
      expect({ where, compiles: (() => new RegExp(pattern, 'u'))() instanceof RegExp }).toEqual({
        where,
        compiles: true,
      });
      expect({ where, flagArtefact: /\/[a-z]+$/.test(pattern) }).toEqual({ where, flagArtefact: false });
    }
    const patternOf = (suffix: string): RegExp => {
      const found = [...patterns].find(([where]) => where.endsWith(suffix));
      if (found === undefined)
        throw new Error(`no pattern at …${suffix} in ${[...patterns.keys()].join(' ')}`);
      return new RegExp(found[1], 'u');
    };
    const appName = patternOf('/CreateDeploymentIntent/properties/app_name');
    expect(appName.test('Mozilla Firefox (x64) 2.0')).toBe(true);
    expect(appName.test('Zoë Editor')).toBe(true);
    expect(appName.test('a<script>')).toBe(false);
    const comments = patternOf('/CabDecisionRequest/properties/comments');
    expect(comments.test('approved 👍 after review')).toBe(true);
    expect(comments.test(NUL)).toBe(false);
    expect(comments.test('lone \uD800 surrogate')).toBe(false);
    const objectId = patternOf('/DeploymentStatusReport/properties/connector_object_id');
    expect(objectId.test('intune-app-42')).toBe(true);
    expect(objectId.test('tab\there')).toBe(false);
  });
});
