-- The crypto profile (DESIGN rule 11, issue 20): every department, seal and licence type names `p256` or `sm2`.
-- Existing rows are p256, except seals whose key is an SM2 key (made before the column existed).
ALTER TABLE `departments` ADD `profile` text DEFAULT 'p256' NOT NULL;--> statement-breakpoint
ALTER TABLE `seals` ADD `profile` text DEFAULT 'p256' NOT NULL;--> statement-breakpoint
ALTER TABLE `licence_types` ADD `profile` text DEFAULT 'p256' NOT NULL;--> statement-breakpoint
UPDATE `seals` SET `profile` = 'sm2' WHERE `key_id` IN (SELECT `id` FROM `keys` WHERE `alg` = 'SM2');
