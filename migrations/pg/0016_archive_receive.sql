CREATE TABLE "archive_receipts" (
	"id" text PRIMARY KEY NOT NULL,
	"department_id" text NOT NULL,
	"bag_name" text NOT NULL,
	"case_no" text,
	"source_organization" text,
	"source_archive_id" text,
	"status" text NOT NULL,
	"package_sha256" text NOT NULL,
	"package_size" bigint NOT NULL,
	"tagmanifest_sha256" text NOT NULL,
	"chunks" bigint,
	"report" text NOT NULL,
	"report_sha256" text NOT NULL,
	"received_by" text NOT NULL,
	"received_at" bigint NOT NULL,
	"log_index" bigint
);
--> statement-breakpoint
CREATE UNIQUE INDEX "archive_receipts_tagmanifest_idx" ON "archive_receipts" USING btree ("department_id","tagmanifest_sha256");--> statement-breakpoint
CREATE INDEX "archive_receipts_received_idx" ON "archive_receipts" USING btree ("received_at");--> statement-breakpoint
CREATE TABLE "archive_receipt_chunks" (
	"receipt_id" text NOT NULL,
	"seq" bigint NOT NULL,
	"bytes" bytea NOT NULL,
	CONSTRAINT "archive_receipt_chunks_receipt_id_seq_pk" PRIMARY KEY("receipt_id","seq")
);
--> statement-breakpoint
ALTER TABLE "archive_receipt_chunks" ADD CONSTRAINT "archive_receipt_chunks_receipt_id_archive_receipts_id_fk" FOREIGN KEY ("receipt_id") REFERENCES "archive_receipts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "archives" ADD COLUMN "released_at" bigint;--> statement-breakpoint
UPDATE "archives" SET "released_at" = "stored_at" WHERE "status" = 'stored';
