/**
 * Verification, the licence as it stands (record, validity, status and log checks of verify.ts): is the presented
 * JWS exactly the licence on record, is today inside its validity period, is its current status 01, and is its
 * issuance in the transparency log with this JWS's hash (the inclusion proof travels along). Log entries and proofs
 * of an index are immutable once committed, so they are remembered when `remember` is on. A first verification reads
 * the record, its leaf and its covering checkpoint in one statement (LicenceRepo.byIdWithLog), then the proof's
 * nodes in one more: two round trips on PostgreSQL.
 */
import { Lru } from "../../util/lru.js";
import { entryOf as toEntry, type KnownEvidence, type LeafRecord, type LogEntry, type LogEvidence } from "../tlog/index.js";
import { TLOG_EVENTS } from "../tlog/events.js";
import { chinaDate } from "./dates.js";
import { effectiveStatus, type LicencePayload } from "./model.js";
import type { LicenceRecord, LicenceStatus } from "./ports.js";
import { STATUS_TEXT } from "./ports.js";
import type { CheckStatus } from "./verify.js";

type Add = (id: "record" | "validity" | "status" | "log", status: CheckStatus, detail: string) => void;

export function createStandingChecks(deps: {
  clock: { now(): Date };
  tlog: { getEntry(index: number): Promise<LogEntry>; evidence(index: number, opts?: { known?: KnownEvidence }): Promise<LogEvidence> };
  remember: boolean;
}) {
  const entries = new Lru<number, LogEntry>(50_000);
  const evidences = new Lru<number, LogEvidence>(50_000);

  /**
   * The log entry of a licence's issuance (its time is the trustworthy signing time); undefined if unreadable.
   * `read`: the leaf as read with the record (LicenceRepo.byIdWithLog; null: read with it and absent), so it is
   * not read again.
   */
  async function entryOf(index: number, read?: LeafRecord | null): Promise<LogEntry | undefined> {
    let e = deps.remember ? entries.get(index) : undefined;
    if (!e) {
      try {
        if (read === null) return undefined;
        e = read && read.index === index ? toEntry(read) : await deps.tlog.getEntry(index);
      } catch {
        return undefined;
      }
      if (deps.remember) entries.set(index, e);
    }
    return e;
  }

  async function evidenceOf(index: number, known?: KnownEvidence): Promise<LogEvidence> {
    let ev = deps.remember ? evidences.get(index) : undefined;
    if (!ev) {
      ev = await deps.tlog.evidence(index, known ? { known } : {});
      if (deps.remember) evidences.set(index, ev);
    }
    return ev;
  }

  /**
   * The record, validity, status and log checks of a JWS (hash `jwsHash`, payload `payload`) against the licence on
   * record `rec` and its log entry. `mine` is the record when the JWS is the licence on record: only then do the
   * record's validity and status describe it (a JWS that differs is judged by its own dates and gets no status).
   */
  async function standing(rec: LicenceRecord | undefined, entry: LogEntry | undefined, payload: LicencePayload, jwsHash: string, add: Add, known?: KnownEvidence) {
    const mine = rec !== undefined && rec.jwsSha256 === jwsHash ? rec : undefined;
    if (!rec) add("record", "FAILED", "no licence with this identifier was issued by this service");
    else if (!mine) add("record", "FAILED", "the JWS differs from the licence on record");
    else add("record", "PASSED", `on record, version ${rec.version}`);

    // validity
    const today = chinaDate(deps.clock.now());
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
    let evidence: LogEvidence | undefined;
    if (!rec || !entry) add("log", "FAILED", "no transparency-log entry for this licence");
    else if (entry.event.type !== TLOG_EVENTS.licenceIssued || entry.event.data.id !== rec.identifier || entry.event.data.jwsSha256 !== jwsHash) {
      add("log", "FAILED", `log entry ${rec.logIndex} does not record this JWS`);
    } else {
      evidence = await evidenceOf(rec.logIndex, known);
      add("log", "PASSED", `issuance logged at index ${rec.logIndex} (${entry.event.at}); inclusion proof in tree of size ${evidence.treeSize}`);
    }
    return { mine, st, evidence };
  }

  return { entryOf, standing };
}
