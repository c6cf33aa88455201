/**
 * E-seals: the seal service, composed of one use case per file —
 *   registry.ts         create, status changes, status at a past time, the official seal, the lists
 *   stamping.ts         stamping PDFs (PAdES B-T by incremental update) with a stamp record (用印记录) and a log entry
 *   status-evidence.ts  seal-status evidence signed by the issuing CA (in every stamp, and on demand)
 *   ses-export.ts       GB/T 38540 seal data (SES_Seal) and a stamp exported as an SES_Signature
 * over core.ts (reading a seal, its picture, whether it may stamp now) and model.ts (dependencies, inputs, results).
 */
import { createSealCore } from "./core.js";
import type { SealServiceDeps, SealServiceRepos } from "./model.js";
import { createSealRegistry } from "./registry.js";
import { createSesExport } from "./ses-export.js";
import { createStamping } from "./stamping.js";
import { createStatusEvidence } from "./status-evidence.js";

export {
  CMS_RESERVE,
  SEAL_TYPE_TEXT,
  type CreateSealInput,
  type CustomStampFields,
  type Placement,
  type SealServiceDeps,
  type SesSealJson,
  type StampCustom,
  type StampInput,
  type StampResult,
} from "./model.js";

export function createSealService<R extends SealServiceRepos>(deps: SealServiceDeps<R>) {
  const core = createSealCore(deps);
  const registry = createSealRegistry(core);
  const status = createStatusEvidence(core);
  const { stamp } = createStamping(core, status);
  const ses = createSesExport(core);
  return {
    createSeal: registry.createSeal,
    setStatus: registry.setStatus,
    get: core.get,
    officialSeal: registry.officialSeal,
    list: registry.list,
    stamps: registry.stamps,
    svg: async (id: string) => core.pictureOf(await core.get(id)).svg,
    sesSeal: ses.sesSeal,
    sesSealDer: ses.sesSealDer,
    stamp,
    sesSignature: ses.sesSignature,
    statusAt: registry.statusAt,
    statusEvidence: status.statusEvidence,
  };
}

export type SealService = ReturnType<typeof createSealService>;
