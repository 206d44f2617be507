import {
  allHandlersFinished,
  condition,
  defineUpdate,
  proxyActivities,
  setHandler,
} from '@temporalio/workflow';
import type { BareActivities } from './bare-activities';

/**
 * The submission's shape in bare Temporal, for `update-with-start-ab.ts`: one activity whose result
 * an update returns (EUCORA: the risk answer). Nothing else runs.
 */

const { assess } = proxyActivities<BareActivities>({ startToCloseTimeout: '1 minute' });

export const assessedUpdate = defineUpdate<number>('assessed');

export async function bareAssessAnswered(index: number): Promise<number> {
  const state: { result?: number } = {};
  setHandler(assessedUpdate, async () => {
    await condition(() => state.result !== undefined);
    return state.result ?? -1;
  });
  state.result = await assess(index);
  await condition(allHandlersFinished);
  return state.result;
}
