/**
 * Completion (issue 17 §5): when the last participant has signed, the completion report (签署报告) is drawn on the
 * page reserved at send and sealed — with the initiating department's official seal, or the platform's seal
 * (SIDIAN_SIGNING_SEAL) for an approval system — as one more incremental revision, so every participant's
 * signature stays valid. The evidence bundle carries the request's trust events with their inclusion proofs.
 *
 * Sealing runs after the last signature's transaction (it signs and time-stamps: slow work never holds the write
 * lock). If it fails (the TSA is down, the seal is suspended, no seal may stamp) the request is completed but not
 * yet sealed, and the sealing job (`runDue`, every 15 s in the service) tries again with back-off: 30 s, 1 min,
 * 2 min, … up to an hour between attempts. The job is a row (signing_seal_jobs) written in the transaction that
 * completes the request and deleted in the one that stores the sealed revision, so it survives a restart and runs
 * on any instance (an attempt is claimed by compare-and-set; a second sealing of the same revision is refused
 * in its transaction). A download of the document or the evidence also tries at once. The sealed revision is
 * stored in the stamp's own transaction (with its 用印记录 and log entries), and only if no other revision was
 * stored in between.
 */
import type { PiiProtector } from "../../crypto/pii.js";
import { AppError } from "../../errors.js";
import type { PdfWork } from "../../pdf/pool.js";
import { actorLabel, type Actor, type Clock, type TxHooks, type UnitOfWork } from "../kernel.js";
import type { Seal, StampInput, StampResult } from "../seals/index.js";
import { TLOG_EVENTS } from "../tlog/events.js";
import type { LogEntry, LogEvidence, TlogEvent } from "../tlog/index.js";
import type { SignatureRepos, SigningRequest } from "./ports.js";
import { maskName } from "../licences/holder.js";
import type { ReportParticipant } from "./report.js";
import type { SignatureService } from "./service.js";

export interface CompletionDeps<R extends SignatureRepos> {
  uow: UnitOfWork<R>;
  clock: Clock;
  pii: PiiProtector;
  svc: SignatureService<R & import("../catalogue/index.js").CatalogueRepos>;
  log: { append(repos: R, tx: TxHooks, event: TlogEvent): Promise<{ index: number }> };
  tlog: {
    getEntry(index: number): Promise<LogEntry>;
    evidence(index: number, opts?: { includeLeaf?: boolean }): Promise<LogEvidence>;
    publicKey(): { origin: string; name: string; keyId: string; vkey: string; publicKeyPem: string };
  };
  seals: {
    officialSeal(departmentId: string): Promise<Seal | null>;
    get(id: string): Promise<Seal>;
    stamp(sealId: string, input: StampInput, actor: Actor, before?: (seal: Seal) => void, within?: (repos: R, tx: TxHooks, result: StampResult) => Promise<void>): Promise<StampResult>;
  };
  /** The platform's seal (for initiators without a department); null: only departments' seals. */
  platformSealId: string | null;
  publicUrl: string;
  /** Where the request's document is read (the PDF worker pool). */
  pdf: PdfWork;
  logger?: { warn(obj: object, msg: string): void };
}

const SYSTEM: Actor = { kind: "system", name: "signatures" };
/** First retry of a failed seal; each further one waits twice as long, up to an hour. */
export const SEAL_BACKOFF_MS = 30_000;
const SEAL_BACKOFF_MAX_MS = 3_600_000;
/** How long a claimed attempt keeps others off (an attempt that dies is taken up again after it). */
const SEAL_LEASE_MS = 10 * 60_000;

