import { randomUUID } from 'node:crypto';
import { asc, eq } from 'drizzle-orm';
import { ApplicationFailure } from '@temporalio/common';
import { createActivities } from '../../activities';
import type { BookkeepingStep, TransitionRecord } from '../../activities';
import { asTenantId } from '../../db/tenant-id';
import { deploymentEvents, deploymentIntents, ringDeployments } from '../../db/schema';
import { evidenceHash } from '../../api/services/intents';
import { createLogger } from '../../runtime/logger';
import { FailureTypes, workflowIdForIntent } from '../../workflows/definitions';
import { lowRiskEvidence } from '../fixtures/evidence';
import { createTestDatabase, databaseKinds } from '../helpers/database';
import type { TestDatabase } from '../helpers/database';

const TENANT = asTenantId('tenant-batch');

/**
 * `recordBookkeeping` (the batched-bookkeeping patch): the records a workflow collected between two
 * waits, written in one transaction with the same rows and events as one write each.
 */
describe.each(databaseKinds())('recordBookkeeping (%s)', (kind) => {
  let db: TestDatabase;
  let activities: ReturnType<typeof createActivities>;
  beforeAll(async () => {
    db = await createTestDatabase(kind);
    activities = createActivities({ store: db.store, logger: createLogger({ level: 'silent' }) });
  });
  afterAll(async () => {
    await db.drop();
  });

  async function seedIntent(
    status: 'DEPLOYING' | 'SUBMITTED' | 'FAILED' = 'DEPLOYING',
  ): Promise<{ intentId: string; correlationId: string }> {
    const store = db.store.forTenant(TENANT);
    const pack = await store.evidencePacks.store({
      contentHash: evidenceHash(lowRiskEvidence()),
      content: lowRiskEvidence(),
      createdBy: 'submitter@example.com',
    });
    const intentId = randomUUID();
    const correlationId = randomUUID();
    await store.intents.create({
      id: intentId,
      appName: '7-Zip',
      version: `batch-${intentId.slice(0, 8)}`,
      targetRing: 'CANARY',
      connectors: [{ connectorType: 'intune', platforms: ['windows'] }],
      evidencePackId: pack.row.id,
      submitterId: 'submitter@example.com',
      status,
      correlationId,
      workflowId: workflowIdForIntent(intentId),
      idempotencyKey: null,
    });
    await store.ringDeployments.recordPending({
      intentId,
      correlationId,
      ring: 'LAB',
      kind: 'DEPLOY',
      connectorType: 'intune',
      platforms: ['windows'],
      workflowId: workflowIdForIntent(intentId),
      activityId: 'deploy-LAB-intune',
      attempt: 1,
      appName: '7-Zip',
      appVersion: '1.0.0',
      startedAt: new Date('2026-11-29T08:00:00Z'),
      deadlineAt: new Date('2026-11-29T09:00:00Z'),
    });
    return { intentId, correlationId };
  }

  const eventIds = (intentId: string) =>
    db.handle.db
      .select({ id: deploymentEvents.id })
      .from(deploymentEvents)
      .where(eq(deploymentEvents.intentId, intentId));
  const intentRow = async (intentId: string) =>
    (await db.handle.db.select().from(deploymentIntents).where(eq(deploymentIntents.id, intentId)))[0];
  const ringRow = async (intentId: string) =>
    (await db.handle.db.select().from(ringDeployments).where(eq(ringDeployments.intentId, intentId)))[0];
  const riskRequest = (intent: { intentId: string; correlationId: string }) => ({
    tenantId: TENANT,
    intentId: intent.intentId,
    correlationId: intent.correlationId,
    eventKey: `${intent.intentId}:0001:RISK_ASSESSED`,
    asOf: '2026-11-29T08:00:00.000Z',
    targetRing: 'CANARY' as const,
    platforms: ['windows' as const],
  });

  function record(
    intent: { intentId: string; correlationId: string },
    sequence: number,
    eventType: string,
    status: TransitionRecord['status'],
    currentRing: TransitionRecord['currentRing'],
    payload: Record<string, unknown> = {},
  ): TransitionRecord {
    return {
      tenantId: TENANT,
      intentId: intent.intentId,
      // What the workflow carries; the rows take the intent row's own.
      correlationId: randomUUID(),
      eventKey: `${intent.intentId}:${String(sequence).padStart(4, '0')}:${eventType}`,
      eventType,
      status,
      currentRing,
      actor: 'system:workflow',
      payload,
      at: new Date(Date.UTC(2026, 10, 29, 8, 0, sequence)).toISOString(),
    };
  }

  function ringSteps(intent: { intentId: string; correlationId: string }): BookkeepingStep[] {
    const report = { successCount: 10, failureCount: 0 };
    return [
      { kind: 'transition', record: record(intent, 5, 'RING_REPORTED', 'DEPLOYING', 'LAB', { ring: 'LAB' }) },
      {
        kind: 'settlement',
        record: {
          ...record(intent, 6, 'GATE_PASSED', 'DEPLOYING', 'LAB', { ring: 'LAB' }),
          ring: 'LAB',
          kind: 'DEPLOY',
          settlements: [{ connectorType: 'intune', outcome: 'SUCCEEDED', report }],
        },
      },
      {
        kind: 'transition',
        record: record(intent, 7, 'RING_PROMOTED', 'DEPLOYING', 'LAB', { to: 'CANARY' }),
      },
      {
        kind: 'transition',
        record: record(intent, 8, 'RING_STARTED', 'DEPLOYING', 'CANARY', { ring: 'CANARY' }),
      },
    ];
  }

  it('writes every record in order in one go: the ring rows, the trail, the read model where the last leaves it', async () => {
    const intent = await seedIntent();
    const steps = ringSteps(intent);
    const answer = await activities.recordBookkeeping(steps);
    expect(answer).toEqual({ eventKeys: steps.map((step) => step.record.eventKey) });

    const events = await db.handle.db
      .select()
      .from(deploymentEvents)
      .where(eq(deploymentEvents.intentId, intent.intentId))
      .orderBy(asc(deploymentEvents.seq));
    expect(events.map((event) => event.eventType)).toEqual([
      'RING_REPORTED',
      'GATE_PASSED',
      'RING_PROMOTED',
      'RING_STARTED',
    ]);
    expect(new Set(events.map((event) => event.correlationId))).toEqual(new Set([intent.correlationId]));
    expect(events.map((event) => event.occurredAt.toISOString())).toEqual(
      steps.map((step) => step.record.at),
    );
    expect(await db.store.forTenant(TENANT).events.verifyChain()).toMatchObject({ brokenLink: null });

    const ring = await ringRow(intent.intentId);
    expect(ring).toMatchObject({
      outcome: 'SUCCEEDED',
      status: 'REPORTED',
      successCount: 10,
      failureCount: 0,
    });
    const row = await intentRow(intent.intentId);
    expect(row).toMatchObject({ status: 'DEPLOYING', currentRing: 'CANARY' });
    expect(row?.updatedAt.toISOString()).toBe(steps.at(-1)?.record.at);

    // A retry after a lost answer adds nothing and answers the same keys.
    expect(await activities.recordBookkeeping(steps)).toEqual(answer);
    const again = await eventIds(intent.intentId);
    expect(again).toHaveLength(4);
  });

  it('writes nothing of a batch the database refuses, and says so as UnstorableData', async () => {
    const intent = await seedIntent();
    const steps = ringSteps(intent);
    const refused: BookkeepingStep[] = [
      ...steps.slice(0, 3),
      {
        kind: 'transition',
        record: record(intent, 8, 'RING_STARTED', 'DEPLOYING', 'CANARY', { note: 'a\u0000b' }),
      },
    ];
    const failure = await activities.recordBookkeeping(refused).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: FailureTypes.UnstorableData, nonRetryable: true });
    const events = await eventIds(intent.intentId);
    expect(events).toEqual([]);
    const ring = await ringRow(intent.intentId);
    expect(ring).toMatchObject({ status: 'PENDING', outcome: null });
  });

  it('takes the records of one intent only, and answers an empty batch with no keys', async () => {
    const first = await seedIntent();
    const second = await seedIntent();
    const mixed: BookkeepingStep[] = [
      { kind: 'transition', record: record(first, 9, 'RING_PROMOTED', 'DEPLOYING', 'LAB') },
      { kind: 'transition', record: record(second, 9, 'RING_PROMOTED', 'DEPLOYING', 'LAB') },
    ];
    await expect(activities.recordBookkeeping(mixed)).rejects.toMatchObject({
      type: 'MixedBookkeepingBatch',
      nonRetryable: true,
    });
    expect(await activities.recordBookkeeping([])).toEqual({ eventKeys: [] });
  });

  it('assessRisk: records one assessment and its event however often it runs, the read model moved with it', async () => {
    const intent = await seedIntent('SUBMITTED');
    const request = riskRequest(intent);
    const first = await activities.assessRisk(request);
    expect(await activities.assessRisk({ ...request, asOf: '2026-11-29T08:05:00.000Z' })).toEqual(first);
    const events = await db.handle.db
      .select()
      .from(deploymentEvents)
      .where(eq(deploymentEvents.intentId, intent.intentId));
    expect(events.map((event) => [event.eventType, event.correlationId])).toEqual([
      ['RISK_ASSESSED', intent.correlationId],
    ]);
    const row = await intentRow(intent.intentId);
    expect(row).toMatchObject({
      status: 'SUBMITTED',
      riskScore: first.score,
      riskModelVersion: first.modelVersion,
      requiresCab: first.requiresCab,
    });
  });

  it('assessRisk: reads the intent with its evidence pack, of its own tenant only', async () => {
    const intent = await seedIntent('SUBMITTED');
    const read = await db.store.forTenant(TENANT).intents.withEvidence(intent.intentId);
    expect(read).toMatchObject({ correlationId: intent.correlationId, pack: { tenantId: TENANT } });
    expect(read?.pack?.id).toBe(read?.evidencePackId);
    // Another tenant's read of the same id finds nothing, and its assessment refuses the intent.
    const other = asTenantId('tenant-batch-other');
    expect(await db.store.forTenant(other).intents.withEvidence(intent.intentId)).toBeUndefined();
    await expect(activities.assessRisk({ ...riskRequest(intent), tenantId: other })).rejects.toMatchObject({
      type: FailureTypes.IntentNotFound,
      nonRetryable: true,
    });
    expect(await eventIds(intent.intentId)).toEqual([]);
  });

  it('assessRisk: refuses an intent the API gave up, and records nothing for it', async () => {
    const intent = await seedIntent('FAILED');
    await expect(activities.assessRisk(riskRequest(intent))).rejects.toMatchObject({
      type: FailureTypes.IntentGivenUp,
      nonRetryable: true,
    });
    expect(await db.store.forTenant(TENANT).riskAssessments.forIntent(intent.intentId)).toBeUndefined();
    const events = await eventIds(intent.intentId);
    expect(events).toEqual([]);
    const row = await intentRow(intent.intentId);
    expect(row).toMatchObject({ status: 'FAILED', riskScore: null });
  });

  /** An assessment made at submission (the workflow input's), as the workflow hands it to the batch. */
  const submittedAssessment = (intent: { intentId: string; correlationId: string }) => {
    const summary = {
      modelVersion: '1.0',
      score: 12,
      threshold: 50,
      requiresCab: false,
      autoApprovalBlockers: [],
      factors: [],
      evidenceHash: evidenceHash(lowRiskEvidence()),
    };
    const assessment = { ...summary, assessedAt: '2026-11-29T07:59:59.000Z' };
    return {
      kind: 'assessment' as const,
      record: { ...record(intent, 1, 'RISK_ASSESSED', undefined, null, summary), assessment },
    };
  };

  it('an assessment made at submission: its row, the score and RISK_ASSESSED go with the decision after it, once', async () => {
    const intent = await seedIntent('SUBMITTED');
    const steps: BookkeepingStep[] = [
      submittedAssessment(intent),
      { kind: 'transition', record: record(intent, 2, 'AUTO_APPROVED', 'APPROVED', null) },
      { kind: 'transition', record: record(intent, 3, 'RING_STARTED', 'DEPLOYING', 'LAB') },
    ];
    const answer = await activities.recordBookkeeping(steps);
    // A retried batch (its answer lost) adds nothing and changes nothing.
    expect(await activities.recordBookkeeping(steps)).toEqual(answer);
    expect(answer.eventKeys.map((key) => key.split(':')[2])).toEqual([
      'RISK_ASSESSED',
      'AUTO_APPROVED',
      'RING_STARTED',
    ]);
    const events = await db.handle.db
      .select()
      .from(deploymentEvents)
      .where(eq(deploymentEvents.intentId, intent.intentId))
      .orderBy(asc(deploymentEvents.id));
    expect(events.map((event) => [event.eventType, event.correlationId])).toEqual([
      ['RISK_ASSESSED', intent.correlationId],
      ['AUTO_APPROVED', intent.correlationId],
      ['RING_STARTED', intent.correlationId],
    ]);
    expect(events[0]?.payload).toEqual(expect.objectContaining({ score: 12, modelVersion: '1.0' }));
    expect(events[0]?.payload).not.toHaveProperty('assessedAt');
    expect(await intentRow(intent.intentId)).toMatchObject({
      status: 'DEPLOYING',
      currentRing: 'LAB',
      riskScore: 12,
      riskModelVersion: '1.0',
      requiresCab: false,
    });
    const stored = await db.store.forTenant(TENANT).riskAssessments.forIntent(intent.intentId);
    expect(stored).toMatchObject({ score: 12, threshold: 50, evidenceHash: evidenceHash(lowRiskEvidence()) });
    expect(stored?.assessedAt.toISOString()).toBe('2026-11-29T07:59:59.000Z');
  });

  it('an assessment alone (before a CAB request) leaves the intent SUBMITTED with its score', async () => {
    const intent = await seedIntent('SUBMITTED');
    await activities.recordBookkeeping([submittedAssessment(intent)]);
    expect(await intentRow(intent.intentId)).toMatchObject({ status: 'SUBMITTED', riskScore: 12 });
  });

  it('an assessment made at submission refuses an intent the API gave up: nothing of the batch is recorded', async () => {
    const intent = await seedIntent('FAILED');
    await expect(
      activities.recordBookkeeping([
        submittedAssessment(intent),
        { kind: 'transition', record: record(intent, 2, 'AUTO_APPROVED', 'APPROVED', null) },
      ]),
    ).rejects.toMatchObject({ type: FailureTypes.IntentGivenUp, nonRetryable: true });
    expect(await db.store.forTenant(TENANT).riskAssessments.forIntent(intent.intentId)).toBeUndefined();
    expect(await eventIds(intent.intentId)).toEqual([]);
    expect(await intentRow(intent.intentId)).toMatchObject({ status: 'FAILED', riskScore: null });
  });
});
