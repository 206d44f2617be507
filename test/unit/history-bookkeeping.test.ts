import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { localActivityResults, recordedKeys } from '../faults/checks';
import { HISTORIES_DIR } from '../helpers/harness';

/**
 * The local-bookkeeping patch, read off saved histories of a whole rollout (LAB → GLOBAL, low risk):
 * the bookkeeping writes are local activities whose markers name the audit event each one wrote, in the
 * workflow's order, and only the connectors' ring work still goes through the server.
 */
const BOOKKEEPING = new Set([
  'assessRisk',
  'recordTransition',
  'requestCab',
  'recordCabApproval',
  'recordCabOutcome',
  'recordRingSettlement',
  'recordBookkeeping',
]);

const eventsOf = (file: string) =>
  historyFromJSON(JSON.parse(readFileSync(path.join(HISTORIES_DIR, file), 'utf8'))).events ?? [];

const scheduledTypes = (file: string) =>
  eventsOf(file).flatMap((event) => {
    const name = event.activityTaskScheduledEventAttributes?.activityType?.name;
    return name == null ? [] : [name];
  });

describe('bookkeeping as local activities (history of a full rollout)', () => {
  const current = 'low-risk-completed.json';
  const unbatched = path.join('before-batched-bookkeeping-patch', 'low-risk-completed.json');
  const before = path.join('before-local-bookkeeping-patch', 'low-risk-completed.json');

  /** The event keys each local activity marker names, with the activity's type. */
  const writes = (file: string) =>
    localActivityResults(eventsOf(file)).map((entry) => ({
      type: entry.type,
      keys: entry.type === 'assessRisk' ? ['RISK_ASSESSED'] : recordedKeys(entry.result),
    }));
  const typeOf = (key: string) => /:([A-Z_]+)$/.exec(key)?.[1] ?? key;

  it('writes the records between two waits in one local activity: six writes for a whole rollout', () => {
    const written = writes(current);
    expect(written.map((entry) => [entry.type, entry.keys.map(typeOf)])).toEqual([
      // The API's assessment (the input's), the decision and the first ring's start, written before LAB's
      // connector work is scheduled (RISK_AT_SUBMISSION_PATCH: no assessRisk of its own).
      ['recordBookkeeping', ['RISK_ASSESSED', 'AUTO_APPROVED', 'RING_STARTED']],
      // Each connector answer: the report, the gate, the promotion and the next ring's start, together.
      ...['LAB', 'CANARY', 'PILOT', 'DEPARTMENT'].map((): [string, string[]] => [
        'recordBookkeeping',
        ['RING_REPORTED', 'GATE_PASSED', 'RING_PROMOTED', 'RING_STARTED'],
      ]),
      ['recordBookkeeping', ['RING_REPORTED', 'GATE_PASSED', 'COMPLETED']],
    ]);
    // The same events, keys and order as the generation that wrote one record per local activity.
    const keys = written.flatMap((entry) => entry.keys);
    expect(keys).toHaveLength(3 + 4 * 4 + 3);
    expect(keys.map(typeOf)).toEqual(writes(unbatched).flatMap((entry) => entry.keys.map(typeOf)));
    // Numbered as before: RISK_ASSESSED takes number 1 (the generations before answered its summary, not a key).
    const numbers = keys.map((key) => Number(/^[0-9a-f-]{36}:(\d{4}):[A-Z_]+$/.exec(key)?.[1]));
    expect(numbers).toEqual(numbers.map((_, index) => index + 1));
  });

  it('wrote one record per local activity before the batched-bookkeeping patch, in the same order', () => {
    const written = writes(unbatched);
    expect(written.map((entry) => entry.type)).toEqual([
      'assessRisk',
      'recordTransition', // AUTO_APPROVED
      ...['LAB', 'CANARY', 'PILOT', 'DEPARTMENT'].flatMap(() => [
        'recordTransition', // RING_STARTED
        'recordTransition', // RING_REPORTED
        'recordRingSettlement', // GATE_PASSED
        'recordTransition', // RING_PROMOTED
      ]),
      'recordTransition', // GLOBAL: RING_STARTED
      'recordTransition', // RING_REPORTED
      'recordRingSettlement', // GATE_PASSED
      'recordTransition', // COMPLETED
    ]);
    expect(written.every((entry) => entry.keys.length === 1)).toBe(true);
  });

  it('schedules only the connectors’ ring work through the server', () => {
    expect(scheduledTypes(current)).toEqual([
      'deployToRing',
      'deployToRing',
      'deployToRing',
      'deployToRing',
      'deployToRing',
    ]);
    expect(scheduledTypes(before).filter((type) => BOOKKEEPING.has(type))).toHaveLength(22);
  });

  it('records the rollout in fewer than half the history events and workflow tasks of the generations before', () => {
    const count = (file: string, type: string) =>
      eventsOf(file).filter((event) => String(event.eventType) === type).length;
    const tasks = (file: string) => count(file, '7'); // EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    // One task per connector answer and one for the start (the risk update is taken with the start).
    expect([tasks(current), tasks(unbatched), tasks(before)]).toEqual([6, 6, 29]);
    expect(eventsOf(current).length * 2).toBeLessThan(eventsOf(before).length);
    // A marker per write: 6 instead of 22 (7 before the risk-at-submission patch); and one search-attribute
    // upsert fewer (the first task's).
    expect(eventsOf(current).length).toBe(eventsOf(unbatched).length - 16 - 1);
    const previous = path.join('before-risk-at-submission-patch', 'low-risk-completed.json');
    expect(eventsOf(current).length).toBe(eventsOf(previous).length - 1);
    // One patch marker and one TemporalChangeVersion upsert, not six of each.
    const patchMarkers = (file: string) =>
      eventsOf(file).filter((event) => event.markerRecordedEventAttributes?.markerName === 'core_patch')
        .length;
    expect([
      patchMarkers(current),
      patchMarkers(unbatched),
      patchMarkers(path.join('before-one-marker-patch', 'low-risk-completed.json')),
    ]).toEqual([1, 1, 6]);
    expect(tasks(current) * 2).toBeLessThan(tasks(before));
  });
});

