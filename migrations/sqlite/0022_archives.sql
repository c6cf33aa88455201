CREATE TABLE `archives` (
	`id` text PRIMARY KEY NOT NULL,
	`case_id` text NOT NULL,
	`department_id` text NOT NULL,
	`bag_name` text NOT NULL,
	`status` text NOT NULL,
	`files` integer NOT NULL,
	`payload_octets` integer NOT NULL,
	`manifest_sha256` text NOT NULL,
	`tagmanifest_sha256` text,
	`package_sha256` text,
	`package_size` integer,
	`chunks` integer,
	`cert_serial` text,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`stored_at` integer,
	`log_index` integer NOT NULL,
	FOREIGN KEY (`case_id`) REFERENCES `cases`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `archives_case_idx` ON `archives` (`case_id`);--> statement-breakpoint
CREATE INDEX `archives_department_idx` ON `archives` (`department_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `archive_chunks` (
	`archive_id` text NOT NULL,
	`seq` integer NOT NULL,
	`bytes` blob NOT NULL,
	PRIMARY KEY(`archive_id`, `seq`),
	FOREIGN KEY (`archive_id`) REFERENCES `archives`(`id`) ON UPDATE no action ON DELETE no action
);
