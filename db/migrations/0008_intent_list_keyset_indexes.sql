CREATE INDEX "deployment_intents_tenant_status_created_idx" ON "deployment_intents" USING btree ("tenant_id","status","created_at","id");--> statement-breakpoint
CREATE INDEX "deployment_intents_tenant_created_id_idx" ON "deployment_intents" USING btree ("tenant_id","created_at","id");--> statement-breakpoint
DROP INDEX "deployment_intents_tenant_status_idx";--> statement-breakpoint
DROP INDEX "deployment_intents_tenant_created_idx";
