/** Shared by the checker tests: run the checker on a bag directory (or zip) with the dev trust, in-thread PDF work. */
import type { Test } from "tap";
import { checkPackage, openDirectorySource, CHECK_LIMITS, type CheckReport, type CheckOptions } from "../../src/modules/archives/check/index.js";
import { inThreadPdfWork } from "../../src/pdf/pool.js";
import { devTrust } from "./fixture.js";

export async function checkDir(dir: string, o: Partial<CheckOptions> = {}): Promise<CheckReport> {
  const src = await openDirectorySource(dir, { ...CHECK_LIMITS, ...o.limits });
  try {
    return await checkPackage(src, { trust: await devTrust(), pdf: inThreadPdfWork(), ...o });
  } finally {
    await src.close();
  }
}

export const item = (r: CheckReport, id: string) => {
  const i = r.items.find((x) => x.id === id);
  if (!i) throw new Error(`no item ${id}`);
  return i;
};

export const failedIds = (r: CheckReport): string[] => r.items.filter((i) => i.result === "fail").map((i) => i.id).sort();

/** Asserts exactly these items failed, and each names `subject` among its failures. */
export function expectFailures(t: Test, r: CheckReport, expected: Record<string, string | RegExp>): void {
  t.same(failedIds(r), Object.keys(expected).sort(), `failed items: ${failedIds(r).join(", ")}`);
  for (const [id, subject] of Object.entries(expected)) {
    const i = r.items.find((x) => x.id === id);
    const names = i?.failures.map((f) => f.subject) ?? [];
    t.ok(names.some((n) => (typeof subject === "string" ? n === subject : subject.test(n))), `${id} names ${subject}: ${JSON.stringify(i?.failures.slice(0, 3))}`);
  }
}

/** The bag directory as a zip (the real writer of src/containers/zip), top-level folder = the bag's name. */
export async function zipDir(dir: string): Promise<Buffer> {
  const { PassThrough } = await import("node:stream");
  const fs = await import("node:fs");
  const path = await import("node:path");
  const { createZipWriter } = await import("../../src/containers/zip/index.js");
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on("data", (c: Buffer) => chunks.push(c));
  const zip = createZipWriter(out);
  const name = path.basename(dir);
  const walk = (rel: string): string[] => fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((d) => {
    const p = rel ? `${rel}/${d.name}` : d.name;
    return d.isDirectory() ? walk(p) : [p];
  });
  for (const p of walk("").sort()) await zip.addFile(`${name}/${p}`, fs.readFileSync(path.join(dir, p)));
  await zip.finish();
  out.end();
  return Buffer.concat(chunks);
}

export async function checkZip(zip: Uint8Array | string, o: Partial<CheckOptions> = {}): Promise<CheckReport> {
  const { openZipSource } = await import("../../src/modules/archives/check/index.js");
  const src = await openZipSource(zip, "package", { ...CHECK_LIMITS, ...o.limits });
  try {
    return await checkPackage(src, { trust: await devTrust(), pdf: inThreadPdfWork(), ...o });
  } finally {
    await src.close();
  }
}
