/**
 * The keys folder (SIDIAN_KEYS_DIR): file names, and `loadKeyMaterial`, which reads and checks everything the
 * service needs at start-up. The root CA private key is never read (keep it offline in production).
 *
 * Layout (written by `keysInit`, see keys-dev/README.md):
 *   manifest.json                  {"format":1,"dev":true|false,"warning":…,"created":…,"publicUrl":…}
 *   root-ca.crt.pem                root CA certificate (trust anchor)
 *   root-ca.key.pem                root CA key — written by init, never loaded; move offline in production
 *   issuing-ca.crt.pem / .key.pem  issuing CA (signs every end-entity certificate and the CRL)
 *   tsa.crt.pem / tsa.key.pem      RFC 3161 time-stamping unit (EKU timeStamping, critical)
 *   token.crt.pem / token.key.pem  ES256 access-token signing key (kid = RFC 7638 thumbprint)
 *   log.key.pem / log.pub.pem      Ed25519 transparency-log checkpoint key (PKCS#8 / SPKI)
 *   idp.key.pem                    DEV ONLY: ES256 key that mints holder tokens; absent in production
 *   idp-jwks.json                  public keys of the accepted identity provider
 *   kek.b64                        base64 of the 32-byte key-encryption key wrapping runtime keys
 *
 * With a PKCS#11 key store (SIDIAN_KEYSTORE=pkcs11:…, manifest `"keyStore": "pkcs11"`) the private keys of the
 * issuing CA, TSA, token and log are on the token, not in the folder: each is found by its CKA_ID, the
 * subjectKeyIdentifier of its public key (SHA-1 of the public key bits, RFC 5280 §4.2.1.2 method 1) taken from its
 * certificate (log.pub.pem for the log key), and proven to match by signing a challenge at start-up. The folder
 * then holds only certificates, public keys, the IdP's JWKS and the KEK.
 */
import crypto, { type KeyObject } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { calculateJwkThumbprint, type JWK } from "jose";
import { AppError } from "../errors.js";
import { verifyChain } from "./chain.js";
import { fromPem, toPem } from "./pem.js";
import { DEV_OU } from "./profiles.js";
import { parseCertificate, type CertInfo } from "./reader.js";
import { algOfKey, keyObjectSigningKey, observed, type SignObserver, type SigningKey } from "./signing-key.js";
import { loadSm2Material, SM2_KEY_FILES, type Sm2Material } from "./sm2-material.js";
import { keyIdentifier, type CaSigner } from "./x509.js";
import { hierarchyChecks, lockedKeyFile } from "./key-files.js";

export const KEY_FILES = {
  manifest: "manifest.json",
  rootCert: "root-ca.crt.pem",
  rootKey: "root-ca.key.pem",
  issuingCert: "issuing-ca.crt.pem",
  issuingKey: "issuing-ca.key.pem",
  tsaCert: "tsa.crt.pem",
  tsaKey: "tsa.key.pem",
  tokenCert: "token.crt.pem",
  tokenKey: "token.key.pem",
  logKey: "log.key.pem",
  logPub: "log.pub.pem",
  idpKey: "idp.key.pem",
  idpJwks: "idp-jwks.json",
  kek: "kek.b64",
} as const;

export interface KeysManifest {
  readonly format: 1;
  readonly dev: boolean;
  readonly warning?: string;
  readonly created: string;
  readonly publicUrl?: string;
  /** Where the service private keys are: `file` (this folder; the default) or `pkcs11` (on a token). */
  readonly keyStore?: "file" | "pkcs11";
  /** Written by the production key ceremony (`keys init --production`): when, and which root. */
  readonly ceremony?: { readonly at: string; readonly rootSha256: string; readonly rootKey: string };
  /**
   * Service keys replaced by `sidian keys rotate`: their public material (a certificate, or the log's public key)
   * under `previous/`, kept so what they signed keeps verifying. `until` ends the overlap: until then the old
   * token key is accepted and published (JWKS) and the old TSA certificate is known; the old log keys stay known
   * to `log audit` for good (checkpoints are kept for good).
   */
  readonly previous?: readonly PreviousKeyEntry[];
}

export interface PreviousKeyEntry {
  readonly role: "tsa" | "token" | "log";
  /** Path relative to the keys folder (`previous/…`). */
  readonly file: string;
  /** When it was replaced. */
  readonly retired: string;
  /** End of the overlap. */
  readonly until: string;
}

