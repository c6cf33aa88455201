/**
 * Functions behind `sidian keys …` (src/main.ts parses the arguments and prints the results).
 *
 * `keysInit` creates a complete keys folder: root CA → issuing CA → TSA and token-signing certificates, the
 * transparency-log key, the identity-provider key (dev only) and the key-encryption key. The layout is fixed;
 * the keys are random. With `dev: true` every subject says "DEV ONLY - NOT FOR PRODUCTION" and the manifest says
 * `"dev": true`, so a production service refuses the folder.
 */
import crypto, { type KeyObject } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { calculateJwkThumbprint, type JWK } from "jose";
import { AppError } from "../errors.js";
import { systemClock, type Clock } from "../modules/kernel.js";
import { kekId } from "./keystore.js";
import { caSignerOf, KEY_FILES, loadKeyMaterial, type KeysManifest, type ServiceKeyRole, type ServiceKeySource } from "./material.js";
import { keyObjectSigningKey, type SigningAlg, type SigningKey } from "./signing-key.js";
import { toPem } from "./pem.js";
import { BACKDATE_MS, caSubject, PROFILES, serviceSubject, type ProfileName } from "./profiles.js";
import { parseCertificate, type CertInfo } from "./reader.js";
import { keysInitSm2, SM2_KEY_FILES } from "./sm2-material.js";
import { writeKeyFilesAtomically } from "./key-files.js";
import { createCertificate, keyIdentifier, keyObjectSigner, spkiDer, type CaSigner, type IssuerRef } from "./x509.js";

export const DEV_WARNING =
  "DEV ONLY - these keys are public (committed to the repository). Never use them in production: a service in production mode refuses them.";

const DAY = 86_400_000;

export interface KeysInitOptions {
  readonly dir: string;
  readonly dev: boolean;
  /** Overwrite existing material (only the files listed in KEY_FILES; other files are left alone). */
  readonly force?: boolean;
  /** Base URL for the CRL distribution point in the TSA and token certificates. */
  readonly publicUrl: string;
  readonly clock?: Clock;
  /**
   * Generate the issuing CA, TSA, token and log keys here (on a PKCS#11 token) instead of writing them as files.
   * The root CA key is still made in this process and written once (keep it offline: the service never needs it).
   */
  readonly serviceKeys?: ServiceKeyGenerator;
  /**
   * The production key ceremony (`keys init --production`): the root CA key is written once, encrypted under this
   * passphrase (PKCS#8, PBES2 with scrypt and AES-256-CBC: `openssl pkey -in FILE` reads it), to `file` outside the
   * keys folder — never into the folder, never over an existing file. The service never needs it; keep it offline.
   */
  readonly offlineRoot?: { readonly file: string; readonly passphrase: string };
  /** Told about each step (the CLI prints it: a ceremony on an HSM takes a while). */
  readonly progress?: (step: string) => void;
}

/** A passphrase good enough to guard the root CA key offline. */
export const MIN_PASSPHRASE_LENGTH = 16;

/** Makes service keys where they will stay (a PKCS#11 token), and finds them again. */
export interface ServiceKeyGenerator {
  readonly source: ServiceKeySource;
  generate(role: ServiceKeyRole, alg: SigningAlg): Promise<SigningKey>;
}

export interface KeysInitResult {
  readonly dir: string;
  readonly dev: boolean;
  readonly files: readonly string[];
  readonly rootSha256: string;
  readonly issuingSha256: string;
  readonly tokenKid: string;
  /** Where the encrypted root CA key was written (production ceremony). */
  readonly rootKeyFile?: string;
  readonly notes: readonly string[];
}

function ecKeyPair() {
  return crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
}

function keyPem(k: KeyObject): string {
  return k.export({ type: "pkcs8", format: "pem" }).toString();
}

export function issuerOf(cert: CertInfo, signer: CaSigner): IssuerRef {
  return { nameDer: cert.subjectDer, keyId: keyIdentifier(cert.spki), notAfter: cert.notAfter, signer };
}

/** An end-entity or CA certificate of `profile` for `pub`, valid from now (backdated) for the profile's validity. */
export async function issue(profile: ProfileName, subject: ReturnType<typeof caSubject>, pub: KeyObject, issuer: IssuerRef, now: Date, crlUrl: string): Promise<CertInfo> {
  const p = PROFILES[profile];
  const der = await createCertificate({
    profile: p,
    subject,
    publicKey: pub,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + p.validityDays * DAY),
    issuer,
    crlUrl,
  });
  return parseCertificate(der);
}

