CREATE TABLE "passkeys" (
	"id" text PRIMARY KEY NOT NULL,
	"holder_hash" text NOT NULL,
	"public_key" "bytea" NOT NULL,
	"counter" bigint NOT NULL,
	"transports" text,
	"created_at" bigint NOT NULL,
	"last_used_at" bigint
);
--> statement-breakpoint
CREATE TABLE "personal_keys" (
	"holder_hash" text PRIMARY KEY NOT NULL,
	"key_id" text NOT NULL,
	"cert_serial" text NOT NULL,
	"pseudonym" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "signing_prepared" (
	"request_id" text NOT NULL,
	"idx" bigint NOT NULL,
	"base_seq" bigint NOT NULL,
	"bytes" "bytea" NOT NULL,
	"state" text NOT NULL,
	"created_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL,
	CONSTRAINT "signing_prepared_request_id_idx_pk" PRIMARY KEY("request_id","idx")
);
--> statement-breakpoint
CREATE TABLE "webauthn_challenges" (
	"challenge" text PRIMARY KEY NOT NULL,
	"holder_hash" text NOT NULL,
	"purpose" text NOT NULL,
	"request_id" text,
	"participant_idx" bigint,
	"document_sha256" text,
	"expires_at" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "signing_prepared" ADD CONSTRAINT "signing_prepared_request_id_signing_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "signing_requests"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "passkeys_holder_idx" ON "passkeys" USING btree ("holder_hash");--> statement-breakpoint
CREATE INDEX "webauthn_challenges_expiry_idx" ON "webauthn_challenges" USING btree ("expires_at");