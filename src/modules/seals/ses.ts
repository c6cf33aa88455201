/**
 * GB/T 38540-2020 electronic seal data (SES_Seal, version 4) as DER, and a reader for it and for the older
 * GM/T 0031-2014 layout (version 1). Parse first, verify after (the reader never checks a signature).
 *
 * Version 4 (GB/T 38540-2020 §6):
 *   SES_Seal ::= SEQUENCE { esealInfo SES_SealInfo, cert OCTET STRING (the seal maker's certificate),
 *                           signAlgID OBJECT IDENTIFIER, signedValue BIT STRING }
 *   SES_SealInfo ::= SEQUENCE { header SES_Header, esID IA5String, property SES_ESPropertyInfo,
 *                               picture SES_ESPictrueInfo, extDatas ExtensionDatas OPTIONAL }
 *   SES_Header ::= SEQUENCE { ID IA5String "ES", version INTEGER 4, Vid IA5String }
 *   SES_ESPropertyInfo ::= SEQUENCE { type INTEGER, name UTF8String, certListType INTEGER,
 *                                     certList SES_CertList, createDate GeneralizedTime,
 *                                     validStart GeneralizedTime, validEnd GeneralizedTime }
 *   SES_CertList ::= CHOICE { certs SEQUENCE OF OCTET STRING (certListType 1),
 *                             certDigestList SEQUENCE OF SEQUENCE { type PrintableString, value OCTET STRING } (2) }
 *   SES_ESPictrueInfo ::= SEQUENCE { type IA5String, data OCTET STRING, width INTEGER, height INTEGER } (mm)
 *   ExtensionDatas ::= SEQUENCE OF SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
 * Version 1 (GM/T 0031-2014): SESeal ::= SEQUENCE { esealInfo, signInfo SEQUENCE { cert OCTET STRING,
 *   signatureAlgorithm OID, signData BIT STRING } }; its property has no certListType (certList is a SEQUENCE OF
 *   OCTET STRING) and UTCTime dates.
 *
 * What the maker signs: the DER of SES_SealInfo (esealInfo), in both versions — what deployed GB/T 38540 verifiers
 * check (the signature over `esealInfo` encoded alone). With SM3withSM2 the signature is SM2 over SM3(Z‖esealInfo),
 * Z over the default signer ID 1234567812345678, DER SM2-Signature inside the BIT STRING.
 *
 * `property.type` is the GB/T 38540 seal category: 1 organisation seal (单位印章), 2 personal seal (个人印章);
 * Sidian's business type (01 official name … 99) is carried in the seal name.
 *
 * GB/T 38540-2020 §7 electronic signature data (SES_Signature, version 4), what a stamp is exported as:
 *   SES_Signature ::= SEQUENCE { toSign TBS_Sign, cert OCTET STRING (the signer's certificate),
 *                                signatureAlgID OBJECT IDENTIFIER, signature BIT STRING,
 *                                timeStamp [0] EXPLICIT BIT STRING OPTIONAL (a time-stamp token of the signature value) }
 *   TBS_Sign ::= SEQUENCE { version INTEGER 4, eseal SES_Seal, timeInfo GeneralizedTime, dataHash BIT STRING,
 *                           propertyInfo IA5String, extDatas ExtensionDatas OPTIONAL }
 * The signer signs the DER of TBS_Sign (with SM3withSM2: SM2 over SM3(Z‖TBS_Sign), DER SM2-Signature in the BIT
 * STRING); dataHash is the SM3 digest of the signed document.
 *
 * Limits (untrusted input): at most 1 MiB of DER, 16 certificates, 16 extension entries; anything else is
 * SesError with a reason.
 */
import { sm3 } from "../../crypto/sm2.js";
import {
  bool, bytesOf, explicit, children, contentOf, DerError, expectTag, generalizedTime, ia5, integer, octets, oid, readInteger,
  readNode, readOid, readTime, seq, tlv, utf8, type Node,
} from "../../pki/der.js";
import { parseCertificate } from "../../pki/reader.js";
import { verifyWithSpki } from "../../pki/signing-key.js";

export const SES_LIMITS = { maxBytes: 1 << 20, maxCerts: 16, maxExtensions: 16 } as const;
export const SM3_WITH_SM2 = "1.2.156.10197.1.501";

export class SesError extends Error {
  override readonly name = "SesError";
}

export interface SesExtension {
  readonly id: string;
  readonly critical: boolean;
  readonly value: Uint8Array;
}

