import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  TimeoutFailure,
  allHandlersFinished,
  condition,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';
import type * as activities from '../activities';
import type { BookkeepingStep, RingSettlement, TransitionRecord } from '../activities';
import type { RingDeploymentStatus } from '../db/schema';
import type { CabConditions, CabDecision } from '../policy/cab-decision';
import { refuseCabDecision } from '../policy/cab-decision';
import { requiredCabApprovals, tallyCabQuorum } from '../policy/cab-quorum';
import type { ConnectorAssignment, ConnectorType } from '../policy/connectors';
import { isTerminal } from '../policy/intent-status';
import type { IntentStatus } from '../policy/intent-status';
import { evaluatePromotionGate, rollbackSucceeded } from '../policy/promotion-gate';
import type { GateVerdict } from '../policy/promotion-gate';
import { lowerRing, ringsThrough } from '../policy/rings';
import type { Ring } from '../policy/rings';
import {
  ANSWER_RISK_AFTER_DECISION_PATCH,
  BATCHED_BOOKKEEPING_PATCH,
  CAB_QUORUM_PATCH,
  CONTROL_REQUEST_EVENTS,
  FailureTypes,
  LOCAL_BOOKKEEPING_PATCH,
  ONE_MARKER_PATCH,
  RECORD_REQUEST_KEY_PATCH,
  RISK_AT_SUBMISSION_PATCH,
  SEARCH_ATTRIBUTES_ONCE_PATCH,
  UPSERT_ON_CHANGE_PATCH,
  WITHHELD_MESSAGE,
  WITHHOLD_UNSTORABLE_MESSAGE_PATCH,
  abortSignal,
  cabDecisionUpdate,
  intentStateQuery,
  pauseSignal,
  promoteSignal,
  resumeSignal,
  riskAssessedUpdate,
  WORKFLOW_ACTOR,
} from './definitions';
import type {
  CabApproval,
  CabProgress,
  CabVerdict,
  ConnectorReport,
  ControlRequest,
  DeploymentIntentInput,
  IntentOutcome,
  IntentState,
  RingPhase,
  RingProgress,
  RiskSummary,
  SubmittedAssessment,
} from './definitions';
import { AppNameKey, DeployRingKey, IntentStatusKey, RiskScoreKey } from './search-attributes';

type Activities = ReturnType<typeof activities.createActivities>;

/** Bookkeeping writes: quick, and retried until the database answers. */
const BOOKKEEPING_OPTIONS = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
} as const satisfies ActivityOptions & LocalActivityOptions;

/** The bookkeeping activities, as scheduled through the server (histories before the local-bookkeeping patch). */
const serverBookkeeping = proxyActivities<Activities>(BOOKKEEPING_OPTIONS);

/**
 * The same activities run by the worker that runs the workflow, inside the workflow task (from the
 * local-bookkeeping patch on): the write is made and awaited exactly as before, the workflow moves on only
 * once it is recorded, but without a round trip through the server per write. A retry past a minute
 * waits on a timer in the workflow, as a scheduled activity's would on the server.
 */
const localBookkeeping = proxyLocalActivities<Activities>(BOOKKEEPING_OPTIONS);

/**
 * One deployment intent, start to end: risk → CAB (when required) → ring by ring through the
 * connectors, each ring behind its promotion gate → COMPLETED, or a rollback of every deployed ring.
 */
export async function deploymentIntentWorkflow(input: DeploymentIntentInput): Promise<IntentOutcome> {
  const run = new IntentRun(input);
  run.listen();
  const outcome = await run.execute();
  // Let a CAB decision that is still being answered finish before the workflow closes.
  await condition(allHandlersFinished);
  return outcome;
}

type RingResult = 'PASSED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

const RING_FAILURE_REASON: Record<Exclude<RingResult, 'PASSED'>, (ring: Ring) => string> = {
  FAILED: (ring) => `${ring} failed its promotion gate`,
  TIMED_OUT: (ring) => `${ring} did not report before its deadline`,
  ABORTED: (ring) => `aborted during ${ring}`,
};

/** How a ring that got no final report is closed. */
const CLOSED_RING = {
  ABORTED: { phase: 'ABORTED', eventType: 'RING_ABORTED', status: 'CANCELLED' },
  TIMED_OUT: { phase: 'TIMED_OUT', eventType: 'RING_TIMED_OUT', status: 'TIMED_OUT' },
  FAILED: { phase: 'TIMED_OUT', eventType: 'RING_FAILED', status: 'CANCELLED' },
} as const satisfies Record<string, { phase: RingPhase; eventType: string; status: RingDeploymentStatus }>;

