/**
 * Detached CAdES (ETSI EN 319 122-1 baseline B-T) over any bytes: the signature of an ASiC-E manifest, of a case
 * package's tag manifest, of anything that is not a PDF. Built from the same parts as PAdES stamping (cms.ts
 * SignedData with content-type, message-digest and ESS signing-certificate-v2; an RFC 3161 signature-time-stamp
 * from the TSA as an unsigned attribute), and verified per concern like the PDF verifier: one check each for
 * `contents`, `digest`, `signature`, `timestamp`, `certificate` (DESIGN rule 4: never throws).
 *
 * `openssl cms -verify -binary -inform DER -in sig.p7s -content data -CAfile trust-bundle.pem` accepts what
 * `signDetached` makes (test/containers/asic.test.ts runs it).
 */
import crypto from "node:crypto";
import type { CheckStatus, RevocationStatus } from "./chain.js";
import { cachedCertificate } from "./cache.js";
import { attribute, buildSignedData, CMS_OID, encodeSigner, parseSignedData, type EncodedSigner, type ParsedSignedData } from "./cms.js";
import { readNode } from "./der.js";
import type { CertInfo } from "./reader.js";
import {
  certificateCheck, checkMessageDigest, checkSigner, contentTypeIsData, timestampCheck, verifySignatureTimestamp, verifySignerChain, type SignerCheck,
} from "./signer-info.js";
import type { Tsa } from "./tsa.js";

export interface CadesSigner {
  /** Signer certificate first, then its chain (issuing CA, root): all embedded. */
  readonly certificates: readonly Uint8Array[];
  /** DER ECDSA-Sig-Value over the signed attributes (ecdsa-with-SHA256), wherever the key is (key store, HSM). */
  sign(data: Buffer): Promise<Uint8Array> | Uint8Array;
}

/** Encodes a signer's certificate-dependent parts once (see cms.ts EncodedSigner). */
export function cadesSignerParts(certificates: readonly Uint8Array[]): EncodedSigner {
  const leaf = cachedCertificate(certificates[0]!);
  return encodeSigner({ der: leaf.der, issuerDer: leaf.issuerDer, serial: leaf.serial }, certificates);
}

/**
 * A detached CAdES-B-T signature (DER ContentInfo) over `content` (SHA-256), time-stamped by `tsa` (omit for B-B).
 */
export async function signDetached(content: Uint8Array, signer: CadesSigner, tsa?: Tsa, encoded?: EncodedSigner): Promise<{ cms: Buffer; timestampAt: Date | null }> {
  let timestampAt: Date | null = null;
  const cms = await buildSignedData({
    eContentType: CMS_OID.data,
    contentDigest: crypto.createHash("sha256").update(content).digest(),
    encoded: encoded ?? cadesSignerParts(signer.certificates),
    sign: (d) => signer.sign(d),
    ...(tsa ? {
      unsignedAttrs: async (sv: Buffer) => {
        const t = await tsa.stamp(CMS_OID.sha256, crypto.createHash("sha256").update(sv).digest(), { certReq: true });
        timestampAt = t.genTime;
        return [attribute(CMS_OID.signatureTimeStampToken, t.token)];
      },
    } : {}),
  });
  return { cms, timestampAt };
}

export type CadesStatus = CheckStatus;
export type CadesCheck = SignerCheck;
export interface CadesVerdict {
  result: "VALID" | "INVALID" | "INDETERMINATE";
  checks: CadesCheck[];
  signer: { subject: string; serial: string; sha256: string } | null;
  /** From a valid signature time-stamp. */
  timestampTime: string | null;
}

export interface VerifyCadesDeps {
  readonly anchors: readonly CertInfo[];
  readonly intermediates?: readonly CertInfo[];
  readonly knownTsaCerts?: readonly CertInfo[];
  readonly revocation?: (cert: CertInfo, issuer: CertInfo) => Promise<RevocationStatus> | RevocationStatus;
  /** `required` (default): a missing signature time-stamp is a failure (B-T expected); `optional`: B-B accepted. */
  readonly timestamp?: "required" | "optional";
  readonly now: () => Date;
}

