/**
 * What the documents module needs from storage (src/storage/repos/documents.ts implements it).
 * Contracts: blobs are content-addressed (key = SHA-256 of the document's plaintext bytes); `insert` stores bytes
 * the documents module has encrypted (AES-256-GCM) and marks them so; blobs stored in the clear by an earlier
 * version change once, by `encryptBlob`; `insert` of a document whose key exists MUST leave the existing row
 * untouched and return false.
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
  /** The record with its stored bytes (`encrypted`: false for a blob stored in the clear and not yet encrypted). */
  byKey(key: string): Promise<(DocumentRecord & { bytes: Buffer; encrypted: boolean }) | undefined>;
  /** Stores the encrypted bytes (once per SHA-256) and the record; false when the key was already taken. */
  insert(rec: DocumentRecord, bytes: Buffer): Promise<boolean>;
  /**
   * Deletes up to `limit` copies whose `expiresAt` ≤ `now`, and the blobs no remaining document refers to.
   * Returns how many document rows and blobs were deleted.
   */
  deleteExpiredCopies(now: Date, limit: number): Promise<{ documents: number; blobs: number }>;
  /** Up to `limit` blobs stored in the clear (by a version before documents were encrypted). */
  clearBlobs(limit: number): Promise<Array<{ sha256: string; bytes: Buffer }>>;
  /** Replaces a blob stored in the clear with its encrypted bytes (no change if it is encrypted already). */
  encryptBlob(sha256: string, bytes: Buffer): Promise<void>;
}

export interface DocumentRepos {
  documents: DocumentRepo;
}
