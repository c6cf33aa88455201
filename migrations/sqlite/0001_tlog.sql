CREATE TABLE `tlog_checkpoints` (
	`size` integer PRIMARY KEY NOT NULL,
	`root` blob NOT NULL,
	`note` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `tlog_leaves` (
	`idx` integer PRIMARY KEY NOT NULL,
	`leaf_hash` blob NOT NULL,
	`data` text NOT NULL,
	`type` text NOT NULL,
	`subject_hash` blob NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `tlog_leaves_leaf_hash_idx` ON `tlog_leaves` (`leaf_hash`);--> statement-breakpoint
CREATE INDEX `tlog_leaves_subject_idx` ON `tlog_leaves` (`subject_hash`);--> statement-breakpoint
CREATE TABLE `tlog_nodes` (
	`id` integer PRIMARY KEY NOT NULL,
	`hash` blob NOT NULL
);
