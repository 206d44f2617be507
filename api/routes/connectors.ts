import type { Response } from 'express';
import type { z } from 'zod';
import type { RingDeploymentKind } from '../../db/schema';
import { abandonment, endpoint, roles } from '../endpoint';
import type { Endpoint } from '../endpoint';
import { problems } from '../problem';
import type { Actor } from '../request-context';
import { requireActor } from '../schemas/common';
import {
  MAX_PENDING_WORK_WAIT_SECONDS,
  deploymentStatusAnswerSchema,
  deploymentStatusReportSchema,
  pendingDeploymentBody,
  pendingDeploymentListSchema,
  pendingWorkQuery,
  pendingWorkSchema,
  ringDeploymentBody,
} from '../schemas/connectors';
import type { PendingDeployment } from '../schemas/connectors';
import type { RouteDependencies } from './dependencies';

/** The endpoints execution-plane connectors call: what to carry out, and how it went. */
export function connectorEndpoints(deps: RouteDependencies): Endpoint[] {
  const maxWaitMs = deps.connectorMaxWaitMs ?? MAX_PENDING_WORK_WAIT_SECONDS * 1_000;
  /**
   * Deployments and rollbacks are two lists: a connector that never asks for rollbacks (the seed's)
   * can never mistake one for a deployment and install what it should remove. A connector that carries
   * out both asks for both at once (`/connectors/pending-work`), and still gets two lists.
   *
   * With `wait` (long polling) and nothing open, the request is held: a ticket is taken before each read
   * (so work committed after the read still wakes it), and the read is repeated when new work of this
   * tenant and connector type is announced, until something is open or the wait is over. The caller's
   * going away, too many waiting requests and shutdown all end the wait with the answer read last.
   */
  async function listOpen(
    kinds: readonly [RingDeploymentKind] | readonly [RingDeploymentKind, RingDeploymentKind],
    {
      query,
      actor,
      res,
    }: { query: z.output<typeof pendingWorkQuery>; actor: Actor | undefined; res: Response },
  ): Promise<{ deployments: PendingDeployment[]; rollbacks: PendingDeployment[] }> {
    const caller = requireActor(actor);
    const overseer = caller.roles.includes('operator') || caller.roles.includes('admin');
    const connectorType = query.connector_type ?? caller.connectorType;
    if (connectorType === undefined) {
      throw problems.validation([
        { field: 'connector_type', in: 'query', message: 'is required unless a connector key asks' },
      ]);
    }
    if (!overseer && caller.connectorType !== connectorType) {
      throw problems.forbidden(
        `this key belongs to a ${String(caller.connectorType)} connector, not ${connectorType}`,
      );
    }
    const store = deps.store.forTenant(caller.tenantId);
    const read = async () => {
      const open = await store.ringDeployments.openForConnector(connectorType, kinds, query.ring);
      const lists = { deployments: [] as PendingDeployment[], rollbacks: [] as PendingDeployment[] };
      for (const item of open) {
        (item.deployment.kind === 'ROLLBACK' ? lists.rollbacks : lists.deployments).push(
          pendingDeploymentBody(item),
        );
      }
      return lists;
    };
    const waitMs = Math.min(query.wait * 1_000, maxWaitMs);
    if (waitMs === 0) return read();
    const deadline = Date.now() + waitMs;
    const abandoned = abandonment(res);
    for (;;) {
      const ticket = deps.store.pendingWork.enter(caller.tenantId, connectorType);
      try {
        const lists = await read();
        const remaining = deadline - Date.now();
        if (ticket === undefined || remaining <= 0) return lists;
        if (lists.deployments.length > 0 || lists.rollbacks.length > 0) return lists;
        const outcome = await ticket.wait(remaining, abandoned);
        if (outcome !== 'announced' && outcome !== 'recheck') return lists;
      } finally {
        ticket?.release();
      }
    }
  }

  return [
    endpoint({
      operationId: 'listPendingDeployments',
      method: 'get',
      path: '/connectors/pending-deployments',
      summary: 'The ring deployments a connector has to carry out (never rollbacks)',
      description:
        'Open (PENDING or IN_PROGRESS) ring deployments for one connector type, oldest first, as a JSON ' +
        'array, with the artifact to install. Rollbacks are never listed here: they are at ' +
        '/connectors/pending-rollbacks, for connectors that carry them out. A connector may only ask ' +
        'for its own connector type (the default); operators may look at any.',
      tags: ['Connectors'],
      access: roles('connector', 'operator'),
      request: { query: pendingWorkQuery },
      responses: { 200: { description: 'The open deployments', schema: pendingDeploymentListSchema } },
      handle: async (input) => ({ status: 200, body: (await listOpen(['DEPLOY'], input)).deployments }),
    }),
    endpoint({
      operationId: 'listPendingRollbacks',
      method: 'get',
      path: '/connectors/pending-rollbacks',
      summary: 'The rollbacks a connector has to carry out',
      description:
        'Open (PENDING or IN_PROGRESS) rollbacks for one connector type, oldest first, as a JSON array, ' +
        'with the rollback steps of the item’s platforms. Report them with `action: ROLLBACK` (or their ' +
        '`ring_deployment_id`). A connector may only ask for its own connector type; operators may ' +
        'look at any.',
      tags: ['Connectors'],
      access: roles('connector', 'operator'),
      request: { query: pendingWorkQuery },
      responses: { 200: { description: 'The open rollbacks', schema: pendingDeploymentListSchema } },
      handle: async (input) => ({ status: 200, body: (await listOpen(['ROLLBACK'], input)).rollbacks }),
    }),
    endpoint({
      operationId: 'listPendingWork',
      method: 'get',
      path: '/connectors/pending-work',
      summary: 'The deployments and the rollbacks a connector has to carry out, in one answer',
      description:
        'For a connector that carries out both: `deployments` is what /connectors/pending-deployments ' +
        'lists and `rollbacks` what /connectors/pending-rollbacks lists (open items of one connector ' +
        'type, oldest first, at most 500 of each), read in one request instead of two. The two kinds ' +
        'stay in lists of their own: a ROLLBACK item is never among the deployments. A connector may ' +
        'only ask for its own connector type (the default); operators may look at any.\n\n' +
        'Long polling: with `wait` (seconds) a request that finds nothing open is held until work of ' +
        'this connector type is recorded (it then answers with it) or the wait ends (it answers with ' +
        'two empty lists). A connector asks again at once after either answer, instead of polling every ' +
        'few seconds. The other two lists take `wait` too.',
      tags: ['Connectors'],
      access: roles('connector', 'operator'),
      request: { query: pendingWorkQuery },
      responses: { 200: { description: 'The open deployments and rollbacks', schema: pendingWorkSchema } },
      handle: async (input) => ({ status: 200, body: await listOpen(['DEPLOY', 'ROLLBACK'], input) }),
    }),
    endpoint({
      operationId: 'updateDeploymentStatus',
      method: 'post',
      path: '/connectors/update-deployment-status',
      summary: 'Report progress (heartbeat) or the final counts of a ring deployment or rollback',
      description:
        'The report is recorded (ring row and audit event) before the orchestrator hears of it. An ' +
        'interim report (`final: false`) heartbeats the ring and records the counts so far; the final ' +
        'report (the default) completes the ring, and the orchestrator evaluates its promotion gate. ' +
        'Without `action` or `ring_deployment_id` a report is about the ring’s deployment. A repeated ' +
        'final report with the same counts answers ALREADY_COMPLETED; any other report on a finished ' +
        'ring (reported, timed out, cancelled) is a 409. A 503 means the report is recorded but the ' +
        'orchestrator has not taken it: send the same report again. Only a connector API key of ' +
        '`connector_type` may report.',
      tags: ['Connectors'],
      access: roles('connector'),
      request: { body: deploymentStatusReportSchema },
      responses: {
        200: { description: 'The report was applied (or repeated)', schema: deploymentStatusAnswerSchema },
      },
      errors: [404, 409, 422, 503],
      async handle({ body, actor, requestId }) {
        const caller = requireActor(actor);
        if (caller.kind !== 'connector' || caller.connectorType !== body.connector_type) {
          throw problems.forbidden(`only a ${body.connector_type} connector API key may report for it`);
        }
        const store = deps.store.forTenant(caller.tenantId);
        const result = await deps.reports.report(
          store,
          {
            ...(body.ring_deployment_id === undefined ? {} : { ringDeploymentId: body.ring_deployment_id }),
            correlationId: body.correlation_id,
            ring: body.ring,
            connectorType: body.connector_type,
            ...(body.action === undefined ? {} : { kind: body.action }),
            ...(body.connector_object_id === undefined
              ? {}
              : { connectorObjectId: body.connector_object_id }),
            successCount: body.success_count,
            failureCount: body.failure_count,
            final: body.final,
          },
          caller.id,
          requestId,
        );
        return {
          status: 200,
          body: { outcome: result.outcome, deployment: ringDeploymentBody(result.deployment) },
        };
      },
    }),
  ];
}
