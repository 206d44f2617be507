import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { HISTORIES_DIR } from '../helpers/harness';

/**
 * Replays saved histories of the main paths against the current workflow code. A change that makes the
 * workflow issue different commands for the same history (non-determinism) fails here, before it can
 * break intents already running in production. Re-record only for a deliberate, versioned change:
 * EUCORA_RECORD_HISTORIES=1 npm run test:jest -- test/integration/workflow-
 */
const EXPECTED_PATHS = [
  'aborted-during-canary',
  'conditional-max-ring',
  'high-risk-approved',
  'high-risk-expired',
  'high-risk-rejected',
  'low-risk-completed',
  'paused-resumed',
  'pilot-gate-rolled-back',
  'rollback-failed',
];

describe('workflow determinism', () => {
  const files = readdirSync(HISTORIES_DIR).filter((file) => file.endsWith('.json'));

  it('has a saved history for every main path', () => {
    expect(files.map((file) => file.replace(/\.json$/, '')).sort()).toEqual(EXPECTED_PATHS);
  });

  it.each(files)('replays %s without non-determinism', async (file) => {
    const history = historyFromJSON(JSON.parse(readFileSync(path.join(HISTORIES_DIR, file), 'utf8')));
    const bundle = process.env.EUCORA_TEST_WORKFLOW_BUNDLE;
    if (bundle === undefined) throw new Error('jest globalSetup did not run');
    await expect(
      Worker.runReplayHistory({ workflowBundle: { codePath: bundle } }, history, file),
    ).resolves.toBeUndefined();
  });
});
