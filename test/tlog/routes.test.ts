import Fastify from "fastify";
import t from "tap";
import errorsPlugin from "../../src/http/plugins/errors.js";
import logRoutes from "../../src/http/routes/log.js";
import { ProblemSchema } from "../../src/http/schemas.js";
import type { Actor } from "../../src/modules/kernel.js";
import { verifyCheckpoint, verifyLogEvidence } from "../../src/modules/tlog/index.js";
import { verifyConsistency } from "../../src/modules/tlog/merkle.js";
import { fill, makeEnv, ORIGIN } from "./helpers.js";

/** The log routes on a bare Fastify with the real error plugin; the caller's actor comes from a test header. */
async function build(env: ReturnType<typeof makeEnv>) {
  const app = Fastify({ logger: false, ajv: { customOptions: { removeAdditional: false, coerceTypes: "array", useDefaults: true } } });
  app.addSchema(ProblemSchema);
  await app.register(errorsPlugin);
  app.decorateRequest<Actor | null>("actor", null);
  app.addHook("onRequest", async (req) => {
    const h = req.headers["x-test-actor"];
    req.actor = typeof h === "string" ? (JSON.parse(h) as Actor) : { kind: "anonymous" };
  });
  await app.register(logRoutes, { tlog: env.tlog });
  return app;
}

t.test("log routes", async (t) => {
  const env = makeEnv();
  t.teardown(env.close);
  const app = await build(env);
  t.teardown(() => app.close());

  const none = await app.inject("/log/checkpoint");
  t.equal(none.statusCode, 404);
  t.equal(none.json().code, "LOG_CHECKPOINT_NOT_FOUND");

  await fill(env, 20);
  await env.uow.write((repos, tx) =>
    env.tlog.append(repos, tx, { type: "licence.issued", subject: "licence:x", actor: "client:issuer", data: { sha256: "ab".repeat(32) }, holder: "k".repeat(64) }),
  );
  await env.tlog.checkpoint();

  const cp = await app.inject("/log/checkpoint");
  t.equal(cp.statusCode, 200);
  t.match(cp.headers["content-type"], /^text\/plain/);
  t.equal(verifyCheckpoint(cp.body, env.tlog.verifier, { origin: ORIGIN }).size, 21, "signed C2SP checkpoint");
  const key = (await app.inject("/log/key")).json();
  t.equal(key.vkey, env.tlog.publicKey().vkey);

  const inc = await app.inject("/log/proof/inclusion?index=7");
  t.equal(inc.statusCode, 200);
  const p = inc.json();
  t.equal(p.treeSize, 21);
  const v = verifyLogEvidence({ logIndex: p.index, leafHash: p.leafHash, treeSize: p.treeSize, hashes: p.hashes, checkpoint: p.checkpoint }, { logKey: key.vkey, origin: ORIGIN });
  t.equal(v.result, "VALID", "proof + checkpoint from the route verify offline");
  const byHash = await app.inject(`/log/proof/inclusion?leafHash=${encodeURIComponent(p.leafHash)}&size=15`);
  t.equal(byHash.json().index, 7);
  t.equal(byHash.json().treeSize, 15);
  t.equal((await app.inject("/log/proof/inclusion?index=1&leafHash=" + encodeURIComponent(p.leafHash))).statusCode, 400, "index and leafHash together");
  const out = await app.inject("/log/proof/inclusion?index=30");
  t.equal(out.statusCode, 400);
  t.equal(out.json().code, "LOG_RANGE_INVALID");

  await fill(env, 4, 4, 21);
  const newer = await env.tlog.checkpoint();
  const cons = (await app.inject("/log/proof/consistency?from=21&to=25")).json();
  t.ok(verifyConsistency(21, 25, cons.hashes.map((h: string) => Buffer.from(h, "base64")), Buffer.from(verifyCheckpoint(cp.body, env.tlog.verifier).root), Buffer.from(newer.root, "base64")));
  t.equal((await app.inject("/log/proof/consistency?from=5&to=99")).json().code, "LOG_RANGE_INVALID");
  t.equal((await app.inject("/log/checkpoint?size=21")).body, cp.body, "earlier checkpoint by size");

  const plain = (await app.inject("/log/entries/3")).json();
  t.equal(plain.redacted, false);
  t.equal(plain.event.subject, "thing:3");
  const anon = (await app.inject("/log/entries/20")).json();
  t.same(anon, { index: 20, leafHash: anon.leafHash, redacted: true, event: { type: "licence.issued", at: anon.event.at } }, "holder entry redacted for anonymous");
  const holder: Actor = { kind: "holder", subjectHash: "k".repeat(64), codeType: "111", scopes: [] };
  const mine = (await app.inject({ url: "/log/entries/20", headers: { "x-test-actor": JSON.stringify(holder) } })).json();
  t.equal(mine.redacted, false);
  t.equal(mine.event.holder, "k".repeat(64), "the holder sees its own entry");
  t.equal((await app.inject("/log/entries/999")).json().code, "LOG_ENTRY_NOT_FOUND");
  t.equal((await app.inject("/log/entries/-1")).statusCode, 400);
});
