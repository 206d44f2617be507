import { WorkflowNotFoundError, isGrpcServiceError } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { strToU8, zipSync } from 'fflate';
import { z } from 'zod';
import type { DeploymentEventRow } from '../../db/repositories/deployment-events';
import type { TenantStore } from '../../db/tenant-store';
import { BUNDLE_FORMAT, historyDigest, sealBundle } from '../../policy/evidence-bundle';
import type {
  BundleCabDecision,
  BundleEvent,
  BundleHistory,
  EvidenceBundle,
} from '../../policy/evidence-bundle';
import { endpoint, roles } from '../endpoint';
import type { Endpoint } from '../endpoint';
import { problems } from '../problem';
import type { Actor } from '../request-context';
import { auditEventBody, idParams, isoDate, requireActor, riskSummaryBody } from '../schemas/common';
import { riskSummaryOf } from '../../db/repositories/risk-assessments';
import type { RouteDependencies } from './dependencies';

const bundleQuery = z.strictObject({
  format: z
    .enum(['json', 'zip'])
    .default('json')
    .describe('`zip`: the bundle as bundle.json plus the raw Temporal history as workflow-history.json'),
});

const record = z.record(z.string(), z.unknown());

const bundleEventSchema = z.object({
  id: z.number().int(),
  tenant_id: z.string(),
  seq: z.number().int(),
  event_key: z.string(),
  event_type: z.string(),
  intent_id: z.string().nullable(),
  correlation_id: z.string(),
  request_id: z.string().nullable(),
  actor: z.string(),
  payload: record,
  occurred_at: z.string(),
  prev_hash: z.string(),
  hash: z.string(),
});

export const evidenceBundleSchema = z
  .object({
    format: z.literal(BUNDLE_FORMAT),
    generated_at: z.string(),
    generated_by: z.string(),
    tenant_id: z.string(),
    intent: record,
    evidence_pack: z.object({
      id: z.string(),
      content_hash: z.string(),
      content: record,
      created_by: z.string(),
      created_at: z.string(),
    }),
    risk_assessment: record.nullable(),
    risk_model: z.object({ version: z.string(), definition: record }).nullable(),
    cab: z.object({
      request: record.nullable(),
      decisions: z.array(
        z.object({
          event_id: z.number().int(),
          event_type: z.string(),
          actor: z.string(),
          occurred_at: z.string(),
          evidence_hash: z.string().nullable(),
          risk_model_version: z.string().nullable(),
          payload: record,
        }),
      ),
    }),
    rings: z.array(record),
    events: z.array(bundleEventSchema),
    chain_head: z.object({ seq: z.number().int(), hash: z.string() }).nullable(),
    workflow_history: z.union([
      z.object({
        available: z.literal(true),
        workflow_id: z.string(),
        event_count: z.number().int(),
        sha256: z.string(),
        history: record,
      }),
      z.object({ available: z.literal(false), workflow_id: z.string(), reason: z.string() }),
    ]),
    bundle_sha256: z.string(),
  })
  .meta({ id: 'EvidenceBundle' });

/** Audit events that record a CAB member's decision (or one approval towards a quorum). */
const CAB_DECISION_EVENTS = new Set(['CAB_DECIDED', 'CAB_APPROVAL_RECORDED']);

function bundleEvent(row: DeploymentEventRow): BundleEvent {
  return { ...auditEventBody(row), tenant_id: row.tenantId, event_key: row.eventKey };
}

function cabDecision(row: DeploymentEventRow): BundleCabDecision {
  const text = (value: unknown) => (typeof value === 'string' ? value : null);
  return {
    event_id: row.id,
    event_type: row.eventType,
    actor: row.actor,
    occurred_at: row.occurredAt.toISOString(),
    evidence_hash: text(row.payload.evidence_hash),
    risk_model_version: text(row.payload.risk_model_version),
    payload: row.payload,
  };
}

/**
 * Auditors and admins read every bundle; a CAB member reads the bundles of intents that came before the
 * CAB (the decision they were asked for, and what followed from it).
 */
