/**
 * Metrics benchmark (issue 21 §4): what counting every request and being scraped costs.
 *
 * Two servers of the real app in child processes, one with SIDIAN_METRICS=off and one with metrics on and
 * `/metrics` scraped every second during the run (as Prometheus would, but ~15x more often than its default). Both
 * serve GET /healthz under the same load, alternated off, on, off, on; the figure is on/off in the same run.
 * Goal: metrics cost ≤ 5% (on ≥ 95% of off). The bare Fastify route is measured too, for scale.
 */
import { createMetrics } from "../src/metrics.js";
import { load, opsPerSecond, startServer, type Report } from "./lib.js";

const DURATION = Number(process.env.BENCH_METRICS_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_METRICS_ROUNDS ?? 3);

export async function run(report: Report): Promise<void> {
  const bare = await startServer("bare");
  const off = await startServer("sidian", { SIDIAN_METRICS: "off" });
  const on = await startServer("sidian", { SIDIAN_METRICS: "on" });
  try {
    const url = (c: { port: number }, p: string) => `http://127.0.0.1:${c.port}${p}`;
    const b = await load({ url: url(bare, "/bare"), duration: DURATION });
    report.add({ name: "bare Fastify route (scale)", value: b.rps, unit: "req/s", note: `p99 ${b.p99} ms` });
    // warm both
    await load({ url: url(off, "/healthz"), duration: 1 });
    await load({ url: url(on, "/healthz"), duration: 1 });
    const offRuns: number[] = [];
    const onRuns: number[] = [];
    let scrapes = 0;
    let scrapeBytes = 0;
    let scrapeFailures = 0;
    for (let round = 0; round < ROUNDS; round++) {
      offRuns.push((await load({ url: url(off, "/healthz"), duration: DURATION })).rps);
      const timer = setInterval(() => {
        fetch(url(on, "/metrics")).then(async (r) => {
          const text = await r.text();
          if (r.status === 200) {
            scrapes++;
            scrapeBytes = text.length;
          } else scrapeFailures++;
        }, () => scrapeFailures++);
      }, 1000);
      try {
        onRuns.push((await load({ url: url(on, "/healthz"), duration: DURATION })).rps);
      } finally {
        clearInterval(timer);
      }
    }
    const mean = (xs: number[]) => xs.reduce((a, c) => a + c, 0) / xs.length;
    // Medians: on this shared machine one 5-second run now and then collapses for reasons of its own.
    const median = (xs: number[]) => [...xs].sort((a, c) => a - c)[Math.floor(xs.length / 2)]!;
    // Each on-run against the off-run just before it: the machine's drift between pairs cancels out.
    const pairs = onRuns.map((v, i) => v / offRuns[i]!).sort((a, c) => a - c);
    const medianPair = pairs[Math.floor(pairs.length / 2)]!;
    const OFF = "GET /healthz, metrics off (baseline)";
    report.add({ name: OFF, value: median(offRuns), unit: "req/s", baseline: "bare Fastify route (scale)", note: `runs: ${offRuns.map(Math.round).join(", ")}` });
    report.add({
      name: "GET /healthz, metrics on, /metrics scraped every 1 s", value: median(onRuns), unit: "req/s", baseline: OFF, goal: "≥ 95% of metrics off",
      note: `runs: ${onRuns.map(Math.round).join(", ")}; on/off of each alternated pair: ${pairs.map((x) => `${(x * 100).toFixed(1)}%`).join(", ")} (median ${(medianPair * 100).toFixed(1)}%); ${scrapes} scrapes of ${scrapeBytes} B${scrapeFailures ? `, ${scrapeFailures} failed` : ""}`,
    });
    // What counting costs one request, measured alone (no load generator in the way): the ratio to the time one
    // request of the metrics-off server takes is the part of the throughput metrics can cost at most.
    const m = createMetrics({ defaultMetrics: false });
    const key = {};
    let i = 0;
    const perSecond = await opsPerSecond(() => {
      for (let k = 0; k < 100; k++) m.request(key, "GET", "/healthz", 200, 0.0004 + (i++ % 7) * 0.0003, undefined);
    });
    const nsPerRequest = 1e9 / (perSecond * 100);
    report.add({
      name: "counting one request (metrics.request), in-process", value: nsPerRequest, unit: "ns",
      note: `${((nsPerRequest / 1e9) * mean(offRuns) * 100).toFixed(2)}% of a second of the metrics-off server's requests (${Math.round(1e9 / mean(offRuns) / 1000)} µs each); onResponse hook and scrapes come on top`,
    });
  } finally {
    await Promise.all([bare.stop(), off.stop(), on.stop()]);
  }
}
