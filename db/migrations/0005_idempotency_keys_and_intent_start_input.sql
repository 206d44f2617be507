CREATE TABLE "idempotency_keys" (
	"tenant_id" text NOT NULL,
	"key" text NOT NULL,
	"operation" text NOT NULL,
	"request_hash" text NOT NULL,
	"effect_id" uuid NOT NULL,
	"state" text NOT NULL,
	"holder" uuid NOT NULL,
	"locked_until" timestamp (3) with time zone NOT NULL,
	"response_status" integer,
	"response_headers" jsonb,
	"response_body" jsonb,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "idempotency_keys_pk" PRIMARY KEY("tenant_id","key"),
	CONSTRAINT "idempotency_keys_completed_ck" CHECK (("idempotency_keys"."state" = 'COMPLETED') = ("idempotency_keys"."response_status" is not null))
);
--> statement-breakpoint
DROP INDEX "deployment_intents_tenant_idempotency_uq";--> statement-breakpoint
ALTER TABLE "deployment_intents" ADD COLUMN "target_device_count" integer;--> statement-breakpoint
ALTER TABLE "deployment_intents" ADD COLUMN "rollout_policy" jsonb;--> statement-breakpoint
CREATE INDEX "idempotency_keys_expires_idx" ON "idempotency_keys" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "deployment_intents_status_idx" ON "deployment_intents" USING btree ("status","id");--> statement-breakpoint
ALTER TABLE "deployment_intents" DROP COLUMN "request_hash";