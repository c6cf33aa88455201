/**
 * E-seals: what every use case shares — reading a seal, its picture and stamp appearance (drawn once per seal),
 * whether it may stamp now, which CA signs its status evidence, and the hashes of stamped documents.
 */
import crypto from "node:crypto";
import zlib from "node:zlib";
import { AppError } from "../../errors.js";
import { sm2PublicKeyFromSpki } from "../../crypto/sm2.js";
import { dict, name, serialize } from "../../pdf/objects.js";
import type { AppearanceData } from "../../pdf/stamp.js";
import type { CertificateRecord } from "../../pki/index.js";
import { parseCertificate } from "../../pki/reader.js";
import { MM, type SealServiceDeps, type SealServiceRepos } from "./model.js";
import { drawSeal, sealPdfOps, sealSvg, type SealPicture } from "./picture.js";
import type { Seal } from "./ports.js";

export function createSealCore<R extends SealServiceRepos>(deps: SealServiceDeps<R>) {
  const { uow } = deps;
  const pictures = new Map<string, { picture: SealPicture; svg: string; appearance: AppearanceData }>();

  function pictureOf(seal: Seal) {
    const key = `${seal.id}|${seal.arcText}|${seal.typeText}|${seal.diameterMm}`;
    let p = pictures.get(key);
    if (!p) {
      const picture = drawSeal({ name: seal.arcText, typeText: seal.typeText, code: seal.id, diameterMm: seal.diameterMm, ...(deps.devMark ? { dev: deps.devMark } : {}) });
      const R = seal.diameterMm / 2;
      const ops = `q /GS0 gs\n${sealPdfOps(picture)}\nQ`;
      p = {
        picture,
        svg: sealSvg(picture, seal.name),
        appearance: {
          content: zlib.deflateSync(Buffer.from(ops, "latin1")),
          compressed: true,
          bbox: [-R, -R, R, R],
          matrix: [MM, 0, 0, MM, 0, 0],
          // Multiply blending: text under the seal stays visible, like real ink.
          resources: serialize(dict({ ExtGState: dict({ GS0: dict({ Type: name("ExtGState"), BM: name("Multiply") }) }) })).toString("latin1"),
        },
      };
      pictures.set(key, p);
    }
    return p;
  }

  async function get(id: string): Promise<Seal> {
    const s = await uow.read.seals.byId(id);
    if (!s) throw new AppError("SEAL_NOT_FOUND");
    return s;
  }

  /** The CA that signs status evidence for seals of a profile (the one that issued their certificates). */
  const statusSignerOf = (sm2: boolean) => (sm2 ? deps.sm2?.statusSigner : deps.statusSigner);

  /** Why the seal may not stamp at `at` (null = it may). */
  function refusal(seal: Seal, cert: CertificateRecord | null, at: Date): AppError | null {
    if (seal.status === "revoked" || cert?.status === "revoked") return new AppError("SEAL_REVOKED");
    if (seal.status === "suspended") return new AppError("SEAL_SUSPENDED");
    if (at < seal.validFrom || at > seal.validTo) return new AppError("SEAL_EXPIRED", `The seal is valid from ${seal.validFrom.toISOString()} to ${seal.validTo.toISOString()}.`);
    if (!cert || at > cert.notAfter || at < cert.notBefore) return new AppError("SEAL_EXPIRED", "The seal's certificate is not valid now.");
    return null;
  }

  return { deps, pictureOf, get, statusSignerOf, refusal };
}

export type SealCore<R extends SealServiceRepos> = ReturnType<typeof createSealCore<R>>;

/**
 * SHA-256 of a stamped document: up to 1 MiB here (about a millisecond), larger ones through WebCrypto on
 * libuv's thread pool so a 50 MB result is not hashed on the event loop (a thread hop costs more than hashing
 * a small document).
 */
export async function documentSha256Hex(b: Buffer): Promise<string> {
  if (b.length <= 1 << 20) return crypto.createHash("sha256").update(b).digest("hex");
  return Buffer.from(await crypto.subtle.digest("SHA-256", b)).toString("hex");
}

/** Whether a certificate certifies an SM2 key (the seal belongs to the national profile). */
const sm2Certs = new Map<string, boolean>();
export function isSm2Cert(der: Uint8Array): boolean {
  const k = crypto.createHash("sha256").update(der).digest("hex");
  let v = sm2Certs.get(k);
  if (v === undefined) {
    v = sm2PublicKeyFromSpki(parseCertificate(der).spki) !== null;
    if (sm2Certs.size >= 1024) sm2Certs.clear();
    sm2Certs.set(k, v);
  }
  return v;
}
