/**
 * The receipt (可信回执): a compact JWS (ES256) signed with the service's token key, the key published in
 * /.well-known/jwks.json (kid in the header, x5c to Sidian's issuing CA as for every other token). Any JOSE library
 * verifies it from the JWKS; `sidian verify receipt.jws --file x` offline. Claims: docs/materials.md.
 */
import { createHmac, type KeyObject } from "node:crypto";
import { b64u, encodeHeader, parseCompact, verifyEs256 } from "../licences/jws.js";
import type { MaterialRecord } from "./ports.js";

export const TYP_RECEIPT = "sidian-material-receipt+jws";

export interface ReceiptClaims {
  v: 1;
  iss: string;
  /** The material identifier. */
  sub: string;
  /** Registration time, seconds. */
  iat: number;
  type: string;
  mediaType: string;
  size: number;
  sha256: string;
  sm3: string;
  source: MaterialRecord["source"];
  registrant: string;
  /** Keyed hash of the holder, bound to this material: HMAC-SHA-256(receipt key, holderHash ":" identifier), hex. */
  holder: string;
  registeredAt: string;
  logIndex: number;
  matter?: string;
  supersedes?: string;
  derivedFrom?: string;
  expiresAt?: string;
}

export interface ReceiptKey {
  kid: string;
  publicKey: KeyObject;
}

export interface ReceiptSigner {
  kid: string;
  sign(payloadB64: string): Promise<string>;
  /** The current key and the previous ones still published. */
  keys(): ReceiptKey[];
}

export function createReceiptSigner(opts: {
  signingKey: { sign(data: Uint8Array, encoding: "p1363"): Promise<Uint8Array> };
  kid: string; publicKey: KeyObject; certDer: Uint8Array; issuingCaDer: Uint8Array; previous?: ReceiptKey[];
}): ReceiptSigner {
  const headerB64 = encodeHeader({
    alg: "ES256", typ: TYP_RECEIPT, kid: opts.kid,
    x5c: [Buffer.from(opts.certDer).toString("base64"), Buffer.from(opts.issuingCaDer).toString("base64")],
  });
  const keys = [{ kid: opts.kid, publicKey: opts.publicKey }, ...(opts.previous ?? [])];
  return {
    kid: opts.kid,
    async sign(payloadB64) {
      const input = `${headerB64}.${payloadB64}`;
      return `${input}.${b64u(await opts.signingKey.sign(Buffer.from(input, "ascii"), "p1363"))}`;
    },
    keys: () => keys,
  };
}

export function holderClaim(receiptHolderKey: Uint8Array, holderHash: string, identifier: string): string {
  return createHmac("sha256", receiptHolderKey).update(`${holderHash}:${identifier}`).digest("hex");
}

export function receiptClaims(rec: MaterialRecord, iss: string, holder: string): ReceiptClaims {
  return {
    v: 1, iss, sub: rec.identifier, iat: Math.floor(rec.createdAt.getTime() / 1000),
    type: rec.typeCode, mediaType: rec.mediaType, size: rec.size, sha256: rec.sha256, sm3: rec.sm3,
    source: rec.source, registrant: rec.registrant, holder, registeredAt: rec.createdAt.toISOString(), logIndex: rec.logIndex,
    ...(rec.matterCode ? { matter: rec.matterCode } : {}),
    ...(rec.supersedes ? { supersedes: rec.supersedes } : {}),
    ...(rec.derivedFrom ? { derivedFrom: rec.derivedFrom } : {}),
    ...(rec.expiresAt ? { expiresAt: rec.expiresAt.toISOString() } : {}),
  };
}

/** Parses and checks a receipt's signature against the published keys; a reason string when it does not hold. */
export function checkReceipt(jws: string, keys: ReceiptKey[]): { claims: ReceiptClaims; kid: string } | { problem: string; stage: "format" | "signature" } {
  const p = parseCompact(jws);
  if (typeof p === "string") return { problem: p, stage: "format" };
  if (p.header.alg !== "ES256") return { problem: "only ES256 receipts are issued", stage: "format" };
  if (p.header.typ !== TYP_RECEIPT) return { problem: `not a material receipt (typ ${String(p.header.typ)})`, stage: "format" };
  const c = p.payload as Partial<ReceiptClaims> | null;
  if (!c || typeof c !== "object" || typeof c.sub !== "string" || typeof c.sha256 !== "string" || typeof c.logIndex !== "number") return { problem: "the receipt's claims are incomplete", stage: "format" };
  const key = keys.find((k) => k.kid === p.header.kid);
  if (!key) return { problem: "signed with a key this service does not publish", stage: "signature" };
  if (!verifyEs256(key.publicKey, p.signingInput, p.signature)) return { problem: "the signature does not verify", stage: "signature" };
  return { claims: c as ReceiptClaims, kid: key.kid };
}
