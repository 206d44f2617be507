import { ConnectorReportService } from '../../api/services/connector-reports';
import type { ConnectorStatusReport } from '../../api/services/connector-reports';
import type { DeploymentIntentRow } from '../../db/repositories/deployment-intents';
import type { RingDeploymentRow } from '../../db/repositories/ring-deployments';
import { TenantStore } from '../../db/tenant-store';
import type { IntentStatus } from '../../policy/intent-status';
import type { Ring } from '../../policy/rings';
import { ApiHarness } from '../helpers/api';
import type { Agent } from '../helpers/api';
import { unreachableTemporal } from '../helpers/unreachable-temporal';
import type { UnreachableTemporal } from '../helpers/unreachable-temporal';
import { TENANT_A, eventually, fastPolicy } from '../helpers/harness';

interface Problem {
  type: string;
  detail?: string;
}

/** A tenant store whose transactions fail, as they do while PostgreSQL is down. */
class UnavailableStore extends TenantStore {
  override transaction<T>(): Promise<T> {
    return Promise.reject(new Error('Connection terminated unexpectedly'));
  }
}

/**
 * Issue 8, findings 2 and 6: a connector report is recorded (ring row and CONNECTOR_REPORTED, one
 * transaction) before the activity is heartbeated or completed, so a retry after a crash at any
 * point finds the record and finishes the job: exactly one event, never none.
 */
