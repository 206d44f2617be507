import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { HISTORIES_DIR } from '../helpers/harness';
import {
  ANSWER_RISK_AFTER_DECISION_PATCH,
  BATCHED_BOOKKEEPING_PATCH,
  CAB_QUORUM_PATCH,
  LOCAL_BOOKKEEPING_PATCH,
  ONE_MARKER_PATCH,
  RECORD_REQUEST_KEY_PATCH,
  RISK_AT_SUBMISSION_PATCH,
  SEARCH_ATTRIBUTES_ONCE_PATCH,
  UPSERT_ON_CHANGE_PATCH,
  WITHHOLD_UNSTORABLE_MESSAGE_PATCH,
} from '../../workflows/definitions';

/**
 * Replays saved histories of the main paths against the current workflow code. A change that makes the
 * workflow issue different commands for the same history (non-determinism) fails here, before it can
 * break intents already running in production.
 *
 * A deliberate change goes behind `patched(id)` in the workflow. Then move the current histories into a
 * folder named after the change, add it to EARLIER_VERSIONS (both generations keep replaying), and
 * record the new ones: EUCORA_RECORD_HISTORIES=1 npm run test:jest -- test/integration/workflow-
 */
const BASE_PATHS = [
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

/** The main paths since the CAB quorum: the base ones, a withheld CAB comment, and the quorum's two ends. */
const QUORUM_PATHS = [
  ...BASE_PATHS,
  'cab-comment-withheld',
  'high-risk-quorum-approved',
  'high-risk-quorum-rejected',
];

interface Generation {
  /** The folder of its histories; the current generation's are at the top. */
  readonly dir: string;
  readonly paths: readonly string[];
  /** The patch markers every history of the generation carries, in order. */
  readonly patches: readonly string[];
}

/** Every patch the workflow has, in the order they were added: a generation carries a prefix of it. */
const PATCHES_IN_ORDER = [
  ANSWER_RISK_AFTER_DECISION_PATCH,
  WITHHOLD_UNSTORABLE_MESSAGE_PATCH,
  RECORD_REQUEST_KEY_PATCH,
  CAB_QUORUM_PATCH,
  UPSERT_ON_CHANGE_PATCH,
  LOCAL_BOOKKEEPING_PATCH,
];
const patchesBefore = (patch: string): string[] => PATCHES_IN_ORDER.slice(0, PATCHES_IN_ORDER.indexOf(patch));

/** Histories recorded before each versioned change, kept so intents started then still replay. */
const EARLIER_VERSIONS: readonly Generation[] = [
  {
    dir: 'before-answer-risk-patch',
    paths: BASE_PATHS,
    patches: patchesBefore(ANSWER_RISK_AFTER_DECISION_PATCH),
  },
  {
    dir: 'before-withhold-message-patch',
    paths: BASE_PATHS,
    patches: patchesBefore(WITHHOLD_UNSTORABLE_MESSAGE_PATCH),
  },
  {
    dir: 'before-request-key-patch',
    paths: [...BASE_PATHS, 'cab-comment-withheld'],
    patches: patchesBefore(RECORD_REQUEST_KEY_PATCH),
  },
  {
    dir: 'before-cab-quorum-patch',
    paths: [...BASE_PATHS, 'cab-comment-withheld'],
    patches: patchesBefore(CAB_QUORUM_PATCH),
  },
  {
    dir: 'before-upsert-on-change-patch',
    paths: QUORUM_PATHS,
    patches: patchesBefore(UPSERT_ON_CHANGE_PATCH),
  },
  {
    dir: 'before-local-bookkeeping-patch',
    paths: QUORUM_PATHS,
    patches: patchesBefore(LOCAL_BOOKKEEPING_PATCH),
  },
  {
    dir: 'before-one-marker-patch',
    paths: QUORUM_PATHS,
    patches: PATCHES_IN_ORDER,
  },
  {
    dir: 'before-batched-bookkeeping-patch',
    paths: QUORUM_PATHS,
    patches: [ONE_MARKER_PATCH],
  },
  {
    dir: 'before-search-attributes-once-patch',
    paths: QUORUM_PATHS,
    patches: [BATCHED_BOOKKEEPING_PATCH],
  },
  {
    // Also what an intent accepted without an assessment in its input (before migration 0012) records.
    dir: 'before-risk-at-submission-patch',
    paths: QUORUM_PATHS,
    patches: [SEARCH_ATTRIBUTES_ONCE_PATCH],
  },
];

/** A run from the risk-at-submission patch on records that marker alone: it stands for every patch above. */
const CURRENT: Generation = { dir: '.', paths: QUORUM_PATHS, patches: [RISK_AT_SUBMISSION_PATCH] };

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
  const generations = [CURRENT, ...EARLIER_VERSIONS];
  const filesOf = (generation: Generation) =>
    jsonFiles(path.join(HISTORIES_DIR, generation.dir)).map((file) => path.join(generation.dir, file));
  const all = generations.flatMap(filesOf);

  it('has a saved history for every main path, in the current version and every earlier one', () => {
    for (const generation of generations) {
      const names = filesOf(generation).map((file) => path.basename(file, '.json'));
      expect([generation.dir, names]).toEqual([generation.dir, [...generation.paths].sort()]);
    }
  });

  it('records the patch markers of its generation in every history', () => {
    for (const generation of generations) {
      for (const file of filesOf(generation)) {
        expect([file, patchIds(readHistory(file))]).toEqual([file, generation.patches]);
      }
    }
  });

  it.each(all)('replays %s without non-determinism', async (file) => {
    const history = historyFromJSON(readHistory(file));
    const bundle = process.env.EUCORA_TEST_WORKFLOW_BUNDLE;
    if (bundle === undefined) throw new Error('jest globalSetup did not run');
    await expect(
      Worker.runReplayHistory({ workflowBundle: { codePath: bundle } }, history, file),
    ).resolves.toBeUndefined();
  });
});
