import { ApiHarness } from '../helpers/api';
import type { Agent } from '../helpers/api';

/**
 * Issue 7, finding 6 (and what the fuzzer found): the served document states the rules the server
 * enforces, a body the document requires is required, and a known path refuses an unsupported method
 * with 405 and `Allow`.
 */

type Schema = Record<string, unknown>;
interface Operation {
  parameters?: { name: string; in: string; schema?: Schema }[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

function resolve(document: Document, schema: Schema): Schema {
  const ref = schema.$ref;
  if (typeof ref !== 'string') return schema;
  const schemas = document.components.schemas;
  return schemas[ref.replace('#/components/schemas/', '')] ?? {};
}

describe('the document states what the server enforces', () => {
  let api: ApiHarness;
  let submitter: Agent;
  let document: Document;

  beforeAll(async () => {
    api = await ApiHarness.start();
    submitter = await api.agent('packager@example.com', ['submitter']);
    document = (await api.anonymous().get('/api/schema')).body as Document;
  });
  afterAll(async () => {
    await api.close();
  });

  it('answers an unsupported method on a known path with 405 and Allow', async () => {
    const response = await api.anonymous().delete('/api/v1/health');
    expect(response.status).toBe(405);
    expect(response.headers.allow).toBe('GET, HEAD');
    const intents = await submitter.put('/api/v1/deployment-intents').send({});
    expect(intents.status).toBe(405);
    expect(intents.headers.allow).toBe('GET, HEAD, POST');
    const unknown = await api.anonymous().delete('/api/v1/no-such-thing');
    expect(unknown.status).toBe(404);
  });

  it('refuses a POST /evidence-packs without a body with 400 instead of storing an empty pack', async () => {
    const response = await submitter.post('/api/v1/evidence-packs').set('Content-Type', 'application/json');
    expect(response.status).toBe(400);
    expect((response.body as { errors: { field: string }[] }).errors.map((e) => e.field)).toContain('(body)');
  });

  it('documents every unsafe operation’s body as required', () => {
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        if (['post', 'put', 'delete', 'patch'].includes(method) && operation.requestBody !== undefined) {
          expect(`${method} ${path} required=${String(operation.requestBody.required)}`).toBe(
            `${method} ${path} required=true`,
          );
        }
      }
    }
  });

  it('documents the Idempotency-Key rule, the extra_soak rule and generator-friendly patterns', () => {
    const decision = document.paths['/api/v1/cab/{intent_id}/decision']?.post;
    const key = decision?.parameters?.find((parameter) => parameter.name === 'idempotency-key');
    expect(key?.schema?.pattern).toBe('^[A-Za-z0-9_.:-]{1,200}$');
    const body = resolve(document, decision?.requestBody?.content['application/json']?.schema ?? {});
    const conditions = (body.properties as Record<string, Schema>).conditions ?? {};
    const extraSoak = (conditions.properties as Record<string, Schema>).extra_soak ?? {};
    expect(extraSoak.pattern).toBe('^(?:[0-9]+(?:ms|s|m|h|d))+$');
    const text = JSON.stringify(document);
    expect(text).not.toContain('\\\\P{');
  });

  it('states the connector map, evidence source and ring score rules as JSON Schema', () => {
    const schemas = document.components.schemas;
    const map = schemas.ConnectorMap ?? {};
    expect(map.minProperties).toBe(1);
    const platforms = map.properties as Record<string, Schema>;
    expect(platforms.windows?.enum).toEqual(['intune', 'sccm', 'ansible']);
    expect(platforms.macos?.enum).toEqual(['intune', 'jamf']);
    expect(platforms.linux?.enum).toEqual(['landscape', 'ansible']);
    const oneOf = [{ required: ['evidence_pack'] }, { required: ['evidence_pack_id'] }];
    expect(schemas.CreateDeploymentIntent?.oneOf).toEqual(oneOf);
    expect(schemas.RiskEvaluationRequest?.oneOf).toEqual(oneOf);
    expect(schemas.ConnectorCredentialRequest?.oneOf).toEqual([
      {
        properties: { scope: { const: 'metrics' } },
        required: ['scope'],
        not: { required: ['connector_type'] },
      },
      { properties: { scope: { const: 'connector' } }, required: ['connector_type'] },
    ]);
    const text = JSON.stringify(document);
    const ringScores = /"ring_scores":(\{[^{}]*"properties":\{(?:[^{}]*\{[^{}]*\})*[^{}]*\}[^{}]*\})/.exec(
      text,
    );
    const parsed = JSON.parse(ringScores?.[1] ?? '{}') as Schema;
    expect(parsed.required).toEqual(['LAB', 'CANARY', 'PILOT', 'DEPARTMENT', 'GLOBAL']);
  });

  it('documents non-blank free text with a pattern that refuses what the server refuses', async () => {
    const devLogin = resolve(
      document,
      document.paths['/api/v1/auth/dev-login']?.post?.requestBody?.content['application/json']?.schema ?? {},
    );
    const displayName = (devLogin.properties as Record<string, Schema>).display_name ?? {};
    const pattern = new RegExp(String(displayName.pattern), 'u');
    for (const blank of ['\n', '  ', '']) {
      expect(pattern.test(blank)).toBe(false);
      const response = await api
        .anonymous()
        .post('/api/v1/auth/dev-login')
        .send({ username: 'blank', roles: ['submitter'], display_name: blank });
      expect(response.status).toBe(400);
    }
    expect(pattern.test(' Ada ')).toBe(true);
    const accepted = await api
      .anonymous()
      .post('/api/v1/auth/dev-login')
      .send({ username: 'ada', roles: ['submitter'], display_name: ' Ada ' });
    expect(accepted.status).toBe(200);
    expect((accepted.body as { display_name: string }).display_name).toBe('Ada');
  });

  it('lets public operations ignore an unrelated Authorization header', async () => {
    for (const authorization of [
      'Basic bG9hZDpiYWxhbmNlcg==',
      'Bearer not-a-key',
      'Bearer eucora_ck_forged',
    ]) {
      const health = await api.anonymous().get('/api/v1/health').set('Authorization', authorization);
      expect(health.status).toBe(200);
      const options = await api.anonymous().get('/api/v1/auth/options').set('Authorization', authorization);
      expect(options.status).toBe(200);
      const login = await api
        .anonymous()
        .post('/api/v1/auth/dev-login')
        .set('Authorization', authorization)
        .send({ username: 'lb-user', roles: ['submitter'] });
      expect(login.status).toBe(200);
    }
    // An operation that needs a credential still refuses a bad one.
    const intents = await api
      .anonymous()
      .get('/api/v1/deployment-intents')
      .set('Authorization', 'Bearer not-a-key');
    expect(intents.status).toBe(401);
  });
});
