CREATE TABLE "signing_seal_jobs" (
	"request_id" text PRIMARY KEY NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_at" bigint NOT NULL,
	"last_error" text,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "signing_seal_jobs" ADD CONSTRAINT "signing_seal_jobs_request_id_signing_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "signing_requests"("id") ON DELETE no action ON UPDATE no action;
--> statement-breakpoint
CREATE INDEX "signing_seal_jobs_due_idx" ON "signing_seal_jobs" USING btree ("next_at");
--> statement-breakpoint
INSERT INTO "signing_seal_jobs" ("request_id", "attempts", "next_at", "last_error", "created_at")
SELECT r."id", 0, COALESCE(r."completed_at", r."updated_at"), NULL, COALESCE(r."completed_at", r."updated_at") FROM "signing_requests" r
WHERE r."status" = 'completed' AND NOT EXISTS (SELECT 1 FROM "signing_documents" d WHERE d."request_id" = r."id" AND d."kind" = 'completed');
