import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { createTlogAuditSource, nodeKey } from "../../src/storage/repos/tlog.js";
import { auditLog } from "../../src/modules/tlog/audit.js";
import { logAudit, logVerifyProof } from "../../src/modules/tlog/cli.js";
import { signCheckpoint, createNoteSigner } from "../../src/modules/tlog/checkpoint.js";
import { leafHash, nodeHash } from "../../src/modules/tlog/merkle.js";
import { fill, makeEnv, ORIGIN, type Env } from "./helpers.js";

/** A log of 300 entries with checkpoints at 64, 100, 200 and 300. */
async function build(): Promise<Env> {
  const env = makeEnv();
  for (const n of [64, 36, 100, 100]) {
    await fill(env, n, 25, await env.tlog.size());
    await env.tlog.checkpoint();
  }
  return env;
}

const audit = (env: Env) => auditLog(createTlogAuditSource(env.h.reader), { verifier: env.tlog.verifier, origin: ORIGIN });
const sink = () => {
  let s = "";
  return { write: (x: string) => void (s += x), get text() { return s; } };
};

t.test("a clean log passes the audit", async (t) => {
  const env = await build();
  t.teardown(env.close);
  const progress: number[] = [];
  const r = await auditLog(createTlogAuditSource(env.h.reader), { verifier: env.tlog.verifier, origin: ORIGIN, onProgress: (d) => progress.push(d) });
  t.same(r.problems, []);
  t.ok(r.ok);
  t.equal(r.leaves, 300);
  t.equal(r.checkpoints, 4);
  t.equal(r.consistencyChecks, 3);
  t.equal(r.nodes, 300 - 4, "every internal node compared (n − popcount(n))");
  t.equal(r.root, (await env.tlog.latestCheckpoint()).root);
  t.equal(progress.at(-1), 300, "progress reported");
});

t.test("a changed leaf is detected", async (t) => {
  const env = await build();
  t.teardown(env.close);
  env.h.writer.prepare("UPDATE tlog_leaves SET data = replace(data, 'thing:150', 'thing:999') WHERE idx = 150").run();
  const r = await audit(env);
  t.notOk(r.ok);
  t.match(r.problems, [{ kind: "leaf-hash", detail: /leaf 150/ }]);

  // Re-hashing the changed leaf too only moves the break to the tree: nodes and checkpoints disagree.
  const row = env.h.writer.prepare("SELECT data FROM tlog_leaves WHERE idx = 150").get() as { data: string };
  env.h.writer.prepare("UPDATE tlog_leaves SET leaf_hash = ? WHERE idx = 150").run(leafHash(Buffer.from(row.data)));
  const r2 = await audit(env);
  t.notOk(r2.ok);
  t.ok(r2.problems.some((p) => p.kind === "node-mismatch"), "stored node no longer matches");
  t.ok(r2.problems.some((p) => p.kind === "checkpoint-root" && /checkpoint 200/.test(p.detail)), "checkpoint 200 no longer matches");
  t.notOk(r2.problems.some((p) => /checkpoint 100:/.test(p.detail)), "checkpoint 100 (before the change) still matches");
});

t.test("a deleted leaf is detected", async (t) => {
  const env = await build();
  t.teardown(env.close);
  env.h.writer.prepare("DELETE FROM tlog_leaves WHERE idx = 77").run();
  const r = await audit(env);
  t.notOk(r.ok);
  t.match(r.problems[0], { kind: "leaf-gap", detail: /77\.\.77/ });
  t.ok(r.problems.some((p) => p.kind === "checkpoint-root" && /checkpoint 100/.test(p.detail)));

  // Deleting the last leaf: no gap, but the latest checkpoint is then beyond the log.
  const env2 = await build();
  t.teardown(env2.close);
  env2.h.writer.prepare("DELETE FROM tlog_leaves WHERE idx = 299").run();
  const r2 = await audit(env2);
  t.match(r2.problems, [{ kind: "checkpoint-beyond-log", detail: /checkpoint 300/ }]);
});

t.test("a tampered stored node is detected (proofs would be wrong)", async (t) => {
  const env = await build();
  t.teardown(env.close);
  env.h.writer.prepare("UPDATE tlog_nodes SET hash = ? WHERE id = ?").run(Buffer.alloc(32, 7), nodeKey(3, 5));
  const r = await audit(env);
  t.match(r.problems, [{ kind: "node-mismatch", detail: /level 3, index 5/ }]);
  env.h.writer.prepare("DELETE FROM tlog_nodes WHERE id = ?").run(nodeKey(2, 1));
  const r2 = await audit(env);
  t.ok(r2.problems.some((p) => p.kind === "node-missing" && /level 2, index 1\b/.test(p.detail)));
});

