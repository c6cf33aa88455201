/**
 * Small bounded caches for the verification hot path: parsed certificates by DER hash, public keys by SPKI, and
 * whether a certificate's signature verifies with a given key (the links of a path: a PDF with five signatures
 * and their time-stamps checks the same issuing-CA → root and TSA → CA links ten times).
 * Pure memoisation (same input → same output); bounded so hostile input cannot grow them without limit.
 */
import crypto, { type KeyObject } from "node:crypto";
import { parseCertificate, type CertInfo } from "./reader.js";

const MAX = 4096;
const certs = new Map<string, CertInfo>();
const keys = new Map<string, KeyObject>();
const links = new Map<string, boolean>();

function put<V>(m: Map<string, V>, k: string, v: V): V {
  if (m.size >= MAX) m.delete(m.keys().next().value as string);
  m.set(k, v);
  return v;
}

/** parseCertificate, memoised by the SHA-256 of the DER. */
export function cachedCertificate(der: Uint8Array): CertInfo {
  const k = crypto.createHash("sha256").update(der).digest("base64");
  return certs.get(k) ?? put(certs, k, parseCertificate(der));
}

/** crypto.createPublicKey for a DER SPKI, memoised. */
export function cachedPublicKey(spki: Uint8Array): KeyObject {
  const k = Buffer.from(spki).toString("base64");
  return keys.get(k) ?? put(keys, k, crypto.createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" }));
}

/**
 * `check()` (does the certificate whose DER has SHA-256 `certSha256` carry a valid signature by the key `spki`?),
 * memoised per (certificate, key): the answer depends on nothing else.
 */
export function cachedLink(certSha256: string, spki: Uint8Array, check: () => boolean): boolean {
  const k = `${certSha256}:${Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength).toString("base64")}`;
  return links.get(k) ?? put(links, k, check());
}
