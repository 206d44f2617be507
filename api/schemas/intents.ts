import { z } from 'zod';
import { nonBlankText, text } from '../../policy/text';
import { CONNECTOR_TYPES, PLATFORMS } from '../../policy/connectors';
import { evidencePackSchema } from '../../policy/evidence-pack';
import { INTENT_STATUSES } from '../../policy/intent-status';
import { RINGS } from '../../policy/rings';
import {
  auditEventSchema,
  connectorMapSchema,
  EXACTLY_ONE_EVIDENCE_SOURCE,
  exactlyOneEvidenceSource,
  pageOf,
  pageQuery,
  riskSummarySchema,
} from './common';

// No trimming: what the document's pattern accepts is exactly what is stored (no leading or trailing space).
const appName = z
  .string()
  .max(200)
  .regex(
    /^[\p{L}\p{N}._+()-](?:[\p{L}\p{N} ._+()-]*[\p{L}\p{N}._+()-])?$/u,
    'letters, digits, spaces and . _ + ( ) - only, not starting or ending with a space',
  );
const appVersion = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._+-]+$/, 'letters, digits and . _ + - only');

export const createIntentSchema = z
  .strictObject({
    app_name: appName,
    version: appVersion,
    target_ring: z.enum(RINGS),
    connectors: connectorMapSchema,
    evidence_pack: evidencePackSchema.optional(),
    evidence_pack_id: z.uuid().optional(),
    target_device_count: z.number().int().min(1).max(10_000_000).optional(),
  })
  .superRefine(exactlyOneEvidenceSource)
  .meta({ id: 'CreateDeploymentIntent', ...EXACTLY_ONE_EVIDENCE_SOURCE });

export const intentCreatedSchema = z
  .object({
    id: z.uuid(),
    correlation_id: z.uuid(),
    workflow_id: z.string(),
    status: z.enum(INTENT_STATUSES),
    risk: riskSummarySchema.nullable().describe('null when the assessment has not finished in time'),
    created_at: z.string(),
  })
  .meta({ id: 'DeploymentIntentCreated' });

export const intentSummarySchema = z
  .object({
    id: z.uuid(),
    app_name: z.string(),
    version: z.string(),
    target_ring: z.enum(RINGS),
    status: z.enum(INTENT_STATUSES),
    current_ring: z.enum(RINGS).nullable(),
    risk_score: z.number().int().nullable(),
    requires_cab: z.boolean().nullable(),
    submitter_id: z.string(),
    correlation_id: z.uuid(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'DeploymentIntentSummary' });

export const intentPageSchema = pageOf(intentSummarySchema, 'DeploymentIntentPage');

export const listIntentsQuery = z.strictObject({
  status: z.enum(INTENT_STATUSES).optional(),
  ring: z.enum(RINGS).optional().describe('the ring the intent is at (current ring)'),
  app_name: text().max(200).optional(),
  submitter: text().max(200).optional(),
  ...pageQuery,
});

const gateCheckSchema = z.object({
  rule: z.enum(['min_success_rate', 'min_devices', 'max_time_to_compliance']),
  passed: z.boolean(),
  actual: z.number(),
  required: z.number(),
});

export const ringDeploymentSchema = z
  .object({
    ring: z.enum(RINGS),
    action: z.enum(['DEPLOY', 'ROLLBACK']),
    connector_type: z.enum(CONNECTOR_TYPES),
    platforms: z.array(z.enum(PLATFORMS)),
    status: z.enum(['PENDING', 'IN_PROGRESS', 'REPORTED', 'TIMED_OUT', 'CANCELLED']),
    outcome: z.enum(['SUCCEEDED', 'FAILED']).nullable(),
    success_count: z.number().int(),
    failure_count: z.number().int(),
    connector_object_id: z.string().nullable(),
    attempt: z.number().int(),
    started_at: z.string(),
    deadline_at: z.string(),
    last_report_at: z.string().nullable(),
    completed_at: z.string().nullable(),
    gate: z
      .object({
        passed: z.boolean(),
        success_rate: z.number(),
        reporting_devices: z.number().int(),
        time_to_compliance_ms: z.number(),
        checks: z.array(gateCheckSchema),
        reasons: z.array(z.string()),
      })
      .nullable(),
  })
  .meta({ id: 'RingDeployment' });

export const cabStateSchema = z
  .object({
    state: z.enum(['PENDING', 'APPROVED', 'REJECTED', 'CONDITIONAL', 'EXPIRED', 'CANCELLED']),
    requested_at: z.string(),
    deadline_at: z.string(),
    approver_id: z.string().nullable(),
    comments: z.string().nullable(),
    conditions: z
      .object({
        max_ring: z.enum(RINGS).optional(),
        extra_soak_ms: z.number().int().optional(),
        manual_promotion: z.boolean().optional(),
      })
      .nullable(),
    decided_at: z.string().nullable(),
  })
  .meta({ id: 'CabState' });

export const intentDetailSchema = intentSummarySchema
  .extend({
    connectors: z.array(
      z.object({ connector_type: z.enum(CONNECTOR_TYPES), platforms: z.array(z.enum(PLATFORMS)) }),
    ),
    evidence_pack_id: z.uuid(),
    workflow_id: z.string(),
    risk: riskSummarySchema.nullable(),
    cab: cabStateSchema.nullable().describe('null when the intent did not need the CAB'),
    rings: z.array(ringDeploymentSchema),
    temporal_ui_url: z
      .string()
      .nullable()
      .describe('the workflow in the Temporal Web UI; null when none is known'),
    recent_events: z.array(auditEventSchema).describe('the newest 50 events, oldest first'),
  })
  .meta({ id: 'DeploymentIntent' });

export const controlBodySchema = z
  .strictObject({ reason: nonBlankText(1000).optional() })
  .meta({ id: 'ControlRequest' });

export const promoteBodySchema = z
  .strictObject({
    ring: z
      .enum(RINGS)
      .optional()
      .describe('the ring waiting for promotion; defaults to the one waiting now'),
    reason: nonBlankText(1000).optional(),
  })
  .meta({ id: 'PromoteRequest' });

export const controlAcceptedSchema = z
  .object({
    intent_id: z.uuid(),
    action: z.enum(['pause', 'resume', 'abort', 'promote']),
    status: z
      .enum(INTENT_STATUSES)
      .describe('the status when the request was accepted; it takes effect between steps'),
  })
  .meta({ id: 'ControlAccepted' });
