/**
 * Prometheus metrics (prom-client, one registry per service instance; GET /metrics, see http/plugins/metrics.ts).
 *
 * Series (all prefixed `sidian_`):
 *   http_requests_total{method,route,status}        requests answered, by route template (never the raw URL)
 *   http_request_duration_seconds{method,route}     latency histogram (time to the last byte handed to the socket)
 *   http_errors_total{code}                         problem answers by stable error code (docs/errors.md)
 *   signatures_total{key,profile,backend}           signatures made: key = issuing-ca | tsa | token | log | a
 *                                                   department key purpose (licence-signing, seal, signer);
 *                                                   profile = p256 | ed25519 (| sm2); backend = file | pkcs11
 *   signature_failures_total{key,backend}           signatures that failed (a token away, a key missing)
 *   signature_duration_seconds{backend}             time per signature (a PKCS#11 round trip for pkcs11)
 *   log_size                                        entries in the transparency log
 *   log_checkpoint_size / log_checkpoint_age_seconds  the newest signed checkpoint and how old it is
 *   db_write_wait_seconds / db_write_seconds        write transactions: waiting for the write lock, holding it
 *   db_commit_durable_seconds                       a commit's wait for its fdatasync (SIDIAN_DB_SYNC=grouped)
 *   db_writers_waiting                              write transactions queued for the write lock
 *   queue_depth{queue}                              seal_worker (licences being signed on the worker),
 *                                                   access_records (免证办 access records waiting for their group
 *                                                   commit), scan_records (QR scan statistics not yet written)
 *   keystore_up{backend}                            1 when the key store can sign (0: the PKCS#11 token is away)
 *   idp_keys{source} / idp_keys_age_seconds / idp_refresh_ok  the identity provider's keys: how many, how old,
 *                                                   whether the last fetch worked (a provider that is down)
 * plus prom-client's process and Node.js metrics (CPU, memory, event-loop lag, GC) with the same prefix.
 *
 * Scrape-time values (log, queues, key store) are read by `collect` callbacks when /metrics is asked, so nothing is
 * computed between scrapes.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { SignObserver } from "./pki/signing-key.js";
import { profileOf } from "./pki/signing-key.js";
import type { StoreObserver } from "./storage/db.js";

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const SIGN_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5];

export interface ScrapeSources {
  logSize?(): Promise<number> | number;
  latestCheckpoint?(): Promise<{ size: number; createdAt: Date } | null>;
  writersWaiting?(): number;
  queues?: Record<string, () => number>;
  keystore?: { backend: string; up(): boolean };
  idp?(): { source: string; keys: number; fetchedAt: Date | null; lastError: string | null };
  now?(): Date;
}

export interface Metrics {
  readonly registry: Registry;
  /**
   * Counts one answered request (the HTTP plugin calls this from onResponse). `routeKey` is an object that is the
   * same for every request of one route and method (Fastify's route config): it finds the route's counters without
   * building a string.
   */
  request(routeKey: object | undefined, method: string, route: string, status: number, seconds: number, errorCode: string | undefined): void;
  readonly onSign: SignObserver;
  /** Signatures made elsewhere (the seal worker's batches): `n` at once. */
  signedBatch(key: string, alg: "ES256" | "Ed25519" | "SM2", backend: string, n: number): void;
  readonly store: StoreObserver;
  /** Wires the scrape-time sources (after the services exist). */
  attach(sources: ScrapeSources): void;
  text(): Promise<string>;
  readonly contentType: string;
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  const p = "sidian_";
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: p });

  const requestStats = new RequestStats(`${p}http_requests_total`, `${p}http_request_duration_seconds`, LATENCY_BUCKETS);
  registry.registerMetric(requestStats.countMetric() as never);
  registry.registerMetric(requestStats.latencyMetric() as never);
  const errors = new Counter({ name: `${p}http_errors_total`, help: "Problem answers by stable error code (docs/errors.md).", labelNames: ["code"] as const, registers: [registry] });
  const signatures = new Counter({ name: `${p}signatures_total`, help: "Signatures made, by key (role or purpose), crypto profile and key-store backend.", labelNames: ["key", "profile", "backend"] as const, registers: [registry] });
  const signFailures = new Counter({ name: `${p}signature_failures_total`, help: "Signatures that failed, by key and backend.", labelNames: ["key", "backend"] as const, registers: [registry] });
  const signTime = new Histogram({ name: `${p}signature_duration_seconds`, help: "Time per signature, seconds, by key-store backend.", labelNames: ["backend"] as const, buckets: SIGN_BUCKETS, registers: [registry] });
  const writeWait = new Histogram({ name: `${p}db_write_wait_seconds`, help: "Write transactions: time waiting for the write lock, seconds.", buckets: LATENCY_BUCKETS, registers: [registry] });
  const writeHold = new Histogram({ name: `${p}db_write_seconds`, help: "Write transactions: time holding the write lock (BEGIN to COMMIT), seconds.", labelNames: ["outcome"] as const, buckets: LATENCY_BUCKETS, registers: [registry] });
  const durable = new Histogram({ name: `${p}db_commit_durable_seconds`, help: "A commit's wait for the fdatasync that makes it durable, seconds.", labelNames: ["outcome"] as const, buckets: LATENCY_BUCKETS, registers: [registry] });

  let sources: ScrapeSources = {};
  new Gauge({
    name: `${p}log_size`, help: "Entries in the transparency log.", registers: [registry],
    async collect() {
      if (sources.logSize) this.set(await sources.logSize());
    },
  });
  // Both checkpoint gauges read the newest checkpoint once per scrape (their collects run side by side).
  let cpRead: { at: number; p: Promise<{ size: number; createdAt: Date } | null> } | null = null;
  const newestCheckpoint = () => {
    const now = Date.now();
    if (!cpRead || now - cpRead.at > 250) cpRead = { at: now, p: sources.latestCheckpoint ? sources.latestCheckpoint() : Promise.resolve(null) };
    return cpRead.p;
  };
  new Gauge({
    name: `${p}log_checkpoint_size`, help: "Tree size of the newest signed checkpoint.", registers: [registry],
    async collect() {
      const cp = await newestCheckpoint();
      if (cp) this.set(cp.size);
    },
  });
  new Gauge({
    name: `${p}log_checkpoint_age_seconds`, help: "Age of the newest signed checkpoint, seconds.", registers: [registry],
    async collect() {
      const cp = await newestCheckpoint();
      if (cp) this.set(((sources.now?.() ?? new Date()).getTime() - cp.createdAt.getTime()) / 1000);
    },
  });
  new Gauge({
    name: `${p}db_writers_waiting`, help: "Write transactions waiting for the write lock.", registers: [registry],
    collect() {
      if (sources.writersWaiting) this.set(sources.writersWaiting());
    },
  });
  new Gauge({
    name: `${p}queue_depth`, help: "Work waiting in the service's queues.", labelNames: ["queue"] as const, registers: [registry],
    collect() {
      for (const [q, fn] of Object.entries(sources.queues ?? {})) this.set({ queue: q }, fn());
    },
  });
  new Gauge({
    name: `${p}idp_keys`, help: "Identity-provider keys in use (holder tokens).", labelNames: ["source"] as const, registers: [registry],
    collect() {
      const st = sources.idp?.();
      if (st) this.set({ source: st.source }, st.keys);
    },
  });
  new Gauge({
    name: `${p}idp_keys_age_seconds`, help: "Age of the identity provider's keys as last fetched (OIDC), seconds.", registers: [registry],
    collect() {
      const st = sources.idp?.();
      if (st?.fetchedAt) this.set(((sources.now?.() ?? new Date()).getTime() - st.fetchedAt.getTime()) / 1000);
    },
  });
  new Gauge({
    name: `${p}idp_refresh_ok`, help: "1 when the last fetch of the identity provider's keys worked (OIDC), 0 when it failed.", registers: [registry],
    collect() {
      const st = sources.idp?.();
      if (st && st.source === "oidc") this.set(st.lastError === null ? 1 : 0);
    },
  });
  new Gauge({
    name: `${p}keystore_up`, help: "1 when the key store can sign, 0 when it cannot (the PKCS#11 token is away).", labelNames: ["backend"] as const, registers: [registry],
    collect() {
      if (sources.keystore) this.set({ backend: sources.keystore.backend }, sources.keystore.up() ? 1 : 0);
    },
  });

  const onSign: SignObserver = (e) => {
    if (e.ok) {
      signatures.inc({ key: e.role, profile: profileOf(e.alg), backend: e.backend });
      signTime.observe({ backend: e.backend }, e.seconds);
    } else signFailures.inc({ key: e.role, backend: e.backend });
  };

  return {
    registry,
    request(routeKey, method, route, status, seconds, errorCode) {
      requestStats.add(routeKey, method, route, status, seconds);
      if (errorCode !== undefined) errors.inc({ code: errorCode });
    },
    onSign,
    signedBatch(key, alg, backend, n) {
      if (n > 0) signatures.inc({ key, profile: profileOf(alg), backend }, n);
    },
    store: {
      write(wait, hold, ok) {
        writeWait.observe(wait);
        writeHold.observe({ outcome: ok ? "commit" : "rollback" }, hold);
      },
      sync(seconds, ok) {
        durable.observe({ outcome: ok ? "ok" : "failed" }, seconds);
      },
    },
    attach(s) {
      sources = s;
    },
    text: () => registry.metrics(),
    contentType: registry.contentType,
  };
}

