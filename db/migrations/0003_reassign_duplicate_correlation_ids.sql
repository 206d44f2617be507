-- Correlation ids become server-owned and unique per tenant (the unique index follows in 0004). Until now a
-- client's X-Correlation-ID became the intent's correlation id, so a tenant may hold several intents with one
-- id. Every intent of such a group gets a fresh id, the oldest included: a connector report that still names
-- the shared id then matches no ring deployment (404, the connector polls again and sees the new ids) instead
-- of being guessed onto one of the intents. Running workflows keep the shared id in their input and memo; the
-- activities take the correlation id from the intent row, so their new rows and events carry the fresh one.
CREATE TEMPORARY TABLE eucora_correlation_reassignments AS
SELECT id AS intent_id, tenant_id, correlation_id AS previous_correlation_id,
       gen_random_uuid() AS correlation_id
FROM deployment_intents d
WHERE EXISTS (
  SELECT 1 FROM deployment_intents other
  WHERE other.tenant_id = d.tenant_id AND other.correlation_id = d.correlation_id AND other.id <> d.id
);
--> statement-breakpoint
UPDATE deployment_intents d
SET correlation_id = r.correlation_id
FROM eucora_correlation_reassignments r
WHERE d.id = r.intent_id;
--> statement-breakpoint
-- Ring deployments carry their intent's correlation id (connectors report by it).
UPDATE ring_deployments g
SET correlation_id = d.correlation_id
FROM deployment_intents d
WHERE g.intent_id = d.id AND g.correlation_id <> d.correlation_id;
--> statement-breakpoint
-- The audit trail is append-only: earlier events keep the id they were written with, and one event per intent
-- records the change (the key is unique per intent, so a re-run adds nothing).
INSERT INTO deployment_events (tenant_id, event_key, event_type, intent_id, correlation_id, actor, payload)
SELECT tenant_id, intent_id || ':correlation-id-reassigned', 'CORRELATION_ID_REASSIGNED', intent_id,
       correlation_id, 'system:migration',
       jsonb_build_object(
         'previousCorrelationId', previous_correlation_id,
         'correlationId', correlation_id,
         'reason', 'another intent of the tenant had the same correlation id'
       )
FROM eucora_correlation_reassignments
ON CONFLICT DO NOTHING;
--> statement-breakpoint
DROP TABLE eucora_correlation_reassignments;
