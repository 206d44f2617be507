import { randomUUID } from 'node:crypto';
import {
  ApplicationFailure,
  ServiceError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  WorkflowUpdateStage,
  isGrpcServiceError,
} from '@temporalio/client';
import type { PendingCabRequest } from '../../db/repositories/cab-approvals';
import { riskSummaryOf } from '../../db/repositories/risk-assessments';
import type { CabConditions, CabDecision } from '../../policy/cab-decision';
import type { Platform } from '../../policy/connectors';
import { missingEvidence } from '../../policy/evidence-pack';
import type { EvidencePack } from '../../policy/evidence-pack';
import { ringIndex } from '../../policy/rings';
import type { Ring } from '../../policy/rings';
import { FailureTypes, cabDecisionUpdate } from '../../workflows/definitions';
import type { CabVerdict } from '../../workflows/definitions';
import { endpoint, roles } from '../endpoint';
import type { Endpoint } from '../endpoint';
import { problems } from '../problem';
import {
  cabDecisionBodySchema,
  cabDecisionParams,
  cabQueuePageSchema,
  cabVerdictSchema,
  extraSoakMs,
  pendingCabQuery,
} from '../schemas/cab';
import { refuseOwnGate } from '../human-gates';
import { cabConditionsBody, requireActor, riskSummaryBody } from '../schemas/common';
import type { RouteDependencies } from './dependencies';

type TestRun = NonNullable<NonNullable<EvidencePack['test_evidence']>['lab']>;

/** How long an accepted decision waits for the workflow to record it before the API answers 503. */
const DECISION_WAIT_MS = 30_000;

/** gRPC status codes that mean Temporal is unreachable or overloaded, not that the request was wrong. */
const UNAVAILABLE_CODES = new Set([
  4 /* DEADLINE_EXCEEDED */, 8 /* RESOURCE_EXHAUSTED */, 14 /* UNAVAILABLE */,
]);

