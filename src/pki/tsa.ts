/**
 * RFC 3161 time-stamping: the internal TSA (signs with `material.tsa`) and a token verifier.
 *
 * - `createTsa(...).stamp(hashAlg, digest, opts)` returns a TimeStampToken (ContentInfo SignedData over TSTInfo),
 *   used in-process by PAdES B-T stamping;
 * - `respond(reqDer)` answers a DER TimeStampReq with a DER TimeStampResp (POST /tsa, `application/timestamp-query`
 *   → `application/timestamp-reply`), rejecting bad requests with PKIStatus rejection and a failInfo;
 * - `verifyTimestampToken` checks a token against an expected message imprint and Sidian's trust anchors.
 *
 * Tokens carry ESS signing-certificate-v2 (RFC 5816) and, when asked (`certReq`), the TSA certificate and the
 * issuing CA. Policy: TSA_POLICY_OID (a UUID-based OID, X.667). Accuracy: 1 second; genTime has milliseconds.
 */
import crypto from "node:crypto";
import { buildSignedData, CMS_OID, DIGESTS, encodeSigner, parseSignedData, attr, signingCertHashes, verifySignatureValue } from "./cms.js";
import {
  algId, children, contentOf, DerError, expectTag, generalizedTime, integer, octets, oid, readNode, readOid, readTime,
  seq, tlv, utf8, type Node,
} from "./der.js";
import { verifyChain, type ChainResult } from "./chain.js";
import type { KeyMaterial } from "./material.js";
import { OID } from "./profiles.js";
import type { CertInfo } from "./reader.js";
import { cachedCertificate } from "./cache.js";

/** 2.25.<UUID 5f1f6e2a-0c3b-4b8e-9b5a-2d6c1e0f7a31 as an integer>: Sidian's time-stamp policy. */
export const TSA_POLICY_OID = `2.25.${BigInt("0x5f1f6e2a0c3b4b8e9b5a2d6c1e0f7a31").toString()}`;

export interface TimestampRequest {
  readonly hashAlg: string;
  readonly digest: Buffer;
  readonly nonce?: Buffer;
  readonly certReq: boolean;
  readonly policy?: string;
}

export class TsaRequestError extends Error {
  override readonly name = "TsaRequestError";
  /** PKIFailureInfo bit: 0 badAlg, 2 badRequest, 5 badDataFormat, 15 unacceptedPolicy. */
  constructor(message: string, readonly failBit: number) {
    super(message);
  }
}

/** Parses a DER TimeStampReq. Throws TsaRequestError with the RFC 3161 failure bit. */
export function parseTimestampRequest(der: Buffer): TimestampRequest {
  let f: Node[];
  try {
    const n = readNode(der);
    if (n.tag !== 0x30 || n.end !== der.length) throw new DerError("not one SEQUENCE");
    f = children(n);
  } catch (e) {
    // Only the reader's own messages reach the client (as the PKIStatusInfo text), never a runtime error's.
    throw new TsaRequestError(e instanceof DerError ? `not a DER TimeStampReq (${e.message})` : "not a DER TimeStampReq", 5);
  }
  try {
    if (contentOf(expectTag(f[0], 0x02, "version")).toString("hex") !== "01") throw new TsaRequestError("version must be 1", 2);
    const mi = children(expectTag(f[1], 0x30, "messageImprint"));
    const hashAlg = readOid(children(expectTag(mi[0], 0x30, "hashAlgorithm"))[0]!);
    const digest = contentOf(expectTag(mi[1], 0x04, "hashedMessage"));
    const name = DIGESTS[hashAlg];
    if (!name) throw new TsaRequestError(`hash algorithm ${hashAlg} is not accepted (SHA-256/384/512 only)`, 0);
    if (digest.length !== crypto.createHash(name).digest().length) throw new TsaRequestError("hashedMessage length does not match the hash algorithm", 5);
    let i = 2;
    let policy: string | undefined;
    let nonce: Buffer | undefined;
    let certReq = false;
    if (f[i]?.tag === 0x06) policy = readOid(f[i++]!);
    if (f[i]?.tag === 0x02) nonce = contentOf(f[i++]!);
    if (f[i]?.tag === 0x01) certReq = contentOf(f[i++]!)[0] !== 0;
    if (f[i]?.tag === 0xa0) throw new TsaRequestError("request extensions are not supported", 16);
    if (i !== f.length) throw new TsaRequestError("unexpected fields in the request", 5);
    if (policy !== undefined && policy !== TSA_POLICY_OID) throw new TsaRequestError(`policy ${policy} is not offered`, 15);
    return { hashAlg, digest, certReq, ...(nonce ? { nonce } : {}), ...(policy ? { policy } : {}) };
  } catch (e) {
    if (e instanceof TsaRequestError) throw e;
    throw new TsaRequestError(e instanceof DerError ? `malformed TimeStampReq (${e.message})` : "malformed TimeStampReq", 5);
  }
}

