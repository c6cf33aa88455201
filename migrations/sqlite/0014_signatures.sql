CREATE TABLE `signing_documents` (
	`request_id` text NOT NULL,
	`seq` integer NOT NULL,
	`sha256` text NOT NULL,
	`kind` text NOT NULL,
	`bytes` blob NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`request_id`, `seq`),
	FOREIGN KEY (`request_id`) REFERENCES `signing_requests`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `signing_documents_sha_idx` ON `signing_documents` (`sha256`);--> statement-breakpoint
CREATE TABLE `signing_participants` (
	`request_id` text NOT NULL,
	`idx` integer NOT NULL,
	`group_no` integer NOT NULL,
	`holder_hash` text NOT NULL,
	`holder_code_enc` text NOT NULL,
	`code_type` text NOT NULL,
	`name_enc` text NOT NULL,
	`role` text NOT NULL,
	`acting_for` text,
	`placement` text,
	`status` text NOT NULL,
	`viewed_at` integer,
	`acted_at` integer,
	`decline_reason` text,
	`method` text,
	`cert_serial` text,
	`log_index` integer,
	PRIMARY KEY(`request_id`, `idx`),
	FOREIGN KEY (`request_id`) REFERENCES `signing_requests`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `signing_participants_holder_idx` ON `signing_participants` (`holder_hash`,`status`);--> statement-breakpoint
CREATE TABLE `signing_requests` (
	`id` text PRIMARY KEY NOT NULL,
	`title` text NOT NULL,
	`matter_code` text,
	`case_ref` text,
	`initiator_client_id` text NOT NULL,
	`initiator_role` text NOT NULL,
	`department_id` text,
	`status` text NOT NULL,
	`current_group` integer NOT NULL,
	`group_count` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`document_sha256` text,
	`current_sha256` text,
	`page_count` integer,
	`status_reason` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`completed_at` integer
);
--> statement-breakpoint
CREATE INDEX `signing_requests_initiator_idx` ON `signing_requests` (`initiator_client_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `signing_requests_department_idx` ON `signing_requests` (`department_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `signing_requests_open_idx` ON `signing_requests` (`status`,`expires_at`);