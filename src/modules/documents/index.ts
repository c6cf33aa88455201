/**
 * Licence documents (issue 6): sealed licence PDFs and use-annotated copies (加注件). See service.ts.
 */
export * from "./ports.js";
export * from "./service.js";
