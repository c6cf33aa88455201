/**
 * What the P-256 and the SM2 key-folder code share (src/pki/cli.ts, material.ts, sm2-material.ts): writing a set of
 * key files so that a crash never leaves a half-written set, the error a bad key file gives, and the chain checks a
 * loaded hierarchy must pass.
 */
import fs from "node:fs";
import path from "node:path";
import { AppError } from "../errors.js";
import { verifyChain } from "./chain.js";
import { OID, type KeyUsageName } from "./profiles.js";
import type { CertInfo } from "./reader.js";

/** KEYSTORE_LOCKED naming the key file and what is wrong with it. */
export function lockedKeyFile(file: string, problem: string, cause?: unknown): AppError {
  return new AppError("KEYSTORE_LOCKED", `Key material ${file}: ${problem}`, { cause, details: { file } });
}

/**
 * Writes `[name, body, mode]` files into `dir`: every file to a temporary name first, then renamed, the first one
 * last (its presence marks a complete set: the manifest, or a hierarchy's root certificate).
 */
export function writeKeyFilesAtomically(dir: string, files: ReadonlyArray<readonly [string, string, number]>): void {
  const tmp = files.map(([name, body, mode]) => {
    const t = path.join(dir, `.${name}.tmp-${process.pid}`);
    fs.writeFileSync(t, body, { mode });
    fs.chmodSync(t, mode);
    return [t, path.join(dir, name)] as const;
  });
  for (const [t, final] of tmp.slice(1)) fs.renameSync(t, final);
  if (tmp[0]) fs.renameSync(tmp[0][0], tmp[0][1]);
}

/**
 * The chain checks of a loaded hierarchy: `chainOf` verifies a certificate up to the root through the issuing CA at
 * `at` (KEYSTORE_LOCKED naming its file otherwise) and returns the path; `checkTsa` adds the TSA's RFC 3161 rules.
 */
export function hierarchyChecks(o: { root: CertInfo; rootFile: string; issuing: CertInfo; at: Date; file: (name: string) => string }) {
  const chainOf = async (file: string, leaf: CertInfo, extra: { keyUsage?: KeyUsageName[]; extKeyUsage?: string } = {}) => {
    const r = await verifyChain({ leaf, intermediates: [o.issuing], anchors: [o.root], at: o.at, ...extra });
    if (r.result !== "VALID") {
      const failed = r.checks.find((c) => c.status !== "PASSED");
      throw lockedKeyFile(o.file(file), `does not chain to ${o.rootFile} at ${o.at.toISOString()}: ${failed?.detail ?? r.problem}`);
    }
    return r.path;
  };
  return {
    chainOf,
    /** The issuing CA chains to the root and is a CA. */
    async checkIssuing(file: string): Promise<void> {
      await chainOf(file, o.issuing);
      if (!o.issuing.basicConstraints?.ca) throw lockedKeyFile(o.file(file), "is not a CA certificate");
    },
    /** The TSA chains, may sign and carries a critical extended key usage of timeStamping only (RFC 3161 §2.3). */
    async checkTsa(file: string, tsa: CertInfo): Promise<readonly CertInfo[]> {
      const p = await chainOf(file, tsa, { extKeyUsage: OID.kpTimeStamping, keyUsage: ["digitalSignature"] });
      const eku = tsa.extKeyUsage;
      if (!eku || !eku.critical || eku.oids.length !== 1) throw lockedKeyFile(o.file(file), "must carry a critical extended key usage of timeStamping only (RFC 3161)");
      return p;
    },
  };
}
