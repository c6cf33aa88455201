ALTER TABLE `licences` ADD `number_hash` text;--> statement-breakpoint
CREATE UNIQUE INDEX `licences_number_idx` ON `licences` (`number_hash`,`department_id`,`type_code`) WHERE superseded_by IS NULL;