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
}

export interface DocumentRepo {
  byKey(key: string): Promise<(DocumentRecord & { bytes: Buffer }) | undefined>;
  /** Stores the bytes (once per SHA-256) and the record; false when the key was already taken. */
  insert(rec: DocumentRecord, bytes: Buffer): Promise<boolean>;
}

export interface DocumentRepos {
  documents: DocumentRepo;
}
