/**
 * What the documents module needs from storage (src/storage/repos/documents.ts implements it).
 * Contracts: blobs are content-addressed (key = SHA-256 of the bytes) and immutable; `insert` of a document whose
 * key exists MUST leave the existing row untouched and return false.
 */
export type DocumentKind = "licence" | "copy";

export interface DocumentRecord {
  key: string;
  kind: DocumentKind;
  identifier: string;
  sha256: string;
  stampId: string;
  createdAt: Date;
  /** The licence's effective status the document was rendered for (null: recorded before this existed; rendered as valid). */
  licenceStatus: string | null;
  /** Copies: when the copy link expires (the sweep deletes the copy after it); null for licence documents. */
  expiresAt: Date | null;
}

export interface DocumentRepo {
  byKey(key: string): Promise<(DocumentRecord & { bytes: Buffer }) | undefined>;
  /** Stores the bytes (once per SHA-256) and the record; false when the key was already taken. */
  insert(rec: DocumentRecord, bytes: Buffer): Promise<boolean>;
  /**
   * Deletes up to `limit` copies whose `expiresAt` ≤ `now`, and the blobs no remaining document refers to.
   * Returns how many document rows and blobs were deleted.
   */
  deleteExpiredCopies(now: Date, limit: number): Promise<{ documents: number; blobs: number }>;
}

export interface DocumentRepos {
  documents: DocumentRepo;
}
