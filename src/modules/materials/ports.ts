/**
 * What the materials module needs from storage (src/storage/repos/materials.ts implements it on both stores).
 *
 * Contracts an implementation MUST keep:
 * - a material row and its chunks are written in the caller's write transaction (with the log entry), never apart;
 * - chunks are numbered 0..chunks-1 and read back in that order; `deleteChunks` removes them all;
 * - rows are never deleted: status changes are updates of `status`, `status_*`, `superseded_by`.
 */
import type { AccessRepos } from "../access/ports.js";

/** Media types a material may have, as sniffed from its bytes (never as declared). */
export const MEDIA_TYPES = {
  pdf: "application/pdf",
  jpeg: "image/jpeg",
  png: "image/png",
  ofd: "application/ofd",
  json: "application/json",
} as const;
export type MediaKind = keyof typeof MEDIA_TYPES;

/** 材料目录: a material type. */
export interface MaterialType {
  /** 2-21 characters of 0-9 A-Z (the identifier's type part). */
  code: string;
  name: string;
  /** Matters (事项) that accept materials of this type. */
  matters: string[];
  mediaTypes: MediaKind[];
  /** Upload limit in bytes. */
  maxBytes: number;
  expires: boolean;
  /** Default validity in days for a type that expires; null otherwise. */
  validityDays: number | null;
  createdAt: Date;
  updatedAt: Date;
}

/** Who registered a material (the source class of the receipt). */
export type MaterialSource = "approval" | "counter" | "holder" | "department";
/** Stored status; `expired` is derived from expiresAt at read time. */
export type StoredStatus = "valid" | "superseded" | "revoked" | "withdrawn";
export type MaterialStatus = StoredStatus | "expired";

export interface MaterialRecord {
  identifier: string;
  lineage: string;
  version: string;
  typeCode: string;
  holderHash: string;
  holderCodeType: string;
  holderEnc: string | null;
  nameEnc: string | null;
  mediaType: string;
  size: number;
  sha256: string;
  sm3: string;
  source: MaterialSource;
  registrant: string;
  matterCode: string | null;
  departmentId: string | null;
  attestation: Record<string, unknown> | null;
  status: StoredStatus;
  statusAt: Date;
  statusReason: string | null;
  statusLogIndex: number | null;
  expiresAt: Date | null;
  supersedes: string | null;
  supersededBy: string | null;
  derivedFrom: string | null;
  derivation: string | null;
  dekEnc: string;
  chunks: number;
  logIndex: number;
  createdAt: Date;
}

export interface MaterialTypeRepo {
  insert(t: MaterialType): Promise<void>;
  update(t: MaterialType): Promise<void>;
  byCode(code: string): Promise<MaterialType | undefined>;
  all(): Promise<MaterialType[]>;
}

export interface MaterialRepo {
  insert(rec: MaterialRecord): Promise<void>;
  byId(identifier: string): Promise<MaterialRecord | undefined>;
  /** Every version registered with these bytes (by SHA-256 hex), oldest first, at most `limit`. */
  bySha256(sha256: string, limit: number): Promise<MaterialRecord[]>;
  /** A holder's materials (of `typeCodes` when given), newest first, at most `limit`. */
  byHolder(holderHash: string, opts: { typeCodes?: readonly string[]; limit: number; current?: boolean }): Promise<MaterialRecord[]>;
  /** The lineage's versions, oldest first. */
  lineage(lineage: string): Promise<MaterialRecord[]>;
  /** Sets status fields (and superseded_by when given). */
  setStatus(identifier: string, patch: { status: StoredStatus; statusAt: Date; statusReason: string | null; statusLogIndex: number | null; supersededBy?: string | null }): Promise<void>;
  insertChunk(identifier: string, seq: number, bytes: Buffer): Promise<void>;
  chunk(identifier: string, seq: number): Promise<Buffer | undefined>;
  deleteChunks(identifier: string): Promise<number>;
}

export interface MaterialRepos extends AccessRepos {
  materialTypes: MaterialTypeRepo;
  materials: MaterialRepo;
}
