/**
 * Transparency log (issue 3): checkpoint, entries, inclusion and consistency proofs, and the log's public key.
 * Proofs and checkpoints are public; entries that name a holder are shown in full only to entitled callers.
 */
import type { FastifyInstance } from "fastify";
import { Type, type Static } from "@sinclair/typebox";
import { AppError } from "../../errors.js";
import type { Actor } from "../../modules/kernel.js";
import type { LeafEvent, Tlog } from "../../modules/tlog/index.js";
import { problems } from "../schemas.js";

export type LogRoutesTlog = Pick<
  Tlog,
  "latestCheckpoint" | "checkpointAt" | "getEntry" | "inclusionProof" | "consistencyProof" | "redact" | "isEntitled" | "publicKey"
>;

export interface LogRoutesOptions {
  tlog: LogRoutesTlog;
  /** Who may see entries that name a holder; default: admins and that holder (`tlog.isEntitled`). */
  isEntitled?: (actor: Actor, event: LeafEvent) => boolean;
  /** Requests per minute per IP on these public routes (default: unlimited, e.g. in tests). */
  rateLimit?: number;
}

const Index = Type.Integer({ minimum: 0, maximum: 2 ** 48 });
const B64Hash = Type.String({ pattern: "^[A-Za-z0-9+/]{43}=$", description: "SHA-256, base64" });
const Hashes = Type.Array(B64Hash, { description: "bottom-up (RFC 9162 §2.1.3 / §2.1.4)" });

const CheckpointQuery = Type.Object({ size: Type.Optional(Index) }, { additionalProperties: false });
const EntryParams = Type.Object({ index: Index });
const InclusionQuery = Type.Object(
  { index: Type.Optional(Index), leafHash: Type.Optional(B64Hash), size: Type.Optional(Index) },
  { additionalProperties: false },
);
const ConsistencyQuery = Type.Object({ from: Index, to: Index }, { additionalProperties: false });

const EntryOut = Type.Object({
  index: Type.Integer(),
  leafHash: B64Hash,
  redacted: Type.Boolean(),
  event: Type.Record(Type.String(), Type.Unknown(), { description: "the logged event (type and time only when redacted)" }),
  leaf: Type.Optional(Type.String({ description: "the leaf bytes (canonical JSON): SHA-256(0x00 ‖ leaf) = leafHash" })),
  createdAt: Type.Optional(Type.String({ format: "date-time" })),
});
const InclusionOut = Type.Object({
  index: Type.Integer(), treeSize: Type.Integer(), leafHash: B64Hash, hashes: Hashes,
  checkpoint: Type.Optional(Type.String({ description: "signed checkpoint of treeSize, when the size was not given" })),
});
const ConsistencyOut = Type.Object({ from: Type.Integer(), to: Type.Integer(), hashes: Hashes });
const KeyOut = Type.Object({
  origin: Type.String(), name: Type.String(), keyId: Type.String(), vkey: Type.String({ description: "C2SP signed-note verifier key" }),
  publicKeyPem: Type.String(),
});

export default async function logRoutes(app: FastifyInstance, opts: LogRoutesOptions) {
  const { tlog } = opts;
  const entitled = opts.isEntitled ?? tlog.isEntitled;
  const limit = opts.rateLimit ? { rateLimit: { max: opts.rateLimit, timeWindow: "1 minute" } } : {};

  app.get<{ Querystring: Static<typeof CheckpointQuery> }>("/log/checkpoint", {
    config: { auth: "public", ...limit },
    schema: {
      tags: ["log"], description: "The transparency log's latest signed checkpoint (C2SP signed-note format, text/plain), or the one of an earlier tree size (`size`). Keep the checkpoints you have seen: later ones must be consistent with them.",
      summary: "Latest signed checkpoint (C2SP checkpoint, text/plain); ?size= for an earlier one",
      querystring: CheckpointQuery,
      response: { 200: { content: { "text/plain": { schema: Type.String() } } }, ...problems("LOG_CHECKPOINT_NOT_FOUND", "LOG_RANGE_INVALID") },
    },
  }, async (req, reply) => {
    const cp = req.query.size === undefined ? await tlog.latestCheckpoint() : await tlog.checkpointAt(req.query.size);
    return reply.type("text/plain; charset=utf-8").header("cache-control", "no-cache").send(cp.note);
  });

  app.get("/log/key", {
    config: { auth: "public", ...limit },
    schema: { tags: ["log"], description: "The log's Ed25519 public key as a C2SP verifier key (vkey) and PEM: check checkpoints and proofs offline with it (`sidian log verify-proof`).",
      summary: "The log's public key (vkey and PEM)", response: { 200: KeyOut } },
  }, async (_req, reply) => reply.header("cache-control", "public, max-age=3600").send(tlog.publicKey()));

  app.get<{ Params: Static<typeof EntryParams> }>("/log/entries/:index", {
    config: { auth: { roles: ["admin", "issuer", "consumer", "counter", "archivist"], holder: true, optional: true }, ...limit },
    schema: {
      tags: ["log"], description: "The log entry at an index: the event (type, time and, for callers entitled to it, the names and codes), the leaf bytes and its hash. Anonymous callers see the event redacted.",
      summary: "One log entry (redacted unless the caller may see the holder it names)",
      params: EntryParams, response: { 200: EntryOut, ...problems("LOG_ENTRY_NOT_FOUND", "LOG_RANGE_INVALID") },
    },
  }, async (req) => {
    const e = await tlog.getEntry(req.params.index);
    const shown = tlog.redact(e, entitled(req.actor, e.event));
    if ("redacted" in shown) return shown;
    return { index: e.index, leafHash: e.leafHash, redacted: false, event: { ...e.event }, leaf: e.leaf, createdAt: e.createdAt.toISOString() };
  });

  app.get<{ Querystring: Static<typeof InclusionQuery> }>("/log/proof/inclusion", {
    config: { auth: "public", ...limit },
    schema: {
      tags: ["log"], description: "The RFC 9162 inclusion proof of an entry (by `index` or `leafHash`) in the tree of `size` (default: the latest checkpoint, returned with the proof).",
      summary: "Inclusion proof of an entry (by index or leaf hash) in the tree of `size` (default: latest checkpoint)",
      querystring: InclusionQuery, response: { 200: InclusionOut, ...problems("LOG_ENTRY_NOT_FOUND", "LOG_RANGE_INVALID", "LOG_CHECKPOINT_NOT_FOUND") },
    },
  }, async (req) => {
    const { index, leafHash, size } = req.query;
    if ((index === undefined) === (leafHash === undefined)) {
      throw new AppError("VALIDATION_FAILED", "Give exactly one of `index` and `leafHash`.");
    }
    const cp = size === undefined ? await tlog.latestCheckpoint() : undefined;
    const p = await tlog.inclusionProof({
      ...(index !== undefined ? { index } : {}),
      ...(leafHash !== undefined ? { leafHash } : {}),
      treeSize: size ?? cp!.size,
    });
    return cp ? { ...p, checkpoint: cp.note } : p;
  });

  app.get<{ Querystring: Static<typeof ConsistencyQuery> }>("/log/proof/consistency", {
    config: { auth: "public", ...limit },
    schema: {
      tags: ["log"], description: "The RFC 9162 consistency proof between two tree sizes: proves that the later tree extends the earlier one (nothing rewritten).",
      summary: "Consistency proof between two tree sizes",
      querystring: ConsistencyQuery, response: { 200: ConsistencyOut, ...problems("LOG_RANGE_INVALID") },
    },
  }, async (req) => tlog.consistencyProof(req.query.from, req.query.to));
}
