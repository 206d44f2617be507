import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { CabConditions, CabDecision, CabDecisionKind } from '../policy/cab-decision';
import type { ConnectorAssignment, ConnectorType } from '../policy/connectors';
import type { IntentStatus } from '../policy/intent-status';
import type { GateVerdict } from '../policy/promotion-gate';
import type { Ring } from '../policy/rings';
import type { RolloutPolicy } from '../policy/rollout-policy';
import type { AutoApprovalBlocker } from '../policy/risk-scoring';
import type { FactorScore } from '../policy/risk-model';

/**
 * The messages of the deployment intent workflow, shared by the workflow, its activities and the API.
 * Version 1: add optional fields only; a breaking change gets a new workflow type.
 */

export const DEPLOYMENT_INTENT_WORKFLOW = 'deploymentIntentWorkflow';

/** The actor of audit events the workflow records on its own account. */
export const WORKFLOW_ACTOR = 'system:workflow';

/** Workflow id of an intent: deterministic, so starting it twice is idempotent. */
export function workflowIdForIntent(intentId: string): string {
  return `deployment-intent-${intentId}`;
}

export interface DeploymentIntentInput {
  readonly intentId: string;
  readonly tenantId: string;
  readonly correlationId: string;
  readonly appName: string;
  readonly version: string;
  readonly targetRing: Ring;
  readonly connectors: readonly ConnectorAssignment[];
  readonly submitterId: string;
  readonly targetDeviceCount?: number;
  readonly policy: RolloutPolicy;
  /**
   * The risk assessment the API made when it accepted the intent (from the risk-scored-at-submission patch
   * on): the tenant's active model applied to the validated evidence pack, fixed in the intent's row so a
   * late start runs on the same one. The workflow records it (RISK_ASSESSED) with its first decision.
   * Absent from intents accepted before: the workflow assesses them itself, as it always did.
   */
  readonly assessment?: SubmittedAssessment;
}

export interface RiskSummary {
  readonly modelVersion: string;
  readonly score: number;
  readonly threshold: number;
  readonly requiresCab: boolean;
  readonly autoApprovalBlockers: readonly AutoApprovalBlocker[];
  readonly factors: readonly FactorScore[];
  readonly evidenceHash: string;
}

/** A risk assessment made at submission: the summary, and when the model was applied (the score's `asOf`). */
export interface SubmittedAssessment extends RiskSummary {
  readonly assessedAt: string;
}

export type CabState =
  'NOT_REQUIRED' | 'PENDING' | 'APPROVED' | 'REJECTED' | 'CONDITIONAL' | 'EXPIRED' | 'CANCELLED';

/** One CAB member's approval of an intent that needs a quorum, as the workflow took it. */
export interface CabApproval {
  readonly approverId: string;
  readonly decision: Exclude<CabDecisionKind, 'REJECTED'>;
  readonly comments?: string;
  readonly conditions?: CabConditions;
  readonly at: string;
}

export interface CabProgress {
  readonly state: CabState;
  readonly requestedAt?: string;
  readonly deadlineAt?: string;
  readonly decision?: CabDecision;
  readonly decidedAt?: string;
  /** Distinct approvals the intent needs (runs from the quorum patch on; absent: one). */
  readonly requiredApprovals?: number;
  /** Approvals taken so far, in order (runs from the quorum patch on). */
  readonly approvals?: readonly CabApproval[];
}

/** What one connector reported for one ring, as the connector completed its activity. */
export interface ConnectorReport {
  readonly successCount: number;
  readonly failureCount: number;
  /** The execution plane's id of the job; the seed's reports may leave it out. */
  readonly connectorObjectId?: string;
}

export type RingPhase =
  | 'DEPLOYING'
  | 'PASSED'
  | 'FAILED'
  | 'TIMED_OUT'
  | 'ABORTED'
  | 'ROLLING_BACK'
  | 'ROLLED_BACK'
  | 'ROLLBACK_FAILED';

