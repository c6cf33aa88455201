CREATE TABLE `document_blobs` (
	`sha256` text PRIMARY KEY NOT NULL,
	`bytes` blob NOT NULL,
	`size` integer NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `documents` (
	`key` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`identifier` text NOT NULL,
	`sha256` text NOT NULL,
	`stamp_id` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`sha256`) REFERENCES `document_blobs`(`sha256`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `documents_identifier_idx` ON `documents` (`identifier`);