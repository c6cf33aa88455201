/**
 * A fresh SoftHSM2 for a test file: its own configuration and token folder in a temp dir (SOFTHSM2_CONF), tokens
 * made with `softhsm2-util --init-token`, the user PIN in a 0600 file, and the SIDIAN_KEYSTORE URL naming them.
 *
 * SoftHSM reads SOFTHSM2_CONF when the module is initialised and sees only the tokens that existed then; Sidian
 * finalises the module when its last token closes, so make the tokens a test needs before it opens the first one
 * (or after every earlier one is closed).
 */
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export const SOFTHSM_MODULE = ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so", "/usr/local/lib/softhsm/libsofthsm2.so"]
  .find((p) => fs.existsSync(p));

/** Why SoftHSM tests are skipped here, or false when softhsm2 is installed. */
export const SOFTHSM_SKIP: string | false = (() => {
  if (!SOFTHSM_MODULE) return "softhsm2 is not installed (apt-get install softhsm2): PKCS#11 tests skipped";
  const r = spawnSync("softhsm2-util", ["--version"], { encoding: "utf8" });
  if (r.error || r.status !== 0) return "softhsm2-util is not on PATH (apt-get install softhsm2): PKCS#11 tests skipped";
  return false;
})();
if (SOFTHSM_SKIP) process.stdout.write(`# SKIP ${SOFTHSM_SKIP}\n`);

export interface SoftHsm {
  readonly dir: string;
  readonly conf: string;
  readonly module: string;
  /** Makes a token and returns its key-store URL and PIN file. */
  token(label: string, opts?: { pin?: string }): { label: string; pin: string; pinFile: string; url: string };
  remove(label: string): void;
}

/** Sets SOFTHSM2_CONF for this process to a fresh configuration (call once per test file, before any token use). */
export function softhsm(t: { teardown(fn: () => void): void }): SoftHsm {
  if (SOFTHSM_SKIP || !SOFTHSM_MODULE) throw new Error(String(SOFTHSM_SKIP));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sidian-softhsm-"));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, "tokens"));
  const conf = path.join(dir, "softhsm2.conf");
  fs.writeFileSync(conf, `directories.tokendir = ${path.join(dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  process.env.SOFTHSM2_CONF = conf;
  const util = (args: string[]) => {
    const r = spawnSync("softhsm2-util", args, { encoding: "utf8", env: { ...process.env, SOFTHSM2_CONF: conf } });
    if (r.status !== 0) throw new Error(`softhsm2-util ${args.join(" ")}: ${r.stdout}${r.stderr}`);
  };
  return {
    dir, conf, module: SOFTHSM_MODULE,
    token(label, opts = {}) {
      const pin = opts.pin ?? crypto.randomBytes(6).toString("hex");
      util(["--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", crypto.randomBytes(6).toString("hex")]);
      const pinFile = path.join(dir, `${label}.pin`);
      fs.writeFileSync(pinFile, `${pin}\n`, { mode: 0o600 });
      return { label, pin, pinFile, url: `pkcs11:token=${encodeURIComponent(label)}?module-path=${SOFTHSM_MODULE}&pin-source=file:${pinFile}` };
    },
    remove(label) {
      util(["--delete-token", "--token", label]);
    },
  };
}