describe('connector reports: record, then act', () => {
  let api: ApiHarness;
  let intune: Agent;
  let unreachable: UnreachableTemporal;
  /** The same service the API runs, on the same database, with Temporal gone. */
  let cutOff: ConnectorReportService;

  beforeAll(async () => {
    api = await ApiHarness.start();
    intune = (await api.connector('intune')).agent;
    unreachable = await unreachableTemporal();
    cutOff = new ConnectorReportService(unreachable.client);
  });
  afterAll(async () => {
    await unreachable.close();
    await api.close();
  });
  afterEach(() => {
    expect(api.contractViolations()).toEqual([]);
  });

  async function pendingLab(targetRing: Ring = 'LAB'): Promise<{
    intent: DeploymentIntentRow;
    lab: RingDeploymentRow;
  }> {
    const { intent } = await api.submit({ targetRing });
    const lab = await eventually(async () => {
      const rows = await api.tenant().ringDeployments.forIntent(intent.id);
      return rows.find((row) => row.ring === 'LAB' && row.status === 'PENDING');
    }, 'LAB pending');
    return { intent, lab };
  }

  function labReport(intent: DeploymentIntentRow, counts: Partial<ConnectorStatusReport> = {}) {
    return {
      correlationId: intent.correlationId,
      ring: 'LAB',
      connectorType: 'intune',
      connectorObjectId: 'intune-assignment-lab',
      successCount: 5,
      failureCount: 0,
      final: true,
      ...counts,
    } as const satisfies ConnectorStatusReport;
  }

  function httpReport(intent: DeploymentIntentRow, counts: { success: number; final: boolean }) {
    return intune.post('/api/v1/connectors/update-deployment-status').send({
      correlation_id: intent.correlationId,
      ring: 'LAB',
      connector_type: 'intune',
      connector_object_id: 'intune-assignment-lab',
      success_count: counts.success,
      failure_count: 0,
      final: counts.final,
    });
  }

  async function reportedEvents(intent: DeploymentIntentRow) {
    const page = await api
      .tenant()
      .events.list({ intentId: intent.id, eventType: 'CONNECTOR_REPORTED' }, { limit: 100 });
    return page.items;
  }

  async function labRow(intent: DeploymentIntentRow) {
    const rows = await api.tenant().ringDeployments.forIntent(intent.id);
    return rows.find((row) => row.ring === 'LAB' && row.kind === 'DEPLOY');
  }

  async function awaitIntentStatus(intent: DeploymentIntentRow, status: IntentStatus) {
    return eventually(async () => {
      const row = await api.tenant().intents.get(intent.id);
      return row?.status === status ? row : undefined;
    }, `intent ${status}`);
  }

  async function pendingActivityIds(intent: DeploymentIntentRow): Promise<string[]> {
    const description = await api.temporal.client.workflow.getHandle(intent.workflowId).describe();
    return (description.raw.pendingActivities ?? []).map((activity) => activity.activityId ?? '');
  }

  it('records a final report before Temporal takes it: 503 while Temporal is away, and the retry lands exactly one event', async () => {
    const { intent, lab } = await pendingLab();
    await expect(cutOff.report(api.tenant(), labReport(intent), 'connector:intune')).rejects.toMatchObject({
      status: 503,
    });

    // The record is durable: who reported what, when, with which connector object id.
    const recorded = await reportedEvents(intent);
    expect(recorded).toEqual([
      expect.objectContaining({
        actor: 'connector:intune',
        payload: expect.objectContaining({
          ringDeploymentId: lab.id,
          final: true,
          successCount: 5,
          connectorObjectId: 'intune-assignment-lab',
        }) as unknown,
      }),
    ]);
    // The work is not done until Temporal took it: the item is still listed for the connector.
    const listed = await intune.get('/api/v1/connectors/pending-deployments').expect(200);
    expect(JSON.stringify(listed.body)).toContain(lab.id);
    expect(await pendingActivityIds(intent)).toEqual([lab.activityId]);

    const retry = await httpReport(intent, { success: 5, final: true }).expect(200);
    expect(retry.body).toMatchObject({ outcome: 'COMPLETED', deployment: { status: 'REPORTED' } });
    await awaitIntentStatus(intent, 'COMPLETED');
    expect(await reportedEvents(intent)).toHaveLength(1);
  });

  it('finishes the job when the activity was completed but the row never marked (a crash in between)', async () => {
    const { intent, lab } = await pendingLab();
    await expect(cutOff.report(api.tenant(), labReport(intent), 'connector:intune')).rejects.toMatchObject({
      status: 503,
    });
    // The first process completed the activity with the recorded report, then died.
    await api.temporal.client.activity.complete(
      { workflowId: lab.workflowId, activityId: lab.activityId },
      { successCount: 5, failureCount: 0, connectorObjectId: 'intune-assignment-lab' },
    );

    const retry = await httpReport(intent, { success: 5, final: true }).expect(200);
    expect(retry.body).toMatchObject({ outcome: 'ALREADY_COMPLETED', deployment: { status: 'REPORTED' } });
    await awaitIntentStatus(intent, 'COMPLETED');
    expect(await reportedEvents(intent)).toHaveLength(1);
    expect(await labRow(intent)).toMatchObject({ status: 'REPORTED', outcome: 'SUCCEEDED', successCount: 5 });
  });

  it('leaves Temporal untouched when the record cannot be written, and the retry lands one event', async () => {
    const { intent, lab } = await pendingLab();
    const down = new UnavailableStore(api.db.handle.db, TENANT_A);
    const service = new ConnectorReportService(api.temporal.client);
    await expect(service.report(down, labReport(intent), 'connector:intune')).rejects.toThrow(
      'Connection terminated',
    );
    expect(await pendingActivityIds(intent)).toEqual([lab.activityId]);
    expect(await labRow(intent)).toMatchObject({ status: 'PENDING', successCount: 0 });
    expect(await reportedEvents(intent)).toEqual([]);

    await httpReport(intent, { success: 5, final: true }).expect(200);
    await awaitIntentStatus(intent, 'COMPLETED');
    expect(await reportedEvents(intent)).toHaveLength(1);
  });

  it('answers every concurrent identical final report 200: one COMPLETED, the rest ALREADY_COMPLETED, one event', async () => {
    const { intent } = await pendingLab();
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => httpReport(intent, { success: 7, final: true })),
    );
    expect(answers.map((answer) => answer.status)).toEqual(Array.from({ length: 8 }, () => 200));
    const outcomes = answers.map((answer) => (answer.body as { outcome: string }).outcome).sort();
    expect(outcomes).toEqual([...Array.from({ length: 7 }, () => 'ALREADY_COMPLETED'), 'COMPLETED']);
    await awaitIntentStatus(intent, 'COMPLETED');
    expect(await reportedEvents(intent)).toHaveLength(1);
  });

  it('records a repeated interim report once, and each new count once', async () => {
    const { intent } = await pendingLab();
    for (const success of [2, 2, 4]) {
      const answer = await httpReport(intent, { success, final: false }).expect(200);
      expect(answer.body).toMatchObject({ outcome: 'HEARTBEAT_RECORDED' });
    }
    expect((await reportedEvents(intent)).map((event) => event.payload.successCount)).toEqual([2, 4]);
  });

  it('records an interim report while Temporal is away (503), and its retry adds no second event', async () => {
    const { intent } = await pendingLab();
    await expect(
      cutOff.report(api.tenant(), labReport(intent, { final: false, successCount: 3 }), 'connector:intune'),
    ).rejects.toMatchObject({ status: 503 });
    expect(await labRow(intent)).toMatchObject({ status: 'IN_PROGRESS', successCount: 3 });
    await httpReport(intent, { success: 3, final: false }).expect(200);
    expect(await reportedEvents(intent)).toHaveLength(1);
  });

  it('finishes a recorded final report when any later report arrives, and refuses the latecomer', async () => {
    const { intent } = await pendingLab();
    await expect(cutOff.report(api.tenant(), labReport(intent), 'connector:intune')).rejects.toMatchObject({
      status: 503,
    });
    // A connector that restarted the item sends an interim report first: the recorded final wins.
    const interim = await httpReport(intent, { success: 1, final: false }).expect(409);
    expect((interim.body as Problem).type).toMatch(/ring-finished$/);
    await awaitIntentStatus(intent, 'COMPLETED');
    expect(await labRow(intent)).toMatchObject({ status: 'REPORTED', successCount: 5 });
    const other = await httpReport(intent, { success: 4, final: true }).expect(409);
    expect((other.body as Problem).type).toMatch(/ring-finished$/);
    expect((await reportedEvents(intent)).map((event) => event.payload.final)).toEqual([true]);
  });

  it('refuses with 409 a final report for a rollout whose workflow was terminated, and records it', async () => {
    const { intent } = await pendingLab();
    await api.temporal.client.workflow.getHandle(intent.workflowId).terminate('operator cleanup');
    const late = await httpReport(intent, { success: 5, final: true }).expect(409);
    expect((late.body as Problem).type).toMatch(/ring-finished$/);
    expect(await reportedEvents(intent)).toHaveLength(1);
  });

  it('records a final report that reaches a timed-out activity, answers 409, and the ring closes TIMED_OUT', async () => {
    const policy = fastPolicy({ rings: { LAB: { reportDeadlineMs: 1_000 } } });
    const { intent } = await api.submit({ targetRing: 'LAB' }, policy);
    await eventually(async () => labRow(intent), 'LAB pending');
    // With no worker the workflow cannot settle the timeout, so the read model still shows LAB open.
    await api.temporal.stopWorker();
    try {
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const late = await httpReport(intent, { success: 5, final: true }).expect(409);
      expect((late.body as Problem).detail).toContain('no longer waiting');
      expect(await reportedEvents(intent)).toHaveLength(1);
      await httpReport(intent, { success: 5, final: true }).expect(409);
      expect(await reportedEvents(intent)).toHaveLength(1);
    } finally {
      await api.temporal.start();
    }
    await eventually(async () => {
      const row = await labRow(intent);
      return row?.status === 'TIMED_OUT' ? row : undefined;
    }, 'LAB timed out');
  });
});
