/**
 * Registering a material (POST /materials): by an approval system (a consumer, for a holder and a matter it serves),
 * a counter terminal (a scanned paper original, with operator, device and the "checked against the original"
 * attestation), the holder themself, or a department (an issuer: a document its system produced).
 *
 * Everything that can be checked before the bytes is checked first (type, rights, holder code, the version it
 * supersedes), then the upload is read into an encrypted temporary file (blob.ts), hashed and sniffed; then ONE
 * transaction stores the row, its chunks and the `material.registered` log entry (DESIGN rule 5). Any failure
 * before the commit (over the limit, refused content, hash mismatch, client gone) leaves no row, no chunk, no log
 * entry and no file.
 */
import { AppError } from "../../errors.js";
import { textProblem } from "../../util/text.js";
import { checkHolderCode } from "../licences/holder.js";
import { actorLabel, type Actor } from "../kernel.js";
import { TLOG_EVENTS } from "../tlog/events.js";
import { maySupersede, sourceProtected } from "./authority.js";
import { receive } from "./blob.js";
import { holderAad, nameAad, wrapAad, type MaterialCore } from "./core.js";
import { formatMaterialId, newSerial, nextVersion, parseMaterialId } from "./identifier.js";
import { MEDIA_TYPES, type MaterialRecord, type MaterialRepos, type MaterialSource, type MediaKind } from "./ports.js";
import { declaredKind } from "./sniff.js";

export const DERIVATIONS = ["redacted", "ocr", "translation", "other"] as const;

export interface RegisterMeta {
  typeCode: string;
  holder?: { code: string; codeType: string };
  matterCode?: string;
  /** The file's name or title (stored encrypted). */
  name?: string;
  /** Hex digests the client computed: the upload is refused when the bytes differ. */
  sha256?: string;
  sm3?: string;
  counter?: { operator: string; device: string; checkedAgainstOriginal: boolean };
  supersedes?: string;
  derivedFrom?: string;
  derivation?: (typeof DERIVATIONS)[number];
  /** Earlier than the type's default validity (types that expire only). */
  validUntil?: string;
}

export interface Declared {
  contentType?: string;
  fileName?: string;
}

function sourceOf(actor: Actor): MaterialSource {
  if (actor.kind === "holder") return "holder";
  if (actor.kind === "client") {
    if (actor.role === "consumer") return "approval";
    if (actor.role === "counter") return "counter";
    if (actor.role === "issuer") return "department";
  }
  throw new AppError("FORBIDDEN_ROLE", "Materials are registered by approval systems, counter terminals, departments and holders.");
}

const invalid = (msg: string, field: string) => new AppError("VALIDATION_FAILED", msg, { details: { field } });

