import { randomUUID } from 'node:crypto';
import type { IntentService } from '../../api/services/intents';
import type { DeploymentIntentRow } from '../../db/repositories/deployment-intents';
import type { Ring } from '../../policy/rings';
import { intentStateQuery } from '../../workflows/definitions';
import { highRiskEvidence, quorumRiskEvidence } from '../fixtures/evidence';
import { ApiHarness } from '../helpers/api';
import type { Agent } from '../helpers/api';
import { CAB_MEMBER, SUBMITTER, TENANT_B, eventually, submission } from '../helpers/harness';

interface QueueItem {
  intent_id: string;
  correlation_id: string;
  app_name: string;
  target_ring: string;
  submitter_id: string;
  requested_at: string;
  deadline_at: string;
  risk: { score: number; threshold: number; requires_cab: boolean; model_version: string } | null;
  evidence_summary: Record<string, unknown>;
}
interface QueuePage {
  items: QueueItem[];
  next_cursor: string | null;
}
interface Problem {
  type: string;
  status: number;
  detail?: string;
  errors?: { field: string; message: string }[];
}

describe('CAB endpoints', () => {
  let api: ApiHarness;
  let intents: IntentService;
  let cab: Agent;

  beforeAll(async () => {
    api = await ApiHarness.start();
    intents = api.intentService();
    cab = await api.agent(CAB_MEMBER.id, ['cab_member']);
  });
  afterAll(async () => {
    await api.close();
  });
  afterEach(() => {
    expect(api.contractViolations()).toEqual([]);
  });

  /** Submits a high-risk intent as SUBMITTER and waits until its workflow asks the CAB. */
  async function awaitingCab(
    targetRing: Ring = 'GLOBAL',
    evidencePack = highRiskEvidence(),
  ): Promise<DeploymentIntentRow> {
    const { intent } = await intents.submit(
      api.tenant(),
      SUBMITTER,
      randomUUID(),
      submission({ evidencePack, targetRing }),
      undefined,
    );
    await eventually(
      async () => (await api.tenant().cabApprovals.forIntent(intent.id))?.state,
      'the CAB request',
    );
    return intent;
  }

  function workflowStatus(intent: DeploymentIntentRow) {
    return api.temporal.client.workflow
      .getHandle(intent.workflowId)
      .query(intentStateQuery)
      .then((state) => state.status);
  }

  async function queue(agent: Agent, query = ''): Promise<QueuePage> {
    const res = await agent.get(`/api/v1/cab/pending${query}`).expect(200);
    return res.body as QueuePage;
  }

  function decide(agent: Agent, intentId: string, body: unknown) {
    return agent.post(`/api/v1/cab/${intentId}/decision`).send(body as object);
  }

  describe('GET /cab/pending', () => {
    it('shows an intent awaiting CAB with its risk assessment and evidence summary', async () => {
      const intent = await awaitingCab();
      const page = await queue(cab);
      const item = page.items.find((entry) => entry.intent_id === intent.id);
      expect(item).toMatchObject({
        correlation_id: intent.correlationId,
        app_name: '7-Zip',
        version: '24.08',
        target_ring: 'GLOBAL',
        submitter_id: SUBMITTER.id,
        risk: { requires_cab: true, model_version: expect.any(String) as string },
        evidence_summary: {
          signature_status: 'UNSIGNED',
          scan_decision: 'EXCEPTION',
          exception_expires_at: '2027-06-30T00:00:00Z',
          vulnerabilities: { critical: 2, high: 3, medium: 5 },
          sbom_complete: true,
          sbom_component_count: 12,
          rollback_platforms: ['windows', 'macos', 'linux'],
          rollback_tested: true,
          test_evidence: {
            lab: { status: 'PASSED', devices_tested: 3, success_rate: 1 },
            ring0: { status: 'PASSED', devices_tested: 25, success_rate: 1 },
          },
          missing_evidence: [],
        },
      });
      expect(item?.risk?.score).toBeGreaterThan(item?.risk?.threshold ?? 100);
      expect(Date.parse(item?.deadline_at ?? '')).toBeGreaterThan(Date.parse(item?.requested_at ?? ''));
    });

    it('lets operators and auditors read the queue, but not submitters or anonymous callers', async () => {
      await queue(await api.agent('ops@example.com', ['operator']));
      await queue(await api.agent('audit@example.com', ['auditor']));
      await (await api.agent(SUBMITTER.id, ['submitter'])).get('/api/v1/cab/pending').expect(403);
      await api.anonymous().get('/api/v1/cab/pending').expect(401);
    });

    it('pages through the queue oldest request first', async () => {
      const first = await awaitingCab();
      const second = await awaitingCab();
      const seen: QueueItem[] = [];
      let cursor: string | null = null;
      do {
        const page: QueuePage = await queue(cab, `?limit=1${cursor === null ? '' : `&cursor=${cursor}`}`);
        expect(page.items.length).toBeLessThanOrEqual(1);
        seen.push(...page.items);
        cursor = page.next_cursor;
      } while (cursor !== null);
      const ids = seen.map((item) => item.intent_id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.indexOf(first.id)).toBeLessThan(ids.indexOf(second.id));
      expect(ids.indexOf(first.id)).toBeGreaterThanOrEqual(0);
      const requested = seen.map((item) => Date.parse(item.requested_at));
      expect(requested).toEqual([...requested].sort((a, b) => a - b));
    });

    it('answers a cursor it did not issue with a 400 naming the cursor', async () => {
      const res = await cab.get('/api/v1/cab/pending?cursor=bm90LWEtY3Vyc29y').expect(400);
      expect((res.body as Problem).errors?.map((e) => e.field)).toEqual(['cursor']);
      const forged = Buffer.from(JSON.stringify([Date.now(), 'not-a-uuid'])).toString('base64url');
      const again = await cab.get(`/api/v1/cab/pending?cursor=${forged}`).expect(400);
      expect((again.body as Problem).errors?.map((e) => e.field)).toEqual(['cursor']);
    });

    it('shows another tenant nothing of this tenant’s queue', async () => {
      const intent = await awaitingCab();
      const other = await api.agent('cab@tenant-b.example.com', ['cab_member'], TENANT_B);
      const page = await queue(other);
      expect(page.items.map((item) => item.intent_id)).not.toContain(intent.id);
    });
  });

  describe('POST /cab/{intent_id}/decision', () => {
    it('approves: 200 with the verdict, the workflow leaves AWAITING_CAB and the approver is on record', async () => {
      const intent = await awaitingCab();
      const res = await decide(cab, intent.id, {
        decision: 'APPROVED',
        comments: 'exception is in date',
      }).expect(200);
      expect(res.body).toMatchObject({ intent_id: intent.id, decision: 'APPROVED', conditions: null });
      expect((res.body as { status: string }).status).not.toBe('AWAITING_CAB');
      expect(await workflowStatus(intent)).not.toBe('AWAITING_CAB');

      const approval = await api.tenant().cabApprovals.forIntent(intent.id);
      expect(approval).toMatchObject({
        state: 'APPROVED',
        approverId: CAB_MEMBER.id,
        comments: 'exception is in date',
      });
      const events = await api
        .tenant()
        .events.list({ intentId: intent.id, eventType: 'CAB_DECIDED' }, { limit: 5 });
      expect(events.items.map((event) => event.actor)).toEqual([CAB_MEMBER.id]);
      expect((await queue(cab)).items.map((item) => item.intent_id)).not.toContain(intent.id);
    });

    it('binds the decision to the evidence: the pack’s hash is accepted, any other is 409 stale-evidence', async () => {
      const intent = await awaitingCab();
      const item = (await queue(cab)).items.find((entry) => entry.intent_id === intent.id);
      const evidenceHash = item?.evidence_summary.evidence_hash as string;
      expect(evidenceHash).toMatch(/^[0-9a-f]{64}$/);
      const stale = await decide(cab, intent.id, {
        decision: 'APPROVED',
        evidence_hash: 'f'.repeat(64),
      }).expect(409);
      expect((stale.body as Problem).type).toContain('stale-evidence');
      expect(await workflowStatus(intent)).toBe('AWAITING_CAB');
      const refused = await api
        .tenant()
        .events.list({ intentId: intent.id, eventType: 'CAB_DECISION_REFUSED' }, { limit: 5 });
      expect(refused.items.map((event) => [event.actor, event.payload])).toEqual([
        [
          CAB_MEMBER.id,
          {
            reason: 'stale-evidence',
            decision: 'APPROVED',
            evidence_hash_reviewed: 'f'.repeat(64),
            evidence_hash: evidenceHash,
          },
        ],
      ]);
      const malformed = await decide(cab, intent.id, { decision: 'APPROVED', evidence_hash: 'F00' }).expect(
        400,
      );
      expect((malformed.body as Problem).errors?.map((error) => error.field)).toEqual(['evidence_hash']);

      await decide(cab, intent.id, { decision: 'APPROVED', evidence_hash: evidenceHash }).expect(200);
      const approval = await api.tenant().cabApprovals.forIntent(intent.id);
      expect(approval).toMatchObject({ state: 'APPROVED', evidenceHash });
      expect(approval?.riskModelVersion).toEqual(item?.risk?.model_version);
      const [decided] = (
        await api.tenant().events.list({ intentId: intent.id, eventType: 'CAB_DECIDED' }, { limit: 5 })
      ).items;
      expect(decided?.payload).toMatchObject({
        evidence_hash: evidenceHash,
        risk_model_version: item?.risk?.model_version,
      });
    });

    it('waits for a quorum of two distinct members at risk 80 and above, counting a member once', async () => {
      const deputy = await api.agent('cab.deputy@example.com', ['cab_member']);
      const intent = await awaitingCab('GLOBAL', quorumRiskEvidence());
      const listed = (await queue(cab)).items.find((entry) => entry.intent_id === intent.id);
      expect(listed?.risk?.score).toBeGreaterThanOrEqual(80);
      expect(listed).toMatchObject({ required_approvals: 2, approvals: [] });

      const first = await decide(cab, intent.id, { decision: 'APPROVED' }).expect(200);
      expect(first.body).toMatchObject({
        status: 'AWAITING_CAB',
        decision: 'APPROVED',
        approvers: [CAB_MEMBER.id],
        required_approvals: 2,
      });
      const again = await decide(cab, intent.id, { decision: 'APPROVED' }).expect(409);
      expect((again.body as Problem).type).toContain('already-approved');
      const waiting = (await queue(cab)).items.find((entry) => entry.intent_id === intent.id);
      expect(waiting).toMatchObject({
        required_approvals: 2,
        approvals: [{ approver_id: CAB_MEMBER.id, decision: 'APPROVED' }],
      });
      expect(await workflowStatus(intent)).toBe('AWAITING_CAB');

      const second = await decide(deputy, intent.id, { decision: 'APPROVED' }).expect(200);
      expect(second.body).toMatchObject({
        status: 'APPROVED',
        approvers: [CAB_MEMBER.id, 'cab.deputy@example.com'],
        required_approvals: 2,
      });
      expect((await queue(cab)).items.map((item) => item.intent_id)).not.toContain(intent.id);
      const types = await api.tenant().events.list({ intentId: intent.id }, { limit: 20 });
      expect(types.items.map((event) => event.eventType)).toEqual(
        expect.arrayContaining(['CAB_APPROVAL_RECORDED', 'CAB_DECIDED']),
      );
    });

    it('answers 409 to a second decision while the rollout runs', async () => {
      const intent = await awaitingCab();
      await decide(cab, intent.id, { decision: 'APPROVED' }).expect(200);
      const res = await decide(cab, intent.id, { decision: 'REJECTED' }).expect(409);
      expect((res.body as Problem).type).toContain('not-awaiting-cab');
      expect((await api.tenant().cabApprovals.forIntent(intent.id))?.state).toBe('APPROVED');
    });

    it('rejects: 200 with status REJECTED, and a later decision on the closed intent is 409', async () => {
      const intent = await awaitingCab();
      const res = await decide(cab, intent.id, { decision: 'REJECTED', comments: 'unsigned binary' }).expect(
        200,
      );
      expect(res.body).toEqual({
        intent_id: intent.id,
        status: 'REJECTED',
        decision: 'REJECTED',
        conditions: null,
        approvers: [],
        required_approvals: 1,
      });
      await api.temporal.client.workflow.getHandle(intent.workflowId).result();
      const again = await decide(cab, intent.id, { decision: 'APPROVED' }).expect(409);
      expect((again.body as Problem).type).toContain('not-awaiting-cab');
    });

    it('approves with conditions, converting extra_soak to milliseconds', async () => {
      const intent = await awaitingCab();
      const res = await decide(cab, intent.id, {
        decision: 'CONDITIONAL',
        conditions: { max_ring: 'PILOT', extra_soak: '2h', manual_promotion: true },
      }).expect(200);
      expect(res.body).toMatchObject({
        intent_id: intent.id,
        decision: 'CONDITIONAL',
        conditions: { max_ring: 'PILOT', extra_soak_ms: 7_200_000, manual_promotion: true },
      });
      expect((await api.tenant().cabApprovals.forIntent(intent.id))?.conditions).toEqual({
        maxRing: 'PILOT',
        extraSoakMs: 7_200_000,
        manualPromotion: true,
      });
    });

    it('refuses the intent’s own submitter with 403, even as a CAB member', async () => {
      const intent = await awaitingCab();
      const submitterOnCab = await api.agent(SUBMITTER.id, ['cab_member']);
      const res = await decide(submitterOnCab, intent.id, { decision: 'APPROVED' }).expect(403);
      expect((res.body as Problem).detail).toMatch(/submitter/);
      expect(await workflowStatus(intent)).toBe('AWAITING_CAB');
    });

    it('answers 422 to decisions the CAB rules forbid, and the intent keeps waiting', async () => {
      const intent = await awaitingCab('CANARY');
      const bare = await decide(cab, intent.id, { decision: 'CONDITIONAL' }).expect(422);
      expect((bare.body as Problem).errors?.map((e) => e.field)).toEqual(['conditions']);
      await decide(cab, intent.id, { decision: 'APPROVED', conditions: { manual_promotion: true } }).expect(
        422,
      );
      const beyond = await decide(cab, intent.id, {
        decision: 'CONDITIONAL',
        conditions: { max_ring: 'PILOT' },
      }).expect(422);
      expect((beyond.body as Problem).errors?.map((e) => e.field)).toEqual(['conditions.max_ring']);
      expect(await workflowStatus(intent)).toBe('AWAITING_CAB');
      expect((await api.tenant().cabApprovals.forIntent(intent.id))?.state).toBe('PENDING');
    });

    it('answers 400 naming conditions.extra_soak when it is not a duration, and names unknown fields', async () => {
      const intent = await awaitingCab();
      for (const extraSoak of ['two hours', '2x', '', '31d']) {
        const res = await decide(cab, intent.id, {
          decision: 'CONDITIONAL',
          conditions: { extra_soak: extraSoak },
        }).expect(400);
        expect((res.body as Problem).errors?.map((e) => e.field)).toEqual(['conditions.extra_soak']);
      }
      const res = await decide(cab, intent.id, { decision: 'MAYBE', approver_id: 'someone-else' }).expect(
        400,
      );
      expect((res.body as Problem).errors?.map((e) => e.field)).toEqual(
        expect.arrayContaining(['decision', 'approver_id']),
      );
      await cab.post('/api/v1/cab/not-a-uuid/decision').send({ decision: 'APPROVED' }).expect(400);
      expect(await workflowStatus(intent)).toBe('AWAITING_CAB');
    });

    it('answers 404 for an unknown intent and for another tenant’s intent', async () => {
      await decide(cab, randomUUID(), { decision: 'APPROVED' }).expect(404);
      const intent = await awaitingCab();
      const other = await api.agent('cab@tenant-b.example.com', ['cab_member'], TENANT_B);
      await decide(other, intent.id, { decision: 'APPROVED' }).expect(404);
      expect(await workflowStatus(intent)).toBe('AWAITING_CAB');
    });

    it('lets only CAB members decide: auditors, operators and submitters get 403, anonymous 401', async () => {
      const intent = await awaitingCab();
      for (const role of ['auditor', 'operator', 'submitter'] as const) {
        const agent = await api.agent(`${role}@example.com`, [role]);
        await decide(agent, intent.id, { decision: 'APPROVED' }).expect(403);
      }
      await decide(api.anonymous(), intent.id, { decision: 'APPROVED' }).expect(401);
      expect(await workflowStatus(intent)).toBe('AWAITING_CAB');
    });
  });
});
