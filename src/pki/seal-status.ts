/**
 * Seal-status evidence (印章状态证明): what an offline verifier needs to judge a Sidian seal's status at a signing
 * time, signed by the CA that issued the seal's certificate — the same key and the same role as its CRL (RFC 5280
 * cRLSign), so no new trust anchor and no new key.
 *
 * Wire form: a CMS SignedData (RFC 5652, DER) whose encapsulated content (type SEAL_STATUS_CONTENT_OID) is the UTF-8
 * JSON statement below, signed attributes content-type + message-digest + ESS signing-certificate-v2, the issuing CA
 * certificate embedded. `openssl cms -verify -inform DER -in e.p7s -CAfile trust-bundle.pem -purpose any` checks it
 * and prints the statement. It travels two ways:
 *   - in every Sidian stamp, as an unsigned attribute (SEAL_STATUS_ATTR_OID) of the stamp's CMS, made right after the
 *     signature time-stamp (the status at signing time: PAdES "long-term" validation data, like an embedded CRL);
 *   - as a file from `GET /seals/:id/status-evidence`, for `sidian verify --status FILE` (current status, e.g. for a
 *     signature made with the seal's key by another tool, or to learn a revocation).
 *
 * A seal's history is append-only and never back-dated (a status change takes effect when it is made), so a
 * statement produced at P answers definitively for any time ≤ P; for a later time it stands, like a CRL, until its
 * nextUpdate and no longer (stale: INDETERMINATE). A final revocation stands whatever the statement's age.
 */
import crypto from "node:crypto";
import { AppError } from "../errors.js";
import { attribute, buildSignedData, CMS_OID, DIGESTS, parseSignedData, signingCertHashes, verifySignatureValue } from "./cms.js";
import { contentOf, DerError, readNode, readOid } from "./der.js";
import type { CertInfo } from "./reader.js";
import type { CaSigner } from "./x509.js";

/** 2.25.<UUID 4c96e223-a595-4902-8d15-4cc3e26b1d12>: content type of a seal-status statement. */
export const SEAL_STATUS_CONTENT_OID = "2.25.101804758857235445109193908739717668114";
/** 2.25.<UUID 2c27ba7a-58a4-4eb6-aa97-5ba838b160dc>: unsigned CMS attribute of a stamp carrying its seal-status evidence. */
export const SEAL_STATUS_ATTR_OID = "2.25.58692313613474579049108885576168333532";
/** Evidence files larger than this are not read (a statement with thousands of status changes is ~100 KiB). */
export const SEAL_STATUS_MAX_BYTES = 1024 * 1024;
const MAX_EVENTS = 10_000;

export type SealStatusValue = "active" | "suspended" | "revoked";

export interface SealStatusStatement {
  readonly v: 1;
  readonly type: "sidian-seal-status";
  readonly sealId: string;
  /** The seal certificate: serial (lower-case hex) and SHA-256 of its DER. */
  readonly certSerial: string;
  readonly certSha256: string;
  readonly validFrom: string;
  readonly validTo: string;
  /** Status changes, oldest first; each holds from its `at` until the next. Complete from `events[0].at` to `producedAt`. */
  readonly events: ReadonlyArray<{ readonly status: SealStatusValue; readonly at: string; readonly reason: string | null }>;
  /** The seal certificate's revocation, when revoked by `producedAt`. */
  readonly certificateRevokedAt: string | null;
  readonly producedAt: string;
  /** Until when the statement stands for times after `producedAt`. */
  readonly nextUpdate: string;
}

export interface StatementInput {
  sealId: string;
  cert: { serial: string; sha256: string };
  validFrom: Date;
  validTo: Date;
  events: ReadonlyArray<{ status: SealStatusValue; at: Date; reason: string | null }>;
  certificateRevokedAt: Date | null;
  producedAt: Date;
  nextUpdate: Date;
}

export function statementOf(i: StatementInput): SealStatusStatement {
  return {
    v: 1, type: "sidian-seal-status", sealId: i.sealId, certSerial: i.cert.serial, certSha256: i.cert.sha256,
    validFrom: i.validFrom.toISOString(), validTo: i.validTo.toISOString(),
    events: i.events.map((e) => ({ status: e.status, at: e.at.toISOString(), reason: e.reason })),
    certificateRevokedAt: i.certificateRevokedAt ? i.certificateRevokedAt.toISOString() : null,
    producedAt: i.producedAt.toISOString(), nextUpdate: i.nextUpdate.toISOString(),
  };
}

/**
 * The CMS (DER) of a statement, signed by the issuing CA that issued the seal's certificate: SHA-256 and ECDSA for
 * the P-256 CA, SM3 and SM3withSM2 for the SM2 CA (the profile follows the CA's key, DESIGN rule 11).
 */
