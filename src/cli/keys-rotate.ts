/**
 * `sidian keys rotate`, department keys: each department gets a new licence-signing key (in the configured key
 * store: files wrapped under the KEK, or the PKCS#11 token) and certificate; its old key is retired (it signs
 * nothing more) while its certificate stays valid, so every licence it signed keeps verifying. One transaction per
 * department: the new key, the certificate, the retirement and their log entries commit together.
 *
 * Running instances pick the new certificate within their signer cache time (30 s); a signature attempted with the
 * retired key meanwhile is retried with the new one.
 */
import type { Context } from "../context.js";
import { AppError } from "../errors.js";
import { actorLabel, type Actor } from "../modules/kernel.js";
import { TLOG_EVENTS } from "../modules/tlog/index.js";

export interface RotatedDepartment {
  readonly departmentId: string;
  readonly name: string;
  readonly newSerial: string;
  readonly newKeyId: string;
  /** Keys retired (their certificates stay valid). */
  readonly retiredKeys: readonly string[];
}

export async function rotateDepartmentKeys(ctx: Context, opts: { departmentId?: string; actor: Actor; progress?: (line: string) => void }): Promise<RotatedDepartment[]> {
  const ids: string[] = [];
  if (opts.departmentId) {
    if (!(await ctx.uow.read.departments.byId(opts.departmentId))) throw new AppError("DEPARTMENT_NOT_FOUND", `No department ${opts.departmentId}.`);
    ids.push(opts.departmentId);
  } else {
    for (let after: string | undefined; ;) {
      const page = await ctx.directory.listDepartments({ limit: 500, ...(after ? { after } : {}) });
      ids.push(...page.map((d) => d.id));
      if (page.length < 500) break;
      after = page[page.length - 1]!.id;
    }
  }
  const out: RotatedDepartment[] = [];
  for (const id of ids) {
    const r = await ctx.uow.write(async (repos, tx) => {
      const d = await repos.departments.byId(id);
      if (!d) throw new AppError("DEPARTMENT_NOT_FOUND", `No department ${id}.`);
      const old = (await repos.certificates.listByDepartment(id)).filter((c) => c.profile === "licence-signing" && c.status === "valid" && c.keyId);
      const c = await ctx.issueCertificate(repos, tx, { department: d, profile: "licence-signing" }, opts.actor);
      const retired: string[] = [];
      for (const oc of old) {
        const key = await repos.keys.get(oc.keyId!);
        if (!key || key.status !== "active") continue;
        await repos.keys.setStatus(key.id, "retired");
        await ctx.tlog.append(repos, tx, {
          type: TLOG_EVENTS.keyRetired, subject: `key:${key.id}`, actor: actorLabel(opts.actor),
          data: { keyId: key.id, purpose: key.purpose, departmentId: id, certificateSerial: oc.serial, replacedBy: c.serial, reason: "rotation" },
        });
        retired.push(key.id);
      }
      tx.afterCommit(() => retired.forEach((k) => ctx.pki.keyStore.forget(k)));
      return { departmentId: id, name: d.name, newSerial: c.serial, newKeyId: c.keyId, retiredKeys: retired };
    });
    opts.progress?.(`department ${r.departmentId} (${r.name}): new licence-signing certificate ${r.newSerial}; retired ${r.retiredKeys.length ? r.retiredKeys.join(", ") : "no key"}`);
    out.push(r);
  }
  return out;
}
