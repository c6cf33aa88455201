CREATE TABLE "signing_documents" (
	"request_id" text NOT NULL,
	"seq" bigint NOT NULL,
	"sha256" text NOT NULL,
	"kind" text NOT NULL,
	"bytes" "bytea" NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "signing_documents_request_id_seq_pk" PRIMARY KEY("request_id","seq")
);
--> statement-breakpoint
CREATE TABLE "signing_participants" (
	"request_id" text NOT NULL,
	"idx" bigint NOT NULL,
	"group_no" bigint NOT NULL,
	"holder_hash" text NOT NULL,
	"holder_code_enc" text NOT NULL,
	"code_type" text NOT NULL,
	"name_enc" text NOT NULL,
	"role" text NOT NULL,
	"acting_for" text,
	"placement" text,
	"status" text NOT NULL,
	"viewed_at" bigint,
	"acted_at" bigint,
	"decline_reason" text,
	"method" text,
	"cert_serial" text,
	"log_index" bigint,
	CONSTRAINT "signing_participants_request_id_idx_pk" PRIMARY KEY("request_id","idx")
);
--> statement-breakpoint
CREATE TABLE "signing_requests" (
	"id" text PRIMARY KEY NOT NULL,
	"title" text NOT NULL,
	"matter_code" text,
	"case_ref" text,
	"initiator_client_id" text NOT NULL,
	"initiator_role" text NOT NULL,
	"department_id" text,
	"status" text NOT NULL,
	"current_group" bigint NOT NULL,
	"group_count" bigint NOT NULL,
	"expires_at" bigint NOT NULL,
	"document_sha256" text,
	"current_sha256" text,
	"page_count" bigint,
	"status_reason" text,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	"completed_at" bigint
);
--> statement-breakpoint
ALTER TABLE "signing_documents" ADD CONSTRAINT "signing_documents_request_id_signing_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "signing_requests"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "signing_participants" ADD CONSTRAINT "signing_participants_request_id_signing_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "signing_requests"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "signing_documents_sha_idx" ON "signing_documents" USING btree ("sha256");--> statement-breakpoint
CREATE INDEX "signing_participants_holder_idx" ON "signing_participants" USING btree ("holder_hash","status");--> statement-breakpoint
CREATE INDEX "signing_requests_initiator_idx" ON "signing_requests" USING btree ("initiator_client_id","created_at");--> statement-breakpoint
CREATE INDEX "signing_requests_department_idx" ON "signing_requests" USING btree ("department_id","created_at");--> statement-breakpoint
CREATE INDEX "signing_requests_open_idx" ON "signing_requests" USING btree ("status","expires_at");