/**
 * E-seals: the service's dependencies, inputs and results, and the constants every use case shares.
 */
import type { AppearanceData, StampPrepared } from "../../pdf/stamp.js";
import type { IssueDepartmentCertificateInput, IssuedCertificate, KeyStore, PkiRepos } from "../../pki/index.js";
import type { CertInfo } from "../../pki/reader.js";
import type { Tsa } from "../../pki/tsa.js";
import type { CaSigner } from "../../pki/x509.js";
import type { PdfWork } from "../../pdf/pool.js";
import type { DirectoryRepos } from "../directory/index.js";
import type { Actor, Clock, CryptoProfile, TrustLog, TxHooks, UnitOfWork } from "../kernel.js";
import type { SealRepos, SealType, StampRecord } from "./ports.js";

/** The stores the seal service works on. */
export type SealServiceRepos = SealRepos & DirectoryRepos & PkiRepos;

export const SEAL_TYPE_TEXT: Record<SealType, string> = {
  "01": "",
  "02": "财务专用章",
  "03": "发票专用章",
  "04": "合同专用章",
  "05": "法定代表人名章",
  "99": "",
};

/** PDF points per millimetre. */
export const MM = 72 / 25.4;
/** Bytes reserved in the PDF for the CMS (signature + certificates + time-stamp token). */
export const CMS_RESERVE = 12_288;

export interface SealServiceDeps<R extends SealServiceRepos> {
  uow: UnitOfWork<R>;
  clock: Clock;
  log: TrustLog<R>;
  keyStore: KeyStore;
  tsa: Tsa;
  /** DEV key material: every seal picture and stamp appearance carries this mark (开发测试 · 非正式 DEV). */
  devMark?: string;
  /** Where untrusted PDFs are read (the worker pool in the service). */
  pdf: PdfWork;
  /** Issuing CA and root certificates (DER), embedded after the seal certificate. */
  chain: readonly Uint8Array[];
  /**
   * The national profile: the SM2 TSA, the SM2 issuing CA + root (DER) and the SM2 issuing CA as signer of the status
   * evidence of SM2 seals; absent without an SM2 hierarchy.
   */
  sm2?: { tsa: Tsa; chain: readonly Uint8Array[]; statusSigner?: { cert: CertInfo; signer: CaSigner } };
  /** The seal maker (制章人) that signs GB/T 38540 SES_Seal structures (SM2); absent without an SM2 hierarchy. */
  sealMaker?: { certDer: Uint8Array; sign(tbs: Uint8Array): Promise<Uint8Array> };
  issueCertificate(repos: R, tx: TxHooks, input: IssueDepartmentCertificateInput, actor: Actor): Promise<IssuedCertificate>;
  revokeCertificate(repos: R, tx: TxHooks, serial: string, actor: Actor): Promise<void>;
  /**
   * The CA that issued the seal certificates signs seal-status evidence (pki/seal-status.ts): in every stamp (the
   * status at signing time) and on demand (`statusEvidence`). Without it stamps carry none.
   */
  statusSigner?: { cert: CertInfo; signer: CaSigner };
  /** How long a statement stands for times after it was produced (nextUpdate − producedAt); default 24 h. */
  statusEvidenceSeconds?: number;
}

export interface CreateSealInput {
  departmentId: string;
  type: SealType;
  /** esID; generated when absent. */
  id?: string;
  /** 印章名称; default: department name + type text. */
  name?: string;
  /** Text under the star; default from the type (required for 99 if wanted). */
  typeText?: string;
  /** Text along the arc; default: the department's name. */
  arcText?: string;
  validFrom?: Date;
  validTo?: Date;
  diameterMm?: number;
  /** Crypto profile of the seal's key and certificate (default: the department's profile). */
  crypto?: CryptoProfile;
}

export type Placement =
  | { page: number; xMm: number; yMm: number }
  | { anchor: string; page?: number; dxMm?: number; dyMm?: number };

export interface StampInput {
  pdf: Buffer;
  placement: Placement;
  reason?: string;
  location?: string;
  /**
   * Instead of the seal picture at `placement`: the caller prepares the stamped revision itself (the e-signature
   * completion report, drawn on the page reserved for it around the seal's own appearance), on a PDF worker like
   * every other reading of an untrusted document. It gets the seal's appearance and the signature dictionary's fields.
   */
  custom?: StampCustom;
}

export interface StampCustom {
  prepare(pdf: Buffer, seal: { appearance: AppearanceData; fields: CustomStampFields }): Promise<StampPrepared>;
}

export interface CustomStampFields {
  fieldName: string;
  signingTime: Date;
  signerName: string;
  reason?: string;
  location?: string;
  reserve: number;
}

export interface StampResult {
  pdf: Buffer;
  record: StampRecord;
}

/** GB/T 38540 SES_Seal fields (JSON rendering). */
export interface SesSealJson {
  esealInfo: {
    header: { ID: "ES"; version: 4; Vid: string };
    esID: string;
    property: { type: number; name: string; certListType: 1; certList: string[]; createDate: string; validStart: string; validEnd: string };
    picture: { type: "SVG"; data: string; width: number; height: number };
  };
  signInfo: null;
  note: string;
}
