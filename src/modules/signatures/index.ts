/** E-signatures (issue 17): signing requests with ordered groups of participants. */
export * from "./ports.js";
export * from "./service.js";
