/**
 * POST /verify/material: "were these exact bytes registered, when, by which kind of source, and are they still
 * good?" — from the bytes (hashed as they arrive, nothing kept), their SHA-256 (or SM3), and/or the receipt JWS.
 * A verdict (DESIGN rule 4), never an exception:
 *   format     the receipt parses as a material receipt (when one is given)
 *   signature  the receipt's ES256 signature verifies with a published key
 *   record     the material is on record here; the receipt's claims are the record's
 *   bytes      the bytes (or hash) given are the registered ones
 *   status     valid (PASSED); superseded (INDETERMINATE: a newer version exists); revoked, withdrawn, expired (FAILED)
 *   log        the registration is in the transparency log with these hashes; the inclusion proof travels along
 * Result: INVALID if any check FAILED, else INDETERMINATE if any is, else VALID. The public answer masks the holder.
 */
import { createHash } from "node:crypto";
import type { LogEvidence } from "../tlog/index.js";
import type { MaterialCore } from "./core.js";
import type { MaterialRecord, MaterialRepos, MaterialStatus } from "./ports.js";
import { checkReceipt, holderClaim, receiptClaims } from "./receipt.js";
import { MATERIAL_MAX_BYTES } from "./types.js";
import { AppError } from "../../errors.js";

export type CheckStatus = "PASSED" | "FAILED" | "INDETERMINATE";
export interface MaterialCheck {
  id: "format" | "signature" | "record" | "bytes" | "status" | "log";
  status: CheckStatus;
  detail: string;
}

export interface MaterialVerdict {
  result: "VALID" | "INVALID" | "INDETERMINATE";
  /** The material's status in capitals (VALID, SUPERSEDED, REVOKED, WITHDRAWN, EXPIRED), or UNKNOWN. */
  status: string;
  checks: MaterialCheck[];
  material?: {
    identifier: string; typeCode: string; typeName: string | null; mediaType: string; size: number; sha256: string; sm3: string;
    source: string; registeredAt: string; status: MaterialStatus; statusText: string; statusAt: string; supersededBy: string | null;
    expiresAt: string | null; holder: string; logIndex: number;
  };
  /** How many registrations have these bytes (several holders may have registered the same file). */
  registrations?: number;
  evidence?: LogEvidence;
}

export interface VerifyInput {
  /** The bytes, streamed (hashed here, never stored). */
  bytes?: AsyncIterable<Buffer | Uint8Array>;
  sha256?: string;
  sm3?: string;
  receipt?: string;
}

