import { endpoint, roles } from '../endpoint';
import type { Endpoint } from '../endpoint';
import { auditEventBody, requireActor } from '../schemas/common';
import { auditEventPageSchema, listEventsQuery } from '../schemas/events';
import type { RouteDependencies } from './dependencies';

export function eventEndpoints(deps: RouteDependencies): Endpoint[] {
  return [
    endpoint({
      operationId: 'listAuditEvents',
      method: 'get',
      path: '/events',
      summary: 'The append-only audit trail',
      description:
        'Events in the order they were written, oldest first, filtered by correlation id, request id, ' +
        'intent and event type (all given filters apply). Pass `next_cursor` as `cursor` for the next page.',
      tags: ['Audit'],
      access: roles('auditor', 'operator', 'cab_member'),
      request: { query: listEventsQuery },
      responses: { 200: { description: 'One page of events', schema: auditEventPageSchema } },
      async handle({ actor, query }) {
        const store = deps.store.forTenant(requireActor(actor).tenantId);
        // A cursor this API did not issue becomes a 400 naming `cursor` in the problem handler.
        const page = await store.events.list(
          {
            intentId: query.intent_id,
            correlationId: query.correlation_id,
            requestId: query.request_id,
            eventType: query.event_type,
          },
          { limit: query.limit, cursor: query.cursor },
        );
        return {
          status: 200,
          body: { items: page.items.map(auditEventBody), next_cursor: page.nextCursor },
        };
      },
    }),
  ];
}
