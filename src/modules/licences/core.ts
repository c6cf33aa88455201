/**
 * E-licences: what every use case shares — the dependencies, the read model, departments as signed into licences,
 * number reservation (serials, status-list indexes), and reading a stored licence (decrypt, JWS, view, owner check).
 */
import { parseLicenceId } from "../../codes/index.js";
import { AppError } from "../../errors.js";
import { TtlCache } from "../../util/lru.js";
import type { Actor } from "../kernel.js";
import { chinaDate } from "./dates.js";
import { b64u } from "./jws.js";
import { effectiveStatus, type LicencePayload, type LicencesDeps, type LicenceView } from "./model.js";
import type { LicenceRecord, LicenceRepos } from "./ports.js";
import { STATUS_TEXT } from "./ports.js";
import { createLicenceReadModel } from "./read-model.js";
import { TYP_LICENCE } from "./signing.js";

/** Serials and status-list indexes are reserved this many at a time (at least). */
const SERIAL_BLOCK = 256;

export function createLicenceCore<R extends LicenceRepos>(deps: LicencesDeps<R>) {
  const { uow, clock, pii, signer } = deps;
  const publicUrl = deps.publicUrl.replace(/\/+$/, "");
  /** The keyed hash a licence number is stored and found by (the number itself is only in the encrypted payload). */
  const numberHashOf = (n: string) => pii.lookupHash("licence-number", n);
  const model = createLicenceReadModel();

  // ---- departments (name + USCC go into the signed data) ----
  const departments = new TtlCache<string, { name: string; uscc: string }>(1000, 30_000, () => clock.now().getTime());
  function department(id: string): Promise<{ name: string; uscc: string }> {
    return departments.get(id, async () => {
      const d = await uow.read.departments.byId(id);
      if (!d) throw new AppError("DEPARTMENT_NOT_FOUND");
      return { name: d.name, uscc: d.uscc };
    });
  }

  // ---- counters: serials per department+type, status-list indexes per department; reserved in blocks ----
  const blocks = new Map<string, { next: number; end: number }>();
  const refills = new Map<string, Promise<void>>();
  async function take(scope: string, n: number): Promise<number[]> {
    const out: number[] = [];
    while (out.length < n) {
      const b = blocks.get(scope);
      if (b && b.next < b.end) {
        while (out.length < n && b.next < b.end) out.push(b.next++);
        continue;
      }
      let p = refills.get(scope);
      if (!p) {
        // Twice what is still needed: a bulk import's next chunk finds its numbers waiting (no write of its own).
        const want = Math.max(SERIAL_BLOCK, 2 * (n - out.length));
        // No fsync of its own: every licence numbered from this block is committed after it with an fsync, which
        // makes the block durable too (the WAL is written in order). A block lost in a power cut was never used.
        p = uow.write((repos) => repos.licences.reserve(scope, want), { relaxed: true })
          .then((first) => void blocks.set(scope, { next: first, end: first + want }))
          .finally(() => refills.delete(scope));
        refills.set(scope, p);
      }
      await p;
    }
    return out;
  }
  const serialScope = (deptId: string, typeCode: string) => `serial:${deptId}:${typeCode}`;
  const statusScope = (deptId: string) => `status:${deptId}`;
  const formatSerial = (n: number) => String(n + 1).padStart(10, "0");

  const listUrl = (deptId: string, listNo: number) => `${publicUrl}/status-lists/${deptId}/${listNo}`;

  function today(): string {
    return chinaDate(clock.now());
  }

  // ---- reading stored licences ----
  function openPayload(rec: LicenceRecord): { json: string; payload: LicencePayload } {
    const json = pii.decrypt(rec.payloadEnc, `licence:${rec.identifier}`);
    return { json, payload: JSON.parse(json) as LicencePayload };
  }

  async function jwsOf(rec: LicenceRecord, json?: string): Promise<string> {
    const j = json ?? openPayload(rec).json;
    return `${await signer.header(rec.certSerial, TYP_LICENCE)}.${b64u(j)}.${rec.signature}`;
  }

  async function view(rec: LicenceRecord, plain?: string): Promise<LicenceView> {
    const { json, payload } = plain !== undefined ? { json: plain, payload: JSON.parse(plain) as LicencePayload } : openPayload(rec);
    const st = effectiveStatus(rec, today());
    return {
      identifier: rec.identifier, typeCode: rec.typeCode, name: payload.name, version: rec.version, departmentId: rec.departmentId,
      status: st, statusText: STATUS_TEXT[st], statusAt: rec.statusAt, validFrom: rec.validFrom, validUntil: rec.validUntil,
      supersedes: rec.supersedes, supersededBy: rec.supersededBy,
      statusList: { url: payload.status.list, index: payload.status.index }, logIndex: rec.logIndex, createdAt: rec.createdAt,
      data: payload, jws: await jwsOf(rec, json),
    };
  }

  /** The stored record of a licence, read now (LICENCE_ID_INVALID, LICENCE_NOT_FOUND). */
  async function record(identifier: string): Promise<LicenceRecord> {
    const parsed = parseLicenceId(identifier);
    if (!parsed.ok) throw new AppError("LICENCE_ID_INVALID", `The licence identifier is not valid (${parsed.problem}).`, { details: { problem: parsed.problem } });
    const rec = await uow.read.licences.byId(identifier);
    if (!rec) throw new AppError("LICENCE_NOT_FOUND");
    return rec;
  }

  /**
   * Issuers act on their own department's licences only; admins and the system on any. Another department's licence
   * is LICENCE_NOT_FOUND, the very error (status, code, message, no details) of an identifier not on record, so an
   * issuer cannot learn which identifiers exist elsewhere (issue 14 §4).
   */
  function checkOwner(actor: Actor, rec: LicenceRecord): void {
    if (actor.kind === "system") return;
    if (actor.kind === "client" && actor.role === "admin") return;
    if (actor.kind === "client" && actor.role === "issuer" && actor.departmentId === rec.departmentId) return;
    throw new AppError("LICENCE_NOT_FOUND");
  }

  /** The stored record for verification, read now (undefined when not on record). */
  const currentRecord = (identifier: string) => uow.read.licences.byId(identifier);
  /** The same, with its log leaf and the smallest checkpoint covering it, in one read (a first verification). */
  const currentRecordWithLog = (identifier: string) => uow.read.licences.byIdWithLog(identifier);

  return {
    deps, uow, clock, pii, signer, catalogue: deps.catalogue, tlog: deps.tlog, log: deps.log, publicUrl, model,
    numberHashOf, department, take, serialScope, statusScope, formatSerial, listUrl, today,
    openPayload, jwsOf, view, currentRecord, currentRecordWithLog, record, checkOwner,
  };
}

export type LicenceCore<R extends LicenceRepos> = ReturnType<typeof createLicenceCore<R>>;
