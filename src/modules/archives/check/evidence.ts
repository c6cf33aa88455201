/**
 * The package's own fixity evidence (DA/T 97 / evidence-record style): the detached CAdES signature over the tag
 * manifest with its RFC 3161 signature time-stamp, then `signature/renewal-<n>.tsr`, each a time-stamp over the
 * bytes of the evidence before it (renewal-1 over the .p7s, renewal-n over renewal-(n-1)). Verified with the trust
 * the caller configured; never throws.
 */
import crypto from "node:crypto";
import { parseSignedData, type ParsedSignedData } from "../../../pki/cms.js";
import type { CertInfo } from "../../../pki/reader.js";
import { checkMessageDigest, checkSigner, verifySignatureTimestamp, verifySignerChain } from "../../../pki/signer-info.js";
import { verifyTimestampToken, type TimestampVerification } from "../../../pki/tsa.js";
import type { Trust } from "./context.js";

export const SIGNATURE_PATH = "signature/tagmanifest-sha256.txt.p7s";
export const renewalPath = (n: number): string => `signature/renewal-${n}.tsr`;

export interface SignatureResult {
  /** Why the signature is not valid (null: valid). */
  problem: string | null;
  signer: CertInfo | null;
  /** The signature value (what its time-stamp is over). */
  signatureValue: Buffer | null;
  timestamp: TimestampVerification | null;
  timestampProblem: string | null;
}

/** Verifies the detached CMS `p7s` over `content`: digest, signature, ESS, chain at the time-stamp's time. */
export async function verifyPackageSignature(p7s: Buffer, content: Buffer, trust: Trust, now: Date): Promise<SignatureResult> {
  const out: SignatureResult = { problem: null, signer: null, signatureValue: null, timestamp: null, timestampProblem: null };
  let sd: ParsedSignedData;
  try {
    sd = parseSignedData(p7s);
  } catch (e) {
    out.problem = `not a CMS SignedData (truncated or not DER): ${(e as Error).message}`;
    out.timestampProblem = "no signature to time-stamp";
    return out;
  }
  const fail = (why: string) => {
    out.problem = why;
    if (!out.timestamp && !out.timestampProblem) out.timestampProblem = `no time-stamp can be read: ${why}`;
    return out;
  };
  if (sd.signerInfos.length !== 1) return fail(`${sd.signerInfos.length} signers (one expected)`);
  if (sd.eContent !== null) return fail("the CMS is not detached (it encapsulates content)");
  const si = sd.signerInfos[0]!;
  out.signatureValue = si.signature;
  // The time-stamp over the signature value (judged on its own: it dates this signature value, valid or not);
  // when it is valid, the signer's chain is judged at its time.
  let at = now;
  out.timestamp = await verifySignatureTimestamp(si, trust);
  if (!out.timestamp) out.timestampProblem = "the signature has no signature-time-stamp attribute";
  else if (out.timestamp.result === "VALID" && out.timestamp.genTime) at = out.timestamp.genTime;
  else out.timestampProblem = out.timestamp.checks.find((c) => c.status !== "PASSED")?.detail ?? "the time-stamp is not valid";
  const md = checkMessageDigest(si, (hname) => crypto.createHash(hname).update(content).digest());
  if (md.problem === "algorithm") return fail(`digest algorithm ${si.digestAlgorithm} is not accepted`);
  if (md.problem === "attribute") return fail("no (single) message-digest attribute");
  if (md.problem === "mismatch") return fail("the tag manifest was changed after signing: its digest does not match the signature's message-digest");
  const { certs, signer, problem } = checkSigner(sd, si, true);
  if (!signer) return fail("the signer's certificate is not in the CMS");
  out.signer = signer;
  if (problem === "signature") return fail(`the signature value does not verify with the certificate of ${signer.subject}`);
  if (problem === "no-ess") return fail("no signing-certificate-v2 attribute (CAdES requires it)");
  if (problem === "ess-mismatch") return fail("the signing-certificate attribute does not name the signer's certificate");
  const chain = await verifySignerChain(signer, certs, trust, at);
  if (chain.result !== "VALID") {
    const f = chain.checks.find((c) => c.status !== "PASSED");
    return fail(`the signer ${signer.subject} does not chain to a configured trust anchor at ${at.toISOString()}: ${f?.detail ?? chain.problem}`);
  }
  if (signer.keyUsage && !signer.keyUsage.usages.some((u) => u === "digitalSignature" || u === "nonRepudiation")) {
    return fail(`the certificate of ${signer.subject} may not sign (key usage ${signer.keyUsage.usages.join(", ")})`);
  }
  return out;
}

export interface RenewalResult {
  n: number;
  path: string;
  verification: TimestampVerification;
  problem: string | null;
}

/** The TSA certificate of a verified time-stamp (the first of its chain's path). */
export const tsaCertOf = (v: TimestampVerification | null): CertInfo | null => v?.chain?.path[0] ?? null;

/**
 * Verifies the renewal chain: renewal-n over the previous evidence, each valid, later than the one before, made
 * while the previous evidence's TSA certificate was still valid (otherwise the chain of evidence is broken).
 */
export async function verifyRenewals(tags: Map<string, Buffer>, first: TimestampVerification | null, trust: Trust): Promise<RenewalResult[]> {
  const out: RenewalResult[] = [];
  let prevBytes = tags.get(SIGNATURE_PATH);
  let prev = first;
  for (let n = 1; tags.has(renewalPath(n)); n++) {
    const path = renewalPath(n);
    const token = tags.get(path)!;
    const v = await verifyTimestampToken(token, prevBytes ?? Buffer.alloc(0), { anchors: trust.anchors, intermediates: trust.intermediates, knownTsaCerts: trust.knownTsaCerts });
    let problem: string | null = null;
    if (v.result !== "VALID" || !v.genTime) problem = v.checks.find((c) => c.status !== "PASSED")?.detail ?? "the time-stamp is not valid";
    else {
      const prevCert = tsaCertOf(prev);
      if (prev?.genTime && v.genTime < prev.genTime) problem = `its time ${v.genTime.toISOString()} is before the evidence it renews (${prev.genTime.toISOString()})`;
      else if (prevCert && v.genTime > prevCert.notAfter) problem = `made ${v.genTime.toISOString()}, after the previous time-stamp's certificate expired (${prevCert.notAfter.toISOString()})`;
    }
    out.push({ n, path, verification: v, problem });
    prevBytes = token;
    prev = v;
  }
  return out;
}
