/**
 * The PKI ports (src/pki/ports.ts) over the portable Sql (SQLite and PostgreSQL).
 */
import type { Sql } from "../sql.js";
import { tableOf } from "../table.js";
import { certificates, crls, keys, registeredKeys } from "../schema/pki.js";
import type { CertificateRecord, CertificateRepo, CrlRecord, CrlRepo, KeyRecord, KeyRepo, PkiRepos, RegisteredKeyRepo } from "../../pki/ports.js";

const u8 = (b: Buffer | Uint8Array): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

const K = tableOf<KeyRecord>(keys);
const C = tableOf<CertificateRecord>(certificates);
const L = tableOf<CrlRecord>(crls);
const R = tableOf<{ sha256: string; role: string; logIndex: number; firstSeen: Date }>(registeredKeys);

function keyRec(r: Record<string, unknown>): KeyRecord {
  const k = K.from(r);
  return { ...k, publicKeySpki: u8(k.publicKeySpki), wrappedPrivateKey: u8(k.wrappedPrivateKey) };
}

function certRec(r: Record<string, unknown>): CertificateRecord {
  const c = C.from(r);
  return { ...c, der: u8(c.der) };
}

function crlRec(r: Record<string, unknown>): CrlRecord {
  const c = L.from(r);
  return { ...c, der: u8(c.der) };
}

export function createKeyRepo(sql: Sql): KeyRepo {
  const get = `SELECT ${K.cols} FROM keys WHERE id = ?`;
  const list = `SELECT ${K.cols} FROM keys WHERE (CAST(? AS TEXT) IS NULL OR department_id = ?) AND (CAST(? AS TEXT) IS NULL OR purpose = ?)
    AND (CAST(? AS TEXT) IS NULL OR status = ?) ORDER BY created_at, id`;
  return {
    async insert(rec) {
      await sql.run(K.insert, K.args(rec));
    },
    async get(id) {
      const r = await sql.get(get, [id]);
      return r ? keyRec(r) : null;
    },
    async list(filter = {}) {
      const d = filter.departmentId ?? null;
      const p = filter.purpose ?? null;
      const s = filter.status ?? null;
      return (await sql.all(list, [d, d, p, p, s, s])).map(keyRec);
    },
    async setStatus(id, status) {
      return (await sql.run("UPDATE keys SET status = ? WHERE id = ?", [status, id])) > 0;
    },
  };
}

export function createCertificateRepo(sql: Sql): CertificateRepo {
  // `get` is on the stamping and validation paths.
  const get = `SELECT ${C.cols} FROM certificates WHERE serial = ?`;
  const byDep = `SELECT ${C.cols} FROM certificates WHERE department_id = ? ORDER BY created_at, serial`;
  const byKey = `SELECT ${C.cols} FROM certificates WHERE key_id = ? ORDER BY created_at, serial`;
  const revoked = `SELECT ${C.cols} FROM certificates WHERE issuer_serial = ? AND status = 'revoked' ORDER BY serial`;
  const revoke = "UPDATE certificates SET status = 'revoked', revoked_at = ?, revocation_reason = ? WHERE serial = ? AND status = 'valid'";
  return {
    async insert(rec) {
      await sql.run(C.insert, C.args(rec));
    },
    async get(serial) {
      const r = await sql.get(get, [serial]);
      return r ? certRec(r) : null;
    },
    async listByDepartment(departmentId) {
      return (await sql.all(byDep, [departmentId])).map(certRec);
    },
    async listByKey(keyId) {
      return (await sql.all(byKey, [keyId])).map(certRec);
    },
    async listRevoked(issuerSerial) {
      return (await sql.all(revoked, [issuerSerial])).map(certRec);
    },
    async revoke(serial, reason, at) {
      return (await sql.run(revoke, [at.getTime(), reason, serial])) > 0;
    },
  };
}

export function createCrlRepo(sql: Sql): CrlRepo {
  const latest = `SELECT ${L.cols} FROM crls WHERE issuer_serial = ? ORDER BY number DESC LIMIT 1`;
  return {
    async latest(issuerSerial) {
      const r = await sql.get(latest, [issuerSerial]);
      return r ? crlRec(r) : null;
    },
    async insert(rec) {
      await sql.run(L.insert, L.args(rec));
    },
  };
}

export function createPkiRepos(sql: Sql): PkiRepos {
  return {
    keys: createKeyRepo(sql),
    certificates: createCertificateRepo(sql),
    crls: createCrlRepo(sql),
  };
}

export function createRegisteredKeyRepo(sql: Sql): RegisteredKeyRepo {
  return {
    async has(sha256) {
      return (await sql.get("SELECT sha256 FROM registered_keys WHERE sha256 = ?", [sha256])) !== undefined;
    },
    async insert(rec) {
      await sql.run(R.insert, R.args(rec));
    },
  };
}
