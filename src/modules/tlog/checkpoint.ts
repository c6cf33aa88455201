/**
 * C2SP signed notes (https://c2sp.org/signed-note), checkpoints (https://c2sp.org/tlog-checkpoint) and witness
 * cosignatures (https://c2sp.org/tlog-cosignature), Ed25519 only.
 *
 *   note      = text "\n" 1*signature-line        text: non-empty, ends with "\n", no blank line inside
 *   signature = "— " name " " base64(keyID[4] || sig) "\n"      (U+2014 EM DASH)
 *   keyID     = SHA-256(name || 0x0A || type || pubkey)[:4]     type 0x01 Ed25519, 0x04 cosignature/v1
 *   vkey      = name "+" hex(keyID) "+" base64(type || pubkey)
 *   checkpoint text = origin "\n" size "\n" base64(root) "\n" *(extension "\n")
 */
import { createHash, createPrivateKey, createPublicKey, sign as edSign, verify as edVerify, type KeyObject } from "node:crypto";
import { HASH_SIZE } from "./merkle.js";

export const ALG_ED25519 = 0x01;
export const ALG_COSIGNATURE_V1 = 0x04;
const EM_DASH = "\u2014";
const MAX_SIGNATURES = 100;

export class NoteError extends Error {
  override readonly name = "NoteError";
}

export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly root: Buffer;
  /** Extension lines after the root, without their newlines. */
  readonly extensions: readonly string[];
}

export interface NoteSigner {
  readonly name: string;
  readonly keyId: Buffer;
  sign(msg: Buffer): Buffer;
}

export interface NoteVerifier {
  readonly name: string;
  readonly keyId: Buffer;
  readonly type: number;
  readonly publicKey: KeyObject;
  /** `sig` is what follows the key ID in the signature line. */
  verify(text: string, sig: Buffer): boolean;
}

export interface NoteSignature {
  readonly name: string;
  readonly keyId: Buffer;
  /** Decoded signature bytes (without key ID). */
  readonly sig: Buffer;
}

export interface OpenedNote {
  readonly text: string;
  /** All signature lines, in order. */
  readonly sigs: readonly NoteSignature[];
  /** The signatures that verified with a known verifier. */
  readonly verified: readonly NoteSignature[];
  /** Cosignature timestamps (seconds) by witness name, for verified cosignatures. */
  readonly cosignedAt: Readonly<Record<string, number>>;
}

// ---- keys ---------------------------------------------------------------------------------------------------

const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

function validName(name: string): boolean {
  return name.length > 0 && !/[\s+]/u.test(name) && !/[\u0000-\u001f\u007f]/u.test(name);
}

export function rawEd25519PublicKey(publicKey: KeyObject): Buffer {
  if (publicKey.asymmetricKeyType !== "ed25519") throw new NoteError("the log key must be Ed25519");
  const jwk = publicKey.export({ format: "jwk" });
  return Buffer.from(jwk.x as string, "base64url");
}

export function ed25519PublicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new NoteError("Ed25519 public keys are 32 bytes");
  return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(raw).toString("base64url") }, format: "jwk" });
}

export function keyIdFor(name: string, type: number, rawPublicKey: Uint8Array): Buffer {
  return createHash("sha256").update(name, "utf8").update(Buffer.from([0x0a, type])).update(rawPublicKey).digest().subarray(0, 4);
}

/** The verifier key string `<name>+<hex keyid>+<base64(type||pubkey)>` published for the log (or a witness). */
export function formatVkey(name: string, publicKey: KeyObject, type = ALG_ED25519): string {
  if (!validName(name)) throw new NoteError(`invalid key name ${JSON.stringify(name)}`);
  const raw = rawEd25519PublicKey(publicKey);
  return `${name}+${keyIdFor(name, type, raw).toString("hex")}+${Buffer.concat([Buffer.from([type]), raw]).toString("base64")}`;
}

function b64strict(s: string): Buffer {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) throw new NoteError("malformed base64");
  const b = Buffer.from(s, "base64");
  if (b.toString("base64") !== s) throw new NoteError("non-canonical base64");
  return b;
}