/**
 * Requests by route and status and their latency histogram, kept in plain arrays per route (prom-client's own
 * Counter and Histogram hash their label object on every call: that was most of what metrics cost a cheap route)
 * and turned into prom-client metric objects when /metrics is asked.
 */
class RequestStats {
  private readonly byKey = new WeakMap<object, RouteStats>();
  private readonly byName = new Map<string, RouteStats>();
  private readonly all: RouteStats[] = [];
  constructor(readonly countName: string, readonly latencyName: string, readonly buckets: readonly number[]) {}

  add(routeKey: object | undefined, method: string, route: string, status: number, seconds: number): void {
    let r = routeKey ? this.byKey.get(routeKey) : undefined;
    if (!r) {
      const name = `${method} ${route}`;
      r = this.byName.get(name);
      if (!r) {
        // Route templates are bounded (unmatched URLs all count as one); the cap only guards a mistake.
        if (this.all.length >= 5000) return;
        r = { method, route, statuses: new Map(), buckets: new Float64Array(this.buckets.length), sum: 0, count: 0 };
        this.byName.set(name, r);
        this.all.push(r);
      }
      if (routeKey) this.byKey.set(routeKey, r);
    }
    r.statuses.set(status, (r.statuses.get(status) ?? 0) + 1);
    r.sum += seconds;
    r.count++;
    const b = this.buckets;
    for (let i = 0; i < b.length; i++) {
      if (seconds <= b[i]!) {
        r.buckets[i]!++;
        break;
      }
    }
  }