export function createCompletion<R extends SignatureRepos>(deps: CompletionDeps<R>) {
  const { uow, pii, svc } = deps;
  const publicUrl = deps.publicUrl.replace(/\/+$/, "");
  const running = new Map<string, Promise<boolean>>();

  async function sealFor(r: SigningRequest): Promise<Seal | null> {
    if (r.departmentId) {
      const s = await deps.seals.officialSeal(r.departmentId);
      if (s) return s;
    }
    if (!deps.platformSealId) return null;
    try {
      return await deps.seals.get(deps.platformSealId);
    } catch {
      return null;
    }
  }

  /** Data of a log entry (the signed event's hashes and time). */
  async function entryData(index: number): Promise<Record<string, unknown>> {
    return (await deps.tlog.getEntry(index)).event.data as Record<string, unknown>;
  }

  async function run(id: string): Promise<boolean> {
    const r = await uow.read.signingRequests.byId(id);
    if (!r || r.status !== "completed") return false;
    const latest = await uow.read.signingDocuments.latest(id);
    if (!latest) return false;
    if (latest.kind === "completed") return true;
    const seal = await sealFor(r);
    if (!seal) {
      deps.logger?.warn({ requestId: id, departmentId: r.departmentId }, "signing request completed but not sealed: no official seal of the department and no SIDIAN_SIGNING_SEAL");
      return false;
    }
    const ps = (await uow.read.signingParticipants.ofRequest(id)).filter((p) => p.role !== "copy" && p.status === "signed" && p.logIndex !== null);
    const rows: ReportParticipant[] = [];
    for (const p of ps) {
      const d = await entryData(p.logIndex!);
      rows.push({
        no: p.idx + 1, name: pii.decrypt(p.nameEnc, `signing:${id}:${p.idx}:name`), role: p.role, group: p.groupNo, method: p.method ?? "cloud",
        at: typeof d.timestamp === "string" ? new Date(d.timestamp) : p.actedAt ?? r.completedAt ?? deps.clock.now(),
        before: String(d.documentSha256Before ?? ""), after: String(d.documentSha256After ?? ""), logIndex: p.logIndex!,
      });
    }
    const events = await uow.read.signingEvents.ofRequest(id);
    const completed = events.find((e) => e.type === TLOG_EVENTS.signingCompleted);
    if (!completed) return false;
    const pdf = pii.openBytes(latest.bytes, svc.aadDoc(id, latest.seq));
    // The report page is the last one (reserved at send); the document is read on a PDF worker.
    const reportPage = (r.pageCount ?? 0) + 1;
    const report = {
      requestId: id, title: r.title, matterCode: r.matterCode, caseRef: r.caseRef, initiator: `client:${r.initiatorClientId}`,
      createdAt: r.createdAt, completedAt: r.completedAt ?? deps.clock.now(), documentSha256: r.documentSha256 ?? "", signedSha256: latest.sha256,
      completedLogIndex: completed.logIndex, verifyUrl: `${publicUrl}/log/entries/${completed.logIndex}`, sealName: seal.name, participants: rows,
    };
    await deps.seals.stamp(seal.id, {
      pdf, placement: { page: reportPage, xMm: 0, yMm: 0 }, reason: "签署完成 Signing completed",
      custom: {
        prepare: async (doc, s) => {
          const a = await deps.pdf.signing(doc, { op: "report", report, seal: s.appearance, fields: s.fields });
          if (a.op !== "report") throw new AppError("INTERNAL", "The PDF worker answered another operation.");
          return a.prepared;
        },
      },
    }, SYSTEM, undefined, async (repos, tx, res) => {
      const now2 = await repos.signingDocuments.latest(id);
      if (!now2 || now2.seq !== latest.seq) throw new AppError("CONFLICT", "The document changed while it was being sealed.");
      const sha = res.record.resultSha256;
      await repos.signingDocuments.insert({ requestId: id, seq: latest.seq + 1, sha256: sha, kind: "completed", bytes: pii.sealBytes(res.pdf, svc.aadDoc(id, latest.seq + 1)), createdAt: deps.clock.now() });
      await repos.signingRequests.update(id, { currentSha256: sha, updatedAt: deps.clock.now() });
      await repos.signingSealJobs.delete(id);
      await deps.log.append(repos, tx, {
        type: TLOG_EVENTS.signingSealed, subject: `signing:${id}`, actor: actorLabel(SYSTEM),
        data: { requestId: id, sealId: seal.id, stampId: res.record.id, signedSha256: latest.sha256, finalSha256: sha, reportPage: res.record.pageIndex + 1, completedLogIndex: completed.logIndex },
      });
    });
    return true;
  }

  /** Draws the report and seals a completed request (once; concurrent calls share the work). true: sealed. */
  function finalise(id: string): Promise<boolean> {
    let p = running.get(id);
    if (!p) {
      p = run(id).finally(() => running.delete(id));
      running.set(id, p);
    }
    return p;
  }

  /** finalise, but a failure is logged rather than thrown (the request stays completed; sealing is tried again later). */
  async function tryFinalise(id: string): Promise<boolean> {
    try {
      return await finalise(id);
    } catch (e) {
      deps.logger?.warn({ requestId: id, err: e }, "sealing a completed signing request failed; the sealing job tries again");
      return false;
    }
  }

  /**
   * The sealing job: every completed request whose seal is due is tried once (claimed first, so two instances do
   * not both try); a failure is rescheduled with back-off, a success (or a request sealed meanwhile) ends the job.
   */
  async function runDue(max = 20): Promise<{ sealed: number; failed: number }> {
    const now = deps.clock.now();
    let sealed = 0, failed = 0;
    for (const j of await uow.read.signingSealJobs.due(now, max)) {
      const claimed = await uow.write((repos) => repos.signingSealJobs.claim(j.requestId, j.nextAt, new Date(now.getTime() + SEAL_LEASE_MS)));
      if (!claimed) continue;
      let why: string | null = null;
      try {
        if (!(await finalise(j.requestId))) why = "not sealed: no seal of the department and no platform seal (SIDIAN_SIGNING_SEAL) may stamp";
      } catch (e) {
        why = e instanceof AppError ? `${e.code}: ${e.message}` : "an unexpected failure";
        deps.logger?.warn({ requestId: j.requestId, attempt: j.attempts + 1, err: e }, "sealing a completed signing request failed; tried again later");
      }
      const r = await uow.read.signingRequests.byId(j.requestId);
      const latest = await uow.read.signingDocuments.latest(j.requestId);
      if (why === null || !r || r.status !== "completed" || latest?.kind === "completed") {
        // Sealed (here or elsewhere), or nothing to seal: the job is over.
        await uow.write((repos) => repos.signingSealJobs.delete(j.requestId));
        if (latest?.kind === "completed") sealed++;
        continue;
      }
      failed++;
      const delay = Math.min(SEAL_BACKOFF_MAX_MS, SEAL_BACKOFF_MS * 2 ** Math.min(j.attempts, 20));
      await uow.write((repos) => repos.signingSealJobs.reschedule(j.requestId, new Date(deps.clock.now().getTime() + delay), why));
    }
    return { sealed, failed };
  }

  /**
   * The evidence bundle (JSON) for the initiator or a participant: the request, its participants (codes masked),
   * the document's revisions with their SHA-256, and every trust event with its leaf and inclusion proof against a
   * signed checkpoint, plus the log's public key to check them offline.
   */
  async function evidence(id: string, actor: Actor) {
    const { r, ps } = await svc.visible(uow.read as never, id, actor);
    if (r.status === "completed") await tryFinalise(id);
    const r2 = (await uow.read.signingRequests.byId(id)) ?? r;
    const docs = await uow.read.signingDocuments.list(id);
    const events = await uow.read.signingEvents.ofRequest(id);
    const proofs = [];
    for (const e of events) {
      const ev = await deps.tlog.evidence(e.logIndex, { includeLeaf: true });
      proofs.push({ type: e.type, at: e.createdAt.toISOString(), ...ev });
    }
    const last = docs[docs.length - 1];
    return {
      format: "sidian-signing-evidence/1",
      generatedAt: deps.clock.now().toISOString(),
      request: {
        id: r2.id, title: r2.title, matterCode: r2.matterCode, caseRef: r2.caseRef, initiator: `client:${r2.initiatorClientId}`, departmentId: r2.departmentId,
        status: r2.status, statusReason: r2.statusReason, createdAt: r2.createdAt.toISOString(), expiresAt: r2.expiresAt.toISOString(), completedAt: r2.completedAt?.toISOString() ?? null,
        documentSha256: r2.documentSha256, finalSha256: last?.sha256 ?? null, sealed: last?.kind === "completed",
      },
      participants: svc.view(r2, ps, actor).participants.map((p) => ({
        idx: p.idx, group: p.group, name: p.name, holderCode: p.holderCode, holderCodeType: p.holderCodeType, role: p.role, status: p.status,
        method: p.method, actedAt: p.actedAt?.toISOString() ?? null, logIndex: p.logIndex, declineReason: p.declineReason,
      })),
      documents: docs.map((d) => ({ seq: d.seq, kind: d.kind, sha256: d.sha256, createdAt: d.createdAt.toISOString() })),
      events: proofs,
      log: deps.tlog.publicKey(),
      howToVerify: "Each event: SHA-256(0x00 || leaf) = leafHash; the inclusion proof (RFC 9162) leads to rootHash of the signed checkpoint (C2SP note, log key `log.vkey`). The final PDF's SHA-256 is request.finalSha256; its signatures validate in any PAdES validator.",
    };
  }

  /**
   * What Sidian knows of a PDF that is one of its signing requests' revisions (by SHA-256): the request's status
   * and, per signature field, the participant (name masked), role, time and kind of certificate. null otherwise.
   */
  async function describe(sha256: string) {
    const hit = (await uow.read.signingDocuments.bySha256(sha256))[0];
    if (!hit) return null;
    const r = await uow.read.signingRequests.byId(hit.requestId);
    if (!r) return null;
    const latest = await uow.read.signingDocuments.latest(r.id);
    const ps = await uow.read.signingParticipants.ofRequest(r.id);
    const signatures: Array<Record<string, unknown>> = [];
    for (const p of ps) {
      if (p.status !== "signed" || p.logIndex === null) continue;
      const d = await entryData(p.logIndex);
      signatures.push({
        field: `Signature-${p.idx + 1}`, participant: p.idx + 1, group: p.groupNo, role: p.role,
        signer: maskName(pii.decrypt(p.nameEnc, `signing:${r.id}:${p.idx}:name`)),
        signedAt: typeof d.timestamp === "string" ? d.timestamp : p.actedAt?.toISOString() ?? null,
        certificateKind: p.method === "external" ? "external (own key, trusted outside CA)" : "personal-signing (Sidian CA, cloud key confirmed with a passkey)",
        logIndex: p.logIndex,
      });
    }
    for (const e of await uow.read.signingEvents.ofRequest(r.id)) {
      if (e.type !== TLOG_EVENTS.signingSealed) continue;
      const d = await entryData(e.logIndex);
      signatures.push({ field: `Seal-${String(d.sealId)}`, role: "seal", signer: null, signedAt: e.createdAt.toISOString(), certificateKind: "department seal (Sidian CA)", logIndex: e.logIndex });
    }
    return {
      requestId: r.id, title: r.title, status: r.status, completed: r.status === "completed", sealed: latest?.kind === "completed",
      revision: hit.seq, isFinal: hit.kind === "completed", signatures,
    };
  }

  return { finalise, tryFinalise, runDue, evidence, describe };
}

export type Completion<R extends SignatureRepos = SignatureRepos> = ReturnType<typeof createCompletion<R>>;