/** Public material of service keys replaced by a rotation (see `KeysManifest.previous`). */
export interface PreviousKeys {
  /** Old access-token keys still in their overlap: accepted for tokens they signed, listed in the JWKS. */
  readonly token: ReadonlyArray<{ readonly kid: string; readonly publicKey: KeyObject; readonly publicJwk: JWK; readonly cert: CertInfo; readonly until: Date }>;
  /** Old TSA certificates still in their overlap. */
  readonly tsa: ReadonlyArray<{ readonly cert: CertInfo; readonly until: Date }>;
  /** Every old log key (checkpoints they signed stay in the log); `until` ends its listing in the JWKS. */
  readonly log: ReadonlyArray<{ readonly publicKey: KeyObject; readonly publicKeyPem: string; readonly until: Date }>;
}

export interface CertAndKey {
  readonly cert: CertInfo;
  /** Signs with the certificate's key, wherever it is (file or token). */
  readonly signingKey: SigningKey;
  /** The private key itself when it is in a file (file key store only). */
  readonly key?: KeyObject;
}

export type ServiceKeyRole = "issuing-ca" | "tsa" | "token" | "log";

/** Where service private keys come from when they are not files in the folder (a PKCS#11 token). */
export interface ServiceKeySource {
  readonly backend: string;
  /** The signing key whose public key is `spki` (from the role's certificate or log.pub.pem). */
  key(role: ServiceKeyRole, spki: Uint8Array): Promise<SigningKey>;
}

export interface KeyMaterial {
  readonly dir: string;
  /** True for development material. The service MUST refuse to start in production when this is true. */
  readonly dev: boolean;
  readonly manifest: KeysManifest;
  readonly rootCert: CertInfo;
  readonly issuingCa: CertAndKey & { readonly signer: CaSigner; readonly keyId: Uint8Array };
  /** TSA certificate and key; `chain` is [tsa, issuing CA, root]. */
  readonly tsa: CertAndKey & { readonly chain: readonly CertInfo[] };
  readonly token: {
    readonly kid: string;
    readonly signingKey: SigningKey;
    /** File key store only. */
    readonly privateKey?: KeyObject;
    readonly publicKey: KeyObject;
    /** Public JWK with kid, alg ES256, use sig. */
    readonly publicJwk: JWK;
    readonly cert: CertInfo;
  };
  readonly log: { readonly signingKey: SigningKey; readonly privateKey?: KeyObject; readonly publicKey: KeyObject; readonly publicKeyPem: string };
  /** Where the service private keys are: `file` or `pkcs11`. */
  readonly keyStore: string;
  /** Public material of rotated-out service keys (empty before the first `keys rotate`). */
  readonly previous: PreviousKeys;
  readonly idp: { readonly jwks: { readonly keys: readonly JWK[] }; readonly privateKey: KeyObject | null; readonly kid: string | null };
  readonly kek: Uint8Array;
  /** The national profile's hierarchy (SM2 root → issuing CA → TSA), when the folder has one (sm2-material.ts). */
  readonly sm2: Sm2Material | null;
  /** Root + issuing CA certificates, PEM: P-256, then SM2 when present. */
  readonly trustBundlePem: string;
  /** Non-fatal problems worth logging at start-up (e.g. private-key files readable by group or others). */
  readonly warnings: readonly string[];
}

export interface LoadOptions {
  /** Time at which the certificates must be valid (default: now). */
  readonly now?: Date;
  /** Take the service private keys from here (a PKCS#11 token) instead of the folder's key files. */
  readonly serviceKeys?: ServiceKeySource;
  /** Load certificates and public keys only (commands that verify): signing keys refuse to sign. */
  readonly publicOnly?: boolean;
  /** Told about every signature a service key makes (metrics). */
  readonly onSign?: SignObserver;
}

const locked = lockedKeyFile;

function readText(dir: string, file: string): string {
  const p = path.join(dir, file);
  try {
    return fs.readFileSync(p, "utf8");
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw locked(p, code === "ENOENT" ? "file is missing" : `cannot be read (${code ?? "error"})`, cause);
  }
}

function readCert(dir: string, file: string): CertInfo {
  const p = path.join(dir, file);
  const text = readText(dir, file);
  try {
    return parseCertificate(fromPem(text, "CERTIFICATE"));
  } catch (cause) {
    throw locked(p, `not a valid PEM certificate (${(cause as Error).message})`, cause);
  }
}

