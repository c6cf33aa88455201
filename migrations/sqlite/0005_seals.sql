CREATE TABLE `seal_events` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`seal_id` text NOT NULL,
	`status` text NOT NULL,
	`reason` text,
	`at` integer NOT NULL,
	FOREIGN KEY (`seal_id`) REFERENCES `seals`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `seal_events_seal_idx` ON `seal_events` (`seal_id`,`at`);--> statement-breakpoint
CREATE TABLE `seals` (
	`id` text PRIMARY KEY NOT NULL,
	`department_id` text NOT NULL,
	`name` text NOT NULL,
	`type` text NOT NULL,
	`arc_text` text NOT NULL,
	`type_text` text NOT NULL,
	`diameter_mm` real NOT NULL,
	`cert_serial` text NOT NULL,
	`key_id` text NOT NULL,
	`valid_from` integer NOT NULL,
	`valid_to` integer NOT NULL,
	`status` text NOT NULL,
	`status_reason` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `seals_department_idx` ON `seals` (`department_id`);--> statement-breakpoint
CREATE INDEX `seals_cert_idx` ON `seals` (`cert_serial`);--> statement-breakpoint
CREATE TABLE `stamps` (
	`id` text PRIMARY KEY NOT NULL,
	`seal_id` text NOT NULL,
	`department_id` text NOT NULL,
	`cert_serial` text NOT NULL,
	`signer` text NOT NULL,
	`document_sha256` text NOT NULL,
	`result_sha256` text NOT NULL,
	`page_index` integer NOT NULL,
	`field_name` text NOT NULL,
	`stamped_at` integer NOT NULL,
	`timestamp_at` integer NOT NULL,
	FOREIGN KEY (`seal_id`) REFERENCES `seals`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `stamps_seal_idx` ON `stamps` (`seal_id`,`id`);--> statement-breakpoint
CREATE INDEX `stamps_result_idx` ON `stamps` (`result_sha256`);