/**
 * E-licences (issue 4): issuance, lifecycle, status publication and verification. See service.ts and verify.ts.
 */
export * from "./ports.js";
export * from "./service.js";
export * from "./verify.js";
export { createSigner, TYP_LICENCE, TYP_STATEMENT, TYP_STATUS_LIST, type Signer, type SigningCert } from "./signing.js";
export { parseCompact, verifyEs256, b64u, encodeHeader, type ParsedJws, type JwsHeader } from "./jws.js";
export { chinaDate, addDays } from "./dates.js";
export { checkHolderCode, maskName, isHolderCodeType } from "./holder.js";
