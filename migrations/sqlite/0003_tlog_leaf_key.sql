DROP INDEX `tlog_leaves_leaf_hash_idx`;--> statement-breakpoint
DROP INDEX `tlog_leaves_subject_idx`;--> statement-breakpoint
ALTER TABLE `tlog_leaves` ADD `leaf_key` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `tlog_leaves_leaf_key_idx` ON `tlog_leaves` (`leaf_key`);