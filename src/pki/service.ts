/**
 * The PKI service: issues department certificates, revokes them, publishes the CRL, the trust bundle and the
 * JWKS, and checks certificates against Sidian's own hierarchy.
 *
 * Mutating functions take the repositories of the caller's transaction (`uow.write((repos, tx) => …)`), so the
 * new key, the certificate and the caller's transparency-log entry commit or roll back together. They return
 * what a log entry needs (serial, keyId, profile, subject, notAfter, certificate SHA-256).
 */
import crypto from "node:crypto";
import type { JWK } from "jose";
import { AppError } from "../errors.js";
import type { Clock, TxHooks, UnitOfWork } from "../modules/kernel.js";
import { verifyChain, type ChainResult, type RevocationStatus } from "./chain.js";
import { buildCrl, isRevocationReason, type RevocationReason } from "./crl.js";
import { createFileKeyStore, type KeyStore } from "./keystore.js";
import { certPem, type KeyMaterial } from "./material.js";
import { toPem } from "./pem.js";
import type { CertificateRecord, PkiRepos } from "./ports.js";
import { BACKDATE_MS, departmentSubject, isDepartmentProfile, personSubject, PROFILES, type DepartmentProfileName, type KeyUsageName } from "./profiles.js";
import { parseCertificate, type CertInfo } from "./reader.js";
import { createCertificate, type IssuerRef } from "./x509.js";

const DAY = 86_400_000;

export interface PkiServiceDeps {
  readonly uow: UnitOfWork<PkiRepos>;
  readonly material: KeyMaterial;
  readonly clock: Clock;
  /** Base URL; the CRL distribution point is `${publicUrl}/pki/crl`. */
  readonly publicUrl: string;
  /** Defaults to the file key store over `uow.read.keys` and the material's KEK. */
  readonly keyStore?: KeyStore;
  /** CRL lifetime (nextUpdate − thisUpdate). Default 24 h; a new CRL is signed at half-life or on revocation. */
  readonly crlValiditySeconds?: number;
  /** How long an instance serves its cached CRL before looking at the database again. Default 60 s. */
  readonly crlCacheSeconds?: number;
}

export interface DepartmentRef {
  readonly id: string;
  readonly name: string;
  readonly uscc: string;
}

export interface IssueDepartmentCertificateInput {
  readonly department: DepartmentRef;
  readonly profile: DepartmentProfileName;
  /** Seal ID (esID); required for `seal`, refused otherwise. Goes into the subject serialNumber. */
  readonly sealId?: string;
  /** CN: the seal name (seal) or the signer's name (signer, required). */
  readonly commonName?: string;
  /** Shorter validity than the profile default (the issuing CA's notAfter caps it anyway). */
  readonly validityDays?: number;
  /** The crypto profile: `p256` (default) or `sm2` (an SM2 key certified by the SM2 issuing CA). */
  readonly crypto?: CryptoProfile;
}

/** The two crypto profiles (DESIGN rule 11). */
export type { CryptoProfile } from "../modules/kernel.js";
import type { CryptoProfile } from "../modules/kernel.js";

export interface IssuedCertificate {
  readonly serial: string;
  readonly keyId: string;
  readonly profile: DepartmentProfileName;
  readonly subject: string;
  readonly issuerSerial: string;
  readonly departmentId: string;
  readonly sealId: string | null;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** SHA-256 of the certificate DER, lower-case hex. */
  readonly sha256: string;
  readonly der: Uint8Array;
  readonly pem: string;
  /** Certificate, issuing CA, root — PEM, for x5c / CMS certificate sets. */
  readonly chainPem: string;
}

export interface RevokedCertificate {
  readonly serial: string;
  readonly profile: string;
  readonly subject: string;
  readonly keyId: string | null;
  readonly departmentId: string | null;
  readonly sha256: string;
  readonly reason: RevocationReason;
  readonly revokedAt: Date;
}

