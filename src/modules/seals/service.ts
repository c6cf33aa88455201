/**
 * E-seals: the registry (create, status changes), the seal picture, the GB/T 38540 seal data export, and
 * stamping PDFs (PAdES B-T by incremental update) with a stamp record (用印记录) and a log entry per stamp.
 *
 * Stamping does the slow work (parse, hash, sign, time-stamp) outside the write transaction, then records the
 * stamp in one short transaction that re-checks the seal and certificate status, so a seal revoked while a
 * stamp was being prepared yields no output at all.
 */
import crypto, { randomUUID } from "node:crypto";
import zlib from "node:zlib";
import { checkLine } from "../../util/text.js";
import { AppError } from "../../errors.js";
import { sm2PublicKeyFromSpki, sm3 } from "../../crypto/sm2.js";
import { byteRangeDigest, embedSignature } from "../../pdf/sign.js";
import { dict, name, serialize } from "../../pdf/objects.js";
import type { PdfWork } from "../../pdf/pool.js";
import type { AppearanceData, StampPrepared } from "../../pdf/stamp.js";
import { attribute, buildSignedData, CMS_OID, encodeSigner, type EncodedSigner } from "../../pki/cms.js";
import { bytesOf, children, readNode } from "../../pki/der.js";
import type { IssueDepartmentCertificateInput, IssuedCertificate, KeyStore, PkiRepos, CertificateRecord } from "../../pki/index.js";
import type { Tsa } from "../../pki/tsa.js";
import { parseCertificate, type CertInfo } from "../../pki/reader.js";
import type { CaSigner } from "../../pki/x509.js";
import { sealStatusAttribute, signSealStatus, statementOf } from "../../pki/seal-status.js";
import type { DirectoryRepos } from "../directory/index.js";
import { actorLabel, type Actor, type Clock, type CryptoProfile, type TrustLog, type TxHooks, type UnitOfWork } from "../kernel.js";
import { TLOG_EVENTS } from "../tlog/events.js";
import { encodeSesSeal, encodeSesSignature, type SesSealInfo } from "./ses.js";
import { checkSealText, drawSeal, sealPdfOps, sealSvg, type SealPicture } from "./picture.js";
import type { Seal, SealEvent, SealRepos, SealStatus, SealType, StampRecord } from "./ports.js";

export const SEAL_TYPE_TEXT: Record<SealType, string> = {
  "01": "",
  "02": "财务专用章",
  "03": "发票专用章",
  "04": "合同专用章",
  "05": "法定代表人名章",
  "99": "",
};
const DEFAULT_DIAMETER: Record<SealType, number> = { "01": 42, "02": 40, "03": 40, "04": 40, "05": 38, "99": 40 };

const DAY = 86_400_000;
const MM = 72 / 25.4;
const SEAL_ID_RE = /^[0-9A-Za-z-]{4,64}$/;
/** Bytes reserved in the PDF for the CMS (signature + certificates + time-stamp token). */
export const CMS_RESERVE = 12_288;

export interface SealServiceDeps<R extends SealRepos & DirectoryRepos & PkiRepos> {
  uow: UnitOfWork<R>;
  clock: Clock;
  log: TrustLog<R>;
  keyStore: KeyStore;
  tsa: Tsa;
  /** DEV key material: every seal picture and stamp appearance carries this mark (开发测试 · 非正式 DEV). */
  devMark?: string;
  /** Where untrusted PDFs are read (the worker pool in the service). */
  pdf: PdfWork;
  /** Issuing CA and root certificates (DER), embedded after the seal certificate. */
  chain: readonly Uint8Array[];
  /**
   * The national profile: the SM2 TSA, the SM2 issuing CA + root (DER) and the SM2 issuing CA as signer of the status
   * evidence of SM2 seals; absent without an SM2 hierarchy.
   */
  sm2?: { tsa: Tsa; chain: readonly Uint8Array[]; statusSigner?: { cert: CertInfo; signer: CaSigner } };
  /** The seal maker (制章人) that signs GB/T 38540 SES_Seal structures (SM2); absent without an SM2 hierarchy. */
  sealMaker?: { certDer: Uint8Array; sign(tbs: Uint8Array): Promise<Uint8Array> };
  issueCertificate(repos: R, tx: TxHooks, input: IssueDepartmentCertificateInput, actor: Actor): Promise<IssuedCertificate>;
  revokeCertificate(repos: R, tx: TxHooks, serial: string, actor: Actor): Promise<void>;
  /**
   * The CA that issued the seal certificates signs seal-status evidence (pki/seal-status.ts): in every stamp (the
   * status at signing time) and on demand (`statusEvidence`). Without it stamps carry none.
   */
  statusSigner?: { cert: CertInfo; signer: CaSigner };
  /** How long a statement stands for times after it was produced (nextUpdate − producedAt); default 24 h. */
  statusEvidenceSeconds?: number;
}

