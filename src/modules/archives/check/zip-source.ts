/**
 * A package downloaded as a zip (docs/archives.md: one top-level folder, the bag's name), read with the bounded
 * reader of src/containers/zip: limits, unsafe names (`../`, absolute, drive letters), links and special files,
 * duplicates (also after NFC), encryption and zip bombs (declared sizes, ratio, inflation stopped at the declared
 * size) are judged when it opens. A zip the reader refuses for what its entries are (unsafe, link, duplicate, over
 * a size or ratio limit, encrypted) is a package that fails the security (or usability) check, with the entry
 * named; a file that is not a zip at all cannot be read (SourceError).
 */
import { AppError } from "../../../errors.js";
import { openZip, type ZipArchive, type ZipEntry } from "../../../containers/zip/index.js";
import type { CheckLimits } from "./limits.js";
import { collisions, nameProblem, SourceError, type EntryProblem, type PackageEntry, type PackageSource } from "./source.js";

/** Why the zip reader refused the archive as a whole: the item that fails and the entry it names. */
export interface Refusal {
  readonly item: "security.entries" | "usability.no-encryption";
  readonly entry: string;
  readonly detail: string;
}

export interface ZipPackageSource extends PackageSource {
  readonly refusal: Refusal | null;
}

const REFUSED_AS_CONTENT = new Set(["ZIP_UNSAFE_ENTRY", "ZIP_DUPLICATE_ENTRY", "ZIP_LIMIT_EXCEEDED", "ZIP_ENCRYPTED"]);

export async function openZipSource(input: string | Uint8Array, name: string, limits: CheckLimits): Promise<ZipPackageSource> {
  let zip: ZipArchive;
  try {
    zip = await openZip(input, {
      maxEntries: limits.maxEntries,
      maxNameBytes: limits.maxPathLength * 3,
      maxPathDepth: limits.maxDepth + 1,
      maxEntrySize: limits.maxEntryBytes,
      maxTotalSize: limits.maxTotalBytes,
      maxRatio: limits.maxCompressionRatio,
      maxReadBytes: Math.max(limits.maxTagFileBytes, limits.maxPdfBytes),
    });
  } catch (e) {
    if (e instanceof AppError && REFUSED_AS_CONTENT.has(e.code)) {
      const d = (e.details ?? {}) as { entry?: string; limit?: string };
      const refusal: Refusal = {
        item: e.code === "ZIP_ENCRYPTED" ? "usability.no-encryption" : "security.entries",
        entry: d.entry ?? name,
        detail: `${e.code}: ${e.message}`,
      };
      return { kind: "zip", name, files: [], problems: [{ entry: refusal.entry, detail: refusal.detail }], refusal, read: async () => Buffer.alloc(0), stream: async function* () {}, close: async () => undefined };
    }
    if (e instanceof AppError) throw new SourceError(`${e.code}: ${e.message}`);
    throw new SourceError((e as Error).message);
  }
  const problems: EntryProblem[] = [];
  const files: PackageEntry[] = [];
  const byPath = new Map<string, ZipEntry>();
  const tops = new Set(zip.entries.map((e) => e.name.split("/")[0]!));
  const top = tops.size === 1 ? [...tops][0]! : null;
  if (!top) problems.push({ entry: [...tops].slice(0, 5).join(", "), detail: "the zip does not hold exactly one top-level folder (the bag)" });
  for (const e of zip.entries) {
    if (e.isDirectory) continue;
    const rel = top && e.name.startsWith(`${top}/`) ? e.name.slice(top.length + 1) : null;
    if (rel === null) {
      problems.push({ entry: e.name, detail: "outside the bag's top-level folder" });
      continue;
    }
    const bad = nameProblem(rel, limits);
    if (bad) {
      problems.push({ entry: e.name, detail: bad });
      continue;
    }
    files.push({ path: rel, size: e.size });
    byPath.set(rel, e);
  }
  for (const i of zip.issues) problems.push({ entry: i.entries?.join(", ") ?? "(archive)", detail: `${i.check}: ${i.detail}` });
  // The reader reports case collisions itself; NFC/case collisions of the kept paths once more (cheap, and the
  // directory source does the same).
  if (!zip.issues.some((i) => i.check === "case-collision")) problems.push(...collisions(files.map((f) => f.path)));
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const entry = (p: string) => {
    const e = byPath.get(p);
    if (!e) throw new SourceError(`${p} is not a readable file of the package`);
    return e;
  };
  return {
    kind: "zip",
    name: (top ?? name).normalize("NFC"),
    files,
    problems,
    refusal: null,
    async read(p, max) {
      try {
        return await zip.readEntry(entry(p), max);
      } catch (e) {
        throw e instanceof AppError ? new SourceError(`${e.code}: ${e.message}`) : e;
      }
    },
    async *stream(p) {
      try {
        for await (const chunk of zip.openEntry(entry(p))) yield chunk as Buffer;
      } catch (e) {
        throw e instanceof AppError ? new SourceError(`${e.code}: ${e.message}`) : e;
      }
    },
    close: () => zip.close(),
  };
}
