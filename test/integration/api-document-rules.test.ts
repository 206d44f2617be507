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
});
