/**
 * The national profile's CA hierarchy in the keys folder, beside the P-256 one (issue 20 §2):
 *
 *   sm2-root-ca.crt.pem / .key.pem     SM2 root CA, self-signed, SM3withSM2, CA:TRUE pathlen:1 (key never loaded)
 *   sm2-issuing-ca.crt.pem / .key.pem  SM2 issuing CA, signed by the SM2 root, CA:TRUE pathlen:0
 *   sm2-tsa.crt.pem / .key.pem         SM2 time-stamping unit, EKU timeStamping (critical, only)
 *   sm2-seal-maker.crt.pem / .key.pem  the seal maker (制章人) that signs GB/T 38540 SES_Seal structures
 *
 * Same profiles and extensions as the P-256 hierarchy (src/pki/profiles.ts); SM2 keys from src/crypto/sm2.ts,
 * signatures SM3withSM2 (1.2.156.10197.1.501) with Z over the default signer ID 1234567812345678 (GB/T 35276,
 * GM/T 0015). End-entity certificates of this hierarchy carry the CRL distribution point `${publicUrl}/pki/sm2/crl`.
 *
 * The files are optional: a folder without them (older folders, HSM ceremonies: PKCS#11 has no standard SM2
 * mechanism) simply has no SM2 profile, and `keysInitSm2` adds them to an existing folder without touching the
 * P-256 material.
 *
 * OpenSSL 3.0 note: OpenSSL verifies certificate signatures with an empty SM2 ID unless told otherwise
 * (`-vfyopt distid:…` applies to the target certificate only), so a three-level SM2 chain is checked link by link:
 * `openssl verify -vfyopt distid:1234567812345678 -CAfile sm2-root-ca.crt.pem sm2-issuing-ca.crt.pem` and
 * `openssl verify -vfyopt distid:1234567812345678 -partial_chain -CAfile sm2-issuing-ca.crt.pem LEAF`.
 */
import crypto, { type KeyObject } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { AppError } from "../errors.js";
import { systemClock, type Clock } from "../modules/kernel.js";
import { sm2GenerateKey, sm2Pkcs8Der } from "../crypto/sm2.js";
import { verifyChain } from "./chain.js";
import { fromPem, toPem } from "./pem.js";
import { hierarchyChecks, lockedKeyFile, writeKeyFilesAtomically } from "./key-files.js";
import { BACKDATE_MS, DEV_OU, OID, PROFILES, type DnAttribute, type ProfileName } from "./profiles.js";
import { certSignedParts, parseCertificate, type CertInfo } from "./reader.js";
import { algOfKey, keyObjectSigningKey, observed, sm2KeyObject, verifyWithSpki, type SignObserver, type SigningKey } from "./signing-key.js";
import { createCertificate, keyIdentifier, keyObjectSigner, type CaSigner, type IssuerRef } from "./x509.js";

export const SM2_KEY_FILES = {
  rootCert: "sm2-root-ca.crt.pem",
  rootKey: "sm2-root-ca.key.pem",
  issuingCert: "sm2-issuing-ca.crt.pem",
  issuingKey: "sm2-issuing-ca.key.pem",
  tsaCert: "sm2-tsa.crt.pem",
  tsaKey: "sm2-tsa.key.pem",
  sealMakerCert: "sm2-seal-maker.crt.pem",
  sealMakerKey: "sm2-seal-maker.key.pem",
} as const;

export interface Sm2Material {
  readonly rootCert: CertInfo;
  readonly issuingCa: { readonly cert: CertInfo; readonly signingKey: SigningKey; readonly key?: KeyObject; readonly signer: CaSigner; readonly keyId: Uint8Array };
  /** `chain` is [tsa, issuing CA, root]. */
  readonly tsa: { readonly cert: CertInfo; readonly signingKey: SigningKey; readonly key?: KeyObject; readonly chain: readonly CertInfo[] };
  /** The seal maker (制章人) of GB/T 38540 seals; `chain` is [maker, issuing CA, root]. */
  readonly sealMaker: { readonly cert: CertInfo; readonly signingKey: SigningKey; readonly key?: KeyObject; readonly chain: readonly CertInfo[] };
  /** SM2 root + issuing CA, PEM. */
  readonly trustBundlePem: string;
}

const DAY = 86_400_000;

export function sm2Subject(kind: "root" | "issuing" | "tsa" | "seal-maker", dev: boolean): DnAttribute[] {
  const cn = { root: "Sidian SM2 Root CA", issuing: "Sidian SM2 Issuing CA 1", tsa: "Sidian SM2 Time Stamping Authority", "seal-maker": "Sidian Seal Maker" }[kind];
  return [
    { type: OID.country, value: "CN", printable: true },
    { type: OID.organization, value: "Sidian" },
    ...(dev ? [{ type: OID.organizationalUnit, value: DEV_OU }] : []),
    { type: OID.commonName, value: cn },
  ];
}

