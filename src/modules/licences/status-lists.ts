/**
 * Status publication: a licence's online status (public, no personal data) and each department's signed status
 * lists (W3C Bitstring Status List style, statusPurpose "message", 4 bits per entry), kept by the read model.
 */
import { gzipSync } from "node:zlib";
import { sha256Hex } from "../../crypto/hash.js";
import { AppError } from "../../errors.js";
import type { LicenceCore } from "./core.js";
import { chinaDate } from "./dates.js";
import { b64u } from "./jws.js";
import { LIST_SIZE, STATUS_BITS, STATUS_MESSAGES, STATUS_NIBBLE, effectiveStatus } from "./model.js";
import type { LicenceRepos } from "./ports.js";
import { STATUS_TEXT } from "./ports.js";
import { TYP_STATUS_LIST } from "./signing.js";

export function createStatusLists<R extends LicenceRepos>(core: LicenceCore<R>) {
  const { deps, uow, clock, signer, model, department, statusScope, listUrl, today, record } = core;
  const listTtl = (deps.statusListCacheSeconds ?? 60) * 1000;

  async function status(identifier: string) {
    const rec = await record(identifier);
    const st = effectiveStatus(rec, today());
    const listNo = Math.floor(rec.statusIndex / LIST_SIZE);
    return {
      identifier, status: st, statusText: STATUS_TEXT[st], since: st === "05" && rec.status !== "05" ? rec.validUntil : rec.statusAt.toISOString(),
      version: rec.version, validFrom: rec.validFrom, validUntil: rec.validUntil, supersededBy: rec.supersededBy,
      statusList: { url: listUrl(rec.departmentId, listNo), index: rec.statusIndex % LIST_SIZE },
    };
  }

  // ---- status lists (W3C Bitstring Status List style, statusPurpose "message", 4 bits per entry) ----
  /** Lists being built (one build per list at a time); what is kept lives in the read model. */
  const building = new Map<string, Promise<{ jws: string; etag: string }>>();

  async function statusList(departmentId: string, listNo: number): Promise<{ jws: string; etag: string; maxAge: number }> {
    const dept = await department(departmentId).catch((e: unknown) => {
      throw e instanceof AppError && e.code === "DEPARTMENT_NOT_FOUND" ? new AppError("STATUS_LIST_NOT_FOUND") : e;
    });
    const next = await uow.read.licences.peek(statusScope(departmentId));
    if (!Number.isSafeInteger(listNo) || listNo < 0 || listNo * LIST_SIZE >= next) throw new AppError("STATUS_LIST_NOT_FOUND");
    const key = `${departmentId}/${listNo}`;
    const now = clock.now();
    const day = chinaDate(now);
    const maxAge = Math.ceil(listTtl / 1000);
    const hit = model.keptList(departmentId, listNo, day, listTtl, now.getTime());
    if (hit) return { jws: hit.jws, etag: hit.etag, maxAge };
    const stamp = model.listStamp(departmentId, listNo, now.getTime());
    let p = building.get(key);
    if (!p) {
      p = (async () => {
        const rows = await uow.read.licences.statusRange(departmentId, listNo * LIST_SIZE, (listNo + 1) * LIST_SIZE);
        const bits = Buffer.alloc((LIST_SIZE * STATUS_BITS) / 8);
        for (const r of rows) {
          const pos = r.statusIndex - listNo * LIST_SIZE;
          const v = STATUS_NIBBLE[effectiveStatus(r, day)];
          // entry i occupies bits 4i..4i+3, most significant bit first (index 0 = leftmost bit).
          bits[pos >> 1]! |= pos % 2 === 0 ? v << 4 : v;
        }
        const url = listUrl(departmentId, listNo);
        const vc = {
          "@context": ["https://www.w3.org/ns/credentials/v2"],
          id: url,
          type: ["VerifiableCredential", "BitstringStatusListCredential"],
          issuer: `urn:uscc:${dept.uscc}`,
          validFrom: now.toISOString(),
          validUntil: new Date(now.getTime() + 24 * 3600_000).toISOString(),
          credentialSubject: {
            id: `${url}#list`, type: "BitstringStatusList", statusPurpose: "message", statusSize: STATUS_BITS,
            statusMessages: STATUS_MESSAGES, ttl: listTtl, encodedList: `u${gzipSync(bits).toString("base64url")}`,
          },
        };
        const { jws, cert } = await signer.signCompact(departmentId, TYP_STATUS_LIST, b64u(JSON.stringify(vc))).catch((e: unknown) => {
          throw e instanceof AppError && e.code === "SIGNING_KEY_UNAVAILABLE" ? new AppError("STATUS_LIST_UNAVAILABLE", undefined, { cause: e }) : e;
        });
        // Weak: a list signed again the same day, by the same certificate, with the same statuses (only validFrom and
        // the signature differ) is the same list, so a client's copy stays good (304) across rebuilds and instances.
        // The day bounds it: a copy made on day D is valid 24 h, past the end of D, when a new day changes the tag.
        const etag = `W/"${sha256Hex(`${url}\n${day}\n${cert.serial}\n${vc.credentialSubject.encodedList}`).slice(0, 32)}"`;
        model.keepList(departmentId, listNo, day, stamp, { jws, etag });
        return { jws, etag };
      })().finally(() => building.delete(key));
      building.set(key, p);
    }
    return { ...(await p), maxAge };
  }

  return { status, statusList };
}