export interface CheckCertificateOptions {
  readonly at?: Date;
  readonly keyUsage?: readonly KeyUsageName[];
  readonly extKeyUsage?: string;
  /** Extra intermediates (normally none: Sidian's issuing CA is always included). */
  readonly intermediates?: readonly Uint8Array[];
}

export interface PkiService {
  readonly material: KeyMaterial;
  readonly keyStore: KeyStore;
  readonly issuingCaSerial: string;
  readonly crlUrl: string;
  issueDepartmentCertificate(repos: PkiRepos, input: IssueDepartmentCertificateInput): Promise<IssuedCertificate>;
  /**
   * A personal-signing key and certificate for a natural person (云签名): a new P-256 key in the key store and a
   * certificate naming the person and a pseudonym. Inside the caller's transaction.
   */
  issuePersonCertificate(repos: PkiRepos, input: { name: string; pseudonym: string; validityDays?: number; crypto?: CryptoProfile }): Promise<Omit<IssuedCertificate, "profile" | "departmentId"> & { profile: "personal-signing" }>;
  /** Revokes a certificate and retires its key (each department key has exactly one certificate). */
  revokeCertificate(repos: PkiRepos, serial: string, reason: RevocationReason, at?: Date, tx?: TxHooks): Promise<RevokedCertificate>;
  /** The current CRL (DER), signed by the issuing CA of the profile (default p256). */
  crl(profile?: CryptoProfile): Promise<Uint8Array>;
  /** Whether the keys folder has the SM2 hierarchy (the national profile can be used). */
  readonly sm2Available: boolean;
  /** Root and issuing CA certificates, PEM (P-256, then SM2 when present). */
  trustBundlePem(): string;
  /** Public JWKS with the token-signing key (kid, alg ES256, use sig, x5c [token, issuing CA]), then old token keys still in their overlap. */
  jwks(): { keys: JWK[] };
  /** A certificate issued by Sidian, from the database. */
  certificate(serial: string, repos?: PkiRepos): Promise<CertificateRecord>;
  /** Chain + revocation check of a certificate against Sidian's own root, revocation status from the database. */
  checkCertificate(der: Uint8Array, opts?: CheckCertificateOptions): Promise<ChainResult>;
}

function b64(u: Uint8Array): string {
  return Buffer.from(u).toString("base64");
}

function entriesDigest(rows: readonly CertificateRecord[]): string {
  const h = crypto.createHash("sha256");
  for (const r of [...rows].sort((a, b) => (a.serial < b.serial ? -1 : 1))) {
    h.update(`${r.serial}|${r.revokedAt?.getTime() ?? ""}|${r.revocationReason ?? ""}\n`);
  }
  return h.digest("hex");
}

