/**
 * X.509 generator: builds TBSCertificate structures and has them signed by a `CaSigner`.
 *
 * Signing goes through the CaSigner interface (not a raw key) so an HSM/KMS backend can sign the TBS bytes
 * without the private key ever being in this process (the smallstep/PeculiarVentures split).
 */
import crypto, { type KeyObject } from "node:crypto";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  CRLDistributionPoints,
  DistributionPoint,
  DistributionPointName,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  GeneralName,
  KeyIdentifier,
  KeyUsage,
  Name,
  RelativeDistinguishedName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from "@peculiar/asn1-x509";
import { algOfKey, signWithKeyObject } from "./signing-key.js";
import { KEY_USAGE_BITS, OID, type CertificateProfile, type DnAttribute, type KeyUsageName } from "./profiles.js";

/**
 * Something that signs with an issuer's key. `sign` returns a DER signature: ECDSA-Sig-Value (ecdsa-with-SHA256)
 * for ES256, SM2-Signature (SM3withSM2, Z over the default signer ID, GB/T 35276) for SM2.
 */
export interface CaSigner {
  readonly algorithm: "ES256" | "SM2";
  sign(data: Uint8Array): Promise<Uint8Array>;
}

/** A CaSigner over a node:crypto P-256 or SM2 private key held in memory. */
export function keyObjectSigner(key: KeyObject): CaSigner {
  const alg = key.type === "private" ? algOfKey(key) : null;
  if (alg !== "ES256" && alg !== "SM2") throw new TypeError("a CA signing key must be a P-256 or SM2 private key");
  return { algorithm: alg, sign: async (data) => signWithKeyObject(alg, key, data, "der") };
}

export const ECDSA_SHA256 = (): AlgorithmIdentifier => new AlgorithmIdentifier({ algorithm: OID.ecdsaWithSHA256 });
/** SM3withSM2 (GM/T 0006 / GB/T 35276): parameters absent, as for ECDSA. */
export const SM3_WITH_SM2 = (): AlgorithmIdentifier => new AlgorithmIdentifier({ algorithm: OID.sm3WithSm2 });
/** The signatureAlgorithm a signer's signatures carry. */
export const sigAlgOf = (signer: CaSigner): AlgorithmIdentifier => (signer.algorithm === "SM2" ? SM3_WITH_SM2() : ECDSA_SHA256());

export function toArrayBuffer(u: Uint8Array): ArrayBuffer {
  return u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength) as ArrayBuffer;
}

/** A fresh random serial: 16 bytes, positive (top bit clear) and never shortened by DER (second bit set). */
export function randomSerial(): Uint8Array {
  const s = crypto.randomBytes(16);
  s[0] = (s[0]! & 0x7f) | 0x40;
  return new Uint8Array(s);
}

export function hex(u: Uint8Array | ArrayBuffer): string {
  return Buffer.from(u instanceof ArrayBuffer ? new Uint8Array(u) : u).toString("hex");
}

export function buildName(attrs: readonly DnAttribute[]): Name {
  return new Name(
    attrs.map(
      (a) =>
        new RelativeDistinguishedName([
          new AttributeTypeAndValue({
            type: a.type,
            value: new AttributeValue(a.printable ? { printableString: a.value } : { utf8String: a.value }),
          }),
        ]),
    ),
  );
}

