/**
 * The one pass over a package's bytes: tag files read whole (bounded), every file streamed once through SHA-256
 * and SM3 (and clamd when configured), its first bytes kept for format sniffing, and the files whose content is
 * examined (PDFs, images, JSON, JWS; each bounded) handed to their examiners as they arrive — PDFs to the worker
 * pool (src/pdf/pool.ts) with a bounded number in flight, so memory stays bounded whatever the package's size.
 */
import crypto from "node:crypto";
import { AppError } from "../../../errors.js";
import type { PdfVerdict, VerifyPdfDeps } from "../../../pdf/verify.js";
import type { PdfWork } from "../../../pdf/pool.js";
import { clamdSession, type ClamdConfig, type ClamdVerdict } from "./clamd.js";
import { checkJpeg, checkPng, formatOfExtension, sniff, type Sniffed } from "./formats.js";
import type { CheckLimits } from "./limits.js";
import { SourceError, type PackageSource } from "./source.js";
import { createSm3Hasher } from "./sm3-worker.js";

/** Tag files of the layout (docs/archives.md); `signature/renewal-<n>.tsr` are matched by pattern. */
export const TAG_FILES = [
  "bagit.txt", "bag-info.txt", "manifest-sha256.txt", "manifest-sm3.txt", "tagmanifest-sha256.txt",
  "metadata/case.xml", "metadata/case.json", "metadata/events.json", "metadata/checkpoint.txt", "metadata/log-keys.json",
  "signature/tagmanifest-sha256.txt.p7s",
] as const;
export const RENEWAL_RE = /^signature\/renewal-([1-9][0-9]{0,5})\.tsr$/;
export const isTagFile = (p: string): boolean => (TAG_FILES as readonly string[]).includes(p) || RENEWAL_RE.test(p);

export interface FileFacts {
  size: number;
  sha256: string;
  sm3: string;
  sniffed: Sniffed;
  sniffDetail?: string;
}

/** What examining one file's content found: a problem per concern (null = fine / not examined). */
export interface ContentFacts {
  /** The file does not open as its format says. */
  unreadable?: string;
  encrypted?: string;
  pdf?: PdfVerdict;
  /** A PDF or JSON that was not examined (over a limit, pool refused). */
  notExamined?: string;
  /** A JWS's text (verified by authenticity.jws). */
  jws?: string;
}

export interface Progress {
  files: number;
  totalFiles: number;
  bytes: number;
  totalBytes: number;
  path: string;
}

export interface ScanOptions {
  limits: CheckLimits;
  pdf: PdfWork;
  pdfDeps: VerifyPdfDeps;
  /** PDFs validated at once (each holds its bytes while it waits). */
  pdfConcurrency: number;
  clamd: ClamdConfig | null;
  progress?: (p: Progress) => void;
  /** SM3 on a second thread for big files (default true). */
  sm3Thread?: boolean;
  /** Claimed format of a file (metadata), else by extension. */
  claimedFormat(path: string): string | null;
}

export interface Scan {
  source: PackageSource;
  tags: Map<string, Buffer>;
  /** Tag files that could not be read (over maxTagFileBytes, read error). */
  tagErrors: Map<string, string>;
  facts: Map<string, FileFacts>;
  content: Map<string, ContentFacts>;
  /** Files whose bytes could not be read to the end (damaged zip entry, bomb, I/O error). */
  readErrors: Map<string, string>;
  virus: Map<string, ClamdVerdict>;
}

/** Reads the tag files (whole, bounded). */
export async function readTags(source: PackageSource, limits: CheckLimits): Promise<Pick<Scan, "tags" | "tagErrors">> {
  const tags = new Map<string, Buffer>();
  const tagErrors = new Map<string, string>();
  for (const f of source.files) {
    if (!isTagFile(f.path)) continue;
    if (f.size > limits.maxTagFileBytes) {
      tagErrors.set(f.path, `${f.size} bytes, over maxTagFileBytes (${limits.maxTagFileBytes})`);
      continue;
    }
    try {
      tags.set(f.path, await source.read(f.path, limits.maxTagFileBytes));
    } catch (e) {
      tagErrors.set(f.path, (e as Error).message);
    }
  }
  return { tags, tagErrors };
}

const COLLECT = new Set(["application/pdf", "image/png", "image/jpeg", "application/json", "application/jose"]);

