/**
 * A material's bytes on their way in and out.
 *
 * In (`receive`): the upload is read as it arrives, at most `limit` bytes (one byte more stops the reading: the
 * caller answers 413 and nothing is kept). Every byte is hashed (SHA-256 and SM3) and sniffed (sniff.ts), then
 * encrypted in chunks of CHUNK plaintext bytes (AES-256-GCM under a fresh per-material data key, nonce = the chunk's
 * number, AAD = identifier, number and whether it is the last) into a temporary file that is unlinked as soon as it
 * is opened (a material of one chunk stays in memory, the one chunk any upload holds): whatever happens to the process (kill -9 included), the kernel frees it with the descriptor, so an
 * upload that does not reach its commit leaves nothing behind. Memory stays at about one chunk per upload.
 *
 * Stored: the committing transaction copies the chunks from the temporary file into `material_chunks` (one row
 * each) together with the material row and its log entry; the data key is kept wrapped with the personal-data key,
 * its AAD binding it to the identifier and the SHA-256 of the plaintext.
 *
 * Out (`openChunks`): chunk by chunk from the store, each checked (GCM tag, number, last-chunk flag) before its
 * bytes are passed on; a missing, reordered or truncated chunk stops the stream with an error.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { AppError } from "../../errors.js";
import type { MediaKind } from "./ports.js";
import { confirmKind, HEAD_BYTES, sniffHead, TAIL_BYTES } from "./sniff.js";

/** Plaintext bytes per stored chunk. */
export const CHUNK = 1024 * 1024;
const TAG = 16;

export function chunkNonce(seq: number): Buffer {
  const iv = Buffer.alloc(12);
  iv.writeUInt32BE(Math.floor(seq / 2 ** 32), 4);
  iv.writeUInt32BE(seq >>> 0, 8);
  return iv;
}
const chunkAad = (identifier: string, seq: number, last: boolean) => Buffer.from(`material:${identifier}:${seq}:${last ? 1 : 0}`);

export interface Received {
  size: number;
  sha256: string;
  sm3: string;
  kind: MediaKind;
  dek: Buffer;
  chunks: number;
  /** Reads chunk `seq`'s ciphertext from the temporary file, into a buffer reused by the next call. */
  readChunk(seq: number): Buffer;
  /** Closes (and so frees) the temporary file. Idempotent. */
  close(): Promise<void>;
}

export interface ReceiveOptions {
  identifier: string;
  limit: number;
  tmpDir?: string;
  /** The declared kind (header or file name); a contradiction is refused as soon as the head is sniffed. */
  declared?: MediaKind | "other";
  accepted: readonly MediaKind[];
}

function refused(problem: string, details: Record<string, unknown>): AppError {
  return new AppError("MATERIAL_CONTENT_REFUSED", `The material was refused: ${problem}.`, { details: { problem, ...details } });
}

/**
 * Reads the upload into an encrypted temporary file (see above). Throws MATERIAL_TOO_LARGE (stops reading at the
 * limit), MATERIAL_EMPTY, MATERIAL_CONTENT_REFUSED; an error of the stream (client gone, truncated) is rethrown.
 * On any failure the temporary file is closed and so gone.
 */
