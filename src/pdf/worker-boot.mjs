// Entry of a PDF worker thread when Sidian runs from its TypeScript sources (npm start, tests, bin/sidian.mjs):
// loads ./worker.ts through tsx's scoped loader, whatever loader flags the parent had. The compiled build
// (tsconfig.build.json → dist/) starts dist/pdf/worker.js directly instead (see workerFile() in pool.ts).
import { tsImport } from "tsx/esm/api";

const worker = await tsImport("./worker.ts", import.meta.url);
export default worker.default;