function readPrivateKey(dir: string, file: string): KeyObject {
  const p = path.join(dir, file);
  const text = readText(dir, file);
  try {
    fromPem(text, "PRIVATE KEY");
    return crypto.createPrivateKey({ key: text, format: "pem" });
  } catch (cause) {
    throw locked(p, `not a valid PKCS#8 PEM private key (${(cause as Error).message})`, cause);
  }
}

function sameSpki(key: KeyObject, cert: CertInfo): boolean {
  const spki = crypto.createPublicKey(key).export({ type: "spki", format: "der" });
  return Buffer.compare(spki, Buffer.from(cert.spki)) === 0;
}

function checkEc256(file: string, key: KeyObject): void {
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
    throw locked(file, "must be an ECDSA P-256 key");
  }
}

export function certPem(c: CertInfo): string {
  return toPem(c.der, "CERTIFICATE");
}

/** Reads and checks the keys folder. Throws AppError KEYSTORE_LOCKED naming the first bad file. */
export async function loadKeyMaterial(dir: string, opts: LoadOptions = {}): Promise<KeyMaterial> {
  const now = opts.now ?? new Date();
  const abs = path.resolve(dir);
  const f = (name: string) => path.join(abs, name);

  let manifest: KeysManifest;
  try {
    const m = JSON.parse(readText(abs, KEY_FILES.manifest)) as Partial<KeysManifest>;
    if (m.format !== 1 || typeof m.dev !== "boolean" || typeof m.created !== "string") throw new Error("needs format 1, dev and created");
    manifest = m as KeysManifest;
  } catch (cause) {
    if (cause instanceof AppError) throw cause;
    throw locked(f(KEY_FILES.manifest), `not a valid manifest (${(cause as Error).message})`, cause);
  }

  if (manifest.keyStore === "pkcs11" && !opts.serviceKeys && !opts.publicOnly) {
    throw locked(f(KEY_FILES.manifest), "the service private keys of this folder are on a PKCS#11 token: set SIDIAN_KEYSTORE=pkcs11:… (see README, 'Keys in an HSM')");
  }
  const fromFiles = !opts.serviceKeys && !opts.publicOnly;
  const rootCert = readCert(abs, KEY_FILES.rootCert);
  const issuingCert = readCert(abs, KEY_FILES.issuingCert);
  const tsaCert = readCert(abs, KEY_FILES.tsaCert);
  const tokenCert = readCert(abs, KEY_FILES.tokenCert);
  let issuingKey: KeyObject | undefined;
  let tsaKey: KeyObject | undefined;
  let tokenKey: KeyObject | undefined;
  if (fromFiles) {
    issuingKey = readPrivateKey(abs, KEY_FILES.issuingKey);
    tsaKey = readPrivateKey(abs, KEY_FILES.tsaKey);
    tokenKey = readPrivateKey(abs, KEY_FILES.tokenKey);
    for (const [file, key] of [[KEY_FILES.issuingKey, issuingKey], [KEY_FILES.tsaKey, tsaKey], [KEY_FILES.tokenKey, tokenKey]] as const) {
      checkEc256(f(file), key);
    }
    for (const [keyFile, certFile, key, cert] of [
      [KEY_FILES.issuingKey, KEY_FILES.issuingCert, issuingKey, issuingCert],
      [KEY_FILES.tsaKey, KEY_FILES.tsaCert, tsaKey, tsaCert],
      [KEY_FILES.tokenKey, KEY_FILES.tokenCert, tokenKey, tokenCert],
    ] as const) {
      if (!sameSpki(key, cert)) throw locked(f(keyFile), `does not match the public key in ${certFile}`);
    }
  } else {
    for (const [file, cert] of [[KEY_FILES.issuingCert, issuingCert], [KEY_FILES.tsaCert, tsaCert], [KEY_FILES.tokenCert, tokenCert]] as const) {
      const pub = crypto.createPublicKey({ key: Buffer.from(cert.spki), format: "der", type: "spki" });
      if (algOfKey(pub) !== "ES256") throw locked(f(file), "must certify an ECDSA P-256 key");
    }
  }

  // The root must be a self-signed CA; every other certificate must chain to it.
  const rootCheck = await verifyChain({ leaf: rootCert, anchors: [rootCert], at: now });
  if (rootCheck.result !== "VALID" || !rootCert.basicConstraints?.ca || rootCert.issuer !== rootCert.subject ||
      !new crypto.X509Certificate(Buffer.from(rootCert.der)).verify(crypto.createPublicKey({ key: Buffer.from(rootCert.spki), format: "der", type: "spki" }))) {
    throw locked(f(KEY_FILES.rootCert), `is not a valid self-signed CA certificate at ${now.toISOString()}`);
  }
  const checks = hierarchyChecks({ root: rootCert, rootFile: KEY_FILES.rootCert, issuing: issuingCert, at: now, file: f });
  await checks.checkIssuing(KEY_FILES.issuingCert);
  const tsaChain = await checks.checkTsa(KEY_FILES.tsaCert, tsaCert);
  await checks.chainOf(KEY_FILES.tokenCert, tokenCert, { keyUsage: ["digitalSignature"] });

  // Token key → JWK.
  const tokenPublic = crypto.createPublicKey({ key: Buffer.from(tokenCert.spki), format: "der", type: "spki" });
  const jwk = tokenPublic.export({ format: "jwk" }) as JWK;
  const kid = await calculateJwkThumbprint(jwk, "sha256");
  const publicJwk: JWK = { kty: jwk.kty!, crv: jwk.crv!, x: jwk.x!, y: jwk.y!, kid, alg: "ES256", use: "sig" };

  // Transparency-log key.
  const logPubPem = readText(abs, KEY_FILES.logPub);
  let logPub: KeyObject;
  try {
    fromPem(logPubPem, "PUBLIC KEY");
    logPub = crypto.createPublicKey({ key: logPubPem, format: "pem" });
  } catch (cause) {
    throw locked(f(KEY_FILES.logPub), `not a valid PEM public key (${(cause as Error).message})`, cause);
  }
  if (logPub.asymmetricKeyType !== "ed25519") throw locked(f(KEY_FILES.logPub), "must be an Ed25519 public key");
  let logKey: KeyObject | undefined;
  if (fromFiles) {
    logKey = readPrivateKey(abs, KEY_FILES.logKey);
    if (logKey.asymmetricKeyType !== "ed25519") throw locked(f(KEY_FILES.logKey), "must be an Ed25519 key");
    if (!crypto.createPublicKey(logKey).equals(logPub)) throw locked(f(KEY_FILES.logPub), `does not match ${KEY_FILES.logKey}`);
  }

  // The signing keys: from the files, or from the token (proven to match their certificates by a test signature).
  const spkiOf = (k: KeyObject) => new Uint8Array(k.export({ type: "spki", format: "der" }));
  const signingKey = async (role: ServiceKeyRole, certFile: string, fileKey: KeyObject | undefined, spki: Uint8Array): Promise<SigningKey> => {
    let sk: SigningKey;
    if (fileKey) sk = keyObjectSigningKey(role, fileKey);
    else if (opts.publicOnly || !opts.serviceKeys) sk = publicOnlyKey(role, spki);
    else {
      sk = await opts.serviceKeys.key(role, spki);
      const challenge = crypto.randomBytes(32);
      const sig = await sk.sign(challenge, "der").catch((cause: unknown) => {
        throw cause instanceof AppError && cause.code === "KEYSTORE_LOCKED" ? cause : locked(f(certFile), `the ${role} key on the token cannot sign (${(cause as Error).message})`, cause);
      });
      const pub = crypto.createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
      const ok = sk.alg === "Ed25519" ? crypto.verify(null, challenge, pub, sig) : crypto.verify("sha256", challenge, pub, sig);
      if (!ok) throw locked(f(certFile), `the ${role} key on the token does not match this public key`);
    }
    return opts.onSign ? observed(sk, opts.onSign) : sk;
  };
  const issuingSk = await signingKey("issuing-ca", KEY_FILES.issuingCert, issuingKey, issuingCert.spki);
  const tsaSk = await signingKey("tsa", KEY_FILES.tsaCert, tsaKey, tsaCert.spki);
  const tokenSk = await signingKey("token", KEY_FILES.tokenCert, tokenKey, tokenCert.spki);
  const logSk = await signingKey("log", KEY_FILES.logPub, logKey, spkiOf(logPub));

  const previous = await loadPrevious(abs, manifest, { rootCert, issuingCert, now });

  // Identity provider.
  let idpJwks: { keys: JWK[] };
  try {
    const j = JSON.parse(readText(abs, KEY_FILES.idpJwks)) as { keys?: unknown };
    if (!Array.isArray(j.keys)) throw new Error('needs a "keys" array');
    for (const k of j.keys as JWK[]) {
      if (typeof k !== "object" || k === null || typeof k.kty !== "string") throw new Error("every key needs kty");
      if ("d" in k || "p" in k || "k" in k) throw new Error(`key ${k.kid ?? "?"} contains private or secret material`);
      if (typeof k.kid !== "string" || k.kid.length === 0) throw new Error("every key needs a kid");
      crypto.createPublicKey({ key: k as crypto.JsonWebKey, format: "jwk" });
    }
    idpJwks = { keys: j.keys as JWK[] };
  } catch (cause) {
    if (cause instanceof AppError) throw cause;
    throw locked(f(KEY_FILES.idpJwks), `not a valid public JWKS (${(cause as Error).message})`, cause);
  }
  let idpPrivate: KeyObject | null = null;
  let idpKid: string | null = null;
  if (fs.existsSync(f(KEY_FILES.idpKey))) {
    if (!manifest.dev) throw locked(f(KEY_FILES.idpKey), "an identity-provider private key must not be present in production material");
    idpPrivate = readPrivateKey(abs, KEY_FILES.idpKey);
    checkEc256(f(KEY_FILES.idpKey), idpPrivate);
    idpKid = await calculateJwkThumbprint(crypto.createPublicKey(idpPrivate).export({ format: "jwk" }) as JWK, "sha256");
    if (!idpJwks.keys.some((k) => k.kid === idpKid)) throw locked(f(KEY_FILES.idpJwks), `does not list the dev identity-provider key ${idpKid}`);
  }

  // The national profile (optional files).
  const sm2 = await loadSm2Material(abs, { now, publicOnly: !!opts.publicOnly, ...(opts.onSign ? { onSign: opts.onSign } : {}) });

  // Key-encryption key.
  const kekText = readText(abs, KEY_FILES.kek).trim();
  const kek = new Uint8Array(Buffer.from(kekText, "base64"));
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(kekText) || kek.length !== 32) throw locked(f(KEY_FILES.kek), "must hold the base64 of exactly 32 bytes");

  // Dev material cannot be relabelled as production by editing the manifest: the certificates say it too.
  const devByCert = [rootCert, issuingCert].some((c) => c.subject.includes(`OU=${DEV_OU}`));
  const dev = manifest.dev || devByCert;

  const warnings: string[] = [];
  if (process.platform !== "win32") {
    for (const file of fromFiles ? [KEY_FILES.issuingKey, KEY_FILES.tsaKey, KEY_FILES.tokenKey, KEY_FILES.logKey, KEY_FILES.idpKey, KEY_FILES.kek] : [KEY_FILES.idpKey, KEY_FILES.kek]) {
      try {
        if ((fs.statSync(f(file)).mode & 0o077) !== 0) warnings.push(`${f(file)} is readable by group or others; chmod 600 it`);
      } catch {
        // absent optional file (idp.key.pem)
      }
    }
  }
  if (fs.existsSync(f(KEY_FILES.rootKey)) && !dev) warnings.push(`${f(KEY_FILES.rootKey)} is present; keep the root CA key offline`);
  if (sm2 && fs.existsSync(f(SM2_KEY_FILES.rootKey)) && !dev) warnings.push(`${f(SM2_KEY_FILES.rootKey)} is present; keep the SM2 root CA key offline`);
  if (sm2 && fromFiles && process.platform !== "win32") {
    for (const file of [SM2_KEY_FILES.issuingKey, SM2_KEY_FILES.tsaKey, SM2_KEY_FILES.sealMakerKey]) {
      if ((fs.statSync(f(file)).mode & 0o077) !== 0) warnings.push(`${f(file)} is readable by group or others; chmod 600 it`);
    }
  }
  if (opts.serviceKeys) {
    for (const file of [KEY_FILES.issuingKey, KEY_FILES.tsaKey, KEY_FILES.tokenKey, KEY_FILES.logKey]) {
      if (fs.existsSync(f(file))) warnings.push(`${f(file)} is present but the keys are on the PKCS#11 token and it is not used: delete it`);
    }
  }

  return {
    dir: abs,
    dev,
    manifest,
    rootCert,
    issuingCa: { cert: issuingCert, signingKey: issuingSk, ...(issuingKey ? { key: issuingKey } : {}), signer: caSignerOf(issuingSk), keyId: keyIdentifier(issuingCert.spki) },
    tsa: { cert: tsaCert, signingKey: tsaSk, ...(tsaKey ? { key: tsaKey } : {}), chain: tsaChain },
    token: { kid, signingKey: tokenSk, ...(tokenKey ? { privateKey: tokenKey } : {}), publicKey: tokenPublic, publicJwk, cert: tokenCert },
    log: { signingKey: logSk, ...(logKey ? { privateKey: logKey } : {}), publicKey: logPub, publicKeyPem: logPubPem },
    keyStore: opts.serviceKeys ? opts.serviceKeys.backend : "file",
    previous,
    idp: { jwks: idpJwks, privateKey: idpPrivate, kid: idpKid },
    kek,
    sm2,
    trustBundlePem: certPem(rootCert) + certPem(issuingCert) + (sm2?.trustBundlePem ?? ""),
    warnings,
  };
}

