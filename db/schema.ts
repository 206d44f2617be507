import { sql } from 'drizzle-orm';
import {
  bigserial,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import type { Ring } from '../policy/rings';
import type { IntentStatus } from '../policy/intent-status';
import type { ConnectorAssignment, Platform } from '../policy/connectors';
import type { EvidencePack } from '../policy/evidence-pack';
import type { RiskModelDefinition, FactorScore } from '../policy/risk-model';
import type { CabConditions } from '../policy/cab-decision';
import type { GateVerdict } from '../policy/promotion-gate';

/**
 * Every domain table carries `tenant_id`: the data-access layer (db/tenant-store.ts) adds it to every
 * read and write, so one tenant never sees another's rows.
 */
const tenantId = () => text('tenant_id').notNull();
const createdAt = () =>
  timestamp('created_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow();

export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: tenantId(),
    /** Entra object id, or the dev-login user name. */
    subject: text('subject').notNull(),
    displayName: text('display_name').notNull(),
    email: text('email'),
    roles: text('roles')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    createdAt: createdAt(),
    lastSeenAt: timestamp('last_seen_at', { withTimezone: true, mode: 'date', precision: 3 }),
  },
  (t) => [uniqueIndex('users_tenant_subject_uq').on(t.tenantId, t.subject)],
);

export const evidencePacks = pgTable(
  'evidence_packs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: tenantId(),
    /** SHA-256 (hex) of the pack's canonical JSON. */
    contentHash: text('content_hash').notNull(),
    content: jsonb('content').$type<EvidencePack>().notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('evidence_packs_tenant_hash_uq').on(t.tenantId, t.contentHash),
    check('evidence_packs_hash_format', sql`${t.contentHash} ~ '^[0-9a-f]{64}$'`),
  ],
);

export const riskModels = pgTable(
  'risk_models',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: tenantId(),
    version: text('version').notNull(),
    definition: jsonb('definition').$type<RiskModelDefinition>().notNull(),
    active: boolean('active').notNull().default(false),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
    activatedAt: timestamp('activated_at', { withTimezone: true, mode: 'date', precision: 3 }),
  },
  (t) => [
    uniqueIndex('risk_models_tenant_version_uq').on(t.tenantId, t.version),
    // At most one active model per tenant, enforced by the database.
    uniqueIndex('risk_models_one_active_uq')
      .on(t.tenantId)
      .where(sql`${t.active}`),
  ],
);

export const deploymentIntents = pgTable(
  'deployment_intents',
  {
    id: uuid('id').primaryKey(),
    tenantId: tenantId(),
    appName: text('app_name').notNull(),
    version: text('version').notNull(),
    targetRing: text('target_ring').$type<Ring>().notNull(),
    connectors: jsonb('connectors').$type<ConnectorAssignment[]>().notNull(),
    evidencePackId: uuid('evidence_pack_id')
      .notNull()
      .references(() => evidencePacks.id),
    submitterId: text('submitter_id').notNull(),
    status: text('status').$type<IntentStatus>().notNull(),
    currentRing: text('current_ring').$type<Ring>(),
    riskScore: integer('risk_score'),
    riskModelVersion: text('risk_model_version'),
    requiresCab: boolean('requires_cab'),
    correlationId: uuid('correlation_id').notNull(),
    workflowId: text('workflow_id').notNull(),
    idempotencyKey: text('idempotency_key'),
    /** Hash of the request that carried the idempotency key: a replay with another body is a conflict. */
    requestHash: text('request_hash'),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date', precision: 3 })
      .notNull()
      .defaultNow(),
  },
  (t) => [
    uniqueIndex('deployment_intents_tenant_idempotency_uq').on(t.tenantId, t.idempotencyKey),
    uniqueIndex('deployment_intents_workflow_uq').on(t.workflowId),
    index('deployment_intents_tenant_status_idx').on(t.tenantId, t.status),
    index('deployment_intents_tenant_created_idx').on(t.tenantId, t.createdAt),
    index('deployment_intents_correlation_idx').on(t.correlationId),
  ],
);

