import { randomUUID } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import type { DeploymentIntentRow } from '../../db/repositories/deployment-intents';
import { assignConnectors } from '../../policy/connectors';
import type { IntentStatus } from '../../policy/intent-status';
import { createReconcilerActivities } from '../../activities/reconciler';
import { createLogger } from '../../runtime/logger';
import { ensureReconcilerSchedule, reconcilerScheduleId } from '../../runtime/reconciler-schedule';
import { workflowIdForIntent } from '../../workflows/definitions';
import type { DeploymentIntentInput } from '../../workflows/definitions';
import { INTENT_RECONCILER_WORKFLOW } from '../../workflows/reconciliation';
import type { ReconcileRequest, ReconciliationReport } from '../../workflows/reconciliation';
import { lowRiskEvidence } from '../fixtures/evidence';
import { ApiHarness } from '../helpers/api';
import { SUBMITTER, eventually, fastPolicy } from '../helpers/harness';
import { unreachableTemporal } from '../helpers/unreachable-temporal';

const MINUTE = 60_000;

/**
 * The reconciler (issue 8): the worker's periodic workflow finds intents recorded without a workflow and
 * starts them, and read-model rows that disagree with their workflow and repairs them from the
 * workflow's own state; every repair is an audit event and a Prometheus counter. All on the real
 * dev server, through the worker's own task queue.
 */
