CREATE TABLE `signing_seal_jobs` (
	`request_id` text PRIMARY KEY NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_at` integer NOT NULL,
	`last_error` text,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`request_id`) REFERENCES `signing_requests`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `signing_seal_jobs_due_idx` ON `signing_seal_jobs` (`next_at`);
--> statement-breakpoint
INSERT INTO `signing_seal_jobs` (`request_id`, `attempts`, `next_at`, `last_error`, `created_at`)
SELECT r.`id`, 0, COALESCE(r.`completed_at`, r.`updated_at`), NULL, COALESCE(r.`completed_at`, r.`updated_at`) FROM `signing_requests` r
WHERE r.`status` = 'completed' AND NOT EXISTS (SELECT 1 FROM `signing_documents` d WHERE d.`request_id` = r.`id` AND d.`kind` = 'completed');
