/**
 * A signing key as the rest of the service sees it: an algorithm, a public key and a `sign` call. Where the private
 * key lives is the backend's business: in this process (`file`: a PEM file or a KEK-wrapped PKCS#8 blob) or on a
 * PKCS#11 token (`pkcs11`), where it never leaves the token and `sign` is a call into the token.
 *
 * Every service key (issuing CA, TSA, access-token, transparency-log) and every department key signs through this
 * interface, so metrics and tracing see every signature in one place (`SignObserver`).
 */
import crypto, { type KeyObject } from "node:crypto";
import { sm2KeyFromPkcs8, sm2PublicKeyFromSpki, sm2Sign, sm2Verify, type Sm2PrivateKey } from "../crypto/sm2.js";

/**
 * ES256 (P-256/SHA-256, the default profile), SM2 (SM2 with SM3 and Z over the default signer ID, the national
 * profile: src/crypto/sm2.ts, never node's own SM2 signing) and Ed25519 (log checkpoints).
 */
export type SigningAlg = "ES256" | "Ed25519" | "SM2";

/** The ECDSA signature encoding a caller wants: `der` (X.509, CMS) or `p1363` (r‖s: JWS, live QR tokens). */
export type SigEncoding = "der" | "p1363";

export interface SigningKey {
  /** What the key is for, in metrics and errors: `issuing-ca`, `tsa`, `token`, `log`, or a department key purpose. */
  readonly role: string;
  readonly alg: SigningAlg;
  /** `file` (private key in this process) or `pkcs11` (on a token). */
  readonly backend: string;
  readonly publicKey: KeyObject;
  /**
   * ES256: ECDSA over SHA-256(data) in the asked encoding (default `der`). SM2: SM2 over SM3(Z‖data), `der` or r‖s
   * (`p1363`). Ed25519: pure EdDSA over data.
   */
  sign(data: Uint8Array, encoding?: SigEncoding): Promise<Uint8Array>;
  /** The private key when it is in this process (file backend only): for worker threads and tests. */
  readonly privateKey?: KeyObject;
}

/** Told about every signature: which key, how long it took, whether it worked (metrics, tracing). */
export type SignObserver = (e: { role: string; alg: SigningAlg; backend: string; seconds: number; ok: boolean }) => void;

/** The crypto profile a signing algorithm belongs to (metrics label; DESIGN rule 11 names p256 and sm2). */
export function profileOf(alg: SigningAlg): string {
  return alg === "ES256" ? "p256" : alg === "SM2" ? "sm2" : "ed25519";
}

/** The SM2 key inside a node:crypto KeyObject (node holds SM2 keys but must not sign with them); cached. */
const sm2Keys = new WeakMap<KeyObject, Sm2PrivateKey>();
export function sm2KeyOf(key: KeyObject): Sm2PrivateKey {
  let k = sm2Keys.get(key);
  if (!k) {
    k = sm2KeyFromPkcs8(key.export({ type: "pkcs8", format: "der" }));
    sm2Keys.set(key, k);
  }
  return k;
}

/** The SM2 public point (04‖x‖y) of a node:crypto KeyObject holding an SM2 key, or null. */
export function sm2PublicOf(key: KeyObject): Uint8Array | null {
  if (key.asymmetricKeyType !== undefined && key.asymmetricKeyType !== "ec" && key.asymmetricKeyType !== ("sm2" as string)) return null;
  const pub = key.type === "private" ? crypto.createPublicKey(key) : key;
  return sm2PublicKeyFromSpki(pub.export({ type: "spki", format: "der" }));
}

/** A node:crypto KeyObject for an SM2 PKCS#8 private key (node parses it; src/crypto/sm2.ts signs). */
export function sm2KeyObject(pkcs8: Uint8Array): KeyObject {
  return crypto.createPrivateKey({ key: Buffer.from(pkcs8), format: "der", type: "pkcs8" });
}

/** Signs with a node:crypto private key according to `alg`. */
export function signWithKeyObject(alg: SigningAlg, key: KeyObject, data: Uint8Array, encoding: SigEncoding = "der"): Uint8Array {
  if (alg === "Ed25519") return new Uint8Array(crypto.sign(null, data, key));
  if (alg === "SM2") return new Uint8Array(sm2Sign(sm2KeyOf(key), data, { encoding: encoding === "p1363" ? "raw" : "der" }));
  return new Uint8Array(crypto.sign("sha256", data, { key, dsaEncoding: encoding === "p1363" ? "ieee-p1363" : "der" }));
}

