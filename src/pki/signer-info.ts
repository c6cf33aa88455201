/**
 * The checks of one CMS SignerInfo that every verifier of a detached signature makes — PAdES (pdf/verify.ts), CAdES
 * (cades.ts) and the archive package's signature (modules/archives/check/evidence.ts): the message digest, the
 * signer's certificate with its signature value and ESS signing-certificate attribute, the signature time-stamp,
 * and the signer's chain. Each step says what it found; the caller words its verdict. None of them throws.
 */
import crypto from "node:crypto";
import { verifyChain, type ChainResult, type CheckStatus, type RevocationStatus } from "./chain.js";
import { cachedCertificate } from "./cache.js";
import { attr, attrCount, CMS_OID, DIGESTS, signingCertHashes, verifySignatureValue, type ParsedSignedData, type ParsedSignerInfo } from "./cms.js";
import { bytesOf, contentOf } from "./der.js";
import type { CertInfo } from "./reader.js";
import { verifyTimestampToken, type TimestampVerification } from "./tsa.js";

export interface SignerCheck {
  id: string;
  status: CheckStatus;
  detail: string;
}

/** What a verifier trusts: anchors, extra intermediates, TSA certificates, and (online) revocation. */
export interface SignerTrust {
  readonly anchors: readonly CertInfo[];
  readonly intermediates?: readonly CertInfo[];
  readonly knownTsaCerts?: readonly CertInfo[];
  readonly revocation?: (cert: CertInfo, issuer: CertInfo) => Promise<RevocationStatus> | RevocationStatus;
}

const ID_DATA = Buffer.from([0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01]);

export type DigestName = (typeof DIGESTS)[string];
export type DigestProblem = "algorithm" | "attribute" | "mismatch";

/**
 * The message-digest attribute (exactly one, in signed attributes) against the digest of the signed data, computed
 * by `digestOf` with the signer's digest algorithm. `hname` is absent when that algorithm is not accepted.
 */
export function checkMessageDigest(si: ParsedSignerInfo, digestOf: (hname: DigestName) => Buffer): { hname?: DigestName; problem: DigestProblem | null } {
  const hname = DIGESTS[si.digestAlgorithm];
  if (!hname) return { problem: "algorithm" };
  const md = attr(si, CMS_OID.messageDigest);
  if (!si.signedAttrsDer || !md || attrCount(si, CMS_OID.messageDigest) !== 1) return { hname, problem: "attribute" };
  return { hname, problem: contentOf(md).equals(digestOf(hname)) ? null : "mismatch" };
}

/** Whether the signed content-type attribute says id-data (`single`: and stands once). */
export function contentTypeIsData(si: ParsedSignerInfo, single: boolean): boolean {
  const ct = attr(si, CMS_OID.contentType);
  return !!ct && (!single || attrCount(si, CMS_OID.contentType) === 1) && contentOf(ct).equals(ID_DATA);
}

export type SignerProblem = "no-signer" | "signature" | "no-ess" | "ess-mismatch";

/**
 * The signer's certificate among those the CMS embeds (by issuer and serial, or subject key identifier), the
 * signature value over the signed attributes, and the ESS signing-certificate attribute naming that certificate
 * (`essRequired`: it must be there). `certs` are the embedded certificates that parse (for the chain).
 */
export function checkSigner(sd: ParsedSignedData, si: ParsedSignerInfo, essRequired: boolean): { certs: CertInfo[]; signer: CertInfo | null; problem: SignerProblem | null } {
  const certs = sd.certificates.flatMap((x) => {
    try {
      return [cachedCertificate(x)];
    } catch {
      return [];
    }
  });
  const signer = certs.find((x) => ("serial" in si.sid ? x.serial === si.sid.serial && Buffer.from(x.issuerDer).equals(si.sid.issuerDer) : x.subjectKeyId === si.sid.ski)) ?? null;
  if (!signer) return { certs, signer, problem: "no-signer" };
  if (!si.signedAttrsDer || !verifySignatureValue(si.signatureAlgorithm, si.digestAlgorithm, signer.spki, si.signedAttrsDer, si.signature)) {
    return { certs, signer, problem: "signature" };
  }
  const ess = signingCertHashes(si);
  if (ess.length === 0) return { certs, signer, problem: essRequired ? "no-ess" : null };
  if (!ess.some((h) => crypto.createHash(DIGESTS[h.alg] ?? "sha1").update(signer.der).digest().equals(h.hash))) {
    return { certs, signer, problem: "ess-mismatch" };
  }
  return { certs, signer, problem: null };
}

/** The signature time-stamp token (unsigned attribute) verified over the signature value; null when there is none. */
export async function verifySignatureTimestamp(si: ParsedSignerInfo, trust: SignerTrust): Promise<TimestampVerification | null> {
  const ts = si.unsignedAttrs.find((x) => x.type === CMS_OID.signatureTimeStampToken);
  if (!ts || !ts.values[0]) return null;
  return verifyTimestampToken(Buffer.from(bytesOf(ts.values[0])), si.signature, {
    anchors: trust.anchors, intermediates: trust.intermediates ?? [], knownTsaCerts: trust.knownTsaCerts ?? [],
  });
}

/** The `timestamp` check of a verified time-stamp, and the time it proves (null unless valid). */
export function timestampCheck(tv: TimestampVerification): { check: SignerCheck; at: Date | null } {
  if (tv.result === "VALID" && tv.genTime) {
    return { check: { id: "timestamp", status: "PASSED", detail: `time-stamped ${tv.genTime.toISOString()} by ${tv.tsa}` }, at: tv.genTime };
  }
  const f = tv.checks.find((x) => x.status !== "PASSED");
  return { check: { id: "timestamp", status: tv.result === "INVALID" ? "FAILED" : "INDETERMINATE", detail: f?.detail ?? "the time-stamp is not valid" }, at: null };
}

/** The signer's chain at `at`, through the CMS's certificates and the trusted intermediates. */
export function verifySignerChain(signer: CertInfo, certs: readonly CertInfo[], trust: SignerTrust, at: Date): Promise<ChainResult> {
  return verifyChain({
    leaf: signer,
    intermediates: [...certs, ...(trust.intermediates ?? [])],
    anchors: trust.anchors,
    at,
    ...(trust.revocation ? { revocation: trust.revocation } : {}),
  });
}

/** The `certificate` check of a chain verified at `at`. */
export function certificateCheck(chain: ChainResult, at: Date, revocationChecked: boolean): SignerCheck {
  if (chain.result === "VALID") {
    return { id: "certificate", status: "PASSED", detail: `chains to ${chain.path[chain.path.length - 1]!.subject} at ${at.toISOString()}${revocationChecked ? ", not revoked" : " (revocation not checked offline)"}` };
  }
  const f = chain.checks.find((x) => x.status !== "PASSED");
  return { id: "certificate", status: chain.result === "INVALID" ? "FAILED" : "INDETERMINATE", detail: f?.detail ?? String(chain.problem) };
}
