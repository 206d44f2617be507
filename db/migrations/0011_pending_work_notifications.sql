-- Long-polling connectors (GET /connectors/pending-work?wait=…) wait on this notification: every new ring
-- deployment or rollback is announced on `eucora_pending_work` when its transaction commits, to every API
-- process that listens (db/pending-work-signals.ts). The payload names the tenant and the connector type,
-- nothing else. A retried attempt updates its row (ON CONFLICT DO UPDATE): no new work, no announcement.
CREATE OR REPLACE FUNCTION eucora_announce_pending_work() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify(
    'eucora_pending_work',
    json_build_object('tenant_id', NEW.tenant_id, 'connector_type', NEW.connector_type)::text
  );
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER ring_deployments_announce_pending
  AFTER INSERT ON ring_deployments
  FOR EACH ROW WHEN (NEW.status IN ('PENDING', 'IN_PROGRESS'))
  EXECUTE FUNCTION eucora_announce_pending_work();