export interface CreateSealInput {
  departmentId: string;
  type: SealType;
  /** esID; generated when absent. */
  id?: string;
  /** 印章名称; default: department name + type text. */
  name?: string;
  /** Text under the star; default from the type (required for 99 if wanted). */
  typeText?: string;
  /** Text along the arc; default: the department's name. */
  arcText?: string;
  validFrom?: Date;
  validTo?: Date;
  diameterMm?: number;
  /** Crypto profile of the seal's key and certificate (default: the department's profile). */
  crypto?: CryptoProfile;
}

export type Placement =
  | { page: number; xMm: number; yMm: number }
  | { anchor: string; page?: number; dxMm?: number; dyMm?: number };

export interface StampInput {
  pdf: Buffer;
  placement: Placement;
  reason?: string;
  location?: string;
  /**
   * Instead of the seal picture at `placement`: the caller prepares the stamped revision itself (the e-signature
   * completion report, drawn on the page reserved for it around the seal's own appearance), on a PDF worker like
   * every other reading of an untrusted document. It gets the seal's appearance and the signature dictionary's fields.
   */
  custom?: StampCustom;
}

export interface StampCustom {
  prepare(pdf: Buffer, seal: { appearance: AppearanceData; fields: CustomStampFields }): Promise<StampPrepared>;
}

export interface CustomStampFields {
  fieldName: string;
  signingTime: Date;
  signerName: string;
  reason?: string;
  location?: string;
  reserve: number;
}

export interface StampResult {
  pdf: Buffer;
  record: StampRecord;
}

/** GB/T 38540 SES_Seal fields (JSON rendering). */
export interface SesSealJson {
  esealInfo: {
    header: { ID: "ES"; version: 4; Vid: string };
    esID: string;
    property: { type: number; name: string; certListType: 1; certList: string[]; createDate: string; validStart: string; validEnd: string };
    picture: { type: "SVG"; data: string; width: number; height: number };
  };
  signInfo: null;
  note: string;
}

