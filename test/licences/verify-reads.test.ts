/**
 * What a first verification reads (issue 16, performance): the record, its log leaf and the smallest checkpoint
 * covering it in one statement (LicenceRepo.byIdWithLog, on both stores), then the inclusion proof's nodes in one
 * more; and on PostgreSQL concurrent verifications share those statements (storage/batch.ts) while every verdict
 * still carries its own licence's evidence. Before this change a first verification took six statements one after
 * another on PostgreSQL (the record, the leaf, the checkpoint, the tree size, the leaf hash, the nodes).
 */
import t from "tap";
import { verifyLogEvidence } from "../../src/modules/tlog/index.js";
import { pgTestUrl } from "../helpers/pg.js";
import { bearer, issued, personLicence, world, type World } from "./helpers.js";

async function importMany(w: World, from: number, n: number): Promise<Array<{ identifier: string; logIndex: number }>> {
  const lines = Array.from({ length: n }, (_, i) => JSON.stringify(personLicence(w, from + i, { number: `VR${from + i}` })));
  const r = await w.h.app.inject({ method: "POST", url: "/licences:batch", headers: { ...bearer(w.tokens.issuer), "content-type": "application/x-ndjson" }, payload: lines.join("\n") });
  if (r.statusCode !== 200) throw new Error(`batch: ${r.statusCode} ${r.body}`);
  const ids = (r.json().results as Array<{ identifier?: string }>).map((x) => x.identifier!);
  return Promise.all(ids.map(async (identifier) => ({ identifier, logIndex: (await w.h.ctx.uow.read.licences.byId(identifier))!.logIndex })));
}

t.test("byIdWithLog: the record, its leaf and the smallest checkpoint covering it, in one read", async (t) => {
  const w = await world(t);
  const read = w.h.ctx.uow.read;
  const a = await issued(w, personLicence(w, 401));
  const first = await read.licences.byIdWithLog(a.identifier);
  t.ok(first, "found");
  t.same(first!.rec, await read.licences.byId(a.identifier), "the record is the one byId reads");
  t.same(first!.leaf, await read.tlog.getLeaf(a.logIndex), "the leaf at its log index");
  t.equal(await read.tlog.checkpointAtLeast(a.logIndex + 1), undefined, "no checkpoint covers it yet");
  t.equal(first!.checkpoint, undefined, "so none comes with it");

  await w.h.ctx.tlog.checkpoint();
  const cp1 = await read.tlog.checkpointAtLeast(a.logIndex + 1);
  t.ok(cp1, "a checkpoint now covers it");
  const b = await issued(w, personLicence(w, 402));
  await w.h.ctx.tlog.checkpoint();
  const cp2 = await read.tlog.checkpointAtLeast(b.logIndex + 1);
  t.ok(cp2 && cp2.size > cp1!.size, "a later checkpoint covers the second");
  t.same((await read.licences.byIdWithLog(a.identifier))!.checkpoint, cp1, "the smallest covering checkpoint, not the latest");
  t.same((await read.licences.byIdWithLog(b.identifier))!.checkpoint, cp2);
  t.equal(await read.licences.byIdWithLog(a.identifier.replace(/\.001\./, ".999.")), undefined, "an identifier not on record: undefined");

  // The evidence built from what came with the record is the evidence read the long way.
  const known = (await read.licences.byIdWithLog(a.identifier))!;
  const short = await w.h.ctx.tlog.evidence(a.logIndex, { known: { checkpoint: known.checkpoint!, leafHash: known.leaf!.leafHash } });
  t.same(short, await w.h.ctx.tlog.evidence(a.logIndex), "same evidence");
  t.equal(verifyLogEvidence(short, { logKey: w.h.ctx.tlog.publicKey().vkey }).result, "VALID", "and it verifies offline");
  // A checkpoint that does not cover the index is not used.
  const wrong = await w.h.ctx.tlog.evidence(b.logIndex, { known: { checkpoint: cp1! } });
  t.equal(wrong.treeSize, cp2!.size, "a known checkpoint too small for the index is ignored");
});

t.test("PostgreSQL: a first verification takes two statements, and concurrent ones share them", async (t) => {
  const url = await pgTestUrl(t, "vr");
  if (!url) return void t.pass("skipped: no PostgreSQL");
  const w = await world(t, { SIDIAN_DB: url });
  const pool = w.h.ctx.pg!.pool;
  const lics = await importMany(w, 500, 25);
  await w.h.ctx.tlog.checkpoint();
  // Warm what every verification shares (catalogue, chain, department), on a licence not counted below.
  t.equal((await w.h.app.inject({ method: "POST", url: "/verify", payload: { identifier: lics[0]!.identifier } })).json().result, "VALID");

  const texts: string[] = [];
  const query = pool.query.bind(pool) as (...a: unknown[]) => unknown;
  (pool as unknown as { query: (...a: unknown[]) => unknown }).query = (...a: unknown[]) => {
    const q = a[0] as string | { text?: string };
    texts.push(typeof q === "string" ? q : (q.text ?? ""));
    return query(...a);
  };
  t.teardown(() => void ((pool as unknown as { query: unknown }).query = query));

  const one = (await w.h.app.inject({ method: "POST", url: "/verify", payload: { identifier: lics[1]!.identifier } })).json();
  t.equal(one.result, "VALID", JSON.stringify(one.checks));
  t.ok(texts.length <= 2, `a first verification: ${texts.length} statements (at most 2)`);

  texts.length = 0;
  const rest = lics.slice(2);
  const verdicts = await Promise.all(rest.map((l) => w.h.app.inject({ method: "POST", url: "/verify", payload: { identifier: l.identifier } }).then((r) => r.json())));
  t.ok(texts.length < rest.length * 2, `${rest.length} concurrent first verifications: ${texts.length} statements (fewer than 2 each)`);
  const vkey = w.h.ctx.tlog.publicKey().vkey;
  verdicts.forEach((v, i) => {
    t.equal(v.result, "VALID", `licence ${i}: VALID`);
    t.equal(v.licence.identifier, rest[i]!.identifier, `licence ${i}: about itself`);
    t.equal(v.evidence.logIndex, rest[i]!.logIndex, `licence ${i}: its own log entry`);
    t.equal(verifyLogEvidence(v.evidence, { logKey: vkey }).result, "VALID", `licence ${i}: its evidence verifies offline`);
  });
});
