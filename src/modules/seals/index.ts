/** E-seals (issue 5): registry, seal picture, GB/T 38540 seal data, PAdES stamping. */
export * from "./ports.js";
export * from "./service.js";
export { drawSeal, sealSvg, sealPdfOps, missingGlyphs, type SealPicture, type SealPictureSpec } from "./picture.js";
export { onlineVerifyDeps, offlineVerifyDeps, trustListVerifyDeps } from "./verifier.js";
