/** E-signatures (issue 17): signing requests with ordered groups of participants. */
export * from "./ports.js";
export * from "./service.js";
export * from "./signing.js";
export * from "./mark.js";
export * from "./completion.js";
export * from "./report.js";
