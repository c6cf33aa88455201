/**
 * CMS SignedData (RFC 5652) for PAdES/CAdES signatures and RFC 3161 time-stamp tokens: a builder and a parser.
 *
 * Builder: detached or encapsulated content, ECDSA P-256/SHA-256 signer, signed attributes content-type,
 * message-digest and ESS signing-certificate-v2 (RFC 5035; what CAdES/PAdES baseline B requires), optional
 * unsigned attributes (the signature time-stamp token of PAdES B-T). The signed attributes are encoded as a DER
 * SET OF (sorted) and that exact encoding is what gets signed; the signature comes from a callback, so the key
 * can stay in the key store/HSM.
 *
 * Parser: splits a SignedData into what a verifier needs, keeping the exact signed-attribute bytes.
 */
import crypto from "node:crypto";
import {
  algId, bytesOf, children, contentOf, DerError, derOrder, expectTag, explicit, implicitConstructed, integer, octets, oid,
  readNode, readOid, readTime, seq, setOf, tlv, type Node,
} from "./der.js";
import { sm2PublicKeyFromSpki } from "../crypto/sm2.js";
import { cachedPublicKey } from "./cache.js";
import { verifyWithSpki } from "./signing-key.js";

export const CMS_OID = {
  data: "1.2.840.113549.1.7.1",
  signedData: "1.2.840.113549.1.7.2",
  tstInfo: "1.2.840.113549.1.9.16.1.4",
  contentType: "1.2.840.113549.1.9.3",
  messageDigest: "1.2.840.113549.1.9.4",
  signingTime: "1.2.840.113549.1.9.5",
  signingCertificate: "1.2.840.113549.1.9.16.2.12",
  signingCertificateV2: "1.2.840.113549.1.9.16.2.47",
  signatureTimeStampToken: "1.2.840.113549.1.9.16.2.14",
  sha1: "1.3.14.3.2.26",
  sha256: "2.16.840.1.101.3.4.2.1",
  sha384: "2.16.840.1.101.3.4.2.2",
  sha512: "2.16.840.1.101.3.4.2.3",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  ecdsaWithSha384: "1.2.840.10045.4.3.3",
  ecdsaWithSha512: "1.2.840.10045.4.3.4",
  ecPublicKey: "1.2.840.10045.2.1",
  rsaEncryption: "1.2.840.113549.1.1.1",
  sha256WithRsa: "1.2.840.113549.1.1.11",
  // the national profile (GM/T 0006 / GB/T 35275)
  sm3: "1.2.156.10197.1.401",
  sm3WithSm2: "1.2.156.10197.1.501",
  sm2Sign: "1.2.156.10197.1.301.1",
  sha384WithRsa: "1.2.840.113549.1.1.12",
  sha512WithRsa: "1.2.840.113549.1.1.13",
} as const;

/** Digest algorithms accepted (allow-list, DESIGN rule 6). */
export const DIGESTS: Readonly<Record<string, "sha256" | "sha384" | "sha512" | "sm3">> = {
  [CMS_OID.sha256]: "sha256",
  [CMS_OID.sm3]: "sm3",
  [CMS_OID.sha384]: "sha384",
  [CMS_OID.sha512]: "sha512",
};

export interface SignerCert {
  readonly der: Uint8Array;
  /** The issuer Name, DER. */
  readonly issuerDer: Uint8Array;
  /** Serial as hex of the INTEGER content octets. */
  readonly serial: string;
}

/** The issuer Name (DER) of a certificate, for a signer's issuerAndSerialNumber; read without a full parse. */
export function certificateIssuerDer(der: Uint8Array): Uint8Array {
  const tbs = children(readNode(Buffer.from(der)))[0]!;
  const f = children(tbs);
  const off = f[0]!.tag === 0xa0 ? 1 : 0;
  return bytesOf(f[off + 2]!);
}

/**
 * The parts of a SignerInfo/SignedData that depend only on the signing certificate and the embedded chain,
 * encoded once (`encodeSigner`) so a caller signing many times with one certificate can keep them.
 */
export interface EncodedSigner {
  /** issuerAndSerialNumber. */
  readonly sid: Buffer;
  /** The ESS signing-certificate-v2 signed attribute. */
  readonly essAttr: Buffer;
  /** certificates [0] IMPLICIT CertificateSet (the certificates in the given order). */
  readonly certificates: Buffer;
}

