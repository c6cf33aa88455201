/**
 * E-materials (issue 18). Public API for routes and sibling modules:
 *   createMaterialService(deps)          the service (see service.ts)
 *   MaterialService.readMaterialBytes(id, actor)  → { material, record, stream }: the bytes for whoever may see it
 *   MaterialService.receiptFor(id, actor)         → a receipt JWS (docs/materials.md)
 *   MaterialService.receiptKeys()                 → typ, alg and the keys receipts are signed with (JWKS)
 *   MaterialService.belongsTo(id, { holderHash?, actor? }) → the material when it is that holder's / visible to that client (cases)
 *   checkReceipt(jws, keys), parseMaterialId(id)  pure helpers (offline verification)
 *   createMaterialContainer(deps).prepare(id, actor) → an ASiC-E container of the material and its receipt (container.ts)
 */
export * from "./ports.js";
export * from "./service.js";
export { checkReceipt, createReceiptSigner, holderClaim, TYP_RECEIPT, type ReceiptClaims, type ReceiptKey, type ReceiptSigner } from "./receipt.js";
export { formatMaterialId, isMaterialId, parseMaterialId, MATERIAL_ID_ROOT, MATERIAL_TYPE_CODE_RE } from "./identifier.js";
export { MATERIAL_MAX_BYTES, type MaterialTypeInput } from "./types.js";
export { STATUS_TEXT as MATERIAL_STATUS_TEXT, type MaterialDeps, type MaterialView } from "./core.js";
export { DERIVATIONS, type RegisterMeta, type Declared } from "./register.js";
export { MATERIAL_ANSWER_MAX, type MaterialQuery, type MaterialAnswerItem } from "./reuse.js";
export type { MaterialVerdict, MaterialCheck, VerifyInput } from "./verify.js";
export { sniffHead, confirmKind, declaredKind } from "./sniff.js";
export { createReceiptPdf, type MaterialsReceiptPdf } from "./receipt-pdf.js";
export { createMaterialContainer, type MaterialContainer, type MaterialContainerDeps, type PreparedContainer } from "./container.js";