/** Splits at the first n−1 "+" signs; the last part keeps any further "+". */
function splitPlus(s: string, n: number): string[] | null {
  const out: string[] = [];
  let rest = s;
  for (let i = 0; i < n - 1; i++) {
    const at = rest.indexOf("+");
    if (at < 0) return null;
    out.push(rest.slice(0, at));
    rest = rest.slice(at + 1);
  }
  out.push(rest);
  return out;
}

/** Parses a vkey (Ed25519 0x01 or cosignature/v1 0x04) into a verifier. Throws NoteError. */
export function parseVkey(vkey: string): NoteVerifier {
  // name and key ID cannot contain "+"; the base64 key may.
  const parts = splitPlus(vkey.trim(), 3);
  if (!parts) throw new NoteError("a vkey is name+keyid+key");
  const [name, idHex, keyB64] = parts as [string, string, string];
  if (!validName(name)) throw new NoteError("invalid vkey name");
  if (!/^[0-9a-f]{8}$/.test(idHex)) throw new NoteError("invalid vkey key ID");
  const key = b64strict(keyB64);
  const type = key[0];
  if ((type !== ALG_ED25519 && type !== ALG_COSIGNATURE_V1) || key.length !== 33) {
    throw new NoteError("unsupported vkey type (Ed25519 and cosignature/v1 are supported)");
  }
  const raw = key.subarray(1);
  const keyId = keyIdFor(name, type, raw);
  if (keyId.toString("hex") !== idHex) throw new NoteError("vkey key ID does not match the key");
  const publicKey = ed25519PublicKeyFromRaw(raw);
  if (type === ALG_ED25519) {
    return {
      name,
      keyId,
      type,
      publicKey,
      verify: (text, sig) => sig.length === 64 && edVerify(null, Buffer.from(text, "utf8"), publicKey, sig),
    };
  }
  return {
    name,
    keyId,
    type,
    publicKey,
    verify: (text, sig) => {
      if (sig.length !== 72) return false;
      const t = sig.readBigUInt64BE(0);
      return edVerify(null, cosignedMessage(text, t), publicKey, sig.subarray(8));
    },
  };
}

/** A note signer over an Ed25519 key pair (the log's key). */
export function createNoteSigner(name: string, privateKey: KeyObject, publicKey?: KeyObject): NoteSigner {
  if (!validName(name)) throw new NoteError(`invalid signer name ${JSON.stringify(name)}`);
  if (privateKey.asymmetricKeyType !== "ed25519") throw new NoteError("the log key must be Ed25519");
  const pub = publicKey ?? createPublicKey(privateKey);
  const keyId = keyIdFor(name, ALG_ED25519, rawEd25519PublicKey(pub));
  return { name, keyId, sign: (msg) => edSign(null, msg, privateKey) };
}

/**
 * Parses the Go `note` private key encoding `PRIVATE+KEY+<name>+<hex id>+<base64(0x01||seed)>` (used by the
 * reference test vectors and by tooling such as `note.GenerateKey`).
 */
export function parseNoteSigningKey(skey: string): { name: string; privateKey: KeyObject; publicKey: KeyObject } {
  const parts = splitPlus(skey.trim(), 5);
  if (!parts || parts[0] !== "PRIVATE" || parts[1] !== "KEY") throw new NoteError("not a note private key");
  const name = parts[2]!;
  const key = b64strict(parts[4]!);
  if (key.length !== 33 || key[0] !== ALG_ED25519) throw new NoteError("unsupported private key type");
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, key.subarray(1)]), format: "der", type: "pkcs8" });
  const publicKey = createPublicKey(privateKey);
  if (keyIdFor(name, ALG_ED25519, rawEd25519PublicKey(publicKey)).toString("hex") !== parts[3]) {
    throw new NoteError("private key ID does not match the key");
  }
  return { name, privateKey, publicKey };
}

// ---- notes --------------------------------------------------------------------------------------------------

