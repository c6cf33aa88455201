// Lint: typescript-eslint's recommended rules plus the layering rule of DESIGN.md (domain never imports
// fastify, drizzle or process.env).
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import globals from "globals";

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", "data/", "migrations/", "coverage/", ".tap/", "test-artifacts/", ".prof/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: "readonly", console: "readonly", Buffer: "readonly", URL: "readonly", performance: "readonly", setTimeout: "readonly", clearTimeout: "readonly", setInterval: "readonly", clearInterval: "readonly", NodeJS: "readonly" } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_" }],
      "@typescript-eslint/no-explicit-any": "error",
      // Validators of wire formats legitimately match control characters.
      "no-control-regex": "off",
    },
  },
  {
    files: ["src/modules/**/*.ts", "src/crypto/**/*.ts", "src/pki/**/*.ts", "src/codes/**/*.ts"],
    ignores: ["src/**/cli.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [
        { group: ["fastify", "fastify-*", "@fastify/*"], message: "Domain code must not import the HTTP framework (DESIGN rule 1)." },
        { group: ["drizzle-orm", "drizzle-orm/*", "better-sqlite3"], message: "Domain code must not import storage (DESIGN rule 1)." },
        { group: ["**/http/**", "**/storage/**"], message: "Imports flow http → modules → crypto/pki (DESIGN rule 1)." },
      ] }],
      "no-restricted-properties": ["error", { object: "process", property: "env", message: "Read configuration in src/config.ts only." }],
    },
  },
  {
    // The counter page's browser script (served as-is, no build step).
    files: ["assets/**/*.js"],
    languageOptions: { sourceType: "script", globals: { ...globals.browser } },
  },
);
