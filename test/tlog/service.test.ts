import t from "tap";
import { AppError } from "../../src/errors.js";
import type { Actor } from "../../src/modules/kernel.js";
import { EMPTY_ROOT, leafHash, nodeHash, verifyConsistency, verifyInclusion } from "../../src/modules/tlog/merkle.js";
import { verifyCheckpoint, verifyLogEvidence, verifyCheckpointConsistency } from "../../src/modules/tlog/index.js";
import { ev, fill, makeEnv, ORIGIN } from "./helpers.js";

const b = (s: string) => Buffer.from(s, "base64");

function naiveRoot(hashes: Buffer[]): Buffer {
  if (hashes.length === 0) return Buffer.from(EMPTY_ROOT);
  if (hashes.length === 1) return hashes[0]!;
  let k = 1;
  while (k * 2 < hashes.length) k *= 2;
  return nodeHash(naiveRoot(hashes.slice(0, k)), naiveRoot(hashes.slice(k)));
}

t.test("append inside the caller's transaction returns contiguous indexes after commit", async (t) => {
  const env = makeEnv();
  t.teardown(env.close);
  const r1 = await env.uow.write((repos, tx) => env.tlog.append(repos, tx, ev(0)));
  const r2 = await env.uow.write((repos, tx) => env.tlog.appendMany(repos, tx, [ev(1), ev(2)]));
  t.equal(r1.index, 0);
  t.same(r2.map((r) => r.index), [1, 2]);
  const e = await env.tlog.getEntry(1);
  t.equal(e.leafHash, r2[0]!.leafHash);
  t.ok(leafHash(Buffer.from(e.leaf, "utf8")).equals(b(e.leafHash)), "leaf hash = SHA-256(0x00 ‖ canonical JSON)");
  t.same(e.event, { v: 1, type: "test.appended", at: "2026-01-01T00:00:00.000Z", subject: "thing:1", actor: "system:test", data: { n: 1 } });
  t.equal(e.leaf, '{"actor":"system:test","at":"2026-01-01T00:00:00.000Z","data":{"n":1},"subject":"thing:1","type":"test.appended","v":1}', "canonical JSON leaf");
  t.equal(await env.tlog.size(), 3);
});

t.test("a rolled-back transaction leaves no entry and does not move the in-memory tree", async (t) => {
  const env = makeEnv();
  t.teardown(env.close);
  await fill(env, 5);
  await t.rejects(
    env.uow.write(async (repos, tx) => {
      await env.tlog.appendMany(repos, tx, [ev(100), ev(101), ev(102)]);
      throw new Error("the recorded change failed");
    }),
    /recorded change failed/,
  );
  t.equal(await env.tlog.size(), 5, "nothing stored");
  const r = await env.uow.write((repos, tx) => env.tlog.append(repos, tx, ev(5)));
  t.equal(r.index, 5, "the next append reuses the index");
  const cp = await env.tlog.checkpoint();
  const leaves: Buffer[] = [];
  for (let i = 0; i < 6; i++) leaves.push(b((await env.tlog.getEntry(i)).leafHash));
  t.ok(b(cp.root).equals(naiveRoot(leaves)), "checkpoint root = root of the stored leaves");
});

t.test("concurrent writers are serialised; appends in one transaction do not interleave", async (t) => {
  const env = makeEnv();
  t.teardown(env.close);
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      env.uow.write(async (repos, tx) => {
        const [a, c] = await Promise.all([env.tlog.append(repos, tx, ev(i * 2)), env.tlog.append(repos, tx, ev(i * 2 + 1))]);
        return [a.index, c.index];
      }),
    ),
  );
  t.same(results.flat().sort((x, y) => x - y), Array.from({ length: 40 }, (_, i) => i), "40 distinct contiguous indexes");
  const cp = await env.tlog.checkpoint();
  const leaves: Buffer[] = [];
  for (let i = 0; i < 40; i++) leaves.push(b((await env.tlog.getEntry(i)).leafHash));
  t.ok(b(cp.root).equals(naiveRoot(leaves)));
});

t.test("another writer on the same database: the engine notices and reloads its tree edge", async (t) => {
  const env = makeEnv();
  t.teardown(env.close);
  await fill(env, 3);
  const { createTlog } = await import("../../src/modules/tlog/index.js");
  const { silentLogger } = await import("../../src/modules/kernel.js");
  const second = createTlog({ uow: env.uow, clock: env.clock, signer: env.signer, checkpointIntervalSeconds: 10, checkpointMaxEntries: 1000, log: silentLogger, autoCheckpoint: false });
  await env.uow.write((repos, tx) => second.appendMany(repos, tx, [ev(3), ev(4)]));
  await second.close();
  const r = await env.uow.write((repos, tx) => env.tlog.append(repos, tx, ev(5)));
  t.equal(r.index, 5);
  const leaves: Buffer[] = [];
  for (let i = 0; i < 6; i++) leaves.push(b((await env.tlog.getEntry(i)).leafHash));
  t.ok(b((await env.tlog.checkpoint()).root).equals(naiveRoot(leaves)));
});

