import { randomUUID } from 'node:crypto';
import { ActivityCancelledError, ActivityCompletionError, ActivityNotFoundError } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import type { TenantStore } from '../../db/tenant-store';
import type { RingDeploymentRow } from '../../db/repositories/ring-deployments';
import type { RingDeploymentKind } from '../../db/schema';
import type { ConnectorType } from '../../policy/connectors';
import type { Ring } from '../../policy/rings';
import type { ConnectorReport } from '../../workflows/definitions';
import { problems } from '../problem';

/** A connector's report on one ring, as the seed's PowerShell contract sends it. */
export interface ConnectorStatusReport {
  readonly correlationId: string;
  readonly ring: Ring;
  readonly connectorType: ConnectorType;
  /**
   * Which work the report is about. Optional for the seed's scripts, which name only the ring; set, it
   * keeps a late deployment report from landing on the ring's rollback.
   */
  readonly kind?: RingDeploymentKind;
  readonly connectorObjectId: string;
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

/**
 * Turns connector reports into Temporal activity heartbeats and completions, by workflow id and the
 * ring's stable activity id (a task token would go stale after a retry). Temporal first, then the
 * read model: a lost database write is repaired by the connector's retry or by the workflow's own
 * settlement, never the other way round.
 */
export class ConnectorReportService {
  constructor(private readonly client: Client) {}

  async report(store: TenantStore, report: ConnectorStatusReport, actor: string): Promise<ReportResult> {
    const key = {
      correlationId: report.correlationId,
      ring: report.ring,
      connectorType: report.connectorType,
      kind: report.kind,
    };
    const open = await store.ringDeployments.findOpen(key);
    if (open === undefined) return this.answerClosed(store, report);

    const target = { workflowId: open.workflowId, activityId: open.activityId };
    const result: ConnectorReport = {
      successCount: report.successCount,
      failureCount: report.failureCount,
      connectorObjectId: report.connectorObjectId,
    };
    try {
      if (report.final) await this.client.activity.complete(target, result);
      else await this.client.activity.heartbeat(target, result);
    } catch (error) {
      if (error instanceof ActivityCancelledError) {
        throw problems.conflict(
          'ring-cancelled',
          `the ${open.kind.toLowerCase()} of ${open.ring} was cancelled`,
        );
      }
      if (error instanceof ActivityNotFoundError) {
        // An identical final report that raced this one may have completed it a moment ago.
        const latest = (await store.ringDeployments.findAll({ ...key, kind: open.kind })).at(-1);
        if (latest !== undefined && isSameFinal(latest, report)) {
          return { outcome: 'ALREADY_COMPLETED', deployment: latest };
        }
        throw problems.conflict(
          'ring-finished',
          `the ${open.kind.toLowerCase()} of ${open.ring} is no longer waiting`,
        );
      }
      if (error instanceof ActivityCompletionError) {
        // Temporal did not take the report (unreachable, overloaded): nothing changed, the connector retries.
        throw problems.unavailable('the orchestrator did not take the report; send it again');
      }
      throw error;
    }

    const at = new Date();
    const updated = await store.transaction(async (tx) => {
      const row = await tx.ringDeployments.recordReport(open.id, { ...result, final: report.final, at });
      await tx.events.append({
        eventKey: `${open.id}:report:${randomUUID()}`,
        eventType: 'CONNECTOR_REPORTED',
        intentId: open.intentId,
        correlationId: open.correlationId,
        actor,
        payload: {
          ring: open.ring,
          kind: open.kind,
          connectorType: open.connectorType,
          ...result,
          final: report.final,
        },
        occurredAt: at,
      });
      return row;
    });
    return {
      outcome: report.final ? 'COMPLETED' : 'HEARTBEAT_RECORDED',
      deployment: updated ?? { ...open, ...result },
    };
  }

  /** No open deployment: a repeated final report is answered as before; anything else is refused. */
  private async answerClosed(store: TenantStore, report: ConnectorStatusReport): Promise<ReportResult> {
    const rows = await store.ringDeployments.forRing(report.correlationId, report.ring);
    if (rows.length === 0) {
      throw problems.notFound(`a deployment of ${report.ring} with correlation id ${report.correlationId}`);
    }
    const own = rows.filter((row) => row.connectorType === report.connectorType);
    if (own.length === 0) {
      throw problems.forbidden(
        `${report.ring} of this intent is not deployed through ${report.connectorType}`,
      );
    }
    const latest = own.filter((row) => report.kind === undefined || row.kind === report.kind).at(-1);
    if (latest === undefined) {
      throw problems.notFound(
        `a ${String(report.kind).toLowerCase()} of ${report.ring} with correlation id ${report.correlationId}`,
      );
    }
    if (isSameFinal(latest, report)) return { outcome: 'ALREADY_COMPLETED', deployment: latest };
    throw problems.conflict(
      'ring-finished',
      `the ${latest.kind.toLowerCase()} of ${report.ring} is ${latest.status.toLowerCase().replace('_', ' ')}: it takes no more reports`,
    );
  }
}

/** A final report that repeats the counts this deployment was completed with. */
function isSameFinal(row: RingDeploymentRow, report: ConnectorStatusReport): boolean {
  return (
    report.final &&
    row.status === 'REPORTED' &&
    row.successCount === report.successCount &&
    row.failureCount === report.failureCount
  );
}
