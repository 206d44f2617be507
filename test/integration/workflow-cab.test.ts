import { WorkflowUpdateFailedError } from '@temporalio/client';
import { Harness, SUBMITTER, fastPolicy } from '../helpers/harness';
import { databaseKinds } from '../helpers/database';
import { RINGS } from '../../policy/rings';
import { FailureTypes, WITHHELD_MESSAGE } from '../../workflows/definitions';
import { highRiskEvidence, lowRiskEvidence, quorumRiskEvidence } from '../fixtures/evidence';

async function updateFailure(promise: Promise<unknown>): Promise<{ type?: string }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
  return (error as WorkflowUpdateFailedError).cause as { type?: string };
}

describe.each(databaseKinds())('deploymentIntentWorkflow CAB decisions (%s)', (kind) => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await Harness.start(fastPolicy({ cabTimeoutMs: 60_000 }), kind);
  });
  afterAll(async () => {
    await harness.close();
  });

  it('waits for the CAB on a high-risk intent and completes once approved', async () => {
    const { intent, risk } = await harness.submit({ evidencePack: highRiskEvidence() });
    expect(risk?.requiresCab).toBe(true);
    expect(risk?.score).toBeGreaterThan(risk?.threshold ?? 100);
    const waiting = await harness.reachStatus(intent.workflowId, 'AWAITING_CAB');
    expect(waiting.cab).toMatchObject({ state: 'PENDING' });
    expect(await harness.tenant.cabApprovals.forIntent(intent.id)).toMatchObject({ state: 'PENDING' });

    const verdict = await harness.decide(intent.workflowId, { comments: 'exception reviewed' });
    expect(verdict).toEqual({
      status: 'APPROVED',
      decision: 'APPROVED',
      approvers: ['cab.chair@example.com'],
      requiredApprovals: 1,
    });
    for (const ring of RINGS) await harness.complete(intent, ring, { success: 1000, failure: 0 });
    expect((await harness.result(intent.workflowId)).status).toBe('COMPLETED');
    expect(await harness.tenant.cabApprovals.forIntent(intent.id)).toMatchObject({
      state: 'APPROVED',
      approverId: 'cab.chair@example.com',
      comments: 'exception reviewed',
    });
    const events = await harness.eventTypes(intent.id);
    expect(events.slice(0, 4)).toEqual(['INTENT_CREATED', 'RISK_ASSESSED', 'CAB_REQUESTED', 'CAB_DECIDED']);
    harness.recordHistory('high-risk-approved', intent.workflowId);
  });

  it('ends REJECTED when the CAB rejects', async () => {
    const { intent } = await harness.submit({ evidencePack: highRiskEvidence() });
    await harness.reachStatus(intent.workflowId, 'AWAITING_CAB');
    expect(await harness.decide(intent.workflowId, { decision: 'REJECTED', comments: 'no' })).toMatchObject({
      status: 'REJECTED',
    });
    expect(await harness.result(intent.workflowId)).toEqual({
      status: 'REJECTED',
      completedRings: [],
      rolledBackRings: [],
      failure: null,
    });
    expect(await harness.tenant.ringDeployments.forIntent(intent.id)).toEqual([]);
    expect((await harness.tenant.intents.get(intent.id))?.status).toBe('REJECTED');
    harness.recordHistory('high-risk-rejected', intent.workflowId);
  });

  it('ends EXPIRED when no decision comes before the CAB timeout', async () => {
    const service = harness.withPolicy(fastPolicy({ cabTimeoutMs: 1_500 }));
    const { intent } = await harness.submit({ evidencePack: highRiskEvidence() }, service);
    expect((await harness.result(intent.workflowId)).status).toBe('EXPIRED');
    expect(await harness.tenant.cabApprovals.forIntent(intent.id)).toMatchObject({ state: 'EXPIRED' });
    expect((await harness.eventTypes(intent.id)).at(-1)).toBe('EXPIRED');
    harness.recordHistory('high-risk-expired', intent.workflowId);
  });

  it('records a CAB comment the database cannot store as withheld, and the intent moves on', async () => {
    const { intent } = await harness.submit({ evidencePack: highRiskEvidence() });
    await harness.reachStatus(intent.workflowId, 'AWAITING_CAB');
    // The API refuses NUL with a 400; a client of Temporal (or a future field) can still bring one.
    const decision = harness.decide(intent.workflowId, {
      decision: 'CONDITIONAL',
      comments: 'a\u0000b',
      conditions: { maxRing: 'LAB' },
    });
    expect(await decision).toMatchObject({ status: 'APPROVED' });
    await harness.complete(intent, 'LAB', { success: 10, failure: 0 });
    expect((await harness.result(intent.workflowId)).status).toBe('COMPLETED');
    expect(await harness.tenant.cabApprovals.forIntent(intent.id)).toMatchObject({
      state: 'CONDITIONAL',
      comments: WITHHELD_MESSAGE,
    });
    const withheld = await harness.tenant.events.list(
      { intentId: intent.id, eventType: 'MESSAGE_WITHHELD' },
      { limit: 10 },
    );
    expect(withheld.items.map((event) => event.payload)).toEqual([
      expect.objectContaining({
        event_type: 'CAB_DECIDED',
        field: 'comments',
        failure_type: FailureTypes.UnstorableData,
      }),
    ]);
    harness.recordHistory('cab-comment-withheld', intent.workflowId);
  });

  it('records pause and abort reasons the database cannot store as withheld, and the abort ends the intent', async () => {
    const { intent } = await harness.submit({ evidencePack: highRiskEvidence() });
    await harness.reachStatus(intent.workflowId, 'AWAITING_CAB');
    const handle = harness.handle(intent.workflowId);
    await handle.signal('pause', { by: 'operator@example.com', reason: 'freeze\u0000' });
    await handle.signal('abort', { by: 'operator@example.com', reason: 'with\u0000drawn' });
    expect((await harness.result(intent.workflowId)).status).toBe('ABORTED');
    expect(await harness.tenant.cabApprovals.forIntent(intent.id)).toMatchObject({ state: 'CANCELLED' });
    expect((await harness.tenant.intents.get(intent.id))?.status).toBe('ABORTED');
    const events = (await harness.tenant.events.list({ intentId: intent.id }, { limit: 50 })).items;
    const reasons = Object.fromEntries(
      events
        .filter((event) => ['PAUSE_REQUESTED', 'ABORT_REQUESTED', 'ABORTED'].includes(event.eventType))
        .map((event) => [event.eventType, (event.payload as { reason?: unknown }).reason]),
    );
    expect(reasons).toEqual({
      PAUSE_REQUESTED: WITHHELD_MESSAGE,
      ABORT_REQUESTED: WITHHELD_MESSAGE,
      ABORTED: WITHHELD_MESSAGE,
    });
    expect(events.filter((event) => event.eventType === 'MESSAGE_WITHHELD').length).toBeGreaterThanOrEqual(2);
  });

  it("refuses a decision by the intent's own submitter", async () => {
    const { intent } = await harness.submit({ evidencePack: highRiskEvidence() });
    await harness.reachStatus(intent.workflowId, 'AWAITING_CAB');
    const cause = await updateFailure(harness.decide(intent.workflowId, { approverId: SUBMITTER.id }));
    expect(cause.type).toBe('SelfApprovalForbidden');
    // The refused update left no trace: the intent still waits and the CAB can still decide.
    expect((await harness.state(intent.workflowId)).status).toBe('AWAITING_CAB');
    await harness.decide(intent.workflowId, { decision: 'REJECTED' });
    await harness.result(intent.workflowId);
  });

  it('refuses CONDITIONAL without conditions and a max_ring beyond the target', async () => {
    const { intent } = await harness.submit({ evidencePack: highRiskEvidence(), targetRing: 'CANARY' });
    await harness.reachStatus(intent.workflowId, 'AWAITING_CAB');
    expect((await updateFailure(harness.decide(intent.workflowId, { decision: 'CONDITIONAL' }))).type).toBe(
      'InvalidCabDecision',
    );
    const beyond = harness.decide(intent.workflowId, {
      decision: 'CONDITIONAL',
      conditions: { maxRing: 'GLOBAL' },
    });
    expect((await updateFailure(beyond)).type).toBe('InvalidCabDecision');
    await harness.decide(intent.workflowId, { decision: 'REJECTED' });
    await harness.result(intent.workflowId);
  });

  it('never auto-approves a FAIL scan decision, whatever the score', async () => {
    const { intent, risk } = await harness.submit({
      targetRing: 'LAB',
      evidencePack: lowRiskEvidence({ scan_decision: { decision: 'FAIL', reason: 'malware heuristics' } }),
    });
    expect(risk).toMatchObject({ requiresCab: true, autoApprovalBlockers: ['SCAN_DECISION_FAIL'] });
    expect(risk?.score).toBeLessThanOrEqual(risk?.threshold ?? 0);
    await harness.reachStatus(intent.workflowId, 'AWAITING_CAB');
    await harness.decide(intent.workflowId, { decision: 'REJECTED' });
    await harness.result(intent.workflowId);
  });

  it('ends ABORTED when aborted while awaiting the CAB', async () => {
    const { intent } = await harness.submit({ evidencePack: highRiskEvidence() });
    await harness.reachStatus(intent.workflowId, 'AWAITING_CAB');
    await harness
      .handle(intent.workflowId)
      .signal('abort', { by: 'operator@example.com', reason: 'withdrawn' });
    expect((await harness.result(intent.workflowId)).status).toBe('ABORTED');
    expect(await harness.tenant.cabApprovals.forIntent(intent.id)).toMatchObject({ state: 'CANCELLED' });
  });

  describe('N-of-M quorum (risk at or above 80 needs two distinct approvals)', () => {
    const SECOND_MEMBER = 'cab.deputy@example.com';

    it('stays AWAITING_CAB after one approval, counts a member once, and approves on the second member', async () => {
      const { intent, risk } = await harness.submit({ evidencePack: quorumRiskEvidence() });
      expect(risk?.score).toBeGreaterThanOrEqual(80);
      const waiting = await harness.reachStatus(intent.workflowId, 'AWAITING_CAB');
      expect(waiting.cab).toMatchObject({ state: 'PENDING', requiredApprovals: 2 });
      expect(await harness.tenant.cabApprovals.forIntent(intent.id)).toMatchObject({
        state: 'PENDING',
        requiredApprovals: 2,
        approvals: [],
      });

      const first = await harness.decide(intent.workflowId, { comments: 'first look' });
      expect(first).toEqual({
        status: 'AWAITING_CAB',
        decision: 'APPROVED',
        approvers: ['cab.chair@example.com'],
        requiredApprovals: 2,
      });
      expect((await harness.state(intent.workflowId)).status).toBe('AWAITING_CAB');
      expect((await harness.tenant.intents.get(intent.id))?.status).toBe('AWAITING_CAB');

      // The same member approving twice counts once: refused, and the intent still waits.
      const again = await updateFailure(harness.decide(intent.workflowId));
      expect(again.type).toBe(FailureTypes.AlreadyApproved);
      expect((await harness.state(intent.workflowId)).cab.approvals).toHaveLength(1);

      const second = await harness.decide(intent.workflowId, {
        approverId: SECOND_MEMBER,
        decision: 'CONDITIONAL',
        conditions: { maxRing: 'CANARY' },
        comments: 'canary only',
      });
      expect(second).toEqual({
        status: 'APPROVED',
        decision: 'CONDITIONAL',
        conditions: { maxRing: 'CANARY' },
        approvers: ['cab.chair@example.com', SECOND_MEMBER],
        requiredApprovals: 2,
      });
      await harness.complete(intent, 'LAB', { success: 10, failure: 0 });
      await harness.complete(intent, 'CANARY', { success: 10, failure: 0 });
      expect(await harness.result(intent.workflowId)).toMatchObject({
        status: 'COMPLETED',
        completedRings: ['LAB', 'CANARY'],
      });

      const row = await harness.tenant.cabApprovals.forIntent(intent.id);
      expect(row).toMatchObject({
        state: 'CONDITIONAL',
        approverId: SECOND_MEMBER,
        requiredApprovals: 2,
        evidenceHash: risk?.evidenceHash,
        riskModelVersion: risk?.modelVersion,
        conditions: { maxRing: 'CANARY' },
      });
      expect(row?.approvals.map((approval) => [approval.approverId, approval.decision])).toEqual([
        ['cab.chair@example.com', 'APPROVED'],
        [SECOND_MEMBER, 'CONDITIONAL'],
      ]);
      const events = (await harness.tenant.events.list({ intentId: intent.id }, { limit: 50 })).items;
      expect(events.slice(0, 5).map((event) => [event.eventType, event.actor])).toEqual([
        ['INTENT_CREATED', SUBMITTER.id],
        ['RISK_ASSESSED', 'system:workflow'],
        ['CAB_REQUESTED', 'system:workflow'],
        ['CAB_APPROVAL_RECORDED', 'cab.chair@example.com'],
        ['CAB_DECIDED', SECOND_MEMBER],
      ]);
      expect(events[3]?.payload).toMatchObject({
        decision: 'APPROVED',
        comments: 'first look',
        approvals: 1,
        required_approvals: 2,
        evidence_hash: risk?.evidenceHash,
      });
      expect(events[4]?.payload).toMatchObject({
        decision: 'CONDITIONAL',
        approvers: ['cab.chair@example.com', SECOND_MEMBER],
        evidence_hash: risk?.evidenceHash,
        risk_model_version: risk?.modelVersion,
      });
      harness.recordHistory('high-risk-quorum-approved', intent.workflowId);
    });

    it('ends REJECTED on a rejection after one approval', async () => {
      const { intent } = await harness.submit({ evidencePack: quorumRiskEvidence() });
      await harness.reachStatus(intent.workflowId, 'AWAITING_CAB');
      await harness.decide(intent.workflowId);
      const verdict = await harness.decide(intent.workflowId, {
        approverId: SECOND_MEMBER,
        decision: 'REJECTED',
        comments: 'too risky',
      });
      expect(verdict).toMatchObject({ status: 'REJECTED', decision: 'REJECTED' });
      expect((await harness.result(intent.workflowId)).status).toBe('REJECTED');
      expect(await harness.tenant.cabApprovals.forIntent(intent.id)).toMatchObject({
        state: 'REJECTED',
        approverId: SECOND_MEMBER,
      });
      expect(await harness.tenant.ringDeployments.forIntent(intent.id)).toEqual([]);
      harness.recordHistory('high-risk-quorum-rejected', intent.workflowId);
    });

    it('needs one approval below the threshold', async () => {
      const { intent, risk } = await harness.submit({ evidencePack: highRiskEvidence() });
      expect(risk?.score).toBeLessThan(80);
      await harness.reachStatus(intent.workflowId, 'AWAITING_CAB');
      const verdict = await harness.decide(intent.workflowId, {
        decision: 'CONDITIONAL',
        conditions: { maxRing: 'LAB' },
      });
      expect(verdict).toMatchObject({ status: 'APPROVED', requiredApprovals: 1 });
      await harness.complete(intent, 'LAB', { success: 10, failure: 0 });
      expect((await harness.result(intent.workflowId)).status).toBe('COMPLETED');
    });
  });
});
