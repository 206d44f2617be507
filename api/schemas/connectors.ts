import { z } from 'zod';
import type { RingDeploymentRow } from '../../db/repositories/ring-deployments';
import { CONNECTOR_TYPES, PLATFORMS } from '../../policy/connectors';
import type { EvidencePack } from '../../policy/evidence-pack';
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

export const pendingDeploymentsQuery = z.strictObject({
  connector_type: connectorTypeSchema.describe(
    'the execution plane asking; a connector may only ask for its own',
  ),
  ring: ringSchema.optional().describe('only this ring'),
});

const deploymentFields = {
  correlation_id: z.uuid().describe('the intent’s correlation id: send it back with every report'),
  intent_id: z.uuid(),
  ring: ringSchema,
  action: deploymentActionSchema,
  connector_type: connectorTypeSchema,
  platforms: z.array(z.enum(PLATFORMS)),
  app_name: z.string(),
  app_version: z.string(),
  status: z
    .enum(['PENDING', 'IN_PROGRESS', 'REPORTED', 'TIMED_OUT', 'CANCELLED'])
    .describe('PENDING until the first report, IN_PROGRESS after an interim one, REPORTED after the final'),
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
    artifact: artifactSchema,
    rollback_steps: z
      .array(rollbackStepResponseSchema)
      .describe('the evidence pack’s rollback plan for these platforms; for a ROLLBACK, what to run'),
  })
  .meta({ id: 'PendingDeployment' });
export type PendingDeployment = z.infer<typeof pendingDeploymentSchema>;

export const pendingDeploymentListSchema = z
  .object({ items: z.array(pendingDeploymentSchema) })
  .meta({ id: 'PendingDeploymentList' });

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

export const deploymentStatusReportSchema = z
  .strictObject({
    correlation_id: z.uuid(),
    ring: ringSchema,
    connector_type: connectorTypeSchema,
    action: deploymentActionSchema
      .optional()
      .describe('the pending item’s action; without it the report goes to whatever of the ring is open'),
    connector_object_id: z
      .string()
      .min(1)
      .max(256)
      .regex(/^\P{Cc}+$/u, 'no control characters')
      .describe('the execution plane’s id of this deployment (assignment, policy, job id)'),
    success_count: deviceCount,
    failure_count: deviceCount,
    final: z.boolean().describe('false heartbeats the ring; true completes it with these counts'),
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
  evidence: EvidencePack;
  targetRing: Ring;
}): PendingDeployment {
  const { deployment, evidence } = open;
  const platforms: readonly string[] = deployment.platforms;
  return {
    ...deploymentBody(deployment),
    target_ring: open.targetRing,
    artifact: {
      hash: evidence.artifact_hash ?? null,
      storage_url: evidence.artifact_storage_url ?? null,
      ...(evidence.artifact_size_bytes === undefined ? {} : { size_bytes: evidence.artifact_size_bytes }),
    },
    rollback_steps: (evidence.rollback_plan?.steps ?? [])
      .filter((step) => platforms.includes(step.platform))
      .map((step) => ({
        platform: step.platform,
        strategy: step.strategy,
        instructions: step.instructions,
        tested: step.tested,
      })),
  };
}

function deploymentBody(row: RingDeploymentRow) {
  return {
    correlation_id: row.correlationId,
    intent_id: row.intentId,
    ring: row.ring,
    action: row.kind,
    connector_type: connectorTypeSchema.parse(row.connectorType),
    platforms: z.array(z.enum(PLATFORMS)).parse(row.platforms),
    app_name: row.appName,
    app_version: row.appVersion,
    status: row.status,
    attempt: row.attempt,
    started_at: isoDate(row.startedAt),
    deadline_at: isoDate(row.deadlineAt),
    success_count: row.successCount,
    failure_count: row.failureCount,
  };
}
