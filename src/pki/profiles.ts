/**
 * Certificate profiles: what each kind of certificate Sidian issues looks like.
 *
 * Every profile uses ECDSA P-256 with SHA-256 by default. Key usage is always critical; basic constraints are
 * always present and critical. End-entity certificates carry SKI, AKI (key identifier) and one CRL distribution
 * point `${publicUrl}/pki/crl`. The issuing CA certificate carries no CRL distribution point: the root is kept
 * offline and publishes no CRL; an issuing CA is withdrawn by replacing the trust bundle.
 *
 * Subject naming (documented choice):
 * - Department certificates (licence-signing, seal, signer): `C=CN, O=<department name>,
 *   organizationIdentifier=<18-char USCC>, CN=<purpose name>`. organizationIdentifier is X.520 OID 2.5.4.97,
 *   holding the bare USCC (not the ETSI EN 319 412-1 "NTRCN-" form, so it matches the directory one-to-one).
 * - Seal certificates additionally carry the seal ID (esID, GB/T 38540) in the subject `serialNumber`
 *   attribute (OID 2.5.4.5, PrintableString). Nothing else in Sidian puts a serialNumber in a subject.
 * - Development material adds `OU=DEV ONLY - NOT FOR PRODUCTION` to every subject.
 *
 * Document-signing certificates (licence-signing, seal, signer) carry no extended key usage: `openssl cms
 * -verify` (default purpose smimesign) and NSS/poppler (email-signer usage) reject a certificate whose EKU lacks
 * emailProtection, and no EKU means "not restricted" (RFC 5280 §4.2.1.12). Key usage restricts them instead.
 * The TSA certificate carries EKU timeStamping only, marked critical, as RFC 3161 §2.3 requires.
 */
import { isUscc } from "../codes/index.js";
import { textProblem } from "../util/text.js";
import { AppError } from "../errors.js";

export const OID = {
  // attribute types (X.520)
  commonName: "2.5.4.3",
  serialNumber: "2.5.4.5",
  country: "2.5.4.6",
  locality: "2.5.4.7",
  stateOrProvince: "2.5.4.8",
  organization: "2.5.4.10",
  organizationalUnit: "2.5.4.11",
  organizationIdentifier: "2.5.4.97",
  pseudonym: "2.5.4.65",
  // extensions (RFC 5280)
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  basicConstraints: "2.5.29.19",
  crlNumber: "2.5.29.20",
  crlReason: "2.5.29.21",
  crlDistributionPoints: "2.5.29.31",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  // key purposes
  kpTimeStamping: "1.3.6.1.5.5.7.3.8",
  // algorithms
  ecPublicKey: "1.2.840.10045.2.1",
  prime256v1: "1.2.840.10045.3.1.7",
  ecdsaWithSHA256: "1.2.840.10045.4.3.2",
  // the national profile (GM/T 0006): SM2 curve/key, SM3, SM3withSM2
  sm2: "1.2.156.10197.1.301",
  sm3: "1.2.156.10197.1.401",
  sm3WithSm2: "1.2.156.10197.1.501",
  ed25519: "1.3.101.112",
} as const;

export type KeyUsageName =
  | "digitalSignature"
  | "nonRepudiation"
  | "keyEncipherment"
  | "dataEncipherment"
  | "keyAgreement"
  | "keyCertSign"
  | "cRLSign";

/** Bit positions of KeyUsage (RFC 5280 §4.2.1.3); bit 0 is the most significant bit of the first octet. */
export const KEY_USAGE_BITS: Record<KeyUsageName, number> = {
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
};

export type ProfileName = "root-ca" | "issuing-ca" | "licence-signing" | "seal" | "signer" | "personal-signing" | "tsa" | "token" | "seal-maker";
export type DepartmentProfileName = "licence-signing" | "seal" | "signer";
export const DEPARTMENT_PROFILES: readonly DepartmentProfileName[] = ["licence-signing", "seal", "signer"];