export async function signSealStatus(stmt: SealStatusStatement, ca: { cert: CertInfo; signer: CaSigner }): Promise<Buffer> {
  const content = Buffer.from(JSON.stringify(stmt), "utf8");
  const sm2 = ca.signer.algorithm === "SM2";
  return buildSignedData({
    eContentType: SEAL_STATUS_CONTENT_OID,
    eContent: content,
    contentDigest: crypto.createHash(sm2 ? "sm3" : "sha256").update(content).digest(),
    ...(sm2 ? { profile: "sm2" as const } : {}),
    signer: { der: ca.cert.der, issuerDer: ca.cert.issuerDer, serial: ca.cert.serial },
    certificates: [ca.cert.der],
    sign: (data) => ca.signer.sign(data),
  });
}

/** The unsigned attribute that carries the evidence in a stamp's CMS. */
export const sealStatusAttribute = (evidence: Uint8Array): Buffer => attribute(SEAL_STATUS_ATTR_OID, evidence);

/** Accepts DER or PEM (`-----BEGIN CMS-----` / `PKCS7`); throws STATUS_EVIDENCE_INVALID when it is neither. */
export function evidenceBytes(raw: Buffer, source: string): Buffer {
  if (raw.length > SEAL_STATUS_MAX_BYTES) throw new AppError("STATUS_EVIDENCE_INVALID", `${source} is larger than ${SEAL_STATUS_MAX_BYTES} bytes; it is not seal-status evidence.`);
  const text = raw.subarray(0, 64).toString("latin1");
  let der = raw;
  if (text.startsWith("-----BEGIN ")) {
    const m = /^-----BEGIN (CMS|PKCS7)-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END \1-----\s*$/.exec(raw.toString("latin1"));
    if (!m) throw new AppError("STATUS_EVIDENCE_INVALID", `${source} is PEM but not one CMS block.`);
    der = Buffer.from(m[2]!.replace(/\s+/g, ""), "base64");
  }
  try {
    const sd = parseSignedData(der);
    if (sd.eContentType !== SEAL_STATUS_CONTENT_OID) throw new DerError("not a seal-status statement (content type)");
  } catch (e) {
    throw new AppError("STATUS_EVIDENCE_INVALID", `${source} is not seal-status evidence (a CMS from GET /seals/ID/status-evidence): ${(e as Error).message}.`);
  }
  return der;
}