function orchestratorUnavailable(error: unknown): boolean {
  if (error instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return true;
  return (
    error instanceof ServiceError &&
    isGrpcServiceError(error.cause) &&
    UNAVAILABLE_CODES.has(error.cause.code)
  );
}

function testRunBody(run: TestRun | undefined) {
  if (run === undefined) return null;
  return { status: run.status, devices_tested: run.devices_tested, success_rate: run.success_rate ?? null };
}

function evidenceSummaryBody({ evidence }: PendingCabRequest) {
  const pack = evidence.content;
  const steps = pack.rollback_plan?.steps ?? [];
  const scan = pack.scan_results;
  const decision = pack.scan_decision;
  const platforms = new Set<Platform>(steps.map((step) => step.platform));
  return {
    evidence_pack_id: evidence.id,
    evidence_hash: evidence.contentHash,
    signature_status: pack.signature?.status ?? null,
    scan_decision: decision?.decision ?? null,
    ...(decision?.decision === 'EXCEPTION' ? { exception_expires_at: decision.expires_at } : {}),
    vulnerabilities:
      scan === undefined ? null : { critical: scan.critical, high: scan.high, medium: scan.medium },
    sbom_complete: pack.sbom?.complete ?? false,
    sbom_component_count: pack.sbom?.component_count ?? null,
    rollback_platforms: [...platforms],
    rollback_tested: steps.length > 0 && steps.every((step) => step.tested),
    test_evidence: {
      lab: testRunBody(pack.test_evidence?.lab),
      ring0: testRunBody(pack.test_evidence?.ring0),
    },
    missing_evidence: missingEvidence(pack),
  };
}

function queueItemBody(request: PendingCabRequest) {
  const { approval, intent, assessment } = request;
  return {
    intent_id: intent.id,
    correlation_id: intent.correlationId,
    app_name: intent.appName,
    version: intent.version,
    target_ring: intent.targetRing,
    submitter_id: intent.submitterId,
    requested_at: approval.requestedAt.toISOString(),
    deadline_at: approval.deadlineAt.toISOString(),
    risk: assessment === null ? null : riskSummaryBody(riskSummaryOf(assessment)),
    evidence_summary: evidenceSummaryBody(request),
    required_approvals: approval.requiredApprovals,
    approvals: approval.approvals.map((taken) => ({
      approver_id: taken.approverId,
      decision: taken.decision,
      at: taken.at,
    })),
  };
}

/**
 * The workflow's refusal as an HTTP problem. Its synchronous validator is the authority on whether a
 * decision is accepted; the API only translates.
 */
function decisionProblem(error: unknown, decision: CabDecision, targetRing: Ring): unknown {
  if (error instanceof WorkflowUpdateFailedError && error.cause instanceof ApplicationFailure) {
    const { type, message } = error.cause;
    if (type === FailureTypes.NotAwaitingCab) return problems.conflict('not-awaiting-cab', message);
    if (type === FailureTypes.AlreadyApproved) return problems.conflict('already-approved', message);
    // The API refuses this before asking (refuseOwnGate); the workflow's validator stays the backstop.
    if (type === FailureTypes.SelfApprovalForbidden)
      return problems.forbidden(message, 'separation-of-duties');
    if (type === FailureTypes.InvalidCabDecision) {
      const maxRing = decision.conditions?.maxRing;
      const field =
        maxRing !== undefined && ringIndex(maxRing) > ringIndex(targetRing)
          ? 'conditions.max_ring'
          : 'conditions';
      return problems.unprocessable('invalid-cab-decision', message, [{ field, message }]);
    }
  }
  // A closed workflow: the intent was decided, expired, aborted or never started.
  if (error instanceof WorkflowNotFoundError) {
    return problems.conflict('not-awaiting-cab', 'the intent is not awaiting a CAB decision');
  }
  if (orchestratorUnavailable(error)) {
    return problems.unavailable(
      'the orchestrator did not confirm the decision; read the intent before deciding again',
      error,
    );
  }
  return error;
}

export function cabEndpoints(deps: RouteDependencies): Endpoint[] {
  return [
    endpoint({
      operationId: 'listPendingCabDecisions',
      method: 'get',
      path: '/cab/pending',
      summary: 'The CAB queue',
      description:
        'Intents waiting for a CAB decision, oldest request first, each with its risk assessment and a ' +
        'summary of its evidence pack.',
      tags: ['CAB'],
      access: roles('cab_member', 'operator', 'auditor'),
      request: { query: pendingCabQuery },
      responses: { 200: { description: 'One page of the queue', schema: cabQueuePageSchema } },
      async handle({ actor, query }) {
        const store = deps.store.forTenant(requireActor(actor).tenantId);
        const page = await store.cabApprovals.pending({ limit: query.limit, cursor: query.cursor });
        return { status: 200, body: { items: page.items.map(queueItemBody), next_cursor: page.nextCursor } };
      },
    }),
    endpoint({
      operationId: 'decideCab',
      method: 'post',
      path: '/cab/{intent_id}/decision',
      summary: 'Approve, reject or approve with conditions',
      description:
        'Delivers the decision to the intent’s workflow, which validates and records it (the audit trail ' +
        'gets a CAB_DECIDED event by the caller) and answers with the intent’s status. 409 when the intent ' +
        'is not awaiting CAB, when the member already approved it (a quorum counts each member once), or ' +
        'when `evidence_hash` is not the hash of the intent’s evidence pack (stale-evidence: withdraw and ' +
        'resubmit an intent whose evidence changed); 403 for the intent’s own submitter; 422 for a ' +
        'CONDITIONAL decision without conditions, conditions on another decision, or a max_ring beyond the ' +
        'target ring. At or above the quorum’s risk score an intent needs approvals from several distinct ' +
        'members: until then an approval answers AWAITING_CAB with the approvers so far. With an ' +
        'Idempotency-Key, a decision retried after a 503 or a lost answer is delivered once: the workflow ' +
        'knows it by an update id derived from the key.',
      tags: ['CAB'],
      access: roles('cab_member'),
      idempotency: 'recorded',
      request: { params: cabDecisionParams, body: cabDecisionBodySchema },
      responses: { 200: { description: 'The workflow recorded the decision', schema: cabVerdictSchema } },
      errors: [404, 409, 422, 503],
      async handle({ actor, params, body, requestId, tenantStore, idempotency }) {
        const caller = requireActor(actor);
        const intent = await tenantStore().intents.get(params.intent_id);
        if (intent === undefined) throw problems.notFound(`deployment intent ${params.intent_id}`);
        refuseOwnGate('decide_cab', caller, intent);
        if (body.evidence_hash !== undefined) {
          const pack = await tenantStore().evidencePacks.get(intent.evidencePackId);
          if (pack?.contentHash !== body.evidence_hash) {
            // Recorded before it is answered: an auditor sees a decision attempted on other evidence.
            const refusalId = randomUUID();
            await tenantStore().events.append({
              eventKey: `cab-decision-refused:${refusalId}`,
              eventType: 'CAB_DECISION_REFUSED',
              intentId: intent.id,
              correlationId: intent.correlationId,
              requestId,
              actor: caller.id,
              payload: {
                reason: 'stale-evidence',
                decision: body.decision,
                evidence_hash_reviewed: body.evidence_hash,
                evidence_hash: pack?.contentHash ?? null,
              },
              occurredAt: new Date(),
            });
            throw problems.conflict(
              'stale-evidence',
              'the evidence you reviewed is not this intent’s evidence pack: reload the intent and review ' +
                'its evidence before deciding',
            );
          }
        }

        const requested = body.conditions;
        const conditions: CabConditions = {
          ...(requested?.max_ring === undefined ? {} : { maxRing: requested.max_ring }),
          ...(requested?.extra_soak === undefined ? {} : { extraSoakMs: extraSoakMs(requested.extra_soak) }),
          ...(requested?.manual_promotion === undefined
            ? {}
            : { manualPromotion: requested.manual_promotion }),
        };
        const decision: CabDecision = {
          decision: body.decision,
          approverId: caller.id,
          ...(body.comments === undefined || body.comments === '' ? {} : { comments: body.comments }),
          ...(Object.keys(conditions).length === 0 ? {} : { conditions }),
        };

        const handle = deps.temporal.client.workflow.getHandle(intent.workflowId);
        let verdict: CabVerdict;
        try {
          // Delivered within the request's Temporal budget (an unreachable Temporal is a prompt 503)...
          const update = await handle.startUpdate(cabDecisionUpdate, {
            args: [decision],
            waitForStage: WorkflowUpdateStage.ACCEPTED,
            // Temporal runs an update id once, and answers its outcome again to the same id, even once
            // the workflow has closed: every attempt of one Idempotency-Key decides once.
            ...(idempotency === undefined ? {} : { updateId: `cab-decision-${idempotency.effectId}` }),
          });
          // ...then, accepted, the workflow records it: a wait on its progress, with a deadline of its own.
          verdict = await deps.temporal.client.withDeadline(Date.now() + DECISION_WAIT_MS, () =>
            update.result(),
          );
        } catch (error) {
          throw decisionProblem(error, decision, intent.targetRing);
        }
        deps.logger.info(
          { intentId: intent.id, decision: verdict.decision, approver: caller.id, status: verdict.status },
          'CAB decision recorded',
        );
        return {
          status: 200,
          body: {
            intent_id: intent.id,
            status: verdict.status,
            decision: verdict.decision,
            conditions: cabConditionsBody(verdict.conditions),
            // Workflows started before the quorum answer neither: one approval decided them.
            approvers: verdict.approvers ?? (verdict.decision === 'REJECTED' ? [] : [caller.id]),
            required_approvals: verdict.requiredApprovals ?? 1,
          },
        };
      },
    }),
  ];
}