interface BuildSignedDataBase {
  readonly eContentType: string;
  /** Encapsulated content (time-stamp tokens); omit for a detached signature. */
  readonly eContent?: Uint8Array;
  /** Digest (SHA-256) of the content: the detached document bytes or eContent. */
  readonly contentDigest: Uint8Array;
  /** Signs the DER signed attributes; returns a DER ECDSA-Sig-Value (ecdsa-with-SHA256). */
  readonly sign: (data: Buffer) => Promise<Uint8Array> | Uint8Array;
  /** Extra signed attributes, each a complete Attribute TLV. */
  readonly extraSignedAttrs?: readonly Uint8Array[];
  /** Unsigned attributes computed from the signature value (e.g. its time-stamp token). */
  readonly unsignedAttrs?: (signatureValue: Buffer) => Promise<readonly Uint8Array[]> | readonly Uint8Array[];
  /**
   * `p256` (default): digestAlgorithm SHA-256, signatureAlgorithm ecdsa-with-SHA256. `sm2`: digestAlgorithm SM3
   * (`contentDigest` must be SM3), signatureAlgorithm SM3withSM2 (1.2.156.10197.1.501, as X.509 and most GB/T 35275
   * implementations write it), `sign` returns a DER SM2-Signature over SM3(Z‖signed attributes).
   */
  readonly profile?: "p256" | "sm2";
}

export type BuildSignedDataParams = BuildSignedDataBase & (
  | {
    readonly signer: SignerCert;
    /** Certificates to embed (signer first, then its chain). */
    readonly certificates: readonly Uint8Array[];
    readonly encoded?: undefined;
  }
  | {
    /** From `encodeSigner(signer, certificates)`. */
    readonly encoded: EncodedSigner;
    readonly signer?: undefined;
    readonly certificates?: undefined;
  }
);

function setOfRaw(items: Buffer[]): Buffer {
  return tlv(0x31, items);
}

export function attribute(type: string, ...values: Uint8Array[]): Buffer {
  return seq(oid(type), setOf(...values));
}

const serialInt = (hex: string) => tlv(0x02, Buffer.from(hex, "hex"));

/** ESS signing-certificate-v2 attribute (SHA-256 cert hash + issuerSerial). */
export function signingCertificateV2(cert: SignerCert): Buffer {
  const certHash = crypto.createHash("sha256").update(cert.der).digest();
  const issuerSerial = seq(seq(tlv(0xa4, cert.issuerDer)), serialInt(cert.serial));
  return attribute(CMS_OID.signingCertificateV2, seq(seq(seq(octets(certHash), issuerSerial))));
}

/** Encodes the certificate-dependent parts of a signature once (see EncodedSigner). */
export function encodeSigner(signer: SignerCert, certificates: readonly Uint8Array[]): EncodedSigner {
  return {
    sid: seq(signer.issuerDer, serialInt(signer.serial)),
    essAttr: signingCertificateV2(signer),
    certificates: implicitConstructed(0, ...certificates),
  };
}

/** Builds a ContentInfo(SignedData). */
export async function buildSignedData(p: BuildSignedDataParams): Promise<Buffer> {
  const enc = p.encoded ?? encodeSigner(p.signer, p.certificates);
  const attrs = [
    attribute(CMS_OID.contentType, oid(p.eContentType)),
    attribute(CMS_OID.messageDigest, octets(p.contentDigest)),
    enc.essAttr,
    ...(p.extraSignedAttrs ?? []),
  ];
  const signedAttrsSet = setOf(...attrs);
  const signature = Buffer.from(await p.sign(signedAttrsSet));
  const unsigned = p.unsignedAttrs ? await p.unsignedAttrs(signature) : [];
  // The signed attributes are stored as [0] IMPLICIT: the same bytes with the SET tag replaced.
  const signedAttrsField = Buffer.from(signedAttrsSet);
  signedAttrsField[0] = 0xa0;
  const sm2 = p.profile === "sm2";
  const digestAlg = sm2 ? CMS_OID.sm3 : CMS_OID.sha256;
  const signerInfo = seq(
    integer(1),
    enc.sid,
    algId(digestAlg),
    signedAttrsField,
    algId(sm2 ? CMS_OID.sm3WithSm2 : CMS_OID.ecdsaWithSha256),
    octets(signature),
    ...(unsigned.length ? [implicitConstructed(1, ...[...unsigned].sort(derOrder))] : []),
  );
  const encap = p.eContent ? seq(oid(p.eContentType), explicit(0, octets(p.eContent))) : seq(oid(p.eContentType));
  const signedData = seq(
    integer(p.eContentType === CMS_OID.data ? 1 : 3),
    setOf(algId(digestAlg)),
    encap,
    enc.certificates,
    setOf(signerInfo),
  );
  return seq(oid(CMS_OID.signedData), explicit(0, signedData));
}