/** Evidence embedded in a CMS signer's unsigned attributes (DER ContentInfo values). */
export function embeddedEvidence(unsignedAttrs: ReadonlyArray<{ type: string; values: ReadonlyArray<{ buf: Buffer; start: number; end: number }> }>): Buffer[] {
  return unsignedAttrs.filter((a) => a.type === SEAL_STATUS_ATTR_OID).flatMap((a) => a.values.map((v) => Buffer.from(v.buf.subarray(v.start, v.end))));
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;
const isTime = (x: unknown): x is string => typeof x === "string" && ISO.test(x) && !Number.isNaN(Date.parse(x));

function parseStatement(json: Buffer): SealStatusStatement {
  let o: unknown;
  try {
    o = JSON.parse(json.toString("utf8"));
  } catch {
    throw new Error("the statement is not JSON");
  }
  const s = o as Record<string, unknown>;
  if (!s || typeof s !== "object" || s.v !== 1 || s.type !== "sidian-seal-status") throw new Error("the statement is not a version-1 seal-status statement");
  for (const k of ["sealId", "certSerial", "certSha256"]) if (typeof s[k] !== "string") throw new Error(`the statement has no ${k}`);
  for (const k of ["validFrom", "validTo", "producedAt", "nextUpdate"]) if (!isTime(s[k])) throw new Error(`the statement's ${k} is not a UTC time`);
  if (s.certificateRevokedAt !== null && !isTime(s.certificateRevokedAt)) throw new Error("the statement's certificateRevokedAt is not a UTC time");
  const ev = s.events;
  if (!Array.isArray(ev) || ev.length === 0 || ev.length > MAX_EVENTS) throw new Error("the statement's events are missing or too many");
  let prev = -Infinity;
  for (const e of ev as Array<Record<string, unknown>>) {
    if (!e || typeof e !== "object" || !["active", "suspended", "revoked"].includes(e.status as string) || !isTime(e.at) || (e.reason !== null && typeof e.reason !== "string")) {
      throw new Error("the statement has a malformed event");
    }
    const t = Date.parse(e.at);
    if (t < prev) throw new Error("the statement's events are not in time order");
    prev = t;
  }
  if (prev > Date.parse(s.producedAt as string)) throw new Error("the statement has an event after its producedAt");
  return s as unknown as SealStatusStatement;
}

/**
 * Checks evidence (DER CMS) as signed by `issuer` (the CA certificate that issued the seal certificate, from the
 * validated path) and returns its statement, or why it cannot be used.
 */
export function readSealStatus(der: Buffer, issuer: CertInfo): { statement: SealStatusStatement } | { problem: string } {
  try {
    if (der.length > SEAL_STATUS_MAX_BYTES) return { problem: "larger than the limit" };
    const n = readNode(der);
    const sd = parseSignedData(der.subarray(0, n.end));
    if (sd.eContentType !== SEAL_STATUS_CONTENT_OID || !sd.eContent) return { problem: "not a seal-status statement" };
    if (sd.signerInfos.length !== 1) return { problem: "not exactly one signer" };
    const si = sd.signerInfos[0]!;
    const bySerial = "serial" in si.sid && si.sid.serial === issuer.serial && Buffer.from(issuer.issuerDer).equals(si.sid.issuerDer);
    const byKeyId = "ski" in si.sid && si.sid.ski === issuer.subjectKeyId;
    if (!bySerial && !byKeyId) return { problem: `not signed by ${issuer.subject}, which issued the seal's certificate` };
    const hname = DIGESTS[si.digestAlgorithm];
    if (!hname || !si.signedAttrsDer) return { problem: "no accepted digest or no signed attributes" };
    const md = si.signedAttrs.filter((a) => a.type === CMS_OID.messageDigest);
    const ct = si.signedAttrs.filter((a) => a.type === CMS_OID.contentType);
    if (md.length !== 1 || md[0]!.values.length !== 1 || !contentOf(md[0]!.values[0]!).equals(crypto.createHash(hname).update(sd.eContent).digest())) {
      return { problem: "the statement does not match its signed digest" };
    }
    if (ct.length !== 1 || ct[0]!.values.length !== 1 || readOid(ct[0]!.values[0]!) !== SEAL_STATUS_CONTENT_OID) return { problem: "the signed content type is not a seal-status statement" };
    const ess = signingCertHashes(si);
    if (ess.length && !ess.some((h) => crypto.createHash(DIGESTS[h.alg] ?? "sha1").update(issuer.der).digest().equals(h.hash))) {
      return { problem: "the signing-certificate attribute names another certificate" };
    }
    if (!verifySignatureValue(si.signatureAlgorithm, si.digestAlgorithm, issuer.spki, si.signedAttrsDer, si.signature)) return { problem: "the CA signature does not verify" };
    return { statement: parseStatement(sd.eContent) };
  } catch (e) {
    return { problem: (e as Error).message };
  }
}

export interface SealJudgement {
  readonly status: "PASSED" | "FAILED" | "INDETERMINATE";
  readonly detail: string;
}

/**
 * The seal's status at `at` according to a statement (already checked to be about this seal and certificate).
 * `now` decides whether a statement older than `at` still stands (≤ nextUpdate).
 */
export function judgeSealStatus(stmt: SealStatusStatement, at: Date, now: Date): SealJudgement {
  const t = at.getTime();
  const produced = Date.parse(stmt.producedAt);
  const events = stmt.events;
  const first = Date.parse(events[0]!.at);
  const src = `status evidence produced ${stmt.producedAt}`;
  const revokedCert = stmt.certificateRevokedAt !== null && Date.parse(stmt.certificateRevokedAt) <= t;
  if (revokedCert) return { status: "FAILED", detail: `seal ${stmt.sealId}: its certificate was revoked at ${stmt.certificateRevokedAt}, before ${at.toISOString()} (${src})` };
  const last = events[events.length - 1]!;
  if (last.status === "revoked" && Date.parse(last.at) <= t) {
    return { status: "FAILED", detail: `seal ${stmt.sealId} was revoked at ${last.at}${last.reason ? ` (${last.reason})` : ""}, before ${at.toISOString()} (${src})` };
  }
  if (t < first) return { status: "INDETERMINATE", detail: `seal ${stmt.sealId}: the ${src} covers only from ${events[0]!.at}, not ${at.toISOString()}` };
  if (t > produced && now.getTime() > Date.parse(stmt.nextUpdate)) {
    return { status: "INDETERMINATE", detail: `seal ${stmt.sealId}: the ${src} is stale (it stood until ${stmt.nextUpdate}) and says nothing about ${at.toISOString()}; fetch current evidence (GET /seals/${stmt.sealId}/status-evidence) and pass it with --status` };
  }
  let cur = events[0]!;
  for (const e of events) if (Date.parse(e.at) <= t) cur = e;
  if (cur.status !== "active") {
    return { status: "FAILED", detail: `seal ${stmt.sealId} was ${cur.status} at ${at.toISOString()}${cur.reason ? ` (${cur.reason})` : ""} (${src})` };
  }
  if (t < Date.parse(stmt.validFrom) || t > Date.parse(stmt.validTo)) {
    return { status: "FAILED", detail: `seal ${stmt.sealId} was outside its validity (${stmt.validFrom} – ${stmt.validTo}) at ${at.toISOString()} (${src})` };
  }
  const how = t <= produced ? "" : `, current until ${stmt.nextUpdate}`;
  return { status: "PASSED", detail: `seal ${stmt.sealId} was active at ${at.toISOString()} (${src}${how}, signed by the issuing CA)` };
}

