ALTER TABLE `documents` ADD `licence_status` text;--> statement-breakpoint
ALTER TABLE `documents` ADD `expires_at` integer;--> statement-breakpoint
CREATE INDEX `documents_expires_idx` ON `documents` (`expires_at`);--> statement-breakpoint
-- Copies stored before expires_at existed: the expiry is the key's last 24 characters (ISO 8601, UTC).
UPDATE `documents` SET `expires_at` = COALESCE(CAST(ROUND((julianday(substr(`key`, -24)) - 2440587.5) * 86400000) AS INTEGER), `created_at`) WHERE `kind` = 'copy' AND `expires_at` IS NULL;
