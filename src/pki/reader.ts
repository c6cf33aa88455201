/**
 * X.509 reader: parses certificates into a plain internal type (parse first, then verify — sigstore style).
 * Parsing never checks signatures or validity; chain.ts does.
 */
import crypto from "node:crypto";
import { AsnConvert } from "@peculiar/asn1-schema";
import {
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  CRLDistributionPoints,
  ExtendedKeyUsage,
  KeyUsage,
  Name,
  SubjectKeyIdentifier,
} from "@peculiar/asn1-x509";
import { KEY_USAGE_BITS, OID, type KeyUsageName } from "./profiles.js";
import { bytesOf, children, contentOf, DerError, readNode } from "./der.js";
import { fromPemAll } from "./pem.js";
import { hex } from "./x509.js";

export interface CertInfo {
  readonly der: Uint8Array;
  /** Lower-case hex of the serial number's DER content octets. */
  readonly serial: string;
  readonly subject: string;
  readonly issuer: string;
  readonly subjectDer: Uint8Array;
  readonly issuerDer: Uint8Array;
  /** Subject attributes by OID (first value of each). */
  readonly subjectAttrs: Readonly<Record<string, string>>;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly spki: Uint8Array;
  readonly signatureAlgorithm: string;
  readonly basicConstraints: { readonly ca: boolean; readonly pathLen?: number; readonly critical: boolean } | null;
  readonly keyUsage: { readonly usages: readonly KeyUsageName[]; readonly critical: boolean } | null;
  readonly extKeyUsage: { readonly oids: readonly string[]; readonly critical: boolean } | null;
  readonly subjectKeyId: string | null;
  readonly authorityKeyId: string | null;
  readonly crlUrls: readonly string[];
  /** Extension OIDs marked critical. */
  readonly criticalExtensions: readonly string[];
  /** SHA-256 of the DER, lower-case hex. */
  readonly sha256: string;
}

const SHORT: Record<string, string> = {
  [OID.commonName]: "CN",
  [OID.serialNumber]: "serialNumber",
  [OID.country]: "C",
  [OID.locality]: "L",
  [OID.stateOrProvince]: "ST",
  [OID.organization]: "O",
  [OID.organizationalUnit]: "OU",
  [OID.organizationIdentifier]: "organizationIdentifier",
};

function escapeDnValue(v: string): string {
  return v.replace(/([,+"\\<>;=])/g, "\\$1").replace(/^([ #])/, "\\$1").replace(/ $/, "\\ ");
}

/** `C=CN, O=…, CN=…` in certificate order (like `openssl x509 -subject`), RFC 4514 escaping. */
export function nameToString(name: Name): string {
  const parts: string[] = [];
  for (const rdn of name) {
    parts.push(
      rdn.map((atv) => `${SHORT[atv.type] ?? atv.type}=${escapeDnValue(atv.value.toString())}`).join("+"),
    );
  }
  return parts.join(", ");
}

function nameAttrs(name: Name): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rdn of name) for (const atv of rdn) if (!(atv.type in out)) out[atv.type] = atv.value.toString();
  return out;
}

function keyUsageNames(ku: KeyUsage): KeyUsageName[] {
  const n = ku.toNumber();
  return (Object.keys(KEY_USAGE_BITS) as KeyUsageName[]).filter((k) => (n & (1 << KEY_USAGE_BITS[k])) !== 0);
}

export function parseCertificate(input: Uint8Array): CertInfo {
  const cert = AsnConvert.parse(input, Certificate);
  const tbs = cert.tbsCertificate;
  let basicConstraints: CertInfo["basicConstraints"] = null;
  let keyUsage: CertInfo["keyUsage"] = null;
  let extKeyUsage: CertInfo["extKeyUsage"] = null;
  let subjectKeyId: string | null = null;
  let authorityKeyId: string | null = null;
  const crlUrls: string[] = [];
  const critical: string[] = [];
  const seen = new Set<string>();
  for (const e of tbs.extensions ?? []) {
    if (seen.has(e.extnID)) throw new Error(`duplicate extension ${e.extnID}`);
    seen.add(e.extnID);
    if (e.critical) critical.push(e.extnID);
    const v = e.extnValue.buffer;
    switch (e.extnID) {
      case OID.basicConstraints: {
        const bc = AsnConvert.parse(v, BasicConstraints);
        basicConstraints = { ca: bc.cA, ...(bc.pathLenConstraint !== undefined ? { pathLen: bc.pathLenConstraint } : {}), critical: e.critical };
        break;
      }
      case OID.keyUsage:
        keyUsage = { usages: keyUsageNames(AsnConvert.parse(v, KeyUsage)), critical: e.critical };
        break;
      case OID.extKeyUsage:
        extKeyUsage = { oids: [...AsnConvert.parse(v, ExtendedKeyUsage)], critical: e.critical };
        break;
      case OID.subjectKeyIdentifier:
        subjectKeyId = hex(AsnConvert.parse(v, SubjectKeyIdentifier).buffer);
        break;
      case OID.authorityKeyIdentifier: {
        const aki = AsnConvert.parse(v, AuthorityKeyIdentifier);
        authorityKeyId = aki.keyIdentifier ? hex(aki.keyIdentifier.buffer) : null;
        break;
      }
      case OID.crlDistributionPoints:
        for (const dp of AsnConvert.parse(v, CRLDistributionPoints)) {
          for (const gn of dp.distributionPoint?.fullName ?? []) if (gn.uniformResourceIdentifier) crlUrls.push(gn.uniformResourceIdentifier);
        }
        break;
      default:
        break;
    }
  }
  const der = new Uint8Array(input);
  return {
    der,
    serial: hex(tbs.serialNumber),
    subject: nameToString(tbs.subject),
    issuer: nameToString(tbs.issuer),
    subjectDer: new Uint8Array(AsnConvert.serialize(tbs.subject)),
    issuerDer: new Uint8Array(AsnConvert.serialize(tbs.issuer)),
    subjectAttrs: nameAttrs(tbs.subject),
    notBefore: tbs.validity.notBefore.getTime(),
    notAfter: tbs.validity.notAfter.getTime(),
    spki: new Uint8Array(AsnConvert.serialize(tbs.subjectPublicKeyInfo)),
    signatureAlgorithm: cert.signatureAlgorithm.algorithm,
    basicConstraints,
    keyUsage,
    extKeyUsage,
    subjectKeyId,
    authorityKeyId,
    crlUrls,
    criticalExtensions: critical,
    sha256: crypto.createHash("sha256").update(der).digest("hex"),
  };
}

/** Parses every CERTIFICATE block of a PEM bundle. */
export function parseCertificatesPem(pem: string): CertInfo[] {
  return fromPemAll(pem)
    .filter((b) => b.label === "CERTIFICATE")
    .map((b) => parseCertificate(b.der));
}

/** The signed bytes (TBSCertificate, exactly as encoded) and the signature value of a certificate; null if malformed. */
export function certSignedParts(der: Uint8Array): { tbs: Buffer; signature: Buffer } | null {
  try {
    const buf = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
    const top = readNode(buf);
    const [tbs, , sig] = children(top);
    if (top.end !== buf.length || !tbs || !sig || tbs.tag !== 0x30 || sig.tag !== 0x03) return null;
    const bits = contentOf(sig);
    if (bits[0] !== 0) return null;
    return { tbs: bytesOf(tbs), signature: bits.subarray(1) };
  } catch (e) {
    if (e instanceof DerError) return null;
    throw e;
  }
}
