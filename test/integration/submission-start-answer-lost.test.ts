import { randomUUID } from 'node:crypto';
import type { Client, WithStartWorkflowOperation } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { DeploymentIntentRow } from '../../db/repositories/deployment-intents';
import { INTENT_RECONCILER_WORKFLOW } from '../../workflows/reconciliation';
import type { ReconcileRequest, ReconciliationReport } from '../../workflows/reconciliation';
import { lowRiskEvidence } from '../fixtures/evidence';
import { ApiHarness } from '../helpers/api';
import { eventually } from '../helpers/harness';

interface Problem {
  type: string;
  detail: string;
}

/**
 * A client whose workflow starts reach the server and take effect, but whose answers never come back
 * (a dropped connection), once `lostAfter` resolves: the start is ambiguous to the API. A plain start
 * and an update-with-start (the submission's) alike: the latter's start takes effect, and neither the
 * start's answer nor the update's comes back.
 */
function startAnswerLost(
  client: Client,
  lostAfter: () => Promise<unknown> = () => Promise.resolve(),
): Client {
  const lost = () => new Error('the connection dropped: the answer to the start was lost');
  const workflow = new Proxy(client.workflow, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      const method = (value as (...args: unknown[]) => unknown).bind(target);
      if (property === 'start') {
        return async (...args: unknown[]) => {
          await method(...args);
          await lostAfter();
          throw lost();
        };
      }
      if (property === 'executeUpdateWithStart') {
        return async (
          _update: unknown,
          options: { startWorkflowOperation: WithStartWorkflowOperation<Workflow> },
        ) => {
          const { workflowTypeOrFunc, options: startOptions } = options.startWorkflowOperation;
          await target.start(workflowTypeOrFunc, startOptions);
          await lostAfter();
          throw lost();
        };
      }
      return method;
    },
  });
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property === 'workflow') return workflow;
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * Issue 8, "no orphans", from the other side: a submission the client was told failed must not become
 * a rollout. The API's give-up (FAILED, "submit it again") and any start of the workflow (the lost
 * start itself, the reconciler's) must not both win.
 */
describe('a submission whose workflow start took effect but whose answer was lost', () => {
  let api: ApiHarness;

  beforeAll(async () => {
    api = await ApiHarness.start();
  });
  afterAll(async () => {
    await api.close();
  });
  afterEach(() => {
    expect(api.contractViolations()).toEqual([]);
  });

  async function intentOf(app: string): Promise<DeploymentIntentRow> {
    const page = await api.tenant().intents.list({ appName: app }, { limit: 10 });
    expect(page.items).toHaveLength(1);
    const [row] = page.items;
    if (row === undefined) throw new Error(`no intent for ${app}`);
    return row;
  }

  /** Where the workflow of an intent is, if it has one. */
  async function workflowStatus(row: DeploymentIntentRow): Promise<string> {
    try {
      return (await api.temporal.client.workflow.getHandle(row.workflowId).describe()).status.name;
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return 'NONE';
      throw error;
    }
  }

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

  it('without a key: an intent answered “FAILED, submit it again” never rolls out', async () => {
    const lossy = api.replica({
      overrides: {
        temporal: {
          client: startAnswerLost(api.temporal.client),
          connection: api.temporal.client.connection,
          taskQueue: api.temporal.taskQueue,
        },
      },
    });
    const submitter = await lossy.agent('packager@example.com', ['submitter']);
    const app = `Lost-${randomUUID().slice(0, 8)}`;
    const answer = await submitter.post('/api/v1/deployment-intents').send({
      app_name: app,
      version: '1.0',
      target_ring: 'LAB',
      connectors: { windows: 'intune' },
      evidence_pack: lowRiskEvidence(),
    });
    const row = await intentOf(app);

    if (answer.status === 201) {
      // Acceptable: the API found out the workflow runs, and said so.
      expect(await workflowStatus(row)).toBe('RUNNING');
      return;
    }
    expect(answer.status).toBe(503);
    expect((answer.body as Problem).detail).toContain('FAILED');
    // The client was told to submit again: this intent must stay FAILED and deploy nothing, even once the
    // workflow the lost start created has run and the reconciler has been by.
    await eventually(
      async () => ((await workflowStatus(row)) === 'RUNNING' ? undefined : true),
      'the workflow of the given-up intent to end',
      15_000,
    ).catch(() => undefined);
    await reconcile(0);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await api.tenant().intents.get(row.id))?.status).toBe('FAILED');
    expect(await api.tenant().ringDeployments.forIntent(row.id)).toEqual([]);
    expect(await workflowStatus(row)).not.toBe('RUNNING');
  });

  it('without a key: when the workflow began before the API gave up, the answer is 201, not FAILED', async () => {
    const app = `Began-${randomUUID().slice(0, 8)}`;
    // The answer is lost only once the workflow has taken its first step (the risk is on the row).
    const assessed = () =>
      eventually(async () => {
        const page = await api.tenant().intents.list({ appName: app }, { limit: 1 });
        return page.items[0]?.riskScore ?? undefined;
      }, 'the risk assessment');
    const lossy = api.replica({
      overrides: {
        temporal: {
          client: startAnswerLost(api.temporal.client, assessed),
          connection: api.temporal.client.connection,
          taskQueue: api.temporal.taskQueue,
        },
      },
    });
    const submitter = await lossy.agent('packager@example.com', ['submitter']);
    const answer = await submitter
      .post('/api/v1/deployment-intents')
      .send({
        app_name: app,
        version: '1.0',
        target_ring: 'LAB',
        connectors: { windows: 'intune' },
        evidence_pack: lowRiskEvidence(),
      })
      .expect(201);
    expect(answer.body).toMatchObject({ status: 'APPROVED' });
    const row = await intentOf(app);
    expect(await workflowStatus(row)).toBe('RUNNING');
    const trail = await api.tenant().events.list({ intentId: row.id }, { limit: 50 });
    expect(trail.items.map((event) => event.eventType)).not.toContain('FAILED');
    await api.temporal.client.workflow.getHandle(row.workflowId).terminate('test over');
  });

  it('the reconciler never reopens a finished row, even when a workflow still runs for it', async () => {
    const { intent } = await api.submit({ targetRing: 'LAB', appName: `Reopen-${randomUUID().slice(0, 8)}` });
    await eventually(
      async () => ((await api.tenant().intents.get(intent.id))?.status === 'DEPLOYING' ? true : undefined),
      'DEPLOYING',
    );
    // As an API that gave the intent up would have left it, long enough ago for the reconciler to look.
    await api
      .tenant()
      .intents.recordProgress(
        intent.id,
        { status: 'FAILED', currentRing: null },
        new Date(Date.now() - 300_000),
      );
    const report = await reconcile(60_000);
    expect(report.unrepairable).toBeGreaterThanOrEqual(1);
    expect((await api.tenant().intents.get(intent.id))?.status).toBe('FAILED');
    const trail = await api.tenant().events.list({ intentId: intent.id }, { limit: 50 });
    expect(trail.items.map((event) => event.eventType)).not.toContain('READ_MODEL_REPAIRED');
    await api.temporal.client.workflow.getHandle(intent.workflowId).terminate('test over');
  });
});