class IntentRun {
  private status: IntentStatus = 'SUBMITTED';
  private currentRing: Ring | null = null;
  private plannedRings: Ring[];
  private risk: RiskSummary | null = null;
  private cab: CabProgress = { state: 'NOT_REQUIRED' };
  private cabDecision: CabDecision | undefined;
  private cabRecorded = false;
  private riskSettled = false;
  /**
   * Histories recorded before the patch answered the risk update as soon as the score was known;
   * from the patch on it waits for the decision that follows the score to be recorded.
   */
  private answerRiskAfterDecision = false;
  /** Histories recorded before the patch retried a refused message forever; from it on it is withheld. */
  private withholdUnstorableMessages = false;
  /** From this patch on, a control request's event carries its request key. */
  private recordRequestKeys = false;
  /** From this patch on, a high-risk intent waits for an N-of-M quorum of distinct CAB approvals. */
  private cabQuorum = false;
  private requiredApprovals = 1;
  private readonly approvals: CabApproval[] = [];
  /** From this patch on, search attributes are upserted only when they change (see the patch's doc). */
  private upsertOnChange = false;
  /** From this patch on, the bookkeeping writes run as local activities (see LOCAL_BOOKKEEPING_PATCH). */
  private localBookkeeping = false;
  /** From the one-marker patch on, the risk score is published with the status the assessment leads to. */
  private scoreWithStatus = false;
  /** From this patch on, records wait in `pending` until the workflow next waits or acts (BATCHED_BOOKKEEPING_PATCH). */
  private batched = false;
  private pending: { step: BookkeepingStep; onRecorded?: () => void }[] = [];
  /**
   * From this patch on, a change of status or ring waits in `status`/`currentRing` and is upserted by the
   * next `flush` (every wait, connector work and the end go through one), once per workflow task
   * (SEARCH_ATTRIBUTES_ONCE_PATCH). Local activities run inside the workflow task: no upsert before them.
   */
  private upsertAtWaits = false;
  /** The writes of a batched run, one after another in the order asked: the trail's order. */
  private writing: Promise<void> = Promise.resolve();
  /** Batched runs: every bookkeeping write goes after the records waiting before it. */
  private readonly orderedBookkeeping = new Proxy(localBookkeeping, {
    get:
      (target, name: keyof typeof localBookkeeping) =>
      (...args: never[]) => {
        const batch = this.pending.splice(0);
        return this.inOrder(async () => {
          await this.writeBatch(batch);
          return (target[name] as (...a: never[]) => Promise<unknown>)(...args);
        });
      },
  });
  /** From this patch on, the API's assessment (the input's) is recorded with the first decision. */
  private riskAtSubmission = false;
  /** Set once that assessment is durable: a refusal after it is no longer the given-up intent's. */
  private riskRecorded = false;
  private unpublishedScore: number | undefined;
  /** Set when a published score is withdrawn (a given-up intent): the next upsert removes RiskScore. */
  private scoreWithdrawn = false;
  /** What the search attributes say (the start set IntentStatus SUBMITTED and no DeployRing). */
  private published: { status: IntentStatus; ring: Ring | null } = { status: 'SUBMITTED', ring: null };
  private conditions: CabConditions = {};
  private readonly rings: RingProgress[] = [];
  private paused = false;
  private abort: ControlRequest | undefined;
  private awaitingPromotion: Ring | null = null;
  private promotion: (ControlRequest & { ring: Ring }) | undefined;
  private failure: string | null = null;
  private eventSequence = 0;

  constructor(private readonly input: DeploymentIntentInput) {
    this.plannedRings = ringsThrough(input.targetRing);
  }

  listen(): void {
    setHandler(intentStateQuery, () => this.snapshot());
    setHandler(riskAssessedUpdate, async () => {
      await condition(() => this.riskAnswerable() || isTerminal(this.status));
      return this.risk;
    });
    setHandler(pauseSignal, async (request) => {
      if (this.paused || isTerminal(this.status)) return;
      this.paused = true;
      await this.recordRequest(CONTROL_REQUEST_EVENTS.pause, request);
    });
    setHandler(resumeSignal, async (request) => {
      if (!this.paused || isTerminal(this.status)) return;
      this.paused = false;
      await this.recordRequest(CONTROL_REQUEST_EVENTS.resume, request);
    });
    setHandler(abortSignal, async (request) => {
      if (this.aborted() || isTerminal(this.status)) return;
      this.abort = request;
      const reason = await this.recordRequest(CONTROL_REQUEST_EVENTS.abort, request);
      // Later records of the abort (ABORTED, ROLLBACK_STARTED's actor) carry what the trail could hold.
      if (reason !== request.reason) this.abort = { ...request, reason };
    });
    setHandler(promoteSignal, (request) => {
      if (this.awaitingPromotion === request.ring) this.promotion = request;
    });
    setHandler(
      cabDecisionUpdate,
      async (decision) => {
        if (this.cabQuorum) return this.takeQuorumDecision(decision);
        this.cabDecision = decision;
        await condition(() => this.cabRecorded);
        // The status the decision led to, not wherever the rollout has moved on to since.
        return {
          status: decision.decision === 'REJECTED' ? 'REJECTED' : 'APPROVED',
          decision: decision.decision,
          conditions: decision.conditions,
        };
      },
      {
        // Synchronous, so a refused decision never enters the history.
        validator: (decision: CabDecision) => {
          const refusal = refuseCabDecision(decision, {
            awaitingCab: this.status === 'AWAITING_CAB' && this.cabDecision === undefined,
            submitterId: this.input.submitterId,
            targetRing: this.input.targetRing,
            approvedBy: this.approvals.map((approval) => approval.approverId),
          });
          if (refusal !== undefined) throw ApplicationFailure.nonRetryable(refusal.message, refusal.type);
        },
      },
    );
  }

  async execute(): Promise<IntentOutcome> {
    try {
      const outcome = await this.proceed();
      // The last records (COMPLETED, ROLLED_BACK, FAILED, …) are durable before the workflow ends.
      if (this.batched) await this.flush();
      return outcome;
    } catch (error) {
      // From the risk-at-submission patch on, the first write that records the assessment refuses an intent
      // the API gave up: nothing of it was recorded; the intent ends FAILED, as a refused assessment did.
      if (this.riskAtSubmission && !this.riskRecorded && refusedAsGivenUp(error)) return this.givenUp(error);
      throw error;
    }
  }