function checkText(text: string): void {
  if (text.length === 0 || !text.endsWith("\n")) throw new NoteError("note text must be non-empty and end with a newline");
  if (text.includes("\n\n")) throw new NoteError("note text must not contain a blank line");
  if (/[\u0000-\u0009\u000b-\u001f\u007f]/u.test(text)) throw new NoteError("note text contains control characters");
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text)) throw new NoteError("invalid UTF-16");
}

function sigLine(name: string, keyId: Buffer, sig: Buffer): string {
  return `${EM_DASH} ${name} ${Buffer.concat([keyId, sig]).toString("base64")}\n`;
}

/** Signs `text` with each signer: returns the whole note. */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  checkText(text);
  if (signers.length === 0) throw new NoteError("no signers");
  const msg = Buffer.from(text, "utf8");
  return `${text}\n${signers.map((s) => sigLine(s.name, s.keyId, s.sign(msg))).join("")}`;
}

/** Splits a note into text and signature lines (no verification). Throws NoteError when malformed. */
export function parseNote(note: string): { text: string; sigs: NoteSignature[] } {
  if (!note.endsWith("\n")) throw new NoteError("a note ends with a newline");
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw new NoteError("a note needs a blank line before its signatures");
  const text = note.slice(0, split + 1);
  checkText(text);
  const lines = note.slice(split + 2, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) throw new NoteError("too many signatures");
  const sigs: NoteSignature[] = [];
  for (const line of lines) {
    const m = /^\u2014 (\S+) (\S+)$/u.exec(line);
    if (!m) throw new NoteError("malformed signature line");
    const raw = b64strict(m[2]!);
    if (raw.length < 5) throw new NoteError("signature too short");
    sigs.push({ name: m[1]!, keyId: raw.subarray(0, 4), sig: raw.subarray(4) });
  }
  if (sigs.length === 0) throw new NoteError("a note needs at least one signature");
  return { text, sigs };
}

/**
 * Parses and verifies a note. Signatures by unknown keys are ignored (as C2SP requires); a signature by a known
 * key that does not verify is an error. Throws NoteError unless at least one known key verified.
 */
export function openNote(note: string, verifiers: readonly NoteVerifier[]): OpenedNote {
  const { text, sigs } = parseNote(note);
  const verified: NoteSignature[] = [];
  const cosignedAt: Record<string, number> = {};
  for (const s of sigs) {
    const v = verifiers.find((k) => k.name === s.name && k.keyId.equals(s.keyId));
    if (!v) continue;
    if (!v.verify(text, s.sig)) throw new NoteError(`the signature of ${s.name} does not verify`);
    verified.push(s);
    if (v.type === ALG_COSIGNATURE_V1) cosignedAt[s.name] = Number(s.sig.readBigUInt64BE(0));
  }
  if (verified.length === 0) throw new NoteError("no signature by a known key");
  return { text, sigs, verified, cosignedAt };
}

// ---- checkpoints --------------------------------------------------------------------------------------------

export function formatCheckpoint(cp: { origin: string; size: number; root: Uint8Array; extensions?: readonly string[] }): string {
  if (!cp.origin || cp.origin.includes("\n")) throw new NoteError("invalid origin");
  if (!Number.isSafeInteger(cp.size) || cp.size < 0) throw new NoteError("invalid size");
  if (cp.root.length !== HASH_SIZE) throw new NoteError("invalid root hash");
  const ext = (cp.extensions ?? []).map((e) => {
    if (e.length === 0 || e.includes("\n")) throw new NoteError("invalid extension line");
    return `${e}\n`;
  });
  return `${cp.origin}\n${cp.size}\n${Buffer.from(cp.root).toString("base64")}\n${ext.join("")}`;
}

/** Parses checkpoint *text* (the note body). Throws NoteError. */
export function parseCheckpointText(text: string): Checkpoint {
  checkText(text);
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3) throw new NoteError("a checkpoint has at least three lines");
  const [origin, sizeStr, rootB64, ...extensions] = lines as [string, string, string, ...string[]];
  if (origin.length === 0) throw new NoteError("empty origin");
  if (!/^(0|[1-9][0-9]*)$/.test(sizeStr)) throw new NoteError("invalid tree size");
  const size = Number(sizeStr);
  if (!Number.isSafeInteger(size)) throw new NoteError("tree size too large");
  const root = b64strict(rootB64);
  if (root.length !== HASH_SIZE) throw new NoteError("root hash must be 32 bytes");
  return { origin, size, root, extensions };
}