export interface RingProgress {
  readonly ring: Ring;
  readonly phase: RingPhase;
  readonly startedAt: string;
  readonly completedAt?: string;
  readonly reports: Partial<Record<ConnectorType, ConnectorReport>>;
  readonly verdict?: GateVerdict;
}

export interface IntentState {
  readonly status: IntentStatus;
  readonly currentRing: Ring | null;
  readonly plannedRings: readonly Ring[];
  readonly paused: boolean;
  readonly abortRequested: boolean;
  readonly awaitingPromotion: Ring | null;
  readonly risk: RiskSummary | null;
  readonly cab: CabProgress;
  readonly rings: readonly RingProgress[];
  readonly failure: string | null;
}

export interface IntentOutcome {
  readonly status: IntentStatus;
  readonly completedRings: readonly Ring[];
  readonly rolledBackRings: readonly Ring[];
  readonly failure: string | null;
}

/** The operator or service that sent a control signal, for the audit trail. */
export interface ControlRequest {
  readonly by: string;
  readonly reason?: string;
  /**
   * The server's id of the request under an Idempotency-Key (the same for every attempt of the key):
   * recorded with the request's event, so a retry finds the effect its first attempt had.
   */
  readonly requestKey?: string;
}

export interface CabVerdict {
  /** AWAITING_CAB while a quorum still lacks approvals; else what the decision led to. */
  readonly status: IntentStatus;
  readonly decision: CabDecisionKind;
  readonly conditions?: CabConditions;
  /** Runs from the quorum patch on: the distinct approvers so far, and how many the intent needs. */
  readonly approvers?: readonly string[];
  readonly requiredApprovals?: number;
}

/** Answers once the risk assessment is done (null if it failed): lets the API return the risk with a new intent. */
/** Workflow versioning marker: the risk update answers after the following decision is recorded. */
export const ANSWER_RISK_AFTER_DECISION_PATCH = 'answer-risk-after-decision-recorded';

/**
 * Workflow versioning marker: a person's message the database refuses is recorded as WITHHELD_MESSAGE
 * (with a MESSAGE_WITHHELD event) instead of failing the intent's bookkeeping.
 */
export const WITHHOLD_UNSTORABLE_MESSAGE_PATCH = 'withhold-unstorable-message';

/** Workflow versioning marker: a control request's event records its request key (`request_key`). */
export const RECORD_REQUEST_KEY_PATCH = 'record-control-request-key';

/**
 * Workflow versioning marker: N-of-M CAB quorum. An intent whose risk reaches the policy's quorum
 * threshold waits for that many distinct approvals (each recorded as CAB_APPROVAL_RECORDED; any rejection
 * ends it); every CAB decision records the evidence hash and risk model version it was made on.
 */
export const CAB_QUORUM_PATCH = 'cab-quorum';

/**
 * Workflow versioning marker: search attributes are upserted only when a value changes, the status and
 * the ring in one command, and not again for what the start already set (AppName, IntentStatus SUBMITTED).
 */
export const UPSERT_ON_CHANGE_PATCH = 'upsert-search-attributes-on-change';

/**
 * Workflow versioning marker: the bookkeeping writes (risk assessment, transitions, CAB records, ring
 * settlements) run as local activities in the workflow's own task instead of activities scheduled through
 * the server. Same activities, same inputs, same event keys and order; the history holds a
 * `core_local_activity` marker (with the activity's result) per write instead of three activity events
 * and a workflow task each.
 */
export const LOCAL_BOOKKEEPING_PATCH = 'bookkeeping-as-local-activities';

/**
 * Workflow versioning marker: every change above, recorded as one marker. Each `patched` call of a new run
 * records a marker and upserts the TemporalChangeVersion search attribute, so six patches cost twelve
 * history events and six visibility writes in every intent's first workflow task; a run with this marker
 * has all six and calls none of them (earlier runs still replay their own). From it on, the risk score is
 * upserted together with the status the assessment leads to. A later change adds its own patch after it.
 */
