/**
 * X.509 CRL v2 (RFC 5280 §5): generator and reader.
 *
 * A CRL lists every revoked certificate of one issuer (no partitioning, no delta CRLs). Extensions: CRL number
 * (monotonic, kept in the database) and authority key identifier. Entries carry a reasonCode unless the reason is
 * `unspecified` (RFC 5280 §5.3.1: SHOULD be absent then). Revocation is final: certificateHold is not offered.
 */
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import {
  AuthorityKeyIdentifier,
  CertificateList,
  CRLNumber,
  CRLReason,
  Extension,
  KeyIdentifier,
  Name,
  RevokedCertificate,
  TBSCertList,
  Time,
  Version,
} from "@peculiar/asn1-x509";
import { OID } from "./profiles.js";
import { nameToString } from "./reader.js";
import { verifyWithSpki } from "./signing-key.js";
import { sigAlgOf, hex, toArrayBuffer, type CaSigner } from "./x509.js";

export const REVOCATION_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  privilegeWithdrawn: 9,
} as const;
export type RevocationReason = keyof typeof REVOCATION_REASONS;

export function isRevocationReason(s: string): s is RevocationReason {
  return Object.prototype.hasOwnProperty.call(REVOCATION_REASONS, s);
}

export interface CrlEntryInput {
  /** Lower-case hex serial, as stored. */
  readonly serial: string;
  readonly revokedAt: Date;
  readonly reason: RevocationReason;
}

export interface BuildCrlParams {
  readonly issuer: { readonly nameDer: Uint8Array; readonly keyId: Uint8Array; readonly signer: CaSigner };
  readonly number: number;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  readonly entries: readonly CrlEntryInput[];
}

function ext(extnID: string, value: unknown): Extension {
  return new Extension({ extnID, critical: false, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

/** Builds and signs a CRL; returns its DER. Entries are sorted by serial so equal inputs give equal TBS bytes. */
export async function buildCrl(p: BuildCrlParams): Promise<Uint8Array> {
  if (!Number.isSafeInteger(p.number) || p.number < 0) throw new RangeError("CRL number must be a non-negative integer");
  if (p.nextUpdate <= p.thisUpdate) throw new RangeError("nextUpdate must be after thisUpdate");
  const entries = [...p.entries].sort((a, b) => (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : 0));
  const revoked = entries.map(
    (e) =>
      new RevokedCertificate({
        userCertificate: toArrayBuffer(new Uint8Array(Buffer.from(e.serial, "hex"))),
        revocationDate: new Time(e.revokedAt),
        ...(e.reason !== "unspecified" ? { crlEntryExtensions: [ext(OID.crlReason, new CRLReason(REVOCATION_REASONS[e.reason]))] } : {}),
      }),
  );
  const tbs = new TBSCertList({
    version: Version.v2,
    signature: sigAlgOf(p.issuer.signer),
    issuer: AsnConvert.parse(p.issuer.nameDer, Name),
    thisUpdate: new Time(p.thisUpdate),
    nextUpdate: new Time(p.nextUpdate),
    ...(revoked.length > 0 ? { revokedCertificates: revoked } : {}),
    crlExtensions: [
      ext(OID.authorityKeyIdentifier, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(toArrayBuffer(p.issuer.keyId)) })),
      ext(OID.crlNumber, new CRLNumber(p.number)),
    ],
  });
  const tbsDer = new Uint8Array(AsnConvert.serialize(tbs));
  const signature = await p.issuer.signer.sign(tbsDer);
  const crl = new CertificateList({ tbsCertList: tbs, signatureAlgorithm: sigAlgOf(p.issuer.signer), signature: toArrayBuffer(signature) });
  return new Uint8Array(AsnConvert.serialize(crl));
}

export interface CrlInfo {
  readonly der: Uint8Array;
  readonly issuer: string;
  readonly issuerDer: Uint8Array;
  readonly number: number | null;
  readonly authorityKeyId: string | null;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date | null;
  readonly entries: ReadonlyMap<string, { readonly revokedAt: Date; readonly reason: RevocationReason | "other" }>;
  /** The exact signed bytes and signature, for `verifyCrlSignature`. */
  readonly tbs: Uint8Array;
  readonly signature: Uint8Array;
  /** The signatureAlgorithm OID (ecdsa-with-SHA256, or SM3withSM2 for the national profile's CA). */
  readonly signatureAlgorithm: string;
}

const REASON_BY_CODE = new Map<number, RevocationReason>(Object.entries(REVOCATION_REASONS).map(([k, v]) => [v, k as RevocationReason]));

export function parseCrl(der: Uint8Array): CrlInfo {
  const list = AsnConvert.parse(der, CertificateList);
  const tbs = list.tbsCertList;
  let number: number | null = null;
  let authorityKeyId: string | null = null;
  for (const e of tbs.crlExtensions ?? []) {
    if (e.extnID === OID.crlNumber) number = AsnConvert.parse(e.extnValue.buffer, CRLNumber).value;
    if (e.extnID === OID.authorityKeyIdentifier) {
      const aki = AsnConvert.parse(e.extnValue.buffer, AuthorityKeyIdentifier);
      authorityKeyId = aki.keyIdentifier ? hex(aki.keyIdentifier.buffer) : null;
    }
  }
  const entries = new Map<string, { revokedAt: Date; reason: RevocationReason | "other" }>();
  for (const r of tbs.revokedCertificates ?? []) {
    let reason: RevocationReason | "other" = "unspecified";
    for (const e of r.crlEntryExtensions ?? []) {
      if (e.extnID === OID.crlReason) reason = REASON_BY_CODE.get(AsnConvert.parse(e.extnValue.buffer, CRLReason).reason) ?? "other";
    }
    entries.set(hex(r.userCertificate), { revokedAt: r.revocationDate.getTime(), reason });
  }
  if (!list.tbsCertListRaw) throw new Error("CRL has no raw TBS");
  return {
    der: new Uint8Array(der),
    issuer: nameToString(tbs.issuer),
    issuerDer: new Uint8Array(AsnConvert.serialize(tbs.issuer)),
    number,
    authorityKeyId,
    thisUpdate: tbs.thisUpdate.getTime(),
    nextUpdate: tbs.nextUpdate ? tbs.nextUpdate.getTime() : null,
    entries,
    tbs: new Uint8Array(list.tbsCertListRaw),
    signature: new Uint8Array(list.signature),
    signatureAlgorithm: list.signatureAlgorithm.algorithm,
  };
}

/** True when `crl` is signed (ecdsa-with-SHA256, or SM3withSM2 with an SM2 key) by the key in `issuerSpki`. */
export function verifyCrlSignature(crl: CrlInfo, issuerSpki: Uint8Array): boolean {
  if (crl.signatureAlgorithm !== OID.ecdsaWithSHA256 && crl.signatureAlgorithm !== OID.sm3WithSm2) return false;
  return verifyWithSpki(crl.signatureAlgorithm, issuerSpki, crl.tbs, crl.signature);
}
