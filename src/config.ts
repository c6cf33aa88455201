/**
 * Configuration: read from the environment once, validated, frozen. Nothing else reads process.env.
 */
import { isIP } from "node:net";
import os from "node:os";
import path from "node:path";
import { AppError } from "./errors.js";
import { isPgUrl, parsePgUrl } from "./storage/pg-url.js";
import { parsePkcs11Uri, type Pkcs11Uri } from "./pki/pkcs11/uri.js";
import { DEFAULT_TRUST_LIST, TRUST_LIST_NAME_RE } from "./pki/trust-list.js";
import { checkIdpUrl } from "./modules/auth/idp-keys.js";
import type { HolderClaims } from "./modules/auth/service.js";

export type Mode = "development" | "production" | "test";
export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export interface Config {
  readonly mode: Mode;
  readonly host: string;
  readonly port: number;
  /**
   * Public base URL, used in certificates (CRL distribution point), QR codes and links. Kept with the database at
   * first start (table `deployment`): a later start or command with another one is refused, and a command whose
   * environment does not name one takes the database's (see `publicUrlFrom`).
   */
  readonly publicUrl: string;
  /** Where publicUrl came from: SIDIAN_PUBLIC_URL, SIDIAN_HOST/SIDIAN_PORT, or the default (neither was set). */
  readonly publicUrlFrom: "SIDIAN_PUBLIC_URL" | "SIDIAN_HOST/SIDIAN_PORT" | "default";
  /** SQLite database file (or ":memory:"). */
  /** The SQLite file, or the postgres:// URL when dbKind is "pg". */
  readonly dbPath: string;
  readonly dbKind: "sqlite" | "pg";
  /** PostgreSQL: connections in the pool (SIDIAN_DB_POOL, default 10). */
  readonly dbPoolMax: number;
  /** `full` fsyncs every commit (durable across power loss); `normal` is durable across process crashes. */
  readonly dbSync: "full" | "grouped" | "normal";
  /** Who copies the WAL into the database file: a background worker thread (default) or the committing call. */
  readonly dbCheckpoint: "background" | "inline";
  /** Page cache of the writing connection, MiB. */
  readonly dbCacheMb: number;
  /** `on`: bulk issuance signs and encrypts on a worker thread (a second core); `off`: all on the main thread. */
  readonly sealWorker: "on" | "off";
  /** Folder with the CA material, IdP key and key-encryption key. */
  readonly keysDir: string;
  /**
   * Where private keys live (SIDIAN_KEYSTORE): `file` (the keys folder, runtime keys wrapped under its KEK; the
   * default) or a PKCS#11 token (`pkcs11:token=…?module-path=…&pin-source=file:…`, see src/pki/pkcs11/uri.ts).
   */
  readonly keyStore: { readonly kind: "file" } | { readonly kind: "pkcs11"; readonly uri: Pkcs11Uri };
  readonly logLevel: LogLevel;
  /** Lifetime of access tokens from the token endpoint, seconds. */
  readonly tokenTtlSeconds: number;
  /** Max request body, bytes. */
  readonly bodyLimit: number;
  /**
   * The PDF worker pool (src/pdf/pool.ts): validation and stamping of untrusted PDFs run on at most `pdfWorkers`
   * threads, at most `pdfQueue` tasks wait for one, a task may run `pdfTimeBudgetMs` and use `pdfWorkerMemoryMb` of
   * heap before its worker is terminated.
   */
  readonly pdfWorkers: number;
  readonly pdfQueue: number;
  readonly pdfTimeBudgetMs: number;
  readonly pdfWorkerMemoryMb: number;
  /**
   * ClamAV's clamd for the archive checks' virus scan (issue 19): a unix socket path or tcp://host:port
   * (SIDIAN_CLAMD); null: no scanner, the scan item is reported not applicable. Per-file answer budget in ms.
   */
  readonly clamd: { readonly address: string; readonly timeoutMs: number } | null;
  /** Re-check every stored archive package this often, hours (SIDIAN_ARCHIVE_RECHECK_HOURS; 0: never). */
  readonly archiveRecheckHours: number;
  /** Largest package `POST /archives:receive` takes, bytes (SIDIAN_ARCHIVE_RECEIVE_MAX_BYTES). */
  readonly archiveReceiveMaxBytes: number;
  /** Requests per minute per IP on public (unauthenticated) routes. */
  readonly publicRateLimit: number;
  /** 四性检测 runs (POST /archives/:id/checks) per minute per caller (SIDIAN_ARCHIVE_CHECK_RATE_LIMIT). */
  readonly archiveCheckRateLimit: number;
  /** Transparency log: publish a checkpoint at most every N seconds / M entries. */
  readonly checkpointIntervalSeconds: number;
  readonly checkpointMaxEntries: number;
  /** Origin line of the log's checkpoints (C2SP checkpoint). */
  readonly logOrigin: string;
  /** Accepted issuer (`iss`) of holder tokens from the identity provider. */
  readonly idpIssuer: string;
  /**
   * Where the identity provider's keys come from: `file` (the keys folder's idp-jwks.json: the dev IdP, or keys
   * copied there), `oidc` (the JWKS named by the issuer's discovery document) or `{ jwksUri }` (that JWKS URL).
   */
  readonly idpKeys: "file" | "oidc" | { readonly jwksUri: string };
  /** Accepted `aud` of holder tokens (Sidian's client id at the identity provider). */
  readonly idpAudience: string;
  /** Which claims carry the holder's code and code type. */
  readonly idpClaims: HolderClaims;
  /** Lifetime of a holder's live QR (亮证) token, seconds. */
  readonly liveQrTtlSeconds: number;
  /**
   * Which proxies' X-Forwarded-For to believe for the client IP (rate limits are per IP): false (none), a number of
   * hops (the N nearest), or the proxies' addresses / CIDR ranges. Never every hop: the left-most entry is
   * whatever the client wrote.
   */
  readonly trustProxy: false | number | readonly string[];
  /** SIDIAN_REDIS_URL: rate limits shared by every instance through this Redis (redis:// or rediss://); null: per instance. */
  readonly redisUrl: string | null;
  /**
   * E-signatures (issue 17): PEM file of the CA certificates that own-key signers' certificates must chain to
   * (SIDIAN_SIGNING_TRUST; none: own-key signing is refused), and how recent a holder's authentication must be
   * for a cloud signature (SIDIAN_SIGNING_REAUTH_SECONDS).
   */
  readonly signingTrustFile: string | null;
  /**
   * Named trust lists `POST /verify/pdf?trust=NAME` may judge by (SIDIAN_TRUST_LISTS=`name=file.pem,…`; each file:
   * its CA certificates and optionally their CRLs, PEM). The built-in list `sidian` is always there and the default.
   */
  readonly trustLists: ReadonlyArray<{ readonly name: string; readonly file: string }>;
  readonly signingReauthSeconds: number;
  /** The platform's seal for completion reports of initiators without a department seal (SIDIAN_SIGNING_SEAL, a seal id). */
  readonly signingSealId: string | null;
  /** Metrics: counted and served at /metrics (`on`) or neither (`off`). */
  readonly metrics: "on" | "off";
  /** Networks (CIDR or addresses) that may scrape /metrics without a token. Default: loopback. */
  readonly metricsAllow: readonly string[];
  /** File holding a bearer token that may scrape /metrics from anywhere (at least 32 characters). */
  readonly metricsTokenFile: string | null;
  /**
   * OpenTelemetry traces: exported over OTLP/HTTP to this URL (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or
   * OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces); null: no tracing at all.
   */
  readonly otlpTracesUrl: string | null;
  /** service.name of the traces (OTEL_SERVICE_NAME, default "sidian"). */
  readonly otelServiceName: string;
}

