CREATE TABLE "cases" (
	"id" text PRIMARY KEY NOT NULL,
	"case_no" text NOT NULL,
	"owner" text NOT NULL,
	"department_id" text,
	"client_id" text NOT NULL,
	"channel" text NOT NULL,
	"matter_code" text,
	"title" text,
	"applicant_hash" text,
	"applicant_enc" text,
	"staff_enc" text,
	"status" text NOT NULL,
	"result" text,
	"opened_at" bigint NOT NULL,
	"closed_at" bigint,
	"log_index" bigint NOT NULL,
	"close_log_index" bigint
);
--> statement-breakpoint
CREATE UNIQUE INDEX "cases_case_no_idx" ON "cases" USING btree ("case_no");--> statement-breakpoint
CREATE INDEX "cases_owner_idx" ON "cases" USING btree ("owner","opened_at");--> statement-breakpoint
CREATE TABLE "case_items" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"case_id" text NOT NULL,
	"kind" text NOT NULL,
	"ref" text NOT NULL,
	"client_id" text NOT NULL,
	"verdict" text,
	"detail" text NOT NULL,
	"log_index" bigint NOT NULL,
	"at" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "case_items" ADD CONSTRAINT "case_items_case_id_cases_id_fk" FOREIGN KEY ("case_id") REFERENCES "cases"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "case_items_case_idx" ON "case_items" USING btree ("case_id","id");--> statement-breakpoint
CREATE TABLE "case_files" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"item_id" bigint NOT NULL,
	"name" text NOT NULL,
	"media_type" text NOT NULL,
	"sha256" text NOT NULL,
	"size" bigint NOT NULL,
	"bytes" bytea NOT NULL
);
--> statement-breakpoint
ALTER TABLE "case_files" ADD CONSTRAINT "case_files_item_id_case_items_id_fk" FOREIGN KEY ("item_id") REFERENCES "case_items"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "case_files_item_idx" ON "case_files" USING btree ("item_id");--> statement-breakpoint
ALTER TABLE "stamps" ADD COLUMN "log_index" bigint;--> statement-breakpoint
INSERT INTO "cases" ("id", "case_no", "owner", "department_id", "client_id", "channel", "status", "opened_at", "log_index")
SELECT 'counter:' || a."case_no", a."case_no",
	CASE WHEN c."department_id" IS NULL THEN 'counter:unbound' ELSE 'dept:' || c."department_id" END,
	c."department_id", a."client_id", 'counter', 'open', a."at", a."log_index"
FROM "case_attachments" a LEFT JOIN "clients" c ON c."id" = a."client_id"
WHERE a."id" = (SELECT min(b."id") FROM "case_attachments" b WHERE b."case_no" = a."case_no");--> statement-breakpoint
INSERT INTO "case_items" ("case_id", "kind", "ref", "client_id", "verdict", "detail", "log_index", "at")
SELECT 'counter:' || "case_no", 'licence', "identifier", "client_id", "verdict", '{}', "log_index", "at" FROM "case_attachments" ORDER BY "id";--> statement-breakpoint
DROP TABLE "case_attachments";
