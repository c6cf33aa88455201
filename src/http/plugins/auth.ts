/**
 * Authentication and per-route authorisation.
 *
 * Every route MUST declare `config.auth`: either `"public"` or `{ roles, scopes?, holder? }`. A route without it
 * fails at start-up (`onRoute` check), so no route is left open by accident. Object-level checks (department,
 * matter, holder) happen in the handlers/services with `requireDepartment` and friends.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { AppError } from "../../errors.js";
import type { Actor, Role } from "../../modules/kernel.js";
import type { AuthService } from "../../modules/auth/index.js";

export type RouteAuth =
  | "public"
  | {
      /** Client roles allowed. */
      roles?: Role[];
      /** Every listed scope must be in the token. */
      scopes?: string[];
      /** Holder tokens from the identity provider allowed. */
      holder?: boolean;
      /** Also serve anonymous callers (the handler sees actor.kind === "anonymous"). */
      optional?: boolean;
    };

declare module "fastify" {
  interface FastifyContextConfig {
    auth?: RouteAuth;
  }
  interface FastifyRequest {
    actor: Actor;
  }
}

const ANON: Actor = { kind: "anonymous" };

function bearer(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer ([A-Za-z0-9._~+/=-]+)$/i.exec(h.trim());
  if (!m) throw new AppError("TOKEN_INVALID", "The Authorization header must be `Bearer <token>`.");
  return m[1];
}

async function authPlugin(app: FastifyInstance, opts: { auth: AuthService }) {
  app.decorateRequest<Actor | null>("actor", null);

  app.addHook("onRoute", (route) => {
    const rule = route.config?.auth;
    if (rule === undefined && !route.url.startsWith("/docs")) {
      throw new Error(`route ${route.method} ${route.url} has no config.auth`);
    }
    // A rate-limited route that takes tokens (POST /verify: optional) authenticates after its rate limit, so a
    // caller sending bad tokens is counted like any other (the global hook below would answer 401 first). The
    // rate-limit plugin, registered before this one, has already added its hook to this route.
    if (rule !== undefined && rule !== "public" && (route.config as { rateLimit?: unknown } | undefined)?.rateLimit) {
      const hook = (req: FastifyRequest, _reply: unknown, done: (e?: Error) => void) => {
        // No token on a route that serves anonymous callers too: nothing to wait for.
        if (rule.optional && req.headers.authorization === undefined) return done();
        authenticate(req, rule).then(() => done(), done);
      };
      const existing = route.onRequest;
      route.onRequest = existing === undefined ? [hook] : Array.isArray(existing) ? [...existing, hook] : [existing, hook];
    }
  });

  async function authenticate(req: FastifyRequest, rule: Exclude<RouteAuth, "public">): Promise<void> {
    const token = bearer(req);
    if (!token) {
      if (rule.optional) return;
      throw new AppError("AUTH_REQUIRED");
    }
    const actor = await opts.auth.authenticate(token);
    if (actor.kind === "holder") {
      if (!rule.holder) throw new AppError("FORBIDDEN_ROLE", "Holder tokens may not call this route.");
    } else if (actor.kind === "client") {
      if (!rule.roles?.includes(actor.role)) throw new AppError("FORBIDDEN_ROLE", `Role ${actor.role} may not call this route.`);
      const missing = (rule.scopes ?? []).filter((s) => !actor.scopes.includes(s));
      if (missing.length) throw new AppError("FORBIDDEN_SCOPE", `The token lacks scope: ${missing.join(", ")}.`);
    }
    req.actor = actor;
  }

  // Synchronous for public routes (no promise on the hot path); async only when a token must be checked.
  app.addHook("onRequest", (req, _reply, done) => {
    req.actor = ANON;
    const rule = req.routeOptions.config?.auth;
    // 404s have no route options; /docs (swagger-ui) is public; every other route was checked at start-up.
    if (rule === undefined || rule === "public" || (req.routeOptions.config as { rateLimit?: unknown }).rateLimit) return done();
    authenticate(req, rule).then(() => done(), done);
  });
}

export default fp(authPlugin, { name: "sidian-auth" });

/** Object-level check: an issuer may only act for its own department; admins for any. */
export function requireDepartment(actor: Actor, departmentId: string): void {
  if (actor.kind === "client" && actor.role === "admin") return;
  if (actor.kind === "client" && actor.departmentId === departmentId) return;
  throw new AppError("FORBIDDEN_DEPARTMENT");
}