export async function keysInit(opts: KeysInitOptions): Promise<KeysInitResult> {
  const clock = opts.clock ?? systemClock;
  const dir = path.resolve(opts.dir);
  let base: URL;
  try {
    base = new URL(opts.publicUrl);
  } catch {
    throw new AppError("CONFIG_INVALID", `publicUrl is not a URL: ${opts.publicUrl}`);
  }
  const publicUrl = base.toString().replace(/\/+$/, "");
  const crlUrl = `${publicUrl}/pki/crl`;
  if (fs.existsSync(path.join(dir, KEY_FILES.manifest)) && !opts.force) {
    throw new AppError("CONFLICT", `Key material already exists in ${dir}; pass force to replace it.`);
  }
  const offline = opts.offlineRoot;
  let rootFile: string | undefined;
  if (offline) {
    if (opts.dev) throw new AppError("CONFIG_INVALID", "The production key ceremony cannot make dev keys.");
    rootFile = path.resolve(offline.file);
    if (offline.passphrase.length < MIN_PASSPHRASE_LENGTH) throw new AppError("CONFIG_INVALID", `The root key passphrase must be at least ${MIN_PASSPHRASE_LENGTH} characters.`);
    if (fs.existsSync(rootFile)) throw new AppError("CONFLICT", `${rootFile} exists: the root CA key is written once and never over another file.`);
    if (path.dirname(rootFile) === dir) throw new AppError("CONFIG_INVALID", `Write the root CA key outside the keys folder ${dir}: the service never needs it.`);
    if (!fs.existsSync(path.dirname(rootFile))) throw new AppError("CONFIG_INVALID", `The folder of ${rootFile} does not exist.`);
  }
  const step = opts.progress ?? (() => {});
  fs.mkdirSync(dir, { recursive: true });
  const now = new Date(Math.floor(clock.now().getTime() / 1000) * 1000);
  const dev = opts.dev;
  step("root CA: key pair and self-signed certificate (in this process, offline)");

  // Root CA (self-signed).
  const root = ecKeyPair();
  const rootProfile = PROFILES["root-ca"];
  const rootDer = await createCertificate({
    profile: rootProfile,
    subject: caSubject("root", dev),
    publicKey: root.publicKey,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + rootProfile.validityDays * DAY),
    issuer: { self: keyObjectSigner(root.privateKey) },
  });
  const rootCert = parseCertificate(rootDer);

  // Service keys: in files, or generated on the token where they stay.
  const svc = async (role: ServiceKeyRole, alg: SigningAlg): Promise<SigningKey> => opts.serviceKeys
    ? opts.serviceKeys.generate(role, alg)
    : keyObjectSigningKey(role, (alg === "Ed25519" ? crypto.generateKeyPairSync("ed25519") : ecKeyPair()).privateKey);
  const where = opts.serviceKeys ? `on the PKCS#11 token (${opts.serviceKeys.source.backend})` : "in the keys folder";
  step(`issuing CA: key pair ${where}, certificate signed by the root`);
  const issuing = await svc("issuing-ca", "ES256");
  const issuingCert = await issue("issuing-ca", caSubject("issuing", dev), issuing.publicKey, issuerOf(rootCert, keyObjectSigner(root.privateKey)), now, crlUrl);
  const ica = issuerOf(issuingCert, caSignerOf(issuing));

  step(`TSA, access-token and log keys ${where}, certificates signed by the issuing CA`);
  const tsa = await svc("tsa", "ES256");
  const tsaCert = await issue("tsa", serviceSubject("tsa", dev), tsa.publicKey, ica, now, crlUrl);
  const token = await svc("token", "ES256");
  const tokenCert = await issue("token", serviceSubject("token", dev), token.publicKey, ica, now, crlUrl);
  const tokenKid = await calculateJwkThumbprint(token.publicKey.export({ format: "jwk" }) as JWK, "sha256");

  const log = await svc("log", "Ed25519");

  const files: Array<[string, string, number]> = [];
  const manifest: KeysManifest = {
    format: 1,
    dev,
    ...(dev ? { warning: DEV_WARNING } : {}),
    created: now.toISOString(),
    publicUrl,
    ...(opts.serviceKeys ? { keyStore: "pkcs11" as const } : {}),
    ...(offline ? { ceremony: { at: now.toISOString(), rootSha256: rootCert.sha256, rootKey: "offline (encrypted PKCS#8, not in this folder)" } } : {}),
  };
  files.push([KEY_FILES.manifest, `${JSON.stringify(manifest, null, 2)}\n`, 0o644]);
  files.push([KEY_FILES.rootCert, toPem(rootCert.der, "CERTIFICATE"), 0o644]);
  if (!offline) files.push([KEY_FILES.rootKey, keyPem(root.privateKey), 0o600]);
  else fs.rmSync(path.join(dir, KEY_FILES.rootKey), { force: true }); // an earlier folder's plain root key
  files.push([KEY_FILES.issuingCert, toPem(issuingCert.der, "CERTIFICATE"), 0o644]);
  const keyFile = (name: string, sk: SigningKey) => {
    if (sk.privateKey) files.push([name, keyPem(sk.privateKey), 0o600]);
    else fs.rmSync(path.join(dir, name), { force: true }); // an earlier folder's file key, replaced by the token's
  };
  keyFile(KEY_FILES.issuingKey, issuing);
  files.push([KEY_FILES.tsaCert, toPem(tsaCert.der, "CERTIFICATE"), 0o644]);
  keyFile(KEY_FILES.tsaKey, tsa);
  files.push([KEY_FILES.tokenCert, toPem(tokenCert.der, "CERTIFICATE"), 0o644]);
  keyFile(KEY_FILES.tokenKey, token);
  keyFile(KEY_FILES.logKey, log);
  files.push([KEY_FILES.logPub, log.publicKey.export({ type: "spki", format: "pem" }).toString(), 0o644]);

  const idpKeys: JWK[] = [];
  if (dev) {
    const idp = ecKeyPair();
    const jwk = idp.publicKey.export({ format: "jwk" }) as JWK;
    const kid = await calculateJwkThumbprint(jwk, "sha256");
    idpKeys.push({ kty: jwk.kty!, crv: jwk.crv!, x: jwk.x!, y: jwk.y!, kid, alg: "ES256", use: "sig" });
    files.push([KEY_FILES.idpKey, keyPem(idp.privateKey), 0o600]);
  } else {
    fs.rmSync(path.join(dir, KEY_FILES.idpKey), { force: true });
  }
  files.push([KEY_FILES.idpJwks, `${JSON.stringify({ keys: idpKeys }, null, 2)}\n`, 0o644]);
  files.push([KEY_FILES.kek, `${crypto.randomBytes(32).toString("base64")}\n`, 0o600]);

  // The root CA key of the ceremony: encrypted, written once (exclusive create), read back to prove the passphrase.
  if (offline && rootFile) {
    step(`root CA key: encrypted and written once to ${rootFile}`);
    const enc = root.privateKey.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: offline.passphrase }).toString();
    const fd = fs.openSync(rootFile, "wx", 0o600);
    try {
      fs.writeFileSync(fd, enc);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    const back = readEncryptedRootKey(rootFile, offline.passphrase);
    if (!crypto.createPublicKey(back).equals(root.publicKey)) throw new AppError("INTERNAL", `${rootFile} does not read back as the root CA key.`);
  }

  step("writing the keys folder");
  // Temporary names first, then renamed, the manifest last (its presence marks a complete folder): a crash never
  // leaves a half-written folder.
  writeKeyFilesAtomically(dir, files);

  // The national profile's hierarchy (SM2), in files: PKCS#11 has no standard SM2 mechanism, and the production
  // ceremony's offline root is a P-256 key; such folders get no SM2 hierarchy (add one with keysInitSm2).
  const sm2Files: string[] = [];
  if (!opts.serviceKeys && !offline) {
    step("SM2 (national profile): root CA, issuing CA and TSA in the keys folder");
    sm2Files.push(...(await keysInitSm2({ dir, dev, publicUrl, clock, force: true })));
  }

  // Prove the result loads.
  step("checking: every chain verifies and every key signs");
  await loadKeyMaterial(dir, { now: clock.now(), ...(opts.serviceKeys ? { serviceKeys: opts.serviceKeys.source } : {}) });

  const notes: string[] = [];
  if (opts.serviceKeys) notes.push(`The issuing CA, TSA, token and log keys were generated on the PKCS#11 token (${opts.serviceKeys.source.backend}) and never left it; the folder holds their certificates.`);
  if (sm2Files.length === 0) notes.push("No SM2 (national profile) hierarchy was made: SM2 keys are file keys only.");
  else if (!dev) notes.push(`Move ${SM2_KEY_FILES.rootKey} to offline storage too: the service never reads it.`);
  if (dev) notes.push(DEV_WARNING);
  else if (rootFile) {
    notes.push(`The root CA key is in ${rootFile}, encrypted under the passphrase: move it (and the passphrase, kept apart) to offline storage now; it is needed again only to make a new issuing CA.`);
    notes.push(`Put the identity provider's public keys into ${KEY_FILES.idpJwks} (it is empty now), or set SIDIAN_IDP_KEYS=oidc.`);
    notes.push("Department licence-signing and seal keys are made in the same key store when departments and seals are created.");
  } else {
    notes.push(`Move ${KEY_FILES.rootKey} to offline storage: the service never reads it.`);
    notes.push(`Put the identity provider's public keys into ${KEY_FILES.idpJwks} (it is empty now).`);
  }
  return {
    dir,
    dev,
    files: [...files.map(([n]) => n), ...sm2Files],
    rootSha256: rootCert.sha256,
    issuingSha256: issuingCert.sha256,
    tokenKid,
    ...(rootFile ? { rootKeyFile: rootFile } : {}),
    notes,
  };
}

