/**
 * What every materials use case shares: dependencies, who may see a material, its effective status, its view and
 * its receipt, and reading its bytes.
 */
import type { Readable } from "node:stream";
import { maskCode } from "../../codes/index.js";
import type { PiiProtector } from "../../crypto/pii.js";
import { AppError } from "../../errors.js";
import type { CatalogueService } from "../catalogue/index.js";
import { actorLabel, type Actor, type Clock, type Logger, type UnitOfWork } from "../kernel.js";
import type { LogEntry, LogEvidence, TlogEvent } from "../tlog/index.js";
import { b64u } from "../licences/jws.js";
import { chunkStream } from "./blob.js";
import type { MaterialRecord, MaterialRepos, MaterialStatus } from "./ports.js";
import { holderClaim, receiptClaims, type ReceiptSigner } from "./receipt.js";
import type { MaterialTypes } from "./types.js";

export interface MaterialLog<R> {
  append(repos: R, tx: import("../kernel.js").TxHooks, event: TlogEvent): Promise<{ index: number }>;
  evidence(index: number, opts?: { includeLeaf?: boolean }): Promise<LogEvidence>;
  getEntry(index: number): Promise<LogEntry>;
}

export interface MaterialDeps<R extends MaterialRepos> {
  uow: UnitOfWork<R>;
  clock: Clock;
  tlog: MaterialLog<R>;
  pii: PiiProtector;
  catalogue: Pick<CatalogueService, "getMatter">;
  receipts: ReceiptSigner;
  /** HMAC key of the receipt's holder claim. */
  holderKey: Uint8Array;
  /** HMAC key of material links. */
  linkKey: Uint8Array;
  publicUrl: string;
  /** Where uploads are staged (unlinked at once); default os.tmpdir(). */
  tmpDir?: string;
  /**
   * How many cases that used the material still wait for their archival package (the cases module, issue 19): a
   * holder's withdrawal stops future reuse at once, but the bytes stay for those cases until their packages are
   * stored (an archive must hold what the case relied on). None when not given.
   */
  keptFor?(repos: R, identifier: string): Promise<number>;
  /** Lifetime of a material link, seconds (default 1 hour). */
  linkTtlSeconds?: number;
  log?: Logger;
}

export const STATUS_TEXT: Record<MaterialStatus, string> = {
  valid: "有效", superseded: "已被新版本替代", revoked: "已撤销", withdrawn: "已由持有人撤回", expired: "已过期",
};

/** What a caller sees of a material. */
export interface MaterialView {
  identifier: string;
  typeCode: string;
  typeName: string | null;
  mediaType: string;
  size: number;
  sha256: string;
  sm3: string;
  source: MaterialRecord["source"];
  registrant: string;
  matterCode: string | null;
  departmentId: string | null;
  name: string | null;
  holder: string;
  status: MaterialStatus;
  statusText: string;
  statusReason: string | null;
  statusAt: string;
  expiresAt: string | null;
  supersedes: string | null;
  supersededBy: string | null;
  derivedFrom: string | null;
  derivation: string | null;
  attestation: Record<string, unknown> | null;
  registeredAt: string;
  logIndex: number;
}

export const wrapAad = (identifier: string, sha256: string) => `material-dek:${identifier}:${sha256}`;
export const holderAad = (identifier: string) => `material-holder:${identifier}`;
export const nameAad = (identifier: string) => `material-name:${identifier}`;

