import { ApiHarness } from '../helpers/api';
import type { Agent } from '../helpers/api';
import { eventually } from '../helpers/harness';
import { highRiskEvidence, lowRiskEvidence } from '../fixtures/evidence';
import { intentStateQuery } from '../../workflows/definitions';

/** One person who holds every role a rollout passes through: only separation of duties stops them. */
const LEAD = 'lead@example.com';
const LEAD_ROLES = ['submitter', 'cab_member', 'operator'] as const;

interface Created {
  id: string;
  correlation_id: string;
  workflow_id: string;
}

function intentBody(evidence = lowRiskEvidence()) {
  return {
    app_name: '7-Zip',
    version: '24.08',
    target_ring: 'CANARY',
    connectors: { windows: 'intune' },
    evidence_pack: evidence,
  };
}

async function refusals(api: ApiHarness, actor: string) {
  const trail = await api.tenant().events.list({ eventType: 'AUTHZ_DENIED' }, { limit: 200 });
  return trail.items.filter((event) => event.actor === actor).map((event) => event.payload);
}

describe('separation of duties on the human gates', () => {
  let api: ApiHarness;
  let lead: Agent;
  let cab: Agent;
  let operator: Agent;
  beforeAll(async () => {
    api = await ApiHarness.start();
    lead = await api.agent(LEAD, [...LEAD_ROLES]);
    cab = await api.agent('cab.chair@example.com', ['cab_member']);
    operator = await api.agent('ops@example.com', ['operator']);
  });
  afterAll(async () => {
    await api.close();
  });
  afterEach(() => {
    expect(api.contractViolations()).toEqual([]);
  });

  it('refuses the submitter the CAB decision, the promotion and the resumption of their own intent, and lets others pass them', async () => {
    const created = (
      await lead.post('/api/v1/deployment-intents').send(intentBody(highRiskEvidence())).expect(201)
    ).body as Created;
    const path = `/api/v1/deployment-intents/${created.id}`;

    const ownDecision = await lead
      .post(`/api/v1/cab/${created.id}/decision`)
      .send({ decision: 'APPROVED' })
      .expect(403);
    expect(ownDecision.body).toMatchObject({
      type: expect.stringContaining('separation-of-duties') as string,
      detail: "the intent's submitter cannot decide on it",
    });
    await cab
      .post(`/api/v1/cab/${created.id}/decision`)
      .send({ decision: 'CONDITIONAL', conditions: { manual_promotion: true } })
      .expect(200);

    const handle = api.temporal.client.workflow.getHandle(created.workflow_id);
    await eventually(async () => {
      const state = await handle.query(intentStateQuery);
      return state.awaitingPromotion === 'LAB' ? state : undefined;
    }, 'LAB waiting for its manual promotion');
    const ownPromotion = await lead.post(`${path}/promote`).send({}).expect(403);
    expect(ownPromotion.body).toMatchObject({
      type: expect.stringContaining('separation-of-duties') as string,
    });
    expect((await handle.query(intentStateQuery)).awaitingPromotion).toBe('LAB');
    await operator.post(`${path}/promote`).send({}).expect(202);

    // Stopping one's own rollout is always allowed; starting it again is someone else's call.
    await lead.post(`${path}/pause`).send({ reason: 'found a bug' }).expect(202);
    await lead.post(`${path}/resume`).send({}).expect(403);
    expect((await handle.query(intentStateQuery)).paused).toBe(true);
    await operator.post(`${path}/resume`).send({}).expect(202);
    await lead.post(`${path}/abort`).send({ reason: 'withdrawn' }).expect(202);
    await eventually(async () => {
      const state = await handle.query(intentStateQuery);
      return state.abortRequested ? state : undefined;
    }, 'the abort taken');

    expect(await refusals(api, LEAD)).toEqual([
      expect.objectContaining({
        operation: 'decideCab',
        status: 403,
        reason: "the intent's submitter cannot decide on it",
      }),
      expect.objectContaining({
        operation: 'promoteDeploymentIntent',
        status: 403,
        problemType: 'separation-of-duties',
      }),
      expect.objectContaining({
        operation: 'resumeDeploymentIntent',
        status: 403,
        problemType: 'separation-of-duties',
      }),
    ]);
  }, 120_000);

  it('is decided by the API before anything reaches Temporal', async () => {
    const offline = await ApiHarness.startWithUnreachableTemporal();
    try {
      const intent = await offline.seedIntent({ submitterId: LEAD, status: 'AWAITING_CAB' });
      const own = await offline.agent(LEAD, [...LEAD_ROLES]);
      const other = await offline.agent('ops.cab@example.com', ['operator', 'cab_member']);
      const path = `/api/v1/deployment-intents/${intent.id}`;
      const started = Date.now();
      await own.post(`/api/v1/cab/${intent.id}/decision`).send({ decision: 'APPROVED' }).expect(403);
      await own.post(`${path}/promote`).send({}).expect(403);
      await own.post(`${path}/resume`).send({}).expect(403);
      // Refused at once: an unreachable orchestrator would have taken seconds and answered 503.
      expect(Date.now() - started).toBeLessThan(3_000);
      // Anyone else gets through to the orchestrator, which is unreachable here.
      await other.post(`/api/v1/cab/${intent.id}/decision`).send({ decision: 'APPROVED' }).expect(503);
      expect(await refusals(offline, LEAD)).toHaveLength(3);
      expect(offline.contractViolations()).toEqual([]);
    } finally {
      await offline.close();
    }
  }, 120_000);

  it('holds for an admin too: holding every role does not make one one’s own approver', async () => {
    const intent = await api.seedIntent({ submitterId: 'root@example.com', status: 'AWAITING_CAB' });
    const admin = await api.agent('root@example.com', ['admin']);
    await admin.post(`/api/v1/cab/${intent.id}/decision`).send({ decision: 'REJECTED' }).expect(403);
    const stranger = await api.agent('root@example.com', ['admin'], 'tenant-b');
    // The same subject in another tenant is another person, and the intent is not theirs to see.
    await stranger.post(`/api/v1/cab/${intent.id}/decision`).send({ decision: 'REJECTED' }).expect(404);
  });
});
