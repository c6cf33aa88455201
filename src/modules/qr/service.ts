/**
 * Live QR (亮证) and the verification behind the QR pages.
 *
 * - `mint`: a holder mints a short-lived signed token for one of their own licences (SVG + PNG + URL).
 * - `checkLive` / `checkStatic`: what the verification pages show — the token check (live only) and the licence
 *   verdict from the licence verifier (signature, chain, issuer, validity, status, log inclusion).
 * - Scans are recorded (who/when/outcome, never the token) in small batches off the request path: a crash may
 *   lose the last ~200 ms of scan records, never a licence, status or access record.
 */
import { AppError } from "../../errors.js";
import type { Actor, Clock, Logger, UnitOfWork } from "../kernel.js";
import type { LicenceRepos } from "../licences/ports.js";
import type { LicenceVerifier, Verdict } from "../licences/index.js";
import type { ScanRecord, ScanRepo } from "./ports.js";
import { qrMatrix, qrPng, qrSvg } from "./render.js";
import { mintLiveToken, verifyLiveToken, type LiveTokenKey, type LiveTokenResult } from "./token.js";

export interface QrDeps<R extends LicenceRepos & { scans: ScanRepo }> {
  uow: UnitOfWork<R>;
  clock: Clock;
  log: Logger;
  key: LiveTokenKey;
  verifier: LicenceVerifier;
  publicUrl: string;
  ttlSeconds: number;
  /** Flush scan records every N ms (default 200). */
  flushMs?: number;
}

export interface MintedQr {
  token: string;
  /** Upper-case URL (QR alphanumeric mode); the server routes /V/ like /v/. */
  url: string;
  expiresAt: Date;
  qrVersion: number;
  svg: string;
  png: Buffer;
}

export type PageOutcome =
  | { kind: "live"; token: LiveTokenResult; verdict?: Verdict }
  | { kind: "static"; identifier: string; verdict: Verdict };

export function createQrService<R extends LicenceRepos & { scans: ScanRepo }>(deps: QrDeps<R>) {
  const { uow, clock, log } = deps;
  const liveBase = deps.publicUrl.toUpperCase() + "/V/";
  let queue: ScanRecord[] = [];
  let timer: NodeJS.Timeout | null = null;
  let flushing: Promise<void> = Promise.resolve();

  function flush(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = null;
    const rows = queue;
    queue = [];
    if (rows.length === 0) return flushing;
    flushing = flushing
      .then(() => uow.write(async (repos) => repos.scans.insertMany(rows)))
      .catch((e) => log.error({ err: e, rows: rows.length }, "qr: scan records lost"));
    return flushing;
  }

  function record(r: Omit<ScanRecord, "at">): void {
    queue.push({ ...r, at: clock.now() });
    if (queue.length >= 500) void flush();
    else if (!timer) {
      timer = setTimeout(() => void flush(), deps.flushMs ?? 200);
      timer.unref();
    }
  }

  async function mint(actor: Actor, identifier: string): Promise<MintedQr> {
    if (actor.kind !== "holder") throw new AppError("FORBIDDEN_ROLE", "Only the holder can show a live QR.");
    const rec = await uow.read.licences.byId(identifier);
    // The same answer for "no such licence" and "not yours": holders cannot probe other people's identifiers.
    if (!rec || rec.holderHash !== actor.subjectHash) throw new AppError("LICENCE_NOT_FOUND");
    const { token, claims } = mintLiveToken(deps.key, identifier, clock.now(), deps.ttlSeconds);
    const url = liveBase + token;
    const m = qrMatrix(url, "M");
    return { token, url, expiresAt: new Date((claims.iat + claims.ttl) * 1000), qrVersion: m.version, svg: qrSvg(m, { title: "亮证二维码" }), png: qrPng(m, 6) };
  }

  async function checkLive(token: string, clientId: string | null): Promise<PageOutcome> {
    const t = verifyLiveToken(token, [deps.key], clock.now());
    if (t.status !== "VALID") {
      record({ kind: "live", identifier: "claims" in t ? t.claims.identifier : null, outcome: t.status === "EXPIRED" ? "QR_EXPIRED" : "MALFORMED", clientId });
      return { kind: "live", token: t };
    }
    const verdict = await deps.verifier.verify({ identifier: t.claims.identifier }, clientId ? "counter" : "public");
    record({ kind: "live", identifier: t.claims.identifier, outcome: verdict.result, clientId });
    return { kind: "live", token: t, verdict };
  }

  async function checkStatic(identifier: string, clientId: string | null): Promise<PageOutcome> {
    const verdict = await deps.verifier.verify({ identifier }, clientId ? "counter" : "public");
    record({ kind: "static", identifier: verdict.licence?.identifier ?? null, outcome: verdict.result, clientId });
    return { kind: "static", identifier, verdict };
  }

  return {
    mint,
    checkLive,
    checkStatic,
    scans: (identifier: string, limit = 50) => uow.read.scans.byIdentifier(identifier, limit),
    flush,
    async close() {
      await flush();
    },
  };
}

export type QrService = ReturnType<typeof createQrService>;
