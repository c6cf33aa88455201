CREATE TABLE `material_chunks` (
	`identifier` text NOT NULL,
	`seq` integer NOT NULL,
	`bytes` blob NOT NULL,
	PRIMARY KEY(`identifier`, `seq`)
);
--> statement-breakpoint
CREATE TABLE `material_types` (
	`code` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`matters` text NOT NULL,
	`media_types` text NOT NULL,
	`max_bytes` integer NOT NULL,
	`expires` integer NOT NULL,
	`validity_days` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `materials` (
	`identifier` text PRIMARY KEY NOT NULL,
	`lineage` text NOT NULL,
	`version` text NOT NULL,
	`type_code` text NOT NULL,
	`holder_hash` text NOT NULL,
	`holder_code_type` text NOT NULL,
	`holder_enc` text,
	`name_enc` text,
	`media_type` text NOT NULL,
	`size` integer NOT NULL,
	`sha256` text NOT NULL,
	`sm3` text NOT NULL,
	`source` text NOT NULL,
	`registrant` text NOT NULL,
	`matter_code` text,
	`department_id` text,
	`attestation` text,
	`status` text NOT NULL,
	`status_at` integer NOT NULL,
	`status_reason` text,
	`status_log_index` integer,
	`expires_at` integer,
	`supersedes` text,
	`superseded_by` text,
	`derived_from` text,
	`derivation` text,
	`dek_enc` text NOT NULL,
	`chunks` integer NOT NULL,
	`log_index` integer NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `materials_holder_idx` ON `materials` (`holder_hash`,`type_code`);--> statement-breakpoint
CREATE INDEX `materials_sha256_idx` ON `materials` (`sha256`);--> statement-breakpoint
CREATE INDEX `materials_lineage_idx` ON `materials` (`lineage`);