type Env = Record<string, string | undefined>;

/** SIDIAN_CLAMD: an absolute unix socket path or tcp://host:port. */
function clamdAddress(v: string, problems: string[]): string {
  if (v.startsWith("/") && !/[\s\u0000]/.test(v)) return v;
  if (/^tcp:\/\/[A-Za-z0-9.\-[\]:]+:[0-9]{1,5}$/.test(v)) return v;
  problems.push("SIDIAN_CLAMD must be an absolute unix socket path or tcp://host:port");
  return v;
}

function int(env: Env, name: string, def: number, min: number, max: number, problems: string[]): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return def;
  if (!/^\d+$/.test(raw)) {
    problems.push(`${name} must be a whole number (got "${raw}")`);
    return def;
  }
  const n = Number(raw);
  if (n < min || n > max) problems.push(`${name} must be between ${min} and ${max} (got ${n})`);
  return n;
}

/** A list of IP addresses / CIDR ranges separated by commas; `none` for an empty list. */
function cidrList(name: string, raw: string | undefined, def: string[], problems: string[]): string[] {
  const v = (raw ?? "").trim();
  if (v === "") return def;
  if (v === "none") return [];
  const list = v.split(",").map((x) => x.trim()).filter(Boolean);
  for (const x of list) {
    const [addr, bits, extra] = x.split("/");
    const family = isIP(addr ?? "");
    const okBits = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32));
    if (!family || !okBits || extra !== undefined) problems.push(`${name}: "${x}" is not an IP address or CIDR range`);
  }
  return list;
}

