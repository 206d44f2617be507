import { ApplicationFailure, CompleteAsyncError, Context } from '@temporalio/activity';
import type { DataStore, TenantStore } from '../db/tenant-store';
import { asTenantId } from '../db/tenant-id';
import type {
  CabApprovalEntry,
  RingDeploymentKind,
  RingDeploymentOutcome,
  RingDeploymentStatus,
} from '../db/schema';
import type { CabOutcome } from '../db/repositories/cab-approvals';
import { assessmentOf, riskSummaryOf } from '../db/repositories/risk-assessments';
import type { RiskAssessmentRow } from '../db/repositories/risk-assessments';
import { permanentDataError } from '../db/sql-state';
import type { ConnectorType, Platform } from '../policy/connectors';
import type { IntentStatus } from '../policy/intent-status';
import type { GateVerdict } from '../policy/promotion-gate';
import type { Ring } from '../policy/rings';
import { RISK_MODEL_V1 } from '../policy/risk-model';
import { scoreRisk } from '../policy/risk-scoring';
import { runWithCorrelationId } from '../runtime/correlation';
import type { Logger } from '../runtime/logger';
import { FailureTypes, WORKFLOW_ACTOR } from '../workflows/definitions';
import type { ConnectorReport, RiskSummary, SubmittedAssessment } from '../workflows/definitions';

/** Which intent an activity works for; every activity carries it, so logs and rows have the correlation id. */
export interface IntentRef {
  readonly tenantId: string;
  readonly intentId: string;
  readonly correlationId: string;
}

/** One entry of the audit trail plus the read-model state it moves the intent to. */
/**
 * What a bookkeeping activity answers: the key of the event it recorded (or found recorded). A local
 * activity's history marker keeps its result but not its input, so this is how the history names the
 * audit event each completed write stands for (the fault suite checks every one is in the trail).
 */
export interface RecordedEvent {
  readonly eventKey: string;
}

const recorded = (record: { readonly eventKey: string }): RecordedEvent => ({ eventKey: record.eventKey });

/** What `recordBookkeeping` answers: the keys of the events its records stand for, in order. */
export interface RecordedEvents {
  readonly eventKeys: readonly string[];
}

export interface TransitionRecord extends IntentRef {
  /** Unique per transition and stable across retries: a retried write adds nothing. */
  readonly eventKey: string;
  readonly eventType: string;
  /** Undefined for an event that does not move the read model (a control request noted on arrival). */
  readonly status: IntentStatus | undefined;
  readonly currentRing: Ring | null;
  readonly actor: string;
  readonly payload: Record<string, unknown>;
  /** Workflow time of the transition. */
  readonly at: string;
}

export interface RiskRequest extends IntentRef {
  readonly eventKey: string;
  readonly asOf: string;
  readonly targetRing: Ring;
  readonly platforms: readonly Platform[];
  readonly targetDeviceCount?: number;
}

/** Work a connector carries out for one ring: a deployment or its rollback. */
export interface RingWork extends IntentRef {
  readonly ring: Ring;
  readonly connectorType: ConnectorType;
  readonly platforms: readonly Platform[];
  readonly appName: string;
  readonly version: string;
  readonly startedAt: string;
  readonly deadlineAt: string;
}

export interface RingSettlement {
  readonly connectorType: ConnectorType;
  readonly outcome: RingDeploymentOutcome;
  readonly status?: RingDeploymentStatus;
  readonly report?: ConnectorReport;
}

/** A ring's connector outcomes (and gate verdict), stored with the transition's event. */
export interface RingSettlementRecord extends TransitionRecord {
  readonly ring: Ring;
  readonly kind: RingDeploymentKind;
  readonly settlements: readonly RingSettlement[];
  readonly verdict?: GateVerdict;
}

/**
 * RISK_ASSESSED for an assessment made at submission (the workflow's input): the risk_assessments row and
 * the read model's score go with the event. Its `status` is undefined: the score moves no status.
 */
export interface AssessmentRecord extends TransitionRecord {
  readonly assessment: SubmittedAssessment;
}

/**
 * One record of a `recordBookkeeping` batch: what `recordTransition` or `recordRingSettlement` writes, or
 * an assessment made at submission (at most one per batch, its first).
 */
export type BookkeepingStep =
  | { readonly kind: 'transition'; readonly record: TransitionRecord }
  | { readonly kind: 'settlement'; readonly record: RingSettlementRecord }
  | { readonly kind: 'assessment'; readonly record: AssessmentRecord };

