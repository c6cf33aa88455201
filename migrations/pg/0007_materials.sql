CREATE TABLE "material_chunks" (
	"identifier" text NOT NULL,
	"seq" bigint NOT NULL,
	"bytes" "bytea" NOT NULL,
	CONSTRAINT "material_chunks_identifier_seq_pk" PRIMARY KEY("identifier","seq")
);
--> statement-breakpoint
CREATE TABLE "material_types" (
	"code" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"matters" text NOT NULL,
	"media_types" text NOT NULL,
	"max_bytes" bigint NOT NULL,
	"expires" bigint NOT NULL,
	"validity_days" bigint,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "materials" (
	"identifier" text PRIMARY KEY NOT NULL,
	"lineage" text NOT NULL,
	"version" text NOT NULL,
	"type_code" text NOT NULL,
	"holder_hash" text NOT NULL,
	"holder_code_type" text NOT NULL,
	"holder_enc" text,
	"name_enc" text,
	"media_type" text NOT NULL,
	"size" bigint NOT NULL,
	"sha256" text NOT NULL,
	"sm3" text NOT NULL,
	"source" text NOT NULL,
	"registrant" text NOT NULL,
	"matter_code" text,
	"department_id" text,
	"attestation" text,
	"status" text NOT NULL,
	"status_at" bigint NOT NULL,
	"status_reason" text,
	"status_log_index" bigint,
	"expires_at" bigint,
	"supersedes" text,
	"superseded_by" text,
	"derived_from" text,
	"derivation" text,
	"dek_enc" text NOT NULL,
	"chunks" bigint NOT NULL,
	"log_index" bigint NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE INDEX "materials_holder_idx" ON "materials" USING btree ("holder_hash","type_code");--> statement-breakpoint
CREATE INDEX "materials_sha256_idx" ON "materials" USING btree ("sha256");--> statement-breakpoint
CREATE INDEX "materials_lineage_idx" ON "materials" USING btree ("lineage");