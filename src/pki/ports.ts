/**
 * What the PKI needs from storage. SQLite implements these in src/storage/repos/pki.ts; a PostgreSQL
 * implementation provides the same interfaces. All methods are async so either can back them.
 *
 * Contracts:
 * - `KeyRepo.insert` and `CertificateRepo.insert` MUST fail (throw) on a duplicate id/serial; they never overwrite.
 * - `CertificateRepo.revoke` MUST change only a `valid` row and report whether it did; revocation is final.
 * - `CrlRepo.latest` returns the CRL with the highest number for that issuer; `insert` MUST fail on a duplicate
 *   (issuer, number), so two instances racing to publish cannot both win with the same number.
 */
import type { RevocationReason } from "./crl.js";
import type { ProfileName } from "./profiles.js";

export type KeyAlg = "ES256" | "Ed25519" | "SM2";
export type KeyStatus = "active" | "retired" | "destroyed";

export interface KeyRecord {
  readonly id: string;
  readonly alg: KeyAlg;
  readonly label: string;
  /** What the key is for: a department profile (`licence-signing`, `seal`, `signer`) or another purpose. */
  readonly purpose: string;
  readonly departmentId: string | null;
  /** SubjectPublicKeyInfo, DER. */
  readonly publicKeySpki: Uint8Array;
  /** Backend-specific private-key reference; for the file key store, the AES-256-GCM wrapped PKCS#8. */
  readonly wrappedPrivateKey: Uint8Array;
  readonly status: KeyStatus;
  readonly createdAt: Date;
}

export interface KeyRepo {
  insert(rec: KeyRecord): Promise<void>;
  get(id: string): Promise<KeyRecord | null>;
  list(filter?: { departmentId?: string; purpose?: string; status?: KeyStatus }): Promise<KeyRecord[]>;
  setStatus(id: string, status: KeyStatus): Promise<boolean>;
}

export type CertificateStatus = "valid" | "revoked";

export interface CertificateRecord {
  /** Lower-case hex of the serial number. */
  readonly serial: string;
  readonly profile: ProfileName;
  readonly subject: string;
  /** Serial of the issuing CA certificate. */
  readonly issuerSerial: string;
  readonly departmentId: string | null;
  readonly keyId: string | null;
  readonly der: Uint8Array;
  /** SHA-256 of the DER, lower-case hex. */
  readonly sha256: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly status: CertificateStatus;
  readonly revokedAt: Date | null;
  readonly revocationReason: RevocationReason | null;
  readonly createdAt: Date;
}

export interface CertificateRepo {
  insert(rec: CertificateRecord): Promise<void>;
  get(serial: string): Promise<CertificateRecord | null>;
  listByDepartment(departmentId: string): Promise<CertificateRecord[]>;
  listByKey(keyId: string): Promise<CertificateRecord[]>;
  /** Every revoked certificate of one issuer (expired ones included), ordered by serial. */
  listRevoked(issuerSerial: string): Promise<CertificateRecord[]>;
  revoke(serial: string, reason: RevocationReason, at: Date): Promise<boolean>;
}

export interface CrlRecord {
  readonly issuerSerial: string;
  readonly number: number;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  readonly der: Uint8Array;
  /** SHA-256 over the sorted revoked entries the CRL lists (serial, time, reason): tells whether it is current. */
  readonly entriesSha256: string;
  readonly createdAt: Date;
}

export interface CrlRepo {
  latest(issuerSerial: string): Promise<CrlRecord | null>;
  insert(rec: CrlRecord): Promise<void>;
}

/** Service keys already recorded in the transparency log (see `registerServiceKeys`). */
export interface RegisteredKeyRepo {
  has(sha256: string): Promise<boolean>;
  insert(rec: { sha256: string; role: string; logIndex: number; firstSeen: Date }): Promise<void>;
}

export interface PkiRepos {
  readonly keys: KeyRepo;
  readonly certificates: CertificateRepo;
  readonly crls: CrlRepo;
}