export const riskAssessments = pgTable(
  'risk_assessments',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: tenantId(),
    intentId: uuid('intent_id')
      .notNull()
      .references(() => deploymentIntents.id),
    modelVersion: text('model_version').notNull(),
    score: integer('score').notNull(),
    threshold: integer('threshold').notNull(),
    requiresCab: boolean('requires_cab').notNull(),
    autoApprovalBlockers: text('auto_approval_blockers')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    factors: jsonb('factors').$type<FactorScore[]>().notNull(),
    evidenceHash: text('evidence_hash').notNull(),
    assessedAt: timestamp('assessed_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('risk_assessments_intent_uq').on(t.intentId),
    check('risk_assessments_score_range', sql`${t.score} between 0 and 100`),
  ],
);

export const cabApprovals = pgTable(
  'cab_approvals',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: tenantId(),
    intentId: uuid('intent_id')
      .notNull()
      .references(() => deploymentIntents.id),
    /** PENDING until decided; then APPROVED, REJECTED, CONDITIONAL, EXPIRED on timeout, CANCELLED on abort. */
    state: text('state')
      .$type<'PENDING' | 'APPROVED' | 'REJECTED' | 'CONDITIONAL' | 'EXPIRED' | 'CANCELLED'>()
      .notNull(),
    requestedAt: timestamp('requested_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull(),
    deadlineAt: timestamp('deadline_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull(),
    approverId: text('approver_id'),
    comments: text('comments'),
    conditions: jsonb('conditions').$type<CabConditions>(),
    decidedAt: timestamp('decided_at', { withTimezone: true, mode: 'date', precision: 3 }),
  },
  (t) => [
    uniqueIndex('cab_approvals_intent_uq').on(t.intentId),
    index('cab_approvals_tenant_state_idx').on(t.tenantId, t.state),
  ],
);

export type RingDeploymentKind = 'DEPLOY' | 'ROLLBACK';
/** PENDING → IN_PROGRESS (interim reports) → REPORTED (final report), or TIMED_OUT / CANCELLED. */
export type RingDeploymentStatus = 'PENDING' | 'IN_PROGRESS' | 'REPORTED' | 'TIMED_OUT' | 'CANCELLED';
/** For a deployment, the promotion gate's verdict; for a rollback, whether enough devices reverted. */
export type RingDeploymentOutcome = 'SUCCEEDED' | 'FAILED';

export const ringDeployments = pgTable(
  'ring_deployments',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: tenantId(),
    intentId: uuid('intent_id')
      .notNull()
      .references(() => deploymentIntents.id),
    correlationId: uuid('correlation_id').notNull(),
    ring: text('ring').$type<Ring>().notNull(),
    kind: text('kind').$type<RingDeploymentKind>().notNull(),
    connectorType: text('connector_type').notNull(),
    platforms: text('platforms').array().$type<Platform[]>().notNull(),
    status: text('status').$type<RingDeploymentStatus>().notNull(),
    /** What a connector needs to complete the waiting activity: stable across retries. */
    workflowId: text('workflow_id').notNull(),
    activityId: text('activity_id').notNull(),
    attempt: integer('attempt').notNull().default(1),
    appName: text('app_name').notNull(),
    appVersion: text('app_version').notNull(),
    connectorObjectId: text('connector_object_id'),
    successCount: integer('success_count').notNull().default(0),
    failureCount: integer('failure_count').notNull().default(0),
    deadlineAt: timestamp('deadline_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull(),
    startedAt: timestamp('started_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull(),
    lastReportAt: timestamp('last_report_at', { withTimezone: true, mode: 'date', precision: 3 }),
    completedAt: timestamp('completed_at', { withTimezone: true, mode: 'date', precision: 3 }),
    outcome: text('outcome').$type<RingDeploymentOutcome>(),
    gateVerdict: jsonb('gate_verdict').$type<GateVerdict>(),
  },
  (t) => [
    uniqueIndex('ring_deployments_intent_ring_kind_connector_uq').on(
      t.intentId,
      t.ring,
      t.kind,
      t.connectorType,
    ),
    index('ring_deployments_tenant_connector_status_idx').on(t.tenantId, t.connectorType, t.status),
    index('ring_deployments_correlation_idx').on(t.correlationId),
    check('ring_deployments_counts', sql`${t.successCount} >= 0 and ${t.failureCount} >= 0`),
  ],
);

/**
 * The append-only audit trail. UPDATE, DELETE and TRUNCATE are refused by triggers (migration 0001),
 * whoever issues them. `event_key` makes every write idempotent: a retried activity inserts nothing new.
 */
export const deploymentEvents = pgTable(
  'deployment_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tenantId: tenantId(),
    eventKey: text('event_key').notNull(),
    eventType: text('event_type').notNull(),
    /** Null for privileged actions that concern no single intent (a risk model activated, a credential issued). */
    intentId: uuid('intent_id'),
    correlationId: uuid('correlation_id').notNull(),
    actor: text('actor').notNull(),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
    occurredAt: timestamp('occurred_at', { withTimezone: true, mode: 'date', precision: 3 })
      .notNull()
      .defaultNow(),
  },
  (t) => [
    uniqueIndex('deployment_events_key_uq').on(t.tenantId, t.eventKey),
    index('deployment_events_tenant_intent_idx').on(t.tenantId, t.intentId, t.id),
    index('deployment_events_tenant_correlation_idx').on(t.tenantId, t.correlationId, t.id),
    index('deployment_events_tenant_type_idx').on(t.tenantId, t.eventType, t.id),
  ],
);

/** What an API key may do: report as one connector type, or scrape the tenant's metrics. */
export const CREDENTIAL_SCOPES = ['connector', 'metrics'] as const;
export type CredentialScope = (typeof CREDENTIAL_SCOPES)[number];

export const connectorCredentials = pgTable(
  'connector_credentials',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: tenantId(),
    /** What the key may do: report for one connector type, or read the tenant's metrics (a scraper). */
    scope: text('scope', { enum: CREDENTIAL_SCOPES }).notNull().default('connector'),
    /** The execution plane a `connector` key reports for; null for `metrics` keys. */
    connectorType: text('connector_type'),
    name: text('name').notNull(),
    /** SHA-256 of the API key; the key itself is shown once and never stored. */
    keyHash: text('key_hash').notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true, mode: 'date', precision: 3 }),
    /** Null: the key works until revoked. After this instant it is answered with 401 like a revoked one. */
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date', precision: 3 }),
    revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date', precision: 3 }),
  },
  (t) => [
    uniqueIndex('connector_credentials_key_hash_uq').on(t.keyHash),
    uniqueIndex('connector_credentials_tenant_name_uq').on(t.tenantId, t.name),
    check(
      'connector_credentials_scope_ck',
      sql`(${t.scope} = 'connector' and ${t.connectorType} is not null) or (${t.scope} = 'metrics' and ${t.connectorType} is null)`,
    ),
  ],
);

/**
 * The EUCORA tenants, and the Entra ID directory (`tid`) whose people and service principals sign in
 * to each. Not tenant-scoped: sign-in reads it to learn the tenant. Rows come from configuration
 * (ENTRA_TENANTS, synchronised at start-up); a tenant whose directory link is removed keeps its row and
 * its data, and nobody signs in to it through Entra ID any more.
 */
export const tenants = pgTable(
  'tenants',
  {
    id: text('id').primaryKey(),
    /** The Entra ID directory (tenant) id, a GUID; null when no directory signs in to this tenant. */
    entraTenantId: text('entra_tenant_id'),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date', precision: 3 })
      .notNull()
      .defaultNow(),
  },
  (t) => [uniqueIndex('tenants_entra_tenant_uq').on(t.entraTenantId)],
);

export const schema = {
  tenants,
  users,
  evidencePacks,
  riskModels,
  deploymentIntents,
  riskAssessments,
  cabApprovals,
  ringDeployments,
  deploymentEvents,
  connectorCredentials,
};
