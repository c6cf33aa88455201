/**
 * Shared set-up for the PKI tests: a fresh keys folder (made by keysInit), an in-memory database, and a small
 * wrapper around the real `openssl` command.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { usccCheckChar } from "../../src/codes/index.js";
import { fixedClock } from "../../src/modules/kernel.js";
import { keysInit, loadKeyMaterial, createPkiService, type KeyMaterial, type PkiService } from "../../src/pki/index.js";
import { openSqlite, type SqliteHandle } from "../../src/storage/db.js";
import { createUnitOfWork, type Repos } from "../../src/storage/repos/index.js";
import type { UnitOfWork } from "../../src/modules/kernel.js";

export const PUBLIC_URL = "http://127.0.0.1:8080";

export function tmpDir(t: { teardown(fn: () => void): void }, prefix = "sidian-pki-"): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A valid USCC built from 17 characters plus its GB 32100 check character. */
export function uscc(first17: string): string {
  const c = usccCheckChar(first17);
  if (!c) throw new Error(`bad USCC body ${first17}`);
  return first17 + c;
}

export interface OpenSslResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function openssl(args: string[], input?: string | Uint8Array): OpenSslResult {
  const r = spawnSync("openssl", args, { input, encoding: "utf8" });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function writeFile(dir: string, name: string, data: string | Uint8Array): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, data);
  return p;
}

export interface PkiFixture {
  dir: string;
  material: KeyMaterial;
  db: SqliteHandle;
  uow: UnitOfWork<Repos>;
  clock: ReturnType<typeof fixedClock>;
  pki: PkiService;
}

/** keysInit into a temp folder, load it, open an in-memory database and build the service. */
export async function pkiFixture(t: { teardown(fn: () => void): void }, opts: { dev?: boolean } = {}): Promise<PkiFixture> {
  const dir = tmpDir(t);
  const keysDir = path.join(dir, "keys");
  await keysInit({ dir: keysDir, dev: opts.dev ?? true, publicUrl: PUBLIC_URL });
  const material = await loadKeyMaterial(keysDir);
  const db = openSqlite(":memory:");
  t.teardown(() => db.close());
  const uow = createUnitOfWork(db);
  const clock = fixedClock(Date.now());
  const pki = createPkiService({ uow, material, clock, publicUrl: PUBLIC_URL });
  return { dir, material, db, uow, clock, pki };
}

export const DEPT = { id: "dept-1", name: "某市市场监督管理局", uscc: uscc("11330100MB0000001") };
