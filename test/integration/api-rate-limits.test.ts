import { randomUUID } from 'node:crypto';
import { UNLIMITED } from '../../api/rate-limits';
import type { RateLimits } from '../../runtime/config';
import { ApiHarness } from '../helpers/api';
import type { Agent } from '../helpers/api';

interface OpenApiOperation {
  responses: Record<string, { headers?: Record<string, unknown>; content?: Record<string, unknown> }>;
}
interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation>>;
}

const MINUTE = { windowMs: 60_000 };

function limited(overrides: Partial<RateLimits>, prefix = randomUUID()) {
  return {
    overrides: { rateLimits: { ...UNLIMITED, ...overrides }, rateLimitPrefix: `eucora-test:${prefix}:rl:` },
  };
}

function expectTooManyRequests(res: { status: number; headers: Record<string, string>; body: unknown }) {
  expect(res.status).toBe(429);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({
    status: 429,
    type: expect.stringContaining('too-many-requests') as string,
  });
  const retryAfter = Number(res.headers['retry-after']);
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(60);
}

const signIn = (agent: Agent, address: string) =>
  agent
    .post('/api/v1/auth/dev-login')
    .set('X-Forwarded-For', address)
    .send({ username: `someone-${randomUUID().slice(0, 6)}@example.com`, roles: ['auditor'] });

describe('rate limits', () => {
  // One API with small budgets; each test spends them from its own addresses and callers.
  const BUDGETS = {
    signIn: { limit: 3, ...MINUTE },
    failedKeys: { limit: 3, ...MINUTE },
    writes: { limit: 3, ...MINUTE },
  };
  const prefix = randomUUID();
  let api: ApiHarness;
  beforeAll(async () => {
    api = await ApiHarness.start(limited(BUDGETS, prefix));
  });
  afterAll(async () => {
    await api.close();
  });
  afterEach(() => {
    expect(api.contractViolations()).toEqual([]);
  });

  it('limit sign-in attempts per client address', async () => {
    for (let i = 0; i < 3; i += 1) await signIn(api.anonymous(), '203.0.113.10').expect(200);
    expectTooManyRequests(await signIn(api.anonymous(), '203.0.113.10'));
    // Another address (told by the trusted proxy) has its own budget.
    await signIn(api.anonymous(), '203.0.113.11').expect(200);
  });

  it('limit failed API key checks per client address, not the successful ones', async () => {
    const { apiKey } = await api.connector('intune');
    const pending = (key: string, address: string) =>
      api
        .anonymous()
        .get('/api/v1/connectors/pending-deployments?connector_type=intune')
        .set({ Authorization: `Bearer ${key}`, 'X-Forwarded-For': address });
    // A busy connector's successful calls never use the budget up.
    for (let i = 0; i < 5; i += 1) await pending(apiKey, '203.0.113.20').expect(200);
    for (let i = 0; i < 3; i += 1) {
      await pending(`eucora_ck_${randomUUID()}`, '203.0.113.20').expect(401);
    }
    expectTooManyRequests(await pending(`eucora_ck_${randomUUID()}`, '203.0.113.20'));
    // The address is refused before any key is looked up, a good one included, until the window ends.
    expectTooManyRequests(await pending(apiKey, '203.0.113.20'));
    await pending(apiKey, '203.0.113.21').expect(200);
  });

  it('limit failed checks of keys sharing a prefix, from however many addresses', async () => {
    const { apiKey } = await api.connector('intune');
    const guessed = 'eucora_ck_AbCdEf';
    const pending = (key: string, address: string) =>
      api
        .anonymous()
        .get('/api/v1/connectors/pending-deployments?connector_type=intune')
        .set({ Authorization: `Bearer ${key}`, 'X-Forwarded-For': address });
    for (let i = 0; i < 3; i += 1) {
      await pending(`${guessed}${randomUUID()}`, `198.51.100.${String(i + 1)}`).expect(401);
    }
    expectTooManyRequests(await pending(`${guessed}${randomUUID()}`, '198.51.100.9'));
    // Keys with other prefixes, the real one included, are not affected.
    await pending(apiKey, '198.51.100.9').expect(200);
  });

  it('limit writes per caller, leaving reads and other callers alone', async () => {
    // Each sign-in is a write of its own address's anonymous budget; use separate addresses.
    const admin = await api.agent('root@example.com', ['admin']);
    const issue = () =>
      admin
        .post('/api/v1/connector-credentials')
        .send({ connector_type: 'intune', name: `w-${randomUUID().slice(0, 8)}` });
    for (let i = 0; i < 3; i += 1) await issue().expect(201);
    expectTooManyRequests(await issue());
    await admin.get('/api/v1/connector-credentials').expect(200);
    const other = await api.agent('root2@example.com', ['admin']);
    await other
      .post('/api/v1/connector-credentials')
      .send({ connector_type: 'jamf', name: `w-${randomUUID().slice(0, 8)}` })
      .expect(201);
  });

  it('are shared by every API process through Redis, and per process in memory', async () => {
    const second = await ApiHarness.start(limited(BUDGETS, prefix));
    try {
      await signIn(api.anonymous(), '203.0.113.30').expect(200);
      await signIn(api.anonymous(), '203.0.113.30').expect(200);
      await signIn(second.anonymous(), '203.0.113.30').expect(200);
      const fourth = await signIn(second.anonymous(), '203.0.113.30');
      expect(fourth.status).toBe(process.env.REDIS_URL === undefined ? 200 : 429);
      expect(second.contractViolations()).toEqual([]);
    } finally {
      await second.close();
    }
  });

  it('are documented: 429 with Retry-After on every operation that can answer it', () => {
    const document = api.document as OpenApiDocument;
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const label = `${method.toUpperCase()} ${path}`;
        // Public reads take no credentials and change nothing: no budget applies to them.
        if (label === 'GET /api/v1/health' || label === 'GET /api/v1/auth/options') continue;
        const tooMany = operation.responses['429'];
        expect({ label, headers: Object.keys(tooMany?.headers ?? {}) }).toEqual({
          label,
          headers: ['Retry-After'],
        });
        expect(Object.keys(tooMany?.content ?? {})).toEqual(['application/problem+json']);
      }
    }
    expect(document.paths['/api/v1/health']?.get?.responses['429']).toBeUndefined();
  });
});