t.test("a forked checkpoint (validly signed, other tree) is detected", async (t) => {
  const env = await build();
  t.teardown(env.close);
  // The log key signs a tree of size 250 whose leaf 10 differs: a split view.
  const hashes: Buffer[] = [];
  for (let i = 0; i < 250; i++) hashes.push(leafHash(Buffer.from(i === 10 ? "forked" : (env.h.reader.prepare("SELECT data FROM tlog_leaves WHERE idx = ?").pluck().get(i) as string))));
  const mth = (d: Buffer[]): Buffer => {
    if (d.length === 1) return d[0]!;
    let k = 1;
    while (k * 2 < d.length) k *= 2;
    return nodeHash(mth(d.slice(0, k)), mth(d.slice(k)));
  };
  const forkRoot = mth(hashes);
  const note = signCheckpoint({ origin: ORIGIN, size: 250, root: forkRoot }, createNoteSigner(env.signer.name, env.signer.privateKey));
  env.h.writer.prepare("INSERT INTO tlog_checkpoints (size, root, note, created_at) VALUES (?, ?, ?, ?)").run(250, forkRoot, note, Date.now());
  const r = await audit(env);
  t.notOk(r.ok);
  t.ok(r.problems.some((p) => p.kind === "checkpoint-root" && /checkpoint 250/.test(p.detail)), "root differs from the leaves");
  t.ok(r.problems.some((p) => p.kind === "checkpoint-inconsistent" && /200 → 250/.test(p.detail)), "not consistent with the previous checkpoint");
  t.ok(r.problems.some((p) => p.kind === "checkpoint-inconsistent" && /250 → 300/.test(p.detail)), "nor with the next");

  // A checkpoint signed by another key is reported as such.
  const env2 = await build();
  t.teardown(env2.close);
  const stranger = makeEnv();
  t.teardown(stranger.close);
  const fake = signCheckpoint({ origin: ORIGIN, size: 150, root: forkRoot }, createNoteSigner(ORIGIN, stranger.signer.privateKey));
  env2.h.writer.prepare("INSERT INTO tlog_checkpoints (size, root, note, created_at) VALUES (?, ?, ?, ?)").run(150, forkRoot, fake, Date.now());
  t.match((await audit(env2)).problems, [{ kind: "checkpoint-signature", detail: /checkpoint 150/ }]);
});

t.test("CLI: sidian log audit and sidian log verify-proof", async (t) => {
  const env = await build();
  t.teardown(env.close);
  const { vkey, publicKeyPem } = env.tlog.publicKey();
  const out = sink();
  const r = await logAudit({ dbPath: env.file, vkey, origin: ORIGIN, out, err: null });
  t.ok(r.ok);
  t.match(out.text, /^OK: 300 leaves, 296 nodes, 4 checkpoints, 3 consistency checks/);
  const out2 = sink();
  const r2 = await logAudit({ dbPath: env.file, publicKeyPem, out: out2, err: null, json: true });
  t.ok(r2.ok, "PEM key: name taken from the checkpoints");
  t.equal(JSON.parse(out2.text).leaves, 300);

  const evidence = await env.tlog.evidence(123, { includeLeaf: true });
  const file = path.join(path.dirname(env.file), "proof.json");
  fs.writeFileSync(file, JSON.stringify(evidence));
  const out3 = sink();
  t.equal((await logVerifyProof({ proofFile: file, vkey, origin: ORIGIN, out: out3 })).result, "VALID", out3.text);
  t.match(out3.text, /VALID\s+tlog.inclusion: entry 123 is in the tree of size 200/);
  // Against the newer checkpoint, this (size-200) proof does not apply.
  const latest = await env.tlog.latestCheckpoint();
  t.equal((await logVerifyProof({ json: evidence, checkpoint: latest.note, vkey, out: sink() })).result, "INVALID");
  // With a fresh proof for the latest size it does.
  const p = await env.tlog.inclusionProof({ index: 123, treeSize: latest.size });
  const bundle = { logIndex: 123, leafHash: p.leafHash, treeSize: p.treeSize, hashes: p.hashes };
  t.equal((await logVerifyProof({ json: JSON.stringify(bundle), checkpoint: latest.note, vkey, out: sink() })).result, "VALID");
  const hacked = { ...bundle, hashes: [...bundle.hashes.slice(1), bundle.hashes[0]!] };
  t.equal((await logVerifyProof({ json: hacked, checkpoint: latest.note, vkey, out: sink() })).result, "INVALID", "reordered proof");
  t.equal((await logVerifyProof({ proofFile: file + ".missing", vkey, out: sink() })).result, "INDETERMINATE");

  env.h.writer.prepare("DELETE FROM tlog_leaves WHERE idx = 5").run();
  const out4 = sink();
  t.notOk((await logAudit({ dbPath: env.file, vkey, out: out4, err: null })).ok);
  t.match(out4.text, /^FAILED/);
});