export interface ActivityDependencies {
  readonly store: DataStore;
  readonly logger: Logger;
}

/**
 * Runs an activity's database work; a write the database refuses for its values (permanentDataError)
 * fails at once as a non-retryable UnstorableData, which the workflow handles, instead of being retried
 * forever. Its message carries the SQLSTATE and PostgreSQL's text, never the values.
 */
async function refusingPermanentDataErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const refused = permanentDataError(error);
    if (refused === undefined) throw error;
    throw ApplicationFailure.nonRetryable(
      `the database refused the data (SQLSTATE ${refused.sqlState}): ${refused.message}`,
      FailureTypes.UnstorableData,
    );
  }
}

/** The refusal of a record for an intent the API gave up (giveUpUnstarted marked it FAILED): not retried. */
function givenUp(intentId: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    `intent ${intentId} was given up before its workflow ran: its submitter was told to submit it again`,
    FailureTypes.IntentGivenUp,
  );
}

/** An intent's risk_assessments row; a retry gets the row it wrote first. */
function recordAssessment(
  tx: TenantStore,
  intentId: string,
  assessment: SubmittedAssessment,
): Promise<RiskAssessmentRow> {
  return tx.riskAssessments.record({
    intentId,
    modelVersion: assessment.modelVersion,
    score: assessment.score,
    threshold: assessment.threshold,
    requiresCab: assessment.requiresCab,
    autoApprovalBlockers: [...assessment.autoApprovalBlockers],
    factors: [...assessment.factors],
    evidenceHash: assessment.evidenceHash,
    assessedAt: new Date(assessment.assessedAt),
  });
}