export function createSealService<R extends SealRepos & DirectoryRepos & PkiRepos>(deps: SealServiceDeps<R>) {
  const { uow, clock, log } = deps;
  const pictures = new Map<string, { picture: SealPicture; svg: string; appearance: AppearanceData }>();

  function pictureOf(seal: Seal) {
    const key = `${seal.id}|${seal.arcText}|${seal.typeText}|${seal.diameterMm}`;
    let p = pictures.get(key);
    if (!p) {
      const picture = drawSeal({ name: seal.arcText, typeText: seal.typeText, code: seal.id, diameterMm: seal.diameterMm, ...(deps.devMark ? { dev: deps.devMark } : {}) });
      const R = seal.diameterMm / 2;
      const ops = `q /GS0 gs\n${sealPdfOps(picture)}\nQ`;
      p = {
        picture,
        svg: sealSvg(picture, seal.name),
        appearance: {
          content: zlib.deflateSync(Buffer.from(ops, "latin1")),
          compressed: true,
          bbox: [-R, -R, R, R],
          matrix: [MM, 0, 0, MM, 0, 0],
          // Multiply blending: text under the seal stays visible, like real ink.
          resources: serialize(dict({ ExtGState: dict({ GS0: dict({ Type: name("ExtGState"), BM: name("Multiply") }) }) })).toString("latin1"),
        },
      };
      pictures.set(key, p);
    }
    return p;
  }

  /** Per certificate: issuerAndSerialNumber, ESS attribute and certificate set, encoded once (keyed by serial, checked against the DER). */
  const signers = new Map<string, { der: Uint8Array; encoded: EncodedSigner }>();

  function encodedSigner(cert: CertificateRecord): EncodedSigner {
    const hit = signers.get(cert.serial);
    if (hit && Buffer.compare(hit.der, cert.der) === 0) return hit.encoded;
    const chain = isSm2Cert(cert.der) ? deps.sm2?.chain ?? [] : deps.chain;
    const encoded = encodeSigner({ der: cert.der, issuerDer: parseIssuer(cert.der), serial: cert.serial }, [cert.der, ...chain]);
    if (signers.size >= 1024) signers.delete(signers.keys().next().value!);
    signers.set(cert.serial, { der: Uint8Array.from(cert.der), encoded });
    return encoded;
  }

  async function get(id: string): Promise<Seal> {
    const s = await uow.read.seals.byId(id);
    if (!s) throw new AppError("SEAL_NOT_FOUND");
    return s;
  }

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

  const TRANSITIONS: Record<SealStatus, readonly SealStatus[]> = { active: ["suspended", "revoked"], suspended: ["active", "revoked"], revoked: [] };

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

  /** The CA that signs status evidence for seals of a profile (the one that issued their certificates). */
  const statusSignerOf = (sm2: boolean) => (sm2 ? deps.sm2?.statusSigner : deps.statusSigner);

  /** Why the seal may not stamp at `at` (null = it may). */
  function refusal(seal: Seal, cert: CertificateRecord | null, at: Date): AppError | null {
    if (seal.status === "revoked" || cert?.status === "revoked") return new AppError("SEAL_REVOKED");
    if (seal.status === "suspended") return new AppError("SEAL_SUSPENDED");
    if (at < seal.validFrom || at > seal.validTo) return new AppError("SEAL_EXPIRED", `The seal is valid from ${seal.validFrom.toISOString()} to ${seal.validTo.toISOString()}.`);
    if (!cert || at > cert.notAfter || at < cert.notBefore) return new AppError("SEAL_EXPIRED", "The seal's certificate is not valid now.");
    return null;
  }

  /**
   * `within` runs inside the transaction that records the stamp (after the stamp record and its log entry): a
   * caller that stores the stamped bytes does so atomically with the 用印记录.
   */
  async function customStamp(pdf: Buffer, c: StampCustom, seal: Seal, now: Date, input: StampInput): Promise<StampPrepared> {
    return c.prepare(pdf, {
      appearance: pictureOf(seal).appearance,
      fields: {
        fieldName: `Seal-${seal.id}`, signingTime: now, signerName: seal.name,
        ...(input.reason ? { reason: input.reason } : {}), ...(input.location ? { location: input.location } : {}), reserve: CMS_RESERVE,
      },
    });
  }

  async function stamp(
    sealId: string, input: StampInput, actor: Actor, before?: (seal: Seal) => void,
    within?: (repos: R, tx: TxHooks, result: StampResult) => Promise<void>,
  ): Promise<StampResult> {
    // The text rule for what the stamp writes into the signature dictionary or looks for (the command line sends
    // these as typed; HTTP's edge has checked them already).
    if (input.reason) checkLine("reason", input.reason, { max: 200 });
    if (input.location) checkLine("location", input.location, { max: 200 });
    if ("anchor" in input.placement) checkLine("anchor", input.placement.anchor, { max: 64 });
    const seal = await get(sealId);
    before?.(seal);
    const cert = await uow.read.certificates.get(seal.certSerial);
    const now = clock.now();
    const no = refusal(seal, cert, now);
    if (no) throw no;
    // The untrusted document is read on a PDF worker under a time budget (src/pdf/pool.ts); keys stay here.
    const p = input.placement;
    const prepared = input.custom ? await customStamp(input.pdf, input.custom, seal, now, input) : await deps.pdf.prepareStamp(input.pdf, {
      placement: "anchor" in p
        ? { anchor: p.anchor, ...(p.page !== undefined ? { page: p.page } : {}), dx: (p.dxMm ?? 0) * MM, dy: (p.dyMm ?? 0) * MM }
        : { page: p.page, x: p.xMm * MM, y: p.yMm * MM },
      size: seal.diameterMm * MM,
      appearance: pictureOf(seal).appearance,
      fieldName: `Seal-${seal.id}`,
      signingTime: now,
      signerName: seal.name,
      ...(input.reason ? { reason: input.reason } : {}),
      ...(input.location ? { location: input.location } : {}),
      reserve: CMS_RESERVE,
    });
    const { pageIndex } = prepared;
    // The national profile (a seal of the sm2 profile): SM3 over the byte ranges, SM2 signature, SM2 TSA with an SM3
    // imprint. Same /SubFilter (ETSI.CAdES.detached): the CMS says which algorithms it uses.
    const sm2 = seal.profile === "sm2";
    if (sm2 && !deps.sm2) throw new AppError("CRYPTO_PROFILE_UNAVAILABLE", "This SM2 seal cannot stamp: the keys folder has no SM2 hierarchy (TSA).");
    const digest = sm2 ? byteRangeDigest(prepared.bytes, prepared.byteRange, "sm3") : prepared.digest;
    const tsa = sm2 ? deps.sm2!.tsa : deps.tsa;
    const hashOid = sm2 ? CMS_OID.sm3 : CMS_OID.sha256;
    let tstTime = now;
    const cms = await buildSignedData({
      eContentType: CMS_OID.data,
      contentDigest: digest,
      encoded: encodedSigner(cert!),
      sign: (data) => deps.keyStore.sign(seal.keyId, data, { encoding: "der" }),
      ...(sm2 ? { profile: "sm2" as const } : {}),
      unsignedAttrs: async (sv) => {
        const t = await tsa.stamp(hashOid, crypto.createHash(sm2 ? "sm3" : "sha256").update(sv).digest(), { certReq: true });
        tstTime = t.genTime;
        const attrs = [attribute(CMS_OID.signatureTimeStampToken, t.token)];
        // The seal's status at signing time, produced after the time-stamp (so it covers it): the last status
        // change only (the one in effect now), which keeps the evidence small whatever the seal's history. Signed by
        // the CA that issued the seal's certificate (P-256 or SM2 issuing CA).
        if (statusSignerOf(sm2)) attrs.push(sealStatusAttribute(await evidence(seal, cert!, "last")));
        return attrs;
      },
    });
    const out = embedSignature(prepared, cms);
    let record: StampRecord = {
      id: randomUUID(),
      sealId: seal.id,
      departmentId: seal.departmentId,
      certSerial: seal.certSerial,
      signer: actorLabel(actor),
      documentSha256: prepared.documentSha256,
      resultSha256: await sha256Hex(out),
      pageIndex,
      fieldName: prepared.fieldName,
      stampedAt: now,
      timestampAt: tstTime,
    };
    await uow.write(async (repos, tx) => {
      const s2 = await repos.seals.byId(seal.id);
      const c2 = await repos.certificates.get(seal.certSerial);
      const again = s2 ? refusal(s2, c2, now) : new AppError("SEAL_NOT_FOUND");
      if (again) throw again;
      const { index } = await log.append(repos, tx, {
        type: TLOG_EVENTS.sealStamped,
        subject: `seal:${seal.id}`,
        actor: record.signer,
        data: {
          stampId: record.id, sealId: seal.id, departmentId: seal.departmentId, certSerial: seal.certSerial,
          documentSha256: record.documentSha256, resultSha256: record.resultSha256, page: pageIndex + 1,
          timestamp: tstTime.toISOString(),
        },
      });
      record = { ...record, logIndex: index };
      await repos.stamps.insert(record);
      if (within) await within(repos, tx, { pdf: out, record });
    });
    return { pdf: out, record };
  }

  function sesSeal(seal: Seal, certDer: Uint8Array): SesSealJson {
    const svg = pictureOf(seal).svg;
    return {
      esealInfo: {
        header: { ID: "ES", version: 4, Vid: "Sidian" },
        esID: seal.id,
        property: {
          type: Number(seal.type), name: seal.name, certListType: 1,
          certList: [Buffer.from(certDer).toString("base64")],
          createDate: seal.createdAt.toISOString(), validStart: seal.validFrom.toISOString(), validEnd: seal.validTo.toISOString(),
        },
        picture: { type: "SVG", data: Buffer.from(svg, "utf8").toString("base64"), width: seal.diameterMm, height: seal.diameterMm },
      },
      signInfo: null,
      note: "SES_SealInfo fields per GB/T 38540; the seal maker's signature (SES_SignInfo) is not produced by this service.",
    };
  }

  /**
   * The GB/T 38540 SES_Seal (version 4) of a seal as DER, signed by the seal maker (SM3withSM2): header ES/4/Sidian,
   * esID, property (type 1 = organisation seal, name, certListType 1 with the seal's certificate, dates), the SVG
   * picture at its size in mm. The same seal always gives the same SES_SealInfo bytes (the signature differs: SM2
   * signatures are randomised).
   */
  async function sesSealDer(seal: Seal, certDer: Uint8Array): Promise<Buffer> {
    if (!deps.sealMaker) throw new AppError("CRYPTO_PROFILE_UNAVAILABLE", "GB/T 38540 seal data needs the SM2 seal maker: the keys folder has no SM2 hierarchy.");
    const info: SesSealInfo = {
      header: { id: "ES", version: 4, vid: "Sidian" },
      esID: seal.id,
      property: {
        type: 1, name: seal.name, certListType: 1, certs: [certDer], certDigests: [],
        createDate: seal.createdAt, validStart: seal.validFrom, validEnd: seal.validTo,
      },
      picture: { type: "SVG", data: Buffer.from(pictureOf(seal).svg, "utf8"), width: Math.round(seal.diameterMm), height: Math.round(seal.diameterMm) },
      extDatas: [],
    };
    return encodeSesSeal(info, deps.sealMaker);
  }

  /**
   * A stamp of an SM2 seal exported as a GB/T 38540 SES_Signature (DER), for systems that check SES rather than PAdES:
   * TBS_Sign { version 4, the seal's SES_Seal (signed by the seal maker), timeInfo = the stamp's time-stamp time,
   * dataHash = SM3 of the stamped document as Sidian returned it, propertyInfo naming the stamp }, signed by the seal's
   * SM2 key over the DER of TBS_Sign, with an SM2 time-stamp token over the signature value. The document must be the
   * exact output of a stamp of this seal (its 用印记录); the seal must still be usable (its key signs again), and the
   * export is logged as a use of the seal.
   */
  async function sesSignature(sealId: string, pdf: Buffer, actor: Actor, before?: (seal: Seal) => void): Promise<{ der: Buffer; stamp: StampRecord }> {
    const seal = await get(sealId);
    before?.(seal);
    if (seal.profile !== "sm2" || !deps.sm2 || !deps.sealMaker) {
      throw new AppError("CRYPTO_PROFILE_UNAVAILABLE", seal.profile !== "sm2" ? "GB/T 38540 SES_Signature is made for seals of the sm2 profile only (SM3withSM2)." : "The keys folder has no SM2 hierarchy.");
    }
    const record = (await uow.read.stamps.byResult(await sha256Hex(pdf))).find((r) => r.sealId === seal.id);
    if (!record) throw new AppError("STAMP_NOT_FOUND");
    const cert = await uow.read.certificates.get(seal.certSerial);
    const no = refusal(seal, cert, clock.now());
    if (no) throw no;
    const tsa = deps.sm2.tsa;
    const der = await encodeSesSignature({
      version: 4, eseal: await sesSealDer(seal, cert!.der), timeInfo: record.timestampAt, dataHash: await sm3Chunked(pdf),
      propertyInfo: `type=application/pdf; stamp=${record.id}; field=${record.fieldName}; page=${record.pageIndex + 1}; sha256=${record.resultSha256}`,
      extDatas: [],
    }, {
      certDer: cert!.der,
      sign: (tbs) => deps.keyStore.sign(seal.keyId, tbs, { encoding: "der" }),
      timeStamp: async (sig) => (await tsa.stamp(CMS_OID.sm3, sm3(sig), { certReq: true })).token,
    });
    await uow.write(async (repos, tx) => {
      await log.append(repos, tx, {
        type: TLOG_EVENTS.sealSesSigned, subject: `seal:${seal.id}`, actor: actorLabel(actor),
        data: { stampId: record.id, sealId: seal.id, certSerial: seal.certSerial, resultSha256: record.resultSha256, sesSha256: crypto.createHash("sha256").update(der).digest("hex") },
      });
    });
    return { der, stamp: record };
  }

  /**
   * Seal-status evidence signed by the issuing CA (DER CMS): the history of status changes (all of them, or the one in
   * effect now), the certificate's revocation, produced now and standing for statusEvidenceSeconds.
   */
  async function evidence(seal: Seal, cert: CertificateRecord, which: "all" | "last"): Promise<Buffer> {
    const signer = statusSignerOf(isSm2Cert(cert.der));
    if (!signer) throw new AppError("NOT_READY", "Seal-status evidence is not configured.");
    const events = await uow.read.seals.events(seal.id);
    const now = clock.now();
    const upto = events.filter((e) => e.at <= now);
    const list = upto.length === 0 ? [{ status: "active" as const, at: seal.createdAt, reason: null }] : which === "last" ? upto.slice(-1) : upto;
    const stmt = statementOf({
      sealId: seal.id, cert: { serial: cert.serial, sha256: cert.sha256 }, validFrom: seal.validFrom, validTo: seal.validTo,
      events: list.map((e) => ({ status: e.status, at: e.at, reason: e.reason })),
      certificateRevokedAt: cert.status === "revoked" && cert.revokedAt && cert.revokedAt <= now ? cert.revokedAt : null,
      producedAt: now, nextUpdate: new Date(now.getTime() + (deps.statusEvidenceSeconds ?? 86_400) * 1000),
    });
    return signSealStatus(stmt, signer);
  }

  /** Current seal-status evidence for `GET /seals/:id/status-evidence` and `sidian verify --status`. */
  async function statusEvidence(sealId: string): Promise<Buffer> {
    const seal = await get(sealId);
    const cert = await uow.read.certificates.get(seal.certSerial);
    if (!cert) throw new AppError("CERTIFICATE_NOT_FOUND", `The seal's certificate ${seal.certSerial} is not in the registry.`);
    return evidence(seal, cert, "all");
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
    get,
    officialSeal,
    list: (opts: { departmentId?: string; limit: number; after?: string }) => uow.read.seals.list(opts),
    stamps: (sealId: string, opts: { limit: number; after?: string }) => uow.read.stamps.list({ sealId, ...opts }),
    svg: async (id: string) => pictureOf(await get(id)).svg,
    sesSeal: async (id: string) => {
      const s = await get(id);
      const c = await uow.read.certificates.get(s.certSerial);
      return sesSeal(s, c!.der);
    },
    sesSealDer: async (id: string) => {
      const s = await get(id);
      const c = await uow.read.certificates.get(s.certSerial);
      return sesSealDer(s, c!.der);
    },
    stamp,
    sesSignature,
    statusAt,
    statusEvidence,
  };
}

