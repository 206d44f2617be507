import { randomUUID } from 'node:crypto';
import { ServiceError, WorkflowNotFoundError, isGrpcServiceError } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import type { SignalDefinition } from '@temporalio/common';
import type { DeploymentIntentRow, DeploymentIntentSummary } from '../../db/repositories/deployment-intents';
import { riskSummaryOf } from '../../db/repositories/risk-assessments';
import type { RingDeploymentRow } from '../../db/repositories/ring-deployments';
import type { CabApprovalRow } from '../../db/repositories/cab-approvals';
import type { TenantStore } from '../../db/tenant-store';
import type { ConnectorType } from '../../policy/connectors';
import { isTerminal } from '../../policy/intent-status';
import type { Ring } from '../../policy/rings';
import {
  CONTROL_REQUEST_EVENTS,
  abortSignal,
  intentStateQuery,
  pauseSignal,
  promoteSignal,
  resumeSignal,
} from '../../workflows/definitions';
import type { IntentState } from '../../workflows/definitions';
import { endpoint, roles } from '../endpoint';
import type { Endpoint } from '../endpoint';
import { refuseOwnGate } from '../human-gates';
import type { IdempotentAttempt } from '../idempotency';
import { problems } from '../problem';
import type { Actor } from '../request-context';
import {
  auditEventBody,
  cabConditionsBody,
  idParams,
  isoDate,
  requireActor,
  riskSummaryBody,
} from '../schemas/common';
import {
  controlAcceptedSchema,
  controlBodySchema,
  createIntentSchema,
  intentCreatedSchema,
  intentDetailSchema,
  intentPageSchema,
  listIntentsQuery,
  promoteBodySchema,
} from '../schemas/intents';
import type { RouteDependencies } from './dependencies';

const RECENT_EVENTS = 50;