/** SIDIAN_TRUST_LISTS: `name=file.pem` pairs separated by commas; names [a-z0-9_-], not `sidian` (built in), unique. */
function trustListsOf(raw: string | undefined, cwd: string, problems: string[]): Array<{ name: string; file: string }> {
  if (!raw || !raw.trim()) return [];
  const out: Array<{ name: string; file: string }> = [];
  for (const item of raw.split(",").map((x) => x.trim()).filter(Boolean)) {
    const eq = item.indexOf("=");
    const name = eq > 0 ? item.slice(0, eq).trim() : "";
    const file = eq > 0 ? item.slice(eq + 1).trim() : "";
    if (!name || !file) problems.push(`SIDIAN_TRUST_LISTS: "${item}" is not name=file.pem`);
    else if (!TRUST_LIST_NAME_RE.test(name)) problems.push(`SIDIAN_TRUST_LISTS: the name "${name}" must be 1-32 of a-z 0-9 _ - (starting with a letter or digit)`);
    else if (name === DEFAULT_TRUST_LIST) problems.push(`SIDIAN_TRUST_LISTS: "${DEFAULT_TRUST_LIST}" is the built-in list (Sidian's own root); choose another name`);
    else if (out.some((x) => x.name === name)) problems.push(`SIDIAN_TRUST_LISTS: "${name}" is given twice`);
    else out.push({ name, file: path.resolve(cwd, file) });
  }
  return out;
}

/** SIDIAN_REDIS_URL: a redis:// or rediss:// URL, or unset. */
function redisUrlOf(raw: string | undefined, problems: string[]): string | null {
  if (raw === undefined || raw.trim() === "") return null;
  try {
    const u = new URL(raw.trim());
    if (u.protocol === "redis:" || u.protocol === "rediss:") return u.toString();
  } catch {
    // reported below
  }
  problems.push("SIDIAN_REDIS_URL must be a redis:// or rediss:// URL");
  return null;
}

/** SIDIAN_TRUST_PROXY: off, a hop count, or addresses / CIDR ranges separated by commas. */
function trustProxyOf(raw: string | undefined, problems: string[]): false | number | string[] {
  const v = (raw ?? "").trim();
  if (v === "" || v === "0" || v === "false" || v === "off") return false;
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (n > 10) problems.push(`SIDIAN_TRUST_PROXY: ${n} proxies in front of the service? Give at most 10 hops, or their addresses`);
    return n;
  }
  if (v === "true" || v === "on") {
    problems.push("SIDIAN_TRUST_PROXY=true would trust every hop (any client could choose its IP and escape the rate limits): give the number of proxies in front of the service (e.g. 1) or their addresses / CIDR ranges");
    return false;
  }
  const list = v.split(",").map((x) => x.trim()).filter(Boolean);
  for (const x of list) {
    const [addr, bits, extra] = x.split("/");
    const family = isIP(addr ?? "");
    const okBits = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32));
    if (!family || !okBits || extra !== undefined) problems.push(`SIDIAN_TRUST_PROXY: "${x}" is not an IP address or CIDR range`);
  }
  return list;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], def: T, problems: string[]): T {
  const raw = env[name];
  if (raw === undefined || raw === "") return def;
  if (!(allowed as readonly string[]).includes(raw)) {
    problems.push(`${name} must be one of ${allowed.join(", ")} (got "${raw}")`);
    return def;
  }
  return raw as T;
}