export type SealService = ReturnType<typeof createSealService>;

/**
 * SHA-256 of a stamped document: up to 1 MiB here (about a millisecond), larger ones through WebCrypto on
 * libuv's thread pool so a 50 MB result is not hashed on the event loop (a thread hop costs more than hashing
 * a small document).
 */
/** SM3 of a document, 1 MiB at a time with a turn of the event loop between chunks (no SM3 in WebCrypto). */
async function sm3Chunked(b: Buffer): Promise<Buffer> {
  if (b.length <= 1 << 20) return sm3(b);
  const h = crypto.createHash("sm3");
  for (let i = 0; i < b.length; i += 1 << 20) {
    h.update(b.subarray(i, i + (1 << 20)));
    await new Promise<void>((r) => setImmediate(r));
  }
  return h.digest();
}

async function sha256Hex(b: Buffer): Promise<string> {
  if (b.length <= 1 << 20) return crypto.createHash("sha256").update(b).digest("hex");
  return Buffer.from(await crypto.subtle.digest("SHA-256", b)).toString("hex");
}

/** Whether a certificate certifies an SM2 key (the seal belongs to the national profile). */
const sm2Certs = new Map<string, boolean>();
function isSm2Cert(der: Uint8Array): boolean {
  const k = crypto.createHash("sha256").update(der).digest("hex");
  let v = sm2Certs.get(k);
  if (v === undefined) {
    v = sm2PublicKeyFromSpki(parseCertificate(der).spki) !== null;
    if (sm2Certs.size >= 1024) sm2Certs.clear();
    sm2Certs.set(k, v);
  }
  return v;
}

/** The issuer Name DER of a certificate (for issuerAndSerialNumber). */
function parseIssuer(der: Uint8Array): Uint8Array {
  const tbs = children(readNode(Buffer.from(der)))[0]!;
  const f = children(tbs);
  const off = f[0]!.tag === 0xa0 ? 1 : 0;
  return bytesOf(f[off + 2]!);
}
