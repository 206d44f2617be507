import request from 'supertest';
import { runConnector } from '../../connector/reference-connector';
import { RINGS } from '../../policy/rings';
import { ApiHarness } from '../helpers/api';
import { serveOnLoopback } from '../helpers/loopback-server';
import type { LoopbackServer } from '../helpers/loopback-server';
import type { Agent } from '../helpers/api';
import { eventually } from '../helpers/harness';
import { highRiskEvidence } from '../fixtures/evidence';

interface Created {
  id: string;
  correlation_id: string;
  status: string;
  risk: { score: number; threshold: number; requires_cab: boolean } | null;
}
interface Intent {
  status: string;
  rings: { ring: string; action: string; outcome: string | null; success_count: number }[];
}
interface EventPage {
  items: { event_type: string; actor: string; correlation_id: string; intent_id: string | null }[];
  next_cursor: string | null;
}

/**
 * A high-risk intent driven entirely over HTTP, by the people and the connector who would drive it:
 * a packager submits, a CAB member approves, the reference connector (polling the real API over a
 * socket) carries out every ring, and an auditor reads the trail back.
 */
const intentRequest = {
  app_name: '7-Zip',
  version: '24.08',
  target_ring: 'GLOBAL',
  connectors: { windows: 'intune' },
  evidence_pack: highRiskEvidence(),
  target_device_count: 5_000,
};

describe('end to end over HTTP', () => {
  let api: ApiHarness;
  let server: LoopbackServer;
  let baseUrl: string;

  beforeAll(async () => {
    api = await ApiHarness.start();
    server = await serveOnLoopback(api.app);
    baseUrl = server.baseUrl;
  });
  afterAll(async () => {
    await server.close();
    await api.close();
  });
  afterEach(() => {
    expect(api.contractViolations()).toEqual([]);
  });

  it('submits a high-risk intent, gets CAB approval, rolls out through the connector, and reads the trail', async () => {
    const submitter = await api.agent('packager@example.com', ['submitter']);
    const cab = await api.agent('cab.chair@example.com', ['cab_member']);
    const auditor = await api.agent('auditor@example.com', ['auditor']);
    const admin = await api.agent('admin@example.com', ['admin']);

    // An admin issues the connector its key, over HTTP too.
    const credential = await admin
      .post('/api/v1/connector-credentials')
      .send({ connector_type: 'intune', name: 'intune-e2e' })
      .expect(201);
    const apiKey = (credential.body as { api_key: string }).api_key;

    const submitted = await submitter
      .post('/api/v1/deployment-intents')
      .set('Idempotency-Key', 'e2e-7zip-24.08')
      .send(intentRequest)
      .expect(201);
    const intent = submitted.body as Created;
    expect(intent.status).toBe('AWAITING_CAB');
    expect(intent.risk?.requires_cab).toBe(true);

    const queue = await cab.get('/api/v1/cab/pending').expect(200);
    expect((queue.body as { items: { intent_id: string }[] }).items.map((item) => item.intent_id)).toContain(
      intent.id,
    );
    // The packager may not approve their own intent.
    const self = await api.agent('packager@example.com', ['cab_member']);
    await self.post(`/api/v1/cab/${intent.id}/decision`).send({ decision: 'APPROVED' }).expect(403);
    const decision = await cab
      .post(`/api/v1/cab/${intent.id}/decision`)
      .send({ decision: 'APPROVED', comments: 'exception EXC-2026-114 reviewed' })
      .expect(200);
    expect(decision.body).toMatchObject({ intent_id: intent.id, status: 'APPROVED', decision: 'APPROVED' });

    // The reference connector polls the API over the socket until the rollout is done.
    const controller = new AbortController();
    const connector = runConnector({
      baseUrl,
      apiKey,
      connectorType: 'intune',
      successCount: 1_000,
      failureCount: 0,
      intervalMs: 50,
      interimReports: 1,
      signal: controller.signal,
    });
    const finished = await eventually(
      async () => {
        const res = await auditor.get(`/api/v1/deployment-intents/${intent.id}`).expect(200);
        const body = res.body as Intent;
        return body.status === 'COMPLETED' ? body : undefined;
      },
      'the intent to complete',
      90_000,
    );
    controller.abort();
    const summary = await connector;
    expect(summary.completed).toBe(RINGS.length);
    expect(finished.rings.map((ring) => [ring.ring, ring.action, ring.outcome, ring.success_count])).toEqual(
      RINGS.map((ring) => [ring, 'DEPLOY', 'SUCCEEDED', 1_000]),
    );

    // The auditor reads the whole trail back, page by page.
    const events: EventPage['items'] = [];
    let cursor: string | null = null;
    do {
      const path = `/api/v1/events?intent_id=${intent.id}&limit=20${cursor === null ? '' : `&cursor=${cursor}`}`;
      const page = (await auditor.get(path).expect(200)).body as EventPage;
      events.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor !== null);
    const types = events.map((event) => event.event_type);
    expect(types.slice(0, 4)).toEqual(['INTENT_CREATED', 'RISK_ASSESSED', 'CAB_REQUESTED', 'CAB_DECIDED']);
    expect(types.at(-1)).toBe('COMPLETED');
    for (const type of ['RING_STARTED', 'RING_REPORTED', 'GATE_PASSED']) {
      expect(types.filter((t) => t === type)).toHaveLength(RINGS.length);
    }
    expect(types.filter((t) => t === 'CONNECTOR_REPORTED')).toHaveLength(2 * RINGS.length);
    expect(events.every((event) => event.correlation_id === intent.correlation_id)).toBe(true);
    expect(events.find((event) => event.event_type === 'CAB_DECIDED')?.actor).toBe('cab.chair@example.com');
    expect(events.find((event) => event.event_type === 'CONNECTOR_REPORTED')?.actor).toBe(
      'connector:intune-e2e',
    );

    // A retried submission with the same key returns the same intent and starts nothing new.
    const retried = await submitter
      .post('/api/v1/deployment-intents')
      .set('Idempotency-Key', 'e2e-7zip-24.08')
      .send(intentRequest)
      .expect(201);
    expect((retried.body as Created).id).toBe(intent.id);
    const anonymous: Agent = api.anonymous();
    await anonymous.get(`/api/v1/events?intent_id=${intent.id}`).expect(401);
    await request(baseUrl).get('/api/v1/health').expect(200);
  });
});
