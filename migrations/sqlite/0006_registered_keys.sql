CREATE TABLE `registered_keys` (
	`sha256` text PRIMARY KEY NOT NULL,
	`role` text NOT NULL,
	`log_index` integer NOT NULL,
	`first_seen` integer NOT NULL
);
