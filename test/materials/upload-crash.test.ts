/**
 * kill -9 during an upload (issue 18): a real server in a child process is killed while a large material streams in
 * (and, second case, right after its last byte, while it may be committing). Afterwards the store holds no row, no
 * chunk and no log entry of a material that did not commit (or all of them, for one that did), and the staging
 * directory holds no file. On both stores (SIDIAN_TEST_STORE=pg).
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import t from "tap";
import { createContext } from "../../src/context.js";
import { ROOT, tempDir, testConfig } from "../helpers/app.js";
import { HOLDER } from "./helpers.js";

function startChild(t: Tap.Test, db: string, tmp: string): Promise<{ p: ChildProcess; url: string; token: string; logSize: number }> {
  const child = path.join(ROOT, "test/materials/upload-child.ts");
  const p = spawn(process.execPath, ["--import", "tsx", child, db, ROOT], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, TMPDIR: tmp } });
  t.teardown(() => void p.kill("SIGKILL"));
  return new Promise((resolve, reject) => {
    let out = "";
    p.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /READY (\S+) (\S+) (\d+)/.exec(out);
      if (m) resolve({ p, url: m[1]!, token: m[2]!, logSize: Number(m[3]) });
    });
    p.on("exit", (code) => reject(new Error(`child exited ${code}: ${out}`)));
  });
}

async function upload(url: string, token: string, total: number, onSent: (sent: number, req: http.ClientRequest) => void): Promise<void> {
  const meta = Buffer.from(JSON.stringify({ typeCode: "BIG", holder: { code: HOLDER, codeType: "111" }, matterCode: "M-K" })).toString("base64url");
  await new Promise<void>((resolve) => {
    const req = http.request(`${url}/materials`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/pdf", "x-material-meta": meta, "content-length": String(total) } });
    req.on("error", () => resolve());
    req.on("response", (res) => { res.resume(); res.on("end", () => resolve()); res.on("error", () => resolve()); });
    const head = Buffer.from("%PDF-1.4\n");
    const tail = Buffer.from("\n%%EOF\n");
    const chunk = Buffer.alloc(256 * 1024, 0x41);
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        const n = Math.min(chunk.length, total - sent);
        let piece = chunk.subarray(0, n);
        if (sent === 0) piece = Buffer.concat([head, chunk.subarray(head.length, n)]);
        if (sent + n === total) piece = Buffer.concat([piece.subarray(0, n - tail.length), tail]);
        sent += n;
        const more = req.write(piece);
        onSent(sent, req);
        if (sent === total) return req.end();
        if (!more) return void req.once("drain", pump);
      }
    };
    pump();
  });
}

/** Staged uploads in the child's TMPDIR (other programs, tsx's cache, put theirs there too). */
const staging = (dir: string) => fs.readdirSync(dir).filter((n) => n.startsWith("sidian-material-"));

async function inspect(t: Tap.Test, db: string) {
  const ctx = await createContext(testConfig(t, { SIDIAN_DB: db }), { autoCheckpoint: false, autoExpire: false });
  try {
    return {
      rows: Number(await ctx.store.sql.value("SELECT count(*) AS n FROM materials")),
      chunks: Number(await ctx.store.sql.value("SELECT count(*) AS n FROM material_chunks")),
      log: await ctx.tlog.size(),
    };
  } finally {
    await ctx.close();
  }
}

type Tap = { Test: import("tap").Test };
declare namespace Tap { type Test = import("tap").Test }

t.test("killed mid-upload: no row, no chunk, no log entry, no staged file", async (t) => {
  const dir = tempDir(t);
  const tmp = fs.mkdtempSync(path.join(dir, "stage-"));
  const db = testConfig(t).dbPath;
  const c = await startChild(t, db, tmp);
  let killed = false;
  let staged = -1;
  let open: string[] = [];
  await upload(c.url, c.token, 30 * 1024 * 1024, (sent) => {
    if (!killed && sent >= 12 * 1024 * 1024) {
      killed = true;
      staged = staging(tmp).length;
      // The child holds the staged upload open, without a name (Linux: /proc/<pid>/fd → "… (deleted)").
      try {
        open = fs.readdirSync(`/proc/${c.p.pid}/fd`).map((fd) => { try { return fs.readlinkSync(`/proc/${c.p.pid}/fd/${fd}`); } catch { return ""; } }).filter((l) => l.includes("sidian-material-"));
      } catch { /* not Linux */ }
      c.p.kill("SIGKILL");
    }
  });
  await new Promise((r) => (c.p.exitCode !== null || c.p.signalCode !== null ? r(null) : c.p.once("exit", r)));
  t.equal(staged, 0, "the staging file has no name even while the upload runs");
  if (fs.existsSync("/proc/self/fd")) t.ok(open.length === 1 && open[0]!.endsWith("(deleted)") && open[0]!.startsWith(tmp), `the child was staging the upload in an unlinked file (${open.join(", ")})`);
  t.same(staging(tmp), [], "nothing left in the staging directory");
  t.same(await inspect(t, db), { rows: 0, chunks: 0, log: c.logSize }, "no row, no chunk, no log entry");
});

t.test("killed right after the last byte: all or nothing", async (t) => {
  const dir = tempDir(t);
  const tmp = fs.mkdtempSync(path.join(dir, "stage-"));
  const db = testConfig(t).dbPath;
  const c = await startChild(t, db, tmp);
  const total = 20 * 1024 * 1024;
  await upload(c.url, c.token, total, (sent) => {
    if (sent === total) setImmediate(() => c.p.kill("SIGKILL"));
  });
  await new Promise((r) => (c.p.exitCode !== null || c.p.signalCode !== null ? r(null) : c.p.once("exit", r)));
  t.same(staging(tmp), [], "nothing left in the staging directory");
  const s = await inspect(t, db);
  if (s.rows === 0) t.same(s, { rows: 0, chunks: 0, log: c.logSize }, "killed before the commit: nothing");
  else t.same(s, { rows: 1, chunks: 21, log: c.logSize + 1 }, "killed after the commit: the row, every chunk and its log entry");
});
