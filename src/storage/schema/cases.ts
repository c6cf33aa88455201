import { sqliteTable, text, integer, blob, index, uniqueIndex } from "drizzle-orm/sqlite-core";

/**
 * Cases (办件, issue 19): opened by an approval system (`POST /cases`) or by a counter's first attachment. `owner` is
 * the stored ownership every read and change is checked against: `dept:<id>` (a department's clients and counters),
 * `client:<id>` (the approval system that opened it), `counter:<client id>` (a counter terminal bound to no department).
 * A case number is unique per owner (`cases_owner_case_no_idx`): one owner's numbers say nothing of another's. Applicant
 * and staff are AES-256-GCM ciphertext (AAD `case:<id>:applicant|staff`); `applicant_hash` is the holder's keyed hash.
 */
export const cases = sqliteTable(
  "cases",
  {
    id: text("id").primaryKey(),
    caseNo: text("case_no").notNull(),
    owner: text("owner").notNull(),
    departmentId: text("department_id"),
    clientId: text("client_id").notNull(),
    channel: text("channel", { enum: ["api", "counter"] }).notNull(),
    matterCode: text("matter_code"),
    title: text("title"),
    applicantHash: text("applicant_hash"),
    applicantEnc: text("applicant_enc"),
    staffEnc: text("staff_enc"),
    status: text("status", { enum: ["open", "closed", "archived"] }).notNull(),
    result: text("result"),
    openedAt: integer("opened_at", { mode: "timestamp_ms" }).notNull(),
    closedAt: integer("closed_at", { mode: "timestamp_ms" }),
    logIndex: integer("log_index").notNull(),
    closeLogIndex: integer("close_log_index"),
  },
  (t) => [uniqueIndex("cases_owner_case_no_idx").on(t.owner, t.caseNo), index("cases_owner_idx").on(t.owner, t.openedAt)],
);

/** What a case used: licences (with the 加注件 it fetched), materials, signing requests, stamped documents. */
export const caseItems = sqliteTable(
  "case_items",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    caseId: text("case_id").notNull().references(() => cases.id),
    kind: text("kind", { enum: ["licence", "material", "signature", "document"] }).notNull(),
    ref: text("ref").notNull(),
    clientId: text("client_id").notNull(),
    verdict: text("verdict"),
    /** JSON: log indexes of the events behind the item (accessed, signed, stamped) and non-personal facts. */
    detail: text("detail", { mode: "json" }).notNull(),
    logIndex: integer("log_index").notNull(),
    at: integer("at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [index("case_items_case_idx").on(t.caseId, t.id), index("case_items_ref_idx").on(t.ref, t.kind)],
);

/**
 * Bytes a case keeps because nothing else does: the 加注件 PDF a consumer fetched (the copy sweep deletes copies)
 * and uploaded stamped documents. AES-256-GCM, AAD `case-file:<item id>:<sha256>`.
 */
export const caseFiles = sqliteTable(
  "case_files",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    itemId: integer("item_id").notNull().references(() => caseItems.id),
    name: text("name").notNull(),
    mediaType: text("media_type").notNull(),
    sha256: text("sha256").notNull(),
    size: integer("size").notNull(),
    bytes: blob("bytes", { mode: "buffer" }).notNull(),
  },
  (t) => [index("case_files_item_idx").on(t.itemId)],
);
