import { sqliteTable, text, integer, blob, index, primaryKey } from "drizzle-orm/sqlite-core";

/**
 * Runtime keys (department licence-signing, seal and signer keys). The private key is stored only wrapped
 * (AES-256-GCM under the KEK from the keys folder, see src/pki/keystore.ts). `department_id` is plain text
 * (no foreign key) so keys of departments from other sources can be kept too.
 */
export const keys = sqliteTable(
  "keys",
  {
    id: text("id").primaryKey(),
    alg: text("alg", { enum: ["ES256", "Ed25519", "SM2"] }).notNull(),
    label: text("label").notNull(),
    purpose: text("purpose").notNull(),
    departmentId: text("department_id"),
    /** SubjectPublicKeyInfo, DER. */
    publicKeySpki: blob("public_key_spki", { mode: "buffer" }).notNull(),
    wrappedPrivateKey: blob("wrapped_private_key", { mode: "buffer" }).notNull(),
    status: text("status", { enum: ["active", "retired", "destroyed"] }).notNull(),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [index("keys_department_idx").on(t.departmentId)],
);

/** Certificates issued by the issuing CA at runtime (the CA, TSA and token certificates live in the keys folder). */
export const certificates = sqliteTable(
  "certificates",
  {
    /** Lower-case hex of the serial number. */
    serial: text("serial").primaryKey(),
    profile: text("profile").notNull(),
    subject: text("subject").notNull(),
    issuerSerial: text("issuer_serial").notNull(),
    departmentId: text("department_id"),
    keyId: text("key_id").references(() => keys.id),
    der: blob("der", { mode: "buffer" }).notNull(),
    sha256: text("sha256").notNull(),
    notBefore: integer("not_before", { mode: "timestamp_ms" }).notNull(),
    notAfter: integer("not_after", { mode: "timestamp_ms" }).notNull(),
    status: text("status", { enum: ["valid", "revoked"] }).notNull(),
    revokedAt: integer("revoked_at", { mode: "timestamp_ms" }),
    revocationReason: text("revocation_reason"),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [
    index("certificates_department_idx").on(t.departmentId),
    index("certificates_key_idx").on(t.keyId),
    index("certificates_revoked_idx").on(t.issuerSerial, t.status),
  ],
);

/** Every CRL published, per issuer; the highest number is current. */
export const crls = sqliteTable(
  "crls",
  {
    issuerSerial: text("issuer_serial").notNull(),
    number: integer("number").notNull(),
    thisUpdate: integer("this_update", { mode: "timestamp_ms" }).notNull(),
    nextUpdate: integer("next_update", { mode: "timestamp_ms" }).notNull(),
    der: blob("der", { mode: "buffer" }).notNull(),
    entriesSha256: text("entries_sha256").notNull(),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.issuerSerial, t.number] })],
);

/**
 * Service keys and certificates from the keys folder (root, issuing CA, TSA, token, log, IdP keys) as first seen by
 * this deployment: each is appended to the transparency log once (`key.registered`), so a key swapped in later
 * shows up in the log.
 */
export const registeredKeys = sqliteTable("registered_keys", {
  /** SHA-256 (hex) of the certificate DER, or of the SubjectPublicKeyInfo DER for bare keys. */
  sha256: text("sha256").primaryKey(),
  role: text("role").notNull(),
  logIndex: integer("log_index").notNull(),
  firstSeen: integer("first_seen", { mode: "timestamp_ms" }).notNull(),
});
