/**
 * Signed webhooks (Standard Webhooks, https://www.standardwebhooks.com): an administrator sets a client's endpoint
 * (the allow-list of outbound URLs is exactly these endpoints: nothing is sent anywhere else); events about the
 * client's signing requests are queued in the same transaction as the event and sent after the commit.
 *
 * Each message: POST with `webhook-id` (stable across retries: receivers de-duplicate on it), `webhook-timestamp`
 * (Unix seconds of this attempt) and `webhook-signature: v1,<base64 HMAC-SHA256(secret, id.timestamp.body)>`, the
 * secret being the base64 part of `whsec_…`. A 2xx answer delivers it; anything else (or no answer within the
 * timeout) is retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h, then the message is marked failed. Every
 * attempt is kept in the delivery log. Two instances may both send a message (at least once): a message is leased
 * for a minute before it is sent, so that happens only when an attempt outlives its lease.
 */
import crypto, { randomUUID } from "node:crypto";
import type { PiiProtector } from "../../crypto/pii.js";
import { AppError } from "../../errors.js";
import type { Actor, Clock, UnitOfWork } from "../kernel.js";
import type { WebhookDelivery, WebhookEndpoint, WebhookRepos } from "./ports.js";

/** Seconds before attempt 2, 3, … (the schedule Standard Webhooks suggests). */
export const RETRY_SCHEDULE_S = [5, 300, 1800, 7200, 18000, 36000, 36000] as const;
const LEASE_MS = 60_000;
const MAX_ERROR = 300;

/** `v1,<base64 HMAC-SHA256>` over `id.timestamp.body` with the secret `whsec_<base64 key>`. */
export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.startsWith("whsec_") ? secret.slice(6) : secret, "base64");
  return `v1,${crypto.createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")}`;
}

/** Checks a received message the way a receiver must (constant-time compare, timestamp within `toleranceS`). */
export function verifyWebhook(secret: string, headers: Record<string, string | undefined>, body: string, nowS: number, toleranceS = 300): boolean {
  const id = headers["webhook-id"], ts = Number(headers["webhook-timestamp"]), sigs = headers["webhook-signature"];
  if (!id || !Number.isInteger(ts) || !sigs || Math.abs(nowS - ts) > toleranceS) return false;
  const want = Buffer.from(signWebhook(secret, id, ts, body));
  return sigs.split(" ").some((s) => {
    const b = Buffer.from(s);
    return b.length === want.length && crypto.timingSafeEqual(b, want);
  });
}

export interface WebhookServiceDeps<R extends WebhookRepos> {
  uow: UnitOfWork<R>;
  clock: Clock;
  pii: PiiProtector;
  /** http: allowed only for loopback hosts, outside production. */
  allowHttpLoopback: boolean;
  timeoutMs?: number;
  fetch?: typeof fetch;
  logger?: { warn(obj: object, msg: string): void };
  clientExists(clientId: string): Promise<boolean>;
}

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

