import { ApiHarness } from '../helpers/api';
import type { Agent } from '../helpers/api';

/**
 * Issue 7, "input the database can store, or a 400": NUL in every string field of every operation —
 * each path and query parameter and each string reachable in each request body schema, read from the
 * served OpenAPI document — is a 400 naming that field; never a 2xx, never a 5xx. Headers are left out:
 * HTTP cannot carry NUL in a header value (Node's client refuses to send one).
 */

const NUL = 'a\u0000b';

type Schema = Record<string, unknown>;
interface Parameter {
  name: string;
  in: string;
  schema?: Schema;
}
interface Operation {
  operationId: string;
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: Schema } | undefined> };
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

interface Case {
  readonly operation: string;
  readonly method: string;
  readonly path: string;
  readonly location: 'path' | 'query' | 'body';
  /** The field as a 400 names it: the parameter's name, or the dotted path into the body. */
  readonly field: string;
  readonly bodyPath?: readonly string[];
}

function resolved(document: Document, schema: Schema): Schema {
  const ref = schema.$ref;
  if (typeof ref !== 'string') return schema;
  return resolved(document, document.components.schemas[ref.replace('#/components/schemas/', '')] ?? {});
}

function acceptsString(schema: Schema): boolean {
  const type = schema.type;
  return type === 'string' || (Array.isArray(type) && type.includes('string'));
}

/** Every path to a string in `schema` (array items as index 0, free-form maps under a key `k`). */
function stringPaths(document: Document, given: Schema, prefix: readonly string[], depth = 0): string[][] {
  if (depth > 8) return [];
  const schema = resolved(document, given);
  const found: string[][] = acceptsString(schema) ? [[...prefix]] : [];
  for (const key of ['oneOf', 'anyOf', 'allOf'] as const) {
    const branches = schema[key];
    if (Array.isArray(branches)) {
      for (const branch of branches as Schema[])
        found.push(...stringPaths(document, branch, prefix, depth + 1));
    }
  }
  const properties = schema.properties as Record<string, Schema> | undefined;
  for (const [name, property] of Object.entries(properties ?? {})) {
    found.push(...stringPaths(document, property, [...prefix, name], depth + 1));
  }
  const additional = schema.additionalProperties;
  if (typeof additional === 'object' && additional !== null) {
    found.push(...stringPaths(document, additional as Schema, [...prefix, 'k'], depth + 1));
  }
  if (typeof schema.items === 'object' && schema.items !== null) {
    found.push(...stringPaths(document, schema.items as Schema, [...prefix, '0'], depth + 1));
  }
  return found;
}

function unique(paths: string[][]): string[][] {
  const seen = new Set<string>();
  return paths.filter((path) => {
    const key = JSON.stringify(path);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function casesOf(document: Document): Case[] {
  const cases: Case[] = [];
  for (const [path, operations] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const base = { operation: operation.operationId, method, path };
      for (const parameter of operation.parameters ?? []) {
        if (parameter.in !== 'path' && parameter.in !== 'query') continue;
        if (!acceptsString(resolved(document, parameter.schema ?? {}))) continue;
        cases.push({ ...base, location: parameter.in, field: parameter.name });
      }
      const body = operation.requestBody?.content['application/json']?.schema;
      if (body === undefined) continue;
      for (const bodyPath of unique(stringPaths(document, body, []))) {
        if (bodyPath.length === 0) continue;
        cases.push({ ...base, location: 'body', field: bodyPath.join('.'), bodyPath });
      }
    }
  }
  return cases;
}

function nested(path: readonly string[], value: unknown): unknown {
  const [head, ...rest] = path;
  if (head === undefined) return value;
  const inner = nested(rest, value);
  return head === '0' ? [inner] : { [head]: inner };
}

/** A path with placeholders filled (a well-formed id), and the NUL one where the case puts it. */
function url(testCase: Case): { path: string; query: Record<string, string> } {
  const path = testCase.path.replace(/\{(\w+)\}/g, (_match, name: string) =>
    testCase.location === 'path' && name === testCase.field
      ? encodeURIComponent(NUL)
      : name === 'version'
        ? '1.0'
        : '00000000-0000-4000-8000-000000000000',
  );
  return { path, query: testCase.location === 'query' ? { [testCase.field]: NUL } : {} };
}

describe('NUL in every string field of every operation', () => {
  let api: ApiHarness;
  let person: Agent;
  let connector: Agent;
  let cases: Case[];

  beforeAll(async () => {
    api = await ApiHarness.start();
    person = await api.agent('everyone@example.com', [
      'submitter',
      'cab_member',
      'operator',
      'auditor',
      'admin',
    ]);
    connector = (await api.connector('intune')).agent;
    cases = casesOf(api.document as Document);
  });
  afterAll(async () => {
    await api.close();
  });

  it('finds the operations and fields to try in the served document', () => {
    const operations = new Set(cases.map((testCase) => testCase.operation));
    expect(operations.size).toBeGreaterThanOrEqual(20);
    expect(cases.length).toBeGreaterThanOrEqual(60);
    // A deep body field and a query filter are among them.
    expect(cases.map((testCase) => `${testCase.operation} ${testCase.field}`)).toEqual(
      expect.arrayContaining([
        'storeEvidencePack rollback_plan.steps.0.instructions',
        'listDeploymentIntents submitter',
        'decideCab comments',
      ]),
    );
  });

  it('answers each with 400 naming the field', async () => {
    const wrong: string[] = [];
    for (const testCase of cases) {
      const caller = testCase.path.startsWith('/api/v1/connectors/') ? connector : person;
      const { path, query } = url(testCase);
      let call = caller[testCase.method as 'get' | 'post' | 'put' | 'delete'](path).query(query);
      if (testCase.method !== 'get') {
        call = call
          .set('Content-Type', 'application/json')
          .send(testCase.bodyPath === undefined ? {} : (nested(testCase.bodyPath, NUL) as object));
      }
      const response = await call;
      const fields = ((response.body as { errors?: { field: string }[] }).errors ?? []).map((e) => e.field);
      if (response.status !== 400 || !fields.includes(testCase.field)) {
        wrong.push(
          `${testCase.method.toUpperCase()} ${testCase.path} ${testCase.location} ${testCase.field}: ` +
            `${String(response.status)} ${JSON.stringify(fields)}`,
        );
      }
    }
    expect(wrong).toEqual([]);
  });
});