export function createActivities({ store, logger }: ActivityDependencies) {
  const tenant = (ref: IntentRef): TenantStore => store.forTenant(asTenantId(ref.tenantId));

  /**
   * The correlation id rows and events are written with: the intent row's. A workflow started before
   * correlation ids were unique still carries the shared id it was given, which a migration replaced.
   */
  async function correlationIdOf(scope: TenantStore, ref: IntentRef): Promise<string> {
    return (await scope.intents.correlationIdOf(ref.intentId)) ?? ref.correlationId;
  }

  async function appendTransition(scope: TenantStore, record: TransitionRecord): Promise<void> {
    const at = new Date(record.at);
    const moved =
      record.status === undefined
        ? undefined
        : await scope.intents.recordProgress(
            record.intentId,
            { status: record.status, currentRing: record.currentRing },
            at,
          );
    const added = await scope.events.append({
      eventKey: record.eventKey,
      eventType: record.eventType,
      intentId: record.intentId,
      correlationId: moved ?? (await correlationIdOf(scope, record)),
      // The workflow records on its own account: no request caused this write.
      requestId: null,
      actor: record.actor,
      payload: record.payload,
      occurredAt: at,
    });
    logger.info(
      {
        intentId: record.intentId,
        eventType: record.eventType,
        status: record.status,
        ring: record.currentRing,
        added,
      },
      'intent transition',
    );
  }

  async function settleRing(scope: TenantStore, record: RingSettlementRecord): Promise<void> {
    for (const settlement of record.settlements) {
      await scope.ringDeployments.settle(
        record.intentId,
        record.ring,
        record.kind,
        settlement.connectorType,
        {
          outcome: settlement.outcome,
          status: settlement.status,
          report: settlement.report,
          gateVerdict: record.verdict,
          completedAt: new Date(record.at),
        },
      );
    }
  }

  async function awaitConnector(work: RingWork, kind: RingDeploymentKind): Promise<ConnectorReport> {
    const info = Context.current().info;
    if (info.workflowExecution === undefined) {
      throw ApplicationFailure.nonRetryable('ring work is only carried out for a workflow', 'NotInWorkflow');
    }
    const scope = tenant(work);
    await scope.ringDeployments.recordPending({
      intentId: work.intentId,
      // The intent row's wins (recordPending reads it in the same statement).
      correlationId: work.correlationId,
      ring: work.ring,
      kind,
      connectorType: work.connectorType,
      platforms: [...work.platforms],
      workflowId: info.workflowExecution.workflowId,
      activityId: info.activityId,
      attempt: info.attempt,
      appName: work.appName,
      appVersion: work.version,
      startedAt: new Date(work.startedAt),
      deadlineAt: new Date(work.deadlineAt),
    });
    logger.info(
      {
        intentId: work.intentId,
        ring: work.ring,
        kind,
        connectorType: work.connectorType,
        attempt: info.attempt,
      },
      'waiting for connector',
    );
    // The connector completes this activity through the API (by workflow id and activity id).
    throw new CompleteAsyncError();
  }

  return {
    /** Scores the intent's evidence against the tenant's active risk model and records the assessment. */
    async assessRisk(request: RiskRequest): Promise<RiskSummary> {
      return runWithCorrelationId(request.correlationId, () =>
        refusingPermanentDataErrors(async () => {
          const scope = tenant(request);
          // The intent and its evidence pack in one read.
          const intent = await scope.intents.withEvidence(request.intentId);
          if (intent === undefined) {
            throw ApplicationFailure.nonRetryable(
              `intent ${request.intentId} not found`,
              FailureTypes.IntentNotFound,
            );
          }
          const pack = intent.pack;
          if (pack === null) {
            throw ApplicationFailure.nonRetryable(
              `evidence pack ${intent.evidencePackId} not found`,
              FailureTypes.EvidencePackNotFound,
            );
          }
          const model = await scope.riskModels.activeOrInstall(RISK_MODEL_V1, new Date(request.asOf));
          const risk = scoreRisk(model.definition, {
            evidence: pack.content,
            targetRing: request.targetRing,
            targetPlatforms: request.platforms,
            targetDeviceCount: request.targetDeviceCount,
            asOf: request.asOf,
          });
          const at = new Date(request.asOf);
          return scope.transaction(async (tx) => {
            const recorded = await recordAssessment(
              tx,
              request.intentId,
              assessmentOf(risk, pack.contentHash, request.asOf),
            );
            // Refuses (and so rolls back) an intent the API gave up meanwhile: giveUpUnstarted marks it FAILED.
            const moved = await tx.intents.recordProgress(
              request.intentId,
              {
                status: 'SUBMITTED',
                riskScore: recorded.score,
                riskModelVersion: recorded.modelVersion,
                requiresCab: recorded.requiresCab,
              },
              at,
              'FAILED',
            );
            if (moved === undefined) throw givenUp(request.intentId);
            const summary = riskSummaryOf(recorded);
            await tx.events.append({
              eventKey: request.eventKey,
              eventType: 'RISK_ASSESSED',
              intentId: request.intentId,
              correlationId: intent.correlationId,
              requestId: null,
              actor: WORKFLOW_ACTOR,
              payload: { ...summary },
              occurredAt: at,
            });
            return summary;
          });
        }),
      );
    },

    /** Moves the read model to the transition's state and appends its event, in one transaction. */
    async recordTransition(record: TransitionRecord): Promise<RecordedEvent> {
      await runWithCorrelationId(record.correlationId, () =>
        refusingPermanentDataErrors(() => tenant(record).transaction((tx) => appendTransition(tx, record))),
      );
      return recorded(record);
    },

    async requestCab(
      record: TransitionRecord & { readonly deadlineAt: string; readonly requiredApprovals?: number },
    ): Promise<RecordedEvent> {
      await runWithCorrelationId(record.correlationId, () =>
        refusingPermanentDataErrors(() =>
          tenant(record).transaction(async (tx) => {
            await tx.cabApprovals.request(
              record.intentId,
              new Date(record.at),
              new Date(record.deadlineAt),
              record.requiredApprovals,
            );
            await appendTransition(tx, record);
          }),
        ),
      );
      return recorded(record);
    },

    /** One approval towards a CAB quorum: the read model's list of approvals and its event, together. */
    async recordCabApproval(
      record: TransitionRecord & { readonly approval: CabApprovalEntry },
    ): Promise<RecordedEvent> {
      await runWithCorrelationId(record.correlationId, () =>
        refusingPermanentDataErrors(() =>
          tenant(record).transaction(async (tx) => {
            await tx.cabApprovals.addApproval(record.intentId, record.approval);
            await appendTransition(tx, record);
          }),
        ),
      );
      return recorded(record);
    },

    async recordCabOutcome(
      record: TransitionRecord & { readonly outcome: Omit<CabOutcome, 'decidedAt'> },
    ): Promise<RecordedEvent> {
      await runWithCorrelationId(record.correlationId, () =>
        refusingPermanentDataErrors(() =>
          tenant(record).transaction(async (tx) => {
            await tx.cabApprovals.settle(record.intentId, {
              ...record.outcome,
              decidedAt: new Date(record.at),
            });
            await appendTransition(tx, record);
          }),
        ),
      );
      return recorded(record);
    },

    /** Records a pending deployment of one ring for one connector; the connector completes it. */
    async deployToRing(work: RingWork): Promise<ConnectorReport> {
      return runWithCorrelationId(work.correlationId, () =>
        refusingPermanentDataErrors(() => awaitConnector(work, 'DEPLOY')),
      );
    },

    /** Records a pending rollback of one ring for one connector; the connector completes it. */
    async rollbackRing(work: RingWork): Promise<ConnectorReport> {
      return runWithCorrelationId(work.correlationId, () =>
        refusingPermanentDataErrors(() => awaitConnector(work, 'ROLLBACK')),
      );
    },

    /** Stores each connector's outcome for a ring (and the gate verdict) with the transition's event. */
    async recordRingSettlement(record: RingSettlementRecord): Promise<RecordedEvent> {
      await runWithCorrelationId(record.correlationId, () =>
        refusingPermanentDataErrors(() =>
          tenant(record).transaction(async (tx) => {
            await settleRing(tx, record);
            await appendTransition(tx, record);
          }),
        ),
      );
      return recorded(record);
    },

    /**
     * Several transitions and ring settlements of one intent (from the batched-bookkeeping patch on: what
     * the workflow recorded between two points where it waits or acts), in one transaction and in the
     * order given: the same rows and events as `recordTransition` and `recordRingSettlement` one by one,
     * with the audit chain's head locked once. All or nothing; a retry adds nothing already recorded.
     */
    async recordBookkeeping(steps: readonly BookkeepingStep[]): Promise<RecordedEvents> {
      const first = steps[0]?.record;
      if (first === undefined) return { eventKeys: [] };
      if (
        steps.some(
          (step) => step.record.intentId !== first.intentId || step.record.tenantId !== first.tenantId,
        )
      ) {
        throw ApplicationFailure.nonRetryable(
          'a bookkeeping batch is for one intent',
          'MixedBookkeepingBatch',
        );
      }
      await runWithCorrelationId(first.correlationId, () =>
        refusingPermanentDataErrors(() =>
          tenant(first).transaction(async (tx) => {
            let scored: RiskAssessmentRow | undefined;
            for (const step of steps) {
              if (step.kind === 'settlement') await settleRing(tx, step.record);
              if (step.kind === 'assessment') {
                scored = await recordAssessment(tx, step.record.intentId, step.record.assessment);
              }
            }
            // The read model ends where the last record that moves it leaves it, with the score when one came.
            const last = [...steps].reverse().find((step) => step.record.status !== undefined)?.record;
            const progress = {
              // An assessment is the intent's first record: it was SUBMITTED, unless the batch moves it on.
              ...(last?.status === undefined
                ? { status: 'SUBMITTED' as const }
                : { status: last.status, currentRing: last.currentRing }),
              ...(scored === undefined
                ? {}
                : {
                    riskScore: scored.score,
                    riskModelVersion: scored.modelVersion,
                    requiresCab: scored.requiresCab,
                  }),
            };
            const moved =
              last === undefined && scored === undefined
                ? undefined
                : await tx.intents.recordProgress(
                    first.intentId,
                    progress,
                    new Date((last ?? first).at),
                    // An assessment refuses (and so rolls back) an intent the API gave up meanwhile.
                    scored === undefined ? undefined : 'FAILED',
                  );
            if (scored !== undefined && moved === undefined) throw givenUp(first.intentId);
            const correlationId = moved ?? (await correlationIdOf(tx, first));
            const added = await tx.events.appendMany(
              steps.map(({ record }) => ({
                eventKey: record.eventKey,
                eventType: record.eventType,
                intentId: record.intentId,
                correlationId,
                // The workflow records on its own account: no request caused these writes.
                requestId: null,
                actor: record.actor,
                payload: record.payload,
                occurredAt: new Date(record.at),
              })),
            );
            logger.info(
              {
                intentId: first.intentId,
                eventTypes: steps.map((step) => step.record.eventType),
                status: last?.status,
                ring: last?.currentRing,
                added: added.filter(Boolean).length,
              },
              'intent transitions',
            );
          }),
        ),
      );
      return { eventKeys: steps.map((step) => step.record.eventKey) };
    },
  };
}

export type DeploymentActivities = ReturnType<typeof createActivities>;
