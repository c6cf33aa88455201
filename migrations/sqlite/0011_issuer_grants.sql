CREATE TABLE `issuer_grants` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`type_code` text NOT NULL,
	`department_id` text NOT NULL,
	`valid_from` integer NOT NULL,
	`valid_to` integer,
	FOREIGN KEY (`type_code`) REFERENCES `licence_types`(`code`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`department_id`) REFERENCES `departments`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `issuer_grants_type_idx` ON `issuer_grants` (`type_code`,`department_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `issuer_grants_open_idx` ON `issuer_grants` (`type_code`,`department_id`) WHERE "issuer_grants"."valid_to" IS NULL;--> statement-breakpoint
-- Types defined before issuer_grants existed: each current issuer is taken to have been allowed since the type was created.
INSERT INTO `issuer_grants` (`type_code`, `department_id`, `valid_from`, `valid_to`) SELECT DISTINCT t.`code`, j.`value`, t.`created_at`, NULL FROM `licence_types` t, json_each(t.`issuers`) j ORDER BY t.`code`, j.`value`;
