CREATE TABLE `signing_events` (
	`request_id` text NOT NULL,
	`log_index` integer NOT NULL,
	`type` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`request_id`, `log_index`),
	FOREIGN KEY (`request_id`) REFERENCES `signing_requests`(`id`) ON UPDATE no action ON DELETE no action
);
