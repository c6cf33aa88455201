ALTER TABLE `matters` ADD `departments` text DEFAULT '[]' NOT NULL;
--> statement-breakpoint
UPDATE `cases` SET `owner` = 'counter:' || `client_id` WHERE `owner` = 'counter:unbound';
--> statement-breakpoint
DROP INDEX IF EXISTS `cases_case_no_idx`;
--> statement-breakpoint
CREATE UNIQUE INDEX `cases_owner_case_no_idx` ON `cases` (`owner`,`case_no`);