export function createWebhookService<R extends WebhookRepos>(deps: WebhookServiceDeps<R>) {
  const { uow, clock, pii } = deps;
  const doFetch = deps.fetch ?? fetch;
  const aad = (clientId: string) => `webhook:${clientId}`;

  function checkUrl(raw: string): string {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      throw new AppError("WEBHOOK_URL_INVALID", "The webhook URL cannot be read.");
    }
    if (u.username || u.password) throw new AppError("WEBHOOK_URL_INVALID", "The webhook URL must not carry credentials.");
    if (u.hash) throw new AppError("WEBHOOK_URL_INVALID", "The webhook URL must not have a fragment.");
    if (u.protocol === "https:") return u.toString();
    if (u.protocol === "http:" && deps.allowHttpLoopback && LOOPBACK.has(u.hostname)) return u.toString();
    throw new AppError("WEBHOOK_URL_INVALID", "The webhook URL must be https (http only to a loopback address outside production).");
  }

  function requireAdmin(actor: Actor) {
    if (!(actor.kind === "system" || (actor.kind === "client" && actor.role === "admin"))) throw new AppError("FORBIDDEN_ROLE");
  }

  /** Sets (or replaces) a client's endpoint; a new secret when there was none or `rotate`: the only time it is shown. */
  async function setEndpoint(clientId: string, url: string, rotate: boolean, actor: Actor) {
    requireAdmin(actor);
    if (!(await deps.clientExists(clientId))) throw new AppError("CLIENT_NOT_FOUND");
    const clean = checkUrl(url);
    const now = clock.now();
    return uow.write(async (repos) => {
      const old = await repos.webhookEndpoints.get(clientId);
      const secret = !old || rotate ? `whsec_${crypto.randomBytes(24).toString("base64")}` : null;
      const e: WebhookEndpoint = {
        clientId, url: clean, secretEnc: secret ? pii.encrypt(secret, aad(clientId)) : old!.secretEnc, createdAt: old?.createdAt ?? now, updatedAt: now,
      };
      await repos.webhookEndpoints.put(e);
      return { clientId, url: clean, createdAt: e.createdAt, updatedAt: now, ...(secret ? { secret } : {}) };
    });
  }

  async function getEndpoint(clientId: string, actor: Actor) {
    requireAdmin(actor);
    const e = await uow.read.webhookEndpoints.get(clientId);
    if (!e) throw new AppError("WEBHOOK_NOT_FOUND");
    return { clientId, url: e.url, createdAt: e.createdAt, updatedAt: e.updatedAt };
  }

  async function deleteEndpoint(clientId: string, actor: Actor) {
    requireAdmin(actor);
    await uow.write(async (repos) => {
      if (!(await repos.webhookEndpoints.get(clientId))) throw new AppError("WEBHOOK_NOT_FOUND");
      await repos.webhookEndpoints.delete(clientId);
    });
  }

  let kick: (() => void) | null = null;

  /** Queues a message for the client (inside the caller's transaction); nothing when it has no endpoint. */
  async function enqueue(repos: R, tx: { afterCommit(fn: () => void): void }, clientId: string, type: string, data: Record<string, unknown>): Promise<string | null> {
    if (!(await repos.webhookEndpoints.get(clientId))) return null;
    const now = clock.now();
    const id = `msg_${randomUUID().replace(/-/g, "")}`;
    const payload = JSON.stringify({ type, timestamp: now.toISOString(), data });
    await repos.webhookDeliveries.insert({
      id, clientId, type, payload, status: "pending", attempts: 0, nextAttemptAt: now, lastStatus: null, lastError: null, createdAt: now, deliveredAt: null,
    });
    tx.afterCommit(() => kick?.());
    return id;
  }

  async function attempt(d: WebhookDelivery): Promise<"delivered" | "retry" | "failed"> {
    const e = await uow.read.webhookEndpoints.get(d.clientId);
    const now = clock.now();
    const attempts = d.attempts + 1;
    let status: number | null = null;
    let error: string | null = null;
    if (!e) error = "the client has no webhook endpoint any more";
    else {
      const ts = Math.floor(now.getTime() / 1000);
      const secret = pii.decrypt(e.secretEnc, aad(d.clientId));
      try {
        const res = await doFetch(e.url, {
          method: "POST", redirect: "manual", signal: AbortSignal.timeout(deps.timeoutMs ?? 10_000),
          headers: { "content-type": "application/json", "user-agent": "Sidian-Webhooks/1", "webhook-id": d.id, "webhook-timestamp": String(ts), "webhook-signature": signWebhook(secret, d.id, ts, d.payload) },
          body: d.payload,
        });
        status = res.status;
        await res.arrayBuffer().catch(() => undefined);
        if (res.status >= 200 && res.status < 300) {
          await uow.write((repos) => repos.webhookDeliveries.update(d.id, { status: "delivered", attempts, lastStatus: status, lastError: null, deliveredAt: clock.now() }), { relaxed: true });
          return "delivered";
        }
        error = `HTTP ${res.status}`;
      } catch (cause) {
        error = (cause as Error).name === "TimeoutError" ? "no answer within the timeout" : String((cause as Error).message ?? cause).slice(0, MAX_ERROR);
      }
    }
    const wait = RETRY_SCHEDULE_S[attempts - 1];
    const failed = wait === undefined || !e;
    await uow.write((repos) => repos.webhookDeliveries.update(d.id, {
      status: failed ? "failed" : "pending", attempts, lastStatus: status, lastError: error,
      nextAttemptAt: failed ? now : new Date(now.getTime() + wait * 1000),
    }), { relaxed: true });
    if (failed) deps.logger?.warn({ delivery: d.id, clientId: d.clientId, attempts, error }, "webhook delivery failed for good");
    return failed ? "failed" : "retry";
  }

  /** Sends every message due now (leased first, so another instance leaves them alone for a minute). */
  async function deliverDue(limit = 50): Promise<{ delivered: number; retry: number; failed: number }> {
    const now = clock.now();
    const due = await uow.read.webhookDeliveries.due(now, limit);
    const out = { delivered: 0, retry: 0, failed: 0 };
    if (due.length === 0) return out;
    await uow.write(async (repos) => {
      for (const d of due) await repos.webhookDeliveries.update(d.id, { nextAttemptAt: new Date(now.getTime() + LEASE_MS) });
    }, { relaxed: true });
    for (const d of due) out[await attempt(d)]++;
    return out;
  }

  async function deliveries(actor: Actor, limit: number) {
    if (actor.kind !== "client") throw new AppError("FORBIDDEN_ROLE");
    return uow.read.webhookDeliveries.forClient(actor.clientId, limit);
  }

  /** Sends after each commit that queued a message, and every `everyMs` for retries. */
  function start(everyMs = 5000): () => void {
    let running: Promise<unknown> | null = null;
    const run = () => {
      if (running) return;
      running = deliverDue().catch((e) => deps.logger?.warn({ err: e }, "webhook delivery run failed")).finally(() => (running = null));
    };
    kick = run;
    const timer = setInterval(run, everyMs);
    timer.unref();
    return () => {
      clearInterval(timer);
      kick = null;
    };
  }

  return { setEndpoint, getEndpoint, deleteEndpoint, enqueue, deliverDue, deliveries, start, checkUrl };
}

export type WebhookService<R extends WebhookRepos = WebhookRepos> = ReturnType<typeof createWebhookService<R>>;
