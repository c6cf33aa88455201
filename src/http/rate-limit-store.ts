/**
 * Rate limits shared through Redis (SIDIAN_REDIS_URL), with a per-instance fallback: while Redis does not answer
 * (down, unreachable, a command timing out) every instance counts in its own memory — the limits still hold, per
 * instance — and says so once in its log and in /readyz (`rateLimits: "per-instance"`); when Redis answers again
 * the shared counts are used again, with one log line. A store for @fastify/rate-limit's `store` option, built on
 * its own Redis and in-memory stores.
 */
import { createRequire } from "node:module";
import type { Redis } from "ioredis";
import type { Logger } from "../modules/kernel.js";

const require = createRequire(import.meta.url);
type Incr = (key: string, cb: (err: Error | null, res: { current: number; ttl: number } | null) => void, timeWindow: number, max: number) => void;
interface InnerStore { incr: Incr; child(routeOptions: unknown): InnerStore }
type StoreCtor = new (continueExceeding: boolean, exponentialBackoff: boolean, a?: unknown, b?: unknown) => InnerStore;
const RedisStore = require("@fastify/rate-limit/store/RedisStore.js") as StoreCtor;
const LocalStore = require("@fastify/rate-limit/store/LocalStore.js") as StoreCtor;

export interface RateLimitSharing {
  /** The store class for @fastify/rate-limit (`store`). */
  Store: new (params: { continueExceeding: boolean; exponentialBackoff: boolean }) => InnerStore;
  /** "shared" while Redis answers, "per-instance" while it does not. */
  mode(): "shared" | "per-instance";
}

export function redisWithFallback(redis: Redis, nameSpace: string, log: Pick<Logger, "warn" | "info">): RateLimitSharing {
  let shared = redis.status === "ready";
  let warned = false;
  const away = (why: string) => {
    if (!shared && warned) return;
    shared = false;
    warned = true;
    log.warn({ reason: why }, "Redis for rate limits does not answer: each instance applies the limits in its own memory until it does");
  };
  const back = () => {
    if (shared) return;
    shared = true;
    if (warned) log.info({}, "Redis for rate limits answers again: limits are shared by every instance again");
    warned = false;
  };
  redis.on("error", (e: Error) => away(e.message));
  redis.on("close", () => away("connection closed"));
  redis.on("ready", back);

  class FallbackStore implements InnerStore {
    private r: InnerStore;
    private l: InnerStore;
    constructor(params: { continueExceeding: boolean; exponentialBackoff: boolean } | null, pair?: { r: InnerStore; l: InnerStore }) {
      if (pair) {
        this.r = pair.r;
        this.l = pair.l;
      } else {
        this.r = new RedisStore(params!.continueExceeding, params!.exponentialBackoff, redis, nameSpace);
        this.l = new LocalStore(params!.continueExceeding, params!.exponentialBackoff, 5000);
      }
    }
    incr: Incr = (key, cb, timeWindow, max) => {
      if (redis.status !== "ready") {
        away(`connection ${redis.status}`);
        this.l.incr(key, cb, timeWindow, max);
        return;
      }
      this.r.incr(key, (err, res) => {
        if (err) {
          away(err.message);
          this.l.incr(key, cb, timeWindow, max);
          return;
        }
        back();
        cb(null, res);
      }, timeWindow, max);
    };
    child(routeOptions: unknown): InnerStore {
      return new FallbackStore(null, { r: this.r.child(routeOptions), l: this.l.child(routeOptions) });
    }
  }
  return { Store: FallbackStore as unknown as RateLimitSharing["Store"], mode: () => (shared ? "shared" : "per-instance") };
}
