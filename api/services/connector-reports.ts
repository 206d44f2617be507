import { createHash } from 'node:crypto';
import {
  ActivityCancelledError,
  ActivityCompletionError,
  ActivityNotFoundError,
  ActivityPausedError,
  ActivityResetError,
  WorkflowNotFoundError,
} from '@temporalio/client';
import type { Client } from '@temporalio/client';
import type { TenantStore } from '../../db/tenant-store';
import type { RingDeploymentRow } from '../../db/repositories/ring-deployments';
import type { RingDeploymentKind } from '../../db/schema';
import type { ConnectorType } from '../../policy/connectors';
import type { Ring } from '../../policy/rings';
import { runWithCorrelationId } from '../../runtime/correlation';
import type { ConnectorReport } from '../../workflows/definitions';
import { problems } from '../problem';
import type { FieldProblem } from '../problem';

/** A connector's report on one ring, as the seed's PowerShell contract sends it (and a little more). */
export interface ConnectorStatusReport {
  /** The server's id of the ring deployment, from the pending item; the exact reference when given. */
  readonly ringDeploymentId?: string;
  readonly correlationId: string;
  readonly ring: Ring;
  readonly connectorType: ConnectorType;
  /** The deployment or its rollback; without it (the seed) the report is about the deployment. */
  readonly kind?: RingDeploymentKind;
  readonly connectorObjectId?: string;
  readonly successCount: number;
  readonly failureCount: number;
  /** An interim report heartbeats the ring's activity; the final one completes it. */
  readonly final: boolean;
}

export type ReportOutcome = 'HEARTBEAT_RECORDED' | 'COMPLETED' | 'ALREADY_COMPLETED';

export interface ReportResult {
  readonly outcome: ReportOutcome;
  readonly deployment: RingDeploymentRow;
}

export interface ConnectorReportOptions {
  /** How long one report may keep trying to hand a recorded report to Temporal before answering 503. */
  readonly temporalBudgetMs?: number;
}

/** How a ring's activity ended, read from the workflow's history; OPEN while it still waits. */
type ActivityClosure = 'OPEN' | 'COMPLETED' | 'TIMED_OUT' | 'CANCELLED' | 'FAILED' | 'GONE';

/** What the report transaction found and did. */
type Recorded =
  | { readonly step: 'HEARTBEAT'; readonly row: RingDeploymentRow }
  | { readonly step: 'FINISH'; readonly row: RingDeploymentRow }
  | { readonly step: 'ALREADY_REPORTED'; readonly row: RingDeploymentRow }
  | { readonly step: 'FINISH_THEN_REFUSE'; readonly row: RingDeploymentRow };

const RETRY_DELAYS_MS = [100, 300, 700];

/**
 * Turns connector reports into Temporal activity heartbeats and completions. Record, then act: the
 * report is written (ring row and one CONNECTOR_REPORTED event, keyed by its content) in one
 * transaction before Temporal hears of it, and Temporal only ever gets what was recorded. A retry of
 * the same report after a crash at any point finds the record and finishes the job, so the trail
 * holds exactly one event per report. The activity is addressed by workflow id and the ring's stable
 * activity id (a task token would go stale after a retry).
 */
export class ConnectorReportService {
  private readonly temporalBudgetMs: number;

  constructor(
    private readonly client: Client,
    options: ConnectorReportOptions = {},
  ) {
    this.temporalBudgetMs = options.temporalBudgetMs ?? 2_500;
  }

