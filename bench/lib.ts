/**
 * Bench helpers: a report that collects figures with their in-run baselines, timers, and autocannon against a
 * server running in a child process (so load generator and server do not share one event loop).
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";

export interface Figure {
  bench: string;
  name: string;
  value: number;
  unit: string;
  /** Name of the in-run baseline figure this one is compared with. */
  baseline?: string;
  /** value / baseline value (for throughput) or baseline / value (for latency: higher is better either way). */
  ratio?: number;
  goal?: string;
  note?: string;
}

export class Report {
  readonly figures: Figure[] = [];
  constructor(readonly bench: string) {}
  add(f: Omit<Figure, "bench">): Figure {
    const full = { bench: this.bench, ...f };
    if (f.baseline) {
      const b = this.figures.find((x) => x.name === f.baseline);
      if (b && b.value > 0) full.ratio = Number((f.value / b.value).toFixed(3));
    }
    this.figures.push(full);
    const ratio = full.ratio !== undefined ? `  (${(full.ratio * 100).toFixed(1)}% of ${f.baseline})` : "";
    console.log(`  ${f.name.padEnd(48)} ${fmt(f.value).padStart(12)} ${f.unit}${ratio}${f.goal ? `  goal: ${f.goal}` : ""}`);
    return full;
  }
}

export function fmt(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(n >= 10 ? 1 : 3);
}

/** Runs `fn` repeatedly for about `ms` milliseconds (after a warm-up) and returns operations per second. */
export async function opsPerSecond(fn: () => unknown | Promise<unknown>, ms = 1500): Promise<number> {
  for (let i = 0; i < 200; i++) await fn();
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < ms) {
    for (let i = 0; i < 50; i++) await fn();
    n += 50;
  }
  return n / ((performance.now() - start) / 1000);
}

/** Times each call; returns median and p99 in milliseconds. */
export async function latencies(fn: (i: number) => unknown | Promise<unknown>, count: number): Promise<{ median: number; p99: number; mean: number }> {
  const t: number[] = [];
  for (let i = 0; i < count; i++) {
    const s = performance.now();
    await fn(i);
    t.push(performance.now() - s);
  }
  t.sort((a, b) => a - b);
  return { median: t[Math.floor(t.length / 2)]!, p99: t[Math.min(t.length - 1, Math.floor(t.length * 0.99))]!, mean: t.reduce((a, b) => a + b, 0) / t.length };
}

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  /** Requests answered in all. */
  total: number;
}

export async function load(opts: { url: string; method?: "GET" | "POST"; headers?: Record<string, string>; body?: string; connections?: number; duration?: number }): Promise<LoadResult> {
  const r = await autocannon({
    url: opts.url,
    method: opts.method ?? "GET",
    headers: opts.headers ?? {},
    ...(opts.body !== undefined ? { body: opts.body } : {}),
    connections: opts.connections ?? 50,
    duration: opts.duration ?? 5,
  });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors, non2xx: r.non2xx, total: r.requests.total };
}

/** CPU time (user + system) a process has used, in ms (Linux /proc; ticks of 10 ms). */
export function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields from the 3rd (state) on
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
}

const here = path.dirname(fileURLToPath(import.meta.url));

