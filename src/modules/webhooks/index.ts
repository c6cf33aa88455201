/** Signed webhooks (Standard Webhooks) to the clients that asked for them (issue 17: signing requests). */
export * from "./ports.js";
export * from "./service.js";
