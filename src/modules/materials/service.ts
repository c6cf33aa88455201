/**
 * E-materials (电子材料, issue 18): material types, registration with a receipt, reuse by approval systems under
 * consent, lifecycle, verification. Composed from one file per use case; see each for its rules.
 */
import { createCore, type MaterialDeps } from "./core.js";
import { createLifecycle } from "./lifecycle.js";
import type { MaterialRepos } from "./ports.js";
import { TYP_RECEIPT } from "./receipt.js";
import { createRegister } from "./register.js";
import { createReuse } from "./reuse.js";
import { createMaterialTypes } from "./types.js";
import { createVerify } from "./verify.js";

export function createMaterialService<R extends MaterialRepos>(deps: MaterialDeps<R>) {
  const types = createMaterialTypes<R>({ uow: deps.uow, clock: deps.clock, log: deps.tlog });
  const core = createCore<R>(deps, types);
  const lifecycle = createLifecycle(core);
  return {
    types,
    ...createRegister(core),
    ...createReuse(core),
    ...lifecycle,
    ...createVerify(core),
    /** A receipt for a material the caller may see (signed now; the claims are always the record's). */
    receiptFor: async (identifier: string, actor: Parameters<typeof core.visible>[1]) => core.receipt(await core.visible(identifier, actor)),
    /**
     * How receipts are verified: the JWS `typ`, and the keys (kid + public key) they may be signed with — the
     * service's token key, published in /.well-known/jwks.json (and its predecessors while they overlap).
     */
    receiptKeys: () => ({ typ: TYP_RECEIPT, alg: "ES256" as const, jwksPath: "/.well-known/jwks.json", keys: deps.receipts.keys() }),
    /** Internal: the shared core (views, status, bytes) for the routes and sibling modules. */
    core,
  };
}

export type MaterialService = ReturnType<typeof createMaterialService>;
