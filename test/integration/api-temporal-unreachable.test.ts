import { randomUUID } from 'node:crypto';
import { workflowIdForIntent } from '../../workflows/definitions';
import { highRiskEvidence, lowRiskEvidence } from '../fixtures/evidence';
import { ApiHarness } from '../helpers/api';
import { CAB_MEMBER, SUBMITTER } from '../helpers/harness';

interface Problem {
  type: string;
}

/** The API when the orchestrator does not answer: a 503, and nothing lost or half-written. */
describe('API with Temporal unreachable', () => {
  let api: ApiHarness;

  beforeAll(async () => {
    api = await ApiHarness.startWithUnreachableTemporal();
  });
  afterAll(async () => {
    await api.close();
  });
  afterEach(() => {
    expect(api.contractViolations()).toEqual([]);
  });

  it('answers 503, marks the intent FAILED and records why in the trail', async () => {
    const submitter = await api.agent('packager@example.com', ['submitter']);
    const res = await submitter
      .post('/api/v1/deployment-intents')
      .send({
        app_name: '7-Zip',
        version: '24.08',
        target_ring: 'LAB',
        connectors: { windows: 'intune' },
        evidence_pack: lowRiskEvidence(),
      })
      .expect(503);
    expect((res.body as Problem).type).toContain('service-unavailable');

    const page = await api.tenant().intents.list({}, { limit: 10 });
    expect(page.items).toHaveLength(1);
    const [intent] = page.items;
    expect(intent?.status).toBe('FAILED');
    const events = await api.tenant().events.list({ intentId: intent?.id ?? '' }, { limit: 10 });
    expect(events.items.map((event) => event.eventType)).toEqual(['INTENT_CREATED', 'FAILED']);
    expect(events.items[1]).toMatchObject({
      actor: 'system:api',
      payload: { reason: 'the workflow could not be started' },
    });
  });

  it('answers 503 and leaves the intent awaiting CAB', async () => {
    const tenant = api.tenant();
    const { row: pack } = await tenant.evidencePacks.store({
      contentHash: 'c'.repeat(64),
      content: highRiskEvidence(),
      createdBy: SUBMITTER.id,
    });
    const id = randomUUID();
    await tenant.intents.create({
      id,
      appName: '7-Zip',
      version: '24.08',
      targetRing: 'GLOBAL',
      connectors: [{ connectorType: 'intune', platforms: ['windows'] }],
      evidencePackId: pack.id,
      submitterId: SUBMITTER.id,
      status: 'AWAITING_CAB',
      correlationId: randomUUID(),
      workflowId: workflowIdForIntent(id),
      idempotencyKey: null,
    });
    const cab = await api.agent(CAB_MEMBER.id, ['cab_member']);
    const res = await cab.post(`/api/v1/cab/${id}/decision`).send({ decision: 'APPROVED' }).expect(503);
    expect((res.body as Problem).type).toContain('service-unavailable');
    expect((await tenant.intents.get(id))?.status).toBe('AWAITING_CAB');
  });
});