  async report(
    store: TenantStore,
    report: ConnectorStatusReport,
    actor: string,
    requestId: string | null = null,
  ): Promise<ReportResult> {
    const target = await this.resolve(store, report);
    return runWithCorrelationId(target.correlationId, async () => {
      const recorded = await this.record(store, target.id, report, actor, requestId);
      switch (recorded.step) {
        case 'ALREADY_REPORTED':
          return { outcome: 'ALREADY_COMPLETED', deployment: recorded.row };
        case 'HEARTBEAT':
          await this.heartbeat(recorded.row);
          return { outcome: 'HEARTBEAT_RECORDED', deployment: recorded.row };
        case 'FINISH':
          return this.finish(store, recorded.row);
        case 'FINISH_THEN_REFUSE':
          // The recorded final report wins; whatever came after it is refused once the job is done.
          await this.finish(store, recorded.row);
          throw problems.conflict(
            'ring-finished',
            `the final report of the ${describe(recorded.row)} is recorded: it takes no more reports`,
          );
      }
    });
  }

  /** The one ring deployment the report names; an unknown or ambiguous reference is a 4xx, never a guess. */
  private async resolve(store: TenantStore, report: ConnectorStatusReport): Promise<RingDeploymentRow> {
    if (report.ringDeploymentId !== undefined) {
      const row = await store.ringDeployments.get(report.ringDeploymentId);
      if (row === undefined) throw problems.notFound(`ring deployment ${report.ringDeploymentId}`);
      if (row.connectorType !== report.connectorType) {
        throw problems.forbidden(`this ring deployment is not carried out through ${report.connectorType}`);
      }
      const mismatches: FieldProblem[] = [];
      if (row.correlationId !== report.correlationId) {
        mismatches.push({ field: 'correlation_id', in: 'body', message: 'is not the ring deployment’s' });
      }
      if (row.ring !== report.ring) {
        mismatches.push({ field: 'ring', in: 'body', message: `the ring deployment is of ${row.ring}` });
      }
      if (report.kind !== undefined && row.kind !== report.kind) {
        mismatches.push({ field: 'action', in: 'body', message: `the ring deployment is a ${row.kind}` });
      }
      if (mismatches.length > 0) {
        throw problems.unprocessable(
          'report-mismatch',
          'the report names another ring deployment than ring_deployment_id',
          mismatches,
        );
      }
      return row;
    }

    const kind = report.kind ?? 'DEPLOY';
    const rows = await store.ringDeployments.findByReference({
      correlationId: report.correlationId,
      ring: report.ring,
      connectorType: report.connectorType,
      kind,
    });
    const [only, another] = rows;
    if (another !== undefined) {
      throw problems.conflict(
        'ambiguous-reference',
        `correlation id ${report.correlationId} names more than one ${kind.toLowerCase()} of ${report.ring}: ` +
          'report with the ring_deployment_id of the pending item',
      );
    }
    if (only !== undefined) return only;

    const ringRows = await store.ringDeployments.forRing(report.correlationId, report.ring);
    if (ringRows.length === 0) {
      throw problems.notFound(`a deployment of ${report.ring} with correlation id ${report.correlationId}`);
    }
    if (!ringRows.some((row) => row.connectorType === report.connectorType)) {
      throw problems.forbidden(
        `${report.ring} of this intent is not deployed through ${report.connectorType}`,
      );
    }
    throw problems.notFound(
      `a ${kind.toLowerCase()} of ${report.ring} with correlation id ${report.correlationId}`,
    );
  }

