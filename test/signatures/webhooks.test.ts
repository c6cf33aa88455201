/**
 * Signed webhooks (Standard Webhooks) to the initiator of signing requests, against a local receiver: signatures
 * checked with an independent HMAC, retries on the documented back-off with a stable webhook-id, failure after the
 * last attempt, the delivery log, and the endpoint rules (admin only, https or loopback http, no credentials).
 */
import crypto from "node:crypto";
import http from "node:http";
import t, { type Test } from "tap";
import { bearer } from "../helpers/app.js";
import { RETRY_SCHEDULE_S, verifyWebhook } from "../../src/modules/webhooks/index.js";
import { createRequest, setup, signer } from "./helpers.js";

interface Received { headers: http.IncomingHttpHeaders; body: string }

/** A receiver on 127.0.0.1 that answers with the next status of `answers` (then 204). */
async function receiver(t: Test, answers: number[] = []) {
  const got: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      got.push({ headers: req.headers, body });
      res.statusCode = answers.shift() ?? 204;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { got, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hooks` };
}

/** The Standard Webhooks signature, computed here from the spec (not with Sidian's code). */
function expectedSignature(secret: string, id: string, ts: string, body: string): string {
  return "v1," + crypto.createHmac("sha256", Buffer.from(secret.slice("whsec_".length), "base64")).update(`${id}.${ts}.${body}`).digest("base64");
}

t.test("webhooks: signed messages for each event, retries with back-off, failure, delivery log", async (t) => {
  const s = await setup(t, 1);
  const { h } = s;
  const admin = await h.client("admin");
  const rx = await receiver(t, [500]);

  // Endpoint rules
  for (const [url, why] of [["ftp://127.0.0.1/x", "not http(s)"], ["http://example.com/hook", "plain http off loopback"], ["https://u:p@example.com/h", "credentials"], ["https://example.com/h#frag", "fragment"]] as const) {
    const r = await h.app.inject({ method: "PUT", url: `/clients/${s.consumer.id}/webhook`, headers: bearer(admin.token), payload: { url } });
    t.equal(r.statusCode, 422, why);
    t.equal(r.json().code, "WEBHOOK_URL_INVALID", why);
  }
  t.equal((await h.app.inject({ method: "PUT", url: "/clients/nobody/webhook", headers: bearer(admin.token), payload: { url: rx.url } })).json().code, "CLIENT_NOT_FOUND");
  t.equal((await h.app.inject({ method: "PUT", url: `/clients/${s.consumer.id}/webhook`, headers: bearer(s.consumer.token), payload: { url: rx.url } })).statusCode, 403, "a client cannot set its own endpoint");
  t.equal((await h.app.inject({ url: `/clients/${s.consumer.id}/webhook`, headers: bearer(admin.token) })).json().code, "WEBHOOK_NOT_FOUND");

  const set = await h.app.inject({ method: "PUT", url: `/clients/${s.consumer.id}/webhook`, headers: bearer(admin.token), payload: { url: rx.url } });
  t.equal(set.statusCode, 200, set.body);
  const secret = set.json().secret as string;
  t.match(secret, /^whsec_[A-Za-z0-9+/=]{32}$/, "a new secret, shown once");
  const again = await h.app.inject({ url: `/clients/${s.consumer.id}/webhook`, headers: bearer(admin.token) });
  t.equal(again.json().url, rx.url);
  t.notOk("secret" in again.json(), "never shown again");

  // Events: sent, viewed, declined (the participant declines)
  const id = await createRequest(s, [[signer(s.people[0]!)]]);
  await h.app.inject({ url: `/signatures/${id}`, headers: bearer(s.people[0]!.token) });
  const dec = await h.app.inject({ method: "POST", url: `/signatures/${id}/decline`, headers: bearer(s.people[0]!.token), payload: { reason: "内容与约定不符" } });
  t.equal(dec.statusCode, 200);

  // First run: the receiver answers 500 to the first message, 204 to the others
  const first = await h.ctx.webhooks.deliverDue();
  t.same(first, { delivered: 2, retry: 1, failed: 0 });
  t.equal(rx.got.length, 3);
  for (const m of rx.got) {
    const sig = expectedSignature(secret, String(m.headers["webhook-id"]), String(m.headers["webhook-timestamp"]), m.body);
    t.equal(m.headers["webhook-signature"], sig, "HMAC-SHA256 over id.timestamp.body with the secret's key");
    t.equal(Number(m.headers["webhook-timestamp"]), Math.floor(h.clock.now().getTime() / 1000), "timestamp of the attempt");
    t.ok(verifyWebhook(secret, m.headers as Record<string, string>, m.body, Math.floor(h.clock.now().getTime() / 1000)), "the receiver's check accepts it");
    t.notOk(verifyWebhook(secret, m.headers as Record<string, string>, m.body.replace("signing", "Signing"), Math.floor(h.clock.now().getTime() / 1000)), "a changed body is refused");
  }
  const types = rx.got.map((m) => JSON.parse(m.body).type).sort();
  t.same(types, ["signing.declined", "signing.sent", "signing.viewed"]);
  const declined = rx.got.map((m) => JSON.parse(m.body)).find((b) => b.type === "signing.declined");
  t.equal(declined.data.requestId, id);
  t.type(declined.data.logIndex, "number");
  t.notMatch(rx.got.map((m) => m.body).join(""), s.people[0]!.code, "no holder code in any message");

  // The failed message: not before its back-off, then again with the same webhook-id
  const failedId = rx.got[0]!.headers["webhook-id"];
  t.same(await h.ctx.webhooks.deliverDue(), { delivered: 0, retry: 0, failed: 0 }, "nothing due before 5 s");
  h.clock.advance(RETRY_SCHEDULE_S[0] * 1000);
  t.same(await h.ctx.webhooks.deliverDue(), { delivered: 1, retry: 0, failed: 0 });
  t.equal(rx.got[3]!.headers["webhook-id"], failedId, "a retry keeps its webhook-id");
  t.equal(rx.got[3]!.body, rx.got[0]!.body, "and its body");

  const log = await h.app.inject({ url: "/webhooks/deliveries", headers: bearer(s.consumer.token) });
  t.equal(log.statusCode, 200);
  t.equal(log.json().items.length, 3);
  t.ok(log.json().items.every((d: { status: string }) => d.status === "delivered"));
  t.equal(log.json().items.find((d: { id: string }) => d.id === failedId).attempts, 2, "two attempts recorded");
  const other = await h.client("consumer");
  t.same((await h.app.inject({ url: "/webhooks/deliveries", headers: bearer(other.token) })).json().items, [], "another client sees none of them");

  // A receiver that never answers 2xx: 8 attempts on the schedule, then failed
  const down = await receiver(t, Array(20).fill(503));
  t.equal((await h.app.inject({ method: "PUT", url: `/clients/${s.consumer.id}/webhook`, headers: bearer(admin.token), payload: { url: down.url } })).statusCode, 200);
  const id2 = await createRequest(s, [[signer(s.people[0]!)]]);
  t.ok(id2);
  t.same(await h.ctx.webhooks.deliverDue(), { delivered: 0, retry: 1, failed: 0 });
  for (const wait of RETRY_SCHEDULE_S) {
    h.clock.advance(wait * 1000 - 1000);
    t.same(await h.ctx.webhooks.deliverDue(), { delivered: 0, retry: 0, failed: 0 }, `not before ${wait} s`);
    h.clock.advance(1000);
    const r = await h.ctx.webhooks.deliverDue();
    t.equal(r.retry + r.failed, 1, `attempt after ${wait} s`);
  }
  t.equal(down.got.length, RETRY_SCHEDULE_S.length + 1, "8 attempts in all");
  // (a day and a half later: fresh tokens)
  const tok = async (c: { id: string; secret: string }) => (await h.app.inject({ method: "POST", url: "/oauth/token", payload: { grant_type: "client_credentials", client_id: c.id, client_secret: c.secret } })).json().access_token as string;
  s.consumer.token = await tok(s.consumer);
  admin.token = await tok(admin);
  s.people[0]!.token = await h.holderToken(s.people[0]!.code);
  const last = (await h.app.inject({ url: "/webhooks/deliveries?limit=1", headers: bearer(s.consumer.token) })).json().items[0];
  t.equal(last.status, "failed");
  t.equal(last.attempts, 8);
  t.equal(last.lastStatus, 503);
  t.equal(last.lastError, "HTTP 503");

  // Removing the endpoint: nothing more is queued
  t.equal((await h.app.inject({ method: "DELETE", url: `/clients/${s.consumer.id}/webhook`, headers: bearer(admin.token) })).statusCode, 204);
  await createRequest(s, [[signer(s.people[0]!)]]);
  t.same(await h.ctx.webhooks.deliverDue(), { delivered: 0, retry: 0, failed: 0 });
});
