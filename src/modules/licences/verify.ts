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
 *              made by this process, or by another process on the same SQLite file, shows at once (elsewhere within
 *              RECORD_CACHE_MS, 1 s: LicenceService.currentRecord)
 *   log        the issuance is in the transparency log with this JWS's hash; the inclusion proof travels along
 * Result: INVALID if any check FAILED, else INDETERMINATE if any is INDETERMINATE, else VALID.
 */
import crypto, { type KeyObject } from "node:crypto";
import { maskCode, parseLicenceId } from "../../codes/index.js";
import { sha256Hex } from "../../crypto/hash.js";
import type { ChainResult, PkiService } from "../../pki/index.js";
import type { CatalogueService } from "../catalogue/index.js";
import type { Clock, Logger, UnitOfWork } from "../kernel.js";
import type { LogEntry, LogEvidence } from "../tlog/index.js";
import { TLOG_EVENTS } from "../tlog/events.js";
import { chinaDate } from "./dates.js";
import { maskName } from "./holder.js";
import { isJwsAlg, parseCompact, sm2PointOf, verifyJwsSignature, type ParsedJws } from "./jws.js";
import type { LicenceRecord, LicenceRepos, LicenceStatus } from "./ports.js";
import { STATUS_TEXT } from "./ports.js";
import { effectiveStatus, type LicencePayload, type LicenceService } from "./service.js";
import { TYP_LICENCE } from "./signing.js";
import { Lru, TtlCache } from "../../util/lru.js";

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
  licences: Pick<LicenceService, "jwsOf" | "openPayload" | "currentRecord">;
  tlog: { getEntry(index: number): Promise<LogEntry>; evidence(index: number): Promise<LogEvidence> };
  log?: Logger;
  /** How long a VALID chain result is reused (revocation freshness), default 60 s. */
  chainCacheSeconds?: number;
}

interface JwsFacts {
  /** The parsed header's x5c and payload (the rest of the parse is not kept). */
  parsed: { x5c: string[]; payload: unknown } | null;
  /** The format problem, or null when it is a well-formed licence JWS. */
  problem: string | null;
  /** null: x5c[0] is not a certificate. */
  key: KeyObject | null;
  /** The header's algorithm (allow-listed: ES256 or GmSM2), for the check's detail. */
  alg: string;
  sigOk: boolean;
  sha256: string;
}

