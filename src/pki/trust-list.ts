/**
 * Named trust lists for PDF validation (`POST /verify/pdf?trust=NAME`, issue 14 §6). A list is exactly the
 * certificates of one PEM file — self-signed ones are trust anchors, the others intermediates — and the CRLs in the
 * same file (`-----BEGIN X509 CRL-----`), each signed by a certificate of the list. The built-in list `sidian` is
 * Sidian's root and issuing CA; others come from SIDIAN_TRUST_LISTS (allow-list, DESIGN rule 6: nothing is fetched).
 *
 * Revocation under a list: certificates Sidian issued are checked in its registry (online); any other certificate
 * against the list's CRL from its issuer — revoked → FAILED, CRL past its nextUpdate or no CRL from that issuer →
 * INDETERMINATE ("revocation status unknown"), as a PAdES validator without revocation data would say.
 */
import type { RevocationStatus } from "./chain.js";
import { parseCrl, verifyCrlSignature, type CrlInfo } from "./crl.js";
import { fromPemAll } from "./pem.js";
import { parseCertificate, type CertInfo } from "./reader.js";

export const TRUST_LIST_NAME_RE = /^[a-z0-9][a-z0-9_-]{0,31}$/;
export const DEFAULT_TRUST_LIST = "sidian";

export interface TrustList {
  readonly name: string;
  readonly anchors: readonly CertInfo[];
  readonly intermediates: readonly CertInfo[];
  readonly crls: readonly CrlInfo[];
}

/** Parses a list from PEM; throws an Error saying what is wrong (the caller makes it CONFIG_INVALID). */
export function parseTrustList(name: string, pem: string): TrustList {
  const blocks = fromPemAll(pem);
  const certs: CertInfo[] = [];
  const crls: CrlInfo[] = [];
  for (const b of blocks) {
    if (b.label === "CERTIFICATE") {
      try {
        certs.push(parseCertificate(b.der));
      } catch (e) {
        throw new Error(`a certificate cannot be read: ${(e as Error).message}`);
      }
    } else if (b.label === "X509 CRL") {
      try {
        crls.push(parseCrl(b.der));
      } catch (e) {
        throw new Error(`a CRL cannot be read: ${(e as Error).message}`);
      }
    }
  }
  const anchors = certs.filter((c) => c.issuer === c.subject);
  if (anchors.length === 0) throw new Error("it holds no self-signed root certificate (-----BEGIN CERTIFICATE-----)");
  for (const crl of crls) {
    const signer = certs.find((c) => Buffer.from(c.subjectDer).equals(Buffer.from(crl.issuerDer)) && verifyCrlSignature(crl, c.spki));
    if (!signer) throw new Error(`the CRL of ${crl.issuer} is not signed by a certificate of the list`);
  }
  return { name, anchors, intermediates: certs.filter((c) => c.issuer !== c.subject), crls };
}

/** Revocation of a certificate not issued by Sidian, from the list's CRLs. */
export function crlRevocation(list: TrustList, cert: CertInfo, issuer: CertInfo, now: Date): RevocationStatus {
  const crl = list.crls
    .filter((c) => Buffer.from(c.issuerDer).equals(Buffer.from(issuer.subjectDer)) && verifyCrlSignature(c, issuer.spki))
    .sort((a, b) => b.thisUpdate.getTime() - a.thisUpdate.getTime())[0];
  if (!crl) return { status: "unknown", detail: `trust list "${list.name}" has no CRL from ${issuer.subject}` };
  const e = crl.entries.get(cert.serial);
  if (e) return { status: "revoked", revokedAt: e.revokedAt, reason: e.reason };
  if (crl.nextUpdate && crl.nextUpdate < now) {
    return { status: "unknown", detail: `the CRL of ${issuer.subject} in trust list "${list.name}" is stale (nextUpdate ${crl.nextUpdate.toISOString()})` };
  }
  return { status: "good" };
}
