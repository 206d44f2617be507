import { endpoint, roles } from '../endpoint';
import type { Endpoint } from '../endpoint';
import { auditEventBody, requireActor } from '../schemas/common';
import { problems } from '../problem';
import {
  auditEventPageSchema,
  chainVerificationSchema,
  listEventsQuery,
  verifyEventsQuery,
} from '../schemas/events';
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
    endpoint({
      operationId: 'verifyAuditChain',
      method: 'get',
      path: '/events/verify',
      summary: 'Recompute the tenant’s audit hash chain',
      description:
        'Walks the caller’s tenant’s events in chain order (`seq`), recomputing each ' +
        '`hash = SHA-256(prev_hash ‖ canonical JSON of the event)` (docs/audit.md), from the first event or ' +
        'from `from_event_id`, and answers how many links hold and the first broken one: an edited row ' +
        '(HASH_MISMATCH), a removed or inserted row (PREV_HASH_MISMATCH, SEQUENCE_GAP), or a chain that ' +
        'stops short of its recorded head (HEAD_MISMATCH).',
      tags: ['Audit'],
      access: roles('auditor'),
      request: { query: verifyEventsQuery },
      responses: { 200: { description: 'The verification', schema: chainVerificationSchema } },
      errors: [404],
      async handle({ actor, query }) {
        const store = deps.store.forTenant(requireActor(actor).tenantId);
        const result = await store.events.verifyChain(query.from_event_id);
        if (result === undefined) throw problems.notFound(`audit event ${String(query.from_event_id)}`);
        return {
          status: 200,
          body: {
            intact: result.brokenLink === null,
            from_event_id: result.fromEventId,
            verified: result.verified,
            last_verified:
              result.last === null
                ? null
                : { event_id: result.last.eventId, seq: result.last.seq, hash: result.last.hash },
            head: result.head,
            first_broken_link:
              result.brokenLink === null
                ? null
                : {
                    event_id: result.brokenLink.eventId,
                    seq: result.brokenLink.seq,
                    reason: result.brokenLink.reason,
                  },
          },
        };
      },
    }),
  ];
}