/** The JWK of an access-token public key: kid = RFC 7638 thumbprint, alg ES256, use sig. */
export async function tokenJwk(pub: KeyObject): Promise<JWK> {
  const jwk = pub.export({ format: "jwk" }) as JWK;
  const kid = await calculateJwkThumbprint(jwk, "sha256");
  return { kty: jwk.kty!, crv: jwk.crv!, x: jwk.x!, y: jwk.y!, kid, alg: "ES256", use: "sig" };
}

/** Reads `manifest.previous`: each file must be where the manifest says, and each certificate must chain to the root. */
async function loadPrevious(abs: string, manifest: KeysManifest, o: { rootCert: CertInfo; issuingCert: CertInfo; now: Date }): Promise<PreviousKeys> {
  const out: { token: Array<PreviousKeys["token"][number]>; tsa: Array<PreviousKeys["tsa"][number]>; log: Array<PreviousKeys["log"][number]> } = { token: [], tsa: [], log: [] };
  const entries = manifest.previous ?? [];
  if (!Array.isArray(entries)) throw locked(path.join(abs, KEY_FILES.manifest), '"previous" must be a list');
  for (const e of entries) {
    const where = path.join(abs, KEY_FILES.manifest);
    if (typeof e !== "object" || e === null || !["tsa", "token", "log"].includes(e.role) || typeof e.file !== "string") throw locked(where, "a \"previous\" entry needs role (tsa, token, log) and file");
    const rel = path.normalize(e.file);
    if (!rel.startsWith(`previous${path.sep}`) || rel.includes("..")) throw locked(where, `previous key file ${JSON.stringify(e.file)} must be under previous/`);
    const until = new Date(e.until);
    if (Number.isNaN(until.getTime())) throw locked(where, `previous key ${e.file}: "until" is not a time`);
    const inOverlap = until > o.now;
    if (e.role === "log") {
      const pem = readText(abs, rel);
      let pub: KeyObject;
      try {
        fromPem(pem, "PUBLIC KEY");
        pub = crypto.createPublicKey({ key: pem, format: "pem" });
      } catch (cause) {
        throw locked(path.join(abs, rel), `not a valid PEM public key (${(cause as Error).message})`, cause);
      }
      if (pub.asymmetricKeyType !== "ed25519") throw locked(path.join(abs, rel), "must be an Ed25519 public key");
      out.log.push({ publicKey: pub, publicKeyPem: pem, until });
      continue;
    }
    if (!inOverlap) continue; // an old TSA or token certificate past its overlap is no longer accepted
    const cert = readCert(abs, rel);
    const r = await verifyChain({ leaf: cert, intermediates: [o.issuingCert], anchors: [o.rootCert], at: o.now, keyUsage: ["digitalSignature"] });
    if (r.result !== "VALID") continue; // expired meanwhile: what it signed is judged by its own time elsewhere
    if (e.role === "tsa") out.tsa.push({ cert, until });
    else {
      const pub = crypto.createPublicKey({ key: Buffer.from(cert.spki), format: "der", type: "spki" });
      const publicJwk = await tokenJwk(pub);
      out.token.push({ kid: publicJwk.kid!, publicKey: pub, publicJwk, cert, until });
    }
  }
  return out;
}

/** A CaSigner (certificates, CRLs) over a P-256 signing key. */
export function caSignerOf(sk: SigningKey): CaSigner {
  if (sk.alg !== "ES256" && sk.alg !== "SM2") throw new TypeError("a CA signing key must be a P-256 or SM2 key");
  return { algorithm: sk.alg, sign: (data) => sk.sign(data, "der") };
}

/** The key of material loaded with `publicOnly`: it has a public key and refuses to sign. */
function publicOnlyKey(role: string, spki: Uint8Array): SigningKey {
  const publicKey = crypto.createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
  return {
    role, alg: algOfKey(publicKey) ?? "ES256", backend: "none", publicKey,
    sign: () => Promise.reject(new AppError("KEYSTORE_LOCKED", `The ${role} key was not loaded (public material only).`)),
  };
}
