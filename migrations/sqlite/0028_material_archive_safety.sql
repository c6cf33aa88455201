ALTER TABLE `archives` ADD `build_token` text;
--> statement-breakpoint
ALTER TABLE `archives` ADD `build_lease_until` integer;
--> statement-breakpoint
CREATE INDEX `case_items_ref_idx` ON `case_items` (`ref`,`kind`);
