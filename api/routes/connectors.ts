import { endpoint, roles } from '../endpoint';
import type { Endpoint } from '../endpoint';
import { problems } from '../problem';
import { requireActor } from '../schemas/common';
import {
  deploymentStatusAnswerSchema,
  deploymentStatusReportSchema,
  pendingDeploymentBody,
  pendingDeploymentListSchema,
  pendingDeploymentsQuery,
  ringDeploymentBody,
} from '../schemas/connectors';
import type { RouteDependencies } from './dependencies';

/** Keeps the credential list's `last_used_at` current; the actor id is `connector:<credential name>`. */
/** The endpoints execution-plane connectors call: what to carry out, and how it went. */
export function connectorEndpoints(deps: RouteDependencies): Endpoint[] {
  return [
    endpoint({
      operationId: 'listPendingDeployments',
      method: 'get',
      path: '/connectors/pending-deployments',
      summary: 'The deployments and rollbacks a connector has to carry out',
      description:
        'Open (PENDING or IN_PROGRESS) ring deployments and rollbacks for one connector type, oldest ' +
        'first, with the artifact to install and the rollback steps for the item’s platforms. A ' +
        'connector may only ask for its own connector type; operators may look at any.',
      tags: ['Connectors'],
      access: roles('connector', 'operator'),
      request: { query: pendingDeploymentsQuery },
      responses: { 200: { description: 'The open work', schema: pendingDeploymentListSchema } },
      async handle({ query, actor }) {
        const caller = requireActor(actor);
        const overseer = caller.roles.includes('operator') || caller.roles.includes('admin');
        if (!overseer && caller.connectorType !== query.connector_type) {
          throw problems.forbidden(
            `this key belongs to a ${String(caller.connectorType)} connector, not ${query.connector_type}`,
          );
        }
        const store = deps.store.forTenant(caller.tenantId);
        const open = await store.ringDeployments.openForConnector(query.connector_type, query.ring);
        return { status: 200, body: { items: open.map(pendingDeploymentBody) } };
      },
    }),
    endpoint({
      operationId: 'updateDeploymentStatus',
      method: 'post',
      path: '/connectors/update-deployment-status',
      summary: 'Report progress (heartbeat) or the final counts of a ring deployment or rollback',
      description:
        'An interim report (`final: false`) heartbeats the ring and records the counts so far; the ' +
        'final report completes the ring, and the orchestrator evaluates its promotion gate. A repeated ' +
        'final report with the same counts answers ALREADY_COMPLETED; any other report on a finished ' +
        'ring (reported, timed out, cancelled) is a 409. Only a connector API key of `connector_type` ' +
        'may report.',
      tags: ['Connectors'],
      access: roles('connector'),
      request: { body: deploymentStatusReportSchema },
      responses: {
        200: { description: 'The report was applied (or repeated)', schema: deploymentStatusAnswerSchema },
      },
      errors: [404, 409, 503],
      async handle({ body, actor }) {
        const caller = requireActor(actor);
        if (caller.kind !== 'connector' || caller.connectorType !== body.connector_type) {
          throw problems.forbidden(`only a ${body.connector_type} connector API key may report for it`);
        }
        const store = deps.store.forTenant(caller.tenantId);
        const result = await deps.reports.report(
          store,
          {
            correlationId: body.correlation_id,
            ring: body.ring,
            connectorType: body.connector_type,
            ...(body.action === undefined ? {} : { kind: body.action }),
            connectorObjectId: body.connector_object_id,
            successCount: body.success_count,
            failureCount: body.failure_count,
            final: body.final,
          },
          caller.id,
        );
        return {
          status: 200,
          body: { outcome: result.outcome, deployment: ringDeploymentBody(result.deployment) },
        };
      },
    }),
  ];
}
