-- The audit trail and the evidence packs are append-only in the database itself: these triggers fire
-- for every role, owners and superusers included, so no code path (or psql session) can rewrite history.
CREATE OR REPLACE FUNCTION eucora_refuse_mutation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'table % is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER deployment_events_no_update_delete
  BEFORE UPDATE OR DELETE ON deployment_events
  FOR EACH ROW EXECUTE FUNCTION eucora_refuse_mutation();
--> statement-breakpoint
CREATE TRIGGER deployment_events_no_truncate
  BEFORE TRUNCATE ON deployment_events
  FOR EACH STATEMENT EXECUTE FUNCTION eucora_refuse_mutation();
--> statement-breakpoint
CREATE TRIGGER evidence_packs_no_update_delete
  BEFORE UPDATE OR DELETE ON evidence_packs
  FOR EACH ROW EXECUTE FUNCTION eucora_refuse_mutation();
--> statement-breakpoint
CREATE TRIGGER evidence_packs_no_truncate
  BEFORE TRUNCATE ON evidence_packs
  FOR EACH STATEMENT EXECUTE FUNCTION eucora_refuse_mutation();