export async function receive(source: AsyncIterable<Buffer | Uint8Array>, o: ReceiveOptions): Promise<Received> {
  const dir = o.tmpDir ?? os.tmpdir();
  // The staging file is opened when a second chunk begins: a material of one chunk (≤ 1 MiB, most of them) stays in
  // this one chunk's memory and never touches the disk.
  let fh: fs.promises.FileHandle | null = null;
  const openStaging = async () => {
    const file = path.join(dir, `sidian-material-${process.pid}-${randomBytes(8).toString("hex")}`);
    const h = await fs.promises.open(file, "w+", 0o600);
    // Unlinked at once: the descriptor keeps the data; nothing is left on disk when it is closed (or the process dies).
    await fs.promises.unlink(file).catch(async (e: unknown) => {
      await h.close();
      throw e;
    });
    return h;
  };
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await fh?.close();
  };
  /** The sealed chunks while there is no staging file (at most one). */
  const inMemory: Buffer[] = [];
  const dek = randomBytes(32);
  const sha = createHash("sha256");
  const sm3 = createHash("sm3");
  const plain = Buffer.allocUnsafe(CHUNK);
  let fill = 0;
  let seq = 0;
  let size = 0;
  let fileAt = 0;
  let head = Buffer.alloc(0);
  let kind: MediaKind | null = null;
  let decided = false;
  const tailRing: Buffer[] = [];
  let tailLen = 0;
  let utf8: InstanceType<typeof TextDecoder> | null = null;
  const offsets: number[] = [];

  const decide = (complete: boolean) => {
    const s = sniffHead(head, complete);
    if (s.more) return;
    decided = true;
    kind = s.kind;
    if (!kind) throw refused("the bytes are not one of PDF, JPEG, PNG, OFD or JSON", { detected: null, accepted: o.accepted });
    if (o.declared && o.declared !== kind) throw refused(`the bytes are ${kind}, not what was declared`, { detected: kind, declared: o.declared, accepted: o.accepted });
    if (!o.accepted.includes(kind)) throw refused(`this material type does not accept ${kind}`, { detected: kind, accepted: o.accepted });
    if (kind === "json") {
      utf8 = new TextDecoder("utf-8", { fatal: true });
      checkJsonText(head);
    }
  };
  const checkJsonText = (b: Uint8Array) => {
    try {
      utf8!.decode(b, { stream: true });
    } catch {
      throw refused("JSON must be UTF-8", { detected: "json" });
    }
    for (let i = 0; i < b.length; i++) {
      const c = b[i]!;
      if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) throw refused("JSON holds a control character", { detected: "json" });
    }
  };
  const flush = async (last: boolean) => {
    const c = createCipheriv("aes-256-gcm", dek, chunkNonce(seq));
    c.setAAD(chunkAad(o.identifier, seq, last));
    const body = c.update(plain.subarray(0, fill));
    c.final();
    if (last && !fh) {
      inMemory.push(Buffer.concat([body, c.getAuthTag()]));
      seq++;
      fill = 0;
      return;
    }
    fh ??= await openStaging();
    offsets.push(fileAt);
    for (const out of [body, c.getAuthTag()]) {
      let w = 0;
      while (w < out.length) w += (await fh.write(out, w, out.length - w, fileAt + w)).bytesWritten;
      fileAt += out.length;
    }
    seq++;
    fill = 0;
  };

  try {
    for await (const raw of source) {
      const buf = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
      if (buf.length === 0) continue;
      size += buf.length;
      if (size > o.limit) throw new AppError("MATERIAL_TOO_LARGE", `The material is larger than its type allows (${o.limit} bytes).`, { details: { limit: o.limit } });
      sha.update(buf);
      sm3.update(buf);
      if (!decided) {
        head = Buffer.concat([head, buf.subarray(0, Math.max(0, HEAD_BYTES - head.length))]);
        decide(false);
        if (decided && kind === "json" && buf.length > head.length) checkJsonText(buf.subarray(head.length));
      } else if (utf8) checkJsonText(buf);
      tailRing.push(buf);
      tailLen += buf.length;
      while (tailRing.length > 1 && tailLen - tailRing[0]!.length >= TAIL_BYTES) tailLen -= tailRing.shift()!.length;
      let at = 0;
      while (at < buf.length) {
        const n = Math.min(CHUNK - fill, buf.length - at);
        buf.copy(plain, fill, at, at + n);
        fill += n;
        at += n;
        if (fill === CHUNK) await flush(false);
      }
    }
    if (size === 0) throw new AppError("MATERIAL_EMPTY");
    if (!decided) decide(true);
    const tail = Buffer.concat(tailRing).subarray(-TAIL_BYTES);
    if (utf8) {
      try {
        (utf8 as InstanceType<typeof TextDecoder>).decode();
      } catch {
        throw refused("JSON must be UTF-8", { detected: "json" });
      }
    }
    const problem = confirmKind(kind!, head, tail);
    if (problem) throw refused(problem, { detected: kind });
    // The last chunk is flagged even when it is empty (a file of exactly n·CHUNK bytes): truncation is detectable.
    await flush(true);
  } catch (e) {
    await close();
    throw e;
  }
  const chunks = seq;
  const readBuf = fh ? Buffer.allocUnsafe(CHUNK + TAG) : Buffer.alloc(0);
  const sizes = offsets.map((off, i) => (i + 1 < offsets.length ? offsets[i + 1]! : fileAt) - off);
  return {
    size, sha256: sha.digest("hex"), sm3: sm3.digest("hex"), kind: kind!, dek, chunks,
    readChunk(i) {
      if (!fh) return inMemory[i]!;
      // One buffer for every chunk: the caller stores a chunk before it reads the next.
      const b = readBuf.subarray(0, sizes[i]!);
      let r = 0;
      while (r < b.length) {
        const n = fs.readSync(fh.fd, b, r, b.length - r, offsets[i]! + r);
        if (n === 0) throw new Error("material temporary file: short read");
        r += n;
      }
      return b;
    },
    close,
  };
}

/** Decrypts one stored chunk; throws when it was altered, moved or is not the one expected. */
export function openChunk(dek: Buffer, identifier: string, seq: number, last: boolean, sealed: Buffer): Buffer {
  if (sealed.length < TAG) throw new Error("material chunk too short");
  const d = createDecipheriv("aes-256-gcm", dek, chunkNonce(seq));
  d.setAAD(chunkAad(identifier, seq, last));
  d.setAuthTag(sealed.subarray(sealed.length - TAG));
  return Buffer.concat([d.update(sealed.subarray(0, sealed.length - TAG)), d.final()]);
}

/** The plaintext as a stream, one chunk read and opened at a time. */
export function chunkStream(identifier: string, chunks: number, dek: Buffer, read: (seq: number) => Promise<Buffer | undefined>): Readable {
  let seq = 0;
  return new Readable({
    highWaterMark: 1,
    objectMode: false,
    async read() {
      try {
        while (seq < chunks) {
          const sealed = await read(seq);
          if (!sealed) throw new Error(`material ${identifier}: chunk ${seq} missing`);
          const plain = openChunk(dek, identifier, seq, seq === chunks - 1, sealed);
          seq++;
          if (plain.length) {
            this.push(plain);
            return;
          }
        }
        this.push(null);
      } catch (e) {
        this.destroy(e as Error);
      }
    },
  });
}