  private async proceed(): Promise<IntentOutcome> {
    // A run from the one-marker patch on has every change before it; earlier runs replay their own markers
    // (the `||` skips them, so a new run records one marker and one TemporalChangeVersion upsert, not six).
    const assessment = this.input.assessment;
    this.riskAtSubmission = assessment !== undefined && patched(RISK_AT_SUBMISSION_PATCH);
    this.upsertAtWaits = this.riskAtSubmission || patched(SEARCH_ATTRIBUTES_ONCE_PATCH);
    this.batched = this.upsertAtWaits || patched(BATCHED_BOOKKEEPING_PATCH);
    const oneMarker = this.batched || patched(ONE_MARKER_PATCH);
    this.answerRiskAfterDecision = oneMarker || patched(ANSWER_RISK_AFTER_DECISION_PATCH);
    this.withholdUnstorableMessages = oneMarker || patched(WITHHOLD_UNSTORABLE_MESSAGE_PATCH);
    this.recordRequestKeys = oneMarker || patched(RECORD_REQUEST_KEY_PATCH);
    this.cabQuorum = oneMarker || patched(CAB_QUORUM_PATCH);
    this.upsertOnChange = oneMarker || patched(UPSERT_ON_CHANGE_PATCH);
    this.localBookkeeping = oneMarker || patched(LOCAL_BOOKKEEPING_PATCH);
    this.scoreWithStatus = oneMarker;
    if (!this.upsertOnChange) {
      upsertSearchAttributes([{ key: AppNameKey, value: this.input.appName }]);
      this.setStatus('SUBMITTED');
    }

    if (assessment !== undefined && this.riskAtSubmission) {
      this.risk = this.recordSubmittedAssessment(assessment);
    } else {
      try {
        this.risk = await this.books().assessRisk({
          ...this.ref(),
          eventKey: this.nextEventKey('RISK_ASSESSED'),
          asOf: this.now(),
          targetRing: this.input.targetRing,
          platforms: this.input.connectors.flatMap((c) => c.platforms),
          targetDeviceCount: this.input.targetDeviceCount,
        });
      } catch (error) {
        return this.fail(`risk assessment failed: ${failureMessage(error)}`);
      }
    }
    if (this.scoreWithStatus) this.unpublishedScore = this.risk.score;
    else upsertSearchAttributes([{ key: RiskScoreKey, value: this.risk.score }]);

    if (this.risk.requiresCab) {
      const decided = await this.awaitCab();
      if (decided !== undefined) return decided;
    } else {
      await this.transition('AUTO_APPROVED', { status: 'APPROVED' }, { score: this.risk.score });
      // Batched runs write the decision with the first ring's start: the update answers once it is durable.
      this.whenRecorded(() => {
        this.riskSettled = true;
      });
    }

    this.plannedRings = ringsThrough(lowerRing(this.input.targetRing, this.conditions.maxRing ?? 'GLOBAL'));
    const deployed: Ring[] = [];
    for (const [index, ring] of this.plannedRings.entries()) {
      if (!(await this.holdBeforeRing(ring))) return this.rollBack(deployed, `aborted before ${ring}`);

      deployed.push(ring);
      const result = await this.deployRing(ring);
      if (result !== 'PASSED') return this.rollBack(deployed, RING_FAILURE_REASON[result](ring));

      const next = this.plannedRings[index + 1];
      if (next === undefined) break;
      if (!(await this.soak(ring))) return this.rollBack(deployed, `aborted while ${ring} soaked`);
      await this.transition('RING_PROMOTED', { status: 'DEPLOYING' }, { from: ring, to: next });
    }

    await this.transition('COMPLETED', { status: 'COMPLETED' }, { rings: deployed });
    return this.outcome(deployed, []);
  }

  /**
   * The API's assessment becomes the workflow's (risk-at-submission patch): RISK_ASSESSED waits in `pending`
   * and is written with the decision that follows it, in the trail's order.
   */
  private recordSubmittedAssessment(assessment: SubmittedAssessment): RiskSummary {
    // The event says what an assessment made by the workflow says: the summary, without assessedAt.
    const summary: RiskSummary = {
      modelVersion: assessment.modelVersion,
      score: assessment.score,
      threshold: assessment.threshold,
      requiresCab: assessment.requiresCab,
      autoApprovalBlockers: assessment.autoApprovalBlockers,
      factors: assessment.factors,
      evidenceHash: assessment.evidenceHash,
    };
    this.pending.push({
      step: {
        kind: 'assessment',
        record: { ...this.transitionRecord('RISK_ASSESSED', { ...summary }), status: undefined, assessment },
      },
      onRecorded: () => {
        this.riskRecorded = true;
      },
    });
    return summary;
  }

  /**
   * The API gave the intent up before its workflow ran (risk-at-submission patch): the first write, the
   * assessment's, was refused and nothing of this run is recorded. What the run had moved on to meanwhile
   * (the score, a CAB wait, the first ring) is withdrawn from its state and its search attributes, and it
   * ends FAILED at no ring, as a refused assessment ended it before the patch.
   */
  private async givenUp(error: unknown): Promise<IntentOutcome> {
    this.risk = null;
    this.unpublishedScore = undefined;
    this.scoreWithdrawn = true;
    this.cab = { state: 'NOT_REQUIRED' };
    this.rings.splice(0);
    this.failure = `risk assessment failed: ${failureMessage(error)}`;
    await this.transition('FAILED', { status: 'FAILED', ring: null }, { reason: this.failure });
    await this.flush();
    return this.outcome([], []);
  }

  // ---- CAB ----------------------------------------------------------------------------------------

