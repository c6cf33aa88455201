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
import { attr, attrCount, attribute, buildSignedData, CMS_OID, DIGESTS, encodeSigner, parseSignedData, signingCertHashes, verifySignatureValue, type EncodedSigner, type ParsedSignedData } from "./cms.js";
import { bytesOf, contentOf, readNode } from "./der.js";
import { verifyChain, type RevocationStatus } from "./chain.js";
import { cachedCertificate } from "./cache.js";
import type { CertInfo } from "./reader.js";
import { verifyTimestampToken, type Tsa } from "./tsa.js";

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

export type CadesStatus = "PASSED" | "FAILED" | "INDETERMINATE";
export interface CadesCheck {
  id: string;
  status: CadesStatus;
  detail: string;
}
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
  const hname = DIGESTS[si.digestAlgorithm];
  if (!hname) return fail("digest", `digest algorithm ${si.digestAlgorithm} is not accepted`);
  const md = attr(si, CMS_OID.messageDigest);
  if (!si.signedAttrsDer || !md || attrCount(si, CMS_OID.messageDigest) !== 1) return fail("digest", "the CMS has no (single) message-digest attribute");
  const ct = attr(si, CMS_OID.contentType);
  if (!ct || attrCount(si, CMS_OID.contentType) !== 1 || Buffer.compare(contentOf(ct), Buffer.from([0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01])) !== 0) {
    return fail("digest", "the content-type attribute is missing or not id-data");
  }
  const digest = crypto.createHash(hname).update(content).digest();
  if (!contentOf(md).equals(digest)) return fail("digest", "the signed content was changed: its digest does not match the signature");
  checks.push({ id: "digest", status: "PASSED", detail: `${hname} of the signed content matches` });

  // 3. signature
  const certs = sd.certificates.map((x) => {
    try {
      return cachedCertificate(x);
    } catch {
      return null;
    }
  }).filter((x): x is CertInfo => x !== null);
  const signer = certs.find((x) => ("serial" in si.sid ? x.serial === si.sid.serial && Buffer.from(x.issuerDer).equals(si.sid.issuerDer) : x.subjectKeyId === si.sid.ski));
  if (!signer) return fail("signature", "the signer's certificate is not in the CMS");
  v.signer = { subject: signer.subject, serial: signer.serial, sha256: signer.sha256 };
  if (!verifySignatureValue(si.signatureAlgorithm, si.digestAlgorithm, signer.spki, si.signedAttrsDer, si.signature)) {
    return fail("signature", "the CMS signature does not verify with the signer's certificate");
  }
  const ess = signingCertHashes(si);
  if (ess.length === 0) return fail("signature", "CAdES requires the signing-certificate-v2 attribute");
  if (!ess.some((h) => crypto.createHash(DIGESTS[h.alg] ?? "sha1").update(signer.der).digest().equals(h.hash))) {
    return fail("signature", "the signing-certificate attribute does not name the signer's certificate");
  }
  checks.push({ id: "signature", status: "PASSED", detail: `signed by ${signer.subject}` });

  // 4. time-stamp
  let at = deps.now();
  const ts = si.unsignedAttrs.filter((x) => x.type === CMS_OID.signatureTimeStampToken);
  if (ts.length > 0 && ts[0]!.values[0]) {
    const node = ts[0]!.values[0];
    const tv = await verifyTimestampToken(Buffer.from(bytesOf(node)), si.signature, {
      anchors: deps.anchors, intermediates: deps.intermediates ?? [], knownTsaCerts: deps.knownTsaCerts ?? [],
    });
    if (tv.result === "VALID" && tv.genTime) {
      at = tv.genTime;
      v.timestampTime = tv.genTime.toISOString();
      checks.push({ id: "timestamp", status: "PASSED", detail: `time-stamped ${tv.genTime.toISOString()} by ${tv.tsa}` });
    } else {
      const f = tv.checks.find((x) => x.status !== "PASSED");
      checks.push({ id: "timestamp", status: tv.result === "INVALID" ? "FAILED" : "INDETERMINATE", detail: f?.detail ?? "the time-stamp is not valid" });
    }
  } else if ((deps.timestamp ?? "required") === "required") {
    checks.push({ id: "timestamp", status: "FAILED", detail: "no signature time-stamp (CAdES-B-T expected)" });
  } else {
    checks.push({ id: "timestamp", status: "PASSED", detail: "no signature time-stamp (CAdES-B-B): the certificate is checked at validation time" });
  }

  // 5. certificate
  const chain = await verifyChain({
    leaf: signer, intermediates: [...certs, ...(deps.intermediates ?? [])], anchors: deps.anchors, at,
    ...(deps.revocation ? { revocation: deps.revocation } : {}),
  });
  if (chain.result === "VALID") {
    checks.push({ id: "certificate", status: "PASSED", detail: `chains to ${chain.path[chain.path.length - 1]!.subject} at ${at.toISOString()}${deps.revocation ? ", not revoked" : " (revocation not checked offline)"}` });
  } else {
    const f = chain.checks.find((x) => x.status !== "PASSED");
    checks.push({ id: "certificate", status: chain.result === "INVALID" ? "FAILED" : "INDETERMINATE", detail: f?.detail ?? String(chain.problem) });
  }
  return done();
}
