/**
 * What receiving packages at transfer (receive.ts) needs from storage (src/storage/repos/archive-receipts.ts, both
 * stores). Contracts: `insert` MUST fail on a second receipt of the same department and tag manifest; chunks are
 * written once each, in order, before `markReceived` makes the receipt `received` (in the transaction that logs it);
 * a received package never changes.
 */
export interface ArchiveReceiptRecord {
  id: string;
  departmentId: string;
  bagName: string;
  caseNo: string | null;
  sourceOrganization: string | null;
  sourceArchiveId: string | null;
  status: "receiving" | "received";
  packageSha256: string;
  packageSize: number;
  tagmanifestSha256: string;
  chunks: number | null;
  report: string;
  reportSha256: string;
  receivedBy: string;
  receivedAt: Date;
  logIndex: number | null;
}

export interface ArchiveReceiptRepo {
  insert(r: ArchiveReceiptRecord): Promise<void>;
  byId(id: string): Promise<ArchiveReceiptRecord | undefined>;
  byTagmanifest(departmentId: string, tagmanifestSha256: string): Promise<ArchiveReceiptRecord | undefined>;
  markReceived(id: string, patch: { chunks: number; logIndex: number }): Promise<void>;
  /** Drops a receipt that never became `received` (and its chunks), before the same package is received again. */
  discard(id: string): Promise<void>;
  insertChunk(id: string, seq: number, sealed: Buffer): Promise<void>;
  chunk(id: string, seq: number): Promise<Buffer | undefined>;
}

export interface ArchiveReceiptRepos {
  archiveReceipts: ArchiveReceiptRepo;
}