export interface SesSealInfo {
  readonly header: { readonly id: string; readonly version: number; readonly vid: string };
  readonly esID: string;
  readonly property: {
    readonly type: number;
    readonly name: string;
    /** 1: certificates; 2: certificate digests (version 4 only; version 1 always holds certificates). */
    readonly certListType: 1 | 2;
    readonly certs: readonly Uint8Array[];
    readonly certDigests: ReadonlyArray<{ readonly type: string; readonly value: Uint8Array }>;
    readonly createDate: Date;
    readonly validStart: Date;
    readonly validEnd: Date;
  };
  readonly picture: { readonly type: string; readonly data: Uint8Array; readonly width: number; readonly height: number };
  readonly extDatas: readonly SesExtension[];
}

export interface ParsedSesSeal {
  /** Which layout: 4 (GB/T 38540-2020) or 1 (GM/T 0031-2014). */
  readonly layout: 4 | 1;
  readonly info: SesSealInfo;
  /** The signed bytes: DER of SES_SealInfo exactly as received. */
  readonly sealInfoDer: Uint8Array;
  readonly makerCert: Uint8Array;
  readonly signAlgID: string;
  readonly signature: Uint8Array;
  /** The whole SES_Seal DER. */
  readonly der: Uint8Array;
}

// ------------------------------------------------------------------------------------------------ encoder

/** DER GeneralizedTime to the second (GB/T 38540 times carry no fraction). */
const time = (d: Date) => generalizedTime(new Date(Math.floor(d.getTime() / 1000) * 1000));

function utcTime(d: Date): Buffer {
  const iso = new Date(Math.floor(d.getTime() / 1000) * 1000).toISOString();
  const y = Number(iso.slice(0, 4));
  if (y < 1950 || y > 2049) throw new RangeError("UTCTime covers 1950-2049 only");
  return tlv(0x17, Buffer.from(iso.slice(2, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) + iso.slice(14, 16) + iso.slice(17, 19) + "Z", "ascii"));
}

function checkIa5(s: string, what: string): string {
  if (!/^[\x20-\x7e]*$/.test(s)) throw new RangeError(`${what} must be printable ASCII (IA5String)`);
  return s;
}

/** DER of SES_SealInfo in the given layout (4: GB/T 38540; 1: GM/T 0031-2014, for interoperability tests). */
export function encodeSealInfo(info: SesSealInfo, layout: 4 | 1 = 4): Buffer {
  const p = info.property;
  const certList = p.certListType === 1
    ? seq(...p.certs.map((c) => octets(c)))
    : seq(...p.certDigests.map((d) => seq(tlv(0x13, Buffer.from(checkIa5(d.type, "certificate digest type"), "ascii")), octets(d.value))));
  const property = layout === 4
    ? seq(integer(p.type), utf8(p.name), integer(p.certListType), certList, time(p.createDate), time(p.validStart), time(p.validEnd))
    : seq(integer(p.type), utf8(p.name), seq(...p.certs.map((c) => octets(c))), utcTime(p.createDate), utcTime(p.validStart), utcTime(p.validEnd));
  const pic = info.picture;
  const parts = [
    seq(ia5(checkIa5(info.header.id, "header ID")), integer(info.header.version), ia5(checkIa5(info.header.vid, "Vid"))),
    ia5(checkIa5(info.esID, "esID")),
    property,
    seq(ia5(checkIa5(pic.type, "picture type")), octets(pic.data), integer(pic.width), integer(pic.height)),
  ];
  return seq(...parts, ...extDatasDer(info.extDatas));
}

/**
 * A signed SES_Seal: the maker signs the DER of SES_SealInfo with `sign` (returning a DER signature of the
 * algorithm `signAlgID`, SM3withSM2 by default).
 */
export async function encodeSesSeal(
  info: SesSealInfo,
  maker: { certDer: Uint8Array; signAlgID?: string; sign(tbs: Uint8Array): Promise<Uint8Array> },
  layout: 4 | 1 = 4,
): Promise<Buffer> {
  const sealInfo = encodeSealInfo(info, layout);
  const alg = maker.signAlgID ?? SM3_WITH_SM2;
  const sig = await maker.sign(sealInfo);
  const bits = tlv(0x03, [Buffer.from([0]), sig]);
  return layout === 4
    ? seq(sealInfo, octets(maker.certDer), oid(alg), bits)
    : seq(sealInfo, seq(octets(maker.certDer), oid(alg), bits));
}

// ------------------------------------------------------------------------------------------------ reader

