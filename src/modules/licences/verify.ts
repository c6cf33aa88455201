/**
 * Licence verification (DESIGN rule 4): a verdict, never an exception. Checks, in order:
 *   format     the JWS parses (alg ES256 or GmSM2, jws.ts; our licence type, x5c present) or the identifier is well formed
 *   signature  the JWS signature verifies with the key of x5c[0], by the header's alg, which must fit that key (an
 *              SM2 certificate for GmSM2, a P-256 one for ES256): the caller never chooses the algorithm
 *   chain      x5c[0] chains to the configured trust anchor and was valid (and not revoked) when the licence was
 *              signed: the log entry's time, else the payload's signedAt
 *   issuer     the certificate is a licence-signing certificate of the department named in the identifier, and
 *              that department was allowed to issue the licence type at the signing time (the catalogue's issuer
 *              grants, not its current issuers: a department later removed from a type's issuers — 机构改革 —
 *              leaves its earlier licences valid, and one added later does not make licences signed before valid)
 *   record     the licence is on record here and the presented JWS is exactly the one issued
 *   validity   today (China time) is inside the validity period
 *   status     the current status is 01 (valid); otherwise why not (suspended, revoked, superseded…). A change
 *              made by any process shows at once (the record is read from the store on every verification)
 *   log        the issuance is in the transparency log with this JWS's hash; the inclusion proof travels along
 * Result: INVALID if any check FAILED, else INDETERMINATE if any is INDETERMINATE, else VALID.
 * By concern: verify-facts.ts (format, signature: the JWS's own facts), verify-trust.ts (chain, issuer: trust in the
 * signing key), verify-status.ts (record, validity, status, log: the licence as it stands); this file runs them in
 * order, decides what a verdict discloses, and reuses verdicts.
 */
import { maskCode, parseLicenceId } from "../../codes/index.js";
import type { PkiService } from "../../pki/index.js";
import { Lru } from "../../util/lru.js";
import type { CatalogueService } from "../catalogue/index.js";
import type { Clock, Logger, UnitOfWork } from "../kernel.js";
import type { KnownEvidence, LeafRecord, LogEntry, LogEvidence } from "../tlog/index.js";
import { chinaDate } from "./dates.js";
import { maskName } from "./holder.js";
import type { LicenceRecord, LicenceRepos, LicenceStatus, LicenceWithLog } from "./ports.js";
import { STATUS_TEXT } from "./ports.js";
import type { LicencePayload, LicenceService } from "./service.js";
import { MAX_REMEMBERED, createJwsFacts, type JwsFacts } from "./verify-facts.js";
import { createStandingChecks } from "./verify-status.js";
import { createTrustChecks } from "./verify-trust.js";

export type CheckStatus = "PASSED" | "FAILED" | "INDETERMINATE";
export interface Check {
  id: "format" | "signature" | "chain" | "issuer" | "record" | "validity" | "status" | "log" | "internal";
  status: CheckStatus;
  detail: string;
}

/** The core metadata of the signed payload as shown to a verifier (number and holder masked per viewer). */
export type MaskedLicence = Pick<LicencePayload, "name" | "typeCode" | "number" | "issuer" | "issueDate" | "holder" | "validFrom" | "validUntil" | "version"> & {
  identifier: string;
  status?: LicenceStatus;
  statusText?: string;
};

export interface Verdict {
  result: "VALID" | "INVALID" | "INDETERMINATE";
  checks: Check[];
  licence?: MaskedLicence;
  evidence?: LogEvidence;
}

/** How much personal data the caller may see: anonymous → masked; counter → names; full → everything. */
export type Viewer = "public" | "counter" | "full";

export interface VerifierDeps<R extends LicenceRepos> {
  uow: UnitOfWork<R>;
  clock: Clock;
  pki: Pick<PkiService, "checkCertificate">;
  catalogue: CatalogueService;
  licences: Pick<LicenceService, "jwsOf" | "openPayload" | "currentRecord" | "currentRecordWithLog">;
  tlog: { getEntry(index: number): Promise<LogEntry>; evidence(index: number, opts?: { known?: KnownEvidence }): Promise<LogEvidence> };
  log?: Logger;
  /** How long a VALID chain result is reused (revocation freshness), default 60 s. */
  chainCacheSeconds?: number;
  /**
   * Remember per-licence work (verdicts, a JWS's facts, log entries and proofs) for a licence verified again
   * (default true; the benchmark turns it off to measure what it earns).
   */
  remember?: boolean;
}

/** How long a verdict is reused for the same input while its record is unchanged (see createVerifier). */
export const VERDICT_REUSE_MS = 5000;

interface Remembered {
  verdict: Verdict;
  /** The JWS or identifier as presented. */
  input: string;
  /** The licence identifier the verdict is about (null: the input named none, e.g. a malformed JWS). */
  id: string | null;
  /** The record it was computed from, and what of it the verdict depends on (stampOf; null when not on record). */
  rec: LicenceRecord | undefined;
  stamp: string | null;
  day: string;
  at: number;
  /** The catalogue generation it was computed under (types, issuer grants). */
  catalogue: number;
  /** The verdict as UTF-8 JSON, made once per reused verdict (sent as is: no length scan or encoding per answer). */
  json?: Buffer;
}

