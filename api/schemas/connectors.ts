import { z } from 'zod';
import type { ConnectorEvidence, RingDeploymentRow } from '../../db/repositories/ring-deployments';
import { CONNECTOR_TYPES, PLATFORMS } from '../../policy/connectors';
import { RINGS } from '../../policy/rings';
import type { Ring } from '../../policy/rings';

/**
 * The connector contract: what a connector polls for and what it reports. The reference connector
 * (connector/reference-connector.ts) parses the API's answers with these same schemas.
 */

export const connectorTypeSchema = z.enum(CONNECTOR_TYPES);
export const ringSchema = z.enum(RINGS);
export const deploymentActionSchema = z
  .enum(['DEPLOY', 'ROLLBACK'])
  .describe('DEPLOY installs the artifact on the ring; ROLLBACK runs the rollback steps on it');

/** Device counts: whole numbers, bounded so a typo cannot overflow the gate's arithmetic. */
const deviceCount = z.number().int().min(0).max(10_000_000);
const timestamp = z.iso.datetime();

/** The longest a poll may ask to be held (seconds): under the usual 60 s idle timeout of proxies. */
export const MAX_PENDING_WORK_WAIT_SECONDS = 30;

export const pendingWorkQuery = z.strictObject({
  connector_type: connectorTypeSchema
    .optional()
    .describe(
      'the execution plane asking: a connector key’s own by default (it may ask for no other); ' +
        'required for operators',
    ),
  ring: ringSchema.optional().describe('only this ring'),
  wait: z
    // Whole seconds written as digits: coercion alone would read an empty `wait=` (or `0x1f`, `+5`) as
    // a number.
    .preprocess(
      (value) => (typeof value === 'string' && !/^[0-9]{1,6}$/.test(value) ? Number.NaN : value),
      z.coerce.number().int().min(0).max(MAX_PENDING_WORK_WAIT_SECONDS),
    )
    // Stated in full: the generator sees that null coerces to 0 and would call it nullable (a query
    // parameter is text, never null).
    .meta({ type: 'integer', minimum: 0, maximum: MAX_PENDING_WORK_WAIT_SECONDS, default: 0 })
    .default(0)
    .describe(
      'long polling: when nothing is open, hold the request up to this many seconds and answer as soon ' +
        'as work of this connector type is recorded (or, when the wait ends, with nothing); 0 answers at ' +
        'once. The server may hold it for less (its CONNECTOR_MAX_WAIT, or too many waiting requests): ' +
        'an answer with nothing is always a cue to ask again',
    ),
});

const deploymentFields = {
  ring_deployment_id: z
    .uuid()
    .describe('the server’s id of this ring deployment or rollback: the exact reference for reports'),
  correlation_id: z.uuid().describe('the intent’s correlation id (server-generated, unique in the tenant)'),
  intent_id: z.uuid(),
  ring: ringSchema,
  action: deploymentActionSchema,
  connector_type: connectorTypeSchema,
  platforms: z.array(z.enum(PLATFORMS)),
  app_name: z.string(),
  app_version: z.string(),
  version: z.string().describe('the app version (the seed’s name for `app_version`)'),
  status: z
    .enum(['PENDING', 'IN_PROGRESS', 'REPORTED', 'TIMED_OUT', 'CANCELLED'])
    .describe(
      'PENDING until the first report, IN_PROGRESS after an interim one (and after a final one the ' +
        'orchestrator has not taken yet: send it again), REPORTED once the orchestrator took the final one',
    ),
  attempt: z.number().int().min(1).describe('the orchestrator’s attempt at this ring'),
  started_at: timestamp,
  deadline_at: timestamp.describe('the final report must arrive before this, or the ring fails'),
  success_count: deviceCount,
  failure_count: deviceCount,
};

export const artifactSchema = z
  .object({
    hash: z.string().nullable().describe('SHA-256 of the artifact (hex); verify before installing'),
    storage_url: z.string().nullable(),
    size_bytes: z.number().int().min(0).optional(),
  })
  .meta({ id: 'DeploymentArtifact' });

export const rollbackStepResponseSchema = z
  .object({
    platform: z.enum(PLATFORMS),
    strategy: z.enum(['UNINSTALL', 'REINSTALL_PREVIOUS', 'SUPERSEDE', 'SCRIPT']),
    instructions: z.string(),
    tested: z.boolean(),
  })
  .meta({ id: 'PendingRollbackStep' });

export const pendingDeploymentSchema = z
  .object({
    ...deploymentFields,
    target_ring: ringSchema.describe('the last ring this rollout is planned to reach'),
    evidence_pack_id: z.uuid().describe('the intent’s evidence pack'),
    artifact: artifactSchema,
    rollback_steps: z
      .array(rollbackStepResponseSchema)
      .describe('the evidence pack’s rollback plan for these platforms; for a ROLLBACK, what to run'),
  })
  .meta({ id: 'PendingDeployment' });
export type PendingDeployment = z.infer<typeof pendingDeploymentSchema>;