/** Reads the root CA key of a ceremony; CONFIG_INVALID (one line) when the passphrase is wrong or the file is not one. */
export function readEncryptedRootKey(file: string, passphrase: string): KeyObject {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (cause) {
    throw new AppError("CONFIG_INVALID", `Cannot read the root CA key ${file} (${(cause as NodeJS.ErrnoException).code ?? "error"}).`, { cause });
  }
  if (!text.includes("-----BEGIN ENCRYPTED PRIVATE KEY-----")) throw new AppError("CONFIG_INVALID", `${file} is not an encrypted PKCS#8 private key.`);
  try {
    return crypto.createPrivateKey({ key: text, format: "pem", passphrase });
  } catch (cause) {
    throw new AppError("CONFIG_INVALID", `Wrong passphrase for the root CA key ${file} (or the file is damaged).`, { cause });
  }
}

export interface KeysSummary {
  readonly dir: string;
  readonly dev: boolean;
  readonly created: string;
  /** Where the service private keys are: `file` or `pkcs11`. */
  readonly keyStore: string;
  readonly certificates: ReadonlyArray<{
    readonly role: string;
    readonly subject: string;
    readonly serial: string;
    readonly notBefore: string;
    readonly notAfter: string;
    readonly sha256: string;
  }>;
  readonly tokenKid: string;
  readonly logPublicKey: string;
  readonly idpKids: readonly string[];
  /** Identifies the KEK (first 8 bytes of SHA-256 over a label and the KEK); never the KEK itself. */
  readonly kekId: string;
}

