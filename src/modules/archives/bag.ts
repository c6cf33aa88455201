/**
 * Writes a BagIt 1.0 bag (RFC 8493) entry by entry into a sink (a zip writer, a folder): payload files first, as
 * they are read (one file in memory at a time), then the tag files that describe them, then the detached CAdES
 * signature over the tag manifest. The layout is docs/archives.md; the 四性检测 checker reads exactly this.
 *
 * The payload manifest (`manifest-sha256.txt`) is known before a byte is read (every file's SHA-256 is on record):
 * the archive's log entry carries its digest, and every file read is checked against it (a stored file that changed
 * stops the build). SM3 digests are computed as the bytes pass.
 */
import { createHash } from "node:crypto";
import { AppError } from "../../errors.js";
import { inlineHasher, type Hasher } from "./hasher.js";
import { manifestPath } from "./names.js";

export interface PlannedFile {
  /** Path inside the bag, `data/…` (NFC, collision-free). */
  path: string;
  /** The file's own name (before it was made safe or unique). */
  name: string;
  mediaType: string;
  /** What the file is to the case: licence, licence-copy, licence-copy-pdf, signed-document, signing-evidence, stamped-document, material. */
  role: string;
  /** The case item it came from. */
  item: { kind: string; ref: string };
  sha256: string;
  size: number;
  /** The bytes: whole (small files) or as a stream of chunks (materials: never whole in memory). */
  open(): Promise<Buffer | AsyncIterable<Uint8Array>>;
}

export interface DigestedFile extends Omit<PlannedFile, "open"> {
  sm3: string;
}

export interface BagSink {
  /** Adds one entry (`path` relative to the bag's parent: `<bag>/…`). `compress`: worth deflating (text). */
  add(path: string, data: Buffer | AsyncIterable<Uint8Array>, opts: { compress: boolean; size?: number }): Promise<void>;
}

export interface BagContent {
  bagName: string;
  files: readonly PlannedFile[];
  /** bag-info.txt lines before Payload-Oxum and Bagging-Date (label, value). */
  bagInfo: ReadonlyArray<readonly [string, string]>;
  baggingDate: string;
  /** metadata/case.xml and metadata/case.json from the files as digested. */
  metadata(files: readonly DigestedFile[]): { caseXml: string; caseJson: unknown };
  events: unknown;
  checkpoint: string;
  logKeys: unknown;
  /** The DER CMS SignedData over the tag manifest's bytes. */
  sign(tagmanifest: Buffer): Promise<Buffer>;
  /** Where payload digests are computed (default: inline). */
  hasher?: Hasher;
}

export interface BagResult {
  files: number;
  payloadOctets: number;
  manifestSha256: string;
  tagmanifestSha256: string;
  tagmanifest: Buffer;
  signature: Buffer;
}

export const BAGIT_TXT = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";

const hex = (alg: string, b: Uint8Array) => createHash(alg).update(b).digest("hex");

/** manifest-sha256.txt from the digests on record (LF line ends, paths percent-encoded, in payload order). */
export function payloadManifest(files: readonly Pick<PlannedFile, "path" | "sha256">[]): string {
  return files.map((f) => `${f.sha256}  ${manifestPath(f.path)}\n`).join("");
}

/** A bag-info.txt value on one line (labels and values may not hold line breaks; RFC 8493 §2.2.2 folds long ones). */
function infoLine(label: string, value: string): string {
  return `${label}: ${value.replace(/[\r\n]+/g, " ")}\n`;
}

export async function writeBag(sink: BagSink, c: BagContent): Promise<BagResult> {
  const root = c.bagName;
  const hasher = c.hasher ?? inlineHasher();
  const tags: Array<{ path: string; bytes: Buffer }> = [];
  const tag = async (path: string, text: string | Buffer) => {
    const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text, "utf8");
    tags.push({ path, bytes });
    await sink.add(`${root}/${path}`, bytes, { compress: true });
  };
  await tag("bagit.txt", BAGIT_TXT);

  const digested: DigestedFile[] = [];
  let octets = 0;
  for (const f of c.files) {
    const src = await f.open();
    // Both digests as the bytes pass on to the sink (one pass, whatever the file's size; on the hasher's thread).
    const d = hasher.stream(["sha256", "sm3"]);
    let n = 0;
    const chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array> = Buffer.isBuffer(src) ? [src] : src;
    async function* passing() {
      for await (const ch of chunks) {
        await d.update(ch);
        n += ch.length;
        yield ch;
      }
    }
    await sink.add(`${root}/${f.path}`, passing(), { compress: false, size: f.size });
    const [sha, sm3] = (await d.digest()) as [string, string];
    if (sha !== f.sha256 || n !== f.size) {
      throw new AppError("INTERNAL", `A stored file of the case changed since it was recorded: ${f.path}.`, { details: { path: f.path } });
    }
    octets += n;
    const { open: _o, ...rest } = f;
    digested.push({ ...rest, sm3 });
  }
  const manifest = payloadManifest(c.files);
  await tag("manifest-sha256.txt", manifest);
  await tag("manifest-sm3.txt", digested.map((f) => `${f.sm3}  ${manifestPath(f.path)}\n`).join(""));
  await tag("bag-info.txt", [
    ...c.bagInfo.map(([k, v]) => infoLine(k, v)),
    infoLine("Bagging-Date", c.baggingDate),
    infoLine("Payload-Oxum", `${octets}.${c.files.length}`),
  ].join(""));
  const meta = c.metadata(digested);
  await tag("metadata/case.xml", meta.caseXml);
  await tag("metadata/case.json", `${JSON.stringify(meta.caseJson, null, 2)}\n`);
  await tag("metadata/events.json", `${JSON.stringify(c.events, null, 2)}\n`);
  await tag("metadata/checkpoint.txt", c.checkpoint);
  await tag("metadata/log-keys.json", `${JSON.stringify(c.logKeys, null, 2)}\n`);
  const tagmanifest = Buffer.from(tags.map((t) => `${hex("sha256", t.bytes)}  ${manifestPath(t.path)}\n`).join(""), "utf8");
  await sink.add(`${root}/tagmanifest-sha256.txt`, tagmanifest, { compress: true });
  const signature = await c.sign(tagmanifest);
  await sink.add(`${root}/signature/tagmanifest-sha256.txt.p7s`, signature, { compress: false });
  return {
    files: c.files.length, payloadOctets: octets, manifestSha256: hex("sha256", Buffer.from(manifest, "utf8")),
    tagmanifestSha256: hex("sha256", tagmanifest), tagmanifest, signature,
  };
}
