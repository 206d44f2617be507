import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { createLogger } from '../../runtime/logger';
import { ensureReconcilerSchedule, reconcilerScheduleId } from '../../runtime/reconciler-schedule';

const MINUTE = 60_000;

/** Several workers of one deployment start together: each makes sure the reconciler's schedule exists. */
describe('the reconciler schedule, ensured by several workers at once', () => {
  let connection: Connection;
  let client: Client;

  beforeAll(async () => {
    const address = process.env.EUCORA_TEST_TEMPORAL_ADDRESS;
    if (address === undefined) throw new Error('jest globalSetup did not run');
    connection = await Connection.connect({ address });
    client = new Client({ connection });
  });
  afterAll(async () => {
    await connection.close();
  });

  it('ends with one schedule, and no worker fails its start', async () => {
    const taskQueue = `eucora-test-${randomUUID()}`;
    const settings = { taskQueue, intervalMs: 10 * MINUTE, thresholdMs: 2 * MINUTE, batchSize: 50 };
    const logger = createLogger({ level: 'silent' });
    try {
      const starts = await Promise.allSettled(
        Array.from({ length: 4 }, () => ensureReconcilerSchedule(client, settings, logger)),
      );
      expect(starts.map((start) => start.status)).toEqual([
        'fulfilled',
        'fulfilled',
        'fulfilled',
        'fulfilled',
      ]);
      const mine = [];
      for await (const schedule of client.schedule.list()) {
        if (schedule.scheduleId === reconcilerScheduleId(taskQueue)) mine.push(schedule);
      }
      expect(mine.length).toBeLessThanOrEqual(1);
      const described = await client.schedule.getHandle(reconcilerScheduleId(taskQueue)).describe();
      expect(described.spec.intervals?.[0]?.every).toBe(10 * MINUTE);
      expect(described.policies.overlap).toBe('SKIP');
    } finally {
      await client.schedule.getHandle(reconcilerScheduleId(taskQueue)).delete();
    }
  });
});