/** A JSON array, as the seed's connectors read it; oldest first. */
export const pendingDeploymentListSchema = z
  .array(pendingDeploymentSchema)
  .meta({ id: 'PendingDeploymentList' });

/** Both lists in one answer: a connector that carries out deployments and rollbacks polls once. */
export const pendingWorkSchema = z
  .object({
    deployments: z
      .array(pendingDeploymentSchema)
      .describe('open DEPLOY items, oldest first: what /connectors/pending-deployments lists'),
    rollbacks: z
      .array(pendingDeploymentSchema)
      .describe('open ROLLBACK items, oldest first: what /connectors/pending-rollbacks lists'),
  })
  .meta({ id: 'PendingWork' });
export type PendingWork = z.infer<typeof pendingWorkSchema>;

export const ringDeploymentSchema = z
  .object({
    ...deploymentFields,
    connector_object_id: z.string().nullable(),
    last_report_at: timestamp.nullable(),
    completed_at: timestamp.nullable(),
    outcome: z
      .enum(['SUCCEEDED', 'FAILED'])
      .nullable()
      .describe('set once the orchestrator has judged the ring (gate verdict, or rollback result)'),
  })
  .meta({ id: 'ConnectorDeployment' });

/** The seed's six fields (`final` and `connector_object_id` optional), plus the exact references. */
export const deploymentStatusReportSchema = z
  .strictObject({
    ring_deployment_id: z
      .uuid()
      .optional()
      .describe(
        'the pending item’s ring_deployment_id; when given, the rest of the report must agree with it',
      ),
    correlation_id: z.uuid(),
    ring: ringSchema,
    connector_type: connectorTypeSchema,
    action: deploymentActionSchema
      .optional()
      .describe(
        'the pending item’s action; without it (the seed’s reports) the report is about the deployment',
      ),
    connector_object_id: z
      .string()
      .min(1)
      .max(256)
      // A control-character class spelled out (generators cannot build \P{Cc}); matching them is the point.
      // eslint-disable-next-line no-control-regex
      .regex(/^[^\u0000-\u001F\u007F-\u009F]+$/u, 'no control characters')
      .optional()
      .describe('the execution plane’s id of this deployment (assignment, policy, job id)'),
    success_count: deviceCount,
    failure_count: deviceCount,
    final: z
      .boolean()
      .default(true)
      .describe('false heartbeats the ring; true (the default) completes it with these counts'),
  })
  .meta({ id: 'DeploymentStatusReport' });

export const deploymentStatusAnswerSchema = z
  .object({
    outcome: z
      .enum(['HEARTBEAT_RECORDED', 'COMPLETED', 'ALREADY_COMPLETED'])
      .describe('ALREADY_COMPLETED answers a repeated final report with the same counts'),
    deployment: ringDeploymentSchema,
  })
  .meta({ id: 'DeploymentStatusAnswer' });

function isoDate(date: Date): string {
  return date.toISOString();
}

export function ringDeploymentBody(row: RingDeploymentRow): z.infer<typeof ringDeploymentSchema> {
  return {
    ...deploymentBody(row),
    connector_object_id: row.connectorObjectId,
    last_report_at: row.lastReportAt === null ? null : isoDate(row.lastReportAt),
    completed_at: row.completedAt === null ? null : isoDate(row.completedAt),
    outcome: row.outcome,
  };
}

export function pendingDeploymentBody(open: {
  deployment: RingDeploymentRow;
  evidence: ConnectorEvidence;
  evidencePackId: string;
  targetRing: Ring;
}): PendingDeployment {
  const { deployment, evidence } = open;
  const platforms: readonly string[] = deployment.platforms;
  return {
    ...deploymentBody(deployment),
    target_ring: open.targetRing,
    evidence_pack_id: open.evidencePackId,
    artifact: {
      hash: evidence.artifact_hash ?? null,
      storage_url: evidence.artifact_storage_url ?? null,
      ...(evidence.artifact_size_bytes === null ? {} : { size_bytes: evidence.artifact_size_bytes }),
    },
    rollback_steps: (evidence.rollback_steps ?? [])
      .filter((step) => platforms.includes(step.platform))
      .map((step) => ({
        platform: step.platform,
        strategy: step.strategy,
        instructions: step.instructions,
        tested: step.tested,
      })),
  };
}

/** Built once: a zod schema is costly to construct, and every listed item is checked against it. */
const platformListSchema = z.array(z.enum(PLATFORMS));

function deploymentBody(row: RingDeploymentRow) {
  return {
    ring_deployment_id: row.id,
    correlation_id: row.correlationId,
    intent_id: row.intentId,
    ring: row.ring,
    action: row.kind,
    connector_type: connectorTypeSchema.parse(row.connectorType),
    platforms: platformListSchema.parse(row.platforms),
    app_name: row.appName,
    app_version: row.appVersion,
    version: row.appVersion,
    status: row.status,
    attempt: row.attempt,
    started_at: isoDate(row.startedAt),
    deadline_at: isoDate(row.deadlineAt),
    success_count: row.successCount,
    failure_count: row.failureCount,
  };
}
