ALTER TABLE "archives" ADD COLUMN "build_token" text;
--> statement-breakpoint
ALTER TABLE "archives" ADD COLUMN "build_lease_until" bigint;
--> statement-breakpoint
CREATE INDEX "case_items_ref_idx" ON "case_items" USING btree ("ref","kind");
