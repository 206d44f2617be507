import { randomUUID } from 'node:crypto';
import { ConnectorReportService } from '../../api/services/connector-reports';
import type { IntentService } from '../../api/services/intents';
import type { Actor } from '../../api/request-context';
import type { DeploymentIntentRow } from '../../db/repositories/deployment-intents';
import type { EvidencePack } from '../../policy/evidence-pack';
import type { Ring } from '../../policy/rings';
import { highRiskEvidence, lowRiskEvidence } from '../fixtures/evidence';
import { ApiHarness } from '../helpers/api';
import type { Agent } from '../helpers/api';
import { CAB_MEMBER, SUBMITTER, TENANT_A, TENANT_B, eventually, submission, user } from '../helpers/harness';

/** The value of the first sample of `name` whose labels include `labels`, or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match?.[1] !== name) continue;
    const found = new Map(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([key, value]) => found.get(key) === value)) return Number(match[3]);
  }
  return undefined;
}

describe('GET /metrics — Prometheus exposition', () => {
  let api: ApiHarness;
  let intents: IntentService;
  let operator: Agent;
  let awaitingCab: DeploymentIntentRow;

  async function submit(
    submitter: Actor,
    evidencePack: EvidencePack,
    targetRing: Ring,
  ): Promise<DeploymentIntentRow> {
    const { intent } = await intents.submit(
      api.tenant(submitter.tenantId),
      submitter,
      randomUUID(),
      submission({ evidencePack, targetRing }),
      undefined,
    );
    return intent;
  }

  async function reachStatus(intent: DeploymentIntentRow, status: DeploymentIntentRow['status']) {
    await eventually(async () => {
      const row = await api.tenant(intent.tenantId).intents.get(intent.id);
      return row?.status === status ? row : undefined;
    }, `intent ${status}`);
  }

  async function scrape(agent: Agent): Promise<string> {
    const res = await agent.get('/api/v1/metrics').expect(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    return res.text;
  }

  beforeAll(async () => {
    api = await ApiHarness.start();
    intents = api.intentService();
    operator = await api.agent('ops@example.com', ['operator']);

    // Tenant A: one intent waiting for the CAB, one rolled out to LAB and completed.
    awaitingCab = await submit(SUBMITTER, highRiskEvidence(), 'GLOBAL');
    await reachStatus(awaitingCab, 'AWAITING_CAB');
    const completed = await submit(SUBMITTER, lowRiskEvidence(), 'LAB');
    await eventually(
      async () => (await api.tenant().ringDeployments.forIntent(completed.id)).at(0),
      'the LAB deployment',
    );
    await new ConnectorReportService(api.temporal.client).report(
      api.tenant(),
      {
        correlationId: completed.correlationId,
        ring: 'LAB',
        connectorType: 'intune',
        connectorObjectId: 'intune-app-1',
        successCount: 3,
        failureCount: 0,
        final: true,
      },
      'connector:intune',
    );
    await reachStatus(completed, 'COMPLETED');

    // Tenant B: its own intent waiting for the CAB, which tenant A's scrape must not count.
    const other = await submit(
      user('packager@tenant-b.example.com', ['submitter'], TENANT_B),
      highRiskEvidence(),
      'GLOBAL',
    );
    await reachStatus(other, 'AWAITING_CAB');
  });
  afterAll(async () => {
    await api.close();
  });
  afterEach(() => {
    expect(api.contractViolations()).toEqual([]);
  });

  it('exposes intents by status, the CAB queue depth and ring outcomes of the caller’s tenant', async () => {
    const text = await scrape(operator);
    for (const family of ['eucora_http_request_duration_seconds histogram', 'eucora_intents gauge']) {
      expect(text).toContain(`# TYPE ${family}`);
    }
    expect(text).toContain('# TYPE eucora_cab_queue_depth gauge');
    expect(text).toContain('# TYPE eucora_ring_deployments gauge');

    const tenant = TENANT_A;
    expect(sample(text, 'eucora_intents', { tenant, status: 'AWAITING_CAB' })).toBe(1);
    expect(sample(text, 'eucora_intents', { tenant, status: 'COMPLETED' })).toBe(1);
    expect(sample(text, 'eucora_intents', { tenant, status: 'ROLLED_BACK' })).toBe(0);
    expect(sample(text, 'eucora_cab_queue_depth', { tenant })).toBe(1);
    expect(
      sample(text, 'eucora_ring_deployments', { tenant, ring: 'LAB', kind: 'DEPLOY', outcome: 'SUCCEEDED' }),
    ).toBe(1);
    expect(
      sample(text, 'eucora_ring_deployments', {
        tenant,
        ring: 'CANARY',
        kind: 'DEPLOY',
        outcome: 'SUCCEEDED',
      }),
    ).toBe(0);
    expect(text).not.toContain(TENANT_B);
  });

  it('shows each tenant its own gauges', async () => {
    const text = await scrape(await api.agent('ops@tenant-b.example.com', ['operator'], TENANT_B));
    expect(sample(text, 'eucora_intents', { tenant: TENANT_B, status: 'AWAITING_CAB' })).toBe(1);
    expect(sample(text, 'eucora_intents', { tenant: TENANT_B, status: 'COMPLETED' })).toBe(0);
    expect(sample(text, 'eucora_cab_queue_depth', { tenant: TENANT_B })).toBe(1);
    expect(text).not.toContain(`tenant="${TENANT_A}"`);
  });

  it('reads the gauges at scrape time: a CAB decision empties the queue in the next scrape', async () => {
    expect(sample(await scrape(operator), 'eucora_cab_queue_depth', { tenant: TENANT_A })).toBe(1);
    const cab = await api.agent(CAB_MEMBER.id, ['cab_member']);
    await cab.post(`/api/v1/cab/${awaitingCab.id}/decision`).send({ decision: 'REJECTED' }).expect(200);
    const text = await scrape(operator);
    expect(sample(text, 'eucora_cab_queue_depth', { tenant: TENANT_A })).toBe(0);
    expect(sample(text, 'eucora_intents', { tenant: TENANT_A, status: 'AWAITING_CAB' })).toBe(0);
    expect(sample(text, 'eucora_intents', { tenant: TENANT_A, status: 'REJECTED' })).toBe(1);
  });

  it('labels request latency with route templates, never raw paths, whatever the status', async () => {
    const unknown = randomUUID();
    const cab = await api.agent('cab.two@example.com', ['cab_member']);
    await cab.get('/api/v1/cab/pending').expect(200);
    await cab.post(`/api/v1/cab/${unknown}/decision`).send({ decision: 'APPROVED' }).expect(404);
    await cab.get('/api/v1/metrics').expect(403);
    await cab.get(`/api/v1/no-such-resource/${unknown}`).expect(404);

    const text = await scrape(operator);
    const count = (method: string, route: string, status: string) =>
      sample(text, 'eucora_http_request_duration_seconds_count', { method, route, status });
    expect(count('GET', '/api/v1/cab/pending', '200')).toBeGreaterThanOrEqual(1);
    expect(count('POST', '/api/v1/cab/:intent_id/decision', '404')).toBe(1);
    expect(count('GET', '/api/v1/metrics', '403')).toBeGreaterThanOrEqual(1);
    expect(count('POST', '/api/v1/auth/dev-login', '200')).toBeGreaterThanOrEqual(1);
    expect(count('GET', 'unmatched', '404')).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, 'eucora_http_request_duration_seconds_bucket', {
        method: 'POST',
        route: '/api/v1/cab/:intent_id/decision',
        status: '404',
        le: '+Inf',
      }),
    ).toBe(1);
    expect(text).not.toContain(unknown);
  });

  it('is for operators, auditors and admins: submitters and CAB members get 403, anonymous callers 401', async () => {
    await scrape(await api.agent('audit@example.com', ['auditor']));
    await scrape(await api.agent('admin@example.com', ['admin']));
    await (await api.agent(SUBMITTER.id, ['submitter'])).get('/api/v1/metrics').expect(403);
    await (await api.agent(CAB_MEMBER.id, ['cab_member'])).get('/api/v1/metrics').expect(403);
    await api.anonymous().get('/api/v1/metrics').expect(401);
  });
});