export interface Tsa {
  readonly cert: CertInfo;
  /** A TimeStampToken (DER ContentInfo) over `digest`. */
  stamp(hashAlg: string, digest: Uint8Array, opts?: { nonce?: Uint8Array; certReq?: boolean }): Promise<{ token: Buffer; genTime: Date; serial: string }>;
  /** DER TimeStampResp for a DER TimeStampReq (never throws for a bad request: it answers with a rejection). */
  respond(reqDer: Buffer): Promise<{ der: Buffer; granted: boolean; error?: string }>;
}

function statusInfo(status: number, text?: string, failBit?: number): Buffer {
  const parts = [integer(status)];
  if (text) parts.push(seq(utf8(text)));
  if (failBit !== undefined) {
    // BIT STRING, named bits: minimal length, unused bits in the first content octet.
    const nbytes = Math.floor(failBit / 8) + 1;
    const bytes = Buffer.alloc(nbytes);
    bytes[Math.floor(failBit / 8)] = 0x80 >> (failBit % 8);
    const unused = 7 - (failBit % 8);
    parts.push(tlv(0x03, Buffer.concat([Buffer.from([unused]), bytes])));
  }
  return seq(...parts);
}

/**
 * The internal TSA. `profile: "sm2"` with the SM2 hierarchy's TSA (`material.sm2`): tokens signed with SM3withSM2,
 * SM3 signed-attribute digests; the imprint is whatever the request names (SM3 for SM2 stamps).
 */
export function createTsa(deps: { material: Pick<KeyMaterial, "tsa" | "issuingCa">; clock: { now(): Date }; profile?: "p256" | "sm2" }): Tsa {
  const { tsa, issuingCa } = deps.material;
  const sm2 = deps.profile === "sm2";
  const signerCert = { der: tsa.cert.der, issuerDer: tsa.cert.issuerDer, serial: tsa.cert.serial };
  const sign = (data: Buffer) => tsa.signingKey.sign(data, "der");
  // The certificate-dependent parts of every token, with and without the certificates (certReq).
  const withCerts = encodeSigner(signerCert, [tsa.cert.der, issuingCa.cert.der]);
  const withoutCerts = encodeSigner(signerCert, []);
  const accuracy = seq(integer(1));

  async function stamp(hashAlg: string, digest: Uint8Array, opts: { nonce?: Uint8Array; certReq?: boolean } = {}) {
    const genTime = deps.clock.now();
    const serialBytes = crypto.randomBytes(16);
    serialBytes[0] = (serialBytes[0]! & 0x7f) | 0x40;
    const tstInfo = seq(
      integer(1),
      oid(TSA_POLICY_OID),
      seq(algId(hashAlg), octets(digest)),
      integer(serialBytes),
      generalizedTime(genTime),
      accuracy,
      ...(opts.nonce ? [tlv(0x02, opts.nonce)] : []),
    );
    const token = await buildSignedData({
      eContentType: CMS_OID.tstInfo,
      eContent: tstInfo,
      contentDigest: crypto.createHash(sm2 ? "sm3" : "sha256").update(tstInfo).digest(),
      encoded: opts.certReq === false ? withoutCerts : withCerts,
      sign,
      ...(sm2 ? { profile: "sm2" as const } : {}),
    });
    return { token, genTime, serial: serialBytes.toString("hex") };
  }

  return {
    cert: tsa.cert,
    stamp,
    async respond(reqDer) {
      let req: TimestampRequest;
      try {
        req = parseTimestampRequest(reqDer);
      } catch (e) {
        const te = e instanceof TsaRequestError ? e : new TsaRequestError("malformed request", 5);
        return { der: seq(statusInfo(2, te.message, te.failBit)), granted: false, error: te.message };
      }
      const { token } = await stamp(req.hashAlg, req.digest, { ...(req.nonce ? { nonce: req.nonce } : {}), certReq: req.certReq });
      return { der: seq(statusInfo(0), token), granted: true };
    },
  };
}

// ------------------------------------------------------------------------------------------- verification

export interface TimestampCheck {
  readonly id: string;
  readonly status: "PASSED" | "FAILED" | "INDETERMINATE";
  readonly detail: string;
}

export interface TimestampVerification {
  readonly result: "VALID" | "INVALID" | "INDETERMINATE";
  readonly genTime: Date | null;
  readonly tsa: string | null;
  readonly checks: TimestampCheck[];
  readonly chain?: ChainResult;
}

export interface VerifyTimestampOptions {
  readonly anchors: readonly CertInfo[];
  readonly intermediates?: readonly CertInfo[];
  /** Certificates to use when the token carries none (e.g. Sidian's own TSA certificate). */
  readonly knownTsaCerts?: readonly CertInfo[];
}

