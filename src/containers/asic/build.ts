/**
 * Building an ASiC-E container (ETSI EN 319 162-1 §4.4, CAdES profile):
 *
 *   mimetype                      "application/vnd.etsi.asic-e+zip", first, stored, no extra field
 *   <files…>                      the signed files (stored when already compressed: PDF, images, OFD; else deflated)
 *   META-INF/ASiCManifest.xml     lists every file with its SHA-256 (DataObjectReference) and the signature
 *   META-INF/signature.p7s        detached CAdES-B-T over the manifest's bytes (pki/cades.ts), with an RFC 3161
 *                                 signature-time-stamp
 *
 * `signAsice` does the signing first (so a key store or TSA failure is an error before any byte is sent), from the
 * files' digests alone; `writeAsice` then streams the container, hashing each file again as it passes and failing
 * (destroying the output) if the bytes are not the ones whose digest was signed.
 */
import crypto from "node:crypto";
import { PassThrough, type Readable, type Writable } from "node:stream";
import { AppError } from "../../errors.js";
import { signDetached, type CadesSigner } from "../../pki/cades.js";
import type { EncodedSigner } from "../../pki/cms.js";
import type { Tsa } from "../../pki/tsa.js";
import { createZipWriter } from "../zip/index.js";
import { unsafeNameReason } from "../zip/names.js";
import { ASIC_E_MIMETYPE, buildManifest } from "./manifest.js";

export const MANIFEST_NAME = "META-INF/ASiCManifest.xml";
export const SIGNATURE_NAME = "META-INF/signature.p7s";

export interface AsicFile {
  /** Name in the container (a safe relative path, not under META-INF/). */
  readonly name: string;
  readonly mediaType: string;
  /** The bytes, or a function giving them as a stream (called once, by `writeAsice`). */
  readonly data: Uint8Array | (() => Readable | AsyncIterable<Uint8Array>);
  /** SHA-256 of the bytes: required for stream data (e.g. the digest recorded at registration). */
  readonly sha256?: Uint8Array;
}

export interface AsicSigning {
  readonly signer: CadesSigner;
  /** The TSA for the signature time-stamp (CAdES-B-T). */
  readonly tsa: Tsa;
  /** The signer's encoded certificate parts, when the caller keeps them (cms.ts encodeSigner). */
  readonly encoded?: EncodedSigner;
}

export interface SignedAsice {
  readonly files: ReadonlyArray<AsicFile & { readonly sha256: Uint8Array }>;
  readonly manifest: Buffer;
  readonly signature: Buffer;
  readonly timestampAt: Date | null;
}

const COMPRESSED = /^(application\/(pdf|ofd|zip|vnd\.etsi\.asic-[es]\+zip|gzip)|image\/(jpeg|png|gif|webp)|video\/|audio\/)/;

function checkFiles(files: readonly AsicFile[]): void {
  if (files.length === 0) throw new AppError("INTERNAL", "An ASiC-E container needs at least one file.");
  const names = new Set<string>();
  for (const f of files) {
    const why = unsafeNameReason(f.name);
    if (why || f.name === "mimetype" || f.name.startsWith("META-INF/") || f.name.endsWith("/")) {
      throw new AppError("INTERNAL", `The container file name ${JSON.stringify(f.name)} cannot be used${why ? `: ${why}` : ""}.`);
    }
    if (names.has(f.name.normalize("NFC"))) throw new AppError("INTERNAL", `The container has two files named ${JSON.stringify(f.name)}.`);
    names.add(f.name.normalize("NFC"));
  }
}

/** Digests, manifest and signature, before anything is written. */
export async function signAsice(files: readonly AsicFile[], signing: AsicSigning): Promise<SignedAsice> {
  checkFiles(files);
  const withDigest = files.map((f) => {
    const sha256 = f.sha256 ?? (f.data instanceof Uint8Array ? crypto.createHash("sha256").update(f.data).digest() : undefined);
    if (!sha256 || sha256.length !== 32) throw new AppError("INTERNAL", `The SHA-256 of ${JSON.stringify(f.name)} is needed to sign a streamed file.`);
    return { ...f, sha256 };
  });
  const manifest = buildManifest(SIGNATURE_NAME, withDigest);
  const { cms, timestampAt } = await signDetached(manifest, signing.signer, signing.tsa, signing.encoded);
  return { files: withDigest, manifest, signature: cms, timestampAt };
}

/** Streams the container to `out` (not ended). Returns its size. */
export async function writeAsice(out: Writable, signed: SignedAsice, opts: { mtime?: Date } = {}): Promise<number> {
  const zip = createZipWriter(out, opts.mtime ? { mtime: opts.mtime } : {});
  await zip.addFile("mimetype", Buffer.from(ASIC_E_MIMETYPE, "ascii"), { method: "store" });
  for (const f of signed.files) {
    const method = COMPRESSED.test(f.mediaType) ? "store" as const : "deflate" as const;
    if (f.data instanceof Uint8Array) {
      await zip.addFile(f.name, f.data, { method });
      continue;
    }
    const src = f.data();
    const expected = Buffer.from(f.sha256);
    await zip.addFile(f.name, (async function* () {
      const h = crypto.createHash("sha256");
      for await (const c of src) {
        const b = typeof c === "string" ? Buffer.from(c) : (c as Uint8Array);
        h.update(b);
        yield b;
      }
      if (!h.digest().equals(expected)) {
        throw new AppError("INTERNAL", "The stored bytes of a container file do not match the digest that was signed.", { details: { file: f.name } });
      }
    })(), { method });
  }
  await zip.addFile(MANIFEST_NAME, signed.manifest, { method: "deflate" });
  await zip.addFile(SIGNATURE_NAME, signed.signature, { method: "store" });
  return (await zip.finish()).size;
}

/** The whole container in memory (small files, tests, the CLI). */
export async function buildAsice(files: readonly AsicFile[], signing: AsicSigning, opts: { mtime?: Date } = {}): Promise<{ bytes: Buffer; signed: SignedAsice }> {
  const signed = await signAsice(files, signing);
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on("data", (c: Buffer) => chunks.push(c));
  await writeAsice(out, signed, opts);
  out.end();
  return { bytes: Buffer.concat(chunks), signed };
}