async function refuseReader(caller: Actor, store: TenantStore, intentId: string): Promise<void> {
  if (caller.roles.some((role) => role === 'auditor' || role === 'admin')) return;
  const cab = await store.cabApprovals.forIntent(intentId);
  if (cab === undefined) {
    throw problems.forbidden(
      'a CAB member may read the evidence bundle only of an intent that came before the CAB',
      'not-a-cab-intent',
    );
  }
}

/** Temporal no longer holds the workflow: NOT_FOUND, however the SDK wraps it. */
function workflowGone(error: unknown): boolean {
  for (let cause = error; cause !== undefined && cause !== null;) {
    if (cause instanceof WorkflowNotFoundError) return true;
    if (isGrpcServiceError(cause) && (cause.code as number) === 5) return true;
    cause = (cause as { cause?: unknown }).cause;
  }
  return false;
}

export function evidenceBundleEndpoints(deps: RouteDependencies): Endpoint[] {
  /** The workflow's history from Temporal; past the namespace retention, the bundle says so. */
  async function workflowHistory(workflowId: string): Promise<{ bundle: BundleHistory; raw?: string }> {
    try {
      const history = await deps.temporal.client.workflow.getHandle(workflowId).fetchHistory();
      const raw = historyToJSON(history);
      const parsed = JSON.parse(raw) as Record<string, unknown>;
      return {
        bundle: {
          available: true,
          workflow_id: workflowId,
          event_count: history.events?.length ?? 0,
          sha256: historyDigest(parsed),
          history: parsed,
        },
        raw,
      };
    } catch (error) {
      if (!workflowGone(error)) throw error;
      return {
        bundle: {
          available: false,
          workflow_id: workflowId,
          reason:
            'the Temporal service no longer holds this workflow (closed longer ago than the namespace ' +
            'retention period): the audit events above are the record of what it did',
        },
      };
    }
  }

  return [
    endpoint({
      operationId: 'getEvidenceBundle',
      method: 'get',
      path: '/deployment-intents/{id}/evidence-bundle',
      summary: 'Everything that proves why each ring was promoted, in one self-contained document',
      description:
        'The intent, its evidence pack and hash, the risk assessment with its model and every factor’s ' +
        'rationale, the CAB request and decisions with the evidence hash they approved, every ring’s ' +
        'reports, gate inputs and verdict, rollbacks, the intent’s audit events with their chain hashes, ' +
        'and the Temporal workflow history (or why it is no longer held). `npm run verify-bundle -- ' +
        'file` recomputes every hash offline (docs/audit.md). Auditors and admins read every bundle; a CAB ' +
        'member the bundles of intents that came before the CAB.',
      tags: ['Audit'],
      access: roles('auditor', 'admin', 'cab_member'),
      request: { params: idParams, query: bundleQuery },
      responses: {
        200: {
          description: 'The evidence bundle (JSON), or with `format=zip` a zip of it and the raw history',
          schema: evidenceBundleSchema,
          alternative: {
            contentType: 'application/zip',
            schema: z.string().meta({ format: 'binary' }),
          },
        },
      },
      errors: [404],
      async handle({ params, query, actor, tenantStore }) {
        const caller = requireActor(actor);
        const store = tenantStore();
        const intent = await store.intents.get(params.id);
        if (intent === undefined) throw problems.notFound(`deployment intent ${params.id}`);
        await refuseReader(caller, store, intent.id);
        const [pack, assessment, cab, rings, events, head] = await Promise.all([
          store.evidencePacks.get(intent.evidencePackId),
          store.riskAssessments.forIntent(intent.id),
          store.cabApprovals.forIntent(intent.id),
          store.ringDeployments.forIntent(intent.id),
          store.events.allForIntent(intent.id),
          store.events.chainHead(),
        ]);
        if (pack === undefined) throw new Error(`evidence pack ${intent.evidencePackId} is missing`);
        const model =
          assessment === undefined ? undefined : await store.riskModels.get(assessment.modelVersion);
        const history = await workflowHistory(intent.workflowId);
        const bundle: EvidenceBundle = sealBundle({
          format: BUNDLE_FORMAT,
          generated_at: new Date().toISOString(),
          generated_by: caller.id,
          tenant_id: caller.tenantId,
          intent: {
            id: intent.id,
            app_name: intent.appName,
            version: intent.version,
            target_ring: intent.targetRing,
            connectors: intent.connectors.map((c) => ({
              connector_type: c.connectorType,
              platforms: [...c.platforms],
            })),
            evidence_pack_id: intent.evidencePackId,
            submitter_id: intent.submitterId,
            status: intent.status,
            current_ring: intent.currentRing,
            risk_score: intent.riskScore,
            risk_model_version: intent.riskModelVersion,
            requires_cab: intent.requiresCab,
            correlation_id: intent.correlationId,
            workflow_id: intent.workflowId,
            rollout_policy: intent.rolloutPolicy ?? null,
            created_at: intent.createdAt.toISOString(),
            updated_at: intent.updatedAt.toISOString(),
          },
          evidence_pack: {
            id: pack.id,
            content_hash: pack.contentHash,
            content: pack.content,
            created_by: pack.createdBy,
            created_at: pack.createdAt.toISOString(),
          },
          risk_assessment:
            assessment === undefined
              ? null
              : {
                  ...riskSummaryBody(riskSummaryOf(assessment)),
                  evidence_hash: assessment.evidenceHash,
                  assessed_at: assessment.assessedAt.toISOString(),
                },
          risk_model:
            model === undefined
              ? null
              : {
                  version: model.version,
                  definition: model.definition as unknown as Record<string, unknown>,
                },
          cab: {
            request:
              cab === undefined
                ? null
                : {
                    state: cab.state,
                    requested_at: cab.requestedAt.toISOString(),
                    deadline_at: cab.deadlineAt.toISOString(),
                    approver_id: cab.approverId,
                    comments: cab.comments,
                    conditions: cab.conditions ?? null,
                    decided_at: isoDate(cab.decidedAt),
                  },
            decisions: events.filter((event) => CAB_DECISION_EVENTS.has(event.eventType)).map(cabDecision),
          },
          rings: rings.map((ring) => ({
            ring: ring.ring,
            action: ring.kind,
            connector_type: ring.connectorType,
            platforms: [...ring.platforms],
            status: ring.status,
            outcome: ring.outcome,
            attempt: ring.attempt,
            success_count: ring.successCount,
            failure_count: ring.failureCount,
            connector_object_id: ring.connectorObjectId,
            started_at: ring.startedAt.toISOString(),
            deadline_at: ring.deadlineAt.toISOString(),
            last_report_at: isoDate(ring.lastReportAt),
            final_reported_at: isoDate(ring.finalReportedAt),
            completed_at: isoDate(ring.completedAt),
            gate_verdict: ring.gateVerdict ?? null,
            reports: events
              .filter(
                (event) =>
                  event.eventType === 'CONNECTOR_REPORTED' && event.payload.ringDeploymentId === ring.id,
              )
              .map((event) => ({
                event_id: event.id,
                occurred_at: event.occurredAt.toISOString(),
                ...event.payload,
              })),
          })),
          events: events.map(bundleEvent),
          chain_head: head ?? null,
          workflow_history: history.bundle,
        });
        if (query.format === 'zip') {
          const files: Record<string, Uint8Array> = {
            'bundle.json': strToU8(JSON.stringify(bundle, null, 2)),
          };
          if (history.raw !== undefined) files['workflow-history.json'] = strToU8(history.raw);
          return {
            status: 200,
            body: Buffer.from(zipSync(files, { level: 6, mtime: new Date(bundle.generated_at) })),
            contentType: 'application/zip',
            headers: {
              'Content-Disposition': `attachment; filename="evidence-bundle-${intent.id}.zip"`,
            },
          };
        }
        return { status: 200, body: bundle };
      },
    }),
  ];
}
