/**
 * E-licences: the public types, constants and rules every use case shares (the licence data, views, inputs, the
 * lifecycle table, effective status). No state here.
 */
import type { PiiProtector } from "../../crypto/pii.js";
import type { SealWorker } from "../../crypto/seal-worker.js";
import { AppError } from "../../errors.js";
import type { CatalogueService, FieldValue } from "../catalogue/index.js";
import type { Actor, Clock, Logger, TxHooks, UnitOfWork } from "../kernel.js";
import type { TlogEvent } from "../tlog/index.js";
import type { LicenceRepos, LicenceStatus } from "./ports.js";
import { STATUS_TEXT } from "./ports.js";
import type { Signer } from "./signing.js";

export { LIST_SIZE } from "./read-model.js";
/** Bits per entry: the status code as a 4-bit value (0 = unassigned). */
export const STATUS_BITS = 4;
export const STATUS_NIBBLE: Record<LicenceStatus, number> = { "01": 1, "02": 2, "03": 3, "04": 4, "05": 5, "07": 7, "99": 9 };
export const STATUS_MESSAGES = [
  { status: "0x0", message: "unassigned" },
  ...Object.entries(STATUS_NIBBLE).map(([code, n]) => ({ status: `0x${n.toString(16)}`, message: `${code} ${STATUS_TEXT[code as LicenceStatus]}` })),
];
/** The most licences one answer about a holder lists (their own list, a 免证办 query); it says when there are more. */
export const HOLDER_ANSWER_MAX = 500;
export const MAX_BATCH_LINES = 10_000;

export interface LicenceLog<R> {
  append(repos: R, tx: TxHooks, event: TlogEvent): Promise<{ index: number }>;
  appendMany(repos: R, tx: TxHooks, events: readonly TlogEvent[]): Promise<ReadonlyArray<{ index: number }>>;
}

export interface LicencesDeps<R extends LicenceRepos> {
  uow: UnitOfWork<R>;
  clock: Clock;
  tlog: LicenceLog<R>;
  pii: PiiProtector;
  signer: Signer;
  catalogue: CatalogueService;
  publicUrl: string;
  log?: Logger;
  /** Seconds a signed status list is served from memory before it is rebuilt (default 60). */
  statusListCacheSeconds?: number;
  /** Signs and encrypts bulk issuance on a second core (optional: without it, everything runs on this thread). */
  sealWorker?: SealWorker;
}

export interface HolderInput {
  name: string;
  code: string;
  codeType: string;
}

export interface IssueInput {
  typeCode: string;
  /** 证照编号 as printed on the licence. */
  number: string;
  holder: HolderInput;
  fields: Record<string, FieldValue>;
  issueDate?: string;
  validFrom?: string;
  /** null = long-term (长期); omitted = the type's default validity. */
  validUntil?: string | null;
  idempotencyKey?: string;
}

/** Who issues: the actor, its department, and the scope in which idempotency keys are unique (the client id). */
export interface IssuerContext {
  actor: Actor;
  departmentId: string;
  idempotencyScope: string;
}

/** The signed licence data (JWS payload). GB/T 36903 core metadata, plus where the status is published. */
export interface LicencePayload {
  v: 1;
  id: string;
  name: string;
  typeCode: string;
  number: string;
  issuer: { name: string; code: string };
  issueDate: string;
  holder: { name: string; code: string; codeType: string };
  validFrom: string;
  validUntil: string | null;
  fields: Record<string, FieldValue>;
  version: string;
  supersedes?: string;
  status: { list: string; index: number; size: number; purpose: "message" };
  signedAt: string;
}

export interface LicenceView {
  identifier: string;
  typeCode: string;
  name: string;
  version: string;
  departmentId: string;
  status: LicenceStatus;
  statusText: string;
  statusAt: Date;
  validFrom: string;
  validUntil: string | null;
  supersedes: string | null;
  supersededBy: string | null;
  statusList: { url: string; index: number };
  logIndex: number;
  createdAt: Date;
  data: LicencePayload;
  jws: string;
}

export type BatchResult =
  | { line: number; ok: true; identifier: string; replay: boolean }
  | { line: number; ok: false; code: string; message: string; details?: Record<string, unknown> };

/** Lifecycle table: action → statuses it may start from → resulting status. Everything else is 409. */
export const TRANSITIONS: Record<"suspend" | "resume" | "cancel" | "deregister" | "revoke", { from: readonly LicenceStatus[]; to: LicenceStatus }> = {
  suspend: { from: ["01"], to: "02" },
  resume: { from: ["02"], to: "01" },
  cancel: { from: ["01", "02"], to: "03" },
  deregister: { from: ["01", "02"], to: "04" },
  revoke: { from: ["01", "02"], to: "07" },
};
export type ManualAction = keyof typeof TRANSITIONS;
/** A change (new version) is allowed only from a valid licence. */
export const CHANGE_FROM: readonly LicenceStatus[] = ["01"];
/** Idempotency keys of changes are stored under this prefix + the client id ('/' is in no issuance scope). */
export const CHANGE_IDEMPOTENCY_PREFIX = "versions/";

/** What a change (new version) may set; everything else is carried over from the current version. */
export interface ChangePatch {
  number?: string;
  holderName?: string;
  fields?: Record<string, FieldValue>;
  issueDate?: string;
  validFrom?: string;
  validUntil?: string | null;
  reason: string;
}

/** Status with automatic expiry applied: a valid or suspended licence past its validity end is expired (05). */
export function effectiveStatus(rec: { status: LicenceStatus; validUntil: string | null }, today: string): LicenceStatus {
  if ((rec.status === "01" || rec.status === "02") && rec.validUntil !== null && rec.validUntil < today) return "05";
  return rec.status;
}

/** The refusal of a licence number that a current licence of the same type and department already has. */
export function numberTaken(identifier: string): AppError {
  return new AppError("LICENCE_NUMBER_TAKEN", `This licence number is already used by licence ${identifier} of this type and department.`, { details: { identifier } });
}