  /** Waits for the CAB; returns the final outcome when the intent ends here, undefined to deploy. */
  private async awaitCab(): Promise<IntentOutcome | undefined> {
    const requestedAt = this.now();
    const deadlineAt = new Date(Date.now() + this.input.policy.cabTimeoutMs).toISOString();
    if (this.cabQuorum) {
      const rule = this.input.policy.cabQuorum;
      this.requiredApprovals = rule === undefined ? 1 : requiredCabApprovals(this.risk?.score ?? 0, rule);
      this.cab = { state: 'PENDING', requestedAt, deadlineAt, requiredApprovals: this.requiredApprovals };
    } else {
      this.cab = { state: 'PENDING', requestedAt, deadlineAt };
    }
    this.setStatus('AWAITING_CAB');
    await this.books().requestCab({
      ...this.transitionRecord('CAB_REQUESTED', {
        score: this.risk?.score ?? null,
        deadlineAt,
        ...(this.cabQuorum ? { required_approvals: this.requiredApprovals } : {}),
      }),
      deadlineAt,
      ...(this.cabQuorum ? { requiredApprovals: this.requiredApprovals } : {}),
    });
    this.riskSettled = true;

    if (this.batched) await this.flush();
    const answered = await condition(
      () => this.cabDecision !== undefined || this.aborted(),
      this.input.policy.cabTimeoutMs,
    );
    const decision = this.cabDecision;
    if (decision === undefined) {
      const expired = !answered;
      this.cab = { ...this.cab, state: expired ? 'EXPIRED' : 'CANCELLED', decidedAt: this.now() };
      this.setStatus(expired ? 'EXPIRED' : 'ABORTED');
      const eventType = expired ? 'EXPIRED' : 'ABORTED';
      await this.recordWithMessage(eventType, 'reason', expired ? undefined : this.abort?.reason, (reason) =>
        this.books().recordCabOutcome({
          ...this.transitionRecord(
            eventType,
            expired ? { deadlineAt } : { reason: reason ?? null },
            expired ? WORKFLOW_ACTOR : (this.abort?.by ?? WORKFLOW_ACTOR),
          ),
          outcome: { state: expired ? 'EXPIRED' : 'CANCELLED' },
        }),
      );
      return this.outcome([], []);
    }

    const state = decision.decision;
    this.cab = { ...this.cab, state, decision, decidedAt: this.now() };
    this.conditions = decision.conditions ?? {};
    this.setStatus(state === 'REJECTED' ? 'REJECTED' : 'APPROVED');
    const comments = await this.recordWithMessage('CAB_DECIDED', 'comments', decision.comments, (text) =>
      this.books().recordCabOutcome({
        ...this.transitionRecord(
          'CAB_DECIDED',
          {
            decision: state,
            comments: text ?? null,
            conditions: this.conditions,
            ...this.decisionBasis(),
          },
          decision.approverId,
        ),
        outcome: {
          state,
          approverId: decision.approverId,
          comments: text,
          conditions: decision.conditions,
          ...(this.cabQuorum
            ? {
                // The deciding approval's comment as the trail holds it (withheld when unstorable).
                approvals: this.approvals.map((approval) =>
                  approval.approverId === decision.approverId && state !== 'REJECTED'
                    ? withComments(approval, text)
                    : approval,
                ),
                evidenceHash: this.risk?.evidenceHash,
                riskModelVersion: this.risk?.modelVersion,
              }
            : {}),
        },
      }),
    );
    if (comments !== decision.comments) this.cab = { ...this.cab, decision: { ...decision, comments } };
    this.cabRecorded = true;
    return state === 'REJECTED' ? this.outcome([], []) : undefined;
  }

  /**
   * What a CAB decision was made on (runs from the quorum patch on): the evidence pack's hash and the risk
   * model version of the assessment the member saw, and the quorum's approvers.
   */
  private decisionBasis(): Record<string, unknown> {
    if (!this.cabQuorum) return {};
    return {
      evidence_hash: this.risk?.evidenceHash ?? null,
      risk_model_version: this.risk?.modelVersion ?? null,
      required_approvals: this.requiredApprovals,
      approvers: this.approvals.map((approval) => approval.approverId),
    };
  }

  /**
   * A decision under the quorum patch. A rejection, or the approval that completes the quorum, is the
   * CAB's decision (recorded by awaitCab as CAB_DECIDED, with the most restrictive of every approver's
   * conditions); an approval short of the quorum is recorded as CAB_APPROVAL_RECORDED and the intent
   * keeps waiting. The validator has already refused a second approval by the same member.
   */
  private async takeQuorumDecision(decision: CabDecision): Promise<CabVerdict> {
    if (decision.decision !== 'REJECTED') {
      // Taken synchronously, before any await: a concurrent approval's validator already counts it.
      const approval: CabApproval = {
        approverId: decision.approverId,
        decision: decision.decision,
        ...(decision.comments === undefined ? {} : { comments: decision.comments }),
        ...(decision.conditions === undefined ? {} : { conditions: decision.conditions }),
        at: this.now(),
      };
      this.approvals.push(approval);
      const tally = tallyCabQuorum(this.approvals, this.requiredApprovals);
      this.cab = { ...this.cab, approvals: [...this.approvals] };
      if (tally.state === 'PENDING') {
        await this.recordApproval(approval, this.approvals.length);
        return {
          status: 'AWAITING_CAB',
          decision: decision.decision,
          ...(decision.conditions === undefined ? {} : { conditions: decision.conditions }),
          approvers: tally.approvers,
          requiredApprovals: this.requiredApprovals,
        };
      }
      const conditional = tally.state === 'CONDITIONAL';
      this.cabDecision = {
        decision: conditional ? 'CONDITIONAL' : 'APPROVED',
        approverId: decision.approverId,
        ...(decision.comments === undefined ? {} : { comments: decision.comments }),
        ...(conditional ? { conditions: tally.conditions } : {}),
      };
    } else {
      this.cabDecision = decision;
    }
    const final = this.cabDecision;
    await condition(() => this.cabRecorded);
    return {
      status: final.decision === 'REJECTED' ? 'REJECTED' : 'APPROVED',
      decision: final.decision,
      ...(final.conditions === undefined ? {} : { conditions: final.conditions }),
      approvers: this.approvals.map((approval) => approval.approverId),
      requiredApprovals: this.requiredApprovals,
    };
  }

