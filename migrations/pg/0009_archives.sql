CREATE TABLE "archives" (
	"id" text PRIMARY KEY NOT NULL,
	"case_id" text NOT NULL,
	"department_id" text NOT NULL,
	"bag_name" text NOT NULL,
	"status" text NOT NULL,
	"files" bigint NOT NULL,
	"payload_octets" bigint NOT NULL,
	"manifest_sha256" text NOT NULL,
	"tagmanifest_sha256" text,
	"package_sha256" text,
	"package_size" bigint,
	"chunks" bigint,
	"cert_serial" text,
	"created_by" text NOT NULL,
	"created_at" bigint NOT NULL,
	"stored_at" bigint,
	"log_index" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "archives" ADD CONSTRAINT "archives_case_id_cases_id_fk" FOREIGN KEY ("case_id") REFERENCES "cases"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "archives_case_idx" ON "archives" USING btree ("case_id");--> statement-breakpoint
CREATE INDEX "archives_department_idx" ON "archives" USING btree ("department_id","created_at");--> statement-breakpoint
CREATE TABLE "archive_chunks" (
	"archive_id" text NOT NULL,
	"seq" bigint NOT NULL,
	"bytes" bytea NOT NULL,
	CONSTRAINT "archive_chunks_archive_id_seq_pk" PRIMARY KEY("archive_id","seq")
);
--> statement-breakpoint
ALTER TABLE "archive_chunks" ADD CONSTRAINT "archive_chunks_archive_id_archives_id_fk" FOREIGN KEY ("archive_id") REFERENCES "archives"("id") ON DELETE no action ON UPDATE no action;
