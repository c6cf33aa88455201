/**
 * What the cases module needs from storage (src/storage/repos/cases.ts implements it on both stores).
 * Contracts: `cases.insert` MUST fail (unique index) on a case number its owner already uses (numbers are unique per
 * owner, so that one owner's answers say nothing of another's case numbers); case items and files are
 * append-only; `owner` is stored when the case opens and never changes (ownership is a column, not derived).
 */
export type CaseStatus = "open" | "closed" | "archived";
export type CaseChannel = "api" | "counter";
export type CaseItemKind = "licence" | "material" | "signature" | "document";

export interface CaseRecord {
  id: string;
  caseNo: string;
  /** `dept:<id>` | `client:<id>` | `counter:<client id>` (a counter bound to no department): who may read and change the case. */
  owner: string;
  /** The department that handles (and archives) the case; null for a case of a counter bound to no department. */
  departmentId: string | null;
  /** The client that opened it. */
  clientId: string;
  channel: CaseChannel;
  matterCode: string | null;
  title: string | null;
  /** The applicant's keyed hash (the holder key); null for counter cases. */
  applicantHash: string | null;
  /** AES-256-GCM of `{name, codeType, code}`, AAD `case:<id>:applicant`. */
  applicantEnc: string | null;
  /** AES-256-GCM of `{name, id}` (经办人), AAD `case:<id>:staff`. */
  staffEnc: string | null;
  status: CaseStatus;
  result: string | null;
  openedAt: Date;
  closedAt: Date | null;
  logIndex: number;
  closeLogIndex: number | null;
}

export interface CaseItem {
  id: number;
  caseId: string;
  kind: CaseItemKind;
  /** Licence identifier, material id, signing request id, or stamp id. */
  ref: string;
  clientId: string;
  verdict: string | null;
  /** Non-personal facts and the log indexes of the events behind the item (`accessed`, `signed`, `stamped`). */
  detail: Record<string, unknown>;
  logIndex: number;
  at: Date;
}

export interface CaseFile {
  id: number;
  itemId: number;
  /** The file's name in the package (NFC; the folder comes from the item's kind). */
  name: string;
  mediaType: string;
  sha256: string;
  size: number;
  /** Sealed bytes (AAD `case-file:<item id>:<sha256>`). */
  bytes: Buffer;
}

export interface CaseRepo {
  insert(c: CaseRecord): Promise<void>;
  byId(id: string): Promise<CaseRecord | undefined>;
  /** The owner's case with that number. */
  byCaseNo(owner: string, caseNo: string): Promise<CaseRecord | undefined>;
  /** Every owner's cases with that number, oldest first (the operator's CLI, which acts for no owner). */
  withCaseNo(caseNo: string, limit: number): Promise<CaseRecord[]>;
  update(id: string, patch: Partial<Pick<CaseRecord, "status" | "result" | "closedAt" | "closeLogIndex">>): Promise<void>;
  /** Cases of one owner, newest first. */
  list(owner: string, opts: { limit: number; before?: Date }): Promise<CaseRecord[]>;
}

export interface CaseItemRepo {
  /** Returns the new item's id. */
  insert(i: Omit<CaseItem, "id">): Promise<number>;
  ofCase(caseId: string): Promise<CaseItem[]>;
}

export interface CaseFileRepo {
  insert(f: Omit<CaseFile, "id">): Promise<void>;
  /** Without bytes: what a case holds. */
  ofCase(caseId: string): Promise<Array<Omit<CaseFile, "bytes">>>;
  bytes(id: number): Promise<Buffer | undefined>;
}

export interface CaseRepos {
  cases: CaseRepo;
  caseItems: CaseItemRepo;
  caseFiles: CaseFileRepo;
}
