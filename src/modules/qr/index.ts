export * from "./render.js";
export * from "./token.js";
export * from "./ports.js";
export * from "./service.js";
