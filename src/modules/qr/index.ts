export * from "./render.js";
export * from "./token.js";
