/**
 * Runtime key store: keys generated while the service runs (department licence-signing, seal and signer keys).
 *
 * The interface is what an HSM/KMS backend implements too: callers only see key ids, public keys and
 * signatures. The file backend (`createFileKeyStore`) keeps each private key as PKCS#8 wrapped with AES-256-GCM
 * under the key-encryption key (KEK) from the keys folder, AAD = the key id, stored through the KeyRepo.
 *
 * Wrapped blob, version 1 (all lengths in bytes):
 *   "SKW1" (4) | KEK id (8) = SHA-256("sidian-kek-id:" ‖ KEK)[0..8] | IV (12) | GCM tag (16) | ciphertext
 * The KEK id lets a wrong KEK be reported as such instead of as tampering.
 *
 * `generate` takes the repository to write to, so the caller's `uow.write` transaction covers the new key.
 */
import crypto, { type KeyObject } from "node:crypto";
import { AppError } from "../errors.js";
import type { Clock } from "../modules/kernel.js";
import type { KeyAlg, KeyRepo } from "./ports.js";
import { sm2GenerateKey, sm2Pkcs8Der } from "../crypto/sm2.js";
import { signWithKeyObject, sm2KeyObject, type SignObserver } from "./signing-key.js";

export interface GenerateKeySpec {
  readonly alg?: KeyAlg;
  readonly purpose: string;
  readonly label: string;
  readonly departmentId?: string | null;
}

export interface GeneratedKey {
  readonly keyId: string;
  readonly alg: KeyAlg;
  readonly publicKey: KeyObject;
  /** SubjectPublicKeyInfo, DER. */
  readonly spki: Uint8Array;
}

export interface SignOptions {
  /** ECDSA signature encoding: `der` (X.509, CMS) or `p1363` (r‖s, JWS). Default `der`. Ignored for Ed25519. */
  readonly encoding?: "der" | "p1363";
  /** Read the key through this repository (e.g. the one of an open transaction). */
  readonly repo?: KeyRepo;
}

export interface KeyStore {
  readonly backend: string;
  generate(spec: GenerateKeySpec, repo?: KeyRepo): Promise<GeneratedKey>;
  /** Signs `data` (hashing it with SHA-256 for ES256). Only `active` keys sign. */
  sign(keyId: string, data: Uint8Array, opts?: SignOptions): Promise<Uint8Array>;
  publicKey(keyId: string, repo?: KeyRepo): Promise<KeyObject>;
  /**
   * The private key of an active key, for signing on a worker thread of this process (bulk issuance). Null (or not
   * implemented) for keys that never leave their backend (HSM, KMS); callers then sign through `sign`.
   */
  inProcessKey?(keyId: string): Promise<{ alg: KeyAlg; key: KeyObject } | null>;
  /** Drops a key from the in-memory cache (after retiring or destroying it). */
  forget(keyId: string): void;
}

const MAGIC = Buffer.from("SKW1", "ascii");
const HEADER = MAGIC.length + 8 + 12 + 16;

export function kekId(kek: Uint8Array): Buffer {
  return crypto.createHash("sha256").update("sidian-kek-id:").update(kek).digest().subarray(0, 8);
}

function checkKek(kek: Uint8Array): void {
  if (kek.length !== 32) throw new AppError("KEYSTORE_LOCKED", "The key-encryption key must be 32 bytes.");
}

/** Wraps a PKCS#8 DER private key under `kek` (AES-256-GCM, AAD = keyId). */
export function wrapPrivateKey(kek: Uint8Array, keyId: string, pkcs8: Uint8Array): Uint8Array {
  checkKek(kek);
  const iv = crypto.randomBytes(12);
  const c = crypto.createCipheriv("aes-256-gcm", kek, iv);
  c.setAAD(Buffer.from(keyId, "utf8"));
  const ct = Buffer.concat([c.update(pkcs8), c.final()]);
  return new Uint8Array(Buffer.concat([MAGIC, kekId(kek), iv, c.getAuthTag(), ct]));
}

/** Unwraps a blob from `wrapPrivateKey`; AppError KEYSTORE_LOCKED when the KEK is wrong or the blob was altered. */
export function unwrapPrivateKey(kek: Uint8Array, keyId: string, blob: Uint8Array): KeyObject {
  checkKek(kek);
  const b = Buffer.from(blob);
  if (b.length <= HEADER || !b.subarray(0, 4).equals(MAGIC)) {
    throw new AppError("KEYSTORE_LOCKED", `The wrapped private key of ${keyId} is not in a known format.`);
  }
  if (!b.subarray(4, 12).equals(kekId(kek))) {
    throw new AppError("KEYSTORE_LOCKED", `The private key of ${keyId} was wrapped under a different key-encryption key.`);
  }
  const iv = b.subarray(12, 24);
  const tag = b.subarray(24, 40);
  let pkcs8: Buffer;
  try {
    const d = crypto.createDecipheriv("aes-256-gcm", kek, iv);
    d.setAAD(Buffer.from(keyId, "utf8"));
    d.setAuthTag(tag);
    pkcs8 = Buffer.concat([d.update(b.subarray(HEADER)), d.final()]);
  } catch (cause) {
    throw new AppError("KEYSTORE_LOCKED", `The wrapped private key of ${keyId} failed authentication (altered or moved).`, { cause });
  }
  try {
    return crypto.createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
  } finally {
    pkcs8.fill(0);
  }
}

