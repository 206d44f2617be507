CREATE TABLE "cab_approvals" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" text NOT NULL,
	"intent_id" uuid NOT NULL,
	"state" text NOT NULL,
	"requested_at" timestamp (3) with time zone NOT NULL,
	"deadline_at" timestamp (3) with time zone NOT NULL,
	"approver_id" text,
	"comments" text,
	"conditions" jsonb,
	"decided_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE TABLE "connector_credentials" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" text NOT NULL,
	"connector_type" text NOT NULL,
	"name" text NOT NULL,
	"key_hash" text NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp (3) with time zone,
	"revoked_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE TABLE "deployment_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"event_key" text NOT NULL,
	"event_type" text NOT NULL,
	"intent_id" uuid,
	"correlation_id" uuid NOT NULL,
	"actor" text NOT NULL,
	"payload" jsonb NOT NULL,
	"occurred_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "deployment_intents" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"app_name" text NOT NULL,
	"version" text NOT NULL,
	"target_ring" text NOT NULL,
	"connectors" jsonb NOT NULL,
	"evidence_pack_id" uuid NOT NULL,
	"submitter_id" text NOT NULL,
	"status" text NOT NULL,
	"current_ring" text,
	"risk_score" integer,
	"risk_model_version" text,
	"requires_cab" boolean,
	"correlation_id" uuid NOT NULL,
	"workflow_id" text NOT NULL,
	"idempotency_key" text,
	"request_hash" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "evidence_packs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" text NOT NULL,
	"content_hash" text NOT NULL,
	"content" jsonb NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "evidence_packs_hash_format" CHECK ("evidence_packs"."content_hash" ~ '^[0-9a-f]{64}$')
);
--> statement-breakpoint
CREATE TABLE "ring_deployments" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" text NOT NULL,
	"intent_id" uuid NOT NULL,
	"correlation_id" uuid NOT NULL,
	"ring" text NOT NULL,
	"kind" text NOT NULL,
	"connector_type" text NOT NULL,
	"platforms" text[] NOT NULL,
	"status" text NOT NULL,
	"workflow_id" text NOT NULL,
	"activity_id" text NOT NULL,
	"attempt" integer DEFAULT 1 NOT NULL,
	"app_name" text NOT NULL,
	"app_version" text NOT NULL,
	"connector_object_id" text,
	"success_count" integer DEFAULT 0 NOT NULL,
	"failure_count" integer DEFAULT 0 NOT NULL,
	"deadline_at" timestamp (3) with time zone NOT NULL,
	"started_at" timestamp (3) with time zone NOT NULL,
	"last_report_at" timestamp (3) with time zone,
	"completed_at" timestamp (3) with time zone,
	"outcome" text,
	"gate_verdict" jsonb,
	CONSTRAINT "ring_deployments_counts" CHECK ("ring_deployments"."success_count" >= 0 and "ring_deployments"."failure_count" >= 0)
);
--> statement-breakpoint
CREATE TABLE "risk_assessments" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" text NOT NULL,
	"intent_id" uuid NOT NULL,
	"model_version" text NOT NULL,
	"score" integer NOT NULL,
	"threshold" integer NOT NULL,
	"requires_cab" boolean NOT NULL,
	"auto_approval_blockers" text[] DEFAULT '{}'::text[] NOT NULL,
	"factors" jsonb NOT NULL,
	"evidence_hash" text NOT NULL,
	"assessed_at" timestamp (3) with time zone NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "risk_assessments_score_range" CHECK ("risk_assessments"."score" between 0 and 100)
);
--> statement-breakpoint
CREATE TABLE "risk_models" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" text NOT NULL,
	"version" text NOT NULL,
	"definition" jsonb NOT NULL,
	"active" boolean DEFAULT false NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"activated_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" text NOT NULL,
	"subject" text NOT NULL,
	"display_name" text NOT NULL,
	"email" text,
	"roles" text[] DEFAULT '{}'::text[] NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"last_seen_at" timestamp (3) with time zone
);
--> statement-breakpoint
ALTER TABLE "cab_approvals" ADD CONSTRAINT "cab_approvals_intent_id_deployment_intents_id_fk" FOREIGN KEY ("intent_id") REFERENCES "public"."deployment_intents"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deployment_intents" ADD CONSTRAINT "deployment_intents_evidence_pack_id_evidence_packs_id_fk" FOREIGN KEY ("evidence_pack_id") REFERENCES "public"."evidence_packs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ring_deployments" ADD CONSTRAINT "ring_deployments_intent_id_deployment_intents_id_fk" FOREIGN KEY ("intent_id") REFERENCES "public"."deployment_intents"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "risk_assessments" ADD CONSTRAINT "risk_assessments_intent_id_deployment_intents_id_fk" FOREIGN KEY ("intent_id") REFERENCES "public"."deployment_intents"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "cab_approvals_intent_uq" ON "cab_approvals" USING btree ("intent_id");--> statement-breakpoint
CREATE INDEX "cab_approvals_tenant_state_idx" ON "cab_approvals" USING btree ("tenant_id","state");--> statement-breakpoint
CREATE UNIQUE INDEX "connector_credentials_key_hash_uq" ON "connector_credentials" USING btree ("key_hash");--> statement-breakpoint
CREATE UNIQUE INDEX "connector_credentials_tenant_name_uq" ON "connector_credentials" USING btree ("tenant_id","name");--> statement-breakpoint
CREATE UNIQUE INDEX "deployment_events_key_uq" ON "deployment_events" USING btree ("tenant_id","event_key");--> statement-breakpoint
CREATE INDEX "deployment_events_tenant_intent_idx" ON "deployment_events" USING btree ("tenant_id","intent_id","id");--> statement-breakpoint
CREATE INDEX "deployment_events_tenant_correlation_idx" ON "deployment_events" USING btree ("tenant_id","correlation_id","id");--> statement-breakpoint
CREATE INDEX "deployment_events_tenant_type_idx" ON "deployment_events" USING btree ("tenant_id","event_type","id");--> statement-breakpoint
CREATE UNIQUE INDEX "deployment_intents_tenant_idempotency_uq" ON "deployment_intents" USING btree ("tenant_id","idempotency_key");--> statement-breakpoint
CREATE UNIQUE INDEX "deployment_intents_workflow_uq" ON "deployment_intents" USING btree ("workflow_id");--> statement-breakpoint
CREATE INDEX "deployment_intents_tenant_status_idx" ON "deployment_intents" USING btree ("tenant_id","status");--> statement-breakpoint
CREATE INDEX "deployment_intents_tenant_created_idx" ON "deployment_intents" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE INDEX "deployment_intents_correlation_idx" ON "deployment_intents" USING btree ("correlation_id");--> statement-breakpoint
CREATE UNIQUE INDEX "evidence_packs_tenant_hash_uq" ON "evidence_packs" USING btree ("tenant_id","content_hash");--> statement-breakpoint
CREATE UNIQUE INDEX "ring_deployments_intent_ring_kind_connector_uq" ON "ring_deployments" USING btree ("intent_id","ring","kind","connector_type");--> statement-breakpoint
CREATE INDEX "ring_deployments_tenant_connector_status_idx" ON "ring_deployments" USING btree ("tenant_id","connector_type","status");--> statement-breakpoint
CREATE INDEX "ring_deployments_correlation_idx" ON "ring_deployments" USING btree ("correlation_id");--> statement-breakpoint
CREATE UNIQUE INDEX "risk_assessments_intent_uq" ON "risk_assessments" USING btree ("intent_id");--> statement-breakpoint
CREATE UNIQUE INDEX "risk_models_tenant_version_uq" ON "risk_models" USING btree ("tenant_id","version");--> statement-breakpoint
CREATE UNIQUE INDEX "risk_models_one_active_uq" ON "risk_models" USING btree ("tenant_id") WHERE "risk_models"."active";--> statement-breakpoint
CREATE UNIQUE INDEX "users_tenant_subject_uq" ON "users" USING btree ("tenant_id","subject");