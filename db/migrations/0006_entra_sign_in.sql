CREATE TABLE "tenants" (
	"id" text PRIMARY KEY NOT NULL,
	"entra_tenant_id" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "connector_credentials" ADD COLUMN "expires_at" timestamp (3) with time zone;--> statement-breakpoint
CREATE UNIQUE INDEX "tenants_entra_tenant_uq" ON "tenants" USING btree ("entra_tenant_id");--> statement-breakpoint
-- Hand-written: every tenant that already holds data gets its row, without a directory link (sign-in
-- configuration adds the link at start-up).
INSERT INTO "tenants" ("id")
SELECT "tenant_id" FROM "users"
UNION SELECT "tenant_id" FROM "deployment_intents"
UNION SELECT "tenant_id" FROM "connector_credentials"
UNION SELECT "tenant_id" FROM "risk_models"
ON CONFLICT ("id") DO NOTHING;