export const ONE_MARKER_PATCH = 'one-marker-through-local-bookkeeping';

/**
 * Workflow versioning marker: the workflow's own records (transitions, ring settlements) wait, in order,
 * until the workflow next waits or acts — schedules connector work, waits on a condition or a timer,
 * writes anything else, or ends — and are then written together by one local activity,
 * `recordBookkeeping`, in one transaction. Same records, event keys and order as before; each is durable
 * before anything it leads to happens (a ring's start before its connector work is scheduled, the
 * decision before the risk update answers). A ring's report, gate, promotion and the next ring's start
 * are one write instead of four. A run with this marker has every change before it (one marker).
 */
export const BATCHED_BOOKKEEPING_PATCH = 'batched-ring-bookkeeping';

/**
 * Workflow versioning marker: the search attributes (IntentStatus, DeployRing, RiskScore) are upserted once
 * per workflow task, with what changed since they last said it, when the workflow next waits (a condition
 * or a timer), schedules connector work, or ends — not at each change, nor before a local activity, which
 * runs inside the workflow task: an intent's first workflow task (approved, then deploying at LAB) and a
 * CAB decision's (approved, then deploying) upsert once, not twice. A run with this marker has every change
 * before it (one marker).
 */
export const SEARCH_ATTRIBUTES_ONCE_PATCH = 'search-attributes-once-per-task';

/**
 * Workflow versioning marker: an intent whose input carries the API's assessment (`input.assessment`) is not
 * assessed again by a local activity; its RISK_ASSESSED (the risk_assessments row, the read model's score)
 * is written in the same transaction as the decision after it (AUTO_APPROVED with the first ring's start, or
 * before CAB_REQUESTED): one local activity and one transaction fewer per intent, the trail in the same
 * order. Only asked when the input has an assessment. A run with this marker has every change before it.
 */
export const RISK_AT_SUBMISSION_PATCH = 'risk-scored-at-submission';

/** The event a pause, resume or abort request is recorded with when the workflow takes it. */
export const CONTROL_REQUEST_EVENTS = {
  pause: 'PAUSE_REQUESTED',
  resume: 'RESUME_REQUESTED',
  abort: 'ABORT_REQUESTED',
} as const;

export const riskAssessedUpdate = defineUpdate<RiskSummary | null>('riskAssessed');
export const cabDecisionUpdate = defineUpdate<CabVerdict, [CabDecision]>('cabDecision');
export const pauseSignal = defineSignal<[ControlRequest]>('pause');
export const resumeSignal = defineSignal<[ControlRequest]>('resume');
export const abortSignal = defineSignal<[ControlRequest]>('abort');
export const promoteSignal = defineSignal<[ControlRequest & { readonly ring: Ring }]>('promote');
export const intentStateQuery = defineQuery<IntentState>('intentState');

/** Failure types the workflow raises; the API maps them to HTTP statuses. */
export const FailureTypes = {
  NotAwaitingCab: 'NotAwaitingCab',
  SelfApprovalForbidden: 'SelfApprovalForbidden',
  /** The member already approved this intent; a quorum counts each member once. */
  AlreadyApproved: 'AlreadyApproved',
  InvalidCabDecision: 'InvalidCabDecision',
  IntentNotFound: 'IntentNotFound',
  EvidencePackNotFound: 'EvidencePackNotFound',
  /** The API gave the intent up (FAILED) before its workflow's first step: that workflow must not roll it out. */
  IntentGivenUp: 'IntentGivenUp',
  /** The database refused a value (SQLSTATE class 22, or a constraint no retry can satisfy): retrying cannot help. */
  UnstorableData: 'UnstorableData',
} as const;

/**
 * What the trail holds instead of a person's message (a CAB comment, a control reason) that the database
 * refused: the decision or request itself still counts, and a MESSAGE_WITHHELD event says why.
 */
export const WITHHELD_MESSAGE = '[withheld: the database could not store this text]';
