import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import type pg from 'pg';
import { workflowIdForIntent } from '../../workflows/definitions';
import type { AcknowledgedReport } from './actors';
import type { IntentPlan } from './traffic';

/**
 * What a scenario left behind, checked against what its clients were told and what Temporal holds:
 * every Idempotency-Key names exactly one intent with one workflow, every intent reached the status
 * its plan expects, the audit trail holds each expected event once with no gap in the workflow's
 * sequence, every acknowledged connector report is in the trail, and ring rows match the workflow's
 * connector activities.
 */

export interface Findings {
  readonly lost: string[];
  readonly duplicated: string[];
}

interface IntentRow {
  id: string;
  status: string;
  idempotency_key: string | null;
  workflow_id: string;
}

interface EventRow {
  event_key: string;
  event_type: string;
  intent_id: string | null;
  payload: Record<string, unknown>;
}

interface RingRow {
  id: string;
  intent_id: string;
  ring: string;
  kind: string;
  status: string;
  workflow_id: string;
  activity_id: string;
  success_count: number;
  failure_count: number;
  final_reported_at: Date | null;
}

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** Events the workflow records at most once per intent. */
/** How long the checks wait for a workflow whose intent row already ended to close. */
const WORKFLOW_CLOSE_WAIT_MS = 10_000;

/** Resolves after `ms` without keeping the process alive. */
function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

const ONCE_PER_INTENT = new Set([
  'INTENT_CREATED',
  'RISK_ASSESSED',
  'AUTO_APPROVED',
  'CAB_REQUESTED',
  'CAB_DECIDED',
  'COMPLETED',
  'ROLLED_BACK',
  'ROLLBACK_STARTED',
  'FAILED',
  'ORPHAN_RECOVERED',
]);

/** Activities whose input carries the event key of the audit event they write. */
const RECORDING_ACTIVITIES = new Set([
  'assessRisk',
  'recordTransition',
  'requestCab',
  'recordCabApproval',
  'recordCabOutcome',
  'recordRingSettlement',
  'recordBookkeeping',
]);

function decode(payloads: temporal.api.common.v1.IPayloads | null | undefined): unknown[] {
  return (payloads?.payloads ?? []).map((payload) => defaultPayloadConverter.fromPayload(payload));
}

/**
 * The audit events a completed recording activity names: one `eventKey`, or (from the batched-bookkeeping
 * patch on) the `eventKeys` of every record one write carried, in order.
 */
export function recordedKeys(result: unknown): string[] {
  const named = result as { eventKey?: unknown; eventKeys?: unknown } | undefined;
  if (typeof named?.eventKey === 'string') return [named.eventKey];
  if (Array.isArray(named?.eventKeys)) {
    return named.eventKeys.filter((key): key is string => typeof key === 'string');
  }
  return [];
}

/** The completed local activities of a history: Core's `core_local_activity` markers with a result. */
export function localActivityResults(history: readonly HistoryEvent[]): { type: string; result: unknown }[] {
  return history.flatMap((event) => {
    const marker = event.markerRecordedEventAttributes;
    if (marker?.markerName !== 'core_local_activity' || marker.details == null) return [];
    const [data] = decode(marker.details.data) as [{ activity_type?: string } | undefined];
    const result = marker.details.result;
    if (data?.activity_type === undefined || result == null) return [];
    return [{ type: data.activity_type, result: decode(result)[0] }];
  });
}

