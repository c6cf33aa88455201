/**
 * Key stores over a PKCS#11 token: the runtime key store (department licence-signing, seal and signer keys made
 * while the service runs) and the source of the service keys (issuing CA, TSA, token, log) for the key material.
 *
 * Runtime keys are generated on the token (sensitive, never extractable; CKA_ID = the subjectKeyIdentifier of the
 * public key, CKA_LABEL = the key id) and the key record stores a reference instead of a wrapped key:
 *
 *   "SKP1" (4) | CKA_ID (20)
 *
 * Records made before the token was configured (the file key store's "SKW1" blobs, wrapped under the KEK) keep
 * signing through the file key store, so switching a running deployment to an HSM needs no re-keying: new keys
 * go to the token, old ones until they are rotated stay where they are.
 *
 * A key generated inside a transaction that then rolls back stays on the token unused: its CKA_LABEL is a key id
 * that no key record names (the README says how to list such keys).
 */
import crypto, { type KeyObject } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { AppError } from "../../errors.js";
import type { Clock } from "../../modules/kernel.js";
import { isFileWrapped, type KeyStore } from "../keystore.js";
import type { ServiceKeyGenerator } from "../cli.js";
import { KEY_FILES, loadKeyMaterial, type ServiceKeyRole, type ServiceKeySource } from "../material.js";
import type { KeyAlg, KeyRepo } from "../ports.js";
import { algOfKey, p1363ToDer, type SigEncoding, type SignObserver, type SigningKey } from "../signing-key.js";
import { keyIdOf, type Pkcs11Token } from "./token.js";

const REF_MAGIC = Buffer.from("SKP1", "ascii");

export function tokenKeyRef(id: Uint8Array): Uint8Array {
  return new Uint8Array(Buffer.concat([REF_MAGIC, id]));
}

export function isTokenKeyRef(blob: Uint8Array): boolean {
  return blob.length === REF_MAGIC.length + 20 && Buffer.from(blob.buffer, blob.byteOffset, 4).equals(REF_MAGIC);
}

/** Signs on the token: ES256 hashes here (SHA-256) and sends the digest (CKM_ECDSA); Ed25519 sends the data (CKM_EDDSA). */
async function tokenSign(token: Pkcs11Token, id: Uint8Array, alg: KeyAlg, data: Uint8Array, encoding: SigEncoding = "der"): Promise<Uint8Array> {
  if (alg === "Ed25519") return token.sign(id, "Ed25519", data);
  const rs = await token.sign(id, "ES256", crypto.createHash("sha256").update(data).digest());
  if (rs.length !== 64) throw new AppError("KEYSTORE_UNAVAILABLE", `The token returned an ECDSA P-256 signature of ${rs.length} bytes.`);
  return encoding === "p1363" ? new Uint8Array(rs) : p1363ToDer(rs);
}

/** A SigningKey for the token key whose public key is `spki`. */
export function tokenSigningKey(token: Pkcs11Token, role: string, spki: Uint8Array): SigningKey {
  const publicKey = crypto.createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
  const alg = algOfKey(publicKey);
  if (!alg) throw new AppError("KEYSTORE_LOCKED", `The ${role} key must be a P-256 or Ed25519 key to be on the token.`);
  const id = keyIdOf(spki);
  return { role, alg, backend: "pkcs11", publicKey, sign: (data, encoding) => tokenSign(token, id, alg, data, encoding) };
}

/** The service keys (issuing CA, TSA, token, log) on the token, found by the CKA_ID of their certificates' keys. */
export function tokenServiceKeys(token: Pkcs11Token): ServiceKeySource {
  return {
    backend: "pkcs11",
    async key(role: ServiceKeyRole, spki: Uint8Array) {
      const sk = tokenSigningKey(token, role, spki);
      const id = keyIdOf(spki);
      if (!(await token.has(id))) {
        throw new AppError(
          "KEYSTORE_LOCKED",
          `PKCS#11 token ${JSON.stringify(token.label)} has no private key for ${role} (CKA_ID ${Buffer.from(id).toString("hex")}): ` +
            "create the keys folder with `sidian keys init` while SIDIAN_KEYSTORE names this token, or move existing keys there with `sidian keys import-to-token`.",
        );
      }
      return sk;
    },
  };
}

export interface Pkcs11KeyStoreOptions {
  readonly token: Pkcs11Token;
  /** Signs with the records wrapped under the KEK (keys made before the token was configured). */
  readonly file: KeyStore;
  /** Default repository for reads (the unit of work's read side). */
  readonly repo: KeyRepo;
  readonly clock: Clock;
  readonly onSign?: SignObserver;
}

interface Entry {
  readonly alg: KeyAlg;
  readonly purpose: string;
  /** CKA_ID on the token; null for a KEK-wrapped record (signed by the file store). */
  readonly id: Uint8Array | null;
}

