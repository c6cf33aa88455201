CREATE TABLE `licence_types` (
	`code` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`holder_kind` text NOT NULL,
	`holder_code_types` text NOT NULL,
	`fields` text NOT NULL,
	`validity_days` integer,
	`issuers` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `matters` (
	`code` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`licence_types` text NOT NULL,
	`consent_exempt` integer NOT NULL,
	`exempt_basis` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `idempotency_keys` (
	`client_id` text NOT NULL,
	`key` text NOT NULL,
	`request_hash` text NOT NULL,
	`identifier` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`client_id`, `key`)
);
--> statement-breakpoint
CREATE TABLE `licence_counters` (
	`scope` text PRIMARY KEY NOT NULL,
	`next` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `licence_events` (
	`identifier` text NOT NULL,
	`seq` integer NOT NULL,
	`action` text NOT NULL,
	`from_status` text NOT NULL,
	`to_status` text NOT NULL,
	`reason` text,
	`actor` text NOT NULL,
	`at` integer NOT NULL,
	`statement` text NOT NULL,
	`log_index` integer NOT NULL,
	PRIMARY KEY(`identifier`, `seq`)
);
--> statement-breakpoint
CREATE TABLE `licences` (
	`identifier` text PRIMARY KEY NOT NULL,
	`lineage` text NOT NULL,
	`version` text NOT NULL,
	`type_code` text NOT NULL,
	`department_id` text NOT NULL,
	`holder_hash` text NOT NULL,
	`holder_code_type` text NOT NULL,
	`payload_enc` text NOT NULL,
	`signature` text NOT NULL,
	`cert_serial` text NOT NULL,
	`jws_sha256` text NOT NULL,
	`valid_from` text NOT NULL,
	`valid_until` text,
	`status` text NOT NULL,
	`status_at` integer NOT NULL,
	`status_index` integer NOT NULL,
	`supersedes` text,
	`superseded_by` text,
	`log_index` integer NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `licences_holder_idx` ON `licences` (`holder_hash`);--> statement-breakpoint
CREATE INDEX `licences_lineage_idx` ON `licences` (`lineage`);--> statement-breakpoint
CREATE UNIQUE INDEX `licences_status_idx` ON `licences` (`department_id`,`status_index`);--> statement-breakpoint
CREATE INDEX `licences_expiry_idx` ON `licences` (`status`,`valid_until`);--> statement-breakpoint
CREATE TABLE `access_log` (
	`id` text PRIMARY KEY NOT NULL,
	`at` integer NOT NULL,
	`client_id` text NOT NULL,
	`matter_code` text NOT NULL,
	`holder_hash` text NOT NULL,
	`identifiers` text NOT NULL,
	`cause_enc` text NOT NULL,
	`basis` text NOT NULL,
	`consent_id` text,
	`log_index` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `access_holder_idx` ON `access_log` (`holder_hash`,`at`);--> statement-breakpoint
CREATE TABLE `consents` (
	`id` text PRIMARY KEY NOT NULL,
	`holder_hash` text NOT NULL,
	`client_id` text NOT NULL,
	`matter_code` text NOT NULL,
	`granted_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`revoked_at` integer
);
--> statement-breakpoint
CREATE INDEX `consents_lookup_idx` ON `consents` (`holder_hash`,`client_id`,`matter_code`);