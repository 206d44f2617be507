import { CompleteAsyncError, Context } from '@temporalio/activity';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { createReconcilerActivities } from '../../activities/reconciler';
import { defaultRolloutPolicy } from '../../policy/rollout-policy';
import { createLogger } from '../../runtime/logger';
import { Harness, eventually } from '../helpers/harness';

/**
 * A worker that dies after Temporal handed it a ring's connector activity but before the activity recorded
 * the pending ring row leaves an attempt that Temporal believes is running (the activity completes
 * asynchronously, so the server expects no answer from the worker) and that no connector can see. Without a
 * heartbeat timeout nothing retries it until the ring's report deadline, and the ring then fails. The
 * reconciler finds such attempts (started, past the threshold, no ring row of that attempt) and fails them
 * as retryable: Temporal runs the next attempt, which records the row, and the rollout goes on.
 */
describe('reconciler: ring work a dead worker never recorded', () => {
  let harness: Harness;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  let native: NativeConnection | undefined;

  beforeAll(async () => {
    harness = await Harness.start();
  });
  afterAll(async () => {
    worker?.shutdown();
    await running;
    await native?.close();
    await harness.close();
  });

  it('releases the lost attempt, the next one records the ring, and the intent completes', async () => {
    // The suite's worker gives way to one whose first LAB attempt is lost as a SIGKILL would lose it.
    await harness.temporal.stopWorker();
    const logger = createLogger({ level: 'silent' });
    const dependencies = { store: harness.db.store, logger };
    const real = createActivities(dependencies);
    const reconciler = createReconcilerActivities({
      ...dependencies,
      client: harness.temporal.client,
      rolloutPolicy: defaultRolloutPolicy(),
      taskQueue: harness.temporal.taskQueue,
    });
    const lost: number[] = [];
    native = await NativeConnection.connect({ address: process.env.EUCORA_TEST_TEMPORAL_ADDRESS ?? '' });
    worker = await Worker.create({
      connection: native,
      taskQueue: harness.temporal.taskQueue,
      workflowBundle: { codePath: process.env.EUCORA_TEST_WORKFLOW_BUNDLE ?? '' },
      activities: {
        ...real,
        ...reconciler,
        deployToRing(work: Parameters<typeof real.deployToRing>[0]) {
          if (lost.length === 0) {
            lost.push(Context.current().info.attempt);
            // What the server sees of a worker killed before it recorded the row: a started attempt, no answer.
            return Promise.reject(new CompleteAsyncError());
          }
          return real.deployToRing(work);
        },
      },
      shutdownGraceTime: '1 second',
    });
    running = worker.run();

    const { intent } = await harness.submit({ targetRing: 'LAB' });
    await eventually(() => Promise.resolve(lost.length > 0 ? true : undefined), 'the lost attempt');
    // Nothing for a connector to see: the attempt never recorded its ring.
    expect(await harness.tenant.ringDeployments.forIntent(intent.id)).toEqual([]);

    // Younger than the threshold: in flight, left alone.
    expect(await reconciler.reconcileIntents({ thresholdMs: 60_000, batchSize: 10 })).toMatchObject({
      ringWorkReleased: 0,
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await reconciler.reconcileIntents({ thresholdMs: 200, batchSize: 10 })).toMatchObject({
      ringWorkReleased: 1,
      unrepairable: 0,
    });

    const row = await harness.pending(intent.id, 'LAB');
    expect(row.attempt).toBe(2);
    // A recorded attempt (its row exists) waits for its connector: never released, however old.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await reconciler.reconcileIntents({ thresholdMs: 200, batchSize: 10 })).toMatchObject({
      ringWorkReleased: 0,
    });
    await harness.complete(intent, 'LAB', { success: 5, failure: 0 });
    expect((await harness.result(intent.workflowId)).status).toBe('COMPLETED');
    const released = await harness.tenant.events.list(
      { intentId: intent.id, eventType: 'RING_WORK_RELEASED' },
      { limit: 5 },
    );
    expect(released.items.map((event) => [event.actor, event.payload])).toEqual([
      [
        'system:reconciler',
        expect.objectContaining({ activityId: 'deploy-LAB-intune', attempt: 1 }) as unknown,
      ],
    ]);
  });
});