function idpKeysOf(env: Env, mode: Mode, problems: string[]): Config["idpKeys"] {
  const v = (env.SIDIAN_IDP_KEYS ?? "").trim();
  const allowHttp = mode !== "production";
  if (v === "" || v === "file") return "file";
  if (v === "oidc") {
    const bad = checkIdpUrl(env.SIDIAN_IDP_ISSUER ?? "", allowHttp);
    if (!env.SIDIAN_IDP_ISSUER) problems.push("SIDIAN_IDP_KEYS=oidc needs SIDIAN_IDP_ISSUER (the provider's issuer URL)");
    else if (bad) problems.push(`SIDIAN_IDP_ISSUER: ${bad}`);
    return "oidc";
  }
  const bad = checkIdpUrl(v, allowHttp);
  if (bad) problems.push(`SIDIAN_IDP_KEYS must be file, oidc or the JWKS URL: ${bad}`);
  return { jwksUri: v };
}

const CLAIM_PATH = /^[A-Za-z_][A-Za-z0-9_:-]*(\.[A-Za-z_][A-Za-z0-9_:-]*){0,4}$/;

function idpClaimsOf(env: Env, problems: string[]): HolderClaims {
  const code = env.SIDIAN_IDP_CLAIM_CODE || "sub";
  const codeType = env.SIDIAN_IDP_CLAIM_CODE_TYPE || "code_type";
  for (const [name, v] of [["SIDIAN_IDP_CLAIM_CODE", code], ["SIDIAN_IDP_CLAIM_CODE_TYPE", codeType]] as const) {
    if (!CLAIM_PATH.test(v) || v.split(".").some((p) => p === "__proto__" || p === "constructor" || p === "prototype")) {
      problems.push(`${name} must be a claim name or a dot path of up to 5 names (got "${v}")`);
    }
  }
  const def = env.SIDIAN_IDP_DEFAULT_CODE_TYPE ?? "111";
  const codeTypes: Record<string, string> = Object.create(null) as Record<string, string>;
  const raw = (env.SIDIAN_IDP_CODE_TYPES ?? "").trim();
  if (raw) {
    for (const pair of raw.split(",")) {
      const [from, to, extra] = pair.split("=").map((x) => x.trim());
      if (!from || !to || extra !== undefined || !/^\d{3}$/.test(to)) problems.push(`SIDIAN_IDP_CODE_TYPES: "${pair}" is not NAME=<3-digit GB/T 36903 code type>`);
      else codeTypes[from] = to;
    }
  }
  if (def !== "none" && !/^\d{3}$/.test(def)) problems.push(`SIDIAN_IDP_DEFAULT_CODE_TYPE must be a 3-digit code type or none (got "${def}")`);
  return { code, codeType, defaultCodeType: def === "none" ? null : def, codeTypes: { ...codeTypes } };
}

/** OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as is) or OTEL_EXPORTER_OTLP_ENDPOINT (+ /v1/traces), as the OTel spec says. */
function otlpUrl(env: Env, problems: string[]): string | null {
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (env.OTEL_TRACES_EXPORTER?.trim() === "none") return null;
  const url = traces || (base ? `${base.replace(/\/+$/, "")}/v1/traces` : "");
  if (!url) return null;
  try {
    const u = new URL(url);
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error("not http(s)");
  } catch {
    problems.push(`OTEL_EXPORTER_OTLP_${traces ? "TRACES_" : ""}ENDPOINT must be an http(s) URL (got "${traces || base}")`);
    return null;
  }
  return url;
}

