CREATE TABLE "siem_outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"record_id" text NOT NULL,
	"event_id" bigint,
	"record" jsonb NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"last_error" text,
	"sent_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE UNIQUE INDEX "siem_outbox_record_uq" ON "siem_outbox" USING btree ("tenant_id","record_id");--> statement-breakpoint
CREATE INDEX "siem_outbox_unsent_idx" ON "siem_outbox" USING btree ("tenant_id","id") WHERE "siem_outbox"."sent_at" is null;