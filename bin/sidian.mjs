#!/usr/bin/env node
// The `sidian` command: runs the TypeScript CLI through tsx (no build step needed).
import { register } from "tsx/esm/api";
register();
await import("../src/main.ts");
