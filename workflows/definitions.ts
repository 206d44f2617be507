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

export type CabState =
  'NOT_REQUIRED' | 'PENDING' | 'APPROVED' | 'REJECTED' | 'CONDITIONAL' | 'EXPIRED' | 'CANCELLED';

export interface CabProgress {
  readonly state: CabState;
  readonly requestedAt?: string;
  readonly deadlineAt?: string;
  readonly decision?: CabDecision;
  readonly decidedAt?: string;
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
}

export interface CabVerdict {
  readonly status: IntentStatus;
  readonly decision: CabDecisionKind;
  readonly conditions?: CabConditions;
}

/** Answers once the risk assessment is done (null if it failed): lets the API return the risk with a new intent. */
/** Workflow versioning marker: the risk update answers after the following decision is recorded. */
export const ANSWER_RISK_AFTER_DECISION_PATCH = 'answer-risk-after-decision-recorded';

/**
 * Workflow versioning marker: a person's message the database refuses is recorded as WITHHELD_MESSAGE
 * (with a MESSAGE_WITHHELD event) instead of failing the intent's bookkeeping.
 */
export const WITHHOLD_UNSTORABLE_MESSAGE_PATCH = 'withhold-unstorable-message';

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
