import { Harness } from '../helpers/harness';
import { RINGS } from '../../policy/rings';

describe('deploymentIntentWorkflow on a real Temporal dev server', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await Harness.start();
  });
  afterAll(async () => {
    await harness.close();
  });

  it('runs a low-risk intent from LAB to GLOBAL and completes', async () => {
    const { intent, risk } = await harness.submit();
    expect(risk?.requiresCab).toBe(false);
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
    const row = await harness.tenant.intents.get(intent.id);
    expect(row).toMatchObject({ status: 'COMPLETED', currentRing: 'GLOBAL', riskScore: risk?.score });
    const events = await harness.eventTypes(intent.id);
    expect(events[0]).toBe('INTENT_CREATED');
    expect(events.at(-1)).toBe('COMPLETED');
  });
});
