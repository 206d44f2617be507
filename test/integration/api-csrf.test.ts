import { randomUUID } from 'node:crypto';
import { ApiHarness } from '../helpers/api';
import type { Agent } from '../helpers/api';

/** The harness serves the API at this public origin. */
const ORIGIN = 'http://127.0.0.1';

describe('cross-site request forgery', () => {
  let api: ApiHarness;
  let admin: Agent;
  beforeAll(async () => {
    api = await ApiHarness.start();
    admin = await api.agent('admin@example.com', ['admin']);
  });
  afterAll(async () => {
    await api.close();
  });
  afterEach(() => {
    expect(api.contractViolations()).toEqual([]);
  });

  const credentialCount = async () =>
    ((await admin.get('/api/v1/connector-credentials').expect(200)).body as { items: unknown[] }).items
      .length;
  const issue = () => admin.post('/api/v1/connector-credentials');
  const body = () => ({ connector_type: 'intune', name: `csrf-${randomUUID().slice(0, 8)}` });

  it.each([
    ['text/plain', 'text/plain', '{"connector_type":"intune","name":"x"}'],
    ['form-urlencoded', 'application/x-www-form-urlencoded', 'connector_type=intune&name=x'],
    [
      'multipart',
      'multipart/form-data; boundary=b',
      '--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n--b--',
    ],
  ])('refuses a %s body on a session with 415, issuing nothing', async (_case, type, payload) => {
    const before = await credentialCount();
    const res = await issue().set('Content-Type', type).send(payload).expect(415);
    expect(res.body).toMatchObject({ type: expect.stringContaining('unsupported-media-type') as string });
    expect(await credentialCount()).toBe(before);
  });

  it('refuses an unsafe session request with no Content-Type at all (send {} on body-less actions)', async () => {
    const activate = () => admin.post('/api/v1/risk-models/1.0/activate');
    await activate().expect(415);
    await activate().send({}).expect(200);
    const logout = await api.agent('bob@example.com', ['auditor']);
    await logout.post('/api/v1/auth/logout').expect(415);
    await logout.get('/api/v1/auth/me').expect(200);
    await logout.post('/api/v1/auth/logout').send({}).expect(204);
  });

  it.each([
    ['an Origin of another site', { Origin: 'https://evil.example' }],
    ['an Origin of another port of this host', { Origin: 'http://127.0.0.1:8081' }],
    ['an opaque Origin (null)', { Origin: 'null' }],
    ['Sec-Fetch-Site: cross-site', { 'Sec-Fetch-Site': 'cross-site' }],
    ['Sec-Fetch-Site: same-site (a sibling subdomain)', { 'Sec-Fetch-Site': 'same-site' }],
    [
      'a same-origin Origin contradicted by Sec-Fetch-Site',
      { Origin: ORIGIN, 'Sec-Fetch-Site': 'cross-site' },
    ],
  ])('refuses a JSON session request with %s with 403, issuing nothing', async (_case, headers) => {
    const before = await credentialCount();
    const res = await issue().set(headers).send(body()).expect(403);
    expect(res.body).toMatchObject({ type: expect.stringContaining('cross-site-request') as string });
    expect(await credentialCount()).toBe(before);
  });

  it.each([
    ['the same Origin', { Origin: ORIGIN }],
    ['Sec-Fetch-Site: same-origin', { 'Sec-Fetch-Site': 'same-origin' }],
    ['both', { Origin: ORIGIN, 'Sec-Fetch-Site': 'same-origin' }],
    ['neither (not a browser: curl, scripts)', {}],
  ])('accepts a same-origin JSON session request with %s', async (_case, headers) => {
    await issue().set(headers).send(body()).expect(201);
  });

  it('refuses a cross-site sign-in too (login CSRF), before any session is made', async () => {
    const res = await api
      .anonymous()
      .post('/api/v1/auth/dev-login')
      .set('Origin', 'https://evil.example')
      .send({ username: 'mallory@example.com', roles: ['admin'] })
      .expect(403);
    expect(res.headers['set-cookie']).toBeUndefined();
  });

  it('exempts calls authenticated by an API key: no browser sends those on its own', async () => {
    const { agent } = await api.connector('intune');
    const report = {
      correlation_id: randomUUID(),
      ring: 'LAB',
      connector_type: 'intune',
      connector_object_id: 'obj-1',
      success_count: 1,
      failure_count: 0,
      final: false,
    };
    // Neither the foreign Origin nor the text body is refused as forgery; the report names no ring: 404.
    await agent
      .post('/api/v1/connectors/update-deployment-status')
      .set('Origin', 'https://evil.example')
      .set('Sec-Fetch-Site', 'cross-site')
      .send(report)
      .expect(404);
  });

  it('documents 403 and 415 on every unsafe operation, and JSON request bodies on all of them', () => {
    const document = api.document as {
      paths: Record<
        string,
        Record<
          string,
          { requestBody?: { content: Record<string, unknown> }; responses: Record<string, unknown> }
        >
      >;
    };
    const unsafe = Object.entries(document.paths).flatMap(([path, operations]) =>
      Object.entries(operations)
        .filter(([method]) => ['post', 'put', 'patch', 'delete'].includes(method))
        .map(([method, operation]) => ({ label: `${method} ${path}`, operation })),
    );
    expect(unsafe.length).toBeGreaterThan(10);
    for (const { label, operation } of unsafe) {
      expect({ label, statuses: Object.keys(operation.responses) }).toEqual({
        label,
        statuses: expect.arrayContaining(['403', '415']) as string[],
      });
      expect({ label, content: Object.keys(operation.requestBody?.content ?? {}) }).toEqual({
        label,
        content: ['application/json'],
      });
    }
  });
});