function newSm2Key(): { privateKey: KeyObject; publicKey: KeyObject } {
  const privateKey = sm2KeyObject(sm2Pkcs8Der(sm2GenerateKey()));
  return { privateKey, publicKey: crypto.createPublicKey(privateKey) };
}

const keyPem = (k: KeyObject) => k.export({ type: "pkcs8", format: "pem" }).toString();

export interface KeysInitSm2Options {
  readonly dir: string;
  readonly dev: boolean;
  readonly publicUrl: string;
  readonly clock?: Clock;
  /** Replace existing SM2 files (the P-256 files are never touched). */
  readonly force?: boolean;
}

/** Writes the SM2 hierarchy into `dir` (temporary names, then renamed); returns the file names written. */
export async function keysInitSm2(opts: KeysInitSm2Options): Promise<string[]> {
  const dir = path.resolve(opts.dir);
  const clock = opts.clock ?? systemClock;
  if (fs.existsSync(path.join(dir, SM2_KEY_FILES.rootCert)) && !opts.force) {
    throw new AppError("CONFLICT", `SM2 key material already exists in ${dir}; pass force to replace it.`);
  }
  const crlUrl = `${opts.publicUrl.replace(/\/+$/, "")}/pki/sm2/crl`;
  const now = new Date(Math.floor(clock.now().getTime() / 1000) * 1000);
  const validity = (profile: ProfileName) => ({ notBefore: new Date(now.getTime() - BACKDATE_MS), notAfter: new Date(now.getTime() + PROFILES[profile].validityDays * DAY) });

  const root = newSm2Key();
  const rootCert = parseCertificate(await createCertificate({ profile: PROFILES["root-ca"], subject: sm2Subject("root", opts.dev), publicKey: root.publicKey, ...validity("root-ca"), issuer: { self: keyObjectSigner(root.privateKey) } }));
  const under = (c: CertInfo, key: KeyObject): IssuerRef => ({ nameDer: c.subjectDer, keyId: keyIdentifier(c.spki), notAfter: c.notAfter, signer: keyObjectSigner(key) });
  const issuing = newSm2Key();
  const issuingCert = parseCertificate(await createCertificate({ profile: PROFILES["issuing-ca"], subject: sm2Subject("issuing", opts.dev), publicKey: issuing.publicKey, ...validity("issuing-ca"), issuer: under(rootCert, root.privateKey) }));
  const tsa = newSm2Key();
  const tsaCert = parseCertificate(await createCertificate({ profile: PROFILES.tsa, subject: sm2Subject("tsa", opts.dev), publicKey: tsa.publicKey, ...validity("tsa"), issuer: under(issuingCert, issuing.privateKey), crlUrl }));

  const maker = newSm2Key();
  const makerCert = parseCertificate(await createCertificate({ profile: PROFILES["seal-maker"], subject: sm2Subject("seal-maker", opts.dev), publicKey: maker.publicKey, ...validity("seal-maker"), issuer: under(issuingCert, issuing.privateKey), crlUrl }));

  const files: Array<[string, string, number]> = [
    [SM2_KEY_FILES.rootCert, toPem(rootCert.der, "CERTIFICATE"), 0o644],
    [SM2_KEY_FILES.rootKey, keyPem(root.privateKey), 0o600],
    [SM2_KEY_FILES.issuingCert, toPem(issuingCert.der, "CERTIFICATE"), 0o644],
    [SM2_KEY_FILES.issuingKey, keyPem(issuing.privateKey), 0o600],
    [SM2_KEY_FILES.tsaCert, toPem(tsaCert.der, "CERTIFICATE"), 0o644],
    [SM2_KEY_FILES.tsaKey, keyPem(tsa.privateKey), 0o600],
    [SM2_KEY_FILES.sealMakerCert, toPem(makerCert.der, "CERTIFICATE"), 0o644],
    [SM2_KEY_FILES.sealMakerKey, keyPem(maker.privateKey), 0o600],
  ];
  fs.mkdirSync(dir, { recursive: true });
  // The root certificate last: its presence marks a complete SM2 hierarchy.
  writeKeyFilesAtomically(dir, files);
  return files.map(([n]) => n);
}

const locked = lockedKeyFile;

function read(file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw locked(file, code === "ENOENT" ? "file is missing (the SM2 hierarchy is incomplete)" : `cannot be read (${code ?? "error"})`, cause);
  }
}

function readCert(file: string): CertInfo {
  try {
    return parseCertificate(fromPem(read(file), "CERTIFICATE"));
  } catch (cause) {
    if (cause instanceof AppError) throw cause;
    throw locked(file, `not a valid PEM certificate (${(cause as Error).message})`, cause);
  }
}

function readSm2Key(file: string, cert: CertInfo): KeyObject {
  let key: KeyObject;
  try {
    key = sm2KeyObject(fromPem(read(file), "PRIVATE KEY"));
  } catch (cause) {
    if (cause instanceof AppError) throw cause;
    throw locked(file, `not a valid PKCS#8 PEM private key (${(cause as Error).message})`, cause);
  }
  if (algOfKey(key) !== "SM2") throw locked(file, "must be an SM2 key");
  if (Buffer.compare(crypto.createPublicKey(key).export({ type: "spki", format: "der" }), Buffer.from(cert.spki)) !== 0) {
    throw locked(file, "does not match the public key of its certificate");
  }
  return key;
}