t.test("stored proofs for every size 1..64 verify and match the naive tree", async (t) => {
  const env = makeEnv();
  t.teardown(env.close);
  const leaves: Buffer[] = [];
  const roots: Buffer[] = [];
  for (let n = 1; n <= 64; n++) {
    const [r] = await env.uow.write((repos, tx) => env.tlog.appendMany(repos, tx, [ev(n - 1)]));
    leaves.push(b(r!.leafHash));
    roots.push(naiveRoot(leaves));
  }
  for (let n = 1; n <= 64; n++) {
    const bad: string[] = [];
    for (let i = 0; i < n; i++) {
      const p = await env.tlog.inclusionProof({ index: i, treeSize: n });
      if (!verifyInclusion(i, n, leaves[i]!, p.hashes.map(b), roots[n - 1]!)) bad.push(`inclusion ${i}`);
    }
    for (let m = 0; m <= n; m++) {
      const p = await env.tlog.consistencyProof(m, n);
      if (!verifyConsistency(m, n, p.hashes.map(b), m === 0 ? Buffer.from(EMPTY_ROOT) : roots[m - 1]!, roots[n - 1]!)) bad.push(`consistency ${m}`);
    }
    t.same(bad, [], `size ${n}`);
  }
  const byHash = await env.tlog.inclusionProof({ leafHash: leaves[17]!.toString("base64"), treeSize: 40 });
  t.equal(byHash.index, 17, "proof by leaf hash");
});

t.test("range errors use the documented codes", async (t) => {
  const env = makeEnv();
  t.teardown(env.close);
  await t.rejects(env.tlog.latestCheckpoint(), { code: "LOG_CHECKPOINT_NOT_FOUND" });
  await fill(env, 10);
  await t.rejects(env.tlog.getEntry(10), { code: "LOG_ENTRY_NOT_FOUND" });
  await t.rejects(env.tlog.getEntry(-1), { code: "LOG_RANGE_INVALID" });
  await t.rejects(env.tlog.inclusionProof({ index: 10, treeSize: 10 }), { code: "LOG_RANGE_INVALID" });
  await t.rejects(env.tlog.inclusionProof({ index: 1, treeSize: 11 }), { code: "LOG_RANGE_INVALID" });
  await t.rejects(env.tlog.inclusionProof({ leafHash: Buffer.alloc(32).toString("base64") }), { code: "LOG_ENTRY_NOT_FOUND" });
  await t.rejects(env.tlog.consistencyProof(5, 11), { code: "LOG_RANGE_INVALID" });
  await t.rejects(env.tlog.consistencyProof(6, 5), { code: "LOG_RANGE_INVALID" });
  await t.rejects(env.tlog.checkpointAt(3), { code: "LOG_CHECKPOINT_NOT_FOUND" });
  const e = await env.tlog.getEntry(99).catch((x: unknown) => x);
  t.ok(e instanceof AppError, "AppError");
});

t.test("checkpoint policy: every M entries, every N seconds, and on demand", async (t) => {
  const env = makeEnv({ interval: 10, maxEntries: 50 });
  t.teardown(env.close);
  await fill(env, 10);
  const first = await env.tlog.maybeCheckpoint();
  t.equal(first?.size, 10, "first checkpoint is due at once (none yet)");
  await fill(env, 20, 10, 10);
  t.equal(await env.tlog.maybeCheckpoint(), null, "20 new entries, 0 s elapsed: not due");
  env.clock.advance(9_000);
  t.equal(await env.tlog.maybeCheckpoint(), null, "9 s: not due");
  env.clock.advance(1_000);
  t.equal((await env.tlog.maybeCheckpoint())?.size, 30, "10 s: due");
  await fill(env, 50, 25, 30);
  t.equal((await env.tlog.maybeCheckpoint())?.size, 80, "50 entries: due without waiting");
  t.equal(await env.tlog.maybeCheckpoint(), null, "nothing new");
  await fill(env, 1, 1, 80);
  const now = await env.tlog.checkpoint();
  t.equal(now.size, 81, "on demand");
  const again = await env.tlog.checkpoint();
  t.equal(again.size, 81, "on demand with nothing new returns the latest");
  const cp = verifyCheckpoint(now.note, env.tlog.verifier, { origin: ORIGIN });
  t.equal(cp.size, 81);
  const c = await env.tlog.consistencyProof(30, 81);
  const older = await env.tlog.checkpointAt(30);
  t.equal(verifyCheckpointConsistency(older.note, now.note, c, { logKey: env.tlog.publicKey().vkey, origin: ORIGIN }).result, "VALID", "published checkpoints are consistent");
});

