CREATE TABLE "audit_chain_heads" (
	"tenant_id" text PRIMARY KEY NOT NULL,
	"seq" bigint NOT NULL,
	"hash" text NOT NULL
);
--> statement-breakpoint
ALTER TABLE "deployment_events" ADD COLUMN "seq" bigint;--> statement-breakpoint
ALTER TABLE "deployment_events" ADD COLUMN "prev_hash" text;--> statement-breakpoint
ALTER TABLE "deployment_events" ADD COLUMN "hash" text;--> statement-breakpoint
-- Chains the events that existed before the hash chain (docs/audit.md), per tenant in id order, with the
-- same computation as policy/audit-chain.ts: hash = SHA-256(prev_hash ‖ canonical JSON of the event).
-- eucora_canonical_json writes jsonb as policy/canonical-json.ts writes the parsed value: keys sorted by
-- code point, no whitespace, numbers as JavaScript prints them (integers and decimals without trailing zeros).
CREATE FUNCTION eucora_canonical_json(value jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  out text;
  n numeric;
BEGIN
  CASE jsonb_typeof(value)
    WHEN 'object' THEN
      SELECT '{' || coalesce(string_agg(to_json(key)::text || ':' || eucora_canonical_json(member), ',' ORDER BY key COLLATE "C"), '') || '}'
        INTO out FROM jsonb_each(value) AS e(key, member);
      RETURN out;
    WHEN 'array' THEN
      SELECT '[' || coalesce(string_agg(eucora_canonical_json(member), ',' ORDER BY ord), '') || ']'
        INTO out FROM jsonb_array_elements(value) WITH ORDINALITY AS a(member, ord);
      RETURN out;
    WHEN 'number' THEN
      n := value::text::numeric;
      IF n = 0 THEN RETURN '0'; END IF;
      RETURN trim_scale(n)::text;
    ELSE
      RETURN value::text;
  END CASE;
END;
$$;
--> statement-breakpoint
ALTER TABLE "deployment_events" DISABLE TRIGGER "deployment_events_no_update_delete";
--> statement-breakpoint
DO $$
DECLARE
  event record;
  current_tenant text := NULL;
  position bigint := 0;
  previous text;
  digest text;
BEGIN
  FOR event IN SELECT * FROM deployment_events ORDER BY tenant_id, id LOOP
    IF current_tenant IS DISTINCT FROM event.tenant_id THEN
      current_tenant := event.tenant_id;
      position := 0;
      previous := repeat('0', 64);
    END IF;
    position := position + 1;
    digest := encode(sha256(convert_to(previous || '{'
      || '"actor":' || to_json(event.actor)::text
      || ',"correlation_id":' || to_json(event.correlation_id::text)::text
      || ',"event_key":' || to_json(event.event_key)::text
      || ',"event_type":' || to_json(event.event_type)::text
      || ',"intent_id":' || coalesce(to_json(event.intent_id::text)::text, 'null')
      || ',"occurred_at":' || to_json(to_char(event.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text
      || ',"payload":' || eucora_canonical_json(event.payload)
      || ',"request_id":' || coalesce(to_json(event.request_id)::text, 'null')
      || ',"seq":' || position::text
      || ',"tenant_id":' || to_json(event.tenant_id)::text
      || ',"v":1}', 'UTF8')), 'hex');
    UPDATE deployment_events SET seq = position, prev_hash = previous, hash = digest WHERE id = event.id;
    previous := digest;
  END LOOP;
  INSERT INTO audit_chain_heads (tenant_id, seq, hash)
    SELECT DISTINCT ON (tenant_id) tenant_id, seq, hash FROM deployment_events ORDER BY tenant_id, seq DESC;
END;
$$;
--> statement-breakpoint
ALTER TABLE "deployment_events" ENABLE TRIGGER "deployment_events_no_update_delete";
--> statement-breakpoint
DROP FUNCTION eucora_canonical_json(jsonb);
--> statement-breakpoint
ALTER TABLE "deployment_events" ALTER COLUMN "seq" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "deployment_events" ALTER COLUMN "prev_hash" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "deployment_events" ALTER COLUMN "hash" SET NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "deployment_events_tenant_seq_uq" ON "deployment_events" USING btree ("tenant_id","seq");
