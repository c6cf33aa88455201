/**
 * E-seals, status evidence: a statement of a seal's status history and its certificate's revocation, signed by the
 * CA that issued the seal's certificate — put into every stamp (the status at signing time) and given on demand.
 */
import { AppError } from "../../errors.js";
import type { CertificateRecord } from "../../pki/index.js";
import { signSealStatus, statementOf } from "../../pki/seal-status.js";
import { isSm2Cert, type SealCore } from "./core.js";
import type { SealServiceRepos } from "./model.js";
import type { Seal } from "./ports.js";

export function createStatusEvidence<R extends SealServiceRepos>(core: SealCore<R>) {
  const { deps, get, statusSignerOf } = core;
  const { uow, clock } = deps;

  /**
   * Seal-status evidence signed by the issuing CA (DER CMS): the history of status changes (all of them, or the one in
   * effect now), the certificate's revocation, produced now and standing for statusEvidenceSeconds.
   */
  async function evidence(seal: Seal, cert: CertificateRecord, which: "all" | "last"): Promise<Buffer> {
    const signer = statusSignerOf(isSm2Cert(cert.der));
    if (!signer) throw new AppError("NOT_READY", "Seal-status evidence is not configured.");
    const events = await uow.read.seals.events(seal.id);
    const now = clock.now();
    const upto = events.filter((e) => e.at <= now);
    const list = upto.length === 0 ? [{ status: "active" as const, at: seal.createdAt, reason: null }] : which === "last" ? upto.slice(-1) : upto;
    const stmt = statementOf({
      sealId: seal.id, cert: { serial: cert.serial, sha256: cert.sha256 }, validFrom: seal.validFrom, validTo: seal.validTo,
      events: list.map((e) => ({ status: e.status, at: e.at, reason: e.reason })),
      certificateRevokedAt: cert.status === "revoked" && cert.revokedAt && cert.revokedAt <= now ? cert.revokedAt : null,
      producedAt: now, nextUpdate: new Date(now.getTime() + (deps.statusEvidenceSeconds ?? 86_400) * 1000),
    });
    return signSealStatus(stmt, signer);
  }

  /** Current seal-status evidence for `GET /seals/:id/status-evidence` and `sidian verify --status`. */
  async function statusEvidence(sealId: string): Promise<Buffer> {
    const seal = await get(sealId);
    const cert = await uow.read.certificates.get(seal.certSerial);
    if (!cert) throw new AppError("CERTIFICATE_NOT_FOUND", `The seal's certificate ${seal.certSerial} is not in the registry.`);
    return evidence(seal, cert, "all");
  }

  return { evidence, statusEvidence };
}
