import { Harness, fastPolicy } from '../helpers/harness';
import { databaseKinds } from '../helpers/database';

describe.each(databaseKinds())('deploymentIntentWorkflow rollbacks (%s)', (kind) => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await Harness.start(fastPolicy(), kind);
  });
  afterAll(async () => {
    await harness.close();
  });

  async function rollbackOrder(intentId: string): Promise<string[]> {
    const page = await harness.tenant.events.list(
      { intentId, eventType: 'RING_ROLLBACK_STARTED' },
      { limit: 10 },
    );
    return page.items.map((event) => String(event.payload.ring));
  }

  it('rolls back PILOT, CANARY and LAB, newest first, when PILOT misses its success-rate gate', async () => {
    const { intent } = await harness.submit();
    await harness.complete(intent, 'LAB', { success: 10, failure: 0 });
    await harness.complete(intent, 'CANARY', { success: 98, failure: 2 });
    // 96.99%: one hundredth of a point under PILOT's 97%.
    await harness.complete(intent, 'PILOT', { success: 9_699, failure: 301 });
    for (const ring of ['PILOT', 'CANARY', 'LAB'] as const) {
      await harness.complete(intent, ring, { success: 100, failure: 0 }, 'ROLLBACK');
    }
    const outcome = await harness.result(intent.workflowId);
    expect(outcome).toEqual({
      status: 'ROLLED_BACK',
      completedRings: ['LAB', 'CANARY', 'PILOT'],
      rolledBackRings: ['PILOT', 'CANARY', 'LAB'],
      failure: null,
    });
    expect(await rollbackOrder(intent.id)).toEqual(['PILOT', 'CANARY', 'LAB']);
    const gate = await harness.tenant.events.list(
      { intentId: intent.id, eventType: 'GATE_FAILED' },
      { limit: 1 },
    );
    expect(gate.items[0]?.payload).toMatchObject({ ring: 'PILOT' });
    const pilot = (await harness.tenant.ringDeployments.forIntent(intent.id)).find(
      (row) => row.ring === 'PILOT' && row.kind === 'DEPLOY',
    );
    expect(pilot?.gateVerdict).toMatchObject({ passed: false, reasons: [expect.stringContaining('96.99%')] });
    expect((await harness.tenant.intents.get(intent.id))?.status).toBe('ROLLED_BACK');
    harness.recordHistory('pilot-gate-rolled-back', intent.workflowId);
  });

  it('rolls back CANARY then LAB when aborted during CANARY', async () => {
    const { intent } = await harness.submit();
    await harness.complete(intent, 'LAB', { success: 10, failure: 0 });
    await harness.pending(intent.id, 'CANARY');
    await harness
      .handle(intent.workflowId)
      .signal('abort', { by: 'operator@example.com', reason: 'incident 4711' });
    await harness.complete(intent, 'CANARY', { success: 100, failure: 0 }, 'ROLLBACK');
    await harness.complete(intent, 'LAB', { success: 10, failure: 0 }, 'ROLLBACK');
    const outcome = await harness.result(intent.workflowId);
    expect(outcome).toMatchObject({ status: 'ROLLED_BACK', rolledBackRings: ['CANARY', 'LAB'] });
    const canary = (await harness.tenant.ringDeployments.forIntent(intent.id)).find(
      (row) => row.ring === 'CANARY' && row.kind === 'DEPLOY',
    );
    expect(canary).toMatchObject({ status: 'CANCELLED', outcome: 'FAILED' });
    const events = await harness.eventTypes(intent.id);
    expect(events).toEqual(
      expect.arrayContaining(['ABORT_REQUESTED', 'RING_ABORTED', 'ROLLBACK_STARTED', 'ROLLED_BACK']),
    );
    const started = await harness.tenant.events.list(
      { intentId: intent.id, eventType: 'ROLLBACK_STARTED' },
      { limit: 1 },
    );
    expect(started.items[0]?.actor).toBe('operator@example.com');
    harness.recordHistory('aborted-during-canary', intent.workflowId);
  });

  it('rolls back when a ring does not report before its deadline', async () => {
    const service = harness.withPolicy(fastPolicy({ rings: { CANARY: { reportDeadlineMs: 1_500 } } }));
    const { intent } = await harness.submit({}, service);
    await harness.complete(intent, 'LAB', { success: 10, failure: 0 });
    await harness.pending(intent.id, 'CANARY');
    await harness.complete(intent, 'CANARY', { success: 10, failure: 0 }, 'ROLLBACK');
    await harness.complete(intent, 'LAB', { success: 10, failure: 0 }, 'ROLLBACK');
    const outcome = await harness.result(intent.workflowId);
    expect(outcome.status).toBe('ROLLED_BACK');
    const events = await harness.eventTypes(intent.id);
    expect(events).toContain('RING_TIMED_OUT');
    const canary = (await harness.tenant.ringDeployments.forIntent(intent.id)).find(
      (row) => row.ring === 'CANARY' && row.kind === 'DEPLOY',
    );
    expect(canary).toMatchObject({ status: 'TIMED_OUT', outcome: 'FAILED' });
  });

  it('ends FAILED, and says which ring, when a rollback itself fails', async () => {
    const { intent } = await harness.submit();
    await harness.complete(intent, 'LAB', { success: 10, failure: 0 });
    await harness.complete(intent, 'CANARY', { success: 50, failure: 50 });
    await harness.complete(intent, 'CANARY', { success: 60, failure: 40 }, 'ROLLBACK');
    await harness.complete(intent, 'LAB', { success: 10, failure: 0 }, 'ROLLBACK');
    const outcome = await harness.result(intent.workflowId);
    expect(outcome).toEqual({
      status: 'FAILED',
      completedRings: ['LAB', 'CANARY'],
      rolledBackRings: ['LAB'],
      failure: 'rollback failed for CANARY',
    });
    const events = await harness.eventTypes(intent.id);
    expect(events).toEqual(expect.arrayContaining(['RING_ROLLBACK_FAILED', 'RING_ROLLED_BACK', 'FAILED']));
    harness.recordHistory('rollback-failed', intent.workflowId);
  });
});
