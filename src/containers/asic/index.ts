/**
 * ASiC-E containers (ETSI EN 319 162-1, CAdES): a file (a registered material) with its signed manifest, for
 * systems that cannot be integrated — they receive one zip that `unzip` opens and `openssl cms -verify` checks.
 *
 *   const signed = await signAsice([{ name, mediaType, data: () => stream, sha256 }], { signer, tsa });
 *   await writeAsice(reply, signed);                       // mimetype, file, manifest, signature; streamed
 *   const v = await verifyAsice(bytesOrPath, { anchors, now: () => new Date() });   // verdict, never throws
 */
export { signAsice, writeAsice, buildAsice, MANIFEST_NAME, SIGNATURE_NAME, type AsicFile, type AsicSigning, type SignedAsice } from "./build.js";
export { verifyAsice, formatAsicVerdict, ASIC_LIMITS, type AsicVerdict, type AsicCheck, type AsicFileReport, type AsicSignatureReport, type VerifyAsicDeps } from "./verify.js";
export { buildManifest, parseManifest, ASIC_E_MIMETYPE, ASIC_NS, type ParsedManifest, type ManifestReference } from "./manifest.js";