export function spkiDer(key: KeyObject | Uint8Array): Uint8Array {
  if (key instanceof Uint8Array) return key;
  const pub = key.type === "private" ? crypto.createPublicKey(key) : key;
  return new Uint8Array(pub.export({ type: "spki", format: "der" }));
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING value (what OpenSSL computes too). */
export function keyIdentifier(spki: Uint8Array): Uint8Array {
  const info = AsnConvert.parse(spki, SubjectPublicKeyInfo);
  return new Uint8Array(crypto.createHash("sha1").update(new Uint8Array(info.subjectPublicKey)).digest());
}

export function keyUsageBits(usages: readonly KeyUsageName[]): KeyUsage {
  // KeyUsage flags in asn1-x509 are numbered so that flag 2^bit maps to the RFC 5280 bit position.
  let n = 0;
  for (const u of usages) n |= 1 << KEY_USAGE_BITS[u];
  return new KeyUsage(n);
}

function ext(extnID: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

export interface IssuerRef {
  /** The issuer's subject Name, DER (copied byte for byte into the issuer field). */
  readonly nameDer: Uint8Array;
  /** The issuer's subject key identifier (goes into the AKI). */
  readonly keyId: Uint8Array;
  readonly notAfter: Date;
  readonly signer: CaSigner;
}

export interface CreateCertificateParams {
  readonly profile: CertificateProfile;
  readonly subject: readonly DnAttribute[];
  readonly publicKey: KeyObject | Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** `self` for a self-signed root, whose signer must hold the private key of `publicKey`. */
  readonly issuer: IssuerRef | { readonly self: CaSigner };
  /** Required when the profile has a CRL distribution point. */
  readonly crlUrl?: string;
  readonly serial?: Uint8Array;
}

/** Builds and signs a certificate; returns its DER. */
export async function createCertificate(p: CreateCertificateParams): Promise<Uint8Array> {
  const spki = spkiDer(p.publicKey);
  const ski = keyIdentifier(spki);
  const subjectName = buildName(p.subject);
  const selfSigned = "self" in p.issuer;
  const issuerName = selfSigned ? subjectName : AsnConvert.parse((p.issuer as IssuerRef).nameDer, Name);
  const aki = selfSigned ? ski : (p.issuer as IssuerRef).keyId;
  const signer = selfSigned ? (p.issuer as { self: CaSigner }).self : (p.issuer as IssuerRef).signer;
  let notAfter = p.notAfter;
  if (!selfSigned && notAfter > (p.issuer as IssuerRef).notAfter) notAfter = (p.issuer as IssuerRef).notAfter;
  if (notAfter <= p.notBefore) throw new RangeError("certificate notAfter must be after notBefore");

  const exts: Extension[] = [
    ext(OID.basicConstraints, true, new BasicConstraints(p.profile.ca ? { cA: true, ...(p.profile.pathLen !== undefined ? { pathLenConstraint: p.profile.pathLen } : {}) } : { cA: false })),
    ext(OID.keyUsage, true, keyUsageBits(p.profile.keyUsage)),
  ];
  if (p.profile.extKeyUsage) {
    exts.push(ext(OID.extKeyUsage, p.profile.extKeyUsage.critical, new ExtendedKeyUsage([...p.profile.extKeyUsage.oids])));
  }
  exts.push(ext(OID.subjectKeyIdentifier, false, new SubjectKeyIdentifier(toArrayBuffer(ski))));
  exts.push(ext(OID.authorityKeyIdentifier, false, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(toArrayBuffer(aki)) })));
  if (p.profile.crlDistributionPoint) {
    if (!p.crlUrl) throw new TypeError(`profile ${p.profile.name} needs a CRL URL`);
    exts.push(
      ext(
        OID.crlDistributionPoints,
        false,
        new CRLDistributionPoints([
          new DistributionPoint({
            distributionPoint: new DistributionPointName({ fullName: [new GeneralName({ uniformResourceIdentifier: p.crlUrl })] }),
          }),
        ]),
      ),
    );
  }

  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: toArrayBuffer(p.serial ?? randomSerial()),
    signature: sigAlgOf(signer),
    issuer: issuerName,
    validity: new Validity({ notBefore: p.notBefore, notAfter }),
    subject: subjectName,
    subjectPublicKeyInfo: AsnConvert.parse(spki, SubjectPublicKeyInfo),
    extensions: new Extensions(exts),
  });
  const tbsDer = new Uint8Array(AsnConvert.serialize(tbs));
  const signature = await signer.sign(tbsDer);
  const cert = new Certificate({ tbsCertificate: tbs, signatureAlgorithm: sigAlgOf(signer), signatureValue: toArrayBuffer(signature) });
  const der = new Uint8Array(AsnConvert.serialize(cert));
  // Self-check: the TBS inside the encoded certificate is exactly what was signed.
  const again = AsnConvert.parse(der, Certificate);
  if (!again.tbsCertificateRaw || Buffer.compare(Buffer.from(again.tbsCertificateRaw), Buffer.from(tbsDer)) !== 0) {
    throw new Error("certificate encoding is not stable");
  }
  return der;
}
