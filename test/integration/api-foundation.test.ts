import { randomUUID } from 'node:crypto';
import { ApiHarness } from '../helpers/api';
import { createLogger } from '../../runtime/logger';

interface OpenApiDocument {
  paths: Record<string, Record<string, { description?: string; security?: unknown[] }>>;
}

describe('API foundation', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await ApiHarness.start();
  });
  afterAll(async () => {
    await api.close();
  });
  afterEach(() => {
    expect(api.contractViolations()).toEqual([]);
  });

  it('reports database, session store and Temporal healthy', async () => {
    const res = await api.anonymous().get('/api/v1/health').expect(200);
    expect(res.body).toMatchObject({
      status: 'ok',
      checks: {
        database: { status: 'ok' },
        session_store: { status: 'ok', kind: process.env.REDIS_URL === undefined ? 'memory' : 'redis' },
        temporal: { status: 'ok' },
      },
    });
  });

  it('reports 503 degraded, naming the failing dependency, when the database does not answer', async () => {
    const degraded = await ApiHarness.start({
      overrides: {
        database: { kind: 'postgres', ping: () => Promise.reject(new Error('connection refused')) },
      },
    });
    try {
      const res = await degraded.anonymous().get('/api/v1/health').expect(503);
      expect(res.body).toMatchObject({
        status: 'degraded',
        checks: { database: { status: 'failing', kind: 'postgres' }, temporal: { status: 'ok' } },
      });
      expect(JSON.stringify(res.body)).not.toContain('connection refused');
      expect(degraded.contractViolations()).toEqual([]);
    } finally {
      await degraded.close();
    }
  });

  it('echoes a valid X-Correlation-ID and replaces an invalid one', async () => {
    const id = randomUUID();
    const echoed = await api.anonymous().get('/api/v1/health').set('X-Correlation-ID', id);
    expect(echoed.headers['x-correlation-id']).toBe(id);
    const replaced = await api
      .anonymous()
      .get('/api/v1/health')
      .set('X-Correlation-ID', 'not-a-uuid<script>');
    expect(replaced.headers['x-correlation-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(replaced.headers['x-correlation-id']).not.toBe('not-a-uuid<script>');
  });

  it('answers unknown paths with a problem+json 404 carrying the request id', async () => {
    const res = await api.anonymous().get('/api/v1/nowhere').expect(404);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 404, request_id: res.headers['x-correlation-id'] });
  });

  it('refuses anonymous callers with 401 and names bad dev-login fields with 400', async () => {
    await api.anonymous().get('/api/v1/auth/me').expect(401);
    const res = await api
      .anonymous()
      .post('/api/v1/auth/dev-login')
      .send({ username: 'x', roles: ['wizard'], extra: 1 })
      .expect(400);
    const fields = (res.body as { errors: { field: string }[] }).errors.map((e) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['roles.0', 'extra']));
  });

  it('signs a dev user in and tells who they are', async () => {
    const agent = await api.agent('alice@example.com', ['submitter']);
    const me = await agent.get('/api/v1/auth/me').expect(200);
    expect(me.body).toMatchObject({ id: 'alice@example.com', roles: ['submitter'], kind: 'user' });
    await agent.post('/api/v1/auth/logout').send({}).expect(204);
    await agent.get('/api/v1/auth/me').expect(401);
  });

  it('answers malformed JSON with a 400 problem, not a 500', async () => {
    const res = await api
      .anonymous()
      .post('/api/v1/auth/dev-login')
      .set('Content-Type', 'application/json')
      .send('{"username": ')
      .expect(400);
    expect(res.body).toMatchObject({ type: expect.stringContaining('malformed-request') as string });
  });

  it('answers 415 to a body that is not JSON, so a cross-site form cannot post one', async () => {
    const res = await api
      .anonymous()
      .post('/api/v1/auth/dev-login')
      .set('Content-Type', 'text/plain')
      .send('username=mallory&roles=admin')
      .expect(415);
    expect(res.body).toMatchObject({
      status: 415,
      type: expect.stringContaining('unsupported-media-type') as string,
    });
  });

  it('serves the OpenAPI document and Swagger UI from node_modules', async () => {
    const schema = await api.anonymous().get('/api/schema').expect(200);
    expect((schema.body as { openapi: string }).openapi).toBe('3.1.0');
    const ui = await api.anonymous().get('/api/schema/swagger-ui/').expect(200);
    expect(ui.text).toContain('swagger-ui-bundle.js');
    await api.anonymous().get('/api/schema/swagger-ui/swagger-ui-bundle.js').expect(200);
  });

  it('refuses every non-public operation to an anonymous caller with 401', async () => {
    const document = api.document as OpenApiDocument;
    const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({ path, method, operation })),
    );
    const guarded = operations.filter(({ operation }) => operation.security === undefined);
    expect(guarded.length).toBeGreaterThan(20);
    for (const { path, method } of guarded) {
      const url = path.replace(/\{[^}]+\}/g, randomUUID());
      const res = await (
        api.anonymous() as unknown as Record<string, (url: string) => Promise<{ status: number }>>
      )[method]?.(url);
      expect({ operation: `${method.toUpperCase()} ${path}`, status: res?.status }).toEqual({
        operation: `${method.toUpperCase()} ${path}`,
        status: 401,
      });
    }
  });

  it('never writes a connector API key or a session cookie to the logs', async () => {
    const lines: string[] = [];
    const logged = await ApiHarness.start({
      overrides: {
        logger: createLogger({ level: 'trace', destination: { write: (line: string) => lines.push(line) } }),
      },
    });
    try {
      const { agent, apiKey } = await logged.connector('intune');
      await agent.get('/api/v1/connectors/pending-deployments?connector_type=intune').expect(200);
      await logged.anonymous().get('/api/v1/auth/me').set('Authorization', `Bearer ${apiKey}x`).expect(401);
      const user = await logged.agent('alice@example.com', ['submitter']);
      const me = await user.get('/api/v1/auth/me').expect(200);
      const sessionId = /eucora\.sid=([^;]+)/.exec(me.request.cookies)?.[1] ?? '';
      expect(sessionId).not.toBe('');
      expect(lines.length).toBeGreaterThan(3);
      const text = lines.join('');
      expect(text).not.toContain(apiKey);
      expect(text).not.toContain(apiKey.slice('eucora_ck_'.length));
      expect(text).not.toContain(sessionId);
      expect(text).toContain('"requestId"');
      logged.contractViolations();
    } finally {
      await logged.close();
    }
  });
});
