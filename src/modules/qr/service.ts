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
import { actorLabel, type Actor, type Clock, type Logger, type TxHooks, type UnitOfWork } from "../kernel.js";
import type { ClientRepo } from "../directory/ports.js";
import type { LicenceRepos } from "../licences/ports.js";
import type { LicenceVerifier, Verdict } from "../licences/index.js";
import { Lru } from "../../util/lru.js";
import type { ScanRecord, ScanRepo } from "./ports.js";
import { qrMatrix, qrPng, qrSvg } from "./render.js";
import { liveTokenTimeStatus, mintLiveTokenAsync, verifyLiveToken, type LiveTokenClaims, type LiveTokenKey, type LiveTokenResult } from "./token.js";

type QrRepos = LicenceRepos & { scans: ScanRepo; clients: Pick<ClientRepo, "byId"> };

/** The transparency-log port, with the holder field that filters readers (see the tlog module). */
export interface QrTrustLog<R> {
  append(repos: R, tx: TxHooks, event: { type: string; subject: string; actor: string; holder?: string; data: Record<string, unknown> }): Promise<{ index: number }>;
}

export interface QrDeps<R extends QrRepos> {
  uow: UnitOfWork<R>;
  tlog: QrTrustLog<R>;
  clock: Clock;
  log: Logger;
  key: LiveTokenKey;
  /** Keys replaced by a rotation: live QR codes they signed keep verifying until they expire. */
  previousKeys?: readonly LiveTokenKey[];
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

const LIVE_PATH = /\/v\/(?!l\/)([0-9A-Za-z.]{20,400})(?:[?#].*)?$/i;
const STATIC_PATH = /\/v\/l\/([^/?#]{10,128})(?:[?#].*)?$/i;

/** What a scanned text names: a live token, a licence identifier, or nothing we know. */
export function parseScannedCode(text: string): { kind: "live"; token: string } | { kind: "static"; identifier: string } | null {
  const s = text.trim();
  if (s.length > 1000) return null;
  const st = STATIC_PATH.exec(s);
  if (st) return { kind: "static", identifier: decodeURIComponent(st[1]!) };
  const lv = LIVE_PATH.exec(s);
  if (lv) return { kind: "live", token: lv[1]! };
  if (/^1\.2\.156\.3005\.2\.[0-9A-Z.]+$/.test(s)) return { kind: "static", identifier: s };
  return null;
}

export function createQrService<R extends QrRepos>(deps: QrDeps<R>) {
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
      // Scan statistics do not need their own fsync; trust events in the same database keep theirs.
      .then(() => uow.write(async (repos) => repos.scans.insertMany(rows), { relaxed: true }))
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
    const { token, claims } = await mintLiveTokenAsync(deps.key, identifier, clock.now(), deps.ttlSeconds);
    const url = liveBase + token;
    const m = qrMatrix(url, "M");
    return { token, url, expiresAt: new Date((claims.iat + claims.ttl) * 1000), qrVersion: m.version, svg: qrSvg(m, { title: "亮证二维码" }), png: qrPng(m, 6) };
  }

  /**
   * Tokens whose signature was verified, by their exact text (a QR is often scanned more than once). Only the
   * signature result is remembered: expiry is judged again on every scan. Bounded; oldest out first.
   */
  const signed = new Lru<string, LiveTokenClaims>(10_000);
  function checkToken(token: string): LiveTokenResult {
    const now = clock.now();
    const hit = signed.get(token);
    if (hit) return liveTokenTimeStatus(hit, now);
    const t = verifyLiveToken(token, [deps.key, ...(deps.previousKeys ?? [])], now);
    if ("claims" in t) signed.set(token, t.claims);
    return t;
  }

  async function checkLive(token: string, clientId: string | null): Promise<PageOutcome> {
    const t = checkToken(token);
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
    // The identifier is recorded when it names a licence on record (whether or not it verifies as valid).
    const onRecord = verdict.checks.some((c) => c.id === "record" && c.status === "PASSED");
    record({ kind: "static", identifier: onRecord ? identifier : null, outcome: verdict.result, clientId });
    return { kind: "static", identifier, verdict };
  }

  /** The counter's scan: whatever the QR held, as a page outcome (names visible to the counter, codes masked). */
  async function checkCode(text: string, clientId: string): Promise<PageOutcome | null> {
    const c = parseScannedCode(text);
    if (!c) {
      record({ kind: "static", identifier: null, outcome: "MALFORMED", clientId });
      return null;
    }
    return c.kind === "live" ? checkLive(c.token, clientId) : checkStatic(c.identifier, clientId);
  }

  return {
    checkCode,
    mint,
    checkLive,
    checkStatic,
    scans: (identifier: string, limit = 50) => uow.read.scans.byIdentifier(identifier, limit),
    flush,
    /** Scan records not yet written (metrics). */
    queued: () => queue.length,
    async close() {
      await flush();
    },
  };
}

export type QrService = ReturnType<typeof createQrService>;
