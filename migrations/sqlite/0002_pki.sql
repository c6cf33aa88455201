CREATE TABLE `certificates` (
	`serial` text PRIMARY KEY NOT NULL,
	`profile` text NOT NULL,
	`subject` text NOT NULL,
	`issuer_serial` text NOT NULL,
	`department_id` text,
	`key_id` text,
	`der` blob NOT NULL,
	`sha256` text NOT NULL,
	`not_before` integer NOT NULL,
	`not_after` integer NOT NULL,
	`status` text NOT NULL,
	`revoked_at` integer,
	`revocation_reason` text,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`key_id`) REFERENCES `keys`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `certificates_department_idx` ON `certificates` (`department_id`);--> statement-breakpoint
CREATE INDEX `certificates_key_idx` ON `certificates` (`key_id`);--> statement-breakpoint
CREATE INDEX `certificates_revoked_idx` ON `certificates` (`issuer_serial`,`status`);--> statement-breakpoint
CREATE TABLE `crls` (
	`issuer_serial` text NOT NULL,
	`number` integer NOT NULL,
	`this_update` integer NOT NULL,
	`next_update` integer NOT NULL,
	`der` blob NOT NULL,
	`entries_sha256` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`issuer_serial`, `number`)
);
--> statement-breakpoint
CREATE TABLE `keys` (
	`id` text PRIMARY KEY NOT NULL,
	`alg` text NOT NULL,
	`label` text NOT NULL,
	`purpose` text NOT NULL,
	`department_id` text,
	`public_key_spki` blob NOT NULL,
	`wrapped_private_key` blob NOT NULL,
	`status` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `keys_department_idx` ON `keys` (`department_id`);