export function createCore<R extends MaterialRepos>(deps: MaterialDeps<R>, types: MaterialTypes) {
  const { uow, clock, pii } = deps;
  const publicUrl = deps.publicUrl.replace(/\/+$/, "");

  function effective(rec: MaterialRecord, now = clock.now()): MaterialStatus {
    if (rec.status === "valid" && rec.expiresAt && rec.expiresAt.getTime() <= now.getTime()) return "expired";
    return rec.status;
  }

  /** The holder code masked (350***********0015), or *** when the material was registered by the holder themself. */
  function maskedHolder(rec: MaterialRecord): string {
    if (!rec.holderEnc) return "***";
    try {
      return maskCode(pii.decrypt(rec.holderEnc, holderAad(rec.identifier)));
    } catch {
      return "***";
    }
  }

  async function view(rec: MaterialRecord, opts: { withName?: boolean } = {}): Promise<MaterialView> {
    const st = effective(rec);
    const t = await types.find(rec.typeCode);
    return {
      identifier: rec.identifier, typeCode: rec.typeCode, typeName: t?.name ?? null, mediaType: rec.mediaType, size: rec.size,
      sha256: rec.sha256, sm3: rec.sm3, source: rec.source, registrant: rec.registrant, matterCode: rec.matterCode, departmentId: rec.departmentId,
      name: opts.withName && rec.nameEnc ? pii.decrypt(rec.nameEnc, nameAad(rec.identifier)) : null,
      holder: maskedHolder(rec), status: st, statusText: STATUS_TEXT[st], statusReason: rec.statusReason, statusAt: rec.statusAt.toISOString(),
      expiresAt: rec.expiresAt ? rec.expiresAt.toISOString() : null, supersedes: rec.supersedes, supersededBy: rec.supersededBy,
      derivedFrom: rec.derivedFrom, derivation: rec.derivation, attestation: rec.attestation, registeredAt: rec.createdAt.toISOString(), logIndex: rec.logIndex,
    };
  }

  /** A receipt JWS for the record (signed now; every receipt of a material carries the same claims). */
  async function receipt(rec: MaterialRecord): Promise<string> {
    const claims = receiptClaims(rec, publicUrl, holderClaim(deps.holderKey, rec.holderHash, rec.identifier));
    return deps.receipts.sign(b64u(JSON.stringify(claims)));
  }

  /**
   * Whether the actor may see the material: an administrator; the holder it belongs to; the client that registered
   * it; an issuer of the department that registered it. Anyone else gets MATERIAL_NOT_FOUND (no existence oracle).
   */
  function canSee(rec: MaterialRecord, actor: Actor): boolean {
    if (actor.kind === "holder") return rec.holderHash === actor.subjectHash;
    if (actor.kind === "system") return true;
    if (actor.kind !== "client") return false;
    if (actor.role === "admin") return true;
    if (rec.registrant === actorLabel(actor)) return true;
    return actor.role === "issuer" && actor.departmentId !== null && rec.departmentId === actor.departmentId;
  }

  async function record(identifier: string): Promise<MaterialRecord> {
    const rec = await uow.read.materials.byId(identifier);
    if (!rec) throw new AppError("MATERIAL_NOT_FOUND");
    return rec;
  }

  async function visible(identifier: string, actor: Actor): Promise<MaterialRecord> {
    const rec = await record(identifier);
    if (!canSee(rec, actor)) throw new AppError("MATERIAL_NOT_FOUND");
    return rec;
  }

  /** The plaintext bytes of a stored material, one chunk at a time. */
  function bytesOf(rec: MaterialRecord): Readable {
    if (rec.status === "withdrawn") throw new AppError("MATERIAL_STATE_INVALID", "The holder withdrew this material; its bytes are deleted.");
    const dek = pii.openBytes(Buffer.from(rec.dekEnc, "base64url"), wrapAad(rec.identifier, rec.sha256));
    return chunkStream(rec.identifier, rec.chunks, dek, (seq) => uow.read.materials.chunk(rec.identifier, seq));
  }

  /**
   * The bytes for the archival package of a case that used the material: also of a withdrawn material whose bytes
   * are kept for such a case (never handed to anyone else: bytesOf refuses a withdrawn material).
   */
  async function archivalBytes(rec: MaterialRecord): Promise<Readable> {
    if (rec.status !== "withdrawn") return bytesOf(rec);
    if (rec.chunks > 0 && !(await uow.read.materials.chunk(rec.identifier, 0))) throw new AppError("MATERIAL_STATE_INVALID", "The holder withdrew this material and its bytes are deleted.");
    const dek = pii.openBytes(Buffer.from(rec.dekEnc, "base64url"), wrapAad(rec.identifier, rec.sha256));
    return chunkStream(rec.identifier, rec.chunks, dek, (seq) => uow.read.materials.chunk(rec.identifier, seq));
  }

  return { deps, types, publicUrl, effective, view, receipt, canSee, record, visible, bytesOf, archivalBytes, maskedHolder };
}

export type MaterialCore<R extends MaterialRepos> = ReturnType<typeof createCore<R>>;
