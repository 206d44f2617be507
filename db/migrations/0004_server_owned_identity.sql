DROP INDEX "deployment_intents_correlation_idx";--> statement-breakpoint
ALTER TABLE "deployment_events" ADD COLUMN "request_id" text;--> statement-breakpoint
ALTER TABLE "ring_deployments" ADD COLUMN "final_reported_at" timestamp (3) with time zone;--> statement-breakpoint
CREATE INDEX "deployment_events_tenant_request_idx" ON "deployment_events" USING btree ("tenant_id","request_id","id") WHERE "deployment_events"."request_id" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "deployment_intents_tenant_correlation_uq" ON "deployment_intents" USING btree ("tenant_id","correlation_id");