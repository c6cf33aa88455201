/**
 * Department licence signing: finds the department's current licence-signing certificate and key of a crypto
 * profile, and builds the JWS protected header `{alg, typ, kid: <cert serial>, x5c: [certificate, issuing CA]}` (not
 * the root: the verifier holds it as trust anchor). The alg follows the certificate's key: ES256 for P-256 (x5c ends
 * with the P-256 issuing CA), GmSM2 for SM2 (the SM2 issuing CA; jws.ts says what GmSM2 is). Signing goes through
 * the key store (`encoding: 'p1363'`: r‖s for both).
 *
 * The protected header of a certificate is the same for every licence it signs, so licences are stored without
 * it (see the `licences` table) and the header is rebuilt from the certificate here.
 */
import type { KeyObject } from "node:crypto";
import { AppError } from "../../errors.js";
import type { PkiService } from "../../pki/index.js";
import type { Clock, CryptoProfile, UnitOfWork } from "../kernel.js";
import { b64u, encodeHeader, JWS_ALG } from "./jws.js";
import type { LicenceRepos } from "./ports.js";

export const TYP_LICENCE = "sidian-licence+jws";
export const TYP_STATEMENT = "sidian-status+jws";
export const TYP_STATUS_LIST = "vc+jwt";

export interface SigningCert {
  serial: string;
  keyId: string;
  departmentId: string;
  notAfter: Date;
  profile: CryptoProfile;
}

export interface Signer {
  /**
   * The department's usable licence-signing certificate of the profile (newest valid one with an active key of that
   * algorithm). Without a profile: P-256 when the department has one, else SM2 (status statements and lists).
   */
  current(departmentId: string, profile?: CryptoProfile): Promise<SigningCert>;
  /** base64url protected header for a certificate and token type (alg from the certificate's key). */
  header(certSerial: string, typ: string): Promise<string>;
  /** Signs `headerB64.payloadB64`, returns the compact JWS. Retries once with a fresh certificate if the key was retired. */
  signCompact(departmentId: string, typ: string, payloadB64: string, profile?: CryptoProfile): Promise<{ jws: string; cert: SigningCert; signatureB64: string; headerB64: string }>;
  /**
   * The department's current key as an in-process KeyObject with its certificate, protected header and algorithm,
   * for signing on a worker thread; null when the key store keeps its keys to itself (HSM, KMS).
   */
  inProcessKey(departmentId: string, typ: string, profile?: CryptoProfile): Promise<{ cert: SigningCert; headerB64: string; key: KeyObject; alg: "ES256" | "SM2" } | null>;
  forget(departmentId?: string): void;
}

export function createSigner<R extends LicenceRepos>(deps: { uow: UnitOfWork<R>; pki: PkiService; clock: Clock; cacheSeconds?: number }): Signer {
  const { uow, pki, clock } = deps;
  const ttl = (deps.cacheSeconds ?? 30) * 1000;
  const current = new Map<string, { cert: SigningCert; at: number }>();
  const headers = new Map<string, string>();
  const icaB64 = Buffer.from(pki.material.issuingCa.cert.der).toString("base64");
  const sm2IcaB64 = pki.material.sm2 ? Buffer.from(pki.material.sm2.issuingCa.cert.der).toString("base64") : null;
  const KEY_ALG = { p256: "ES256", sm2: "SM2" } as const;

  async function findOf(departmentId: string, profile: CryptoProfile): Promise<SigningCert | null> {
    const k = `${departmentId}|${profile}`;
    const hit = current.get(k);
    const now = clock.now();
    if (hit && now.getTime() - hit.at < ttl && hit.cert.notAfter > now) return hit.cert;
    const certs = await uow.read.certificates.listByDepartment(departmentId);
    const usable = certs
      .filter((c) => c.profile === "licence-signing" && c.status === "valid" && c.keyId && c.notBefore <= now && c.notAfter > now)
      .sort((a, b) => b.notBefore.getTime() - a.notBefore.getTime());
    for (const c of usable) {
      const key = await uow.read.keys.get(c.keyId!);
      if (key && key.status === "active" && key.alg === KEY_ALG[profile]) {
        const cert = { serial: c.serial, keyId: c.keyId!, departmentId, notAfter: c.notAfter, profile };
        current.set(k, { cert, at: now.getTime() });
        return cert;
      }
    }
    current.delete(k);
    return null;
  }

  async function findCurrent(departmentId: string, profile?: CryptoProfile): Promise<SigningCert> {
    const got = profile ? await findOf(departmentId, profile) : (await findOf(departmentId, "p256")) ?? (await findOf(departmentId, "sm2"));
    if (got) return got;
    throw new AppError("SIGNING_KEY_UNAVAILABLE", profile === "sm2"
      ? "The department has no usable SM2 licence-signing certificate for this licence type of the sm2 profile: issue one (POST /departments/{id}/certificates with profile licence-signing and crypto sm2)."
      : undefined);
  }

  async function header(certSerial: string, typ: string): Promise<string> {
    const k = `${certSerial}|${typ}`;
    const hit = headers.get(k);
    if (hit) return hit;
    const rec = await uow.read.certificates.get(certSerial);
    if (!rec) throw new AppError("CERTIFICATE_NOT_FOUND");
    const key = rec.keyId ? await uow.read.keys.get(rec.keyId) : undefined;
    const sm2 = key?.alg === "SM2";
    if (sm2 && !sm2IcaB64) throw new AppError("CRYPTO_PROFILE_UNAVAILABLE", "An SM2 licence-signing certificate needs the SM2 hierarchy in the keys folder.");
    const h = encodeHeader({ alg: sm2 ? JWS_ALG.sm2 : JWS_ALG.p256, typ, kid: certSerial, x5c: [Buffer.from(rec.der).toString("base64"), sm2 ? sm2IcaB64! : icaB64] });
    if (headers.size > 10_000) headers.clear();
    headers.set(k, h);
    return h;
  }

  return {
    current: findCurrent,
    header,
    async signCompact(departmentId, typ, payloadB64, profile) {
      for (let attempt = 0; ; attempt++) {
        const cert = await findCurrent(departmentId, profile);
        const headerB64 = await header(cert.serial, typ);
        try {
          const sig = await pki.keyStore.sign(cert.keyId, Buffer.from(`${headerB64}.${payloadB64}`, "ascii"), { encoding: "p1363" });
          const signatureB64 = b64u(sig);
          return { jws: `${headerB64}.${payloadB64}.${signatureB64}`, cert, signatureB64, headerB64 };
        } catch (e) {
          // The key was retired (certificate revoked) since it was cached: look again once.
          if (attempt === 0 && e instanceof AppError && (e.code === "CONFLICT" || e.code === "KEY_NOT_FOUND")) {
            current.delete(`${departmentId}|${cert.profile}`);
            continue;
          }
          throw e;
        }
      }
    },
    async inProcessKey(departmentId, typ, profile) {
      if (!pki.keyStore.inProcessKey) return null;
      const cert = await findCurrent(departmentId, profile);
      const k = await pki.keyStore.inProcessKey(cert.keyId);
      if (!k || (k.alg !== "ES256" && k.alg !== "SM2")) return null;
      return { cert, headerB64: await header(cert.serial, typ), key: k.key, alg: k.alg };
    },
    forget(departmentId) {
      if (departmentId) for (const p of ["p256", "sm2"]) current.delete(`${departmentId}|${p}`);
      else current.clear();
    },
  };
}
