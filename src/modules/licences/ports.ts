import type { CatalogueRepos } from "../catalogue/ports.js";
import type { PkiRepos } from "../../pki/ports.js";
import type { CheckpointRecord, LeafRecord, TlogRepo } from "../tlog/ports.js";

/** Licence status as exchanged between departments (GB/T 36903 practice); `99` is used for "superseded by a new version". */
export type LicenceStatus = "01" | "02" | "03" | "04" | "05" | "07" | "99";

export const STATUS_TEXT: Record<LicenceStatus, string> = {
  "01": "有效 (valid)",
  "02": "暂扣 (suspended)",
  "03": "撤销 (cancelled)",
  "04": "注销 (deregistered)",
  "05": "失效 (expired)",
  "07": "吊销 (revoked)",
  "99": "其他: 已变更 (superseded by a newer version)",
};

export type LifecycleAction = "suspend" | "resume" | "cancel" | "deregister" | "revoke" | "expire" | "supersede";

export interface LicenceRecord {
  identifier: string;
  lineage: string;
  version: string;
  typeCode: string;
  departmentId: string;
  holderHash: string;
  holderCodeType: string;
  /**
   * Keyed hash of the licence number (证照编号): unique per type and department among current versions. Null only on
   * a row stored before numbers were (until the start-up pass numberStoredLicences fills it in).
   */
  numberHash: string | null;
  /** AES-256-GCM of the payload (base64url JSON text), AAD `licence:<identifier>`. */
  payloadEnc: string;
  /** base64url P1363 signature. */
  signature: string;
  certSerial: string;
  jwsSha256: string;
  validFrom: string;
  validUntil: string | null;
  status: LicenceStatus;
  statusAt: Date;
  statusIndex: number;
  supersedes: string | null;
  supersededBy: string | null;
  logIndex: number;
  createdAt: Date;
}

export interface LicenceEventRecord {
  identifier: string;
  seq: number;
  action: LifecycleAction;
  fromStatus: LicenceStatus;
  toStatus: LicenceStatus;
  reason: string | null;
  actor: string;
  at: Date;
  statement: string;
  logIndex: number;
}

export interface IdempotencyRecord {
  clientId: string;
  key: string;
  requestHash: string;
  identifier: string;
  createdAt: Date;
}

export interface LicenceRepo {
  insertMany(recs: readonly LicenceRecord[]): Promise<void>;
  byId(identifier: string): Promise<LicenceRecord | undefined>;
  /**
   * The record with what verifying it needs from the transparency log, in one read: the leaf at its log index and
   * the smallest checkpoint covering that leaf (size > logIndex), each undefined when absent.
   */
  byIdWithLog(identifier: string): Promise<LicenceWithLog | undefined>;
  /** Licences of a holder in identifier order, filtered before the limit; `current` = not superseded. */
  byHolder(holderHash: string, opts?: { typeCodes?: readonly string[]; current?: boolean; limit?: number; after?: string }): Promise<LicenceRecord[]>;
  byDepartment(departmentId: string, opts: { limit: number; after?: string; typeCode?: string }): Promise<LicenceRecord[]>;
  lineage(lineage: string): Promise<LicenceRecord[]>;
  /**
   * A department's current licences (not superseded) with this number (keyed hash) and/or this holder (keyed hash),
   * of one type when given, in identifier order, at most `limit`.
   */
  find(departmentId: string, q: { numberHash?: string; holderHash?: string; typeCode?: string; limit: number }): Promise<LicenceRecord[]>;
  /** Rows stored before licence numbers were (number_hash NULL), after `after` in identifier order. */
  withoutNumber(after: string, limit: number): Promise<LicenceRecord[]>;
  /** Fills in the number of a row that has none. */
  setNumberHash(identifier: string, numberHash: string): Promise<void>;
  /** Changes the status only if it is still `from`; false when another change came first. */
  setStatus(identifier: string, from: LicenceStatus, to: LicenceStatus, at: Date, supersededBy?: string): Promise<boolean>;
  /** (statusIndex, status, validUntil) of one department's licences with from ≤ statusIndex < to. */
  statusRange(departmentId: string, from: number, to: number): Promise<Array<{ statusIndex: number; status: LicenceStatus; validUntil: string | null }>>;
  /** Valid or suspended licences whose validity ended before `today` (YYYY-MM-DD). */
  /** Valid or suspended licences whose validity ended before `today`, but none of the departments in `except`. */
  dueForExpiry(today: string, limit: number, except?: readonly string[]): Promise<LicenceRecord[]>;
  insertEvent(e: LicenceEventRecord): Promise<void>;
  events(identifier: string): Promise<LicenceEventRecord[]>;
  /** The highest event seq of a licence (0 when it has none): a transition signs seq + 1 and stores it only if still so. */
  lastEventSeq(identifier: string): Promise<number>;
  /** Reserves `n` consecutive values of a counter; returns the first. Counters start at 0. */
  reserve(scope: string, n: number): Promise<number>;
  /** Next unreserved value of a counter (0 if never used). */
  peek(scope: string): Promise<number>;
  idempotency(clientId: string, key: string): Promise<IdempotencyRecord | undefined>;
  insertIdempotency(r: IdempotencyRecord): Promise<void>;
}

export interface LicenceWithLog {
  rec: LicenceRecord;
  leaf: LeafRecord | undefined;
  checkpoint: CheckpointRecord | undefined;
}

export interface LicenceRepos extends CatalogueRepos, PkiRepos {
  licences: LicenceRepo;
  tlog: TlogRepo;
}