/** Reads and validates the environment. Throws AppError CONFIG_INVALID listing every problem at once. */
export function loadConfig(env: Env = process.env, cwd = process.cwd()): Config {
  const problems: string[] = [];
  const mode = oneOf<Mode>(env, "SIDIAN_MODE", ["development", "production", "test"],
    env.NODE_ENV === "production" ? "production" : "development", problems);
  const host = env.SIDIAN_HOST || "127.0.0.1";
  const port = int(env, "SIDIAN_PORT", 8080, 0, 65535, problems);
  const publicUrl = (env.SIDIAN_PUBLIC_URL || `http://${host.includes(":") ? `[${host}]` : host}:${port}`).replace(/\/+$/, "");
  try {
    const u = new URL(publicUrl);
    if (u.protocol !== "http:" && u.protocol !== "https:") problems.push("SIDIAN_PUBLIC_URL must be http(s)");
    if (mode === "production" && u.protocol !== "https:") problems.push("SIDIAN_PUBLIC_URL must be https in production");
  } catch {
    problems.push(`SIDIAN_PUBLIC_URL is not a URL (got "${publicUrl}")`);
  }
  const dbRaw = env.SIDIAN_DB || "./data/sidian.db";
  // A postgres:// URL selects the PostgreSQL store (src/storage/pg.ts); anything else is an SQLite file path.
  const dbKind = isPgUrl(dbRaw) ? "pg" as const : "sqlite" as const;
  if (dbKind === "sqlite" && /^[a-z][a-z0-9+.-]*:\/\//i.test(dbRaw)) problems.push(`SIDIAN_DB must be an SQLite file path or a postgres:// URL (got a ${dbRaw.split(":")[0]}: URL)`);
  if (dbKind === "pg") {
    try {
      parsePgUrl(dbRaw);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  const dbPath = dbRaw === ":memory:" || dbKind === "pg" ? dbRaw : path.resolve(cwd, dbRaw);
  const keysDir = path.resolve(cwd, env.SIDIAN_KEYS_DIR || "./keys-dev");
  let keyStore: Config["keyStore"] = { kind: "file" };
  const ks = (env.SIDIAN_KEYSTORE ?? "").trim();
  if (ks !== "" && ks !== "file") {
    const r = parsePkcs11Uri(ks);
    if (r.uri) keyStore = { kind: "pkcs11", uri: r.uri };
    else problems.push(`SIDIAN_KEYSTORE must be "file" or a pkcs11: URL: ${r.problems.join("; ")}`);
  }
  const cfg: Config = {
    mode,
    host,
    port,
    publicUrl,
    publicUrlFrom: env.SIDIAN_PUBLIC_URL ? "SIDIAN_PUBLIC_URL" : env.SIDIAN_HOST || env.SIDIAN_PORT ? "SIDIAN_HOST/SIDIAN_PORT" : "default",
    dbPath,
    dbKind,
    dbPoolMax: int(env, "SIDIAN_DB_POOL", 10, 1, 1000, problems),
    dbSync: oneOf(env, "SIDIAN_DB_SYNC", ["full", "grouped", "normal"] as const, "grouped", problems),
    dbCheckpoint: oneOf(env, "SIDIAN_DB_CHECKPOINT", ["background", "inline"] as const, "background", problems),
    dbCacheMb: int(env, "SIDIAN_DB_CACHE_MB", 256, 8, 65_536, problems),
    sealWorker: oneOf(env, "SIDIAN_SEAL_WORKER", ["on", "off"] as const, "on", problems),
    keysDir,
    keyStore,
    logLevel: oneOf<LogLevel>(env, "SIDIAN_LOG_LEVEL", ["fatal", "error", "warn", "info", "debug", "trace", "silent"],
      mode === "test" ? "silent" : "info", problems),
    tokenTtlSeconds: int(env, "SIDIAN_TOKEN_TTL", 300, 30, 3600, problems),
    bodyLimit: int(env, "SIDIAN_BODY_LIMIT", 1_048_576, 1024, 256 * 1_048_576, problems),
    publicRateLimit: int(env, "SIDIAN_PUBLIC_RATE_LIMIT", 600, 1, 1_000_000, problems),
    archiveCheckRateLimit: int(env, "SIDIAN_ARCHIVE_CHECK_RATE_LIMIT", 6, 1, 100_000, problems),
    pdfWorkers: int(env, "SIDIAN_PDF_WORKERS", Math.min(4, Math.max(2, os.availableParallelism() - 1)), 1, 64, problems),
    pdfQueue: int(env, "SIDIAN_PDF_QUEUE", 64, 0, 100_000, problems),
    pdfTimeBudgetMs: int(env, "SIDIAN_PDF_TIME_BUDGET_MS", 10_000, 100, 600_000, problems),
    pdfWorkerMemoryMb: int(env, "SIDIAN_PDF_WORKER_MEMORY_MB", 512, 64, 16_384, problems),
    archiveRecheckHours: int(env, "SIDIAN_ARCHIVE_RECHECK_HOURS", mode === "test" ? 0 : 168, 0, 87_600, problems),
    archiveReceiveMaxBytes: int(env, "SIDIAN_ARCHIVE_RECEIVE_MAX_BYTES", 2 * 1024 ** 3, 1024, 64 * 1024 ** 3, problems),
    clamd: env.SIDIAN_CLAMD ? { address: clamdAddress(env.SIDIAN_CLAMD, problems), timeoutMs: int(env, "SIDIAN_CLAMD_TIMEOUT_MS", 60_000, 100, 3_600_000, problems) } : null,
    checkpointIntervalSeconds: int(env, "SIDIAN_CHECKPOINT_INTERVAL", 10, 1, 86_400, problems),
    checkpointMaxEntries: int(env, "SIDIAN_CHECKPOINT_MAX_ENTRIES", 1000, 1, 10_000_000, problems),
    logOrigin: env.SIDIAN_LOG_ORIGIN || "sidian.dev/log",
    idpIssuer: env.SIDIAN_IDP_ISSUER || "https://idp.dev.sidian.invalid",
    idpKeys: idpKeysOf(env, mode, problems),
    idpAudience: env.SIDIAN_IDP_AUDIENCE || "sidian",
    idpClaims: idpClaimsOf(env, problems),
    liveQrTtlSeconds: int(env, "SIDIAN_LIVE_QR_TTL", 300, 30, 3600, problems),
    trustProxy: trustProxyOf(env.SIDIAN_TRUST_PROXY, problems),
    redisUrl: redisUrlOf(env.SIDIAN_REDIS_URL, problems),
    signingTrustFile: env.SIDIAN_SIGNING_TRUST ? path.resolve(cwd, env.SIDIAN_SIGNING_TRUST) : null,
    trustLists: trustListsOf(env.SIDIAN_TRUST_LISTS, cwd, problems),
    signingReauthSeconds: int(env, "SIDIAN_SIGNING_REAUTH_SECONDS", 300, 30, 3600, problems),
    signingSealId: env.SIDIAN_SIGNING_SEAL?.trim() || null,
    metrics: oneOf(env, "SIDIAN_METRICS", ["on", "off"] as const, "on", problems),
    metricsAllow: cidrList("SIDIAN_METRICS_ALLOW", env.SIDIAN_METRICS_ALLOW, ["127.0.0.0/8", "::1/128"], problems),
    metricsTokenFile: env.SIDIAN_METRICS_TOKEN_FILE ? path.resolve(cwd, env.SIDIAN_METRICS_TOKEN_FILE) : null,
    otlpTracesUrl: otlpUrl(env, problems),
    otelServiceName: env.OTEL_SERVICE_NAME || "sidian",
  };
  if (/\s/.test(cfg.logOrigin) || cfg.logOrigin.length === 0) problems.push("SIDIAN_LOG_ORIGIN must be one line without spaces");
  if (problems.length > 0) {
    throw new AppError("CONFIG_INVALID", `Configuration is not valid:\n  - ${problems.join("\n  - ")}`, {
      details: { problems },
    });
  }
  return Object.freeze(cfg);
}
