import { sqliteTable, text, integer, blob, index, primaryKey } from "drizzle-orm/sqlite-core";

/** E-signature requests (签署流程, issue 17): one row per request. */
export const signingRequests = sqliteTable(
  "signing_requests",
  {
    id: text("id").primaryKey(),
    title: text("title").notNull(),
    matterCode: text("matter_code"),
    caseRef: text("case_ref"),
    initiatorClientId: text("initiator_client_id").notNull(),
    initiatorRole: text("initiator_role").notNull(),
    departmentId: text("department_id"),
    status: text("status", { enum: ["draft", "in_progress", "completed", "declined", "expired", "cancelled"] }).notNull(),
    currentGroup: integer("current_group").notNull(),
    groupCount: integer("group_count").notNull(),
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
    documentSha256: text("document_sha256"),
    currentSha256: text("current_sha256"),
    pageCount: integer("page_count"),
    statusReason: text("status_reason"),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
    updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
    completedAt: integer("completed_at", { mode: "timestamp_ms" }),
  },
  (t) => [
    index("signing_requests_initiator_idx").on(t.initiatorClientId, t.createdAt),
    index("signing_requests_department_idx").on(t.departmentId, t.createdAt),
    index("signing_requests_open_idx").on(t.status, t.expiresAt),
  ],
);

/** Participants of a request, in order (group = signing step; participants of one group sign in parallel). */
export const signingParticipants = sqliteTable(
  "signing_participants",
  {
    requestId: text("request_id").notNull().references(() => signingRequests.id),
    idx: integer("idx").notNull(),
    groupNo: integer("group_no").notNull(),
    /** Keyed hash of code type + holder code (Actor.subjectHash of the holder). */
    holderHash: text("holder_hash").notNull(),
    /** AES-GCM ciphertext of the holder code (for display to the initiator). */
    holderCodeEnc: text("holder_code_enc").notNull(),
    codeType: text("code_type").notNull(),
    nameEnc: text("name_enc").notNull(),
    role: text("role", { enum: ["signer", "approver", "copy"] }).notNull(),
    actingFor: text("acting_for"),
    placement: text("placement"),
    status: text("status", { enum: ["waiting", "pending", "signed", "declined", "copy"] }).notNull(),
    viewedAt: integer("viewed_at", { mode: "timestamp_ms" }),
    actedAt: integer("acted_at", { mode: "timestamp_ms" }),
    declineReason: text("decline_reason"),
    method: text("method"),
    certSerial: text("cert_serial"),
    logIndex: integer("log_index"),
  },
  (t) => [primaryKey({ columns: [t.requestId, t.idx] }), index("signing_participants_holder_idx").on(t.holderHash, t.status)],
);

/** The request's document, one row per revision (0 = as uploaded); bytes sealed with the PII key. */
export const signingDocuments = sqliteTable(
  "signing_documents",
  {
    requestId: text("request_id").notNull().references(() => signingRequests.id),
    seq: integer("seq").notNull(),
    sha256: text("sha256").notNull(),
    kind: text("kind").notNull(),
    bytes: blob("bytes", { mode: "buffer" }).notNull(),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.requestId, t.seq] }), index("signing_documents_sha_idx").on(t.sha256)],
);

/** A person's cloud signing key (云签名): one active key + certificate per holder. */
export const personalKeys = sqliteTable(
  "personal_keys",
  {
    holderHash: text("holder_hash").primaryKey(),
    keyId: text("key_id").notNull(),
    certSerial: text("cert_serial").notNull(),
    pseudonym: text("pseudonym").notNull(),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  },
);

/** WebAuthn credentials (passkeys) a holder registered. */
export const passkeys = sqliteTable(
  "passkeys",
  {
    id: text("id").primaryKey(),
    holderHash: text("holder_hash").notNull(),
    publicKey: blob("public_key", { mode: "buffer" }).notNull(),
    counter: integer("counter").notNull(),
    transports: text("transports"),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
    lastUsedAt: integer("last_used_at", { mode: "timestamp_ms" }),
  },
  (t) => [index("passkeys_holder_idx").on(t.holderHash)],
);

/** Single-use WebAuthn challenges: registration, or an assertion bound to one request, participant and document hash. */
export const webauthnChallenges = sqliteTable(
  "webauthn_challenges",
  {
    challenge: text("challenge").primaryKey(),
    holderHash: text("holder_hash").notNull(),
    purpose: text("purpose", { enum: ["register", "sign"] }).notNull(),
    requestId: text("request_id"),
    participantIdx: integer("participant_idx"),
    documentSha256: text("document_sha256"),
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [index("webauthn_challenges_expiry_idx").on(t.expiresAt)],
);

/** An own-key signature in preparation: the revision with its placeholder, waiting for the signature value. */
export const signingPrepared = sqliteTable(
  "signing_prepared",
  {
    requestId: text("request_id").notNull().references(() => signingRequests.id),
    idx: integer("idx").notNull(),
    baseSeq: integer("base_seq").notNull(),
    bytes: blob("bytes", { mode: "buffer" }).notNull(),
    state: text("state").notNull(),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.requestId, t.idx] })],
);

/**
 * The trust events of a request (their log indexes), written in the same transaction as the event: the evidence
 * bundle lists them without scanning the log (the log is not indexed by subject).
 */
export const signingEvents = sqliteTable(
  "signing_events",
  {
    requestId: text("request_id").notNull().references(() => signingRequests.id),
    logIndex: integer("log_index").notNull(),
    type: text("type").notNull(),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.requestId, t.logIndex] })],
);

/**
 * Completed requests whose final seal is still to be made (issue 17 §5): written in the transaction that completes
 * the request, deleted in the one that stores the sealed revision. The sealing job retries what is due with back-off
 * (`attempts`, `next_at`), on any instance and after a restart.
 */
export const signingSealJobs = sqliteTable(
  "signing_seal_jobs",
  {
    requestId: text("request_id").primaryKey().references(() => signingRequests.id),
    attempts: integer("attempts").notNull().default(0),
    nextAt: integer("next_at", { mode: "timestamp_ms" }).notNull(),
    lastError: text("last_error"),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [index("signing_seal_jobs_due_idx").on(t.nextAt)],
);
