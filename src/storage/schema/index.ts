// One file per domain; drizzle-kit reads this index to generate migrations/.
export * from "./directory.js";
export * from "./pki.js";
export * from "./tlog.js";
export * from "./catalogue.js";
export * from "./licences.js";
export * from "./access.js";
export * from "./seals.js";
export * from "./qr.js";
export * from "./documents.js";
export * from "./signatures.js";
export * from "./deployment.js";
export * from "./webhooks.js";
export * from "./cases.js";
export * from "./archives.js";
export * from "./archive-receipts.js";
export * from "./materials.js";
