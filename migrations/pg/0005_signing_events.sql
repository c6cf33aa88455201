CREATE TABLE "signing_events" (
	"request_id" text NOT NULL,
	"log_index" bigint NOT NULL,
	"type" text NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "signing_events_request_id_log_index_pk" PRIMARY KEY("request_id","log_index")
);
--> statement-breakpoint
ALTER TABLE "signing_events" ADD CONSTRAINT "signing_events_request_id_signing_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "signing_requests"("id") ON DELETE no action ON UPDATE no action;