export function createVerify<R extends MaterialRepos>(core: MaterialCore<R>) {
  const { deps } = core;

  async function hashStream(src: AsyncIterable<Buffer | Uint8Array>): Promise<{ sha256: string; sm3: string; size: number }> {
    const a = createHash("sha256");
    const b = createHash("sm3");
    let size = 0;
    for await (const c of src) {
      size += c.length;
      if (size > MATERIAL_MAX_BYTES) throw new AppError("MATERIAL_TOO_LARGE", `A material is at most ${MATERIAL_MAX_BYTES} bytes.`, { details: { limit: MATERIAL_MAX_BYTES } });
      a.update(c);
      b.update(c);
    }
    return { sha256: a.digest("hex"), sm3: b.digest("hex"), size };
  }

  async function verify(input: VerifyInput): Promise<MaterialVerdict> {
    const checks: MaterialCheck[] = [];
    let sha256 = input.sha256?.toLowerCase();
    let sm3 = input.sm3?.toLowerCase();
    if (input.bytes) {
      const h = await hashStream(input.bytes);
      if (h.size === 0) throw new AppError("MATERIAL_EMPTY");
      if (sha256 && sha256 !== h.sha256) checks.push({ id: "bytes", status: "FAILED", detail: "the sha256 given is not the hash of the file given" });
      sha256 = h.sha256;
      sm3 = h.sm3;
    }
    let rec: MaterialRecord | undefined;
    let registrations: number | undefined;
    if (input.receipt !== undefined) {
      const r = checkReceipt(input.receipt, deps.receipts.keys());
      if ("problem" in r) {
        checks.push({ id: r.stage, status: "FAILED", detail: r.problem });
        if (r.stage === "signature") checks.unshift({ id: "format", status: "PASSED", detail: "a material receipt (ES256)" });
      } else {
        checks.push({ id: "format", status: "PASSED", detail: "a material receipt (ES256)" }, { id: "signature", status: "PASSED", detail: `signed with the published key ${r.kid}` });
        rec = await deps.uow.read.materials.byId(r.claims.sub);
        if (!rec) checks.push({ id: "record", status: "FAILED", detail: "no material with this identifier is on record here" });
        else {
          const want = receiptClaims(rec, r.claims.iss, holderClaim(deps.holderKey, rec.holderHash, rec.identifier));
          const differ = (Object.keys(want) as Array<keyof typeof want>).filter((k) => JSON.stringify(want[k]) !== JSON.stringify((r.claims as unknown as Record<string, unknown>)[k]));
          checks.push(differ.length ? { id: "record", status: "FAILED", detail: `the receipt's claims differ from the record: ${differ.join(", ")}` } : { id: "record", status: "PASSED", detail: "the receipt's claims are the record's" });
        }
        if (rec && (sha256 || sm3)) {
          const same = (!sha256 || sha256 === rec.sha256) && (!sm3 || sm3 === rec.sm3);
          if (!checks.some((c) => c.id === "bytes")) checks.push(same ? { id: "bytes", status: "PASSED", detail: "the bytes are the ones the receipt names" } : { id: "bytes", status: "FAILED", detail: "the bytes are not the ones the receipt names" });
        }
      }
    } else if (sha256 || sm3) {
      const found = sha256 ? await deps.uow.read.materials.bySha256(sha256, 50) : [];
      const matches = sm3 ? found.filter((f) => f.sm3 === sm3) : found;
      registrations = matches.length;
      if (!sha256) checks.push({ id: "bytes", status: "INDETERMINATE", detail: "give the SHA-256 (or the file): materials are looked up by SHA-256" });
      else if (matches.length === 0) checks.push({ id: "bytes", status: "FAILED", detail: "these bytes were never registered here" });
      else {
        // The valid one if any, else the latest.
        rec = matches.find((m) => core.effective(m) === "valid") ?? matches[matches.length - 1];
        if (!checks.some((c) => c.id === "bytes")) checks.push({ id: "bytes", status: "PASSED", detail: `registered ${matches.length === 1 ? "once" : `${matches.length} times`}` });
      }
    } else {
      throw new AppError("VALIDATION_FAILED", "Give the file, its sha256, or the receipt.");
    }
    let evidence: LogEvidence | undefined;
    let status = "UNKNOWN";
    if (rec) {
      const st = core.effective(rec);
      status = st.toUpperCase();
      checks.push(
        st === "valid" ? { id: "status", status: "PASSED", detail: "valid" }
          : st === "superseded" ? { id: "status", status: "INDETERMINATE", detail: `superseded by ${rec.supersededBy}` }
            : { id: "status", status: "FAILED", detail: `${st}${rec.statusReason && st === "revoked" ? `: ${rec.statusReason}` : ""}` },
      );
      try {
        const entry = await deps.tlog.getEntry(rec.logIndex);
        const d = entry.event.data as Record<string, unknown>;
        if (entry.event.subject !== `material:${rec.identifier}` || d.sha256 !== rec.sha256 || d.sm3 !== rec.sm3) checks.push({ id: "log", status: "FAILED", detail: "the log entry does not record these hashes" });
        else {
          evidence = await deps.tlog.evidence(rec.logIndex);
          checks.push({ id: "log", status: "PASSED", detail: `registered at log index ${rec.logIndex}` });
        }
      } catch {
        checks.push({ id: "log", status: "INDETERMINATE", detail: "the log entry cannot be read now" });
      }
    }
    const result = checks.some((c) => c.status === "FAILED") ? "INVALID" : checks.some((c) => c.status === "INDETERMINATE") ? "INDETERMINATE" : "VALID";
    const v: MaterialVerdict = { result, status, checks };
    if (rec) {
      const view = await core.view(rec);
      v.material = {
        identifier: view.identifier, typeCode: view.typeCode, typeName: view.typeName, mediaType: view.mediaType, size: view.size, sha256: view.sha256, sm3: view.sm3,
        source: view.source, registeredAt: view.registeredAt, status: view.status, statusText: view.statusText, statusAt: view.statusAt,
        supersededBy: view.supersededBy, expiresAt: view.expiresAt, holder: view.holder, logIndex: view.logIndex,
      };
    }
    if (registrations !== undefined) v.registrations = registrations;
    if (evidence) v.evidence = evidence;
    return v;
  }

  return { verify };
}
