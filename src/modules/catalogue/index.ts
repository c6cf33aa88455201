export * from "./ports.js";
export * from "./fields.js";
export * from "./service.js";
