/**
 * Verification, trust in the signing key (chain and issuer checks of verify.ts): does x5c[0] chain to the trust
 * anchor, valid and not revoked when the licence was signed; and is it a licence-signing certificate of the
 * department named in the licence, which was allowed to issue the licence type at that time (the catalogue's issuer
 * grants at the signing time, not its current issuers). A VALID chain result is reused for `chainTtl` (revocation
 * freshness); certificates' departments for good (a serial names one certificate); departments for 30 s.
 */
import type { KeyObject } from "node:crypto";
import { parseLicenceId } from "../../codes/index.js";
import type { ChainResult, PkiService } from "../../pki/index.js";
import { Lru, TtlCache } from "../../util/lru.js";
import type { CatalogueService } from "../catalogue/index.js";
import type { Clock, UnitOfWork } from "../kernel.js";
import type { LicencePayload } from "./model.js";
import type { LicenceRepos } from "./ports.js";
import type { CheckStatus } from "./verify.js";

type Add = (id: "chain" | "issuer", status: CheckStatus, detail: string) => void;

export function createTrustChecks<R extends LicenceRepos>(deps: {
  uow: UnitOfWork<R>;
  clock: Clock;
  pki: Pick<PkiService, "checkCertificate">;
  catalogue: CatalogueService;
  chainTtlMs: number;
}) {
  const { uow, clock, pki, catalogue } = deps;
  const chains = new Lru<string, { r: ChainResult; from: number; to: number; at: number }>(1000);
  /** Chain-cache keys per (shared) x5c array, so the joined key is built and hashed once. */
  const chainKeys = new WeakMap<string[], string>();
  const certDepts = new Lru<string, { departmentId: string | null; profile: string } | null>(1000);
  /** Departments (name, USCC) for the issuer check, re-read after 30 s like the licence service's own cache. */
  const depts = new TtlCache<string, { id: string; name: string; uscc: string } | undefined>(1000, 30_000, () => clock.now().getTime());

  async function chainOf(x5c: string[], at: Date): Promise<ChainResult> {
    let key = chainKeys.get(x5c);
    if (key === undefined) {
      key = x5c.join(",");
      chainKeys.set(x5c, key);
    }
    const now = clock.now().getTime();
    const hit = chains.get(key);
    if (hit && now - hit.at < deps.chainTtlMs && at.getTime() >= hit.from && at.getTime() <= hit.to) return hit.r;
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

  /** The chain check: the leaf's serial when a path was built, and whether the chain is VALID. */
  async function chain(key: KeyObject | null, x5c: string[], signedAt: Date, add: Add): Promise<{ leafSerial: string | null; chainOk: boolean }> {
    if (key === null) {
      add("chain", "FAILED", "no usable signing certificate");
      return { leafSerial: null, chainOk: false };
    }
    if (Number.isNaN(signedAt.getTime())) {
      add("chain", "INDETERMINATE", "no signing time");
      return { leafSerial: null, chainOk: false };
    }
    const ch = await chainOf(x5c, signedAt);
    const bad = ch.checks.find((c) => c.status !== "PASSED");
    add("chain", ch.result === "VALID" ? "PASSED" : ch.result === "INVALID" ? "FAILED" : "INDETERMINATE",
      ch.result === "VALID" ? `chains to ${ch.path[ch.path.length - 1]!.subject}; valid and not revoked at ${signedAt.toISOString()}` : bad?.detail ?? ch.result);
    return { leafSerial: ch.path[0]?.serial ?? null, chainOk: ch.result === "VALID" };
  }

  /** The issuer check: the licence type (when known), and whether the issuer check PASSED. */
  async function issuer(payload: LicencePayload, leafSerial: string | null, signedAt: Date, add: Add) {
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
    return { type, issuerOk };
  }

  return { chain, issuer };
}
