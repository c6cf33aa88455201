/**
 * Crash consistency: a child process records things and their log entries in the same transactions and is
 * killed with SIGKILL, once inside an open transaction and several times at random moments. After each restart
 * the log and the data MUST agree exactly, every acknowledged commit MUST be there, the audit MUST pass, and
 * appending MUST continue at the right index.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import t, { type Test } from "tap";
import { openSqlite } from "../../src/storage/db.js";
import { createTlogAuditSource } from "../../src/storage/repos/tlog.js";
import { auditLog } from "../../src/modules/tlog/audit.js";
import type { NoteVerifier } from "../../src/modules/tlog/checkpoint.js";
import { fill, makeEnv, newSigner, tmpDb } from "./helpers.js";

const child = fileURLToPath(new URL("./crash-child.ts", import.meta.url));

/** Runs the child until `until(line)` says kill; returns the last acknowledged size. */
function runAndKill(file: string, keyFile: string, mode: "pause-mid" | "run", until: (line: string, acked: number) => boolean): Promise<{ acked: number; sawMid: boolean }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ["--import", "tsx", child, file, mode, keyFile], { stdio: ["ignore", "pipe", "inherit"] });
    let acked = 0;
    let sawMid = false;
    let killed = false;
    const rl = readline.createInterface({ input: p.stdout! });
    rl.on("line", (line) => {
      if (line.startsWith("COMMITTED ")) acked = Number(line.slice(10));
      if (line === "MID") sawMid = true;
      if (!killed && until(line, acked)) {
        killed = true;
        p.kill("SIGKILL");
      }
    });
    p.on("exit", (code, signal) => {
      if (signal === "SIGKILL") resolve({ acked, sawMid });
      else reject(new Error(`child exited with ${code ?? signal}`));
    });
  });
}

/** Checks that data and log agree; returns the log size. */
async function checkAgreement(t: Test, file: string, verifier: NoteVerifier, minSize: number): Promise<number> {
  const h = openSqlite(file, { sync: "normal" });
  try {
    const size = (h.reader.prepare("SELECT count(*) FROM tlog_leaves").pluck().get() as number);
    const things = h.reader.prepare("SELECT id, payload, log_index FROM demo_things ORDER BY log_index").all() as Array<{ id: number; payload: string; log_index: number }>;
    t.ok(size >= minSize, `every acknowledged commit survived (${size} ≥ ${minSize})`);
    t.equal(size % 50, 0, "no partial batch in the log");
    t.equal(things.length, size, "as many things as log entries");
    const leaves = h.reader.prepare("SELECT idx, data FROM tlog_leaves ORDER BY idx").all() as Array<{ idx: number; data: string }>;
    const mismatches: number[] = [];
    for (let i = 0; i < size; i++) {
      const th = things[i]!;
      const ev = JSON.parse(leaves[i]!.data) as { subject: string; data: { sha256: string } };
      const want = createHash("sha256").update(th.payload).digest("hex");
      if (th.log_index !== i || leaves[i]!.idx !== i || ev.subject !== `thing:${th.id}` || ev.data.sha256 !== want) mismatches.push(i);
    }
    t.same(mismatches, [], "each thing is recorded by the entry at its log index, with its hash");
    const report = await auditLog(createTlogAuditSource(h.reader), { verifier, origin: "crash.test/log" });
    t.same(report.problems, [], "audit: leaves, nodes, every checkpoint and their consistency");
    t.equal(report.leaves, size);
    return size;
  } finally {
    h.close();
  }
}

t.test("SIGKILL inside an open transaction, then at random moments: log and data always agree", async (t) => {
  const tmp = tmpDb("crash");
  t.teardown(tmp.cleanup);
  const signer = newSigner("crash.test/log");
  const keyFile = path.join(tmp.dir, "log-key.pem");
  fs.writeFileSync(keyFile, signer.privateKey.export({ format: "pem", type: "pkcs8" }));
  // The parent only needs the public key; makeEnv below signs with the same key.
  const verifierEnv = makeEnv({ signer });
  const verifier = verifierEnv.tlog.verifier;
  await verifierEnv.close();

  // 1. Killed while a batch is half appended (transaction open, nothing committed for that batch).
  const r1 = await runAndKill(tmp.file, keyFile, "pause-mid", (line) => line === "MID");
  t.ok(r1.sawMid, "killed in the middle of a batch");
  const size1 = await checkAgreement(t, tmp.file, verifier, r1.acked);
  t.equal(size1, 200, "exactly the 4 committed batches (the 5th was in flight)");

  // 2. Killed at random moments while committing continuously; each restart continues the same log.
  let last = size1;
  for (let run = 0; run < 3; run++) {
    const target = 5 + Math.floor(Math.random() * 30);
    let commits = 0;
    const r = await runAndKill(tmp.file, keyFile, "run", (line) => line.startsWith("COMMITTED ") && ++commits >= target);
    const size = await checkAgreement(t, tmp.file, verifier, r.acked);
    t.ok(size > last, `run ${run + 1}: the restarted writer continued the log (${last} → ${size})`);
    last = size;
  }

  // 3. A fresh engine on the crashed database continues at the right index and its checkpoint covers everything.
  const env = makeEnv({ file: tmp.file, signer });
  t.teardown(env.close);
  await fill(env, 7, 7, 0);
  t.equal(await env.tlog.size(), last + 7);
  const cp = await env.tlog.checkpoint();
  const report = await auditLog(createTlogAuditSource(env.h.reader), { verifier: env.tlog.verifier });
  t.same(report.problems, [], "audit passes after the restarts");
  t.ok(report.checkpoints > 1 && report.consistencyChecks > 0, `the children's checkpoints were audited too (${report.checkpoints})`);
  t.equal(report.root, cp.root, "recomputed root = new checkpoint");
});