function generateKeyPair(alg: KeyAlg): { privateKey: KeyObject; publicKey: KeyObject } {
  switch (alg) {
    case "ES256":
      return crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    case "Ed25519":
      return crypto.generateKeyPairSync("ed25519");
    case "SM2": {
      // The key pair comes from src/crypto/sm2.ts (the SM2 library); node only holds it as a KeyObject.
      const privateKey = sm2KeyObject(sm2Pkcs8Der(sm2GenerateKey()));
      return { privateKey, publicKey: crypto.createPublicKey(privateKey) };
    }
    default:
      throw new AppError("VALIDATION_FAILED", `Unsupported key algorithm ${String(alg)}.`);
  }
}

/** Signs with a node:crypto private key according to `alg`. */
export function signWith(alg: KeyAlg, key: KeyObject, data: Uint8Array, encoding: "der" | "p1363" = "der"): Uint8Array {
  return signWithKeyObject(alg, key, data, encoding);
}

/** The wrapped-key blob format of the file key store (a record whose blob starts otherwise belongs to another backend). */
export function isFileWrapped(blob: Uint8Array): boolean {
  return blob.length > HEADER && Buffer.from(blob.buffer, blob.byteOffset, 4).equals(MAGIC);
}

export interface FileKeyStoreOptions {
  readonly kek: Uint8Array;
  /** Default repository for reads (the unit of work's read side). */
  readonly repo: KeyRepo;
  readonly clock: Clock;
  /** Decrypted keys kept in memory (least recently used evicted). Default 256. */
  readonly cacheSize?: number;
  /** Told about every signature (metrics): `role` is the key's purpose. */
  readonly onSign?: SignObserver;
}

export function createFileKeyStore(opts: FileKeyStoreOptions): KeyStore {
  checkKek(opts.kek);
  const kek = new Uint8Array(opts.kek);
  const max = opts.cacheSize ?? 256;
  const cache = new Map<string, { alg: KeyAlg; key: KeyObject; purpose: string }>();

  async function load(keyId: string, repo: KeyRepo): Promise<{ alg: KeyAlg; key: KeyObject; purpose: string }> {
    const hit = cache.get(keyId);
    if (hit) {
      cache.delete(keyId);
      cache.set(keyId, hit);
      return hit;
    }
    const rec = await repo.get(keyId);
    if (!rec || rec.status === "destroyed") throw new AppError("KEY_NOT_FOUND", `No key ${keyId}.`);
    if (rec.status !== "active") throw new AppError("CONFLICT", `Key ${keyId} is ${rec.status} and may not sign.`);
    const key = unwrapPrivateKey(kek, rec.id, rec.wrappedPrivateKey);
    const entry = { alg: rec.alg, key, purpose: rec.purpose };
    cache.set(keyId, entry);
    if (cache.size > max) cache.delete(cache.keys().next().value!);
    return entry;
  }

  return {
    backend: "file",
    async generate(spec, repo = opts.repo) {
      const alg = spec.alg ?? "ES256";
      const keyId = `key_${crypto.randomUUID()}`;
      const { privateKey, publicKey } = generateKeyPair(alg);
      const pkcs8 = privateKey.export({ type: "pkcs8", format: "der" });
      const spki = new Uint8Array(publicKey.export({ type: "spki", format: "der" }));
      const wrapped = wrapPrivateKey(kek, keyId, pkcs8);
      pkcs8.fill(0);
      await repo.insert({
        id: keyId,
        alg,
        label: spec.label,
        purpose: spec.purpose,
        departmentId: spec.departmentId ?? null,
        publicKeySpki: spki,
        wrappedPrivateKey: wrapped,
        status: "active",
        createdAt: opts.clock.now(),
      });
      return { keyId, alg, publicKey, spki };
    },
    async sign(keyId, data, so = {}) {
      const { alg, key, purpose } = await load(keyId, so.repo ?? opts.repo);
      if (!opts.onSign) return signWith(alg, key, data, so.encoding);
      const t0 = performance.now();
      const sig = signWith(alg, key, data, so.encoding);
      opts.onSign({ role: purpose, alg, backend: "file", seconds: (performance.now() - t0) / 1000, ok: true });
      return sig;
    },
    async inProcessKey(keyId) {
      const { alg, key } = await load(keyId, opts.repo);
      // The bulk-signing worker signs ES256 and SM2 (GmSM2 licences).
      return alg === "ES256" || alg === "SM2" ? { alg, key } : null;
    },
    async publicKey(keyId, repo = opts.repo) {
      const rec = await repo.get(keyId);
      if (!rec || rec.status === "destroyed") throw new AppError("KEY_NOT_FOUND", `No key ${keyId}.`);
      return crypto.createPublicKey({ key: Buffer.from(rec.publicKeySpki), format: "der", type: "spki" });
    },
    forget(keyId) {
      cache.delete(keyId);
    },
  };
}