export function signCheckpoint(cp: { origin: string; size: number; root: Uint8Array }, signer: NoteSigner): string {
  return signNote(formatCheckpoint(cp), [signer]);
}

/** A note signer whose key signs asynchronously (the log key on a PKCS#11 token). */
export interface AsyncNoteSigner {
  readonly name: string;
  readonly keyId: Buffer;
  sign(msg: Buffer): Promise<Uint8Array> | Uint8Array;
}

/** A note signer over an Ed25519 public key and a signing function (the private key may be on a token). */
export function createAsyncNoteSigner(name: string, publicKey: KeyObject, sign: (msg: Buffer) => Promise<Uint8Array>): AsyncNoteSigner {
  if (!validName(name)) throw new NoteError(`invalid signer name ${JSON.stringify(name)}`);
  if (publicKey.asymmetricKeyType !== "ed25519") throw new NoteError("the log key must be Ed25519");
  return { name, keyId: keyIdFor(name, ALG_ED25519, rawEd25519PublicKey(publicKey)), sign };
}

/** `signCheckpoint` for a signer that may sign asynchronously. */
export async function signCheckpointAsync(cp: { origin: string; size: number; root: Uint8Array }, signer: AsyncNoteSigner): Promise<string> {
  const text = formatCheckpoint(cp);
  checkText(text);
  const sig = Buffer.from(await signer.sign(Buffer.from(text, "utf8")));
  if (sig.length !== 64) throw new NoteError("the log key returned a signature that is not 64 bytes");
  return `${text}\n${sigLine(signer.name, signer.keyId, sig)}`;
}

export interface VerifiedCheckpoint extends Checkpoint {
  readonly note: string;
  readonly opened: OpenedNote;
}

/**
 * Verifies a signed checkpoint: the log key's signature MUST verify (witness cosignatures are checked when their
 * verifiers are given, and listed), and the origin MUST be the expected one when given. Throws NoteError.
 */
export function verifyCheckpoint(
  note: string,
  logVerifier: NoteVerifier,
  opts: { origin?: string; witnesses?: readonly NoteVerifier[] } = {},
): VerifiedCheckpoint {
  const opened = openNote(note, [logVerifier, ...(opts.witnesses ?? [])]);
  if (!opened.verified.some((s) => s.name === logVerifier.name && s.keyId.equals(logVerifier.keyId))) {
    throw new NoteError("the checkpoint is not signed by the log key");
  }
  const cp = parseCheckpointText(opened.text);
  if (opts.origin !== undefined && cp.origin !== opts.origin) throw new NoteError(`unexpected origin ${cp.origin}`);
  return { ...cp, note, opened };
}

// ---- witness cosignatures (optional) --------------------------------------------------------------------------

function cosignedMessage(text: string, time: bigint): Buffer {
  return Buffer.from(`cosignature/v1\ntime ${time.toString()}\n${text}`, "utf8");
}

/**
 * Produces a witness cosignature line (c2sp.org/tlog-cosignature) for a checkpoint text, with `time` in seconds
 * since the epoch. A witness is an outside party; this exists so tests and a fake witness can exercise the path.
 */
export function cosignatureLine(text: string, witness: { name: string; privateKey: KeyObject }, time: number): string {
  checkText(text);
  const raw = rawEd25519PublicKey(createPublicKey(witness.privateKey));
  const keyId = keyIdFor(witness.name, ALG_COSIGNATURE_V1, raw);
  const t = Buffer.alloc(8);
  t.writeBigUInt64BE(BigInt(time));
  const sig = edSign(null, cosignedMessage(text, BigInt(time)), witness.privateKey);
  return sigLine(witness.name, keyId, Buffer.concat([t, sig]));
}

/** Adds signature lines to an existing note (e.g. a witness cosignature). */
export function addSignatureLines(note: string, lines: readonly string[]): string {
  parseNote(note);
  return note + lines.join("");
}