/** The longest JWS whose facts and verdicts are remembered (the route accepts up to 64,000 characters). */
const MAX_REMEMBERED = 16_384;

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
  const chainTtl = (deps.chainCacheSeconds ?? 60) * 1000;
  const keys = new Lru<string, { key: KeyObject; sm2: Uint8Array | null } | null>(1000);
  const chains = new Lru<string, { r: ChainResult; from: number; to: number; at: number }>(1000);
  const evidences = new Lru<number, LogEvidence>(50_000);
  /**
   * What depends only on the exact bytes of a presented JWS: its parse, format problem, ES256 result and hash.
   * Same string, same answer — so a JWS seen before skips the signature verification; everything that can change
   * (record, status, validity, chain revocation, log) is still checked on every call.
   */
  const statics = new Lru<string, JwsFacts>(10_000);
  /** The same facts by the JWS's SHA-256 (a stored licence names its JWS by hash). */
  const byHash = new Lru<string, JwsFacts>(10_000);
  /** x5c arrays by protected header (one per signing certificate), so remembered facts share them. */
  const x5cs = new Lru<string, string[]>(1000);
  /** Log entries by index: append-only and immutable once committed. */
  const entries = new Lru<number, LogEntry>(50_000);
  const certDepts = new Lru<string, { departmentId: string | null; profile: string } | null>(1000);
  /** Departments (name, USCC) for the issuer check, re-read after 30 s like the licence service's own cache. */
  const depts = new TtlCache<string, { id: string; name: string; uscc: string } | undefined>(1000, 30_000, () => clock.now().getTime());
  /** Chain-cache keys per (shared) x5c array, so the joined key is built and hashed once. */
  const chainKeys = new WeakMap<string[], string>();

  function keyOf(x5c0: string): { key: KeyObject; sm2: Uint8Array | null } | null {
    let k = keys.get(x5c0);
    if (k === undefined) {
      try {
        const key = new crypto.X509Certificate(Buffer.from(x5c0, "base64")).publicKey;
        k = { key, sm2: sm2PointOf(key) };
      } catch {
        k = null;
      }
      keys.set(x5c0, k);
    }
    return k;
  }

  function formatProblem(p: ParsedJws): string | null {
    const h = p.header;
    const payload = p.payload as Partial<LicencePayload> | null;
    return !isJwsAlg(h.alg) ? `algorithm ${String(h.alg)} is not allowed (ES256 or GmSM2 only)`
      : h.typ !== TYP_LICENCE ? `not a licence (typ ${String(h.typ)})`
      : !Array.isArray(h.x5c) || h.x5c.length < 1 || h.x5c.length > 4 || !h.x5c.every((c) => typeof c === "string") ? "the x5c certificate chain is missing"
      : !payload || typeof payload !== "object" || typeof payload.id !== "string" ? "the payload has no licence identifier"
      : !parseLicenceId(payload.id).ok ? "the licence identifier in the payload is not valid (GB/T 36904 check)"
      : null;
  }

  /** Parse, format check, signature and hash of a JWS: pure functions of its bytes, so remembered per string. */
  function factsOf(jws: string): JwsFacts {
    let f = statics.get(jws);
    if (f) return f;
    const parsed = parseCompact(jws);
    if (typeof parsed === "string") f = { parsed: null, problem: parsed, key: null, alg: "", sigOk: false, sha256: "" };
    else {
      const problem = formatProblem(parsed);
      const raw = parsed.header.x5c;
      let x5c: string[] = Array.isArray(raw) && raw.every((c) => typeof c === "string") ? raw : [];
      if (x5c.length > 0) {
        const shared = x5cs.get(parsed.headerB64);
        if (shared) x5c = shared;
        else x5cs.set(parsed.headerB64, x5c);
      }
      const k = x5c.length > 0 ? keyOf(x5c[0]!) : null;
      const alg = String(parsed.header.alg);
      const sigOk = k !== null && verifyJwsSignature(parsed.header.alg, k.key, k.sm2, parsed.signingInput, parsed.signature);
      f = { parsed: { x5c, payload: parsed.payload }, problem, key: k?.key ?? null, alg, sigOk, sha256: sha256Hex(jws) };
    }
    // Only JWSs of a plausible size are remembered (the route allows up to 64,000 characters).
    if (jws.length <= MAX_REMEMBERED) {
      statics.set(jws, f);
      if (f.parsed) byHash.set(f.sha256, f);
    }
    return f;
  }

  async function entryOf(index: number): Promise<LogEntry | undefined> {
    let e = entries.get(index);
    if (!e) {
      try {
        e = await deps.tlog.getEntry(index);
      } catch {
        return undefined;
      }
      entries.set(index, e);
    }
    return e;
  }

  async function chainOf(x5c: string[], at: Date): Promise<ChainResult> {
    let key = chainKeys.get(x5c);
    if (key === undefined) {
      key = x5c.join(",");
      chainKeys.set(x5c, key);
    }
    const now = clock.now().getTime();
    const hit = chains.get(key);
    if (hit && now - hit.at < chainTtl && at.getTime() >= hit.from && at.getTime() <= hit.to) return hit.r;
    const r = await pki.checkCertificate(Buffer.from(x5c[0]!, "base64"), {
      at, keyUsage: ["digitalSignature"], intermediates: x5c.slice(1).map((c) => Buffer.from(c, "base64")),
    });
    if (r.result === "VALID" && r.path.length > 0) {
      // A VALID result holds for any time inside every path certificate's validity (revocation re-read after the TTL).
      const from = Math.max(...r.path.map((c) => c.notBefore.getTime()));
      const to = Math.min(...r.path.map((c) => c.notAfter.getTime()));
      chains.set(key, { r, from, to, at: now });
    }
    return r;
  }

  async function evidenceOf(index: number): Promise<LogEvidence> {
    let ev = evidences.get(index);
    if (!ev) {
      ev = await deps.tlog.evidence(index);
      evidences.set(index, ev);
    }
    return ev;
  }

  function department(id: string) {
    return depts.get(id, async () => {
      const rec = await uow.read.departments.byId(id);
      return rec ? { id: rec.id, name: rec.name, uscc: rec.uscc } : undefined;
    });
  }

  async function certDept(serial: string) {
    let v = certDepts.get(serial);
    if (v === undefined) {
      const rec = await uow.read.certificates.get(serial);
      v = rec ? { departmentId: rec.departmentId, profile: rec.profile } : null;
      certDepts.set(serial, v);
    }
    return v;
  }

  /**
   * Verdicts reused for the same presented JWS (or identifier) and viewer, for at most VERDICT_REUSE_MS, and only
   * while today's date and the licence record are what they were: the record is re-read through currentRecord on
   * every call (a status change shows at once: see LicenceService.currentRecord), and any change
   * to its version, status, validity, successor or JWS hash recomputes the verdict, as does any change to the
   * catalogue (types, issuer grants: CatalogueService.generation). What else a verdict depends on
   * is already reused for longer by the caches above (chain revocation 60 s, departments 30 s, log entries and
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
    const hit = text.length <= MAX_REMEMBERED ? lru.get(key) : undefined;
    if (hit && hit.input === text && hit.id !== null && hit.day === day && now - hit.at < VERDICT_REUSE_MS && hit.catalogue === generation && sameRecord(hit, await deps.licences.currentRecord(hit.id))) return hit;
    const r = await run(input, viewer);
    const out: Remembered = { ...r, input: text, day, at: now, catalogue: generation };
    if (r.id !== null && text.length <= MAX_REMEMBERED && !r.verdict.checks.some((c) => c.id === "internal")) lru.set(key, out);
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

  async function runChecks(input: { jws?: string; identifier?: string }, viewer: Viewer, seen: (id: string, rec: LicenceRecord | undefined) => void): Promise<Verdict> {
    const checks: Check[] = [];
    const add = (id: Check["id"], status: CheckStatus, detail: string) => checks.push({ id, status, detail });
    let licence: MaskedLicence | undefined;
    let evidence: LogEvidence | undefined;
    try {
      let parsed: { x5c: string[]; payload: unknown };
      let rec: LicenceRecord | undefined;
      let jws: string;
      let facts: JwsFacts;
      if (input.jws !== undefined) {
        jws = input.jws.trim();
        facts = factsOf(jws);
        if (facts.parsed === null || facts.problem !== null) {
          add("format", "FAILED", facts.problem ?? "not a licence JWS");
          return { result: "INVALID", checks };
        }
        parsed = facts.parsed;
        const payload = parsed.payload as LicencePayload;
        add("format", "PASSED", `licence JWS for ${payload.id}`);
        rec = await deps.licences.currentRecord(payload.id);
        seen(payload.id, rec);
      } else {
        const id = (input.identifier ?? "").trim();
        const pr = parseLicenceId(id);
        if (!pr.ok) {
          add("format", "FAILED", `the licence identifier is not valid (${pr.problem})`);
          return { result: "INVALID", checks };
        }
        rec = await deps.licences.currentRecord(id);
        seen(id, rec);
        if (!rec) {
          add("format", "PASSED", "well-formed licence identifier");
          add("record", "FAILED", "no licence with this identifier was issued by this service");
          return { result: "INVALID", checks };
        }
        // The JWS on record is known by its hash: a licence verified before is not decrypted and re-parsed.
        const known = byHash.get(rec.jwsSha256);
        if (known) facts = known;
        else {
          jws = await deps.licences.jwsOf(rec);
          facts = factsOf(jws);
        }
        if (!facts.parsed) throw new Error("the JWS on record does not parse");
        parsed = facts.parsed;
        add("format", "PASSED", "well-formed licence identifier; the licence on record is verified");
      }
      const payload = parsed.payload as LicencePayload;
      const x5c = parsed.x5c;

      // signature
      const key = facts.key;
      const sigOk = facts.sigOk;
      add("signature", sigOk ? "PASSED" : "FAILED", key === null ? "x5c[0] is not a certificate" : sigOk ? `${facts.alg} signature verifies with x5c[0]` : "the signature does not verify: the licence was altered, signed with another key, or its alg does not fit the key of x5c[0]");

      // log entry (gives the trustworthy signing time)
      const entry = rec ? await entryOf(rec.logIndex) : undefined;
      const signedAt = entry ? new Date(entry.event.at) : new Date(typeof payload.signedAt === "string" ? payload.signedAt : NaN);

      // chain
      let leafSerial: string | null = null;
      let chainOk = false;
      if (key === null) add("chain", "FAILED", "no usable signing certificate");
      else if (Number.isNaN(signedAt.getTime())) add("chain", "INDETERMINATE", "no signing time");
      else {
        const ch = await chainOf(x5c, signedAt);
        leafSerial = ch.path[0]?.serial ?? null;
        const bad = ch.checks.find((c) => c.status !== "PASSED");
        chainOk = ch.result === "VALID";
        add("chain", ch.result === "VALID" ? "PASSED" : ch.result === "INVALID" ? "FAILED" : "INDETERMINATE",
          ch.result === "VALID" ? `chains to ${ch.path[ch.path.length - 1]!.subject}; valid and not revoked at ${signedAt.toISOString()}` : bad?.detail ?? ch.result);
      }

      // issuer
      let issuerOk = false;
      const parts = parseLicenceId(payload.id);
      const type = await catalogue.findType(payload.typeCode);
      const cd = leafSerial ? await certDept(leafSerial) : null;
      const dept = cd?.departmentId ? await department(cd.departmentId) : undefined;
      if (!cd || cd.profile !== "licence-signing" || !dept) add("issuer", "FAILED", "the signing certificate is not a licence-signing certificate issued by this service to a department");
      else if (!parts.ok || parts.parts.issuerCode !== dept.uscc || payload.issuer?.code !== dept.uscc) add("issuer", "FAILED", `the certificate belongs to ${dept.name} (${dept.uscc}), not to the issuer named in the licence`);
      else if (!type) add("issuer", "FAILED", `unknown licence type ${payload.typeCode}`);
      else if (parts.ok && parts.parts.typeCode !== type.code) add("issuer", "FAILED", `the identifier names licence type ${parts.parts.typeCode}, not ${type.code} (${type.name})`);
      else if (Number.isNaN(signedAt.getTime())) add("issuer", "INDETERMINATE", `no signing time to check that ${dept.name} was authorised to issue ${type.name}`);
      else if (!(await catalogue.issuerAllowedAt(type.code, dept.id, signedAt))) add("issuer", "FAILED", `${dept.name} (${dept.uscc}) was not authorised to issue ${type.name} on ${signedAt.toISOString()}, when the licence was signed`);
      else {
        add("issuer", "PASSED", `${dept.name} (${dept.uscc}) was authorised to issue ${type.name} on ${signedAt.toISOString()}, when the licence was signed`);
        issuerOk = true;
      }

      // record
      const jwsHash = facts.sha256;
      // The record's validity and status describe the licence on record: they are the presented JWS's only when
      // it is that licence. A JWS that differs (altered, or made elsewhere with a real identifier) is judged by
      // its own dates and gets no status.
      const mine = rec !== undefined && rec.jwsSha256 === jwsHash ? rec : undefined;
      if (!rec) add("record", "FAILED", "no licence with this identifier was issued by this service");
      else if (!mine) add("record", "FAILED", "the JWS differs from the licence on record");
      else add("record", "PASSED", `on record, version ${rec.version}`);

      // validity
      const today = chinaDate(clock.now());
      const vf = mine ? mine.validFrom : payload.validFrom;
      const vu = mine ? mine.validUntil : payload.validUntil;
      if (typeof vf !== "string") add("validity", "FAILED", "no validity period");
      else if (today < vf) add("validity", "FAILED", `not valid before ${vf}`);
      else if (vu !== null && vu !== undefined && today > vu) add("validity", "FAILED", `expired: valid until ${vu}`);
      else add("validity", "PASSED", vu ? `valid ${vf} to ${vu}` : `valid from ${vf} (long-term)`);

      // status
      let st: LicenceStatus | undefined;
      if (!rec) add("status", "INDETERMINATE", "no status for a licence that is not on record");
      else if (!mine) add("status", "INDETERMINATE", "no status: the JWS is not the licence on record");
      else {
        st = effectiveStatus(rec, today);
        if (st === "01") add("status", "PASSED", `01 ${STATUS_TEXT["01"]}`);
        else add("status", "FAILED", `${st} ${STATUS_TEXT[st]}${st === "99" && rec.supersededBy ? `: current version is ${rec.supersededBy}` : ""} (since ${st === "05" && rec.status !== "05" ? rec.validUntil : rec.statusAt.toISOString()})`);
      }

      // log
      if (!rec || !entry) add("log", "FAILED", "no transparency-log entry for this licence");
      else if (entry.event.type !== TLOG_EVENTS.licenceIssued || entry.event.data.id !== rec.identifier || entry.event.data.jwsSha256 !== jwsHash) {
        add("log", "FAILED", `log entry ${rec.logIndex} does not record this JWS`);
      } else {
        evidence = await evidenceOf(rec.logIndex);
        add("log", "PASSED", `issuance logged at index ${rec.logIndex} (${entry.event.at}); inclusion proof in tree of size ${evidence.treeSize}`);
      }

      // Facts only from a licence this service issued, as issued: the payload is then authenticated by a key that
      // chains to the trust anchor, of the department authorised to issue it, and is the licence on record. A
      // JWS signed with any other key could name a real identifier and say anything; its text is not repeated.
      if (sigOk && chainOk && issuerOk && mine && type) {
        licence = { ...mask(payload, viewer, type.holderKind === "person"), ...(st ? { status: st, statusText: STATUS_TEXT[st] } : {}) };
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