  /** Records one approval short of the quorum: the trail and the CAB read model both hold it. */
  private async recordApproval(approval: CabApproval, count: number): Promise<void> {
    const comments = await this.recordWithMessage(
      'CAB_APPROVAL_RECORDED',
      'comments',
      approval.comments,
      (text) =>
        this.books().recordCabApproval({
          ...this.transitionRecord(
            'CAB_APPROVAL_RECORDED',
            {
              decision: approval.decision,
              comments: text ?? null,
              conditions: approval.conditions ?? {},
              approvals: count,
              required_approvals: this.requiredApprovals,
              evidence_hash: this.risk?.evidenceHash ?? null,
              risk_model_version: this.risk?.modelVersion ?? null,
            },
            approval.approverId,
          ),
          status: undefined,
          approval: withComments(approval, text),
        }),
    );
    if (comments !== approval.comments) {
      const index = this.approvals.indexOf(approval);
      if (index >= 0) this.approvals[index] = withComments(approval, comments);
      this.cab = { ...this.cab, approvals: [...this.approvals] };
    }
  }

  // ---- Between rings: pause, manual promotion ----------------------------------------------------

  /** Holds while paused or awaiting a manual promotion; false when the intent was aborted meanwhile. */
  private async holdBeforeRing(ring: Ring): Promise<boolean> {
    if (!(await this.holdWhilePaused(ring))) return false;
    if (this.conditions.manualPromotion !== true) return true;
    if (!(await this.awaitPromotion(ring))) return false;
    // A pause that arrived while the ring waited for its promotion still holds it.
    return this.holdWhilePaused(ring);
  }

  private async holdWhilePaused(ring: Ring): Promise<boolean> {
    if (this.aborted()) return false;
    if (!this.paused) return true;
    const resumeTo = this.status;
    await this.transition('PAUSED', { status: 'PAUSED' }, { before: ring });
    if (this.batched) await this.flush();
    await condition(() => !this.paused || this.aborted());
    if (this.aborted()) return false;
    await this.transition('RESUMED', { status: resumeTo }, { before: ring });
    return true;
  }

  private async awaitPromotion(ring: Ring): Promise<boolean> {
    const resumeTo = this.status;
    this.awaitingPromotion = ring;
    await this.transition('PROMOTION_AWAITED', { status: 'AWAITING_PROMOTION' }, { ring });
    if (this.batched) await this.flush();
    await condition(() => this.promotion !== undefined || this.aborted());
    this.awaitingPromotion = null;
    const granted = this.promotion;
    this.promotion = undefined;
    if (granted === undefined || this.aborted()) return false;
    await this.transition('PROMOTION_GRANTED', { status: resumeTo }, { ring }, granted.by);
    return true;
  }

  /** The soak timer after a passed gate; false when the intent was aborted during it. */
  private async soak(ring: Ring): Promise<boolean> {
    const soakMs = this.input.policy.rings[ring].soakMs + (this.conditions.extraSoakMs ?? 0);
    if (soakMs > 0) {
      await this.transition('SOAK_STARTED', { status: 'SOAKING' }, { ring, soakMs });
      if (this.batched) await this.flush();
      await condition(() => this.aborted(), soakMs);
    }
    return this.abort === undefined;
  }

  // ---- One ring ----------------------------------------------------------------------------------

  private async deployRing(ring: Ring): Promise<RingResult> {
    const ringPolicy = this.input.policy.rings[ring];
    const startedAtMs = Date.now();
    const progress = this.startRing(ring);
    await this.transition(
      'RING_STARTED',
      { status: 'DEPLOYING', ring },
      {
        connectors: this.input.connectors.map((c) => c.connectorType),
        deadlineAt: new Date(startedAtMs + ringPolicy.reportDeadlineMs).toISOString(),
      },
    );

    const reports = await this.awaitConnectors(ring, 'deploy', (assignment) => {
      const { deployToRing } = proxyActivities<Activities>(
        this.connectorActivityOptions(
          ringActivityId('deploy', ring, assignment),
          ringPolicy.reportDeadlineMs,
        ),
      );
      return deployToRing(this.ringWork(ring, assignment, startedAtMs, ringPolicy.reportDeadlineMs));
    });

    if (reports.kind !== 'REPORTED') {
      const closed = CLOSED_RING[reports.kind];
      this.updateRing(ring, { ...progress, phase: closed.phase, completedAt: this.now() });
      await this.settleRing(
        ring,
        closed.eventType,
        'DEPLOY',
        this.input.connectors.map((c) => ({
          connectorType: c.connectorType,
          outcome: 'FAILED',
          status: closed.status,
        })),
        { reason: reports.reason },
      );
      return reports.kind === 'ABORTED' ? 'ABORTED' : 'TIMED_OUT';
    }

    const total = sumReports(reports.byConnector);
    const verdict = evaluatePromotionGate(
      { ring, ...total, timeToComplianceMs: Date.now() - startedAtMs },
      ringPolicy,
    );
    this.updateRing(ring, {
      ...progress,
      phase: verdict.passed ? 'PASSED' : 'FAILED',
      completedAt: this.now(),
      reports: reports.byConnector,
      verdict,
    });
    await this.transition('RING_REPORTED', {}, { ring, ...total, reports: reports.byConnector });
    await this.settleRing(
      ring,
      verdict.passed ? 'GATE_PASSED' : 'GATE_FAILED',
      'DEPLOY',
      this.input.connectors.map((c) => ({
        connectorType: c.connectorType,
        outcome: verdict.passed ? 'SUCCEEDED' : 'FAILED',
        report: reports.byConnector[c.connectorType],
      })),
      { verdict },
      verdict,
    );
    return verdict.passed ? 'PASSED' : 'FAILED';
  }

