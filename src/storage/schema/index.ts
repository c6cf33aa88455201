// One file per domain; drizzle-kit reads this index to generate migrations/.
export * from "./directory.js";
export * from "./pki.js";
export * from "./tlog.js";