export async function checkScenario(input: {
  readonly db: pg.Client;
  readonly temporal: Client;
  readonly plans: readonly IntentPlan[];
  /** When the scenario began: an intent created since then that no plan names is an extra one. */
  readonly since: Date;
  readonly acknowledged: readonly AcknowledgedReport[];
}): Promise<Findings> {
  const lost: string[] = [];
  const duplicated: string[] = [];
  const { db } = input;

  const planKeys = input.plans.map((plan) => plan.key);
  const intents = (
    await db.query<IntentRow>(
      `select id, status, idempotency_key, workflow_id from deployment_intents
        where idempotency_key = any($1) or created_at >= $2`,
      [planKeys, input.since],
    )
  ).rows;
  const intentIds = intents.map((row) => row.id);
  const events = (
    await db.query<EventRow>(
      'select event_key, event_type, intent_id, payload from deployment_events where intent_id = any($1) order by id',
      [intentIds],
    )
  ).rows;
  const rings = (
    await db.query<RingRow>(
      `select id, intent_id, ring, kind, status, workflow_id, activity_id, success_count, failure_count,
              final_reported_at from ring_deployments where intent_id = any($1)`,
      [intentIds],
    )
  ).rows;
  const keys = new Set(
    (
      await db.query<{ key: string }>('select key from idempotency_keys where key = any($1)', [planKeys])
    ).rows.map((row) => row.key),
  );
  const ringIds = new Set(rings.map((row) => row.id));

  // Keys → intent rows: one each, and no intent without a key the clients sent.
  const planned = new Map(input.plans.map((plan) => [plan.key, plan]));
  for (const plan of input.plans) {
    const rows = intents.filter((row) => row.idempotency_key === plan.key);
    if (rows.length === 0) lost.push(`key ${plan.key}: no intent`);
    if (rows.length > 1) duplicated.push(`key ${plan.key}: ${String(rows.length)} intents`);
    if (!keys.has(plan.key)) lost.push(`key ${plan.key}: not remembered in idempotency_keys`);
  }
  for (const row of intents) {
    if (row.idempotency_key === null || !planned.has(row.idempotency_key)) {
      duplicated.push(`intent ${row.id}: no client submitted it (key ${String(row.idempotency_key)})`);
    }
  }

  for (const intent of intents) {
    const plan = intent.idempotency_key === null ? undefined : planned.get(intent.idempotency_key);
    const trail = events.filter((event) => event.intent_id === intent.id);
    const label = `intent ${intent.id.slice(0, 8)}`;

    // The intent's workflow, and how it ended.
    let history: HistoryEvent[] = [];
    try {
      const handle = input.temporal.workflow.getHandle(workflowIdForIntent(intent.id));
      // The row's final status is written by the workflow's last activity; the workflow closes on its next
      // task, moments later (longer under load): a closing workflow is not an unfinished one.
      await Promise.race([handle.result().catch(() => undefined), delay(WORKFLOW_CLOSE_WAIT_MS)]);
      history = (await handle.fetchHistory()).events ?? [];
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
      lost.push(`${label}: no workflow (an orphan, status ${intent.status})`);
    }
    const completed = history.find((event) => event.workflowExecutionCompletedEventAttributes != null);
    const outcome = completed
      ? (decode(completed.workflowExecutionCompletedEventAttributes?.result)[0] as
          { status: string } | undefined)
      : undefined;
    if (history.length > 0 && outcome === undefined)
      lost.push(`${label}: workflow did not finish (row ${intent.status})`);
    if (plan !== undefined && intent.status !== plan.expected) {
      lost.push(`${label}: ended ${intent.status}, expected ${plan.expected}`);
    }
    if (outcome !== undefined && outcome.status !== intent.status) {
      lost.push(`${label}: row says ${intent.status}, workflow ended ${outcome.status}`);
    }

    // Events the trail must hold once.
    const byType = new Map<string, number>();
    for (const event of trail) byType.set(event.event_type, (byType.get(event.event_type) ?? 0) + 1);
    if ((byType.get('INTENT_CREATED') ?? 0) === 0) lost.push(`${label}: no INTENT_CREATED`);
    for (const [type, count] of byType) {
      if (ONCE_PER_INTENT.has(type) && count > 1) duplicated.push(`${label}: ${String(count)} ${type}`);
    }
    if (plan !== undefined && (byType.get(plan.expected) ?? 0) === 0) {
      lost.push(`${label}: no ${plan.expected} event`);
    }

    // The workflow's own sequence: 1..n, no gap, no number twice.
    const sequence = trail
      .map((event) => /^[0-9a-f-]{36}:(\d{4}):/.exec(event.event_key)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .filter((n) => n > 0)
      .sort((a, b) => a - b);
    const seen = new Set<number>();
    for (const n of sequence) {
      if (seen.has(n)) duplicated.push(`${label}: sequence number ${String(n)} twice`);
      seen.add(n);
    }
    const highest = sequence.at(-1) ?? 0;
    for (let n = 1; n <= highest; n += 1) {
      if (!seen.has(n)) lost.push(`${label}: gap at sequence number ${String(n)}`);
    }

    // Every event the workflow recorded (its completed recording activities) is in the trail.
    const scheduled = new Map<string, HistoryEvent>();
    for (const event of history) {
      const attributes = event.activityTaskScheduledEventAttributes;
      if (attributes != null) scheduled.set(String(event.eventId), event);
    }
    const keysInTrail = new Set(trail.map((event) => event.event_key));
    for (const event of history) {
      const done = event.activityTaskCompletedEventAttributes;
      if (done == null) continue;
      const source = scheduled.get(String(done.scheduledEventId))?.activityTaskScheduledEventAttributes;
      const type = source?.activityType?.name ?? '';
      if (!RECORDING_ACTIVITIES.has(type)) continue;
      const [request] = decode(source?.input) as [{ eventKey?: string } | undefined];
      if (request?.eventKey !== undefined && !keysInTrail.has(request.eventKey)) {
        lost.push(`${label}: ${type} completed but ${request.eventKey} is not in the trail`);
      }
    }
    // The same for the bookkeeping run as local activities (from the local-bookkeeping patch on): the
    // marker keeps the result, which names the event written; the risk assessment answers its summary.
    for (const written of localActivityResults(history)) {
      if (!RECORDING_ACTIVITIES.has(written.type)) continue;
      for (const eventKey of recordedKeys(written.result)) {
        if (!keysInTrail.has(eventKey)) {
          lost.push(`${label}: local ${written.type} completed but ${eventKey} is not in the trail`);
        }
      }
      if (written.type === 'assessRisk' && (byType.get('RISK_ASSESSED') ?? 0) === 0) {
        lost.push(`${label}: local assessRisk completed but RISK_ASSESSED is not in the trail`);
      }
    }

    // Ring rows ↔ the workflow's connector activities.
    const ringActivities = new Map<string, { completed?: { successCount: number; failureCount: number } }>();
    for (const event of history) {
      const attributes = event.activityTaskScheduledEventAttributes;
      const type = attributes?.activityType?.name;
      if (attributes?.activityId && (type === 'deployToRing' || type === 'rollbackRing')) {
        ringActivities.set(attributes.activityId, {});
      }
    }
    for (const event of history) {
      const done = event.activityTaskCompletedEventAttributes;
      if (done == null) continue;
      const source = scheduled.get(String(done.scheduledEventId))?.activityTaskScheduledEventAttributes;
      if (source?.activityId && ringActivities.has(source.activityId)) {
        const [report] = decode(done.result) as [{ successCount: number; failureCount: number }];
        ringActivities.set(source.activityId, { completed: report });
      }
    }
    const ringRows = rings.filter((row) => row.intent_id === intent.id);
    for (const [activityId, activity] of ringActivities) {
      const row = ringRows.find((r) => r.activity_id === activityId);
      if (row === undefined) {
        lost.push(`${label}: activity ${activityId} has no ring row`);
        continue;
      }
      if (activity.completed !== undefined) {
        if (row.status !== 'REPORTED') lost.push(`${label}: ${activityId} completed, row ${row.status}`);
        if (
          row.success_count !== activity.completed.successCount ||
          row.failure_count !== activity.completed.failureCount
        ) {
          lost.push(`${label}: ${activityId} completed with other counts than its row`);
        }
      } else if (row.status === 'REPORTED') {
        lost.push(`${label}: ${activityId} row REPORTED but the activity never completed`);
      }
    }
    for (const row of ringRows) {
      if (!ringActivities.has(row.activity_id))
        duplicated.push(`${label}: ring row ${row.activity_id} without activity`);
      if (outcome !== undefined && (row.status === 'PENDING' || row.status === 'IN_PROGRESS')) {
        lost.push(`${label}: ring row ${row.activity_id} still ${row.status} after the workflow ended`);
      }
      const finals = trail.filter(
        (event) =>
          event.event_type === 'CONNECTOR_REPORTED' &&
          event.payload.ringDeploymentId === row.id &&
          event.payload.final === true,
      );
      if (row.status === 'REPORTED' && finals.length === 0) {
        lost.push(`${label}: ${row.activity_id} REPORTED without its CONNECTOR_REPORTED`);
      }
      if (finals.length > 1)
        duplicated.push(`${label}: ${String(finals.length)} final reports of ${row.activity_id}`);
    }
  }

  // Every report a connector was told was recorded is in the trail, once per content.
  const reportEvents = events.filter((event) => event.event_type === 'CONNECTOR_REPORTED');
  const contentOf = (e: {
    ringDeploymentId: unknown;
    final: unknown;
    successCount: unknown;
    failureCount: unknown;
  }) => JSON.stringify([e.ringDeploymentId, e.final, e.successCount, e.failureCount]);
  const recorded = new Map<string, number>();
  for (const event of reportEvents) {
    const attempt = String(event.payload.attempt);
    const key = `${contentOf(event.payload as never)}:${event.payload.final === true ? 'final' : attempt}`;
    recorded.set(key, (recorded.get(key) ?? 0) + 1);
  }
  for (const [key, count] of recorded)
    if (count > 1) duplicated.push(`report ${key} recorded ${String(count)} times`);
  const recordedContents = new Set(reportEvents.map((event) => contentOf(event.payload as never)));
  for (const report of input.acknowledged.filter((r) => ringIds.has(r.ringDeploymentId))) {
    const content = contentOf(report);
    if (!recordedContents.has(content)) {
      lost.push(`report ${content} answered ${report.outcome} but not in the trail`);
    }
  }
  return { lost: unique(lost), duplicated: unique(duplicated) };
}

function unique(items: readonly string[]): string[] {
  return [...new Set(items)];
}