  /** One transaction, the row locked: concurrent reports on one ring deployment take turns here. */
  private async record(
    store: TenantStore,
    id: string,
    report: ConnectorStatusReport,
    actor: string,
    requestId: string | null,
  ): Promise<Recorded> {
    return store.transaction(async (tx) => {
      const row = await tx.ringDeployments.lockForReport(id);
      if (row === undefined) throw problems.notFound(`ring deployment ${id}`);

      if (row.status !== 'PENDING' && row.status !== 'IN_PROGRESS') {
        if (row.status === 'REPORTED' && isSameFinal(row, report)) return { step: 'ALREADY_REPORTED', row };
        throw problems.conflict(
          'ring-finished',
          `the ${describe(row)} is ${row.status.toLowerCase().replace('_', ' ')}: it takes no more reports`,
        );
      }
      if (row.finalReportedAt !== null) {
        // A final report is recorded and Temporal may not have it yet: finish that job first.
        return { step: isSameFinal(row, report) ? 'FINISH' : 'FINISH_THEN_REFUSE', row };
      }

      const at = new Date();
      const updated = await tx.ringDeployments.recordReport(row.id, {
        successCount: report.successCount,
        failureCount: report.failureCount,
        connectorObjectId: report.connectorObjectId,
        final: report.final,
        at,
      });
      if (updated === undefined) throw new Error(`ring deployment ${row.id} changed under its lock`);
      await tx.events.append({
        eventKey: reportEventKey(row, report),
        eventType: 'CONNECTOR_REPORTED',
        intentId: row.intentId,
        correlationId: row.correlationId,
        requestId,
        actor,
        payload: {
          ringDeploymentId: row.id,
          ring: row.ring,
          kind: row.kind,
          connectorType: row.connectorType,
          attempt: row.attempt,
          successCount: report.successCount,
          failureCount: report.failureCount,
          connectorObjectId: report.connectorObjectId ?? null,
          final: report.final,
        },
        occurredAt: at,
      });
      return { step: report.final ? 'FINISH' : 'HEARTBEAT', row: updated };
    });
  }

  /** Hands the recorded interim counts to the activity as its heartbeat. */
  private async heartbeat(row: RingDeploymentRow): Promise<void> {
    try {
      await this.withTemporal(() => this.client.activity.heartbeat(activityOf(row), recordedReport(row)));
    } catch (error) {
      // Paused or reset by an operator: the heartbeat was still delivered.
      if (error instanceof ActivityPausedError || error instanceof ActivityResetError) return;
      throw await this.refusal(row, error);
    }
  }

  /**
   * Completes the activity with the recorded final report, then marks the row REPORTED. When Temporal
   * no longer knows the activity, its history says whether this report completed it (an earlier try,
   * or a concurrent identical report) or the ring ended otherwise.
   */
  private async finish(store: TenantStore, row: RingDeploymentRow): Promise<ReportResult> {
    let outcome: ReportOutcome = 'COMPLETED';
    try {
      await this.withTemporal(() => this.client.activity.complete(activityOf(row), recordedReport(row)));
    } catch (error) {
      const closure = error instanceof ActivityNotFoundError ? await this.closure(row) : undefined;
      if (closure !== 'COMPLETED') throw await this.refusal(row, error, closure);
      outcome = 'ALREADY_COMPLETED';
    }
    const marked = await store.ringDeployments.markReported(row.id, new Date());
    return { outcome, deployment: marked ?? (await store.ringDeployments.get(row.id)) ?? row };
  }

  /** The problem a report that Temporal did not take is answered with. */
  private async refusal(row: RingDeploymentRow, error: unknown, known?: ActivityClosure): Promise<Error> {
    if (error instanceof ActivityCancelledError) {
      return problems.conflict('ring-cancelled', `the ${describe(row)} was cancelled`);
    }
    if (error instanceof ActivityNotFoundError) {
      const closure = known ?? (await this.closure(row));
      // Between two attempts Temporal briefly knows no running attempt: the record waits for the retry.
      if (closure === 'OPEN') {
        return problems.unavailable('the ring is between two attempts; send the same report again', error);
      }
      return problems.conflict('ring-finished', `the ${describe(row)} is no longer waiting`);
    }
    if (error instanceof ActivityCompletionError) {
      // Temporal did not answer: the report is recorded and the connector's retry finishes the job.
      return problems.unavailable(
        'the orchestrator did not take the report; send the same report again',
        error,
      );
    }
    return error instanceof Error ? error : new Error(String(error));
  }