export interface Child {
  port: number;
  info: Record<string, string>;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `bench/serve.ts <kind>` in a child process and waits for its `READY {json}` line. */
export async function startServer(kind: string, env: Record<string, string> = {}): Promise<Child> {
  // BENCH_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the server process.
  const extra = (process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const proc = spawn(process.execPath, [...extra, "--import", "tsx", path.join(here, "serve.ts"), kind], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const rl = readline.createInterface({ input: proc.stdout! });
  const info = await new Promise<Record<string, string>>((resolve, reject) => {
    proc.once("exit", (code) => reject(new Error(`bench server ${kind} exited with ${code}`)));
    rl.on("line", (line) => {
      if (line.startsWith("READY ")) resolve(JSON.parse(line.slice(6)));
    });
  });
  return {
    port: Number(info.port),
    info,
    proc,
    stop: () => new Promise((res) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return res();
      proc.once("exit", () => res());
      proc.kill("SIGTERM");
    }),
  };
}

export function writeResults(figures: Figure[]): void {
  const dir = path.join(here, "results");
  fs.mkdirSync(dir, { recursive: true });
  const meta = { at: new Date().toISOString(), node: process.version, cpus: (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? null };
  fs.writeFileSync(path.join(dir, "latest.json"), JSON.stringify({ ...meta, figures }, null, 2) + "\n");
  const lines = ["| bench | figure | value | unit | vs baseline | goal |", "|---|---|---:|---|---:|---|"];
  for (const f of figures) {
    lines.push(`| ${f.bench} | ${f.name} | ${fmt(f.value)} | ${f.unit} | ${f.ratio !== undefined ? `${(f.ratio * 100).toFixed(1)}% of ${f.baseline}` : ""} | ${f.goal ?? ""} |`);
  }
  fs.writeFileSync(path.join(dir, "latest.md"), `Measured ${meta.at} on Node ${meta.node}.\n\n${lines.join("\n")}\n`);
}

export interface OpenLoopResult {
  /** Requests answered per second (should match the offered rate). */
  rps: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  non2xx: number;
}

/**
 * Open-loop load: POSTs `bodies` (rotating) at a fixed `rate` per second for `duration` seconds, whatever the
 * server's pace, and times each request from when it was due, not from when it was sent, so a stall shows in the
 * figures of every request it delayed (no coordinated omission). Autocannon's fixed-rate mode sends in bursts, so
 * this is a small loop of its own over keep-alive sockets. Latencies in milliseconds, of the requests answered;
 * failed ones (and any not answered within 30 s) count as errors.
 */
export async function openLoop(opts: { url: string; headers?: Record<string, string>; bodies: string[]; rate: number; duration: number; sockets?: number }): Promise<OpenLoopResult> {
  const { request, Agent } = await import("node:http");
  const agent = new Agent({ keepAlive: true, maxSockets: opts.sockets ?? 256 });
  const u = new URL(opts.url);
  const total = Math.round(opts.rate * opts.duration);
  if (!(total > 0)) throw new RangeError("openLoop: rate × duration must be at least one request");
  const lat: number[] = [];
  let errors = 0;
  let non2xx = 0;
  let k = 0;
  const start = performance.now();
  await new Promise<void>((resolve) => {
    let sent = 0;
    let settled = 0;
    const done = () => {
      if (++settled === total) resolve();
    };
    const fire = (due: number) => {
      const body = opts.bodies[k++ % opts.bodies.length]!;
      let over = false;
      const finish = (ok: boolean, status?: number) => {
        if (over) return;
        over = true;
        if (ok) {
          lat.push(performance.now() - due);
          if (status === undefined || status >= 300) non2xx++;
        } else errors++;
        done();
      };
      const req = request({
        agent, host: u.hostname, port: u.port, path: u.pathname, method: "POST",
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...opts.headers },
      }, (res) => {
        res.resume();
        res.on("end", () => finish(true, res.statusCode));
        // A response cut off after its headers: counted as an error (not in the latencies), never waited for.
        res.on("error", () => finish(false));
      });
      req.setTimeout(30_000, () => req.destroy(new Error("timeout")));
      req.on("error", () => finish(false));
      req.end(body);
    };
    const tick = () => {
      const now = performance.now();
      // Every request due by now is sent now, timed from its due time.
      while (sent < total && start + (sent * 1000) / opts.rate <= now) fire(start + (sent++ * 1000) / opts.rate);
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  lat.sort((a, b) => a - b);
  const at = (q: number) => Number((lat[Math.min(lat.length - 1, Math.floor(lat.length * q))] ?? NaN).toFixed(2));
  return { rps: lat.length / elapsed, p50: at(0.5), p99: at(0.99), max: Number((lat[lat.length - 1] ?? NaN).toFixed(2)), errors, non2xx };
}
