import { z } from 'zod';
import { endpoint, roles } from '../endpoint';
import { REPAIR_EVENT_TYPES } from '../metrics';
import type { Endpoint } from '../endpoint';
import { requireActor } from '../schemas/common';
import type { RouteDependencies } from './dependencies';

export function metricsEndpoints(deps: RouteDependencies): Endpoint[] {
  return [
    endpoint({
      operationId: 'getMetrics',
      method: 'get',
      path: '/metrics',
      summary: 'Prometheus metrics',
      description:
        'Prometheus text exposition (`text/plain; version=0.0.4; charset=utf-8`): ' +
        '`eucora_http_request_duration_seconds` (latency by method, route template and status, for the ' +
        'whole API process), and for the caller’s tenant, read from the database at scrape time: ' +
        '`eucora_intents{status}`, `eucora_cab_queue_depth` and `eucora_ring_deployments{ring,kind,outcome}` ' +
        '(outcome PENDING until the connector settles the ring), and `eucora_reconciler_repairs_total{repair,by}` ' +
        '(orphans started late and read-model rows repaired, counted from the audit trail); with a SIEM configured, ' +
        '`eucora_siem_backlog_records`, `eucora_siem_oldest_unsent_age_seconds` and `eucora_siem_last_send_failed` ' +
        '(the tenant’s audit records not yet accepted by the SIEM). Prometheus scrapes it with a metrics ' +
        'API key (`Authorization: Bearer eucora_mk_…`, issued by an admin at `/connector-credentials` ' +
        'with `scope: metrics`), one per tenant.',
      tags: ['Telemetry'],
      access: roles('operator', 'auditor', 'metrics_reader'),
      responses: {
        200: {
          description: 'Prometheus text exposition format 0.0.4',
          schema: z.string(),
          contentType: 'text/plain; version=0.0.4; charset=utf-8',
        },
      },
      async handle({ actor }) {
        const tenantId = requireActor(actor).tenantId;
        const store = deps.store.forTenant(tenantId);
        const text = await deps.metrics.exposition(tenantId, async () => ({
          counts: await deps.store.rolloutCounts(tenantId),
          cabQueueDepth: await store.cabApprovals.pendingCount(),
          repairs: await deps.store.eventCounts(tenantId, REPAIR_EVENT_TYPES),
          siemBacklog: deps.siem === undefined ? undefined : await deps.store.siemOutbox.backlog(tenantId),
        }));
        return { status: 200, body: text, contentType: deps.metrics.contentType };
      },
    }),
  ];
}
