import { WorkflowUpdateFailedError } from '@temporalio/client';
import { Harness, fastPolicy } from '../helpers/harness';
import { databaseKinds } from '../helpers/database';
import { RINGS } from '../../policy/rings';
import { AppNameKey, DeployRingKey, IntentStatusKey, RiskScoreKey } from '../../workflows/search-attributes';
import { randomUUID } from 'node:crypto';
import { highRiskEvidence } from '../fixtures/evidence';
import type { DeploymentIntentRow } from '../../db/repositories/deployment-intents';
import { INTENT_WORKFLOW_TASK_TIMEOUT_MS, IntentWorkflows } from '../../runtime/intent-workflows';
import { workflowIdForIntent } from '../../workflows/definitions';
import { localActivityResults } from '../faults/checks';

describe.each(databaseKinds())('deploymentIntentWorkflow rollouts (%s)', (kind) => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await Harness.start(fastPolicy(), kind);
  });
  afterAll(async () => {
    await harness.close();
  });

  it('runs a low-risk intent from LAB to GLOBAL and completes', async () => {
    const { intent, risk } = await harness.submit();
    expect(risk).toMatchObject({ requiresCab: false, modelVersion: '1.0' });
    for (const ring of RINGS) {
      await harness.complete(intent, ring, { success: 100, failure: 0 });
    }
    const outcome = await harness.result(intent.workflowId);
    expect(outcome).toEqual({
      status: 'COMPLETED',
      completedRings: [...RINGS],
      rolledBackRings: [],
      failure: null,
    });
    expect(await harness.tenant.intents.get(intent.id)).toMatchObject({
      status: 'COMPLETED',
      currentRing: 'GLOBAL',
      riskScore: risk?.score,
      requiresCab: false,
    });
    const events = await harness.eventTypes(intent.id);
    expect(events.slice(0, 3)).toEqual(['INTENT_CREATED', 'RISK_ASSESSED', 'AUTO_APPROVED']);
    expect(events.filter((type) => type === 'RING_STARTED')).toHaveLength(5);
    expect(events.filter((type) => type === 'GATE_PASSED')).toHaveLength(5);
    expect(events.filter((type) => type === 'RING_PROMOTED')).toHaveLength(4);
    expect(events.at(-1)).toBe('COMPLETED');
    const rows = await harness.tenant.ringDeployments.forIntent(intent.id);
    expect(rows.map((row) => [row.ring, row.status, row.outcome])).toEqual(
      RINGS.map((ring) => [ring, 'REPORTED', 'SUCCEEDED']),
    );
    harness.recordHistory('low-risk-completed', intent.workflowId);
  });

  it('records the correlation id in the memo and upserts the operator search attributes', async () => {
    const { intent } = await harness.submit({ appName: 'Notepad++', targetRing: 'LAB' });
    await harness.complete(intent, 'LAB', { success: 3, failure: 0 });
    await harness.result(intent.workflowId);
    const description = await harness.handle(intent.workflowId).describe();
    expect(description.memo).toMatchObject({ correlationId: intent.correlationId });
    // Its workflow tasks time out after INTENT_WORKFLOW_TASK_TIMEOUT_MS, not Temporal's 10 s (see its doc).
    const started = (await harness.handle(intent.workflowId).fetchHistory()).events?.[0];
    const taskTimeout = started?.workflowExecutionStartedEventAttributes?.workflowTaskTimeout;
    expect(Number(taskTimeout?.seconds ?? 0) * 1_000).toBe(INTENT_WORKFLOW_TASK_TIMEOUT_MS);
    expect(INTENT_WORKFLOW_TASK_TIMEOUT_MS).toBeLessThan(10_000);
    const attributes = description.typedSearchAttributes;
    expect(attributes.get(IntentStatusKey)).toBe('COMPLETED');
    expect(attributes.get(DeployRingKey)).toBe('LAB');
    expect(attributes.get(AppNameKey)).toBe('Notepad++');
    expect(attributes.get(RiskScoreKey)).toEqual(expect.any(Number));
  });

  it('deploys each ring once per connector in parallel and gates on their summed counts', async () => {
    const { intent } = await harness.submit({
      targetRing: 'CANARY',
      connectors: { windows: 'intune', macos: 'jamf', linux: 'ansible' },
    });
    for (const ring of ['LAB', 'CANARY'] as const) {
      await harness.complete(intent, ring, { success: 50, failure: 0 }, 'DEPLOY', 'intune');
      await harness.complete(intent, ring, { success: 20, failure: 0 }, 'DEPLOY', 'jamf');
      // 98 of 100 reporting devices succeed in CANARY: exactly at its 98% gate.
      await harness.complete(
        intent,
        ring,
        ring === 'LAB' ? { success: 30, failure: 0 } : { success: 28, failure: 2 },
        'DEPLOY',
        'ansible',
      );
    }
    const outcome = await harness.result(intent.workflowId);
    expect(outcome.status).toBe('COMPLETED');
    const state = await harness.state(intent.workflowId);
    expect(state.rings.find((r) => r.ring === 'CANARY')?.verdict).toMatchObject({
      passed: true,
      reportingDevices: 100,
      successRate: 0.98,
    });
  });

  it('stops after PILOT when the CAB approves with max_ring PILOT', async () => {
    const { intent } = await harness.submit({ evidencePack: highRiskEvidence() });
    await harness.reachStatus(intent.workflowId, 'AWAITING_CAB');
    const verdict = await harness.decide(intent.workflowId, {
      decision: 'CONDITIONAL',
      conditions: { maxRing: 'PILOT' },
    });
    expect(verdict).toMatchObject({ decision: 'CONDITIONAL', status: 'APPROVED' });
    for (const ring of ['LAB', 'CANARY', 'PILOT'] as const) {
      await harness.complete(intent, ring, { success: 100, failure: 0 });
    }
    const outcome = await harness.result(intent.workflowId);
    expect(outcome).toMatchObject({ status: 'COMPLETED', completedRings: ['LAB', 'CANARY', 'PILOT'] });
    const rings = await harness.tenant.ringDeployments.forIntent(intent.id);
    expect(rings.map((row) => row.ring)).toEqual(['LAB', 'CANARY', 'PILOT']);
    harness.recordHistory('conditional-max-ring', intent.workflowId);
  });

  it('waits for a promote signal before each ring under manual_promotion', async () => {
    const { intent } = await harness.submit({ evidencePack: highRiskEvidence(), targetRing: 'CANARY' });
    await harness.reachStatus(intent.workflowId, 'AWAITING_CAB');
    await harness.decide(intent.workflowId, {
      decision: 'CONDITIONAL',
      conditions: { manualPromotion: true },
    });
    for (const ring of ['LAB', 'CANARY'] as const) {
      const waiting = await harness.reachStatus(intent.workflowId, 'AWAITING_PROMOTION');
      expect(waiting.awaitingPromotion).toBe(ring);
      expect(
        (await harness.tenant.ringDeployments.forIntent(intent.id)).some((row) => row.ring === ring),
      ).toBe(false);
      await harness.handle(intent.workflowId).signal('promote', { by: 'operator@example.com', ring });
      await harness.complete(intent, ring, { success: 100, failure: 0 });
    }
    expect((await harness.result(intent.workflowId)).status).toBe('COMPLETED');
    const events = await harness.tenant.events.list(
      { intentId: intent.id, eventType: 'PROMOTION_GRANTED' },
      { limit: 10 },
    );
    expect(events.items.map((event) => event.actor)).toEqual([
      'operator@example.com',
      'operator@example.com',
    ]);
  });

  it('adds the CAB extra_soak to every soak, as a durable timer', async () => {
    const { intent } = await harness.submit({ evidencePack: highRiskEvidence(), targetRing: 'CANARY' });
    await harness.reachStatus(intent.workflowId, 'AWAITING_CAB');
    await harness.decide(intent.workflowId, { decision: 'CONDITIONAL', conditions: { extraSoakMs: 1_500 } });
    await harness.complete(intent, 'LAB', { success: 10, failure: 0 });
    const soaking = await harness.reachStatus(intent.workflowId, 'SOAKING');
    expect(soaking.currentRing).toBe('LAB');
    await harness.complete(intent, 'CANARY', { success: 10, failure: 0 });
    expect((await harness.result(intent.workflowId)).status).toBe('COMPLETED');
    const soak = await harness.tenant.events.list(
      { intentId: intent.id, eventType: 'SOAK_STARTED' },
      { limit: 10 },
    );
    expect(soak.items.map((event) => event.payload)).toEqual([{ ring: 'LAB', soakMs: 1_500 }]);
  });

  it('holds between rings while paused and continues when resumed', async () => {
    const { intent } = await harness.submit({ targetRing: 'PILOT' });
    await harness.complete(intent, 'LAB', { success: 5, failure: 0 });
    await harness.pending(intent.id, 'CANARY');
    await harness
      .handle(intent.workflowId)
      .signal('pause', { by: 'operator@example.com', reason: 'change freeze' });
    await harness.complete(intent, 'CANARY', { success: 100, failure: 0 });
    const paused = await harness.reachStatus(intent.workflowId, 'PAUSED');
    expect(paused.paused).toBe(true);
    // Held: PILOT does not start while paused.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const rings = await harness.tenant.ringDeployments.forIntent(intent.id);
    expect(rings.some((row) => row.ring === 'PILOT')).toBe(false);
    expect((await harness.tenant.intents.get(intent.id))?.status).toBe('PAUSED');

    await harness.handle(intent.workflowId).signal('resume', { by: 'operator@example.com' });
    await harness.complete(intent, 'PILOT', { success: 100, failure: 0 });
    expect((await harness.result(intent.workflowId)).status).toBe('COMPLETED');
    const events = await harness.eventTypes(intent.id);
    expect(events).toEqual(
      expect.arrayContaining(['PAUSE_REQUESTED', 'PAUSED', 'RESUME_REQUESTED', 'RESUMED']),
    );
    harness.recordHistory('paused-resumed', intent.workflowId);
  });

  it('refuses a second CAB decision with NotAwaitingCab', async () => {
    const { intent } = await harness.submit({ targetRing: 'LAB' });
    await harness.complete(intent, 'LAB', { success: 1, failure: 0 });
    await harness.result(intent.workflowId);
    await expect(harness.decide(intent.workflowId)).rejects.toBeInstanceOf(Error);
    const { intent: running } = await harness.submit({ targetRing: 'LAB' });
    const error = await harness.decide(running.workflowId).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((error as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'NotAwaitingCab' });
    await harness.complete(running, 'LAB', { success: 1, failure: 0 });
    await harness.result(running.workflowId);
  });

  /** A copy of a submitted intent's row under a new id, its workflow not started: as a crash would leave it. */
  async function unstartedCopy(
    changes: Partial<Pick<DeploymentIntentRow, 'status' | 'riskAssessment'>>,
  ): Promise<DeploymentIntentRow> {
    const { intent } = await harness.submit({ targetRing: 'LAB' });
    await harness.complete(intent, 'LAB', { success: 1, failure: 0 });
    await harness.result(intent.workflowId);
    const id = randomUUID();
    const row = await harness.tenant.intents.create({
      id,
      appName: intent.appName,
      version: intent.version,
      targetRing: 'LAB',
      connectors: intent.connectors,
      evidencePackId: intent.evidencePackId,
      submitterId: intent.submitterId,
      status: changes.status ?? 'SUBMITTED',
      correlationId: randomUUID(),
      workflowId: workflowIdForIntent(id),
      idempotencyKey: null,
      rolloutPolicy: intent.rolloutPolicy,
      riskAssessment: changes.riskAssessment === undefined ? intent.riskAssessment : changes.riskAssessment,
    });
    if (row === undefined) throw new Error('the copy was not recorded');
    return row;
  }

  const workflows = () =>
    new IntentWorkflows({
      client: harness.temporal.client,
      taskQueue: harness.temporal.taskQueue,
      rolloutPolicy: harness.policy,
    });

  it('ends FAILED, recording nothing of its assessment, an intent the API gave up before its workflow ran', async () => {
    const row = await unstartedCopy({ status: 'FAILED' });
    expect(row.riskAssessment).toMatchObject({ requiresCab: false });
    expect(typeof row.riskAssessment?.assessedAt).toBe('string');
    await workflows().start(row);
    const outcome = await harness.result(row.workflowId);
    expect(outcome).toMatchObject({ status: 'FAILED', completedRings: [] });
    expect(outcome.failure).toMatch(
      /^risk assessment failed: intent .* was given up before its workflow ran/,
    );
    expect(await harness.eventTypes(row.id)).toEqual(['FAILED']);
    expect(await harness.tenant.riskAssessments.forIntent(row.id)).toBeUndefined();
    expect(await harness.tenant.intents.get(row.id)).toMatchObject({
      status: 'FAILED',
      riskScore: null,
      currentRing: null,
    });
    // Nothing of the run it did not record: no ring, no CAB wait, no score, in its state or for operators.
    expect(await harness.state(row.workflowId)).toMatchObject({
      status: 'FAILED',
      currentRing: null,
      risk: null,
      rings: [],
      cab: { state: 'NOT_REQUIRED' },
    });
    const attributes = (await harness.handle(row.workflowId).describe()).typedSearchAttributes;
    expect(attributes.get(IntentStatusKey)).toBe('FAILED');
    expect(attributes.get(DeployRingKey)).toBeUndefined();
    expect(attributes.get(RiskScoreKey)).toBeUndefined();
  });

  it('ends FAILED with nothing of a CAB wait an intent the API gave up before its high-risk workflow ran', async () => {
    const { intent } = await harness.submit({ evidencePack: highRiskEvidence() });
    await harness.decide(intent.workflowId, { decision: 'REJECTED' });
    await harness.result(intent.workflowId);
    const id = randomUUID();
    const row = await harness.tenant.intents.create({
      ...intent,
      id,
      status: 'FAILED',
      correlationId: randomUUID(),
      workflowId: workflowIdForIntent(id),
      createdAt: undefined,
      updatedAt: undefined,
    } as never);
    if (row === undefined) throw new Error('the copy was not recorded');
    expect(row.riskAssessment).toMatchObject({ requiresCab: true });
    await workflows().start(row);
    expect(await harness.result(row.workflowId)).toMatchObject({ status: 'FAILED' });
    expect(await harness.eventTypes(row.id)).toEqual(['FAILED']);
    expect(await harness.state(row.workflowId)).toMatchObject({
      risk: null,
      cab: { state: 'NOT_REQUIRED' },
      currentRing: null,
    });
    expect(await harness.tenant.cabApprovals.forIntent(row.id)).toBeUndefined();
    const attributes = (await harness.handle(row.workflowId).describe()).typedSearchAttributes;
    expect(attributes.get(RiskScoreKey)).toBeUndefined();
  });

  it('assesses by itself an intent accepted before assessments came with the input (no risk_assessment)', async () => {
    const row = await unstartedCopy({ riskAssessment: null });
    await workflows().start(row);
    await harness.complete(row, 'LAB', { success: 1, failure: 0 });
    expect(await harness.result(row.workflowId)).toMatchObject({ status: 'COMPLETED' });
    expect((await harness.eventTypes(row.id)).slice(0, 2)).toEqual(['RISK_ASSESSED', 'AUTO_APPROVED']);
    expect(typeof (await harness.tenant.intents.get(row.id))?.riskScore).toBe('number');
    // The workflow's own assessment: the local assessRisk ran.
    const history = await harness.handle(row.workflowId).fetchHistory();
    const events = history.events ?? [];
    expect(localActivityResults(events).map((entry) => entry.type)[0]).toBe('assessRisk');
  });
});