export async function scanPackage(source: PackageSource, tagsRead: Pick<Scan, "tags" | "tagErrors">, o: ScanOptions): Promise<Scan> {
  const scan: Scan = { source, ...tagsRead, facts: new Map(), content: new Map(), readErrors: new Map(), virus: new Map() };
  const totalBytes = source.files.reduce((s, f) => s + f.size, 0);
  let bytes = 0;
  let n = 0;
  const inFlight = new Set<Promise<void>>();
  const examine = (path: string, claimed: string | null, buf: Buffer) => {
    const p = examineContent(claimed, buf, o).then((c) => void scan.content.set(path, c));
    const q = p.finally(() => inFlight.delete(q));
    inFlight.add(q);
  };
  // SM3 on a second thread for files worth it; SHA-256 here.
  const sm3Worker = o.sm3Thread !== false && source.files.some((f) => f.size >= 4 * 1024 * 1024) ? createSm3Hasher() : null;
  let fileId = 0;
  try {
  for (const f of source.files) {
    const claimed = o.claimedFormat(f.path) ?? formatOfExtension(f.path);
    const id = ++fileId;
    const sha = crypto.createHash("sha256");
    const offload = sm3Worker !== null && f.size >= 256 * 1024;
    const sm3 = offload ? null : crypto.createHash("sm3");
    const clam = o.clamd ? clamdSession(o.clamd) : null;
    const limit = claimed === "application/pdf" ? o.limits.maxPdfBytes : claimed === "application/json" ? o.limits.maxJsonBytes
      : claimed === "application/jose" ? o.limits.maxJwsBytes : o.limits.maxPdfBytes;
    const keep = claimed !== null && COLLECT.has(claimed) && f.path.startsWith("data/") && f.size <= limit;
    const chunks: Buffer[] = [];
    let head = Buffer.alloc(0);
    let size = 0;
    try {
      for await (const chunk of source.stream(f.path)) {
        size += chunk.length;
        if (size > o.limits.maxEntryBytes) throw new SourceError(`more than maxEntryBytes (${o.limits.maxEntryBytes}) bytes`, "maxEntryBytes");
        sha.update(chunk);
        if (sm3) sm3.update(chunk);
        else await sm3Worker!.update(id, chunk);
        if (head.length < 64) head = Buffer.concat([head, chunk.subarray(0, 64 - head.length)]);
        if (keep) chunks.push(chunk);
        if (clam) await clam.write(chunk);
        bytes += chunk.length;
      }
    } catch (e) {
      clam?.abort();
      if (offload) await sm3Worker!.digest(id).catch(() => undefined);
      scan.readErrors.set(f.path, e instanceof SourceError || e instanceof AppError ? e.message : `read error: ${(e as Error).message}`);
      o.progress?.({ files: ++n, totalFiles: source.files.length, bytes, totalBytes, path: f.path });
      continue;
    }
    if (clam) scan.virus.set(f.path, await clam.end());
    const s = sniff(head);
    const sm3Hex = sm3 ? sm3.digest("hex") : await sm3Worker!.digest(id);
    scan.facts.set(f.path, { size, sha256: sha.digest("hex"), sm3: sm3Hex, sniffed: s.type, ...(s.detail ? { sniffDetail: s.detail } : {}) });
    if (keep && s.type === claimed) {
      // Bounded in flight: wait for the oldest PDFs before holding more bytes.
      if (claimed === "application/pdf") while (inFlight.size >= o.pdfConcurrency) await Promise.race(inFlight);
      examine(f.path, claimed, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    } else if (claimed !== null && COLLECT.has(claimed) && f.path.startsWith("data/") && f.size > limit) {
      scan.content.set(f.path, { notExamined: `${f.size} bytes, over the limit of ${limit} for ${claimed}` });
    }
    o.progress?.({ files: ++n, totalFiles: source.files.length, bytes, totalBytes, path: f.path });
  }
  } finally {
    await sm3Worker?.close();
  }
  await Promise.all(inFlight);
  return scan;
}

async function examineContent(claimed: string | null, buf: Buffer, o: ScanOptions): Promise<ContentFacts> {
  switch (claimed) {
    case "application/pdf": {
      for (let attempt = 0; ; attempt++) {
        try {
          const v = await o.pdf.verify(buf, o.pdfDeps);
          const structure = v.checks.find((c) => c.id === "structure");
          if (structure?.status === "INDETERMINATE" && /encrypted/.test(structure.detail)) return { pdf: v, encrypted: "the PDF is encrypted" };
          if (structure?.status === "FAILED") return { pdf: v, unreadable: structure.detail };
          return { pdf: v };
        } catch (e) {
          if (e instanceof AppError && e.code === "PDF_WORKERS_BUSY" && attempt < 20) {
            await new Promise((r) => setTimeout(r, 250 * (attempt + 1)));
            continue;
          }
          if (e instanceof AppError && e.code === "PDF_LIMIT_EXCEEDED") return { unreadable: e.message };
          return { notExamined: e instanceof AppError ? `${e.code}: ${e.message}` : `the validator failed: ${(e as Error).message}` };
        }
      }
    }
    case "image/png": {
      const p = checkPng(buf);
      return p ? { unreadable: p } : {};
    }
    case "image/jpeg": {
      const p = checkJpeg(buf);
      return p ? { unreadable: p } : {};
    }
    case "application/json": {
      try {
        JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(buf));
        return {};
      } catch (e) {
        return { unreadable: `not UTF-8 JSON: ${(e as Error).message.slice(0, 200)}` };
      }
    }
    case "application/jose":
      return { jws: buf.toString("latin1") };
    default:
      return {};
  }
}
