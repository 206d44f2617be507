import { randomUUID } from 'node:crypto';
import { InterceptingCall } from '@grpc/grpc-js';
import { Client, Connection } from '@temporalio/client';
import type { ConnectionOptions } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { IntentService } from '../../api/services/intents';
import { createLogger } from '../../runtime/logger';
import { lowRiskEvidence } from '../fixtures/evidence';
import { ApiHarness } from '../helpers/api';
import { SUBMITTER, fastPolicy, submission } from '../helpers/harness';

const EventType = temporal.api.enums.v1.EventType;
type Interceptor = NonNullable<ConnectionOptions['interceptors']>[number];

interface Created {
  id: string;
  workflow_id: string;
  status: string;
  risk: { score: number } | null;
}

/** The Temporal RPCs (method names) that one Connection makes. */
async function countingConnection(): Promise<{ connection: Connection; calls: string[] }> {
  const address = process.env.EUCORA_TEST_TEMPORAL_ADDRESS;
  if (address === undefined) throw new Error('jest globalSetup did not run');
  const calls: string[] = [];
  const counting: Interceptor = (options, nextCall) => {
    calls.push(options.method_definition.path.split('/').pop() ?? '');
    return new InterceptingCall(nextCall(options));
  };
  const connection = await Connection.connect({ address, interceptors: [counting] });
  return { connection, calls };
}

/**
 * Issue 12: a submission's risk answer reaches the API in one round trip to Temporal. The workflow is
 * started and its risk asked for in one update-with-start call, not a start and then an update.
 */
describe('a submission reaches Temporal in one round trip', () => {
  let api: ApiHarness;
  const closers: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    api = await ApiHarness.start();
  });
  afterAll(async () => {
    for (const close of closers) await close();
    await api.close();
  });
  afterEach(() => {
    expect(api.contractViolations()).toEqual([]);
  });

  async function workflowStatus(workflowId: string): Promise<string> {
    try {
      return (await api.temporal.client.workflow.getHandle(workflowId).describe()).status.name;
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return 'NONE';
      throw error;
    }
  }

  it('POST starts the workflow and gets its risk in one call (update-with-start)', async () => {
    const { connection, calls } = await countingConnection();
    closers.push(() => connection.close());
    const replica = api.replica({
      overrides: {
        temporal: {
          client: new Client({ connection }),
          connection,
          taskQueue: api.temporal.taskQueue,
          callTimeoutMs: 10_000,
        },
      },
    });
    const submitter = await replica.agent('packager@example.com', ['submitter']);
    calls.length = 0;
    const answer = await submitter
      .post('/api/v1/deployment-intents')
      .send({
        app_name: `OneTrip-${randomUUID().slice(0, 8)}`,
        version: '1.0',
        target_ring: 'LAB',
        connectors: { windows: 'intune' },
        evidence_pack: lowRiskEvidence(),
      })
      .expect(201);
    const created = answer.body as Created;
    expect(created.risk).not.toBeNull();
    expect(created.status).toBe('APPROVED');
    // Not StartWorkflowExecution followed by UpdateWorkflowExecution: one multi-operation.
    expect(calls).toEqual(['ExecuteMultiOperation']);

    // The update rode in with the start: the workflow accepted it in its first workflow task.
    const history = await api.temporal.client.workflow.getHandle(created.workflow_id).fetchHistory();
    const types = (history.events ?? []).map((event) => EventType[event.eventType ?? 0]);
    const firstTaskCompleted = types.indexOf('EVENT_TYPE_WORKFLOW_TASK_COMPLETED');
    expect(firstTaskCompleted).toBeGreaterThan(0);
    expect(types[firstTaskCompleted + 1]).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED');
    await api.temporal.client.workflow.getHandle(created.workflow_id).terminate('test over');
  });

  /**
   * The risk wait runs out while the start has taken effect (no worker answers the update). With
   * update-with-start the start's own answer is lost with the update's deadline: the API must still tell
   * this from a refused start, and answer 201 without risk, not FAILED / 503.
   */
  it.each([
    ['without an Idempotency-Key', false],
    ['with an Idempotency-Key', true],
  ])(
    '%s: the risk wait running out answers without risk and leaves the intent SUBMITTED',
    async (_, keyed) => {
      const service = new IntentService({
        client: api.temporal.client,
        // A queue no worker polls: the workflow starts and never takes its first task.
        taskQueue: `nobody-polls-${randomUUID()}`,
        rolloutPolicy: fastPolicy(),
        logger: createLogger({ level: 'silent' }),
        riskWaitMs: 1_500,
      });
      const intentId = randomUUID();
      const result = await service.submit(
        api.tenant(),
        SUBMITTER,
        randomUUID(),
        submission({ appName: `Slow-${randomUUID().slice(0, 8)}`, targetRing: 'LAB' }),
        keyed ? { key: `key-${intentId}`, intentId } : undefined,
      );
      expect(result.risk).toBeNull();
      expect(result.replayed).toBe(false);
      expect((await api.tenant().intents.get(result.intent.id))?.status).toBe('SUBMITTED');
      expect(await workflowStatus(result.intent.workflowId)).toBe('RUNNING');
      const trail = await api.tenant().events.list({ intentId: result.intent.id }, { limit: 50 });
      expect(trail.items.map((event) => event.eventType)).toEqual(['INTENT_CREATED']);
      await api.temporal.client.workflow.getHandle(result.intent.workflowId).terminate('test over');
    },
  );
});