  /**
   * Runs one connector activity per assignment and waits for all of them. An abort cancels the
   * deployments still pending; rollbacks are never cancelled.
   */
  private async awaitConnectors(
    ring: Ring,
    action: 'deploy' | 'rollback',
    start: (assignment: ConnectorAssignment) => Promise<ConnectorReport>,
  ): Promise<
    | { kind: 'REPORTED'; byConnector: Partial<Record<ConnectorType, ConnectorReport>> }
    | { kind: 'TIMED_OUT' | 'FAILED' | 'ABORTED'; reason: string }
  > {
    // Record, then act: the ring's start is durable before its connector work is scheduled.
    if (this.batched) await this.flush();
    const scope = new CancellationScope();
    if (action === 'deploy') {
      void condition(() => this.aborted()).then(() => {
        scope.cancel();
      });
    }
    try {
      const reports = await scope.run(() => Promise.all(this.input.connectors.map(start)));
      const byConnector: Partial<Record<ConnectorType, ConnectorReport>> = {};
      this.input.connectors.forEach((assignment, i) => {
        const report = reports[i];
        if (report !== undefined) byConnector[assignment.connectorType] = report;
      });
      return { kind: 'REPORTED', byConnector };
    } catch (error) {
      if (isCancellation(error)) return { kind: 'ABORTED', reason: `${action} of ${ring} aborted` };
      if (error instanceof ActivityFailure && error.cause instanceof TimeoutFailure) {
        return {
          kind: 'TIMED_OUT',
          reason: `no final report for the ${action} of ${ring} before its deadline`,
        };
      }
      return { kind: 'FAILED', reason: `${action} of ${ring} failed: ${failureMessage(error)}` };
    }
  }

  // ---- Rollback ----------------------------------------------------------------------------------

  /** Rolls back every deployed ring, newest first, through the connectors. */
  private async rollBack(deployed: readonly Ring[], reason: string): Promise<IntentOutcome> {
    if (deployed.length === 0) {
      await this.transition('ABORTED', { status: 'ABORTED' }, { reason }, this.abort?.by ?? WORKFLOW_ACTOR);
      return this.outcome([], []);
    }
    const order = [...deployed].reverse();
    await this.transition(
      'ROLLBACK_STARTED',
      { status: 'ROLLING_BACK' },
      { reason, rings: order },
      this.abort?.by ?? WORKFLOW_ACTOR,
    );
    const failedRings: Ring[] = [];
    for (const ring of order) {
      if (!(await this.rollBackRing(ring))) failedRings.push(ring);
    }
    if (failedRings.length > 0) {
      this.failure = `rollback failed for ${failedRings.join(', ')}`;
      await this.transition(
        'FAILED',
        { status: 'FAILED', ring: null },
        { reason: this.failure, cause: reason },
      );
      return this.outcome(
        deployed,
        order.filter((r) => !failedRings.includes(r)),
      );
    }
    await this.transition('ROLLED_BACK', { status: 'ROLLED_BACK', ring: null }, { reason, rings: order });
    return this.outcome(deployed, order);
  }

  private async rollBackRing(ring: Ring): Promise<boolean> {
    const deadlineMs = this.input.policy.rollback.reportDeadlineMs;
    const startedAtMs = Date.now();
    const progress = this.rings.find((r) => r.ring === ring);
    if (progress !== undefined) this.updateRing(ring, { ...progress, phase: 'ROLLING_BACK' });
    await this.transition('RING_ROLLBACK_STARTED', { ring }, { ring });

    const reports = await this.awaitConnectors(ring, 'rollback', (assignment) => {
      const { rollbackRing } = proxyActivities<Activities>(
        this.connectorActivityOptions(ringActivityId('rollback', ring, assignment), deadlineMs),
      );
      return rollbackRing(this.ringWork(ring, assignment, startedAtMs, deadlineMs));
    });
    const minRate = this.input.policy.rollback.minSuccessRate;
    const settlements: RingSettlement[] = this.input.connectors.map((c) => {
      const report = reports.kind === 'REPORTED' ? reports.byConnector[c.connectorType] : undefined;
      const succeeded =
        report !== undefined && rollbackSucceeded(report.successCount, report.failureCount, minRate);
      return {
        connectorType: c.connectorType,
        outcome: succeeded ? 'SUCCEEDED' : 'FAILED',
        ...(report === undefined
          ? { status: reports.kind === 'TIMED_OUT' ? 'TIMED_OUT' : 'CANCELLED' }
          : { report }),
      };
    });
    const succeeded = settlements.every((s) => s.outcome === 'SUCCEEDED');
    if (progress !== undefined) {
      this.updateRing(ring, { ...progress, phase: succeeded ? 'ROLLED_BACK' : 'ROLLBACK_FAILED' });
    }
    await this.settleRing(
      ring,
      succeeded ? 'RING_ROLLED_BACK' : 'RING_ROLLBACK_FAILED',
      'ROLLBACK',
      settlements,
      {
        ...(reports.kind === 'REPORTED' ? { reports: reports.byConnector } : { reason: reports.reason }),
      },
    );
    return succeeded;
  }

  // ---- Bookkeeping -------------------------------------------------------------------------------

  /** The bookkeeping activities this run schedules: local from the local-bookkeeping patch on. */
  private books(): typeof serverBookkeeping {
    if (this.batched) return this.orderedBookkeeping;
    return this.localBookkeeping ? localBookkeeping : serverBookkeeping;
  }