export function createPkiService(deps: PkiServiceDeps): PkiService {
  const { material, clock, uow } = deps;
  const publicUrl = deps.publicUrl.replace(/\/+$/, "");
  const crlUrl = `${publicUrl}/pki/crl`;
  const keyStore = deps.keyStore ?? createFileKeyStore({ kek: material.kek, repo: uow.read.keys, clock });
  const ica = material.issuingCa;
  const issuingCaSerial = ica.cert.serial;
  const crlValidityMs = (deps.crlValiditySeconds ?? 86_400) * 1000;
  const crlCacheMs = (deps.crlCacheSeconds ?? 60) * 1000;
  const trustBundle = material.trustBundlePem;
  // Certificates in the key material are not in the database; they are never revoked through the CRL.
  const materialSerials = new Set([
    material.tsa.cert.serial, material.token.cert.serial, ...material.previous.tsa.map((t) => t.cert.serial), ...material.previous.token.map((t) => t.cert.serial),
    ...(material.sm2 ? [material.sm2.tsa.cert.serial, material.sm2.sealMaker.cert.serial] : []),
  ]);

  /** One CA hierarchy: its issuing CA, the CRL it publishes and the chain tail of the certificates it issues. */
  interface Hierarchy {
    readonly profile: CryptoProfile;
    readonly ca: { readonly cert: CertInfo };
    readonly root: CertInfo;
    readonly issuer: IssuerRef;
    readonly crlUrl: string;
    readonly chainTail: string;
    readonly keyAlg: "ES256" | "SM2";
    crlCache: { der: Uint8Array; refreshAt: number } | null;
    crlInflight: Promise<Uint8Array> | null;
  }
  const hierarchies: Partial<Record<CryptoProfile, Hierarchy>> = {
    p256: {
      profile: "p256", ca: ica, root: material.rootCert, keyAlg: "ES256", crlUrl,
      issuer: { nameDer: ica.cert.subjectDer, keyId: ica.keyId, notAfter: ica.cert.notAfter, signer: ica.signer },
      chainTail: certPem(ica.cert) + certPem(material.rootCert), crlCache: null, crlInflight: null,
    },
  };
  if (material.sm2) {
    const s = material.sm2.issuingCa;
    hierarchies.sm2 = {
      profile: "sm2", ca: s, root: material.sm2.rootCert, keyAlg: "SM2", crlUrl: `${publicUrl}/pki/sm2/crl`,
      issuer: { nameDer: s.cert.subjectDer, keyId: s.keyId, notAfter: s.cert.notAfter, signer: s.signer },
      chainTail: certPem(s.cert) + certPem(material.sm2.rootCert), crlCache: null, crlInflight: null,
    };
  }
  const hierarchy = (p: CryptoProfile = "p256"): Hierarchy => {
    const h = hierarchies[p];
    if (!h) throw new AppError("CRYPTO_PROFILE_UNAVAILABLE", `The ${p} crypto profile is not available: the keys folder has no ${p === "sm2" ? "SM2 hierarchy (sidian keys init makes one)" : "such hierarchy"}.`);
    return h;
  };

  async function produceCrl(h: Hierarchy): Promise<Uint8Array> {
    const issuingCaSerial = h.ca.cert.serial;
    const issuer = h.issuer;
    const now = clock.now();
    const revoked = await uow.read.certificates.listRevoked(issuingCaSerial);
    const digest = entriesDigest(revoked);
    const latest = await uow.read.crls.latest(issuingCaSerial);
    const halfLife = (r: { thisUpdate: Date; nextUpdate: Date }) => r.thisUpdate.getTime() + (r.nextUpdate.getTime() - r.thisUpdate.getTime()) / 2;
    if (latest && latest.entriesSha256 === digest && now.getTime() < halfLife(latest) && now >= latest.thisUpdate) {
      h.crlCache = { der: latest.der, refreshAt: Math.min(now.getTime() + crlCacheMs, halfLife(latest)) };
      return latest.der;
    }
    // Sign outside the write transaction (an HSM may be slow), then publish if nobody else did meanwhile.
    const number = (latest?.number ?? 0) + 1;
    const thisUpdate = new Date(Math.floor(now.getTime() / 1000) * 1000);
    const nextUpdate = new Date(thisUpdate.getTime() + crlValidityMs);
    const der = await buildCrl({
      issuer,
      number,
      thisUpdate,
      nextUpdate,
      entries: revoked.map((r) => ({ serial: r.serial, revokedAt: r.revokedAt!, reason: r.revocationReason ?? "unspecified" })),
    });
    const published = await uow.write(async (repos) => {
      const cur = await repos.crls.latest(issuingCaSerial);
      if ((cur?.number ?? 0) !== (latest?.number ?? 0)) return null; // another instance published first
      await repos.crls.insert({ issuerSerial: issuingCaSerial, number, thisUpdate, nextUpdate, der, entriesSha256: digest, createdAt: now });
      return der;
    });
    if (published === null) {
      h.crlCache = null;
      return produceCrl(h);
    }
    h.crlCache = { der, refreshAt: Math.min(now.getTime() + crlCacheMs, halfLife({ thisUpdate, nextUpdate })) };
    return der;
  }

  return {
    material,
    keyStore,
    issuingCaSerial,
    crlUrl,
    sm2Available: !!hierarchies.sm2,

    async issueDepartmentCertificate(repos, input) {
      if (!isDepartmentProfile(input.profile)) {
        throw new AppError("CERTIFICATE_PROFILE_INVALID", `Profile ${String(input.profile)} is not a department profile.`);
      }
      const profile = PROFILES[input.profile];
      const subject = departmentSubject({
        department: input.department,
        profile: input.profile,
        ...(input.sealId !== undefined ? { sealId: input.sealId } : {}),
        ...(input.commonName !== undefined ? { commonName: input.commonName } : {}),
        dev: material.dev,
      });
      const days = input.validityDays ?? profile.validityDays;
      if (!Number.isInteger(days) || days < 1 || days > profile.validityDays) {
        throw new AppError("CERTIFICATE_PROFILE_INVALID", `Validity must be 1 to ${profile.validityDays} days for ${profile.name}.`);
      }
      const h = hierarchy(input.crypto);
      const now = new Date(Math.floor(clock.now().getTime() / 1000) * 1000);
      if (now >= h.ca.cert.notAfter) throw new AppError("KEYSTORE_LOCKED", "The issuing CA certificate has expired.");
      const key = await keyStore.generate(
        {
          alg: h.keyAlg,
          purpose: input.profile,
          label: `${input.profile}:${input.department.uscc}${input.sealId ? `:${input.sealId}` : ""}`,
          departmentId: input.department.id,
        },
        repos.keys,
      );
      const der = await createCertificate({
        profile,
        subject,
        publicKey: key.spki,
        notBefore: new Date(now.getTime() - BACKDATE_MS),
        notAfter: new Date(now.getTime() + days * DAY),
        issuer: h.issuer,
        crlUrl: h.crlUrl,
      });
      const info = parseCertificate(der);
      await repos.certificates.insert({
        serial: info.serial,
        profile: input.profile,
        subject: info.subject,
        issuerSerial: h.ca.cert.serial,
        departmentId: input.department.id,
        keyId: key.keyId,
        der,
        sha256: info.sha256,
        notBefore: info.notBefore,
        notAfter: info.notAfter,
        status: "valid",
        revokedAt: null,
        revocationReason: null,
        createdAt: now,
      });
      const pem = toPem(der, "CERTIFICATE");
      return {
        serial: info.serial,
        keyId: key.keyId,
        profile: input.profile,
        subject: info.subject,
        issuerSerial: h.ca.cert.serial,
        departmentId: input.department.id,
        sealId: input.sealId ?? null,
        notBefore: info.notBefore,
        notAfter: info.notAfter,
        sha256: info.sha256,
        der,
        pem,
        chainPem: pem + h.chainTail,
      };
    },

    async issuePersonCertificate(repos, input) {
      const profile = PROFILES["personal-signing"];
      const subject = personSubject({ name: input.name, pseudonym: input.pseudonym, dev: material.dev });
      const days = input.validityDays ?? profile.validityDays;
      const h = hierarchy(input.crypto);
      const now = new Date(Math.floor(clock.now().getTime() / 1000) * 1000);
      if (now >= h.ca.cert.notAfter) throw new AppError("KEYSTORE_LOCKED", "The issuing CA certificate has expired.");
      const key = await keyStore.generate({ alg: h.keyAlg, purpose: "personal-signing", label: `personal-signing:${input.pseudonym}`, departmentId: null }, repos.keys);
      const der = await createCertificate({
        profile, subject, publicKey: key.spki, notBefore: new Date(now.getTime() - BACKDATE_MS), notAfter: new Date(now.getTime() + days * DAY), issuer: h.issuer, crlUrl: h.crlUrl,
      });
      const info = parseCertificate(der);
      await repos.certificates.insert({
        serial: info.serial, profile: "personal-signing", subject: info.subject, issuerSerial: h.ca.cert.serial, departmentId: null, keyId: key.keyId,
        der, sha256: info.sha256, notBefore: info.notBefore, notAfter: info.notAfter, status: "valid", revokedAt: null, revocationReason: null, createdAt: now,
      });
      const pem = toPem(der, "CERTIFICATE");
      return {
        serial: info.serial, keyId: key.keyId, profile: "personal-signing" as const, subject: info.subject, issuerSerial: h.ca.cert.serial, sealId: null,
        notBefore: info.notBefore, notAfter: info.notAfter, sha256: info.sha256, der, pem, chainPem: pem + h.chainTail,
      };
    },

    async revokeCertificate(repos, serial, reason, at, tx) {
      if (!isRevocationReason(reason)) throw new AppError("VALIDATION_FAILED", `Unknown revocation reason ${String(reason)}.`);
      const s = serial.toLowerCase();
      const rec = await repos.certificates.get(s);
      if (!rec) throw new AppError("CERTIFICATE_NOT_FOUND", `No certificate with serial ${s}.`);
      if (rec.status === "revoked") throw new AppError("CONFLICT", `Certificate ${s} is already revoked.`);
      const revokedAt = new Date(Math.floor((at ?? clock.now()).getTime() / 1000) * 1000);
      if (!(await repos.certificates.revoke(s, reason, revokedAt))) throw new AppError("CONFLICT", `Certificate ${s} is already revoked.`);
      if (rec.keyId) await repos.keys.setStatus(rec.keyId, "retired");
      const drop = () => {
        for (const h of Object.values(hierarchies)) if (h.ca.cert.serial === rec.issuerSerial) h.crlCache = null;
        if (rec.keyId) keyStore.forget(rec.keyId);
      };
      if (tx) tx.afterCommit(drop);
      else drop();
      return {
        serial: s,
        profile: rec.profile,
        subject: rec.subject,
        keyId: rec.keyId,
        departmentId: rec.departmentId,
        sha256: rec.sha256,
        reason,
        revokedAt,
      };
    },

    async crl(profile) {
      const h = hierarchy(profile);
      if (h.crlCache && clock.now().getTime() < h.crlCache.refreshAt) return h.crlCache.der;
      if (!h.crlInflight) {
        h.crlInflight = produceCrl(h).finally(() => {
          h.crlInflight = null;
        });
      }
      return h.crlInflight;
    },

    trustBundlePem: () => trustBundle,

    jwks() {
      const now = clock.now();
      const entry = (t: { publicJwk: JWK; cert: CertInfo }) => ({
        ...t.publicJwk,
        x5c: [b64(t.cert.der), b64(ica.cert.der)],
        "x5t#S256": Buffer.from(t.cert.sha256, "hex").toString("base64url"),
      });
      return { keys: [entry(material.token), ...material.previous.token.filter((t) => t.until > now).map(entry)] };
    },

    async certificate(serial, repos = uow.read) {
      const rec = await repos.certificates.get(serial.toLowerCase());
      if (!rec) throw new AppError("CERTIFICATE_NOT_FOUND", `No certificate with serial ${serial}.`);
      return rec;
    },

    async checkCertificate(der, opts = {}) {
      const revocation = async (c: CertInfo, iss: CertInfo): Promise<RevocationStatus> => {
        if (iss.serial === material.rootCert.serial || iss.serial === material.sm2?.rootCert.serial) return { status: "good" }; // the roots publish no CRL
        if (materialSerials.has(c.serial)) return { status: "good" };
        const rec = await uow.read.certificates.get(c.serial);
        if (!rec || rec.sha256 !== c.sha256) return { status: "unknown", detail: "not issued by this service" };
        return rec.status === "revoked" && rec.revokedAt
          ? { status: "revoked", revokedAt: rec.revokedAt, ...(rec.revocationReason ? { reason: rec.revocationReason } : {}) }
          : { status: "good" };
      };
      return verifyChain({
        leaf: der,
        intermediates: [ica.cert, ...(material.sm2 ? [material.sm2.issuingCa.cert] : []), ...(opts.intermediates ?? [])],
        anchors: [material.rootCert, ...(material.sm2 ? [material.sm2.rootCert] : [])],
        at: opts.at ?? clock.now(),
        ...(opts.keyUsage ? { keyUsage: opts.keyUsage } : {}),
        ...(opts.extKeyUsage ? { extKeyUsage: opts.extKeyUsage } : {}),
        revocation,
      });
    },
  };
}

