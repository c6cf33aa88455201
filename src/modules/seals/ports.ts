/**
 * What the seals module needs from storage (src/storage/repos/seals.ts implements it).
 * Contracts: `insert` MUST fail on a duplicate id; seal events and stamp records are append-only.
 */

import type { CryptoProfile } from "../kernel.js";

/** GB/T 38540 seal types in use: 01 法定名称章, 02 财务专用章, 03 发票专用章, 04 合同专用章, 05 法定代表人名章, 99 other. */
export type SealType = "01" | "02" | "03" | "04" | "05" | "99";
export const SEAL_TYPES: readonly SealType[] = ["01", "02", "03", "04", "05", "99"];
export type SealStatus = "active" | "suspended" | "revoked";

export interface Seal {
  /** esID (印章编码). */
  readonly id: string;
  readonly departmentId: string;
  /** 印章名称, e.g. 福州市市场监督管理局合同专用章. */
  readonly name: string;
  readonly type: SealType;
  /** Text along the arc (the department's name). */
  readonly arcText: string;
  /** Horizontal text below the star (e.g. 合同专用章); empty for none. */
  readonly typeText: string;
  readonly diameterMm: number;
  readonly certSerial: string;
  readonly keyId: string;
  readonly validFrom: Date;
  readonly validTo: Date;
  readonly status: SealStatus;
  readonly statusReason: string | null;
  /** Crypto profile of the seal's key and certificate (DESIGN rule 11). */
  readonly profile: CryptoProfile;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface SealEvent {
  readonly sealId: string;
  readonly status: SealStatus;
  readonly reason: string | null;
  readonly at: Date;
}

/** 用印记录: one stamp. */
export interface StampRecord {
  readonly id: string;
  readonly sealId: string;
  readonly departmentId: string;
  readonly certSerial: string;
  /** Actor label of who stamped (client id). */
  readonly signer: string;
  readonly documentSha256: string;
  readonly resultSha256: string;
  readonly pageIndex: number;
  readonly fieldName: string;
  readonly stampedAt: Date;
  readonly timestampAt: Date;
  /** The `seal.stamped` log entry (null for stamps recorded before it was kept). */
  readonly logIndex?: number | null;
}

export interface SealRepo {
  insert(s: Seal): Promise<void>;
  update(id: string, patch: Pick<Seal, "status" | "statusReason" | "updatedAt">): Promise<void>;
  byId(id: string): Promise<Seal | undefined>;
  list(opts: { departmentId?: string; limit: number; after?: string }): Promise<Seal[]>;
  insertEvent(e: SealEvent): Promise<void>;
  /** Status events of a seal, oldest first. */
  events(sealId: string): Promise<SealEvent[]>;
}

export interface StampRepo {
  insert(r: StampRecord): Promise<void>;
  list(opts: { sealId: string; limit: number; after?: string }): Promise<StampRecord[]>;
  /** Stamps whose stamped result has this SHA-256 (hex), oldest first. */
  byResult(resultSha256: string): Promise<StampRecord[]>;
}

export interface SealRepos {
  seals: SealRepo;
  stamps: StampRepo;
}