describe('search attributes once per workflow task (SEARCH_ATTRIBUTES_ONCE_PATCH)', () => {
  const PATHS = readdirSync(HISTORIES_DIR)
    .filter((file) => file.endsWith('.json'))
    .sort();
  const UPSERT = '40'; // EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES
  const TASK_COMPLETED = '7';

  /** Per workflow task, the upserts of IntentStatus, DeployRing and RiskScore it made (not the SDK's TemporalChangeVersion). */
  const upsertsPerTask = (file: string) => {
    const perTask: number[] = [];
    for (const event of eventsOf(file)) {
      if (String(event.eventType) === TASK_COMPLETED) perTask.push(0);
      const fields = event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields;
      if (String(event.eventType) === UPSERT && fields != null && !('TemporalChangeVersion' in fields)) {
        perTask[perTask.length - 1] = (perTask.at(-1) ?? 0) + 1;
      }
    }
    return perTask;
  };

  it.each(PATHS)('%s upserts at most once per workflow task', (file) => {
    const perTask = upsertsPerTask(file);
    expect(perTask.length).toBeGreaterThan(0);
    expect(Math.max(...perTask)).toBeLessThanOrEqual(1);
  });

  it('upserted twice in the first task of a rollout before the patch, once with it: the final status, ring and score', () => {
    const earlier = path.join('before-search-attributes-once-patch', 'low-risk-completed.json');
    expect(upsertsPerTask(earlier)[0]).toBe(2);
    expect(upsertsPerTask('low-risk-completed.json')[0]).toBe(1);
    const first = eventsOf('low-risk-completed.json').find(
      (event) =>
        String(event.eventType) === UPSERT &&
        !(
          'TemporalChangeVersion' in
          (event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {})
        ),
    );
    const fields =
      first?.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {};
    const decoded = Object.fromEntries(
      Object.entries(fields).map(([key, payload]) => [
        key,
        JSON.parse(Buffer.from(payload.data ?? new Uint8Array()).toString('utf8')) as string | number,
      ]),
    );
    expect(decoded).toMatchObject({ IntentStatus: 'DEPLOYING', DeployRing: 'LAB' });
    expect(Object.keys(decoded).sort()).toEqual(['DeployRing', 'IntentStatus', 'RiskScore']);
    expect(typeof decoded.RiskScore).toBe('number');
  });
});