export function createRegister<R extends MaterialRepos>(core: MaterialCore<R>) {
  const { deps, types } = core;
  const { uow, clock, pii, tlog } = deps;

  async function register(actor: Actor, meta: RegisterMeta, body: AsyncIterable<Buffer | Uint8Array>, declared: Declared = {}) {
    const source = sourceOf(actor);
    const type = await types.get(meta.typeCode);
    const now = clock.now();
    // The holder: named by the registrant, or the holder themself.
    let holderHash: string;
    let holderCodeType: string;
    let holderCode: string | null = null;
    if (actor.kind === "holder") {
      if (meta.holder) throw invalid("A holder registers their own materials: leave out `holder`.", "holder");
      holderHash = actor.subjectHash;
      holderCodeType = actor.codeType;
    } else {
      if (!meta.holder) throw invalid("Name the holder (`holder`: code and codeType).", "holder");
      checkHolderCode(meta.holder.codeType, meta.holder.code, now);
      holderHash = pii.lookupHash(meta.holder.codeType, meta.holder.code);
      holderCodeType = meta.holder.codeType;
      holderCode = meta.holder.code;
    }
    // The matter: an approval system registers for a matter it serves and the type accepts.
    if (source === "approval" && !meta.matterCode) throw invalid("An approval system names the matter (`matterCode`).", "matterCode");
    if (meta.matterCode) {
      if (actor.kind === "client" && actor.role === "consumer" && !actor.matters.includes(meta.matterCode)) {
        throw new AppError("FORBIDDEN_MATTER", "This client does not serve that matter.", { details: { matterCode: meta.matterCode } });
      }
      await deps.catalogue.getMatter(meta.matterCode);
      if (!type.matters.includes(meta.matterCode)) throw new AppError("MATERIAL_TYPE_NOT_ACCEPTED", `The matter ${meta.matterCode} does not accept material type ${type.code}.`, { details: { matterCode: meta.matterCode, typeCode: type.code } });
    }
    let attestation: Record<string, unknown> | null = null;
    if (source === "counter") {
      if (!meta.counter) throw invalid("A counter terminal states operator, device and whether the scan was checked against the original (`counter`).", "counter");
      attestation = { operator: meta.counter.operator, device: meta.counter.device, checkedAgainstOriginal: meta.counter.checkedAgainstOriginal };
    } else if (meta.counter) throw invalid("`counter` is for counter terminals.", "counter");
    for (const [field, v] of [["name", meta.name], ["counter.operator", meta.counter?.operator], ["counter.device", meta.counter?.device]] as const) {
      const p = v === undefined ? null : textProblem(v);
      if (p) throw invalid(`${field} ${p}.`, field);
    }
    // Versions and derivations.
    let prev: MaterialRecord | undefined;
    if (meta.supersedes) {
      prev = await core.visible(meta.supersedes, actor);
      if (!maySupersede(prev, source, actor)) throw sourceProtected("supersede", prev, source);
      if (prev.holderHash !== holderHash || prev.typeCode !== type.code) throw new AppError("MATERIAL_STATE_INVALID", "A newer version has the same holder and material type as the one it supersedes.");
      if (core.effective(prev) !== "valid") throw new AppError("MATERIAL_STATE_INVALID", "Only a valid material can be superseded.", { details: { status: core.effective(prev) } });
    }
    if (meta.derivedFrom) {
      const orig = await core.visible(meta.derivedFrom, actor);
      if (orig.holderHash !== holderHash) throw new AppError("MATERIAL_STATE_INVALID", "A derived material has the holder of its original.");
    }
    if (meta.derivation && !meta.derivedFrom) throw invalid("`derivation` goes with `derivedFrom`.", "derivation");
    let expiresAt: Date | null = null;
    if (type.expires) {
      expiresAt = new Date(now.getTime() + type.validityDays! * 86_400_000);
      if (meta.validUntil) {
        const v = new Date(meta.validUntil);
        if (!(v.getTime() > now.getTime()) || v.getTime() > expiresAt.getTime()) throw invalid("validUntil must be in the future and within the type's validity.", "validUntil");
        expiresAt = v;
      }
    } else if (meta.validUntil) throw invalid("This material type does not expire.", "validUntil");

    const serial = prev ? parseMaterialId(prev.identifier) : null;
    const identifier = serial && serial.ok ? formatMaterialId(type.code, serial.parts.serial, nextVersion(serial.parts.version)) : formatMaterialId(type.code, newSerial(now.getTime()), "001");
    const lineage = identifier.split(".").slice(1, 3).join(".");
    const version = identifier.split(".")[3]!;

    const got = await receive(body, { identifier, limit: type.maxBytes, accepted: type.mediaTypes, ...(deps.tmpDir ? { tmpDir: deps.tmpDir } : {}), ...((): { declared?: MediaKind | "other" } => {
      const d = declaredKind(declared.contentType, declared.fileName ?? meta.name);
      return d ? { declared: d } : {};
    })() });
    try {
      if (meta.sha256 && meta.sha256.toLowerCase() !== got.sha256) throw new AppError("MATERIAL_HASH_MISMATCH", "The bytes received do not have the SHA-256 stated.", { details: { stated: meta.sha256.toLowerCase(), received: got.sha256 } });
      if (meta.sm3 && meta.sm3.toLowerCase() !== got.sm3) throw new AppError("MATERIAL_HASH_MISMATCH", "The bytes received do not have the SM3 stated.", { details: { stated: meta.sm3.toLowerCase(), received: got.sm3 } });
      const at = clock.now();
      const rec: MaterialRecord = {
        identifier, lineage, version, typeCode: type.code, holderHash, holderCodeType,
        holderEnc: holderCode ? pii.encrypt(holderCode, holderAad(identifier)) : null,
        nameEnc: meta.name ? pii.encrypt(meta.name, nameAad(identifier)) : null,
        mediaType: MEDIA_TYPES[got.kind], size: got.size, sha256: got.sha256, sm3: got.sm3, source, registrant: actorLabel(actor),
        matterCode: meta.matterCode ?? null, departmentId: actor.kind === "client" ? actor.departmentId : null, attestation,
        status: "valid", statusAt: at, statusReason: null, statusLogIndex: null, expiresAt,
        supersedes: prev?.identifier ?? null, supersededBy: null, derivedFrom: meta.derivedFrom ?? null, derivation: meta.derivedFrom ? meta.derivation ?? "other" : null,
        dekEnc: pii.sealBytes(got.dek, wrapAad(identifier, got.sha256)).toString("base64url"), chunks: got.chunks, logIndex: -1, createdAt: at,
      };
      const stored = await uow.write(async (repos, tx) => {
        if (prev) {
          const cur = await repos.materials.byId(prev.identifier);
          if (!cur || cur.status !== "valid" || cur.supersededBy) throw new AppError("MATERIAL_STATE_INVALID", "The material was changed meanwhile; it is no longer valid.");
        }
        const { index } = await tlog.append(repos, tx, {
          type: TLOG_EVENTS.materialRegistered, subject: `material:${identifier}`, actor: rec.registrant, holder: holderHash, at,
          data: {
            identifier, type: type.code, mediaType: rec.mediaType, size: rec.size, sha256: rec.sha256, sm3: rec.sm3, source,
            ...(rec.matterCode ? { matter: rec.matterCode } : {}), ...(rec.supersedes ? { supersedes: rec.supersedes } : {}),
            ...(rec.derivedFrom ? { derivedFrom: rec.derivedFrom, derivation: rec.derivation } : {}),
            ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}),
            ...(attestation ? { device: attestation.device, checkedAgainstOriginal: attestation.checkedAgainstOriginal } : {}),
          },
        });
        const r = { ...rec, logIndex: index };
        await repos.materials.insert(r);
        for (let seq = 0; seq < got.chunks; seq++) await repos.materials.insertChunk(identifier, seq, got.readChunk(seq));
        if (prev) {
          const { index: si } = await tlog.append(repos, tx, {
            type: TLOG_EVENTS.materialStatusChanged, subject: `material:${prev.identifier}`, actor: rec.registrant, holder: holderHash, at,
            data: { identifier: prev.identifier, from: "valid", to: "superseded", supersededBy: identifier },
          });
          await repos.materials.setStatus(prev.identifier, { status: "superseded", statusAt: at, statusReason: null, statusLogIndex: si, supersededBy: identifier });
        }
        return r;
      });
      return { record: stored, view: await core.view(stored, { withName: true }), receipt: await core.receipt(stored) };
    } finally {
      await got.close();
    }
  }

  return { register };
}
