/**
 * Where a package's bytes come from: a bag directory or a zip (one top-level folder, the bag's name). A source lists
 * its entries once (bounded: count, path length, depth) and reports entries it will not use as problems: links,
 * devices, path traversal, absolute or non-NFC names, names that collide, entries over a size limit. Reading is by
 * bag-relative path, whole (bounded) or streamed.
 */
import fs from "node:fs";
import path from "node:path";
import { CHECK_LIMITS, type CheckLimits } from "./limits.js";

export interface PackageEntry {
  /** Bag-relative path, `/`-separated (e.g. `data/materials/m1/申请表.pdf`). */
  readonly path: string;
  readonly size: number;
}

/** An entry the source refuses to read, and why (security.entries reports each). */
export interface EntryProblem {
  readonly entry: string;
  readonly detail: string;
}

export interface PackageSource {
  readonly kind: "zip" | "directory";
  /** The bag's name. */
  readonly name: string;
  /** Regular files that may be read, in path order. */
  readonly files: readonly PackageEntry[];
  readonly problems: readonly EntryProblem[];
  /** Whole file, at most `max` bytes (throws SourceError over it). */
  read(p: string, max: number): Promise<Buffer>;
  /** The file's bytes in chunks. */
  stream(p: string): AsyncIterable<Buffer>;
  close(): Promise<void>;
}

/** The package cannot be read at all (not a bag directory or zip, unreadable, over a limit as a whole). */
export class SourceError extends Error {
  constructor(message: string, readonly limit?: string) {
    super(message);
    this.name = "SourceError";
  }
}

/** Checks one bag-relative name; returns why it may not be used, or null. Shared by the directory and zip sources. */
export function nameProblem(p: string, limits: CheckLimits): string | null {
  if (p.length === 0) return "empty name";
  if (p.length > limits.maxPathLength) return `path longer than ${limits.maxPathLength} characters`;
  if (p.startsWith("/") || /^[A-Za-z]:/.test(p)) return "absolute path";
  if (p.includes("\\")) return "backslash in the name (a Windows path separator)";
  const parts = p.split("/");
  if (parts.some((s) => s === ".." )) return "path traversal (..)";
  if (parts.some((s) => s === "." || s === "")) return "empty or '.' path segment";
  if (parts.length > limits.maxDepth) return `deeper than ${limits.maxDepth} folders`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(p)) return "control character in the name";
  if (p.normalize("NFC") !== p) return "name not in Unicode NFC";
  return null;
}

/** Names that differ only by case or Unicode form collide when extracted on common file systems. */
export function collisions(paths: readonly string[]): EntryProblem[] {
  const seen = new Map<string, string>();
  const out: EntryProblem[] = [];
  for (const p of paths) {
    const k = p.normalize("NFC").toLowerCase();
    const prev = seen.get(k);
    if (prev !== undefined) out.push({ entry: p, detail: `collides with ${prev} (same name once normalised and case-folded)` });
    else seen.set(k, p);
  }
  return out;
}

/** A bag directory on disk. Symbolic links and special files are listed as problems, never followed. */
export async function openDirectorySource(dir: string, limits: CheckLimits): Promise<PackageSource> {
  let st: fs.Stats;
  try {
    st = await fs.promises.lstat(dir);
  } catch (e) {
    throw new SourceError(`${dir} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!st.isDirectory()) throw new SourceError(`${dir} is not a directory`);
  const root = path.resolve(dir);
  const files: PackageEntry[] = [];
  const problems: EntryProblem[] = [];
  let count = 0;
  let total = 0;
  const walk = async (rel: string, depth: number): Promise<void> => {
    let list: fs.Dirent[];
    try {
      list = await fs.promises.readdir(path.join(root, rel), { withFileTypes: true });
    } catch (e) {
      throw new SourceError(`${rel || "."} cannot be listed: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const d of list) {
      if (++count > limits.maxEntries) throw new SourceError(`more than ${limits.maxEntries} entries (maxEntries)`, "maxEntries");
      const p = rel ? `${rel}/${d.name}` : d.name;
      const bad = nameProblem(p, limits);
      if (bad) {
        problems.push({ entry: p, detail: bad });
        continue;
      }
      if (d.isSymbolicLink()) {
        let target = "?";
        try {
          target = await fs.promises.readlink(path.join(root, p));
        } catch {
          // unreadable link: still a link
        }
        problems.push({ entry: p, detail: `symbolic link (to ${target}); links are not followed` });
      } else if (d.isDirectory()) {
        if (depth + 1 > limits.maxDepth) problems.push({ entry: p, detail: `deeper than ${limits.maxDepth} folders` });
        else await walk(p, depth + 1);
      } else if (d.isFile()) {
        const s = await fs.promises.lstat(path.join(root, p));
        if (s.nlink > 1) problems.push({ entry: p, detail: `hard link (${s.nlink} names for one file)` });
        if (s.size > limits.maxEntryBytes) {
          problems.push({ entry: p, detail: `${s.size} bytes, over maxEntryBytes (${limits.maxEntryBytes})` });
          continue;
        }
        total += s.size;
        if (total > limits.maxTotalBytes) throw new SourceError(`more than ${limits.maxTotalBytes} bytes in all (maxTotalBytes)`, "maxTotalBytes");
        files.push({ path: p, size: s.size });
      } else {
        problems.push({ entry: p, detail: "not a regular file (device, pipe or socket)" });
      }
    }
  };
  await walk("", 0);
  problems.push(...collisions(files.map((f) => f.path)));
  const sizes = new Map(files.map((f) => [f.path, f.size]));
  const full = (p: string) => {
    if (!sizes.has(p)) throw new SourceError(`${p} is not a readable file of the package`);
    return path.join(root, p);
  };
  return {
    kind: "directory",
    name: path.basename(root).normalize("NFC"),
    files,
    problems,
    async read(p, max) {
      const size = sizes.get(p);
      if (size !== undefined && size > max) throw new SourceError(`${p} is ${size} bytes, over the limit of ${max}`);
      const fh = await fs.promises.open(full(p), fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0));
      try {
        const buf = Buffer.alloc(Math.min(size ?? max, max) + 1);
        let n = 0;
        while (n < buf.length) {
          const r = await fh.read(buf, n, buf.length - n, n);
          if (r.bytesRead === 0) break;
          n += r.bytesRead;
        }
        if (n > max) throw new SourceError(`${p} grew over the limit of ${max} bytes while being read`);
        return buf.subarray(0, n);
      } finally {
        await fh.close();
      }
    },
    async *stream(p) {
      const fh = await fs.promises.open(full(p), fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0));
      try {
        const buf = Buffer.allocUnsafe(1 << 20);
        for (;;) {
          const r = await fh.read(buf, 0, buf.length, null);
          if (r.bytesRead === 0) break;
          yield Buffer.from(buf.subarray(0, r.bytesRead));
        }
      } finally {
        await fh.close();
      }
    },
    async close() {},
  };
}

/** A package named on the command line or stored: a bag directory, or a zip file. */
export async function openPackage(p: string, limits: CheckLimits = CHECK_LIMITS): Promise<PackageSource> {
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(p);
  } catch (e) {
    throw new SourceError(`${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file or directory" : (e as Error).message}`);
  }
  if (st.isDirectory()) return openDirectorySource(p, limits);
  if (!st.isFile()) throw new SourceError("neither a bag directory nor a zip file");
  const { openZipSource } = await import("./zip-source.js");
  return openZipSource(p, path.basename(p).replace(/\.zip$/i, ""), limits);
}
