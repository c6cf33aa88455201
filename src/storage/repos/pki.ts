/**
 * SQLite implementation of the PKI ports (src/pki/ports.ts) over drizzle. better-sqlite3 is synchronous; the
 * methods are async to match the port (PostgreSQL implements the same interfaces).
 */
import type BetterSqlite3 from "better-sqlite3";
import { and, asc, desc, eq } from "drizzle-orm";
import type { Drizzle } from "../db.js";
import { certificates, crls, keys, registeredKeys } from "../schema/pki.js";
import type { CertificateRecord, CertificateRepo, CrlRecord, CrlRepo, KeyRecord, KeyRepo, PkiRepos, RegisteredKeyRepo } from "../../pki/ports.js";
import type { RevocationReason } from "../../pki/crl.js";
import type { ProfileName } from "../../pki/profiles.js";

const u8 = (b: Buffer | Uint8Array): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
const buf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

type KeyRow = typeof keys.$inferSelect;
type CertRow = typeof certificates.$inferSelect;
type CrlRow = typeof crls.$inferSelect;

function keyRec(r: KeyRow): KeyRecord {
  return {
    id: r.id,
    alg: r.alg,
    label: r.label,
    purpose: r.purpose,
    departmentId: r.departmentId,
    publicKeySpki: u8(r.publicKeySpki),
    wrappedPrivateKey: u8(r.wrappedPrivateKey),
    status: r.status,
    createdAt: r.createdAt,
  };
}

function certRec(r: CertRow): CertificateRecord {
  return {
    serial: r.serial,
    profile: r.profile as ProfileName,
    subject: r.subject,
    issuerSerial: r.issuerSerial,
    departmentId: r.departmentId,
    keyId: r.keyId,
    der: u8(r.der),
    sha256: r.sha256,
    notBefore: r.notBefore,
    notAfter: r.notAfter,
    status: r.status,
    revokedAt: r.revokedAt,
    revocationReason: r.revocationReason as RevocationReason | null,
    createdAt: r.createdAt,
  };
}

function crlRec(r: CrlRow): CrlRecord {
  return {
    issuerSerial: r.issuerSerial,
    number: r.number,
    thisUpdate: r.thisUpdate,
    nextUpdate: r.nextUpdate,
    der: u8(r.der),
    entriesSha256: r.entriesSha256,
    createdAt: r.createdAt,
  };
}

export function createKeyRepo(db: Drizzle): KeyRepo {
  return {
    async insert(rec) {
      db.insert(keys)
        .values({ ...rec, publicKeySpki: buf(rec.publicKeySpki), wrappedPrivateKey: buf(rec.wrappedPrivateKey) })
        .run();
    },
    async get(id) {
      const r = db.select().from(keys).where(eq(keys.id, id)).get();
      return r ? keyRec(r) : null;
    },
    async list(filter = {}) {
      const conds = [
        filter.departmentId !== undefined ? eq(keys.departmentId, filter.departmentId) : undefined,
        filter.purpose !== undefined ? eq(keys.purpose, filter.purpose) : undefined,
        filter.status !== undefined ? eq(keys.status, filter.status) : undefined,
      ].filter((c) => c !== undefined);
      return db.select().from(keys).where(and(...conds)).orderBy(asc(keys.createdAt), asc(keys.id)).all().map(keyRec);
    },
    async setStatus(id, status) {
      return db.update(keys).set({ status }).where(eq(keys.id, id)).run().changes > 0;
    },
  };
}

/** Every column of `certificates`, in schema order (the raw statements below map rows with certRow). */
const CERT_COLUMNS = "serial, profile, subject, issuer_serial, department_id, key_id, der, sha256, not_before, not_after, status, revoked_at, revocation_reason, created_at";

interface RawCertRow {
  serial: string;
  profile: string;
  subject: string;
  issuer_serial: string;
  department_id: string | null;
  key_id: string | null;
  der: Buffer;
  sha256: string;
  not_before: number;
  not_after: number;
  status: CertRow["status"];
  revoked_at: number | null;
  revocation_reason: string | null;
  created_at: number;
}

function certRow(r: RawCertRow): CertificateRecord {
  return certRec({
    serial: r.serial, profile: r.profile, subject: r.subject, issuerSerial: r.issuer_serial, departmentId: r.department_id,
    keyId: r.key_id, der: r.der, sha256: r.sha256, notBefore: new Date(r.not_before), notAfter: new Date(r.not_after),
    status: r.status, revokedAt: r.revoked_at === null ? null : new Date(r.revoked_at), revocationReason: r.revocation_reason,
    createdAt: new Date(r.created_at),
  });
}

/** `raw`: the same connection as `db`; `get` (on the stamping and validation paths) then runs one prepared statement. */
export function createCertificateRepo(db: Drizzle, raw?: BetterSqlite3.Database): CertificateRepo {
  let bySerial: BetterSqlite3.Statement | undefined;
  return {
    async insert(rec) {
      db.insert(certificates).values({ ...rec, der: buf(rec.der) }).run();
    },
    async get(serial) {
      if (raw) {
        const r = (bySerial ??= raw.prepare(`SELECT ${CERT_COLUMNS} FROM certificates WHERE serial = ?`)).get(serial) as RawCertRow | undefined;
        return r ? certRow(r) : null;
      }
      const r = db.select().from(certificates).where(eq(certificates.serial, serial)).get();
      return r ? certRec(r) : null;
    },
    async listByDepartment(departmentId) {
      return db.select().from(certificates).where(eq(certificates.departmentId, departmentId)).orderBy(asc(certificates.createdAt), asc(certificates.serial)).all().map(certRec);
    },
    async listByKey(keyId) {
      return db.select().from(certificates).where(eq(certificates.keyId, keyId)).orderBy(asc(certificates.createdAt), asc(certificates.serial)).all().map(certRec);
    },
    async listRevoked(issuerSerial) {
      return db
        .select()
        .from(certificates)
        .where(and(eq(certificates.issuerSerial, issuerSerial), eq(certificates.status, "revoked")))
        .orderBy(asc(certificates.serial))
        .all()
        .map(certRec);
    },
    async revoke(serial, reason, at) {
      return (
        db
          .update(certificates)
          .set({ status: "revoked", revokedAt: at, revocationReason: reason })
          .where(and(eq(certificates.serial, serial), eq(certificates.status, "valid")))
          .run().changes > 0
      );
    },
  };
}

export function createCrlRepo(db: Drizzle): CrlRepo {
  return {
    async latest(issuerSerial) {
      const r = db.select().from(crls).where(eq(crls.issuerSerial, issuerSerial)).orderBy(desc(crls.number)).limit(1).get();
      return r ? crlRec(r) : null;
    },
    async insert(rec) {
      db.insert(crls).values({ ...rec, der: buf(rec.der) }).run();
    },
  };
}

export function createPkiRepos(db: Drizzle, raw: BetterSqlite3.Database): PkiRepos {
  return {
    keys: createKeyRepo(db),
    certificates: createCertificateRepo(db, raw),
    crls: createCrlRepo(db),
  };
}

export function createRegisteredKeyRepo(db: Drizzle): RegisteredKeyRepo {
  return {
    async has(sha256) {
      return db.select({ s: registeredKeys.sha256 }).from(registeredKeys).where(eq(registeredKeys.sha256, sha256)).get() !== undefined;
    },
    async insert(rec) {
      db.insert(registeredKeys).values(rec).run();
    },
  };
}
