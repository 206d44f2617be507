import { randomUUID } from 'node:crypto';
import { UNLIMITED } from '../../api/rate-limits';
import type { TenantStore } from '../../db/tenant-store';
import { UNAUTHENTICATED_TENANT } from '../../db/tenant-id';
import type { TenantId } from '../../db/tenant-id';
import { ApiHarness } from '../helpers/api';
import { TENANT_A } from '../helpers/harness';

interface Refusal {
  operation: string;
  status: number;
  problemType: string;
  reason: string;
  actorKind: string;
  method: string;
  path: string;
  clientAddress: string | null;
}

/** The AUTHZ_DENIED events of one request, found by its request id (X-Correlation-ID). */
async function refusalsOf(api: ApiHarness, requestId: string, tenant: string = TENANT_A) {
  const trail = await api.db.store
    .forTenant(tenant as TenantId)
    .events.list({ requestId, eventType: 'AUTHZ_DENIED' }, { limit: 10 });
  return trail.items.map((event) => ({ actor: event.actor, ...(event.payload as unknown as Refusal) }));
}

describe('every refusal is an AUTHZ_DENIED audit event', () => {
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

  it('records a signed-in user’s 403 in their tenant, with the actor, the operation and the reason, before answering', async () => {
    const auditor = await api.agent('audit@example.com', ['auditor']);
    const requestId = randomUUID();
    await auditor.get('/api/v1/connector-credentials').set('X-Correlation-ID', requestId).expect(403);
    expect(await refusalsOf(api, requestId)).toEqual([
      expect.objectContaining({
        actor: 'audit@example.com',
        operation: 'listConnectorCredentials',
        status: 403,
        problemType: 'forbidden',
        reason: 'this needs one of the roles: admin',
        actorKind: 'user',
        method: 'GET',
      }),
    ]);
  });

  it('records a connector key’s 403 in its tenant', async () => {
    const { agent } = await api.connector('intune');
    const requestId = randomUUID();
    await agent
      .get('/api/v1/connectors/pending-deployments?connector_type=jamf')
      .set('X-Correlation-ID', requestId)
      .expect(403);
    expect(await refusalsOf(api, requestId)).toEqual([
      expect.objectContaining({
        actor: expect.stringMatching(/^connector:intune-/) as string,
        operation: 'listPendingDeployments',
        status: 403,
        actorKind: 'connector',
      }),
    ]);
  });

  it('records a cross-site request refused as forgery', async () => {
    const admin = await api.agent('root@example.com', ['admin']);
    const requestId = randomUUID();
    await admin
      .post('/api/v1/connector-credentials')
      .set({ 'X-Correlation-ID': requestId, Origin: 'https://evil.example' })
      .send({ connector_type: 'intune', name: 'forged' })
      .expect(403);
    expect(await refusalsOf(api, requestId)).toEqual([
      expect.objectContaining({
        actor: 'root@example.com',
        operation: 'issueConnectorCredential',
        problemType: 'cross-site-request',
      }),
    ]);
  });

  it('records anonymous refusals apart from every tenant, where no tenant’s auditor can read them', async () => {
    const requestId = randomUUID();
    await api.anonymous().get('/api/v1/events').set('X-Correlation-ID', requestId).expect(401);
    const unknownKey = randomUUID();
    await api
      .anonymous()
      .get('/api/v1/connectors/pending-deployments?connector_type=intune')
      .set({ 'X-Correlation-ID': unknownKey, Authorization: `Bearer eucora_ck_${'x'.repeat(43)}` })
      .expect(401);
    expect(await refusalsOf(api, requestId, UNAUTHENTICATED_TENANT)).toEqual([
      expect.objectContaining({
        actor: 'anonymous',
        operation: 'listAuditEvents',
        status: 401,
        actorKind: 'anonymous',
        clientAddress: expect.stringContaining('127.0.0.1') as string,
      }),
    ]);
    expect(await refusalsOf(api, unknownKey, UNAUTHENTICATED_TENANT)).toEqual([
      expect.objectContaining({
        operation: 'listPendingDeployments',
        reason: 'the API key is unknown, expired or revoked',
      }),
    ]);
    const auditor = await api.agent('audit@example.com', ['auditor']);
    const visible = await auditor.get(`/api/v1/events?request_id=${requestId}`).expect(200);
    expect(visible.body).toEqual({ items: [], next_cursor: null });
  });

  it('answers 503, not the refusal, when the refusal cannot be recorded', async () => {
    // The audit trail refuses every write; everything else about the store works.
    const store = new Proxy(api.db.store, {
      get(target, property, receiver) {
        if (property !== 'forTenant') return Reflect.get(target, property, receiver) as unknown;
        return (tenantId: TenantId): TenantStore => {
          const tenant = target.forTenant(tenantId);
          tenant.events.append = () => Promise.reject(new Error('database gone'));
          return tenant;
        };
      },
    });
    const broken = await ApiHarness.start({ overrides: { store } });
    try {
      const res = await broken.anonymous().get('/api/v1/events').expect(503);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(broken.contractViolations()).toEqual([]);
    } finally {
      await broken.close();
    }
  });
});

describe('refusals cannot be turned into a flood of audit writes', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await ApiHarness.start({
      overrides: {
        rateLimits: {
          ...UNLIMITED,
          refusals: { limit: 3, windowMs: 60_000 },
          anonymousRefusals: { limit: 5, windowMs: 60_000 },
        },
      },
    });
  });
  afterAll(async () => {
    await api.close();
  });
  afterEach(() => {
    expect(api.contractViolations()).toEqual([]);
  });

  const anonymousRows = async () =>
    (await api.db.store.forTenant(UNAUTHENTICATED_TENANT).events.list({}, { limit: 100 })).items.length;

  it('records a few refusals per client address and per window, then answers 429 without writing', async () => {
    const before = await anonymousRows();
    const statuses: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      const res = await api.anonymous().get('/api/v1/events').set('X-Forwarded-For', '203.0.113.7');
      statuses.push(res.status);
      if (res.status === 429) {
        expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
        expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(60);
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      }
    }
    expect(statuses).toEqual([401, 401, 401, 429, 429, 429]);
    expect((await anonymousRows()) - before).toBe(3);
  });

  it('caps the anonymous refusals recorded from all addresses together', async () => {
    const before = await anonymousRows();
    const statuses: number[] = [];
    // Three addresses, two requests each; three refusals from 203.0.113.7 were recorded already.
    for (const address of ['198.51.100.1', '198.51.100.2', '198.51.100.3']) {
      for (let i = 0; i < 2; i += 1) {
        statuses.push((await api.anonymous().get('/api/v1/events').set('X-Forwarded-For', address)).status);
      }
    }
    expect(statuses).toEqual([401, 401, 429, 429, 429, 429]);
    expect((await anonymousRows()) - before).toBe(2);
  });

  it('gives each signed-in caller a refusal budget of their own', async () => {
    const auditor = await api.agent('nosy@example.com', ['auditor']);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1) statuses.push((await auditor.get('/api/v1/connector-credentials')).status);
    expect(statuses).toEqual([403, 403, 403, 429, 429]);
    const trail = await api.tenant().events.list({ eventType: 'AUTHZ_DENIED' }, { limit: 100 });
    expect(trail.items.filter((event) => event.actor === 'nosy@example.com')).toHaveLength(3);
    // Their allowed work goes on.
    await auditor.get('/api/v1/events').expect(200);
  });
});
