CREATE TABLE `archive_receipts` (
	`id` text PRIMARY KEY NOT NULL,
	`department_id` text NOT NULL,
	`bag_name` text NOT NULL,
	`case_no` text,
	`source_organization` text,
	`source_archive_id` text,
	`status` text NOT NULL,
	`package_sha256` text NOT NULL,
	`package_size` integer NOT NULL,
	`tagmanifest_sha256` text NOT NULL,
	`chunks` integer,
	`report` text NOT NULL,
	`report_sha256` text NOT NULL,
	`received_by` text NOT NULL,
	`received_at` integer NOT NULL,
	`log_index` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `archive_receipts_tagmanifest_idx` ON `archive_receipts` (`department_id`,`tagmanifest_sha256`);--> statement-breakpoint
CREATE INDEX `archive_receipts_received_idx` ON `archive_receipts` (`received_at`);--> statement-breakpoint
CREATE TABLE `archive_receipt_chunks` (
	`receipt_id` text NOT NULL,
	`seq` integer NOT NULL,
	`bytes` blob NOT NULL,
	PRIMARY KEY(`receipt_id`, `seq`),
	FOREIGN KEY (`receipt_id`) REFERENCES `archive_receipts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
ALTER TABLE `archives` ADD `released_at` integer;--> statement-breakpoint
UPDATE `archives` SET `released_at` = `stored_at` WHERE `status` = 'stored';