/** The algorithm of a private or public key, or null when Sidian does not sign with that kind of key. */
export function algOfKey(key: KeyObject): SigningAlg | null {
  if (key.asymmetricKeyType === "ed25519") return "Ed25519";
  if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1") return "ES256";
  if (sm2PublicOf(key)) return "SM2";
  return null;
}

/** A SigningKey over a private key held in this process. */
export function keyObjectSigningKey(role: string, privateKey: KeyObject, observe?: SignObserver): SigningKey {
  const alg = algOfKey(privateKey);
  if (!alg || privateKey.type !== "private") throw new TypeError(`the ${role} key must be a P-256, SM2 or Ed25519 private key`);
  const sk: SigningKey = {
    role, alg, backend: "file", privateKey,
    publicKey: crypto.createPublicKey(privateKey),
    sign: async (data, encoding) => signWithKeyObject(alg, privateKey, data, encoding),
  };
  return observe ? observed(sk, observe) : sk;
}

/** Wraps a key so that every signature is reported to `observe`. */
export function observed(sk: SigningKey, observe: SignObserver): SigningKey {
  return {
    ...sk,
    async sign(data, encoding) {
      const t0 = performance.now();
      try {
        const sig = await sk.sign(data, encoding);
        observe({ role: sk.role, alg: sk.alg, backend: sk.backend, seconds: (performance.now() - t0) / 1000, ok: true });
        return sig;
      } catch (e) {
        observe({ role: sk.role, alg: sk.alg, backend: sk.backend, seconds: (performance.now() - t0) / 1000, ok: false });
        throw e;
      }
    },
  };
}

// ---- ECDSA signature encodings ---------------------------------------------------------------------------------

function derInt(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  let v = b.subarray(i);
  if (v[0]! & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
  return Buffer.concat([Buffer.from([0x02, v.length]), v]);
}

/** r‖s (IEEE P1363, what PKCS#11 CKM_ECDSA returns) → DER ECDSA-Sig-Value. */
export function p1363ToDer(sig: Uint8Array): Uint8Array {
  if (sig.length === 0 || sig.length % 2 !== 0 || sig.length > 132) throw new RangeError("not an r‖s ECDSA signature");
  const b = Buffer.from(sig);
  const body = Buffer.concat([derInt(b.subarray(0, b.length / 2)), derInt(b.subarray(b.length / 2))]);
  const len = body.length < 0x80 ? Buffer.from([body.length]) : Buffer.from([0x81, body.length]);
  return new Uint8Array(Buffer.concat([Buffer.from([0x30]), len, body]));
}

// ---- verification by signature algorithm -----------------------------------------------------------------------

const SIG_OID = {
  ecdsaWithSHA256: "1.2.840.10045.4.3.2",
  ecdsaWithSHA384: "1.2.840.10045.4.3.3",
  sm3WithSm2: "1.2.156.10197.1.501",
  ed25519: "1.3.101.112",
  sha256WithRSA: "1.2.840.113549.1.1.11",
} as const;

/**
 * Verifies `sig` (DER for ECDSA and SM2) over `data` with the key in `spki`, by the signature algorithm OID the
 * signed object names (certificate, CRL, CMS signer info). The algorithm must fit the key: an SM2 signature is
 * checked only with an SM2 key (src/crypto/sm2.ts), an ECDSA signature only with a non-SM2 EC key. Never throws.
 */
export function verifyWithSpki(sigAlgOid: string, spki: Uint8Array, data: Uint8Array, sig: Uint8Array): boolean {
  try {
    const sm2Pub = sm2PublicKeyFromSpki(spki);
    if (sigAlgOid === SIG_OID.sm3WithSm2) return sm2Pub !== null && sm2Verify(sm2Pub, data, sig);
    if (sm2Pub) return false;
    const key = crypto.createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
    switch (sigAlgOid) {
      case SIG_OID.ecdsaWithSHA256:
        return key.asymmetricKeyType === "ec" && crypto.verify("sha256", data, { key, dsaEncoding: "der" }, sig);
      case SIG_OID.ecdsaWithSHA384:
        return key.asymmetricKeyType === "ec" && crypto.verify("sha384", data, { key, dsaEncoding: "der" }, sig);
      case SIG_OID.ed25519:
        return key.asymmetricKeyType === "ed25519" && crypto.verify(null, data, key, sig);
      case SIG_OID.sha256WithRSA:
        return key.asymmetricKeyType === "rsa" && crypto.verify("sha256", data, key, sig);
      default:
        return false;
    }
  } catch {
    return false;
  }
}