export interface CertificateProfile {
  readonly name: ProfileName;
  readonly ca: boolean;
  /** basicConstraints pathLenConstraint (CAs only). */
  readonly pathLen?: number;
  readonly keyUsage: readonly KeyUsageName[];
  readonly extKeyUsage?: { readonly oids: readonly string[]; readonly critical: boolean };
  /** Put `${publicUrl}/pki/crl` in the certificate. */
  readonly crlDistributionPoint: boolean;
  /** Default validity (the issuer's notAfter caps it). */
  readonly validityDays: number;
}

export const PROFILES: Readonly<Record<ProfileName, CertificateProfile>> = Object.freeze({
  "root-ca": { name: "root-ca", ca: true, pathLen: 1, keyUsage: ["keyCertSign", "cRLSign"], crlDistributionPoint: false, validityDays: 20 * 365 },
  "issuing-ca": { name: "issuing-ca", ca: true, pathLen: 0, keyUsage: ["keyCertSign", "cRLSign"], crlDistributionPoint: false, validityDays: 10 * 365 },
  "licence-signing": { name: "licence-signing", ca: false, keyUsage: ["digitalSignature", "nonRepudiation"], crlDistributionPoint: true, validityDays: 3 * 365 },
  seal: { name: "seal", ca: false, keyUsage: ["digitalSignature", "nonRepudiation"], crlDistributionPoint: true, validityDays: 3 * 365 },
  signer: { name: "signer", ca: false, keyUsage: ["digitalSignature", "nonRepudiation"], crlDistributionPoint: true, validityDays: 2 * 365 },
  // A citizen's own signature (云签名, issue 17): the subject is the person's name and a stable pseudonym.
  "personal-signing": { name: "personal-signing", ca: false, keyUsage: ["digitalSignature", "nonRepudiation"], crlDistributionPoint: true, validityDays: 2 * 365 },
  tsa: { name: "tsa", ca: false, keyUsage: ["digitalSignature", "nonRepudiation"], extKeyUsage: { oids: [OID.kpTimeStamping], critical: true }, crlDistributionPoint: true, validityDays: 5 * 365 },
  token: { name: "token", ca: false, keyUsage: ["digitalSignature"], crlDistributionPoint: true, validityDays: 3 * 365 },
  // The seal maker (制章人, GB/T 38540): signs SES_Seal structures. A service key of the SM2 hierarchy.
  "seal-maker": { name: "seal-maker", ca: false, keyUsage: ["digitalSignature", "nonRepudiation"], crlDistributionPoint: true, validityDays: 5 * 365 },
});

export function isDepartmentProfile(p: string): p is DepartmentProfileName {
  return (DEPARTMENT_PROFILES as readonly string[]).includes(p);
}

/** One attribute of a distinguished name. `printable` forces PrintableString (C, serialNumber); else UTF8String. */
export interface DnAttribute {
  readonly type: string;
  readonly value: string;
  readonly printable?: boolean;
}

/** Certificates are back-dated by this much so a verifier whose clock is slightly behind accepts them. */
export const BACKDATE_MS = 5 * 60 * 1000;

export const DEV_OU = "DEV ONLY - NOT FOR PRODUCTION";
/** What every page, licence PDF and stamp appearance says while DEV key material is loaded. */
export const DEV_MARK = "开发测试 · 非正式 DEV";

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]+$/;

export function caSubject(kind: "root" | "issuing", dev: boolean): DnAttribute[] {
  return [
    { type: OID.country, value: "CN", printable: true },
    { type: OID.organization, value: "Sidian" },
    ...(dev ? [{ type: OID.organizationalUnit, value: DEV_OU }] : []),
    { type: OID.commonName, value: kind === "root" ? "Sidian Root CA" : "Sidian Issuing CA 1" },
  ];
}

