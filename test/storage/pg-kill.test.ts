/**
 * Two real server processes on one PostgreSQL database (issue 16, "tests that prove the multi-instance claims"):
 * both issue licences (some Idempotency-Keys sent to both) and stamp PDFs; one is killed with SIGKILL in the middle
 * of the load while the other goes on; the killed one is started again and works. Afterwards: every acknowledged
 * write is there, no identifier, serial, status index or licence number twice, one licence per shared key, the log
 * has no gap and `log audit` passes. Skips where no PostgreSQL answers.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import t from "tap";
import { freePort, ROOT } from "../helpers/app.js";
import { pgTestUrl } from "../helpers/pg.js";
import { logAudit } from "../../src/modules/tlog/cli.js";
import { loadKeyMaterial } from "../../src/pki/index.js";
import { makePdf } from "../../fixtures/pdf/make-pdf.js";
import { withSeal } from "../seals/helpers.js";
import { personLicence, world } from "../licences/helpers.js";

const MAIN = path.join(ROOT, "src/main.ts");
// Starting two server processes (each compiles TypeScript) and loading them takes minutes on a busy two-core machine.
t.setTimeout(600_000);

t.test("two server processes, one killed with SIGKILL under load: nothing acknowledged is lost, the log stays whole", async (t) => {
  const url = await pgTestUrl(t, "kill");
  if (!url) return void t.pass("skipped: no PostgreSQL (see the line above)");
  const w = await world(t, { SIDIAN_DB: url });
  const s = await withSeal(t, { h: w.h, name: "福州市行政审批局" });
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("SIDIAN_")) env[k] = v;
  Object.assign(env, {
    SIDIAN_MODE: "test", SIDIAN_DB: url, SIDIAN_KEYS_DIR: path.join(ROOT, "keys-dev"), SIDIAN_PUBLIC_URL: w.h.ctx.config.publicUrl,
    SIDIAN_HOST: "127.0.0.1", SIDIAN_LOG_LEVEL: "silent", SIDIAN_CHECKPOINT_INTERVAL: "1",
  });
  const procs = new Set<ChildProcess>();
  t.teardown(() => { for (const p of procs) p.kill("SIGKILL"); });
  const start = async (port: number): Promise<ChildProcess> => {
    const p = spawn(process.execPath, ["--import", "tsx", MAIN, "serve"], { cwd: ROOT, env: { ...env, SIDIAN_PORT: String(port) }, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    p.stderr!.on("data", (d) => void (err += String(d)));
    procs.add(p);
    p.on("exit", () => procs.delete(p));
    for (let i = 0; i < 600; i++) {
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200, () => false);
      if (ok) return p;
      if (p.exitCode !== null) throw new Error(`server on ${port} exited: ${err.slice(0, 500)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`server on ${port} did not get ready: ${err.slice(0, 500)}`);
  };
  const portA = await freePort();
  const portB = await freePort();
  let a = await start(portA);
  await start(portB);

  const licences = new Map<string, string>(); // identifier → who was told
  const byKey = new Map<string, Set<string>>();
  let stamped = 0;
  let n = 0;
  const auth = (tok: string) => ({ authorization: `Bearer ${tok}` });
  async function issueOn(port: number, key?: string, body?: object): Promise<void> {
    const b = body ?? personLicence(w, 30_000 + n++);
    const r = await fetch(`http://127.0.0.1:${port}/licences`, {
      method: "POST", headers: { ...auth(w.tokens.issuer), "content-type": "application/json", ...(key ? { "idempotency-key": key } : {}) }, body: JSON.stringify(b),
    });
    if (r.status !== 201 && r.status !== 200) return;
    const id = ((await r.json()) as { identifier: string }).identifier;
    licences.set(id, String(port));
    if (key) (byKey.get(key) ?? byKey.set(key, new Set()).get(key)!).add(id);
  }
  async function stampOn(port: number): Promise<void> {
    const r = await fetch(`http://127.0.0.1:${port}/seals/${s.sealId}/stamp?page=1&x=150&y=200`, { method: "POST", headers: { ...auth(s.issuer), "content-type": "application/pdf" }, body: makePdf() });
    if (r.status === 200) stamped++;
  }
  let stopA = false;
  let stopB = false;
  const workerOn = async (port: number, stop: () => boolean, k: number) => {
    for (let i = 0; !stop(); i++) {
      try {
        if (i % 4 === 3) await stampOn(port);
        else if (i % 4 === 1) {
          // The same key and body on both instances: one licence.
          const key = `kill-${k}-${i}`;
          const body = personLicence(w, 60_000 + k * 1000 + i);
          await Promise.all([issueOn(portA, key, body), issueOn(portB, key, body)]);
        } else await issueOn(port);
      } catch {
        // a connection refused or reset by the killed instance: not acknowledged
      }
    }
  };
  const workers = [0, 1, 2].map((k) => workerOn(portA, () => stopA, k)).concat([3, 4, 5].map((k) => workerOn(portB, () => stopB, k)));
  // Under load for a while, then A dies mid-request.
  while (licences.size < 40) await new Promise((r) => setTimeout(r, 100));
  a.kill("SIGKILL");
  await new Promise((r) => a.once("exit", r));
  const atKill = licences.size;
  stopA = true;
  while (licences.size < atKill + 30) await new Promise((r) => setTimeout(r, 100));
  t.pass(`B went on after A was killed (${licences.size - atKill} more licences)`);
  stopB = true;
  await Promise.all(workers);
  a = await start(portA);
  stopA = false;
  const again = [6, 7].map((k) => workerOn(portA, () => stopA, k));
  const t0 = licences.size;
  while (licences.size < t0 + 10) await new Promise((r) => setTimeout(r, 100));
  stopA = true;
  await Promise.all(again);
  t.ok(stamped > 0, `${stamped} PDFs stamped`);

  // ---- afterwards ----
  const rows = await w.h.sql.all<{ identifier: string; lineage: string; status_index: number; department_id: string; number_hash: Buffer | null }>(
    "SELECT identifier, lineage, status_index, department_id, number_hash FROM licences");
  const have = new Set(rows.map((r) => r.identifier));
  const lost = [...licences.keys()].filter((id) => !have.has(id));
  t.same(lost, [], `every acknowledged licence is stored (${licences.size} acknowledged, ${rows.length} stored)`);
  t.equal(new Set(rows.map((r) => r.lineage)).size, rows.length, "serials unique");
  t.equal(new Set(rows.map((r) => `${r.department_id}/${r.status_index}`)).size, rows.length, "status-list indexes unique per department");
  const numbers = rows.filter((r) => r.number_hash).map((r) => `${r.department_id}/${r.number_hash!.toString("hex")}`);
  t.equal(new Set(numbers).size, numbers.length, "licence numbers unique");
  const split = [...byKey].filter(([, ids]) => ids.size > 1);
  t.same(split, [], `one licence per shared Idempotency-Key (${byKey.size} keys)`);
  const stamps = Number(await w.h.sql.value("SELECT count(*) FROM stamps"));
  t.ok(stamps >= stamped, `every acknowledged stamp is stored (${stamped} acknowledged, ${stamps} stored)`);
  const size = Number(await w.h.sql.value("SELECT count(*) FROM tlog_leaves"));
  const top = Number(await w.h.sql.value("SELECT max(idx) FROM tlog_leaves"));
  t.equal(top, size - 1, `the log has no gap (${size} entries)`);
  const logged = Number(await w.h.sql.value("SELECT count(*) FROM tlog_leaves WHERE type = 'licence.issued'"));
  t.equal(logged, rows.length, "one log entry per stored licence");
  await w.h.ctx.tlog.checkpoint();
  const m = await loadKeyMaterial(w.h.ctx.config.keysDir, { publicOnly: true });
  const audit = await logAudit({ dbPath: url, publicKeyPem: m.log.publicKeyPem, previousPublicKeyPems: m.previous.log.map((l) => l.publicKeyPem), origin: w.h.ctx.config.logOrigin, json: false, out: { write: () => true } as unknown as NodeJS.WritableStream, err: null });
  t.ok(audit.ok, "log audit passes");
});
