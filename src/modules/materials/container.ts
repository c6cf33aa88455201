/**
 * A material as an ASiC-E container (issue 18 §6, ETSI EN 319 162-1), for systems that cannot be integrated:
 *
 *   mimetype                      application/vnd.etsi.asic-e+zip (first, stored)
 *   <identifier>.<ext>            the material's bytes as registered (decrypted, streamed)
 *   receipt.jws                   its receipt (可信回执), signed like every receipt (docs/materials.md)
 *   META-INF/ASiCManifest.xml     both files with their SHA-256 (the material's is the digest recorded at registration)
 *   META-INF/signature.p7s        CAdES-B-T over the manifest by the platform key (the token certificate, published
 *                                 in the trust bundle's hierarchy), time-stamped by the TSA
 *
 * Who may fetch it: whoever may read the material's bytes (`readMaterialBytes`: an approval system only while the
 * material is valid). The manifest is signed before the first byte is sent; the bytes are streamed and hashed as they
 * pass, and the download breaks off (never completes) if they are not the registered ones.
 */
import type { Readable, Writable } from "node:stream";
import { signAsice, writeAsice, type SignedAsice } from "../../containers/asic/index.js";
import { cadesSignerParts, type CadesSigner } from "../../pki/cades.js";
import type { Tsa } from "../../pki/tsa.js";
import type { Actor } from "../kernel.js";
import type { MaterialView } from "./core.js";

const EXT: Record<string, string> = { "application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png", "application/ofd": "ofd", "application/json": "json" };

export interface MaterialContainerDeps {
  readonly materials: {
    readMaterialBytes(identifier: string, actor: Actor): Promise<{ material: MaterialView; stream: Readable }>;
    receiptFor(identifier: string, actor: Actor): Promise<string>;
  };
  /** The platform key and its chain (signer first). */
  readonly signer: CadesSigner;
  readonly tsa: Tsa;
}

export interface PreparedContainer {
  readonly material: MaterialView;
  readonly fileName: string;
  readonly signed: SignedAsice;
  /** Streams the container to `out` (not ended); rejects (the output incomplete) if the stored bytes are not the registered ones. */
  write(out: Writable): Promise<number>;
  /** Releases the material's byte stream when the container will not be written. */
  abandon(): void;
}

export function createMaterialContainer(deps: MaterialContainerDeps) {
  const encoded = cadesSignerParts(deps.signer.certificates);
  return {
    /** Checks access, signs the manifest; nothing is written yet. */
    async prepare(identifier: string, actor: Actor): Promise<PreparedContainer> {
      const { material, stream } = await deps.materials.readMaterialBytes(identifier, actor);
      try {
        const receipt = await deps.materials.receiptFor(identifier, actor);
        const signed = await signAsice([
          { name: `${material.identifier}.${EXT[material.mediaType] ?? "bin"}`, mediaType: material.mediaType, data: () => stream, sha256: Buffer.from(material.sha256, "hex") },
          { name: "receipt.jws", mediaType: "application/jose", data: Buffer.from(receipt, "ascii") },
        ], { signer: deps.signer, tsa: deps.tsa, encoded });
        return {
          material, fileName: `${material.identifier}.asice`, signed,
          write: (out) => writeAsice(out, signed, { mtime: new Date(material.registeredAt) }),
          abandon: () => void stream.destroy(),
        };
      } catch (e) {
        stream.destroy();
        throw e;
      }
    },
  };
}

export type MaterialContainer = ReturnType<typeof createMaterialContainer>;