export function createPkcs11KeyStore(opts: Pkcs11KeyStoreOptions): KeyStore {
  const { token } = opts;
  const cache = new Map<string, Entry>();
  const MAX = 4096;

  async function load(keyId: string, repo: KeyRepo): Promise<Entry> {
    const hit = cache.get(keyId);
    if (hit) return hit;
    const rec = await repo.get(keyId);
    if (!rec || rec.status === "destroyed") throw new AppError("KEY_NOT_FOUND", `No key ${keyId}.`);
    if (rec.status !== "active") throw new AppError("CONFLICT", `Key ${keyId} is ${rec.status} and may not sign.`);
    let id: Uint8Array | null = null;
    if (isTokenKeyRef(rec.wrappedPrivateKey)) id = rec.wrappedPrivateKey.slice(4);
    else if (!isFileWrapped(rec.wrappedPrivateKey)) throw new AppError("KEYSTORE_LOCKED", `The private key reference of ${keyId} is not in a known format.`);
    const e: Entry = { alg: rec.alg, purpose: rec.purpose, id };
    if (cache.size >= MAX) cache.delete(cache.keys().next().value!);
    cache.set(keyId, e);
    return e;
  }

  return {
    backend: "pkcs11",
    async generate(spec, repo = opts.repo) {
      const alg = spec.alg ?? "ES256";
      if (alg !== "ES256" && alg !== "Ed25519") throw new AppError("VALIDATION_FAILED", `Unsupported key algorithm ${String(alg)}.`);
      const keyId = `key_${crypto.randomUUID()}`;
      const { spki, id } = await token.generate(alg, keyId);
      await repo.insert({
        id: keyId,
        alg,
        label: spec.label,
        purpose: spec.purpose,
        departmentId: spec.departmentId ?? null,
        publicKeySpki: spki,
        wrappedPrivateKey: tokenKeyRef(id),
        status: "active",
        createdAt: opts.clock.now(),
      });
      return { keyId, alg, publicKey: crypto.createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" }), spki };
    },
    async sign(keyId, data, so = {}) {
      const e = await load(keyId, so.repo ?? opts.repo);
      if (!e.id) return opts.file.sign(keyId, data, so);
      const t0 = performance.now();
      let ok = false;
      try {
        const sig = await tokenSign(token, e.id, e.alg, data, so.encoding);
        ok = true;
        return sig;
      } finally {
        opts.onSign?.({ role: e.purpose, alg: e.alg, backend: "pkcs11", seconds: (performance.now() - t0) / 1000, ok });
      }
    },
    async inProcessKey(keyId) {
      const e = await load(keyId, opts.repo);
      if (e.id || !opts.file.inProcessKey) return null;
      return opts.file.inProcessKey(keyId);
    },
    async publicKey(keyId, repo = opts.repo) {
      return opts.file.publicKey(keyId, repo);
    },
    forget(keyId) {
      cache.delete(keyId);
      opts.file.forget(keyId);
    },
  };
}

/** Generates service keys on the token (for `keysInit`): labelled `sidian-<role>`, CKA_ID from the public key. */
export function tokenServiceKeyGenerator(token: Pkcs11Token): ServiceKeyGenerator {
  return {
    source: tokenServiceKeys(token),
    async generate(role, alg) {
      const { spki } = await token.generate(alg, `sidian-${role}`);
      return tokenSigningKey(token, role, spki);
    },
  };
}

export interface ImportToTokenResult {
  readonly imported: ReadonlyArray<{ role: ServiceKeyRole; id: string }>;
  readonly alreadyThere: readonly ServiceKeyRole[];
  readonly deleted: readonly string[];
}

/**
 * Moves the service private keys of a keys folder (issuing CA, TSA, token, log) onto the token: each is created
 * there as sensitive and never extractable, the manifest is marked `"keyStore": "pkcs11"`, and the folder then
 * loads from the token (checked before returning). With `deleteFiles` the key files are removed afterwards;
 * without, they stay and the caller must destroy them (and their backups): until then the keys are not only on
 * the token.
 */
export async function importServiceKeysToToken(dir: string, token: Pkcs11Token, opts: { deleteFiles?: boolean; now?: Date } = {}): Promise<ImportToTokenResult> {
  const m = await loadKeyMaterial(dir, { ...(opts.now ? { now: opts.now } : {}) });
  const keys: Array<[ServiceKeyRole, string, KeyObject | undefined]> = [
    ["issuing-ca", KEY_FILES.issuingKey, m.issuingCa.key],
    ["tsa", KEY_FILES.tsaKey, m.tsa.key],
    ["token", KEY_FILES.tokenKey, m.token.privateKey],
    ["log", KEY_FILES.logKey, m.log.privateKey],
  ];
  const imported: Array<{ role: ServiceKeyRole; id: string }> = [];
  const alreadyThere: ServiceKeyRole[] = [];
  for (const [role, , key] of keys) {
    const spki = new Uint8Array(crypto.createPublicKey(key!).export({ type: "spki", format: "der" }));
    if (await token.has(keyIdOf(spki))) {
      alreadyThere.push(role);
      continue;
    }
    const { id } = await token.importKey(key!, `sidian-${role}`);
    imported.push({ role, id: Buffer.from(id).toString("hex") });
  }
  const manifestFile = path.join(m.dir, KEY_FILES.manifest);
  const manifest = { ...m.manifest, keyStore: "pkcs11" as const };
  const tmp = `${manifestFile}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o644 });
  fs.renameSync(tmp, manifestFile);
  // The folder must now load from the token alone.
  await loadKeyMaterial(m.dir, { serviceKeys: tokenServiceKeys(token), ...(opts.now ? { now: opts.now } : {}) });
  const deleted: string[] = [];
  if (opts.deleteFiles) {
    for (const [, file] of keys) {
      fs.rmSync(path.join(m.dir, file), { force: true });
      deleted.push(file);
    }
  }
  return { imported, alreadyThere, deleted };
}
