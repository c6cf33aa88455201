CREATE TABLE `passkeys` (
	`id` text PRIMARY KEY NOT NULL,
	`holder_hash` text NOT NULL,
	`public_key` blob NOT NULL,
	`counter` integer NOT NULL,
	`transports` text,
	`created_at` integer NOT NULL,
	`last_used_at` integer
);
--> statement-breakpoint
CREATE INDEX `passkeys_holder_idx` ON `passkeys` (`holder_hash`);--> statement-breakpoint
CREATE TABLE `personal_keys` (
	`holder_hash` text PRIMARY KEY NOT NULL,
	`key_id` text NOT NULL,
	`cert_serial` text NOT NULL,
	`pseudonym` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `signing_prepared` (
	`request_id` text NOT NULL,
	`idx` integer NOT NULL,
	`base_seq` integer NOT NULL,
	`bytes` blob NOT NULL,
	`state` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	PRIMARY KEY(`request_id`, `idx`),
	FOREIGN KEY (`request_id`) REFERENCES `signing_requests`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `webauthn_challenges` (
	`challenge` text PRIMARY KEY NOT NULL,
	`holder_hash` text NOT NULL,
	`purpose` text NOT NULL,
	`request_id` text,
	`participant_idx` integer,
	`document_sha256` text,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `webauthn_challenges_expiry_idx` ON `webauthn_challenges` (`expires_at`);