const worst = (checks: CadesCheck[]): CadesVerdict["result"] =>
  checks.some((c) => c.status === "FAILED") ? "INVALID" : checks.some((c) => c.status === "INDETERMINATE") ? "INDETERMINATE" : "VALID";

/** Verifies a detached CAdES signature (DER) over `content`. Never throws. */
export async function verifyDetached(cmsDer: Uint8Array, content: Uint8Array, deps: VerifyCadesDeps): Promise<CadesVerdict> {
  const checks: CadesCheck[] = [];
  const v: CadesVerdict = { result: "INVALID", checks, signer: null, timestampTime: null };
  const done = () => {
    v.result = worst(checks);
    return v;
  };
  const fail = (id: string, detail: string) => {
    checks.push({ id, status: "FAILED", detail });
    return done();
  };
  // 1. contents
  let sd: ParsedSignedData;
  const der = Buffer.from(cmsDer.buffer, cmsDer.byteOffset, cmsDer.byteLength);
  try {
    const n = readNode(der);
    if (n.end !== der.length) throw new Error(`${der.length - n.end} byte(s) after the CMS`);
    sd = parseSignedData(der);
  } catch (e) {
    return fail("contents", `not a CMS SignedData: ${(e as Error).message}`);
  }
  if (sd.signerInfos.length !== 1) return fail("contents", `the CMS has ${sd.signerInfos.length} signers (one expected)`);
  if (sd.eContent !== null) return fail("contents", "the CMS is not detached (it encapsulates its content)");
  if (sd.eContentType !== CMS_OID.data) return fail("contents", `the content type is ${sd.eContentType}, not id-data`);
  const si = sd.signerInfos[0]!;
  checks.push({ id: "contents", status: "PASSED", detail: `detached CMS SignedData, ${der.length} bytes` });

  // 2. digest
  const md = checkMessageDigest(si, (hname) => crypto.createHash(hname).update(content).digest());
  if (md.problem === "algorithm") return fail("digest", `digest algorithm ${si.digestAlgorithm} is not accepted`);
  if (md.problem === "attribute") return fail("digest", "the CMS has no (single) message-digest attribute");
  if (!contentTypeIsData(si, true)) return fail("digest", "the content-type attribute is missing or not id-data");
  if (md.problem === "mismatch") return fail("digest", "the signed content was changed: its digest does not match the signature");
  checks.push({ id: "digest", status: "PASSED", detail: `${md.hname} of the signed content matches` });

  // 3. signature
  const { certs, signer, problem } = checkSigner(sd, si, true);
  if (!signer) return fail("signature", "the signer's certificate is not in the CMS");
  v.signer = { subject: signer.subject, serial: signer.serial, sha256: signer.sha256 };
  if (problem === "signature") return fail("signature", "the CMS signature does not verify with the signer's certificate");
  if (problem === "no-ess") return fail("signature", "CAdES requires the signing-certificate-v2 attribute");
  if (problem === "ess-mismatch") return fail("signature", "the signing-certificate attribute does not name the signer's certificate");
  checks.push({ id: "signature", status: "PASSED", detail: `signed by ${signer.subject}` });

  // 4. time-stamp
  let at = deps.now();
  const tv = await verifySignatureTimestamp(si, deps);
  if (tv) {
    const ts = timestampCheck(tv);
    checks.push(ts.check);
    if (ts.at) {
      at = ts.at;
      v.timestampTime = ts.at.toISOString();
    }
  } else if ((deps.timestamp ?? "required") === "required") {
    checks.push({ id: "timestamp", status: "FAILED", detail: "no signature time-stamp (CAdES-B-T expected)" });
  } else {
    checks.push({ id: "timestamp", status: "PASSED", detail: "no signature time-stamp (CAdES-B-B): the certificate is checked at validation time" });
  }

  // 5. certificate
  checks.push(certificateCheck(await verifySignerChain(signer, certs, deps, at), at, !!deps.revocation));
  return done();
}