// ---------------------------------------------------------------------------------------------- parser

export interface ParsedAttribute {
  readonly type: string;
  readonly values: Node[];
}

export interface ParsedSignerInfo {
  readonly version: number;
  /** issuerAndSerialNumber: issuer Name DER + serial hex; or subjectKeyIdentifier hex. */
  readonly sid: { readonly issuerDer: Buffer; readonly serial: string } | { readonly ski: string };
  readonly digestAlgorithm: string;
  /** Signed attributes re-encoded as the SET OF that was signed (tag 0x31), or null when absent. */
  readonly signedAttrsDer: Buffer | null;
  readonly signedAttrs: ParsedAttribute[];
  readonly signatureAlgorithm: string;
  readonly signature: Buffer;
  readonly unsignedAttrs: ParsedAttribute[];
}

export interface ParsedSignedData {
  readonly eContentType: string;
  readonly eContent: Buffer | null;
  readonly certificates: Buffer[];
  readonly signerInfos: ParsedSignerInfo[];
  readonly digestAlgorithms: string[];
}

function parseAttrs(n: Node): ParsedAttribute[] {
  return children(n).map((a) => {
    const [t, vals] = children(expectTag(a, 0x30, "Attribute"));
    return { type: readOid(t!), values: children(expectTag(vals, 0x31, "attribute values")) };
  });
}

/** Parses a DER ContentInfo holding SignedData. Throws DerError on anything malformed. */
export function parseSignedData(der: Buffer): ParsedSignedData {
  const ci = readNode(der);
  if (ci.tag !== 0x30) throw new DerError("ContentInfo is not a SEQUENCE");
  const [ct, content] = children(ci);
  if (readOid(ct!) !== CMS_OID.signedData) throw new DerError("not a SignedData");
  const sdNode = children(expectTag(content, 0xa0, "ContentInfo content"))[0];
  const parts = children(expectTag(sdNode, 0x30, "SignedData"));
  let i = 1;
  const digestAlgorithms = children(expectTag(parts[i++], 0x31, "digestAlgorithms")).map((a) => readOid(children(a)[0]!));
  const encap = children(expectTag(parts[i++], 0x30, "encapContentInfo"));
  const eContentType = readOid(encap[0]!);
  let eContent: Buffer | null = null;
  if (encap[1]) {
    const oct = children(expectTag(encap[1], 0xa0, "eContent"))[0]!;
    // OCTET STRING, primitive (DER) or constructed (BER chunks).
    eContent = oct.tag === 0x04 ? contentOf(oct) : Buffer.concat(children(oct).map(contentOf));
  }
  const certificates: Buffer[] = [];
  if (parts[i]?.tag === 0xa0) {
    for (const c of children(parts[i]!)) if (c.tag === 0x30) certificates.push(bytesOf(c));
    i++;
  }
  if (parts[i]?.tag === 0xa1) i++; // crls
  const signerInfos = children(expectTag(parts[i], 0x31, "signerInfos")).map((si): ParsedSignerInfo => {
    const f = children(expectTag(si, 0x30, "SignerInfo"));
    let j = 0;
    const version = Number(contentOf(f[j++]!).readUIntBE(0, 1));
    const sidNode = f[j++]!;
    let sid: ParsedSignerInfo["sid"];
    if (sidNode.tag === 0x30) {
      const [iss, ser] = children(sidNode);
      sid = { issuerDer: bytesOf(iss!), serial: contentOf(expectTag(ser, 0x02, "serial")).toString("hex") };
    } else if (sidNode.tag === 0x80) {
      sid = { ski: contentOf(sidNode).toString("hex") };
    } else throw new DerError("unknown SignerIdentifier");
    const digestAlgorithm = readOid(children(f[j++]!)[0]!);
    let signedAttrsDer: Buffer | null = null;
    let signedAttrs: ParsedAttribute[] = [];
    if (f[j]?.tag === 0xa0) {
      const n = f[j++]!;
      // The signed bytes are the DER SET OF: re-tag [0] as SET (re-encoded when the sender used BER lengths).
      signedAttrsDer = n.indefinite ? setOfRaw(children(n).map(bytesOf)) : Buffer.concat([Buffer.from([0x31]), bytesOf(n).subarray(1)]);
      signedAttrs = parseAttrs(n);
    }
    const signatureAlgorithm = readOid(children(f[j++]!)[0]!);
    const signature = contentOf(expectTag(f[j++], 0x04, "signature"));
    const unsignedAttrs = f[j]?.tag === 0xa1 ? parseAttrs(f[j]!) : [];
    return { version, sid, digestAlgorithm, signedAttrsDer, signedAttrs, signatureAlgorithm, signature, unsignedAttrs };
  });
  return { eContentType, eContent, certificates, signerInfos, digestAlgorithms };
}

