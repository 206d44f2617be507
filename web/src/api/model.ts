import type { components } from './openapi.gen';

/** Names for the API's schemas, all generated from the OpenAPI document the server serves. */
export type Schemas = components['schemas'];
export type Actor = Schemas['Actor'];
export type Role = Actor['roles'][number];
export type SignInRole = Schemas['DevLogin']['roles'][number];
export type SignInOptions = Schemas['SignInOptions'];
export type Ring = Schemas['DeploymentIntentSummary']['target_ring'];
export type IntentStatus = Schemas['DeploymentIntentSummary']['status'];
export type IntentSummary = Schemas['DeploymentIntentSummary'];
export type IntentDetail = Schemas['DeploymentIntent'];
export type RingDeployment = Schemas['RingDeployment'];
export type AuditEvent = Schemas['AuditEvent'];
export type RiskSummary = Schemas['RiskSummary'];
export type FactorScore = Schemas['FactorScore'];
export type CabQueueItem = Schemas['CabQueueItem'];
export type CabDecisionRequest = Schemas['CabDecisionRequest'];
export type CreateIntent = Schemas['CreateDeploymentIntent'];
export type EvidencePack = NonNullable<CreateIntent['evidence_pack']>;
export type ConnectorType = NonNullable<Schemas['ConnectorMap'][keyof Schemas['ConnectorMap']]>;
export type Platform = keyof Schemas['ConnectorMap'];

/**
 * Value lists the screens offer. `satisfies Record<Union, true>` makes the compiler refuse a list that
 * misses or invents a value of the generated union, so these follow the API's schemas.
 */
const RING_SET = { LAB: true, CANARY: true, PILOT: true, DEPARTMENT: true, GLOBAL: true } satisfies Record<
  Ring,
  true
>;
export const RINGS = Object.keys(RING_SET) as Ring[];

const STATUS_SET = {
  SUBMITTED: true,
  AWAITING_CAB: true,
  APPROVED: true,
  DEPLOYING: true,
  SOAKING: true,
  AWAITING_PROMOTION: true,
  PAUSED: true,
  ROLLING_BACK: true,
  COMPLETED: true,
  REJECTED: true,
  EXPIRED: true,
  ROLLED_BACK: true,
  FAILED: true,
  ABORTED: true,
} satisfies Record<IntentStatus, true>;
export const INTENT_STATUSES = Object.keys(STATUS_SET) as IntentStatus[];

const SIGN_IN_ROLE_SET = {
  submitter: true,
  cab_member: true,
  operator: true,
  auditor: true,
  admin: true,
} satisfies Record<SignInRole, true>;
export const SIGN_IN_ROLES = Object.keys(SIGN_IN_ROLE_SET) as SignInRole[];

const CONNECTOR_SET = {
  intune: true,
  jamf: true,
  sccm: true,
  landscape: true,
  ansible: true,
} satisfies Record<ConnectorType, true>;
export const CONNECTOR_TYPES = Object.keys(CONNECTOR_SET) as ConnectorType[];

const PLATFORM_SET = { windows: true, macos: true, linux: true } satisfies Record<Platform, true>;
export const PLATFORMS = Object.keys(PLATFORM_SET) as Platform[];

const TERMINAL = new Set<IntentStatus>([
  'COMPLETED',
  'REJECTED',
  'EXPIRED',
  'ROLLED_BACK',
  'FAILED',
  'ABORTED',
]);

/** Whether an intent has reached an end state (nothing will change it any more). */
export function isTerminal(status: IntentStatus): boolean {
  return TERMINAL.has(status);
}