describe('intent reconciler', () => {
  let api: ApiHarness;

  beforeAll(async () => {
    api = await ApiHarness.start();
  });
  afterAll(async () => {
    await api.close();
  });

  /** One reconciliation, run as the schedule runs it: the workflow on the worker's task queue. */
  async function reconcile(thresholdMs: number): Promise<ReconciliationReport> {
    return api.temporal.client.workflow.execute<(request: ReconcileRequest) => Promise<ReconciliationReport>>(
      INTENT_RECONCILER_WORKFLOW,
      {
        taskQueue: api.temporal.taskQueue,
        workflowId: `reconcile-${randomUUID()}`,
        args: [{ thresholdMs, batchSize: 50 }],
      },
    );
  }

  /** An intent the API recorded and never started a workflow for (it died in between). */
  async function orphan(appName: string): Promise<DeploymentIntentRow> {
    const tenant = api.tenant();
    const { row: pack } = await tenant.evidencePacks.store({
      contentHash: randomUUID().replaceAll('-', '').padEnd(64, '0'),
      content: lowRiskEvidence(),
      createdBy: SUBMITTER.id,
    });
    const id = randomUUID();
    const correlationId = randomUUID();
    const row = await tenant.intents.create({
      id,
      appName,
      version: '1.0',
      targetRing: 'LAB',
      connectors: assignConnectors({ windows: 'intune' }),
      evidencePackId: pack.id,
      submitterId: SUBMITTER.id,
      status: 'SUBMITTED',
      correlationId,
      workflowId: workflowIdForIntent(id),
      idempotencyKey: null,
      targetDeviceCount: 42,
      rolloutPolicy: fastPolicy({ rings: { LAB: { minDevices: 3 } } }),
    });
    if (row === undefined) throw new Error('intent not created');
    await tenant.events.append({
      eventKey: `${id}:0000:INTENT_CREATED`,
      eventType: 'INTENT_CREATED',
      intentId: id,
      correlationId,
      requestId: null,
      actor: SUBMITTER.id,
      payload: {},
    });
    return row;
  }

  async function status(intentId: string, wanted: IntentStatus) {
    return eventually(async () => {
      const row = await api.tenant().intents.get(intentId);
      return row?.status === wanted ? row : undefined;
    }, `intent ${intentId} ${wanted}`);
  }

  async function trail(intentId: string) {
    return (await api.tenant().events.list({ intentId }, { limit: 100 })).items;
  }

  /** Forces the read model out of step with the workflow, as a lost or refused bookkeeping write would. */
  async function forceStatus(intentId: string, forced: IntentStatus, agoMs: number) {
    await api
      .tenant()
      .intents.recordProgress(intentId, { status: forced, currentRing: null }, new Date(Date.now() - agoMs));
  }

  it('starts the workflow of an intent recorded without one, with the input the row keeps, audited', async () => {
    const young = await orphan(`Young-${randomUUID().slice(0, 8)}`);
    const old = await orphan(`Orphan-${randomUUID().slice(0, 8)}`);
    // Below the threshold nothing is touched: the API that recorded it may be starting it right now.
    const early = await reconcile(10 * MINUTE);
    expect(early.orphansStarted).toBe(0);
    expect(await trail(old.id)).toHaveLength(1);

    const report = await reconcile(0);
    expect(report.orphansStarted).toBeGreaterThanOrEqual(2);
    await status(old.id, 'DEPLOYING');
    const history = await api.temporal.client.workflow.getHandle(old.workflowId).fetchHistory();
    const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    if (payload === undefined) throw new Error('no start input');
    const input: DeploymentIntentInput = defaultPayloadConverter.fromPayload(payload);
    expect(input.policy).toEqual(old.rolloutPolicy);
    expect(input.targetDeviceCount).toBe(42);
    const events = await trail(old.id);
    expect(events.map((event) => event.eventType).slice(0, 3)).toEqual([
      'INTENT_CREATED',
      'ORPHAN_RECOVERED',
      'RISK_ASSESSED',
    ]);
    expect(events[1]).toMatchObject({ actor: 'system:reconciler', payload: { trigger: 'reconciler' } });
    await status(young.id, 'DEPLOYING');

    // Started once: the next run finds the workflow and records nothing more.
    await reconcile(0);
    const again = await trail(old.id);
    expect(again.filter((event) => event.eventType === 'ORPHAN_RECOVERED')).toHaveLength(1);
  });

  it('repairs a status that disagrees with the workflow from the workflow’s own state, audited', async () => {
    const { intent } = await api.submit({
      targetRing: 'CANARY',
      appName: `Forced-${randomUUID().slice(0, 8)}`,
    });
    await status(intent.id, 'DEPLOYING');

    // A fresh disagreement is left alone: the workflow may be writing the row right now.
    await forceStatus(intent.id, 'PAUSED', 0);
    await reconcile(MINUTE);
    expect((await api.tenant().intents.get(intent.id))?.status).toBe('PAUSED');

    await forceStatus(intent.id, 'PAUSED', 5 * MINUTE);
    const report = await reconcile(MINUTE);
    expect(report.statusesRepaired).toBeGreaterThanOrEqual(1);
    const repaired = await api.tenant().intents.get(intent.id);
    expect(repaired).toMatchObject({ status: 'DEPLOYING', currentRing: 'LAB' });
    const repairs = (await trail(intent.id)).filter((event) => event.eventType === 'READ_MODEL_REPAIRED');
    expect(repairs).toHaveLength(1);
    expect(repairs[0]).toMatchObject({
      actor: 'system:reconciler',
      payload: {
        from: { status: 'PAUSED', currentRing: null },
        to: { status: 'DEPLOYING', currentRing: 'LAB' },
        source: 'intentState query',
      },
    });

    // A row in step is left alone.
    await reconcile(0);
    expect(
      (await trail(intent.id)).filter((event) => event.eventType === 'READ_MODEL_REPAIRED'),
    ).toHaveLength(1);
  });

  it('repairs a row whose workflow closed without it (terminated by an operator) to FAILED', async () => {
    const { intent } = await api.submit({ appName: `Terminated-${randomUUID().slice(0, 8)}` });
    await status(intent.id, 'DEPLOYING');
    await api.temporal.client.workflow.getHandle(intent.workflowId).terminate('stopped in the Temporal UI');
    await forceStatus(intent.id, 'DEPLOYING', 5 * MINUTE);
    await reconcile(MINUTE);
    expect(await api.tenant().intents.get(intent.id)).toMatchObject({ status: 'FAILED' });
    const repair = (await trail(intent.id)).find((event) => event.eventType === 'READ_MODEL_REPAIRED');
    expect(repair).toMatchObject({
      payload: { from: { status: 'DEPLOYING' }, to: { status: 'FAILED' }, source: 'workflow TERMINATED' },
    });
  });

  it('leaves a row it cannot reconcile (no workflow to ask) as it is, and says so', async () => {
    const lost = await orphan(`Lost-${randomUUID().slice(0, 8)}`);
    await forceStatus(lost.id, 'SOAKING', 5 * MINUTE);
    const report = await reconcile(MINUTE);
    expect(report.unrepairable).toBeGreaterThanOrEqual(1);
    expect((await api.tenant().intents.get(lost.id))?.status).toBe('SOAKING');
    expect((await trail(lost.id)).map((event) => event.eventType)).toEqual(['INTENT_CREATED']);
    // Made terminal by hand, so later runs leave it alone.
    await forceStatus(lost.id, 'FAILED', 5 * MINUTE);
  });

  it('with the orchestrator unreachable, counts the orphans it could not start and fails the run', async () => {
    const unreachable = await unreachableTemporal();
    try {
      const activities = createReconcilerActivities({
        store: api.db.store,
        logger: createLogger({ level: 'silent' }),
        client: unreachable.client,
        taskQueue: api.temporal.taskQueue,
        rolloutPolicy: fastPolicy(),
      });
      const stranded = [
        await orphan(`Down-${randomUUID().slice(0, 8)}`),
        await orphan(`Down-${randomUUID().slice(0, 8)}`),
      ];
      // The orphans are tried one page at a time; listing the running workflows then fails the run,
      // which the workflow retries and the next scheduled run repeats.
      await expect(activities.reconcileIntents({ thresholdMs: 0, batchSize: 1 })).rejects.toThrow();
      for (const row of stranded) {
        expect((await trail(row.id)).map((event) => event.eventType)).toEqual(['INTENT_CREATED']);
      }
      await reconcile(0);
      for (const row of stranded) await status(row.id, 'DEPLOYING');
    } finally {
      await unreachable.close();
    }
  });

  it('counts every repair for Prometheus, from the audit trail', async () => {
    const auditor = await api.agent('audit@example.com', ['auditor']);
    const res = await auditor.get('/api/v1/metrics').expect(200);
    const value = (repair: string, by: string) => {
      const line = res.text
        .split('\n')
        .find(
          (candidate) =>
            candidate.startsWith('eucora_reconciler_repairs_total{') &&
            candidate.includes(`repair="${repair}"`) &&
            candidate.includes(`by="${by}"`),
        );
      return Number(line?.split(' ').at(-1));
    };
    expect(res.text).toContain('# TYPE eucora_reconciler_repairs_total counter');
    expect(value('orphan_recovered', 'reconciler')).toBeGreaterThanOrEqual(2);
    expect(value('read_model_repaired', 'reconciler')).toBeGreaterThanOrEqual(2);
    expect(value('orphan_recovered', 'retried_submission')).toBe(0);
  });

  it('runs on a Temporal schedule that the worker creates, and updates when its settings change', async () => {
    const logger = createLogger({ level: 'silent' });
    const taskQueue = api.temporal.taskQueue;
    const settings = { taskQueue, intervalMs: 10 * MINUTE, thresholdMs: 2 * MINUTE, batchSize: 50 };
    await ensureReconcilerSchedule(api.temporal.client, settings, logger);
    await ensureReconcilerSchedule(api.temporal.client, { ...settings, intervalMs: 5 * MINUTE }, logger);
    const handle = api.temporal.client.schedule.getHandle(reconcilerScheduleId(taskQueue));
    try {
      const described = await handle.describe();
      expect(described.spec.intervals?.[0]?.every).toBe(5 * MINUTE);
      expect(described.policies.overlap).toBe('SKIP');
      await handle.trigger();
      const run = await eventually(async () => {
        const again = await handle.describe();
        return again.info.recentActions[0]?.action.workflow;
      }, 'a scheduled reconciliation');
      const report = (await api.temporal.client.workflow
        .getHandle(run.workflowId, run.firstExecutionRunId)
        .result()) as ReconciliationReport;
      expect(report).toMatchObject({ orphansStarted: 0, unrepairable: 0 });
    } finally {
      await handle.delete();
    }
  });
});