export function attr(si: ParsedSignerInfo, type: string, unsigned = false): Node | undefined {
  const list = unsigned ? si.unsignedAttrs : si.signedAttrs;
  const a = list.filter((x) => x.type === type);
  if (a.length !== 1 || a[0]!.values.length !== 1) return undefined;
  return a[0]!.values[0];
}

export function attrCount(si: ParsedSignerInfo, type: string): number {
  return si.signedAttrs.filter((x) => x.type === type).length;
}

/** The ESSCertIDv2/ESSCertID hashes listed in signing-certificate(-v2), with their hash algorithm. */
export function signingCertHashes(si: ParsedSignerInfo): Array<{ alg: string; hash: Buffer }> {
  const out: Array<{ alg: string; hash: Buffer }> = [];
  const v2 = attr(si, CMS_OID.signingCertificateV2);
  if (v2) {
    const certs = children(children(v2)[0]!);
    for (const c of certs) {
      const f = children(c);
      let alg: string = CMS_OID.sha256;
      let k = 0;
      if (f[0]!.tag === 0x30) {
        alg = readOid(children(f[0]!)[0]!);
        k = 1;
      }
      out.push({ alg, hash: contentOf(expectTag(f[k], 0x04, "certHash")) });
    }
  }
  const v1 = attr(si, CMS_OID.signingCertificate);
  if (v1) for (const c of children(children(v1)[0]!)) out.push({ alg: CMS_OID.sha1, hash: contentOf(children(c)[0]!) });
  return out;
}

/** Verifies a CMS signature value over `data` with a certificate's SPKI: ECDSA (DER) or RSA PKCS#1 v1.5. */
export function verifySignatureValue(sigAlg: string, digestAlg: string, spki: Uint8Array, data: Buffer, signature: Buffer): boolean {
  const hash = DIGESTS[digestAlg];
  if (!hash) return false;
  // SM2 (GB/T 35275): only with an SM2 key and SM3; never through node's own SM2 (src/crypto/sm2.ts verifies).
  if (sm2PublicKeyFromSpki(spki) !== null || sigAlg === CMS_OID.sm3WithSm2 || sigAlg === CMS_OID.sm2Sign) {
    const ok = hash === "sm3" && (sigAlg === CMS_OID.sm3WithSm2 || sigAlg === CMS_OID.sm2Sign || sigAlg === CMS_OID.ecPublicKey);
    return ok && verifyWithSpki(CMS_OID.sm3WithSm2, spki, data, signature);
  }
  if (hash === "sm3") return false;
  const ecdsa: Record<string, string> = { [CMS_OID.ecdsaWithSha256]: "sha256", [CMS_OID.ecdsaWithSha384]: "sha384", [CMS_OID.ecdsaWithSha512]: "sha512" };
  const rsa: Record<string, string> = { [CMS_OID.sha256WithRsa]: "sha256", [CMS_OID.sha384WithRsa]: "sha384", [CMS_OID.sha512WithRsa]: "sha512" };
  let h: string | undefined;
  if (sigAlg === CMS_OID.ecPublicKey || sigAlg === CMS_OID.rsaEncryption) h = hash;
  else h = ecdsa[sigAlg] ?? rsa[sigAlg];
  if (!h) return false;
  try {
    const key = cachedPublicKey(spki);
    return crypto.verify(h, data, key.asymmetricKeyType === "ec" ? { key, dsaEncoding: "der" } : key, signature);
  } catch {
    return false;
  }
}

export { readTime };