  /** How the ring's activity ended, from the workflow's history (no worker needed). */
  private async closure(row: RingDeploymentRow): Promise<ActivityClosure> {
    let events;
    try {
      const history = await this.withTemporal(() =>
        this.client.workflow.getHandle(row.workflowId).fetchHistory(),
      );
      events = history.events ?? [];
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return 'GONE';
      throw problems.unavailable('the orchestrator did not answer; send the same report again', error);
    }
    const scheduled = events
      .filter((event) => event.activityTaskScheduledEventAttributes?.activityId === row.activityId)
      .map((event) => String(event.eventId))
      .at(-1);
    if (scheduled === undefined) return 'GONE';
    const closes = (attributes: { scheduledEventId?: unknown } | null | undefined) =>
      attributes !== null && attributes !== undefined && String(attributes.scheduledEventId) === scheduled;
    for (const event of events) {
      if (closes(event.activityTaskCompletedEventAttributes)) return 'COMPLETED';
      if (closes(event.activityTaskTimedOutEventAttributes)) return 'TIMED_OUT';
      if (closes(event.activityTaskCanceledEventAttributes)) return 'CANCELLED';
      if (closes(event.activityTaskFailedEventAttributes)) return 'FAILED';
    }
    const workflowClosed = events.some(
      (event) =>
        event.workflowExecutionCompletedEventAttributes != null ||
        event.workflowExecutionFailedEventAttributes != null ||
        event.workflowExecutionTimedOutEventAttributes != null ||
        event.workflowExecutionCanceledEventAttributes != null ||
        event.workflowExecutionTerminatedEventAttributes != null ||
        event.workflowExecutionContinuedAsNewEventAttributes != null,
    );
    return workflowClosed ? 'GONE' : 'OPEN';
  }

  /**
   * Calls Temporal within the report's time budget, retrying while it does not answer: a connector
   * gets a 503 in seconds, never after the client's own long retries.
   */
  private async withTemporal<T>(call: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.temporalBudgetMs;
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await this.client.withDeadline(deadline, call);
      } catch (error) {
        const delay = RETRY_DELAYS_MS[attempt];
        const transient = error instanceof ActivityCompletionError || isUnavailable(error);
        if (!transient || delay === undefined || Date.now() + delay >= deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }
}

/** Deterministic per report: a retried write of the same report adds nothing to the trail. */
function reportEventKey(row: RingDeploymentRow, report: ConnectorStatusReport): string {
  // One final report per ring deployment, whatever the attempt: its retries are the same event.
  if (report.final) return `${row.id}:report:final`;
  const content = createHash('sha256')
    .update(JSON.stringify([report.successCount, report.failureCount, report.connectorObjectId ?? null]))
    .digest('hex')
    .slice(0, 16);
  return `${row.id}:report:interim:${String(row.attempt)}:${content}`;
}

/** The report as recorded on the row: what Temporal gets, whoever hands it over. */
function recordedReport(row: RingDeploymentRow): ConnectorReport {
  return {
    successCount: row.successCount,
    failureCount: row.failureCount,
    ...(row.connectorObjectId === null ? {} : { connectorObjectId: row.connectorObjectId }),
  };
}

function activityOf(row: RingDeploymentRow) {
  return { workflowId: row.workflowId, activityId: row.activityId };
}

function describe(row: RingDeploymentRow): string {
  return `${row.kind.toLowerCase()} of ${row.ring}`;
}

/** A final report that repeats the counts of the final report on a REPORTED (or final-recorded) row. */
function isSameFinal(row: RingDeploymentRow, report: ConnectorStatusReport): boolean {
  return report.final && row.successCount === report.successCount && row.failureCount === report.failureCount;
}

/** gRPC UNAVAILABLE or DEADLINE_EXCEEDED, bare or as the cause of a client error (history reads). */
function isUnavailable(error: unknown): boolean {
  const codes = [error, (error as { cause?: unknown } | null)?.cause].map(
    (candidate) => (candidate as { code?: unknown } | null | undefined)?.code,
  );
  return codes.includes(14) || codes.includes(4);
}