  /** Writes the records waiting so far (after any write already asked for); resolves once they are durable. */
  private flush(): Promise<void> {
    if (this.upsertAtWaits) this.publishChanges();
    const batch = this.pending.splice(0);
    return this.inOrder(() => this.writeBatch(batch));
  }

  private inOrder<T>(write: () => Promise<T>): Promise<T> {
    const result = this.writing.then(write);
    // A refused write fails whoever asked for it; the writes after it still run.
    this.writing = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  private async writeBatch(
    batch: readonly { step: BookkeepingStep; onRecorded?: () => void }[],
  ): Promise<void> {
    if (batch.length === 0) return;
    await localBookkeeping.recordBookkeeping(batch.map((entry) => entry.step));
    for (const entry of batch) entry.onRecorded?.();
  }

  /** Runs `callback` once the last record asked for is durable (at once when nothing is waiting). */
  private whenRecorded(callback: () => void): void {
    const last = this.pending.at(-1);
    if (last === undefined) {
      callback();
      return;
    }
    const previous = last.onRecorded;
    last.onRecorded = () => {
      previous?.();
      callback();
    };
  }

  /** A method, not a field test: the compiler must not assume an await leaves it unchanged. */
  private aborted(): boolean {
    return this.abort !== undefined;
  }

  private async fail(reason: string): Promise<IntentOutcome> {
    this.failure = reason;
    await this.transition('FAILED', { status: 'FAILED' }, { reason });
    return this.outcome([], []);
  }

  private connectorActivityOptions(activityId: string, deadlineMs: number): ActivityOptions {
    const heartbeat = this.input.policy.heartbeatTimeoutMs;
    return {
      activityId,
      // The whole wait, retries included, must end by the ring's report deadline.
      scheduleToCloseTimeout: deadlineMs,
      ...(heartbeat === null ? {} : { heartbeatTimeout: heartbeat }),
      retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
    };
  }

  private ringWork(ring: Ring, assignment: ConnectorAssignment, startedAtMs: number, deadlineMs: number) {
    return {
      ...this.ref(),
      ring,
      connectorType: assignment.connectorType,
      platforms: assignment.platforms,
      appName: this.input.appName,
      version: this.input.version,
      startedAt: new Date(startedAtMs).toISOString(),
      deadlineAt: new Date(startedAtMs + deadlineMs).toISOString(),
    };
  }

  private startRing(ring: Ring): RingProgress {
    const progress: RingProgress = { ring, phase: 'DEPLOYING', startedAt: this.now(), reports: {} };
    this.rings.push(progress);
    return progress;
  }

  private updateRing(ring: Ring, progress: RingProgress): void {
    const index = this.rings.findIndex((r) => r.ring === ring);
    if (index >= 0) this.rings[index] = progress;
  }

  private async settleRing(
    ring: Ring,
    eventType: string,
    kind: 'DEPLOY' | 'ROLLBACK',
    settlements: RingSettlement[],
    payload: Record<string, unknown>,
    verdict?: GateVerdict,
  ): Promise<void> {
    const record = {
      ...this.transitionRecord(eventType, { ring, ...payload }),
      ring,
      kind,
      settlements,
      ...(verdict === undefined ? {} : { verdict }),
    };
    if (this.batched) {
      this.pending.push({ step: { kind: 'settlement', record } });
      return;
    }
    await this.books().recordRingSettlement(record);
  }

  private async transition(
    eventType: string,
    change: { status?: IntentStatus; ring?: Ring | null },
    payload: Record<string, unknown>,
    actor: string = WORKFLOW_ACTOR,
  ): Promise<void> {
    if (this.upsertOnChange) {
      this.publish(change);
    } else {
      if (change.status !== undefined) this.setStatus(change.status);
      if (change.ring !== undefined) this.setRing(change.ring);
    }
    if (this.batched) {
      this.pending.push({
        step: { kind: 'transition', record: this.transitionRecord(eventType, payload, actor) },
      });
      return;
    }
    await this.books().recordTransition(this.transitionRecord(eventType, payload, actor));
  }

  /**
   * A control request goes to the trail at once; it changes the intent's state later, between steps.
   * Returns the reason as the trail holds it.
   */
  private async recordRequest(eventType: string, request: ControlRequest): Promise<string | undefined> {
    return this.recordWithMessage(eventType, 'reason', request.reason, (reason) =>
      this.books().recordTransition({
        ...this.transitionRecord(
          eventType,
          {
            reason: reason ?? null,
            ...(this.recordRequestKeys && request.requestKey !== undefined
              ? { request_key: request.requestKey }
              : {}),
          },
          request.by,
        ),
        status: undefined,
      }),
    );
  }

  /**
   * Records a write that carries a person's message (a CAB comment, a control reason). When the database
   * refuses the message itself (UnstorableData, not retryable), the write is made again with
   * WITHHELD_MESSAGE in its place and a MESSAGE_WITHHELD event says why: the decision or request still
   * counts and the rollout moves on. Returns the message as recorded.
   */
  private async recordWithMessage(
    eventType: string,
    field: string,
    message: string | undefined,
    write: (message: string | undefined) => Promise<unknown>,
  ): Promise<string | undefined> {
    if (!this.withholdUnstorableMessages || message === undefined) {
      await write(message);
      return message;
    }
    try {
      await write(message);
      return message;
    } catch (error) {
      if (!isUnstorableData(error)) throw error;
      await write(WITHHELD_MESSAGE);
      await this.books().recordTransition({
        ...this.transitionRecord('MESSAGE_WITHHELD', {
          event_type: eventType,
          field,
          failure_type: FailureTypes.UnstorableData,
          reason: failureMessage(error),
        }),
        status: undefined,
      });
      return WITHHELD_MESSAGE;
    }
  }

  private transitionRecord(
    eventType: string,
    payload: Record<string, unknown>,
    actor = WORKFLOW_ACTOR,
  ): TransitionRecord {
    return {
      ...this.ref(),
      eventKey: this.nextEventKey(eventType),
      eventType,
      status: this.status,
      currentRing: this.currentRing,
      actor,
      payload,
      at: this.now(),
    };
  }

  private setStatus(status: IntentStatus): void {
    if (this.upsertOnChange) {
      this.publish({ status });
      return;
    }
    this.status = status;
    upsertSearchAttributes([{ key: IntentStatusKey, value: status }]);
  }

  private setRing(ring: Ring | null): void {
    if (this.upsertOnChange) {
      this.publish({ ring });
      return;
    }
    this.currentRing = ring;
    upsertSearchAttributes([{ key: DeployRingKey, value: ring }]);
  }

  /** Moves status and ring; one upsert of what changed since the search attributes last said it, if anything. */
  private publish(change: { status?: IntentStatus; ring?: Ring | null }): void {
    if (change.status !== undefined) this.status = change.status;
    if (change.ring !== undefined) this.currentRing = change.ring;
    // From the once-per-task patch on, the upsert waits for the workflow's next wait or act.
    if (!this.upsertAtWaits) this.publishChanges();
  }

  /** One upsert of what changed since the search attributes last said it, if anything. */
  private publishChanges(): void {
    const updates = [];
    if (this.unpublishedScore !== undefined) {
      updates.push({ key: RiskScoreKey, value: this.unpublishedScore });
      this.unpublishedScore = undefined;
    } else if (this.scoreWithdrawn) {
      updates.push({ key: RiskScoreKey, value: null });
      this.scoreWithdrawn = false;
    }
    if (this.status !== this.published.status) {
      updates.push({ key: IntentStatusKey, value: this.status });
    }
    if (this.currentRing !== this.published.ring) {
      updates.push({ key: DeployRingKey, value: this.currentRing });
    }
    if (updates.length === 0) return;
    this.published = { status: this.status, ring: this.currentRing };
    upsertSearchAttributes(updates);
  }

  /** Deterministic per workflow run: replays and retried activities reuse the same keys. */
  private nextEventKey(eventType: string): string {
    this.eventSequence += 1;
    return `${this.input.intentId}:${String(this.eventSequence).padStart(4, '0')}:${eventType}`;
  }

  private ref() {
    return {
      tenantId: this.input.tenantId,
      intentId: this.input.intentId,
      correlationId: this.input.correlationId,
    };
  }

  /** Whether the risk update may answer: with the score, and (patched runs) the decision recorded. */
  private riskAnswerable(): boolean {
    return this.answerRiskAfterDecision ? this.riskSettled : this.risk !== null;
  }

  private now(): string {
    return new Date(Date.now()).toISOString();
  }

  private outcome(completed: readonly Ring[], rolledBack: readonly Ring[]): IntentOutcome {
    return {
      status: this.status,
      completedRings: completed,
      rolledBackRings: rolledBack,
      failure: this.failure,
    };
  }

  private snapshot(): IntentState {
    return {
      status: this.status,
      currentRing: this.currentRing,
      plannedRings: this.plannedRings,
      paused: this.paused,
      abortRequested: this.aborted(),
      awaitingPromotion: this.awaitingPromotion,
      risk: this.risk,
      cab: this.cab,
      rings: this.rings,
      failure: this.failure,
    };
  }
}

/**
 * Stable per ring and connector, so a connector completes the activity by workflow id and activity id
 * whatever attempt is running (a task token changes with every retry).
 */
export function ringActivityId(
  action: 'deploy' | 'rollback',
  ring: Ring,
  assignment: ConnectorAssignment,
): string {
  return `${action}-${ring}-${assignment.connectorType}`;
}

function sumReports(reports: Partial<Record<ConnectorType, ConnectorReport>>) {
  let successCount = 0;
  let failureCount = 0;
  for (const report of Object.values(reports)) {
    successCount += report.successCount;
    failureCount += report.failureCount;
  }
  return { successCount, failureCount };
}

/** The approval with the comment as recorded (none when there was none). */
function withComments(approval: CabApproval, comments: string | undefined): CabApproval {
  const { approverId, decision, conditions, at } = approval;
  return {
    approverId,
    decision,
    ...(comments === undefined ? {} : { comments }),
    ...(conditions === undefined ? {} : { conditions }),
    at,
  };
}

/**
 * An activity the database refused for the values it was asked to write: retrying cannot help. A
 * scheduled activity's failure arrives wrapped in an ActivityFailure; a local activity's (from the
 * local-bookkeeping patch on) as the activity's own ApplicationFailure.
 */
function isUnstorableData(error: unknown): boolean {
  const failure = error instanceof ActivityFailure ? error.cause : error;
  return failure instanceof ApplicationFailure && failure.type === FailureTypes.UnstorableData;
}

/**
 * A record refused because the API gave the intent up before its workflow ran (FailureTypes.IntentGivenUp),
 * by the local activity that writes the first batch: its own ApplicationFailure (see isUnstorableData).
 */
function refusedAsGivenUp(error: unknown): boolean {
  return error instanceof ApplicationFailure && error.type === FailureTypes.IntentGivenUp;
}

function failureMessage(error: unknown): string {
  if (error instanceof ActivityFailure && error.cause !== undefined) return error.cause.message;
  return error instanceof Error ? error.message : String(error);
}
