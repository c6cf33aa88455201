CREATE TABLE "access_log" (
	"id" text PRIMARY KEY NOT NULL,
	"at" bigint NOT NULL,
	"client_id" text NOT NULL,
	"matter_code" text NOT NULL,
	"holder_hash" text NOT NULL,
	"identifiers" text NOT NULL,
	"cause_enc" text NOT NULL,
	"basis" text NOT NULL,
	"consent_id" text,
	"log_index" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "case_attachments" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"case_no" text NOT NULL,
	"identifier" text NOT NULL,
	"client_id" text NOT NULL,
	"verdict" text NOT NULL,
	"log_index" bigint NOT NULL,
	"at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "certificates" (
	"serial" text PRIMARY KEY NOT NULL,
	"profile" text NOT NULL,
	"subject" text NOT NULL,
	"issuer_serial" text NOT NULL,
	"department_id" text,
	"key_id" text,
	"der" "bytea" NOT NULL,
	"sha256" text NOT NULL,
	"not_before" bigint NOT NULL,
	"not_after" bigint NOT NULL,
	"status" text NOT NULL,
	"revoked_at" bigint,
	"revocation_reason" text,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "clients" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"role" text NOT NULL,
	"department_id" text,
	"matters" text NOT NULL,
	"scopes" text NOT NULL,
	"secret_hash" text NOT NULL,
	"status" text NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "consents" (
	"id" text PRIMARY KEY NOT NULL,
	"holder_hash" text NOT NULL,
	"client_id" text NOT NULL,
	"matter_code" text NOT NULL,
	"granted_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL,
	"revoked_at" bigint
);
--> statement-breakpoint
CREATE TABLE "crls" (
	"issuer_serial" text NOT NULL,
	"number" bigint NOT NULL,
	"this_update" bigint NOT NULL,
	"next_update" bigint NOT NULL,
	"der" "bytea" NOT NULL,
	"entries_sha256" text NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "crls_issuer_serial_number_pk" PRIMARY KEY("issuer_serial","number")
);
--> statement-breakpoint
CREATE TABLE "departments" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"uscc" text NOT NULL,
	"region_code" text NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "departments_uscc_unique" UNIQUE("uscc")
);
--> statement-breakpoint
CREATE TABLE "document_blobs" (
	"sha256" text PRIMARY KEY NOT NULL,
	"bytes" "bytea" NOT NULL,
	"size" bigint NOT NULL,
	"created_at" bigint NOT NULL,
	"encrypted" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "documents" (
	"key" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"identifier" text NOT NULL,
	"sha256" text NOT NULL,
	"stamp_id" text NOT NULL,
	"created_at" bigint NOT NULL,
	"licence_status" text,
	"expires_at" bigint
);
--> statement-breakpoint
CREATE TABLE "idempotency_keys" (
	"client_id" text NOT NULL,
	"key" text NOT NULL,
	"request_hash" text NOT NULL,
	"identifier" text NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "idempotency_keys_client_id_key_pk" PRIMARY KEY("client_id","key")
);
--> statement-breakpoint
CREATE TABLE "issuer_grants" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"type_code" text NOT NULL,
	"department_id" text NOT NULL,
	"valid_from" bigint NOT NULL,
	"valid_to" bigint
);
--> statement-breakpoint
CREATE TABLE "keys" (
	"id" text PRIMARY KEY NOT NULL,
	"alg" text NOT NULL,
	"label" text NOT NULL,
	"purpose" text NOT NULL,
	"department_id" text,
	"public_key_spki" "bytea" NOT NULL,
	"wrapped_private_key" "bytea" NOT NULL,
	"status" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "licence_counters" (
	"scope" text PRIMARY KEY NOT NULL,
	"next" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "licence_events" (
	"identifier" text NOT NULL,
	"seq" bigint NOT NULL,
	"action" text NOT NULL,
	"from_status" text NOT NULL,
	"to_status" text NOT NULL,
	"reason" text,
	"actor" text NOT NULL,
	"at" bigint NOT NULL,
	"statement" text NOT NULL,
	"log_index" bigint NOT NULL,
	CONSTRAINT "licence_events_identifier_seq_pk" PRIMARY KEY("identifier","seq")
);
--> statement-breakpoint
CREATE TABLE "licence_types" (
	"code" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"holder_kind" text NOT NULL,
	"holder_code_types" text NOT NULL,
	"fields" text NOT NULL,
	"validity_days" bigint,
	"issuers" text NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "licences" (
	"identifier" text PRIMARY KEY NOT NULL,
	"lineage" text NOT NULL,
	"version" text NOT NULL,
	"type_code" text NOT NULL,
	"department_id" text NOT NULL,
	"holder_hash" text NOT NULL,
	"holder_code_type" text NOT NULL,
	"payload_enc" text NOT NULL,
	"signature" text NOT NULL,
	"cert_serial" text NOT NULL,
	"jws_sha256" text NOT NULL,
	"valid_from" text NOT NULL,
	"valid_until" text,
	"status" text NOT NULL,
	"status_at" bigint NOT NULL,
	"status_index" bigint NOT NULL,
	"supersedes" text,
	"superseded_by" text,
	"log_index" bigint NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "matters" (
	"code" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"licence_types" text NOT NULL,
	"consent_exempt" bigint NOT NULL,
	"exempt_basis" text,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "registered_keys" (
	"sha256" text PRIMARY KEY NOT NULL,
	"role" text NOT NULL,
	"log_index" bigint NOT NULL,
	"first_seen" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "scans" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" bigint NOT NULL,
	"kind" text NOT NULL,
	"identifier" text,
	"outcome" text NOT NULL,
	"client_id" text
);
--> statement-breakpoint
CREATE TABLE "seal_events" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"seal_id" text NOT NULL,
	"status" text NOT NULL,
	"reason" text,
	"at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "seals" (
	"id" text PRIMARY KEY NOT NULL,
	"department_id" text NOT NULL,
	"name" text NOT NULL,
	"type" text NOT NULL,
	"arc_text" text NOT NULL,
	"type_text" text NOT NULL,
	"diameter_mm" double precision NOT NULL,
	"cert_serial" text NOT NULL,
	"key_id" text NOT NULL,
	"valid_from" bigint NOT NULL,
	"valid_to" bigint NOT NULL,
	"status" text NOT NULL,
	"status_reason" text,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "stamps" (
	"id" text PRIMARY KEY NOT NULL,
	"seal_id" text NOT NULL,
	"department_id" text NOT NULL,
	"cert_serial" text NOT NULL,
	"signer" text NOT NULL,
	"document_sha256" text NOT NULL,
	"result_sha256" text NOT NULL,
	"page_index" bigint NOT NULL,
	"field_name" text NOT NULL,
	"stamped_at" bigint NOT NULL,
	"timestamp_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "store_coord" (
	"id" integer PRIMARY KEY NOT NULL,
	"tx" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "store_leases" (
	"name" text PRIMARY KEY NOT NULL,
	"holder" text NOT NULL,
	"until" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tlog_checkpoints" (
	"size" bigint PRIMARY KEY NOT NULL,
	"root" "bytea" NOT NULL,
	"note" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tlog_leaves" (
	"idx" bigint PRIMARY KEY NOT NULL,
	"leaf_hash" "bytea" NOT NULL,
	"data" text NOT NULL,
	"type" text NOT NULL,
	"subject_hash" "bytea" NOT NULL,
	"created_at" bigint NOT NULL,
	"leaf_key" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tlog_nodes" (
	"id" bigint PRIMARY KEY NOT NULL,
	"hash" "bytea" NOT NULL
);
--> statement-breakpoint
ALTER TABLE "certificates" ADD CONSTRAINT "certificates_key_id_keys_id_fk" FOREIGN KEY ("key_id") REFERENCES "keys"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "clients" ADD CONSTRAINT "clients_department_id_departments_id_fk" FOREIGN KEY ("department_id") REFERENCES "departments"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "documents" ADD CONSTRAINT "documents_sha256_document_blobs_sha256_fk" FOREIGN KEY ("sha256") REFERENCES "document_blobs"("sha256") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "issuer_grants" ADD CONSTRAINT "issuer_grants_type_code_licence_types_code_fk" FOREIGN KEY ("type_code") REFERENCES "licence_types"("code") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "issuer_grants" ADD CONSTRAINT "issuer_grants_department_id_departments_id_fk" FOREIGN KEY ("department_id") REFERENCES "departments"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "seal_events" ADD CONSTRAINT "seal_events_seal_id_seals_id_fk" FOREIGN KEY ("seal_id") REFERENCES "seals"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "stamps" ADD CONSTRAINT "stamps_seal_id_seals_id_fk" FOREIGN KEY ("seal_id") REFERENCES "seals"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "access_holder_key_idx" ON "access_log" USING btree (substr("holder_hash", 1, 16),"at");--> statement-breakpoint
CREATE INDEX "case_attachments_case_idx" ON "case_attachments" USING btree ("case_no");--> statement-breakpoint
CREATE INDEX "certificates_department_idx" ON "certificates" USING btree ("department_id");--> statement-breakpoint
CREATE INDEX "certificates_key_idx" ON "certificates" USING btree ("key_id");--> statement-breakpoint
CREATE INDEX "certificates_revoked_idx" ON "certificates" USING btree ("issuer_serial","status");--> statement-breakpoint
CREATE INDEX "clients_department_idx" ON "clients" USING btree ("department_id");--> statement-breakpoint
CREATE INDEX "consents_lookup_idx" ON "consents" USING btree ("holder_hash","client_id","matter_code");--> statement-breakpoint
CREATE INDEX "document_blobs_clear_idx" ON "document_blobs" USING btree ("sha256") WHERE "document_blobs"."encrypted" = 0;--> statement-breakpoint
CREATE INDEX "documents_identifier_idx" ON "documents" USING btree ("identifier");--> statement-breakpoint
CREATE INDEX "documents_expires_idx" ON "documents" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "issuer_grants_type_idx" ON "issuer_grants" USING btree ("type_code","department_id");--> statement-breakpoint
CREATE UNIQUE INDEX "issuer_grants_open_idx" ON "issuer_grants" USING btree ("type_code","department_id") WHERE "issuer_grants"."valid_to" IS NULL;--> statement-breakpoint
CREATE INDEX "keys_department_idx" ON "keys" USING btree ("department_id");--> statement-breakpoint
CREATE INDEX "licences_holder_key_idx" ON "licences" USING btree (substr("holder_hash", 1, 16));--> statement-breakpoint
CREATE INDEX "licences_lineage_idx" ON "licences" USING btree ("lineage");--> statement-breakpoint
CREATE UNIQUE INDEX "licences_status_idx" ON "licences" USING btree ("department_id","status_index");--> statement-breakpoint
CREATE INDEX "licences_expiry_idx" ON "licences" USING btree ("status","valid_until");--> statement-breakpoint
CREATE INDEX "scans_identifier_idx" ON "scans" USING btree ("identifier","at");--> statement-breakpoint
CREATE INDEX "seal_events_seal_idx" ON "seal_events" USING btree ("seal_id","at");--> statement-breakpoint
CREATE INDEX "seals_department_idx" ON "seals" USING btree ("department_id");--> statement-breakpoint
CREATE INDEX "seals_cert_idx" ON "seals" USING btree ("cert_serial");--> statement-breakpoint
CREATE INDEX "stamps_seal_idx" ON "stamps" USING btree ("seal_id","id");--> statement-breakpoint
CREATE INDEX "stamps_result_idx" ON "stamps" USING btree ("result_sha256");--> statement-breakpoint
CREATE INDEX "tlog_leaves_leaf_key_idx" ON "tlog_leaves" USING btree ("leaf_key");