function stampOf(rec: LicenceRecord | undefined): string | null {
  return rec ? `${rec.version}|${rec.status}|${rec.statusAt.getTime()}|${rec.supersededBy ?? ""}|${rec.validUntil ?? ""}|${rec.validFrom}|${rec.jwsSha256}|${rec.logIndex}` : null;
}

/** Is `now` (the record as it is now) what the verdict was computed from? The same object, or the same stamp. */
function sameRecord(r: Remembered, now: LicenceRecord | undefined): boolean {
  return (now !== undefined && now === r.rec) || stampOf(now) === r.stamp;
}

function overall(checks: Check[]): Verdict["result"] {
  if (checks.some((c) => c.status === "FAILED")) return "INVALID";
  if (checks.some((c) => c.status === "INDETERMINATE")) return "INDETERMINATE";
  return "VALID";
}

export function mask(p: LicencePayload, viewer: Viewer, isPerson: boolean): MaskedLicence {
  const full = viewer === "full" || !isPerson;
  return {
    identifier: p.id, name: p.name, typeCode: p.typeCode, number: full ? p.number : maskCode(p.number, 2, 2),
    issuer: p.issuer, issueDate: p.issueDate,
    holder: {
      name: full || viewer === "counter" ? p.holder.name : maskName(p.holder.name),
      code: full ? p.holder.code : maskCode(p.holder.code),
      codeType: p.holder.codeType,
    },
    validFrom: p.validFrom, validUntil: p.validUntil, version: p.version,
  };
}