export function intentSummaryBody(row: DeploymentIntentSummary) {
  return {
    id: row.id,
    app_name: row.appName,
    version: row.version,
    target_ring: row.targetRing,
    status: row.status,
    current_ring: row.currentRing,
    risk_score: row.riskScore,
    requires_cab: row.requiresCab,
    submitter_id: row.submitterId,
    correlation_id: row.correlationId,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

function ringDeploymentBody(row: RingDeploymentRow) {
  const verdict = row.gateVerdict;
  return {
    ring: row.ring,
    action: row.kind,
    connector_type: row.connectorType as ConnectorType,
    platforms: row.platforms,
    status: row.status,
    outcome: row.outcome,
    success_count: row.successCount,
    failure_count: row.failureCount,
    connector_object_id: row.connectorObjectId,
    attempt: row.attempt,
    started_at: row.startedAt.toISOString(),
    deadline_at: row.deadlineAt.toISOString(),
    last_report_at: isoDate(row.lastReportAt),
    completed_at: isoDate(row.completedAt),
    gate:
      verdict === null
        ? null
        : {
            passed: verdict.passed,
            success_rate: verdict.successRate,
            reporting_devices: verdict.reportingDevices,
            time_to_compliance_ms: verdict.timeToComplianceMs,
            checks: verdict.checks.map((check) => ({ ...check })),
            reasons: [...verdict.reasons],
          },
  };
}

function cabBody(row: CabApprovalRow | undefined) {
  if (row === undefined) return null;
  return {
    state: row.state,
    requested_at: row.requestedAt.toISOString(),
    deadline_at: row.deadlineAt.toISOString(),
    approver_id: row.approverId,
    comments: row.comments,
    conditions: cabConditionsBody(row.conditions),
    decided_at: isoDate(row.decidedAt),
  };
}

async function findIntent(store: TenantStore, id: string): Promise<DeploymentIntentRow> {
  const intent = await store.intents.get(id);
  if (intent === undefined) throw problems.notFound(`deployment intent ${id}`);
  return intent;
}

type ControlAction = 'pause' | 'resume' | 'abort' | 'promote';

/** Why the running workflow cannot take this control request now, or undefined when it can. */
function refuseControl(
  action: ControlAction,
  state: IntentState,
  ring: Ring | undefined,
): string | undefined {
  switch (action) {
    case 'pause':
      return state.paused ? 'the intent is already paused' : undefined;
    case 'resume':
      return state.paused ? undefined : 'the intent is not paused';
    case 'abort':
      if (state.abortRequested) return 'the intent is already being aborted';
      return state.status === 'ROLLING_BACK' ? 'the intent is already rolling back' : undefined;
    case 'promote':
      if (state.awaitingPromotion === null) return 'no ring is waiting for a manual promotion';
      return ring !== undefined && ring !== state.awaitingPromotion
        ? `${state.awaitingPromotion} is waiting for promotion, not ${ring}`
        : undefined;
  }
}

/**
 * Whether the workflow's state already shows what this request asks for. Only asked on a retry that took
 * over an attempt which never answered: its signal may have gone out, and sending it again would be a
 * second effect (or a 409 for a request that did take effect).
 */
function alreadyInEffect(action: ControlAction, state: IntentState, ring: Ring | undefined): boolean {
  switch (action) {
    case 'pause':
      return state.paused;
    case 'resume':
      return !state.paused;
    case 'abort':
      return state.abortRequested || state.status === 'ROLLING_BACK';
    case 'promote':
      return ring === undefined ? state.awaitingPromotion === null : state.awaitingPromotion !== ring;
  }
}

/**
 * Sends a control signal that Temporal takes at most once per `requestId` in the workflow's run: a retry
 * under the same Idempotency-Key names the same request id, so the server drops it if the first attempt's
 * signal arrived, whatever the rollout did in between (a resume by someone else, the next ring waiting).
 * The SDK's `handle.signal` draws a fresh request id per call, hence the service call.
 */
async function signalOnce<Arg>(
  client: Client,
  workflowId: string,
  signal: SignalDefinition<[Arg]>,
  arg: Arg,
  requestId: string,
): Promise<void> {
  const converter = client.options.loadedDataConverter;
  let payloads = [converter.payloadConverter.toPayload(arg)];
  for (const codec of converter.payloadCodecs) payloads = await codec.encode(payloads);
  try {
    await client.workflowService.signalWorkflowExecution({
      namespace: client.options.namespace,
      workflowExecution: { workflowId },
      signalName: signal.name,
      input: { payloads },
      identity: client.options.identity,
      requestId,
    });
  } catch (error) {
    if (!isGrpcServiceError(error)) throw error;
    // NOT_FOUND: the workflow closed after it was asked for its state.
    const code: number = error.code;
    if (code === 5) throw problems.conflict('intent-finished', 'the intent has no running workflow');
    // As `handle.signal` reports it, so the error mapping sees one shape of Temporal failure.
    throw new ServiceError('Failed to signal Workflow', { cause: error });
  }
}

/** The ring a promote request releases: the one named, or else the one waiting. */
function promotedRing(state: IntentState, ring: Ring | undefined): Ring {
  const target = ring ?? state.awaitingPromotion;
  if (target === null)
    throw problems.conflict('invalid-intent-state', 'no ring is waiting for a manual promotion');
  return target;
}

export function intentEndpoints(deps: RouteDependencies): Endpoint[] {
  /** Sends a control signal after checking that the workflow can take it (409 otherwise). */
  async function control(
    action: ControlAction,
    input: {
      params: { id: string };
      actor: Actor | undefined;
      body: { reason?: string; ring?: Ring };
      tenantStore: () => TenantStore;
      idempotency: IdempotentAttempt | undefined;
    },
  ) {
    const actor = requireActor(input.actor);
    const store = input.tenantStore();
    const intent = await findIntent(store, input.params.id);
    if (action === 'promote' || action === 'resume') refuseOwnGate(action, actor, intent);
    // Keyed: every attempt of the key sends the one signal Temporal takes once.
    const requestId =
      input.idempotency === undefined ? randomUUID() : `${action}-${input.idempotency.effectId}`;
    // A retry whose first attempt's request the workflow took (even one that has ended the intent since).
    if (
      input.idempotency?.resumed === true &&
      action !== 'promote' &&
      (await store.events.recordsRequest(intent.id, CONTROL_REQUEST_EVENTS[action], requestId))
    ) {
      return { status: 202, body: { intent_id: intent.id, action, status: intent.status } };
    }
    if (isTerminal(intent.status))
      throw problems.conflict('intent-finished', `the intent is ${intent.status}`);
    const handle = deps.temporal.client.workflow.getHandle(intent.workflowId);
    let state: IntentState;
    try {
      state = await handle.query(intentStateQuery);
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) {
        throw problems.conflict('intent-finished', 'the intent has no running workflow');
      }
      throw error;
    }
    const accepted = { status: 202, body: { intent_id: intent.id, action, status: state.status } };
    if (input.idempotency?.resumed === true && alreadyInEffect(action, state, input.body.ring)) {
      return accepted;
    }
    const refusal = isTerminal(state.status)
      ? `the intent is ${state.status}`
      : refuseControl(action, state, input.body.ring);
    if (refusal !== undefined) throw problems.conflict('invalid-intent-state', refusal);
    const request = {
      by: actor.id,
      ...(input.body.reason === undefined ? {} : { reason: input.body.reason }),
      ...(input.idempotency === undefined ? {} : { requestKey: requestId }),
    };
    const client = deps.temporal.client;
    if (action === 'promote') {
      const ring = promotedRing(state, input.body.ring);
      await signalOnce(client, intent.workflowId, promoteSignal, { ...request, ring }, requestId);
    } else {
      const signal = { pause: pauseSignal, resume: resumeSignal, abort: abortSignal }[action];
      await signalOnce(client, intent.workflowId, signal, request, requestId);
    }
    return accepted;
  }

  const controlEndpoint = (action: Exclude<ControlAction, 'promote'>, summary: string) =>
    endpoint({
      operationId: `${action}DeploymentIntent`,
      method: 'post',
      path: `/deployment-intents/{id}/${action}`,
      summary,
      description:
        'Accepted requests take effect between rollout steps; the audit trail records who asked.' +
        (action === 'resume' ? ' 403 for the intent’s own submitter (separation of duties).' : ''),
      tags: ['Deployment intents'],
      access: roles('operator'),
      request: { params: idParams, body: controlBodySchema },
      responses: { 202: { description: 'Accepted', schema: controlAcceptedSchema } },
      errors: [404, 409],
      idempotency: 'recorded',
      handle: (input) => control(action, input),
    });

  return [
    endpoint({
      operationId: 'createDeploymentIntent',
      method: 'post',
      path: '/deployment-intents',
      summary: 'Submit a deployment intent',
      description:
        'Evidence first: the intent is accepted only with a complete evidence pack (422 names every missing ' +
        'part). The response carries the risk assessment the workflow made. With an Idempotency-Key, a retried ' +
        'request returns the same intent (header Idempotent-Replayed: true) and starts no second workflow; ' +
        'if the first attempt never started the workflow (the API stopped, or the orchestrator answered 503), ' +
        'the retry starts it with the input the intent was recorded with. Without a key, an intent whose ' +
        'workflow the orchestrator refused is marked FAILED.',
      tags: ['Deployment intents'],
      access: roles('submitter'),
      idempotency: 'recorded',
      request: { body: createIntentSchema },
      responses: {
        201: {
          description: 'Accepted; the workflow is running',
          schema: intentCreatedSchema,
          headers: { Location: { description: 'the intent', schema: { type: 'string' } } },
        },
      },
      errors: [409, 413, 422, 503],
      async handle({ body, actor, requestId, tenantStore, idempotency }) {
        const caller = requireActor(actor);
        const submitted = await deps.intents.submit(
          tenantStore(),
          caller,
          requestId,
          {
            appName: body.app_name,
            version: body.version,
            targetRing: body.target_ring,
            connectors: body.connectors,
            ...(body.evidence_pack === undefined ? {} : { evidencePack: body.evidence_pack }),
            ...(body.evidence_pack_id === undefined ? {} : { evidencePackId: body.evidence_pack_id }),
            ...(body.target_device_count === undefined
              ? {}
              : { targetDeviceCount: body.target_device_count }),
          },
          idempotency === undefined ? undefined : { key: idempotency.key, intentId: idempotency.effectId },
        );
        const intent = submitted.intent;
        return {
          status: 201,
          headers: {
            Location: `/api/v1/deployment-intents/${intent.id}`,
            ...(submitted.replayed ? { 'Idempotent-Replayed': 'true' } : {}),
          },
          body: {
            id: intent.id,
            correlation_id: intent.correlationId,
            workflow_id: intent.workflowId,
            status:
              submitted.risk === null
                ? intent.status
                : submitted.risk.requiresCab
                  ? 'AWAITING_CAB'
                  : 'APPROVED',
            risk: submitted.risk === null ? null : riskSummaryBody(submitted.risk),
            created_at: intent.createdAt.toISOString(),
          },
        };
      },
    }),
    endpoint({
      operationId: 'listDeploymentIntents',
      method: 'get',
      path: '/deployment-intents',
      summary: 'List deployment intents, newest first',
      tags: ['Deployment intents'],
      access: roles('submitter', 'cab_member', 'operator', 'auditor'),
      request: { query: listIntentsQuery },
      responses: { 200: { description: 'One page', schema: intentPageSchema } },
      async handle({ query, tenantStore }) {
        const page = await tenantStore().intents.listSummaries(
          {
            ...(query.status === undefined ? {} : { status: query.status }),
            ...(query.ring === undefined ? {} : { ring: query.ring }),
            ...(query.app_name === undefined ? {} : { appName: query.app_name }),
            ...(query.submitter === undefined ? {} : { submitterId: query.submitter }),
          },
          { limit: query.limit, ...(query.cursor === undefined ? {} : { cursor: query.cursor }) },
        );
        return {
          status: 200,
          body: { items: page.items.map(intentSummaryBody), next_cursor: page.nextCursor },
        };
      },
    }),
    endpoint({
      operationId: 'getDeploymentIntent',
      method: 'get',
      path: '/deployment-intents/{id}',
      summary: 'One intent: risk breakdown, CAB state, per-ring progress and recent events',
      tags: ['Deployment intents'],
      access: roles('submitter', 'cab_member', 'operator', 'auditor'),
      request: { params: idParams },
      responses: { 200: { description: 'The intent', schema: intentDetailSchema } },
      errors: [404],
      async handle({ params, tenantStore }) {
        const store = tenantStore();
        const intent = await findIntent(store, params.id);
        const [assessment, cab, rings, events] = await Promise.all([
          store.riskAssessments.forIntent(intent.id),
          store.cabApprovals.forIntent(intent.id),
          store.ringDeployments.forIntent(intent.id),
          store.events.recentForIntent(intent.id, RECENT_EVENTS),
        ]);
        return {
          status: 200,
          body: {
            ...intentSummaryBody(intent),
            connectors: intent.connectors.map((c) => ({
              connector_type: c.connectorType,
              platforms: [...c.platforms],
            })),
            evidence_pack_id: intent.evidencePackId,
            workflow_id: intent.workflowId,
            risk: assessment === undefined ? null : riskSummaryBody(riskSummaryOf(assessment)),
            cab: cabBody(cab),
            rings: rings.map(ringDeploymentBody),
            temporal_ui_url: deps.temporalWorkflowUrl?.(intent.workflowId) ?? null,
            recent_events: events.map(auditEventBody),
          },
        };
      },
    }),
    controlEndpoint('pause', 'Pause the rollout before its next ring'),
    controlEndpoint('resume', 'Resume a paused rollout'),
    controlEndpoint('abort', 'Abort the rollout and roll back every deployed ring'),
    endpoint({
      operationId: 'promoteDeploymentIntent',
      method: 'post',
      path: '/deployment-intents/{id}/promote',
      summary: 'Let a ring start that waits for manual promotion (a CAB condition)',
      description: '403 for the intent’s own submitter (separation of duties).',
      tags: ['Deployment intents'],
      access: roles('operator', 'cab_member'),
      request: { params: idParams, body: promoteBodySchema },
      responses: { 202: { description: 'Accepted', schema: controlAcceptedSchema } },
      errors: [404, 409],
      idempotency: 'recorded',
      handle: (input) => control('promote', input),
    }),
  ];
}