/** Loads the keys folder (with all checks) and describes it. Contains no secret. */
export async function keysShow(dir: string, opts: { now?: Date; serviceKeys?: ServiceKeySource } = {}): Promise<KeysSummary> {
  const m = await loadKeyMaterial(dir, opts);
  const row = (role: string, c: CertInfo) => ({
    role,
    subject: c.subject,
    serial: c.serial,
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
    sha256: c.sha256,
  });
  return {
    dir: m.dir,
    dev: m.dev,
    created: m.manifest.created,
    keyStore: m.keyStore,
    certificates: [
      row("root-ca", m.rootCert), row("issuing-ca", m.issuingCa.cert), row("tsa", m.tsa.cert), row("token", m.token.cert),
      ...(m.sm2 ? [row("sm2-root-ca", m.sm2.rootCert), row("sm2-issuing", m.sm2.issuingCa.cert), row("sm2-tsa", m.sm2.tsa.cert)] : []),
    ],
    tokenKid: m.token.kid,
    logPublicKey: Buffer.from(spkiDer(m.log.publicKey)).toString("base64"),
    idpKids: m.idp.jwks.keys.map((k) => k.kid ?? "?"),
    kekId: kekId(m.kek).toString("hex"),
  };
}

/** Human-readable form of `keysShow` for the terminal. */
export function formatKeysSummary(s: KeysSummary): string {
  const lines = [
    `keys folder  ${s.dir}`,
    `dev          ${s.dev ? "YES - DEV ONLY, refused in production" : "no"}`,
    `created      ${s.created}`,
    `key store    ${s.keyStore === "pkcs11" ? "pkcs11 (the issuing CA, TSA, token and log keys are on the token)" : "file"}`,
  ];
  for (const c of s.certificates) {
    lines.push(`${c.role.padEnd(12)} ${c.subject}`, `             serial ${c.serial}  valid ${c.notBefore} → ${c.notAfter}`, `             sha256 ${c.sha256}`);
  }
  lines.push(`token kid    ${s.tokenKid}`, `log key      ${s.logPublicKey}`, `idp kids     ${s.idpKids.join(", ") || "(none)"}`, `kek id       ${s.kekId}`);
  return lines.join("\n");
}

/** The ceremony record printed at the end of `keys init --production`: fingerprints to write down and sign. */
export function formatCeremony(r: KeysInitResult): string {
  return [
    "Key ceremony record (write these down, sign and keep them with the root key's custody record):",
    `  keys folder          ${r.dir}`,
    `  root CA SHA-256      ${r.rootSha256}`,
    `  issuing CA SHA-256   ${r.issuingSha256}`,
    `  access-token kid     ${r.tokenKid}`,
    ...(r.rootKeyFile ? [`  root CA key          ${r.rootKeyFile} (encrypted; move offline now)`] : []),
    "",
    ...r.notes.map((n) => `- ${n}`),
  ].join("\n");
}