export function createVerifier<R extends LicenceRepos>(deps: VerifierDeps<R>) {
  const { uow, clock, pki, catalogue } = deps;
  const remember = deps.remember ?? true;
  const facts = createJwsFacts({ remember });
  const trust = createTrustChecks({ uow, clock, pki, catalogue, chainTtlMs: (deps.chainCacheSeconds ?? 60) * 1000 });
  const standing = createStandingChecks({ clock, tlog: deps.tlog, remember });

  /**
   * Verdicts reused for the same presented JWS (or identifier) and viewer, for at most VERDICT_REUSE_MS, and only
   * while today's date and the licence record are what they were: the record is re-read through currentRecord on
   * every call (a status change shows at once: see LicenceService.currentRecord), and any change
   * to its version, status, validity, successor or JWS hash recomputes the verdict, as does any change to the
   * catalogue (types, issuer grants: CatalogueService.generation). What else a verdict depends on
   * is already reused for longer (verify-trust.ts, verify-status.ts: chain revocation 60 s, departments 30 s, log entries and
   * proofs for good), so reuse adds nothing to how stale an answer can be beyond VERDICT_REUSE_MS.
   */
  const reused: Record<Viewer, { jws: Lru<string, Remembered>; id: Lru<string, Remembered> }> = {
    public: { jws: new Lru(5000), id: new Lru(5000) },
    counter: { jws: new Lru(1000), id: new Lru(5000) },
    full: { jws: new Lru(1000), id: new Lru(1000) },
  };

  /** The verdict for a JWS or identifier, reused while nothing it depends on can have changed (see `reused`). */
  async function check(input: { jws?: string; identifier?: string }, viewer: Viewer = "public"): Promise<Remembered> {
    const byJws = input.jws !== undefined;
    const text = byJws ? input.jws! : (input.identifier ?? "");
    // A JWS is looked up by its signature (the text after the last dot) and then compared in full: hashing a
    // few-KB string for the map on every call costs more than the rest of a reused answer.
    const key = byJws ? text.slice(text.lastIndexOf(".") + 1) : text;
    const lru = byJws ? reused[viewer].jws : reused[viewer].id;
    const nowDate = clock.now();
    const now = nowDate.getTime();
    const day = chinaDate(nowDate);
    const generation = await catalogue.generation();
    const hit = remember && text.length <= MAX_REMEMBERED ? lru.get(key) : undefined;
    if (hit && hit.input === text && hit.id !== null && hit.day === day && now - hit.at < VERDICT_REUSE_MS && hit.catalogue === generation && sameRecord(hit, await deps.licences.currentRecord(hit.id))) return hit;
    const r = await run(input, viewer);
    const out: Remembered = { ...r, input: text, day, at: now, catalogue: generation };
    if (remember && r.id !== null && text.length <= MAX_REMEMBERED && !r.verdict.checks.some((c) => c.id === "internal")) lru.set(key, out);
    return out;
  }

  async function verify(input: { jws?: string; identifier?: string }, viewer: Viewer = "public"): Promise<Verdict> {
    return (await check(input, viewer)).verdict;
  }

  /** The verdict as UTF-8 JSON (what POST /verify sends), serialised once per reused verdict. */
  async function verifyJson(input: { jws?: string; identifier?: string }, viewer: Viewer = "public"): Promise<Buffer> {
    const r = await check(input, viewer);
    return (r.json ??= Buffer.from(JSON.stringify(r.verdict), "utf8"));
  }

  async function run(input: { jws?: string; identifier?: string }, viewer: Viewer): Promise<{ verdict: Verdict; id: string | null; rec: LicenceRecord | undefined; stamp: string | null }> {
    let id: string | null = null;
    let rec: LicenceRecord | undefined;
    const verdict = await runChecks(input, viewer, (i, r) => {
      id = i;
      rec = r;
    });
    return { verdict, id, rec, stamp: stampOf(rec) };
  }

  /** The checks in order (see the header); the policy of what a verdict discloses is at the end. */
  async function runChecks(input: { jws?: string; identifier?: string }, viewer: Viewer, seen: (id: string, rec: LicenceRecord | undefined) => void): Promise<Verdict> {
    const checks: Check[] = [];
    const add = (id: Check["id"], status: CheckStatus, detail: string) => checks.push({ id, status, detail });
    let licence: MaskedLicence | undefined;
    let evidence: LogEvidence | undefined;
    try {
      let parsed: { x5c: string[]; payload: unknown };
      let rec: LicenceRecord | undefined;
      // The record with its log leaf and covering checkpoint, read together (LicenceRepo.byIdWithLog).
      let withLog: LicenceWithLog | undefined;
      let jws: JwsFacts;
      if (input.jws !== undefined) {
        jws = facts.factsOf(input.jws.trim());
        if (jws.parsed === null || jws.problem !== null) {
          add("format", "FAILED", jws.problem ?? "not a licence JWS");
          return { result: "INVALID", checks };
        }
        parsed = jws.parsed;
        const payload = parsed.payload as LicencePayload;
        add("format", "PASSED", `licence JWS for ${payload.id}`);
        withLog = await deps.licences.currentRecordWithLog(payload.id);
        rec = withLog?.rec;
        seen(payload.id, rec);
      } else {
        const id = (input.identifier ?? "").trim();
        const pr = parseLicenceId(id);
        if (!pr.ok) {
          add("format", "FAILED", `the licence identifier is not valid (${pr.problem})`);
          return { result: "INVALID", checks };
        }
        withLog = await deps.licences.currentRecordWithLog(id);
        rec = withLog?.rec;
        seen(id, rec);
        if (!rec) {
          add("format", "PASSED", "well-formed licence identifier");
          add("record", "FAILED", "no licence with this identifier was issued by this service");
          return { result: "INVALID", checks };
        }
        // The JWS on record is known by its hash: a licence verified before is not decrypted and re-parsed.
        jws = facts.known(rec.jwsSha256) ?? facts.factsOf(await deps.licences.jwsOf(rec));
        if (!jws.parsed) throw new Error("the JWS on record does not parse");
        parsed = jws.parsed;
        add("format", "PASSED", "well-formed licence identifier; the licence on record is verified");
      }
      const payload = parsed.payload as LicencePayload;

      // signature
      const { key, sigOk } = jws;
      add("signature", sigOk ? "PASSED" : "FAILED", key === null ? "x5c[0] is not a certificate" : sigOk ? `${jws.alg} signature verifies with x5c[0]` : "the signature does not verify: the licence was altered, signed with another key, or its alg does not fit the key of x5c[0]");

      // log entry (gives the trustworthy signing time)
      const leaf: LeafRecord | null | undefined = withLog ? (withLog.leaf ?? null) : undefined;
      const entry = rec ? await standing.entryOf(rec.logIndex, leaf) : undefined;
      const signedAt = entry ? new Date(entry.event.at) : new Date(typeof payload.signedAt === "string" ? payload.signedAt : NaN);

      // chain, issuer
      const { leafSerial, chainOk } = await trust.chain(key, parsed.x5c, signedAt, add);
      const { type, issuerOk } = await trust.issuer(payload, leafSerial, signedAt, add);

      // record, validity, status, log
      const known: KnownEvidence | undefined = withLog ? { ...(withLog.checkpoint ? { checkpoint: withLog.checkpoint } : {}), ...(withLog.leaf ? { leafHash: withLog.leaf.leafHash } : {}) } : undefined;
      const r = await standing.standing(rec, entry, payload, jws.sha256, add, known);
      evidence = r.evidence;

      // Facts only from a licence this service issued, as issued: the payload is then authenticated by a key that
      // chains to the trust anchor, of the department authorised to issue it, and is the licence on record. A
      // JWS signed with any other key could name a real identifier and say anything; its text is not repeated.
      if (sigOk && chainOk && issuerOk && r.mine && type) {
        licence = { ...mask(payload, viewer, type.holderKind === "person"), ...(r.st ? { status: r.st, statusText: STATUS_TEXT[r.st] } : {}) };
      }
    } catch (e) {
      deps.log?.error({ err: e }, "licence verification failed unexpectedly");
      add("internal", "INDETERMINATE", "the verification could not be completed; try again later");
    }
    return { result: overall(checks), checks, ...(licence ? { licence } : {}), ...(evidence ? { evidence } : {}) };
  }

  return { verify, verifyJson };
}

export type LicenceVerifier = ReturnType<typeof createVerifier>;