/**
 * Reads and checks the SM2 hierarchy of a keys folder: null when the folder has none. Every certificate must be
 * SM2/SM3withSM2 and chain to the SM2 root at `now`; the TSA must carry the critical timeStamping EKU only.
 */
export async function loadSm2Material(dir: string, opts: { now: Date; publicOnly: boolean; onSign?: SignObserver }): Promise<Sm2Material | null> {
  const f = (n: string) => path.join(dir, n);
  if (!fs.existsSync(f(SM2_KEY_FILES.rootCert))) return null;
  const rootCert = readCert(f(SM2_KEY_FILES.rootCert));
  const issuingCert = readCert(f(SM2_KEY_FILES.issuingCert));
  const tsaCert = readCert(f(SM2_KEY_FILES.tsaCert));
  const makerCert = readCert(f(SM2_KEY_FILES.sealMakerCert));
  for (const [file, c] of [[SM2_KEY_FILES.rootCert, rootCert], [SM2_KEY_FILES.issuingCert, issuingCert], [SM2_KEY_FILES.tsaCert, tsaCert], [SM2_KEY_FILES.sealMakerCert, makerCert]] as const) {
    if (c.signatureAlgorithm !== OID.sm3WithSm2) throw locked(f(file), "must be signed with SM3withSM2");
    const pub = crypto.createPublicKey({ key: Buffer.from(c.spki), format: "der", type: "spki" });
    if (algOfKey(pub) !== "SM2") throw locked(f(file), "must certify an SM2 key");
  }
  const rootCheck = await verifyChain({ leaf: rootCert, anchors: [rootCert], at: opts.now });
  const parts = certSignedParts(rootCert.der);
  const selfSigned = parts !== null && verifyWithSpki(OID.sm3WithSm2, rootCert.spki, parts.tbs, parts.signature);
  if (rootCheck.result !== "VALID" || !selfSigned || !rootCert.basicConstraints?.ca || rootCert.issuer !== rootCert.subject) {
    throw locked(f(SM2_KEY_FILES.rootCert), `is not a valid self-signed SM2 CA certificate at ${opts.now.toISOString()}`);
  }
  const checks = hierarchyChecks({ root: rootCert, rootFile: SM2_KEY_FILES.rootCert, issuing: issuingCert, at: opts.now, file: f });
  await checks.checkIssuing(SM2_KEY_FILES.issuingCert);
  const tsaChain = await checks.checkTsa(SM2_KEY_FILES.tsaCert, tsaCert);
  const makerChain = await checks.chainOf(SM2_KEY_FILES.sealMakerCert, makerCert, { keyUsage: ["digitalSignature"] });
  let issuingKey: KeyObject | undefined;
  let tsaKey: KeyObject | undefined;
  let makerKey: KeyObject | undefined;
  if (!opts.publicOnly) {
    issuingKey = readSm2Key(f(SM2_KEY_FILES.issuingKey), issuingCert);
    tsaKey = readSm2Key(f(SM2_KEY_FILES.tsaKey), tsaCert);
    makerKey = readSm2Key(f(SM2_KEY_FILES.sealMakerKey), makerCert);
  }
  const sk = (role: string, key: KeyObject | undefined, cert: CertInfo): SigningKey => {
    const base: SigningKey = key
      ? keyObjectSigningKey(role, key)
      : {
          role, alg: "SM2", backend: "none", publicKey: crypto.createPublicKey({ key: Buffer.from(cert.spki), format: "der", type: "spki" }),
          sign: () => Promise.reject(new AppError("KEYSTORE_LOCKED", `The ${role} key was not loaded (public material only).`)),
        };
    return opts.onSign ? observed(base, opts.onSign) : base;
  };
  const issuingSk = sk("sm2-issuing-ca", issuingKey, issuingCert);
  const tsaSk = sk("sm2-tsa", tsaKey, tsaCert);
  const makerSk = sk("sm2-seal-maker", makerKey, makerCert);
  return {
    rootCert,
    issuingCa: { cert: issuingCert, signingKey: issuingSk, ...(issuingKey ? { key: issuingKey } : {}), signer: { algorithm: "SM2", sign: (d) => issuingSk.sign(d, "der") }, keyId: keyIdentifier(issuingCert.spki) },
    tsa: { cert: tsaCert, signingKey: tsaSk, ...(tsaKey ? { key: tsaKey } : {}), chain: tsaChain },
    sealMaker: { cert: makerCert, signingKey: makerSk, ...(makerKey ? { key: makerKey } : {}), chain: makerChain },
    trustBundlePem: toPem(rootCert.der, "CERTIFICATE") + toPem(issuingCert.der, "CERTIFICATE"),
  };
}