function str(n: Node | undefined, tag: number, what: string): string {
  const c = contentOf(expectTag(n, tag, what));
  if (tag !== 0x0c && !/^[\x20-\x7e]*$/.test(c.toString("latin1"))) throw new SesError(`${what} is not printable ASCII`);
  return c.toString(tag === 0x0c ? "utf8" : "latin1");
}

function small(n: Node | undefined, what: string, max = 1_000_000): number {
  const v = readInteger(expectTag(n, 0x02, what));
  if (v < 0n || v > BigInt(max)) throw new SesError(`${what} is out of range`);
  return Number(v);
}

function date(n: Node | undefined, what: string, layout: 4 | 1): Date {
  if (!n || n.tag !== (layout === 4 ? 0x18 : 0x17)) throw new SesError(`${what} must be ${layout === 4 ? "GeneralizedTime" : "UTCTime"}`);
  return readTime(n);
}

function bitString(n: Node | undefined, what: string): Buffer {
  const c = contentOf(expectTag(n, 0x03, what));
  if (c.length < 1 || c[0] !== 0) throw new SesError(`${what} must be a BIT STRING of whole bytes`);
  return c.subarray(1);
}

/** ExtensionDatas ::= SEQUENCE OF SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }. */
function parseExtDatas(n: Node): SesExtension[] {
  const exts = children(expectTag(n, 0x30, "extDatas"));
  if (exts.length > SES_LIMITS.maxExtensions) throw new SesError(`extDatas has more than ${SES_LIMITS.maxExtensions} entries`);
  return exts.map((e) => {
    const x = children(expectTag(e, 0x30, "ExtData"));
    if (x.length < 2 || x.length > 3) throw new SesError("an ExtData has extnID, critical (optional) and extnValue");
    const critical = x.length === 3 ? contentOf(expectTag(x[1], 0x01, "critical"))[0] === 0xff : false;
    return { id: readOid(expectTag(x[0], 0x06, "extnID")), critical, value: Buffer.from(contentOf(expectTag(x[x.length - 1], 0x04, "extnValue"))) };
  });
}

function parseSealInfo(node: Node, layout: 4 | 1): SesSealInfo {
  const f = children(expectTag(node, 0x30, "SES_SealInfo"));
  if (f.length < 4 || f.length > 5) throw new SesError(`SES_SealInfo has ${f.length} fields, expected 4 or 5`);
  const h = children(expectTag(f[0], 0x30, "SES_Header"));
  if (h.length !== 3) throw new SesError("SES_Header must have ID, version and Vid");
  const header = { id: str(h[0], 0x16, "header ID"), version: small(h[1], "header version", 255), vid: str(h[2], 0x16, "Vid") };
  if (header.id !== "ES") throw new SesError(`header ID is ${JSON.stringify(header.id)}, not "ES"`);
  const esID = str(f[1], 0x16, "esID");
  const p = children(expectTag(f[2], 0x30, "SES_ESPropertyInfo"));
  let certListType: 1 | 2 = 1;
  let i = 0;
  const type = small(p[i++], "property type");
  const name = str(p[i++], 0x0c, "property name");
  if (layout === 4) {
    const t = small(p[i++], "certListType", 2);
    if (t !== 1 && t !== 2) throw new SesError(`certListType ${t} is neither 1 (certificates) nor 2 (digests)`);
    certListType = t;
  }
  const list = children(expectTag(p[i++], 0x30, "certList"));
  if (list.length > SES_LIMITS.maxCerts) throw new SesError(`certList has ${list.length} entries, more than ${SES_LIMITS.maxCerts}`);
  const certs: Uint8Array[] = [];
  const certDigests: { type: string; value: Uint8Array }[] = [];
  for (const e of list) {
    if (certListType === 1) certs.push(Buffer.from(contentOf(expectTag(e, 0x04, "certificate"))));
    else {
      const d = children(expectTag(e, 0x30, "CertDigestObj"));
      certDigests.push({ type: str(d[0], 0x13, "digest type"), value: Buffer.from(contentOf(expectTag(d[1], 0x04, "digest value"))) });
    }
  }
  const createDate = date(p[i++], "createDate", layout);
  const validStart = date(p[i++], "validStart", layout);
  const validEnd = date(p[i++], "validEnd", layout);
  if (i !== p.length) throw new SesError("SES_ESPropertyInfo has extra fields");
  const pic = children(expectTag(f[3], 0x30, "SES_ESPictrueInfo"));
  if (pic.length !== 4) throw new SesError("SES_ESPictrueInfo must have type, data, width and height");
  const picture = {
    type: str(pic[0], 0x16, "picture type"),
    data: Buffer.from(contentOf(expectTag(pic[1], 0x04, "picture data"))),
    width: small(pic[2], "picture width", 10_000),
    height: small(pic[3], "picture height", 10_000),
  };
  const extDatas = f[4] ? parseExtDatas(f[4]) : [];
  return { header, esID, property: { type, name, certListType, certs, certDigests, createDate, validStart, validEnd }, picture, extDatas };
}