export function serviceSubject(profile: "tsa" | "token", dev: boolean): DnAttribute[] {
  return [
    { type: OID.country, value: "CN", printable: true },
    { type: OID.organization, value: "Sidian" },
    ...(dev ? [{ type: OID.organizationalUnit, value: DEV_OU }] : []),
    { type: OID.commonName, value: profile === "tsa" ? "Sidian Time Stamping Authority" : "Sidian Token Signing" },
  ];
}

export interface DepartmentSubjectInput {
  department: { name: string; uscc: string };
  profile: DepartmentProfileName;
  /** Seal ID (esID); required for the seal profile, refused for the others. */
  sealId?: string;
  /** CN override: the seal's name for seals, the signer's name for signer certificates. */
  commonName?: string;
  dev?: boolean;
}

const DEFAULT_CN: Record<DepartmentProfileName, string> = {
  "licence-signing": "电子证照签发",
  seal: "电子印章",
  signer: "电子签名",
};

/** The subject of a department certificate; throws CERTIFICATE_PROFILE_INVALID on unusable input. */
export function departmentSubject(input: DepartmentSubjectInput): DnAttribute[] {
  const { department, profile } = input;
  const bad = (msg: string) => new AppError("CERTIFICATE_PROFILE_INVALID", msg);
  if (!isUscc(department.uscc)) throw bad("The department USCC is not a valid 18-character unified social credit code.");
  const name = department.name.trim();
  if (name.length === 0 || name.length > 64) throw bad("The department name must be 1 to 64 characters.");
  const np = textProblem(department.name);
  if (np) throw bad(`The department name ${np}.`);
  if (profile === "seal") {
    if (!input.sealId || !PRINTABLE.test(input.sealId) || input.sealId.length > 64) {
      throw bad("A seal certificate needs a seal ID (esID) of 1 to 64 printable characters.");
    }
  } else if (input.sealId !== undefined) {
    throw bad(`A ${profile} certificate does not carry a seal ID.`);
  }
  if (profile === "signer" && !input.commonName) throw bad("A signer certificate needs the signer's name.");
  const cn = (input.commonName ?? `${name} ${DEFAULT_CN[profile]}`).trim();
  if (cn.length === 0 || cn.length > 64) throw bad("The common name must be 1 to 64 characters.");
  const cp = textProblem(input.commonName ?? cn);
  if (cp) throw bad(`The common name ${cp}.`);
  return [
    { type: OID.country, value: "CN", printable: true },
    { type: OID.organization, value: name },
    ...(input.dev ? [{ type: OID.organizationalUnit, value: DEV_OU }] : []),
    { type: OID.organizationIdentifier, value: department.uscc, printable: true },
    ...(profile === "seal" ? [{ type: OID.serialNumber, value: input.sealId!, printable: true }] : []),
    { type: OID.commonName, value: cn },
  ];
}

/**
 * The subject of a personal-signing certificate: C=CN, the person's name as CN and a stable pseudonym (X.520
 * pseudonym) that stands for the person; never the ID number (DESIGN rule 7).
 */
export function personSubject(input: { name: string; pseudonym: string; dev?: boolean }): DnAttribute[] {
  const bad = (msg: string) => new AppError("CERTIFICATE_PROFILE_INVALID", msg);
  const name = input.name.trim();
  if (name.length === 0 || name.length > 64) throw bad("The person's name must be 1 to 64 characters.");
  const pp = textProblem(input.name);
  if (pp) throw bad(`The person's name ${pp}.`);
  if (!/^[A-Za-z0-9-]{8,64}$/.test(input.pseudonym)) throw bad("The pseudonym must be 8 to 64 characters of A-Z a-z 0-9 -.");
  return [
    { type: OID.country, value: "CN", printable: true },
    { type: OID.organization, value: "Sidian" },
    { type: OID.organizationalUnit, value: input.dev ? DEV_OU : "Personal signatures" },
    { type: OID.pseudonym, value: input.pseudonym },
    { type: OID.commonName, value: name },
  ];
}
