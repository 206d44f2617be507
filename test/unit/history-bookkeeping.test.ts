import { readFileSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { localActivityResults } from '../faults/checks';
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
  const before = path.join('before-local-bookkeeping-patch', 'low-risk-completed.json');

  it('names, in each local activity marker, the event written, numbered 1..n in order', () => {
    const written = localActivityResults(eventsOf(current));
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
    const keys = written
      .filter((entry) => entry.type !== 'assessRisk')
      .map((entry) => (entry.result as { eventKey: string }).eventKey);
    const numbers = keys.map((key) => Number(/^[0-9a-f-]{36}:(\d{4}):[A-Z_]+$/.exec(key)?.[1]));
    // RISK_ASSESSED takes number 1 (the assessment answers its summary, not a key).
    expect(numbers).toEqual(keys.map((_, index) => index + 2));
    expect(keys.at(0)).toMatch(/:AUTO_APPROVED$/);
    expect(keys.at(-1)).toMatch(/:COMPLETED$/);
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
    expect([tasks(current), tasks(before)]).toEqual([6, 29]);
    expect(eventsOf(current).length * 2).toBeLessThan(eventsOf(before).length);
    // One patch marker and one TemporalChangeVersion upsert, not six of each.
    const patchMarkers = (file: string) =>
      eventsOf(file).filter((event) => event.markerRecordedEventAttributes?.markerName === 'core_patch')
        .length;
    expect([
      patchMarkers(current),
      patchMarkers(path.join('before-one-marker-patch', 'low-risk-completed.json')),
    ]).toEqual([1, 6]);
    expect(tasks(current) * 2).toBeLessThan(tasks(before));
  });
});
