import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { HISTORIES_DIR } from '../helpers/harness';
import { ANSWER_RISK_AFTER_DECISION_PATCH as PATCH } from '../../workflows/definitions';

/**
 * Replays saved histories of the main paths against the current workflow code. A change that makes the
 * workflow issue different commands for the same history (non-determinism) fails here, before it can
 * break intents already running in production.
 *
 * A deliberate change goes behind `patched(id)` in the workflow. Then move the current histories into a
 * folder named after the change, add it to EARLIER_VERSIONS (both generations keep replaying), and
 * record the new ones: EUCORA_RECORD_HISTORIES=1 npm run test:jest -- test/integration/workflow-
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

/** Histories recorded before a versioned change, kept so intents started then still replay. */
const EARLIER_VERSIONS = ['before-answer-risk-patch'];

const jsonFiles = (dir: string): string[] =>
  readdirSync(dir)
    .filter((file) => file.endsWith('.json'))
    .sort();

const readHistory = (file: string): unknown =>
  JSON.parse(readFileSync(path.join(HISTORIES_DIR, file), 'utf8'));

interface MarkerEvent {
  eventType: string;
  markerRecordedEventAttributes?: {
    markerName: string;
    details?: Record<string, { payloads?: { data?: string }[] } | undefined>;
  };
}

/** The ids of the patches a history recorded (Core's `core_patch` markers carry `{"id": …}`). */
const patchIds = (history: unknown): string[] =>
  (history as { events: MarkerEvent[] }).events.flatMap((event) => {
    const marker = event.markerRecordedEventAttributes;
    if (event.eventType !== 'EVENT_TYPE_MARKER_RECORDED' || marker?.markerName !== 'core_patch') return [];
    return (marker.details?.['patch-data']?.payloads ?? []).map(
      (payload) =>
        (JSON.parse(Buffer.from(payload.data ?? '', 'base64').toString('utf8')) as { id: string }).id,
    );
  });

describe('workflow determinism', () => {
  const current = jsonFiles(HISTORIES_DIR);
  const earlier = EARLIER_VERSIONS.flatMap((version) =>
    jsonFiles(path.join(HISTORIES_DIR, version)).map((file) => path.join(version, file)),
  );

  it('has a saved history for every main path, in the current version and every earlier one', () => {
    const names = (files: string[]) => files.map((file) => path.basename(file, '.json')).sort();
    expect(names(current)).toEqual(EXPECTED_PATHS);
    for (const version of EARLIER_VERSIONS) {
      expect(names(earlier.filter((file) => file.startsWith(`${version}/`)))).toEqual(EXPECTED_PATHS);
    }
  });

  it('records the answer-risk patch marker in current histories and not in the earlier ones', () => {
    for (const file of current) expect([file, patchIds(readHistory(file))]).toEqual([file, [PATCH]]);
    for (const file of earlier) expect([file, patchIds(readHistory(file))]).toEqual([file, []]);
  });

  it.each([...current, ...earlier])('replays %s without non-determinism', async (file) => {
    const history = historyFromJSON(readHistory(file));
    const bundle = process.env.EUCORA_TEST_WORKFLOW_BUNDLE;
    if (bundle === undefined) throw new Error('jest globalSetup did not run');
    await expect(
      Worker.runReplayHistory({ workflowBundle: { codePath: bundle } }, history, file),
    ).resolves.toBeUndefined();
  });
});
