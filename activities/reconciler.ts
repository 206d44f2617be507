import { WorkflowNotFoundError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { optionalTsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import type { Client } from '@temporalio/client';
import type { DeploymentIntentRow } from '../db/repositories/deployment-intents';
import { asTenantId } from '../db/tenant-id';
import type { DataStore, TenantStore } from '../db/tenant-store';
import { isTerminal } from '../policy/intent-status';
import type { IntentStatus } from '../policy/intent-status';
import type { Ring } from '../policy/rings';
import type { RolloutPolicy } from '../policy/rollout-policy';
import { runWithCorrelationId } from '../runtime/correlation';
import { IntentWorkflows } from '../runtime/intent-workflows';
import type { Logger } from '../runtime/logger';
import { DEPLOYMENT_INTENT_WORKFLOW, intentStateQuery } from '../workflows/definitions';
import { READ_MODEL_REPAIRED, RECONCILER_ACTOR, RING_WORK_RELEASED } from '../workflows/reconciliation';
import type { ReconcileRequest, ReconciliationReport } from '../workflows/reconciliation';
import { IntentStatusKey } from '../workflows/search-attributes';

/** How long the reconciler waits for one workflow to answer its state query. */
const QUERY_WAIT_MS = 10_000;
/** Expired Idempotency-Keys forgotten per run at most, in batches: a backlog drains over a few runs. */
const PURGE_BATCHES = 100;

export interface ReconcilerDependencies {
  readonly store: DataStore;
  readonly logger: Logger;
  /** To list, describe, query and start the deployment workflows. */
  readonly client: Client;
  /** The deployment workflows this worker runs: the reconciler looks after those only. */
  readonly taskQueue: string;
  /** The input of intents recorded before their row kept it (migration 0003). */
  readonly rolloutPolicy: RolloutPolicy;
}

interface IntentPosition {
  readonly status: IntentStatus;
  readonly currentRing: Ring | null;
}

type Tally = { -readonly [K in keyof Omit<ReconciliationReport, 'idempotencyKeysPurged'>]-?: number };

/** The connector activities of a deployment workflow: each attempt records its ring row, then waits. */
const RING_ACTIVITY_TYPES = new Set(['deployToRing', 'rollbackRing']);
/** Statuses in which a workflow runs connector activities. */
const RING_WORK_STATUSES = new Set<IntentStatus>(['DEPLOYING', 'ROLLING_BACK']);
const STARTED = temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;

/**
 * The reconciler's activities. The workflows are the truth about a running rollout; the read model is
 * their projection, written by activities. When the two disagree for longer than a transition takes
 * (`thresholdMs`), the projection is set from the workflow's own state, in one transaction with an
 * audit event that says what changed and why. An intent recorded without a workflow gets its workflow.
 */
export function createReconcilerActivities(deps: ReconcilerDependencies) {
  const { store, logger, client } = deps;
  const workflows = new IntentWorkflows(deps);
  const tenant = (row: DeploymentIntentRow): TenantStore => store.forTenant(asTenantId(row.tenantId));

  /** SUBMITTED past the threshold and no workflow: the API died before starting it, or Temporal refused. */
  async function startOrphans(cutoff: Date, batchSize: number, tally: Tally): Promise<void> {
    for (let after: string | undefined; ;) {
      const rows = await store.staleSubmissions(cutoff, batchSize, after);
      for (const row of rows) {
        await runWithCorrelationId(row.correlationId, async () => {
          try {
            const by = { actor: RECONCILER_ACTOR, requestId: null, trigger: 'reconciler' };
            if (await workflows.recover(tenant(row), row, by)) {
              tally.orphansStarted += 1;
              logger.warn({ intentId: row.id }, 'reconciler started the workflow of an orphan intent');
            }
          } catch (error) {
            tally.unrepairable += 1;
            logger.error({ err: error, intentId: row.id }, 'reconciler could not start an orphan intent');
          }
        });
      }
      if (rows.length < batchSize) return;
      after = rows.at(-1)?.id;
    }
  }

  /** The running deployment workflows of this task queue and the status each last published. */
  async function runningWorkflows(): Promise<Map<string, string | undefined>> {
    const running = new Map<string, string | undefined>();
    const query =
      `WorkflowType = ${JSON.stringify(DEPLOYMENT_INTENT_WORKFLOW)} AND ExecutionStatus = 'Running' ` +
      `AND TaskQueue = ${JSON.stringify(deps.taskQueue)}`;
    for await (const execution of client.workflow.list({ query })) {
      running.set(execution.workflowId, execution.typedSearchAttributes.get(IntentStatusKey));
    }
    return running;
  }

  async function askedState(row: DeploymentIntentRow): Promise<IntentPosition> {
    const handle = client.workflow.getHandle(row.workflowId);
    const state = await client.withDeadline(Date.now() + QUERY_WAIT_MS, () => handle.query(intentStateQuery));
    return { status: state.status, currentRing: state.currentRing };
  }

  /** Sets the row to its workflow's position, unless the row moved meanwhile; audited in the same transaction. */
  async function repair(
    row: DeploymentIntentRow,
    to: IntentPosition,
    source: string,
    tally: Tally,
  ): Promise<void> {
    if (to.status === row.status && to.currentRing === row.currentRing) return;
    if (isTerminal(row.status) && !isTerminal(to.status)) {
      // A finished row is never reopened: its submitter may have been told it failed (the API gave it up
      // while its workflow, started late, had not yet stopped itself). An operator looks at it.
      throw new Error(`the row is ${row.status} but its workflow holds ${to.status}`);
    }
    const at = new Date();
    const repaired = await tenant(row).transaction(async (tx) => {
      if (!(await tx.intents.repairStatus(row.id, row, to, at))) return false;
      await tx.events.append({
        eventKey: `${row.id}:0000:${READ_MODEL_REPAIRED}:${String(row.updatedAt.getTime())}`,
        eventType: READ_MODEL_REPAIRED,
        intentId: row.id,
        correlationId: row.correlationId,
        requestId: null,
        actor: RECONCILER_ACTOR,
        payload: { from: { status: row.status, currentRing: row.currentRing }, to: { ...to }, source },
        occurredAt: at,
      });
      return true;
    });
    if (repaired) {
      tally.statusesRepaired += 1;
      logger.warn(
        { intentId: row.id, from: row.status, to: to.status, source },
        'reconciler repaired an intent',
      );
    }
  }

  /**
   * Old rows of running workflows: a row whose published status differs is asked for its workflow's state
   * (the published one may lag) and repaired from the answer; a row at a ring has its lost connector
   * attempts released.
   */
  async function reconcileRunning(
    running: Map<string, string | undefined>,
    cutoff: Date,
    batchSize: number,
    tally: Tally,
  ): Promise<void> {
    const ids = [...running.keys()];
    for (let start = 0; start < ids.length; start += batchSize) {
      const rows = (await store.intentsOfWorkflows(ids.slice(start, start + batchSize))).filter(
        (row) => row.updatedAt < cutoff,
      );
      // One query for the batch: only a row at a ring with fewer open rings than connectors is looked into.
      const openRings = await store.openRingCounts(
        rows.filter((row) => RING_WORK_STATUSES.has(row.status)).map((row) => row.id),
      );
      for (const row of rows) {
        await runWithCorrelationId(row.correlationId, async () => {
          try {
            if (running.get(row.workflowId) !== row.status) {
              await repair(row, await askedState(row), 'intentState query', tally);
            } else if (
              RING_WORK_STATUSES.has(row.status) &&
              (openRings.get(row.id) ?? 0) < row.connectors.length
            ) {
              tally.ringWorkReleased += await releaseLostRingWork(row, cutoff);
            }
          } catch (error) {
            tally.unrepairable += 1;
            logger.error({ err: error, intentId: row.id }, 'reconciler could not reconcile a running intent');
          }
        });
      }
    }
  }

  /**
   * Connector attempts of this intent's workflow that no connector can see: started before the cutoff
   * and no ring row of that attempt (the worker ended between Temporal's handing it over and the row's
   * write). Each is audited, then failed as retryable so that Temporal runs the next attempt. Called only
   * for a row with fewer open rings than connectors: one with as many has nothing lost.
   */
  async function releaseLostRingWork(row: DeploymentIntentRow, cutoff: Date): Promise<number> {
    const scope = tenant(row);
    const rings = await scope.ringDeployments.forIntent(row.id);
    const description = await client.workflow.getHandle(row.workflowId).describe();
    let released = 0;
    for (const pending of description.raw.pendingActivities ?? []) {
      const activityId = pending.activityId ?? '';
      const attempt = pending.attempt ?? 0;
      const startedMs = optionalTsToMs(pending.lastStartedTime);
      if (
        !RING_ACTIVITY_TYPES.has(pending.activityType?.name ?? '') ||
        pending.state !== STARTED ||
        startedMs === undefined ||
        startedMs >= cutoff.getTime() ||
        rings.some((ring) => ring.activityId === activityId && ring.attempt === attempt)
      ) {
        continue;
      }
      const startedAt = new Date(startedMs).toISOString();
      await scope.events.append({
        eventKey: `${row.id}:0000:${RING_WORK_RELEASED}:${activityId}:${String(attempt)}`,
        eventType: RING_WORK_RELEASED,
        intentId: row.id,
        correlationId: row.correlationId,
        requestId: null,
        actor: RECONCILER_ACTOR,
        payload: {
          activityId,
          attempt,
          startedAt,
          reason: 'the worker that started this attempt ended before recording its ring',
        },
        occurredAt: new Date(),
      });
      await client.activity.fail(
        { workflowId: row.workflowId, runId: description.runId, activityId },
        ApplicationFailure.retryable(
          `attempt ${String(attempt)} was lost with its worker before it recorded the ring`,
          'RingWorkLost',
        ),
      );
      released += 1;
      logger.warn({ intentId: row.id, activityId, attempt, startedAt }, 'reconciler released lost ring work');
    }
    return released;
  }

  /** Where a closed workflow left its intent; an abnormal close (terminated, timed out) is a FAILED one. */
  async function closedPosition(row: DeploymentIntentRow, closedAs: string): Promise<IntentPosition> {
    if (closedAs === 'COMPLETED') return askedState(row);
    return { status: 'FAILED', currentRing: row.currentRing };
  }

  /** Unfinished old rows whose workflow is not running: it closed, and the row missed its end. */
  async function repairClosed(
    running: Map<string, string | undefined>,
    cutoff: Date,
    batchSize: number,
    tally: Tally,
  ): Promise<void> {
    for (let after: string | undefined; ;) {
      const rows = await store.unsettledIntents(cutoff, batchSize, after);
      for (const row of rows) {
        if (running.has(row.workflowId)) continue;
        await runWithCorrelationId(row.correlationId, async () => {
          try {
            const description = await client.workflow.getHandle(row.workflowId).describe();
            const closedAs = description.status.name;
            // Started after the list was read (an orphan a moment ago): nothing to repair.
            if (closedAs === 'RUNNING') return;
            await repair(row, await closedPosition(row, closedAs), `workflow ${closedAs}`, tally);
          } catch (error) {
            // A SUBMITTED row without a workflow is an orphan: startOrphans answers for it.
            if (error instanceof WorkflowNotFoundError && row.status === 'SUBMITTED') return;
            tally.unrepairable += 1;
            logger.error(
              { err: error, intentId: row.id, status: row.status },
              'reconciler could not reconcile an intent with its workflow',
            );
          }
        });
      }
      if (rows.length < batchSize) return;
      after = rows.at(-1)?.id;
    }
  }

  return {
    /**
     * Starts orphans, repairs rows that disagree with running and with closed workflows, and releases
     * connector attempts lost with their worker.
     */
    async reconcileIntents(
      request: ReconcileRequest,
    ): Promise<Omit<ReconciliationReport, 'idempotencyKeysPurged'>> {
      const cutoff = new Date(Date.now() - request.thresholdMs);
      const tally: Tally = { orphansStarted: 0, statusesRepaired: 0, ringWorkReleased: 0, unrepairable: 0 };
      await startOrphans(cutoff, request.batchSize, tally);
      const running = await runningWorkflows();
      await reconcileRunning(running, cutoff, request.batchSize, tally);
      await repairClosed(running, cutoff, request.batchSize, tally);
      logger.info({ ...tally }, 'reconciliation done');
      return tally;
    },

    /** Forgets expired Idempotency-Keys of every tenant, `batchSize` at a time. */
    async purgeExpiredIdempotencyKeys(batchSize: number): Promise<number> {
      let purged = 0;
      for (let batch = 0; batch < PURGE_BATCHES; batch += 1) {
        const count = await store.purgeExpiredIdempotencyKeys(batchSize);
        purged += count;
        if (count < batchSize) break;
      }
      return purged;
    },
  };
}

export type ReconcilerActivities = ReturnType<typeof createReconcilerActivities>;