  countMetric() {
    return {
      name: this.countName, help: "HTTP requests answered, by route template and status.", type: "counter", aggregator: "sum",
      get: async () => ({
        name: this.countName, help: "HTTP requests answered, by route template and status.", type: "counter", aggregator: "sum",
        values: this.all.flatMap((r) => [...r.statuses].map(([status, n]) => ({ labels: { method: r.method, route: r.route, status: String(status) }, value: n }))),
      }),
      reset: () => undefined,
    };
  }

  latencyMetric() {
    return {
      name: this.latencyName, help: "HTTP request latency, seconds.", type: "histogram", aggregator: "sum",
      get: async () => ({
        name: this.latencyName, help: "HTTP request latency, seconds.", type: "histogram", aggregator: "sum",
        values: this.all.flatMap((r) => {
          const labels = { method: r.method, route: r.route };
          let acc = 0;
          const out = this.buckets.map((le, i) => {
            acc += r.buckets[i]!;
            return { labels: { ...labels, le }, value: acc, metricName: `${this.latencyName}_bucket` };
          });
          out.push({ labels: { ...labels, le: "+Inf" as unknown as number }, value: r.count, metricName: `${this.latencyName}_bucket` });
          return [...out, { labels, value: r.sum, metricName: `${this.latencyName}_sum` }, { labels, value: r.count, metricName: `${this.latencyName}_count` }];
        }),
      }),
      reset: () => undefined,
    };
  }
}

interface RouteStats {
  readonly method: string;
  readonly route: string;
  readonly statuses: Map<number, number>;
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}
