/**
 * E-seals, the registry: creating a seal (its certificate, picture and log entry), status changes (revoking the
 * certificate with the seal), a seal's status at a past time, the department's official seal, and the lists.
 */
import crypto from "node:crypto";
import { AppError } from "../../errors.js";
import { checkLine } from "../../util/text.js";
import { actorLabel, type Actor } from "../kernel.js";
import { TLOG_EVENTS } from "../tlog/events.js";
import type { SealCore } from "./core.js";
import { SEAL_TYPE_TEXT, type CreateSealInput, type SealServiceRepos } from "./model.js";
import { checkSealText } from "./picture.js";
import type { Seal, SealEvent, SealStatus, SealType } from "./ports.js";

const DEFAULT_DIAMETER: Record<SealType, number> = { "01": 42, "02": 40, "03": 40, "04": 40, "05": 38, "99": 40 };
const DAY = 86_400_000;
const SEAL_ID_RE = /^[0-9A-Za-z-]{4,64}$/;
const TRANSITIONS: Record<SealStatus, readonly SealStatus[]> = { active: ["suspended", "revoked"], suspended: ["active", "revoked"], revoked: [] };

export function createSealRegistry<R extends SealServiceRepos>(core: SealCore<R>) {
  const { deps, pictureOf } = core;
  const { uow, clock, log } = deps;

  async function createSeal(input: CreateSealInput, actor: Actor): Promise<Seal> {
    const now = clock.now();
    const id = input.id ?? null;
    if (id !== null && !SEAL_ID_RE.test(id)) throw new AppError("VALIDATION_FAILED", "The seal ID must be 4 to 64 characters of 0-9 A-Z a-z -.", { details: { field: "id" } });
    const validFrom = input.validFrom ?? now;
    const validTo = input.validTo ?? new Date(validFrom.getTime() + 3 * 365 * DAY);
    if (validTo <= validFrom) throw new AppError("VALIDATION_FAILED", "validTo must be after validFrom.", { details: { field: "validTo" } });
    if (validTo.getTime() - now.getTime() > 3 * 365 * DAY) throw new AppError("VALIDATION_FAILED", "A seal may be valid for at most 3 years from now (its certificate's lifetime).", { details: { field: "validTo" } });
    if (validTo <= now) throw new AppError("VALIDATION_FAILED", "validTo must be in the future.", { details: { field: "validTo" } });
    const typeText = input.typeText ?? SEAL_TYPE_TEXT[input.type];
    const diameterMm = input.diameterMm ?? DEFAULT_DIAMETER[input.type];
    return uow.write(async (repos, tx) => {
      const d = await repos.departments.byId(input.departmentId);
      if (!d) throw new AppError("DEPARTMENT_NOT_FOUND");
      const sealId = id ?? `${d.regionCode}${input.type}${crypto.randomBytes(4).toString("hex").toUpperCase()}`;
      if (await repos.seals.byId(sealId)) throw new AppError("SEAL_EXISTS");
      const arcText = input.arcText !== undefined ? checkLine("arcText", input.arcText, { max: 24 }) : d.name.trim();
      const sealName = input.name !== undefined ? checkLine("name", input.name, { max: 64 }) : `${d.name}${typeText || "印章"}`.trim();
      checkSealText([arcText, typeText, sealId]);
      const validityDays = Math.max(1, Math.min(3 * 365, Math.ceil((validTo.getTime() - now.getTime()) / DAY) + 1));
      const cert = await deps.issueCertificate(repos, tx, { department: d, profile: "seal", sealId, commonName: sealName.slice(0, 64), validityDays, crypto: input.crypto ?? d.profile }, actor);
      const seal: Seal = {
        id: sealId, departmentId: d.id, name: sealName, type: input.type, arcText, typeText, diameterMm,
        certSerial: cert.serial, keyId: cert.keyId, validFrom, validTo: validTo > cert.notAfter ? cert.notAfter : validTo,
        status: "active", statusReason: null, profile: input.crypto ?? d.profile, createdAt: now, updatedAt: now,
      };
      await repos.seals.insert(seal);
      await repos.seals.insertEvent({ sealId, status: "active", reason: null, at: now });
      const svg = pictureOf(seal).svg;
      await log.append(repos, tx, {
        type: TLOG_EVENTS.sealCreated,
        subject: `seal:${sealId}`,
        actor: actorLabel(actor),
        data: {
          sealId, departmentId: d.id, type: seal.type, name: seal.name, profile: seal.profile, certSerial: cert.serial, certSha256: cert.sha256,
          validFrom: seal.validFrom.toISOString(), validTo: seal.validTo.toISOString(),
          pictureSha256: crypto.createHash("sha256").update(svg).digest("hex"),
        },
      });
      return seal;
    });
  }

  async function setStatus(id: string, status: SealStatus, reason: string | null, actor: Actor): Promise<Seal> {
    return uow.write(async (repos, tx) => {
      const cur = await repos.seals.byId(id);
      if (!cur) throw new AppError("SEAL_NOT_FOUND");
      if (!TRANSITIONS[cur.status].includes(status)) {
        throw new AppError("SEAL_STATUS_INVALID", `A ${cur.status} seal cannot become ${status}.`, { details: { from: cur.status, to: status } });
      }
      const now = clock.now();
      await repos.seals.update(id, { status, statusReason: reason, updatedAt: now });
      await repos.seals.insertEvent({ sealId: id, status, reason, at: now });
      if (status === "revoked") {
        const c = await repos.certificates.get(cur.certSerial);
        if (c && c.status === "valid") await deps.revokeCertificate(repos, tx, cur.certSerial, actor);
      }
      await log.append(repos, tx, {
        type: TLOG_EVENTS.sealStatusChanged,
        subject: `seal:${id}`,
        actor: actorLabel(actor),
        data: { sealId: id, from: cur.status, to: status, ...(reason ? { reason } : {}), certSerial: cur.certSerial },
      });
      return { ...cur, status, statusReason: reason, updatedAt: now };
    });
  }

  /** Status of a seal at a past time, from its event history. */
  async function statusAt(sealId: string, at: Date): Promise<{ seal: Seal; status: SealStatus; reason: string | null } | null> {
    const seal = await uow.read.seals.byId(sealId);
    if (!seal) return null;
    const events: SealEvent[] = await uow.read.seals.events(sealId);
    let cur: SealEvent | undefined;
    for (const e of events) if (e.at <= at) cur = e;
    return { seal, status: cur?.status ?? "active", reason: cur?.reason ?? null };
  }

  /** The department's official seal (type 01) that may stamp now: active and within its validity; the newest. */
  async function officialSeal(departmentId: string): Promise<Seal | null> {
    const now = clock.now();
    const seals = (await uow.read.seals.list({ departmentId, limit: 500 }))
      .filter((s) => s.type === "01" && s.status === "active" && s.validFrom <= now && now <= s.validTo)
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
    return seals[0] ?? null;
  }

  return {
    createSeal,
    setStatus,
    statusAt,
    officialSeal,
    list: (opts: { departmentId?: string; limit: number; after?: string }) => uow.read.seals.list(opts),
    stamps: (sealId: string, opts: { limit: number; after?: string }) => uow.read.stamps.list({ sealId, ...opts }),
  };
}
