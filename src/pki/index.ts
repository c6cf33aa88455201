/**
 * Public API of the PKI (keys, certificates, chains, CRL). Other modules import from here only.
 */
export { keysInit, keysShow, formatKeysSummary, DEV_WARNING, type KeysInitOptions, type KeysInitResult, type KeysSummary } from "./cli.js";
export { loadKeyMaterial, certPem, KEY_FILES, type KeyMaterial, type KeysManifest, type CertAndKey, type LoadOptions } from "./material.js";
export {
  createPkiService,
  type PkiService,
  type PkiServiceDeps,
  type DepartmentRef,
  type IssueDepartmentCertificateInput,
  type IssuedCertificate,
  type RevokedCertificate,
  type CheckCertificateOptions,
} from "./service.js";
export {
  createFileKeyStore,
  wrapPrivateKey,
  unwrapPrivateKey,
  signWith,
  kekId,
  type KeyStore,
  type GenerateKeySpec,
  type GeneratedKey,
  type SignOptions,
  type FileKeyStoreOptions,
} from "./keystore.js";
export { verifyChain, type ChainResult, type ChainCheck, type ChainProblem, type CheckStatus, type RevocationStatus, type VerifyChainParams } from "./chain.js";
export { buildCrl, parseCrl, verifyCrlSignature, REVOCATION_REASONS, isRevocationReason, type RevocationReason, type CrlInfo, type CrlEntryInput } from "./crl.js";
export { parseCertificate, parseCertificatesPem, nameToString, type CertInfo } from "./reader.js";
export { createCertificate, keyObjectSigner, randomSerial, keyIdentifier, type CaSigner, type IssuerRef, type CreateCertificateParams } from "./x509.js";
export {
  PROFILES,
  OID,
  DEPARTMENT_PROFILES,
  DEV_OU,
  isDepartmentProfile,
  departmentSubject,
  type ProfileName,
  type DepartmentProfileName,
  type CertificateProfile,
  type KeyUsageName,
} from "./profiles.js";
export { toPem, fromPem, fromPemAll } from "./pem.js";
export type { KeyRepo, KeyRecord, KeyAlg, KeyStatus, CertificateRepo, CertificateRecord, CertificateStatus, CrlRepo, CrlRecord, PkiRepos } from "./ports.js";
