/**
 * Sealing after the last signature fails (issue 17 §5): the request is completed but not sealed, and the sealing
 * job — a row written with the completion, not a timer in memory — tries again with back-off (30 s, then 60 s, …)
 * without anyone downloading the document; after a restart (a fresh context on the same database) it still does,
 * and it seals once: one sealed revision, one `signing.sealed` event, however often it runs.
 *
 * The fault is a real one: the platform seal is suspended when the last participant signs (the stamp is refused
 * with SEAL_SUSPENDED), then reinstated.
 */
import t from "tap";
import { createContext } from "../../src/context.js";
import { bearer, build } from "../helpers/app.js";
import { SoftAuthenticator } from "./authenticator.js";
import { createRequest, setup, signer } from "./helpers.js";

const ORIGIN = "http://localhost:8080";
const SYS = { kind: "system" as const, name: "test" };
const MARK = { width: 300, height: 120, strokes: [[20, 80, 60, 40, 100, 90, 140, 30], [160, 60, 260, 60]] };

t.test("a failed seal is retried by the job with back-off, survives a restart, and seals once", async (t) => {
  const h = await build(t, { SIDIAN_PUBLIC_URL: ORIGIN, SIDIAN_SIGNING_SEAL: "PLATFORM-SEAL-J1" });
  const platform = await h.department("测试市政务服务数据管理局");
  await h.ctx.seals.createSeal({ departmentId: platform.id, type: "01", id: "PLATFORM-SEAL-J1" }, SYS);
  const s = await setup(t, 1, h);
  const a = s.people[0]!;
  const id = await createRequest(s, [[signer(a)]]);

  const key = new SoftAuthenticator(ORIGIN, "localhost");
  const ro = await h.app.inject({ method: "POST", url: "/holders/me/passkeys/options", headers: bearer(a.token), payload: { displayName: a.name } });
  t.equal((await h.app.inject({ method: "POST", url: "/holders/me/passkeys", headers: bearer(a.token), payload: { response: key.register(ro.json()) } })).statusCode, 201);

  // The fault: the seal that must close the request is suspended when the last signature lands.
  await h.ctx.seals.setStatus("PLATFORM-SEAL-J1", "suspended", "fault injected by the test", SYS);
  const o = await h.app.inject({ method: "POST", url: `/signatures/${id}/sign/options`, headers: bearer(a.token) });
  const signed = await h.app.inject({ method: "POST", url: `/signatures/${id}/sign`, headers: bearer(a.token), payload: { assertion: key.assert(o.json().options), mark: MARK } });
  t.equal(signed.statusCode, 200, signed.body.slice(0, 300));
  t.equal(signed.json().status, "completed", "the signature counts: the request is completed");

  const latestKind = async (ctx = h.ctx) => (await ctx.uow.read.signingDocuments.latest(id))?.kind;
  const sealedEvents = async (ctx = h.ctx) => (await ctx.uow.read.signingEvents.ofRequest(id)).filter((e) => e.type === "signing.sealed").length;
  t.equal(await latestKind(), "signed", "not sealed: the stamp was refused");
  const job0 = await h.ctx.uow.read.signingSealJobs.get(id);
  t.ok(job0, "a sealing job was recorded with the completion");
  t.equal(job0!.attempts, 0);

  // Not due yet: the job waits for its time.
  t.same(await h.ctx.completion.runDue(), { sealed: 0, failed: 0 }, "nothing due before the first retry time");
  h.clock.advance(31_000);
  t.same(await h.ctx.completion.runDue(), { sealed: 0, failed: 1 }, "first retry: still suspended");
  const job1 = (await h.ctx.uow.read.signingSealJobs.get(id))!;
  t.equal(job1.attempts, 1);
  t.match(job1.lastError, /^SEAL_SUSPENDED/, "the reason is kept");
  t.equal(job1.nextAt.getTime() - h.clock.now().getTime(), 30_000, "next try in 30 s");
  h.clock.advance(31_000);
  t.same(await h.ctx.completion.runDue(), { sealed: 0, failed: 1 }, "second retry: still suspended");
  const job2 = (await h.ctx.uow.read.signingSealJobs.get(id))!;
  t.equal(job2.attempts, 2);
  t.equal(job2.nextAt.getTime() - h.clock.now().getTime(), 60_000, "back-off: next try in 60 s");
  t.equal(await latestKind(), "signed");

  // The fault goes away; the service restarts (a fresh context on the same database) and the job seals.
  await h.ctx.seals.setStatus("PLATFORM-SEAL-J1", "active", "fault removed", SYS);
  const ctx2 = await createContext(h.ctx.config, { clock: h.clock, autoCheckpoint: false });
  t.teardown(() => ctx2.close());
  h.clock.advance(30_000);
  t.same(await ctx2.completion.runDue(), { sealed: 0, failed: 0 }, "not due before its back-off has passed");
  h.clock.advance(31_000);
  t.same(await ctx2.completion.runDue(), { sealed: 1, failed: 0 }, "sealed by the job, no download needed");
  t.equal(await latestKind(ctx2), "completed", "the sealed revision is stored");
  t.equal(await ctx2.uow.read.signingSealJobs.get(id), undefined, "the job is over");

  // Idempotent: running again, or finalising again, seals nothing more.
  h.clock.advance(3_600_000);
  t.same(await ctx2.completion.runDue(), { sealed: 0, failed: 0 });
  t.equal(await h.ctx.completion.finalise(id), true, "already sealed");
  t.equal(await sealedEvents(ctx2), 1, "one signing.sealed event");
  t.equal((await ctx2.uow.read.signingDocuments.list(id)).filter((d) => d.kind === "completed").length, 1, "one sealed revision");

  // (An hour has passed: the participant logs in again.)
  const dl = await h.app.inject({ url: `/signatures/${id}/document`, headers: bearer(await h.holderToken(a.code)) });
  t.equal(dl.statusCode, 200);
  const pdf = dl.rawPayload;
  const vr = await h.app.inject({ method: "POST", url: "/verify/pdf", headers: { "content-type": "application/pdf" }, payload: pdf });
  t.equal(vr.statusCode, 200, vr.body.slice(0, 300));
  const v = vr.json();
  t.same({ completed: v.signingRequest.completed, sealed: v.signingRequest.sealed, isFinal: v.signingRequest.isFinal }, { completed: true, sealed: true, isFinal: true });
  t.same(v.signatures.map((x: { result: string }) => x.result), ["VALID", "VALID"], "the signature and the seal are valid");
});
