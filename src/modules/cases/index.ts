export * from "./ports.js";
export * from "./service.js";
