/**
 * Dependencies of the PDF validator (src/pdf/verify.ts): trust anchors from the key material (allow-list,
 * DESIGN rule 6), revocation from the certificate registry and seal status from the seal registry when online;
 * trust bundle only when offline (`sidian verify`).
 */
import type { VerifyPdfDeps } from "../../pdf/verify.js";
import { crlRevocation, type TrustList } from "../../pki/trust-list.js";
import type { CertificateRepo, CertInfo, KeyMaterial } from "../../pki/index.js";
import type { RevocationStatus } from "../../pki/chain.js";
import type { Clock } from "../kernel.js";
import type { SealService } from "./service.js";

export function onlineVerifyDeps(o: { material: KeyMaterial; certificates: CertificateRepo; seals: SealService; clock: Clock }): VerifyPdfDeps {
  const m = o.material;
  const materialSerials = new Set([
    m.tsa.cert.serial, m.token.cert.serial, m.issuingCa.cert.serial, ...m.previous.tsa.map((t) => t.cert.serial), ...m.previous.token.map((t) => t.cert.serial),
    ...(m.sm2 ? [m.sm2.tsa.cert.serial, m.sm2.issuingCa.cert.serial] : []),
  ]);
  return {
    // Both crypto profiles: the verifier picks by what the signature names (DESIGN rule 11), the caller does not.
    anchors: [m.rootCert, ...(m.sm2 ? [m.sm2.rootCert] : [])],
    intermediates: [m.issuingCa.cert, ...(m.sm2 ? [m.sm2.issuingCa.cert] : [])],
    knownTsaCerts: [m.tsa.cert, ...m.previous.tsa.map((t) => t.cert), ...(m.sm2 ? [m.sm2.tsa.cert] : [])],
    sealIssuers: [m.issuingCa.cert, ...(m.sm2 ? [m.sm2.issuingCa.cert] : [])],
    now: () => o.clock.now(),
    async revocation(c: CertInfo, iss: CertInfo): Promise<RevocationStatus> {
      if (iss.serial === m.rootCert.serial || iss.serial === m.sm2?.rootCert.serial || materialSerials.has(c.serial)) return { status: "good" };
      const rec = await o.certificates.get(c.serial);
      if (!rec || rec.sha256 !== c.sha256) return { status: "unknown", detail: "not issued by this service" };
      return rec.status === "revoked" && rec.revokedAt
        ? { status: "revoked", revokedAt: rec.revokedAt, ...(rec.revocationReason ? { reason: rec.revocationReason } : {}) }
        : { status: "good" };
    },
    async sealStatus(sealId, at) {
      const s = await o.seals.statusAt(sealId, at);
      return s ? { status: s.status, reason: s.reason, validFrom: s.seal.validFrom, validTo: s.seal.validTo } : null;
    },
  };
}

/** Offline: anchors and intermediates from a trust bundle (self-signed certificates are anchors). */
export function offlineVerifyDeps(bundle: readonly CertInfo[], now: () => Date = () => new Date()): VerifyPdfDeps {
  const anchors = bundle.filter((c) => c.issuer === c.subject);
  const intermediates = bundle.filter((c) => c.issuer !== c.subject);
  return { anchors, intermediates, knownTsaCerts: [], ...(intermediates.length ? { sealIssuers: intermediates } : {}), now };
}

/**
 * Online validation judged by a named trust list (`POST /verify/pdf?trust=NAME`): its anchors and intermediates
 * only; certificates Sidian issued are checked in the registry as online, others against the list's CRLs
 * (pki/trust-list.ts); Sidian seals keep their status check (when the list trusts Sidian's root).
 */
export function trustListVerifyDeps(online: VerifyPdfDeps, list: TrustList, material: KeyMaterial): VerifyPdfDeps {
  const sidian = new Set([material.rootCert.sha256, material.issuingCa.cert.sha256, ...(material.sm2 ? [material.sm2.rootCert.sha256, material.sm2.issuingCa.cert.sha256] : [])]);
  const own = online.revocation!;
  return {
    ...online,
    anchors: list.anchors,
    intermediates: list.intermediates,
    revocation: (c: CertInfo, iss: CertInfo) => (sidian.has(iss.sha256) ? own(c, iss) : crlRevocation(list, c, iss, online.now())),
  };
}
