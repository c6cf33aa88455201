CREATE TABLE "deployment" (
	"key" text PRIMARY KEY NOT NULL,
	"value" text NOT NULL,
	"set_at" bigint NOT NULL
);
