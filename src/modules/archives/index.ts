export * from "./ports.js";
export * from "./service.js";
export { writeBag, payloadManifest, BAGIT_TXT, type BagSink, type PlannedFile, type DigestedFile, type BagContent, type BagResult } from "./bag.js";
export { caseJson, caseXml, RETENTION, PACKAGE_FORMAT, type CaseMeta, type Retention } from "./metadata.js";
export { bagNameOf, safeSegment, PathSet, manifestPath } from "./names.js";