/** Verifies a TimeStampToken over `data` (the message imprint must be its hash). Never throws. */
export async function verifyTimestampToken(token: Buffer, data: Buffer, opts: VerifyTimestampOptions): Promise<TimestampVerification> {
  const checks: TimestampCheck[] = [];
  const out = (result: TimestampVerification["result"], genTime: Date | null, tsa: string | null, chain?: ChainResult): TimestampVerification =>
    ({ result, genTime, tsa, checks, ...(chain ? { chain } : {}) });
  try {
    const sd = parseSignedData(token);
    if (sd.eContentType !== CMS_OID.tstInfo || !sd.eContent || sd.signerInfos.length !== 1) {
      checks.push({ id: "timestamp-format", status: "FAILED", detail: "not a time-stamp token (TSTInfo SignedData with one signer)" });
      return out("INVALID", null, null);
    }
    const tst = children(expectTag(readNode(sd.eContent), 0x30, "TSTInfo"));
    const mi = children(tst[2]!);
    const hashAlg = readOid(children(mi[0]!)[0]!);
    const imprint = contentOf(mi[1]!);
    const genTime = readTime(tst[4]!);
    const hname = DIGESTS[hashAlg];
    if (!hname) {
      checks.push({ id: "timestamp-imprint", status: "FAILED", detail: `imprint hash algorithm ${hashAlg} is not accepted` });
      return out("INVALID", genTime, null);
    }
    if (!crypto.createHash(hname).update(data).digest().equals(imprint)) {
      checks.push({ id: "timestamp-imprint", status: "FAILED", detail: "the time-stamp is not over this signature value" });
      return out("INVALID", genTime, null);
    }
    checks.push({ id: "timestamp-imprint", status: "PASSED", detail: `time-stamp imprint (${hname}) matches the signature value; time ${genTime.toISOString()}` });
    const si = sd.signerInfos[0]!;
    const certs = [...sd.certificates.map((c) => cachedCertificate(c)), ...(opts.knownTsaCerts ?? [])];
    const signer = certs.find((c) => ("serial" in si.sid ? c.serial === si.sid.serial && Buffer.from(c.issuerDer).equals(si.sid.issuerDer) : c.subjectKeyId === si.sid.ski));
    if (!signer) {
      checks.push({ id: "timestamp-signature", status: "INDETERMINATE", detail: "the TSA certificate is not in the token and not known" });
      return out("INDETERMINATE", genTime, null);
    }
    const md = attr(si, CMS_OID.messageDigest);
    const ctype = attr(si, CMS_OID.contentType);
    const dname = DIGESTS[si.digestAlgorithm];
    const digestOk = md && dname && contentOf(md).equals(crypto.createHash(dname).update(sd.eContent).digest());
    const ctOk = ctype && readOid(ctype) === CMS_OID.tstInfo;
    const essOk = signingCertHashes(si).some((h) => DIGESTS[h.alg] && crypto.createHash(DIGESTS[h.alg]!).update(signer.der).digest().equals(h.hash))
      || signingCertHashes(si).some((h) => h.alg === CMS_OID.sha1 && crypto.createHash("sha1").update(signer.der).digest().equals(h.hash));
    const sigOk = si.signedAttrsDer !== null && verifySignatureValue(si.signatureAlgorithm, si.digestAlgorithm, signer.spki, si.signedAttrsDer, si.signature);
    if (!digestOk || !ctOk || !sigOk || !essOk) {
      const why = !digestOk ? "message digest does not match TSTInfo" : !ctOk ? "content-type attribute is not TSTInfo" : !essOk ? "signing-certificate attribute does not name the TSA certificate" : "TSA signature does not verify";
      checks.push({ id: "timestamp-signature", status: "FAILED", detail: why });
      return out("INVALID", genTime, signer.subject);
    }
    checks.push({ id: "timestamp-signature", status: "PASSED", detail: `signed by ${signer.subject}` });
    const chain = await verifyChain({
      leaf: signer,
      intermediates: [...certs, ...(opts.intermediates ?? [])],
      anchors: opts.anchors,
      at: genTime,
      extKeyUsage: OID.kpTimeStamping,
    });
    if (chain.result !== "VALID") {
      const f = chain.checks.find((c) => c.status !== "PASSED");
      checks.push({ id: "timestamp-chain", status: chain.result === "INVALID" ? "FAILED" : "INDETERMINATE", detail: `TSA certificate: ${f?.detail ?? chain.problem}` });
      return out(chain.result, genTime, signer.subject, chain);
    }
    checks.push({ id: "timestamp-chain", status: "PASSED", detail: "the TSA certificate chains to a trust anchor and may time-stamp" });
    return out("VALID", genTime, signer.subject, chain);
  } catch (e) {
    checks.push({ id: "timestamp-format", status: "FAILED", detail: `the time-stamp token cannot be parsed: ${(e as Error).message}` });
    return out("INVALID", null, null);
  }
}