t.test("automatic checkpoints after commit (real timers)", async (t) => {
  const env = makeEnv({ interval: 1, maxEntries: 5, auto: true });
  t.teardown(env.close);
  await fill(env, 5, 5);
  await new Promise((r) => setTimeout(r, 50));
  t.equal((await env.tlog.latestCheckpoint()).size, 5, "M entries → checkpoint right after the commit");
});

t.test("evidence travels with a verdict and verifies offline", async (t) => {
  const env = makeEnv();
  t.teardown(env.close);
  await fill(env, 37);
  const evd = await env.tlog.evidence(21, { includeLeaf: true });
  t.equal(evd.treeSize, 37, "a checkpoint was published on demand to cover the entry");
  const vkey = env.tlog.publicKey().vkey;
  const ok = verifyLogEvidence(JSON.parse(JSON.stringify(evd)), { logKey: vkey, origin: ORIGIN, leaf: evd.leaf! });
  t.equal(ok.result, "VALID", JSON.stringify(ok.checks));
  t.same(ok.checks.map((c) => c.id), ["tlog.checkpoint", "tlog.leaf", "tlog.inclusion"]);
  t.equal(verifyLogEvidence({ ...evd, logIndex: 22 }, { logKey: vkey }).result, "INVALID", "another index");
  t.equal(verifyLogEvidence(evd, { logKey: vkey, leaf: evd.leaf!.replace("thing:21", "thing:22") }).result, "INVALID", "another leaf");
  t.equal(verifyLogEvidence({ ...evd, checkpoint: evd.checkpoint.replace("\n37\n", "\n38\n") }, { logKey: vkey }).result, "INVALID", "edited checkpoint");
  const other = makeEnv();
  t.teardown(other.close);
  t.equal(verifyLogEvidence(evd, { logKey: other.tlog.publicKey().vkey }).result, "INVALID", "another log's key");
  t.equal(verifyLogEvidence(evd, { logKey: "garbage" }).result, "INDETERMINATE", "unusable key");
  // Later evidence for an older entry reuses the smallest covering checkpoint.
  await fill(env, 5, 5, 37);
  t.equal((await env.tlog.evidence(3)).treeSize, 37);
});

t.test("entries naming a holder are redacted for unentitled callers", async (t) => {
  const env = makeEnv();
  t.teardown(env.close);
  await env.uow.write((repos, tx) =>
    env.tlog.appendMany(repos, tx, [
      { type: "licence.issued", subject: "licence:abc", actor: "client:issuer-1", data: { sha256: "00".repeat(32) }, holder: "h".repeat(64) },
      { type: "department.created", subject: "department:d1", actor: "client:admin", data: { regionCode: "110000" } },
    ]),
  );
  const holderEntry = await env.tlog.getEntry(0);
  const plain = await env.tlog.getEntry(1);
  const anon: Actor = { kind: "anonymous" };
  const admin: Actor = { kind: "client", clientId: "a", role: "admin", departmentId: null, matters: [], scopes: [] };
  const issuer: Actor = { kind: "client", clientId: "i", role: "issuer", departmentId: "d1", matters: [], scopes: [] };
  const holder: Actor = { kind: "holder", subjectHash: "h".repeat(64), codeType: "111", scopes: [] };
  const otherHolder: Actor = { kind: "holder", subjectHash: "g".repeat(64), codeType: "111", scopes: [] };
  t.same(env.tlog.redact(holderEntry, env.tlog.isEntitled(anon, holderEntry.event)), {
    index: 0, leafHash: holderEntry.leafHash, redacted: true, event: { type: "licence.issued", at: holderEntry.event.at },
  }, "anonymous sees type and time only");
  t.notOk(env.tlog.isEntitled(issuer, holderEntry.event), "issuer client not entitled by default");
  t.notOk(env.tlog.isEntitled(otherHolder, holderEntry.event), "another holder not entitled");
  t.ok(env.tlog.isEntitled(holder, holderEntry.event), "the holder is entitled");
  t.ok(env.tlog.isEntitled(admin, holderEntry.event), "admin is entitled");
  t.same(env.tlog.redact(plain, env.tlog.isEntitled(anon, plain.event)), plain, "entries that name no holder are public");
});

t.test("malformed events are refused before anything is written", async (t) => {
  const env = makeEnv();
  t.teardown(env.close);
  await t.rejects(env.uow.write((repos, tx) => env.tlog.append(repos, tx, { ...ev(0), type: "NoDot" })), TypeError);
  await t.rejects(env.uow.write((repos, tx) => env.tlog.append(repos, tx, { ...ev(0), subject: "" })), TypeError);
  await t.rejects(env.uow.write((repos, tx) => env.tlog.append(repos, tx, { ...ev(0), data: { x: NaN } })), /non-finite/);
  t.equal(await env.tlog.size(), 0);
  t.equal((await env.uow.write((repos, tx) => env.tlog.append(repos, tx, ev(0)))).index, 0);
});