/** Reads an SES_Seal of either layout; SesError (with the reason) on anything malformed. Checks no signature. */
export function parseSesSeal(input: Uint8Array): ParsedSesSeal {
  if (input.length > SES_LIMITS.maxBytes) throw new SesError(`SES_Seal is larger than ${SES_LIMITS.maxBytes} bytes`);
  const buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  try {
    const top = readNode(buf);
    if (top.end !== buf.length) throw new SesError("trailing bytes after SES_Seal");
    if (top.indefinite) throw new SesError("SES_Seal must be DER (definite lengths)");
    const f = children(expectTag(top, 0x30, "SES_Seal"));
    let layout: 4 | 1;
    let makerCert: Buffer;
    let signAlgID: string;
    let signature: Buffer;
    if (f.length === 4) {
      layout = 4;
      makerCert = Buffer.from(contentOf(expectTag(f[1], 0x04, "cert")));
      signAlgID = readOid(expectTag(f[2], 0x06, "signAlgID"));
      signature = Buffer.from(bitString(f[3], "signedValue"));
    } else if (f.length === 2) {
      layout = 1;
      const s = children(expectTag(f[1], 0x30, "SES_SignInfo"));
      if (s.length !== 3) throw new SesError("SES_SignInfo must have cert, signatureAlgorithm and signData");
      makerCert = Buffer.from(contentOf(expectTag(s[0], 0x04, "cert")));
      signAlgID = readOid(expectTag(s[1], 0x06, "signatureAlgorithm"));
      signature = Buffer.from(bitString(s[2], "signData"));
    } else {
      throw new SesError(`SES_Seal has ${f.length} fields: neither GB/T 38540 (4) nor GM/T 0031-2014 (2)`);
    }
    const info = parseSealInfo(f[0]!, layout);
    if (layout === 4 && info.header.version !== 4) throw new SesError(`a GB/T 38540 layout says version ${info.header.version}`);
    return { layout, info, sealInfoDer: Buffer.from(bytesOf(f[0]!)), makerCert, signAlgID, signature, der: Buffer.from(buf) };
  } catch (e) {
    if (e instanceof DerError) throw new SesError(`malformed DER: ${e.message}`);
    throw e;
  }
}

/** SM3 digest of a certificate, as certListType 2 entries carry it. */
export function sesCertDigest(certDer: Uint8Array): { type: string; value: Uint8Array } {
  return { type: "SM3", value: sm3(certDer) };
}

/**
 * Whether the maker's signature over SES_SealInfo verifies with the public key of the maker certificate inside
 * the structure (SM3withSM2 with an SM2 key, or ecdsa-with-SHA256 with a P-256 key; anything else is false).
 * Whether that certificate is trusted is the caller's question (a chain check against its anchors).
 */
export function sesSealSignatureValid(p: ParsedSesSeal): boolean {
  try {
    return verifyWithSpki(p.signAlgID, parseCertificate(p.makerCert).spki, p.sealInfoDer, p.signature);
  } catch {
    return false;
  }
}

// ------------------------------------------------------------------------------------------------ SES_Signature

export interface SesTbsSign {
  readonly version: number;
  /** The SES_Seal DER inside (signed by the seal maker). */
  readonly eseal: Uint8Array;
  readonly timeInfo: Date;
  /** Digest of the signed document (SM3 for SM3withSM2). */
  readonly dataHash: Uint8Array;
  /** What the document is (IA5String, free form: Sidian writes `key=value; …`). */
  readonly propertyInfo: string;
  readonly extDatas: readonly SesExtension[];
}

export interface ParsedSesSignature {
  readonly toSign: SesTbsSign;
  /** The seal inside, parsed. */
  readonly seal: ParsedSesSeal;
  /** The signed bytes: DER of TBS_Sign exactly as received. */
  readonly tbsDer: Uint8Array;
  readonly signerCert: Uint8Array;
  readonly signatureAlgID: string;
  readonly signature: Uint8Array;
  /** DER TimeStampToken (ContentInfo) over the signature value, when present. */
  readonly timeStamp: Uint8Array | null;
  readonly der: Uint8Array;
}

function extDatasDer(exts: readonly SesExtension[]): Buffer[] {
  return exts.length ? [seq(...exts.map((e) => seq(oid(e.id), ...(e.critical ? [bool(true)] : []), octets(e.value))))] : [];
}

