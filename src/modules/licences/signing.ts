/**
 * Department licence signing: finds the department's current licence-signing certificate and key, and builds the
 * JWS protected header `{alg: ES256, typ, kid: <cert serial>, x5c: [certificate, issuing CA]}` (not the root: the
 * verifier holds it as trust anchor). Signing goes through the key store (`encoding: 'p1363'` for JWS).
 *
 * The protected header of a certificate is the same for every licence it signs, so licences are stored without
 * it (see the `licences` table) and the header is rebuilt from the certificate here.
 */
import type { KeyObject } from "node:crypto";
import { AppError } from "../../errors.js";
import type { PkiService } from "../../pki/index.js";
import type { Clock, UnitOfWork } from "../kernel.js";
import { b64u, encodeHeader } from "./jws.js";
import type { LicenceRepos } from "./ports.js";

export const TYP_LICENCE = "sidian-licence+jws";
export const TYP_STATEMENT = "sidian-status+jws";
export const TYP_STATUS_LIST = "vc+jwt";

export interface SigningCert {
  serial: string;
  keyId: string;
  departmentId: string;
  notAfter: Date;
}

export interface Signer {
  /** The department's usable licence-signing certificate (newest valid one with an active key). */
  current(departmentId: string): Promise<SigningCert>;
  /** base64url protected header for a certificate and token type. */
  header(certSerial: string, typ: string): Promise<string>;
  /** Signs `headerB64.payloadB64`, returns the compact JWS. Retries once with a fresh certificate if the key was retired. */
  signCompact(departmentId: string, typ: string, payloadB64: string): Promise<{ jws: string; cert: SigningCert; signatureB64: string; headerB64: string }>;
  /**
   * The department's current key as an in-process KeyObject with its certificate and protected header, for
   * signing on a worker thread; null when the key store keeps its keys to itself (HSM, KMS).
   */
  inProcessKey(departmentId: string, typ: string): Promise<{ cert: SigningCert; headerB64: string; key: KeyObject } | null>;
  forget(departmentId?: string): void;
}

export function createSigner<R extends LicenceRepos>(deps: { uow: UnitOfWork<R>; pki: PkiService; clock: Clock; cacheSeconds?: number }): Signer {
  const { uow, pki, clock } = deps;
  const ttl = (deps.cacheSeconds ?? 30) * 1000;
  const current = new Map<string, { cert: SigningCert; at: number }>();
  const headers = new Map<string, string>();
  const icaB64 = Buffer.from(pki.material.issuingCa.cert.der).toString("base64");

  async function findCurrent(departmentId: string): Promise<SigningCert> {
    const hit = current.get(departmentId);
    const now = clock.now();
    if (hit && now.getTime() - hit.at < ttl && hit.cert.notAfter > now) return hit.cert;
    const certs = await uow.read.certificates.listByDepartment(departmentId);
    const usable = certs
      .filter((c) => c.profile === "licence-signing" && c.status === "valid" && c.keyId && c.notBefore <= now && c.notAfter > now)
      .sort((a, b) => b.notBefore.getTime() - a.notBefore.getTime());
    for (const c of usable) {
      const key = await uow.read.keys.get(c.keyId!);
      if (key && key.status === "active") {
        const cert = { serial: c.serial, keyId: c.keyId!, departmentId, notAfter: c.notAfter };
        current.set(departmentId, { cert, at: now.getTime() });
        return cert;
      }
    }
    current.delete(departmentId);
    throw new AppError("SIGNING_KEY_UNAVAILABLE");
  }

  async function header(certSerial: string, typ: string): Promise<string> {
    const k = `${certSerial}|${typ}`;
    const hit = headers.get(k);
    if (hit) return hit;
    const rec = await uow.read.certificates.get(certSerial);
    if (!rec) throw new AppError("CERTIFICATE_NOT_FOUND");
    const h = encodeHeader({ alg: "ES256", typ, kid: certSerial, x5c: [Buffer.from(rec.der).toString("base64"), icaB64] });
    if (headers.size > 10_000) headers.clear();
    headers.set(k, h);
    return h;
  }

  return {
    current: findCurrent,
    header,
    async signCompact(departmentId, typ, payloadB64) {
      for (let attempt = 0; ; attempt++) {
        const cert = await findCurrent(departmentId);
        const headerB64 = await header(cert.serial, typ);
        try {
          const sig = await pki.keyStore.sign(cert.keyId, Buffer.from(`${headerB64}.${payloadB64}`, "ascii"), { encoding: "p1363" });
          const signatureB64 = b64u(sig);
          return { jws: `${headerB64}.${payloadB64}.${signatureB64}`, cert, signatureB64, headerB64 };
        } catch (e) {
          // The key was retired (certificate revoked) since it was cached: look again once.
          if (attempt === 0 && e instanceof AppError && (e.code === "CONFLICT" || e.code === "KEY_NOT_FOUND")) {
            current.delete(departmentId);
            continue;
          }
          throw e;
        }
      }
    },
    async inProcessKey(departmentId, typ) {
      if (!pki.keyStore.inProcessKey) return null;
      const cert = await findCurrent(departmentId);
      const k = await pki.keyStore.inProcessKey(cert.keyId);
      if (!k || k.alg !== "ES256") return null;
      return { cert, headerB64: await header(cert.serial, typ), key: k.key };
    },
    forget(departmentId) {
      if (departmentId) current.delete(departmentId);
      else current.clear();
    },
  };
}
