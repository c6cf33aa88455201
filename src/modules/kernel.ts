/**
 * What every domain module may depend on: a clock, a logger, and a unit of work over its repositories.
 * Storage implements these (src/storage/); tests pass their own. No fastify, drizzle or process.env here.
 */

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock tests can move. */
export function fixedClock(start: Date | string | number): Clock & { set(d: Date | string | number): void; advance(ms: number): void } {
  let t = new Date(start).getTime();
  return {
    now: () => new Date(t),
    set: (d) => void (t = new Date(d).getTime()),
    advance: (ms) => void (t += ms),
  };
}

/** The subset of pino the domain uses. Never log secrets or full personal identifiers. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export interface TxHooks {
  /** Runs after a successful commit (e.g. publish an in-memory cache). */
  afterCommit(fn: () => void): void;
  /** Runs after a rollback (e.g. drop an in-memory cache that the transaction touched). */
  afterRollback(fn: () => void): void;
  /**
   * Where the store groups units of work into one transaction (PostgreSQL): runs when this unit's changes are kept
   * in the open transaction, before it commits; the next unit of the group sees them. afterCommit or (for every
   * unit of a group that fails) afterRollback follows. Absent where each unit commits on its own.
   */
  afterKept?(fn: () => void): void;
}

/**
 * Reads go through `read` (last committed state). Every change goes through `write`: one transaction, all or
 * nothing; the repositories handed to `fn` see the transaction's own writes. MUST NOT do slow work (signing,
 * network) inside `fn`: prepare it before, so the write lock is held only for the database work.
 */
export interface UnitOfWork<R> {
  readonly read: R;
  /** `relaxed`: no fsync of its own (durable across a process crash, not a power cut) — never for trust events. */
  write<T>(fn: (repos: R, tx: TxHooks) => Promise<T>, opts?: { relaxed?: boolean }): Promise<T>;
  /**
   * A value that changes whenever another connection (another process) has committed to the store since it was
   * last read; this process's own commits leave it as it is. It may lag by a few milliseconds (SQLite: 20 ms).
   * Undefined where the store cannot tell: caches then rely on their time limits alone.
   */
  changeMark?(): number;
  /**
   * Resolves once every commit made so far is durable. A write resolves only once its own commit is; a reader may
   * see a commit a moment before (SQLite with SIDIAN_DB_SYNC=grouped). An answer built from something read rather
   * than written (an idempotent replay) awaits this first. Absent: commits are durable when visible.
   */
  durable?(): Promise<void>;
}

/** The principal behind a request, as the auth plugin established it. */
export type Role = "admin" | "issuer" | "consumer" | "counter" | "archivist";

/**
 * The crypto profiles (DESIGN rule 11): `p256` (ECDSA P-256 / SHA-256) and `sm2` (SM2 / SM3, the national profile).
 * Departments, seals and licence types each name one; a verifier picks the algorithm from what it reads.
 */
export type CryptoProfile = "p256" | "sm2";
export const CRYPTO_PROFILES: readonly CryptoProfile[] = ["p256", "sm2"];

export type Actor =
  | { kind: "client"; clientId: string; role: Role; departmentId: string | null; matters: string[]; scopes: string[] }
  | { kind: "holder"; subjectHash: string; codeType: string; scopes: string[]; /** When the identity provider authenticated the holder (the token's auth_time, else iat). */ authTime?: Date }
  | { kind: "system"; name: string }
  | { kind: "anonymous" };

export function actorLabel(a: Actor): string {
  switch (a.kind) {
    case "client":
      return `client:${a.clientId}`;
    case "holder":
      return `holder:${a.subjectHash.slice(0, 16)}`;
    case "system":
      return `system:${a.name}`;
    default:
      return "anonymous";
  }
}

/**
 * A trust event for the transparency log (DESIGN rule 5). `subject` is an opaque id or a keyed hash, never
 * personal data in clear; `data` holds hashes and non-personal facts.
 */
export interface TrustEvent {
  type: string;
  subject: string;
  actor: string;
  data: Record<string, unknown>;
}

/**
 * The port through which every module appends to the transparency log, inside its own write transaction.
 * `repos` is the transaction's repository bundle. The index is final only once the transaction commits.
 */
export interface TrustLog<R = unknown> {
  append(repos: R, tx: TxHooks, event: TrustEvent): Promise<{ index: number }>;
}