/** DER of TBS_Sign (version 4). */
export function encodeTbsSign(t: SesTbsSign): Buffer {
  return seq(integer(t.version), Buffer.from(t.eseal), time(t.timeInfo), tlv(0x03, [Buffer.from([0]), t.dataHash]),
    ia5(checkIa5(t.propertyInfo, "propertyInfo")), ...extDatasDer(t.extDatas));
}

/**
 * A signed SES_Signature: the signer signs the DER of TBS_Sign with `sign` (a DER signature of `signatureAlgID`,
 * SM3withSM2 by default); `timeStamp`, when given, is asked for a token over the signature value.
 */
export async function encodeSesSignature(
  tbs: SesTbsSign,
  signer: { certDer: Uint8Array; signatureAlgID?: string; sign(tbs: Uint8Array): Promise<Uint8Array>; timeStamp?(signature: Uint8Array): Promise<Uint8Array> },
): Promise<Buffer> {
  const tbsDer = encodeTbsSign(tbs);
  const sig = await signer.sign(tbsDer);
  const token = signer.timeStamp ? await signer.timeStamp(sig) : null;
  return seq(tbsDer, octets(signer.certDer), oid(signer.signatureAlgID ?? SM3_WITH_SM2), tlv(0x03, [Buffer.from([0]), sig]),
    ...(token ? [explicit(0, tlv(0x03, [Buffer.from([0]), token]))] : []));
}

/** Reads an SES_Signature (version 4); SesError (with the reason) on anything malformed. Checks no signature. */
export function parseSesSignature(input: Uint8Array): ParsedSesSignature {
  if (input.length > SES_LIMITS.maxBytes) throw new SesError(`SES_Signature is larger than ${SES_LIMITS.maxBytes} bytes`);
  const buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  try {
    const top = readNode(buf);
    if (top.end !== buf.length) throw new SesError("trailing bytes after SES_Signature");
    if (top.indefinite) throw new SesError("SES_Signature must be DER (definite lengths)");
    const f = children(expectTag(top, 0x30, "SES_Signature"));
    if (f.length !== 4 && f.length !== 5) throw new SesError(`SES_Signature has ${f.length} fields, expected 4 or 5`);
    const t = children(expectTag(f[0], 0x30, "TBS_Sign"));
    if (t.length !== 5 && t.length !== 6) throw new SesError(`TBS_Sign has ${t.length} fields, expected 5 or 6`);
    const version = small(t[0], "TBS_Sign version", 255);
    if (version !== 4) throw new SesError(`TBS_Sign version ${version} is not 4 (GB/T 38540-2020)`);
    const esealDer = Buffer.from(bytesOf(expectTag(t[1], 0x30, "eseal")));
    const seal = parseSesSeal(esealDer);
    if (seal.layout !== 4) throw new SesError("the seal inside a version-4 signature must be a GB/T 38540 SES_Seal");
    const timeInfo = date(t[2], "timeInfo", 4);
    const dataHash = Buffer.from(bitString(t[3], "dataHash"));
    const propertyInfo = str(t[4], 0x16, "propertyInfo");
    const extDatas = t[5] ? parseExtDatas(t[5]) : [];
    let timeStamp: Buffer | null = null;
    if (f[4]) {
      const inner = children(expectTag(f[4], 0xa0, "timeStamp"));
      if (inner.length !== 1) throw new SesError("timeStamp must hold one BIT STRING");
      timeStamp = Buffer.from(bitString(inner[0], "timeStamp"));
    }
    return {
      toSign: { version, eseal: esealDer, timeInfo, dataHash, propertyInfo, extDatas }, seal, tbsDer: Buffer.from(bytesOf(f[0]!)),
      signerCert: Buffer.from(contentOf(expectTag(f[1], 0x04, "cert"))), signatureAlgID: readOid(expectTag(f[2], 0x06, "signatureAlgID")),
      signature: Buffer.from(bitString(f[3], "signature")), timeStamp, der: Buffer.from(buf),
    };
  } catch (e) {
    if (e instanceof DerError) throw new SesError(`malformed DER: ${e.message}`);
    throw e;
  }
}

/** Whether the signer's signature over TBS_Sign verifies with the key of the certificate inside (trust: the caller's). */
export function sesSignatureValid(p: ParsedSesSignature): boolean {
  try {
    return verifyWithSpki(p.signatureAlgID, parseCertificate(p.signerCert).spki, p.tbsDer, p.signature);
  } catch {
    return false;
  }
}
