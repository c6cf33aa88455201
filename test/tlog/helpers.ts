/** Shared set-up for the transparency log tests: a real SQLite unit of work and a fresh Ed25519 log key. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { openSqlite, type SqliteHandle } from "../../src/storage/db.js";
import { createUnitOfWork, type Repos } from "../../src/storage/repos/index.js";
import { fixedClock, silentLogger, type UnitOfWork } from "../../src/modules/kernel.js";
import { createTlog, type TlogEvent, type TlogSigner } from "../../src/modules/tlog/index.js";

export const ORIGIN = "test.sidian.invalid/log";

export function tmpDb(prefix = "tlog"): { file: string; dir: string; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sidian-${prefix}-`));
  return { file: path.join(dir, "db.sqlite"), dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export function newSigner(name = ORIGIN): TlogSigner & { privateKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return { name, privateKey, publicKey };
}

export interface Env {
  h: SqliteHandle;
  uow: UnitOfWork<Repos>;
  clock: ReturnType<typeof fixedClock>;
  signer: TlogSigner & { privateKey: KeyObject };
  tlog: ReturnType<typeof createTlog<Repos>>;
  file: string;
  close(): Promise<void>;
}

export function makeEnv(opts: { file?: string; signer?: TlogSigner & { privateKey: KeyObject }; interval?: number; maxEntries?: number; auto?: boolean } = {}): Env {
  const tmp = opts.file ? null : tmpDb();
  const file = opts.file ?? tmp!.file;
  const h = openSqlite(file, { sync: "normal" });
  const uow = createUnitOfWork(h);
  const clock = fixedClock("2026-01-01T00:00:00Z");
  const signer = opts.signer ?? newSigner();
  const tlog = createTlog({
    uow,
    clock,
    signer,
    checkpointIntervalSeconds: opts.interval ?? 10,
    checkpointMaxEntries: opts.maxEntries ?? 1000,
    log: silentLogger,
    autoCheckpoint: opts.auto ?? false,
  });
  return {
    h, uow, clock, signer, tlog, file,
    async close() {
      await tlog.close();
      h.close();
      tmp?.cleanup();
    },
  };
}

export function ev(i: number, extra: Partial<TlogEvent> = {}): TlogEvent {
  return { type: "test.appended", subject: `thing:${i}`, actor: "system:test", data: { n: i }, ...extra };
}

/** Appends `n` events in transactions of `batch`. */
export async function fill(env: Env, n: number, batch = 100, start = 0): Promise<void> {
  for (let i = start; i < start + n; i += batch) {
    const events = Array.from({ length: Math.min(batch, start + n - i) }, (_, k) => ev(i + k));
    await env.uow.write((repos, tx) => env.tlog.appendMany(repos, tx, events));
  }
}

export const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
export const unhex = (s: string) => Buffer.from(s, "hex");
