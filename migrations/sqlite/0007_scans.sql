CREATE TABLE `scans` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer NOT NULL,
	`kind` text NOT NULL,
	`identifier` text,
	`outcome` text NOT NULL,
	`client_id` text
);
--> statement-breakpoint
CREATE INDEX `scans_identifier_idx` ON `scans` (`identifier`,`at`);