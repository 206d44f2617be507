ALTER TABLE "cab_approvals" ADD COLUMN "required_approvals" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "cab_approvals" ADD COLUMN "approvals" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "cab_approvals" ADD COLUMN "evidence_hash" text;--> statement-breakpoint
ALTER TABLE "cab_approvals" ADD COLUMN "risk_model_version" text;