/**
 * A PKCS#11 token (an HSM, or SoftHSM2 in tests) through pkcs11js: a pool of logged-in sessions, key look-up by
 * CKA_ID, key generation on the token (sensitive, never extractable), signing, and recovery from faults.
 *
 * Sessions: `x-sessions` sessions are opened at start and logged in (PKCS#11 login state is per application and
 * token, so one C_Login covers them all). A signature takes a free session for C_SignInit + C_Sign, the C_Sign
 * running on libuv's thread pool (C_SignAsync), so the event loop keeps serving while the token works and several
 * signatures are in flight at once (as many as there are sessions).
 *
 * Faults: an operation failing with a session, login, handle or device error (the token was removed, reset, logged
 * out, or the key was deleted) makes the token reconnect once — close every session, find the slot again by its
 * label, open new sessions, log in, look keys up afresh — and retry. If that fails the token is marked unavailable
 * (`status()` says why; /readyz reports it) and operations answer KEYSTORE_UNAVAILABLE (503) at once, without
 * touching the token, until a reconnect succeeds: one is tried by the next operation at most every 2 s, and by a
 * background probe every `probeSeconds`, which also checks a healthy token is still present and logged in.
 * A wrong PIN is KEYSTORE_LOCKED: at start-up it stops the service with one line.
 */
import crypto, { type KeyObject } from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import type * as Pkcs11Js from "pkcs11js";
import { AppError } from "../../errors.js";
import type { Logger } from "../../modules/kernel.js";
import type { SigningAlg } from "../signing-key.js";
import type { Pkcs11Uri } from "./uri.js";

type Lib = typeof Pkcs11Js;
type Module = Pkcs11Js.PKCS11;
type Handle = Buffer;

// Mechanisms and key types of PKCS#11 3.0 that pkcs11js 2.1 has no names for.
const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
const CKM_EDDSA = 0x1057;
const CKK_EC_EDWARDS = 0x40;

/** DER of the curve OIDs: prime256v1 (1.2.840.10045.3.1.7) and id-Ed25519 (1.3.101.112). */
const EC_PARAMS = { ES256: Buffer.from("06082a8648ce3d030107", "hex"), Ed25519: Buffer.from("06032b6570", "hex") };
const SPKI_PREFIX = {
  ES256: Buffer.from("3059301306072a8648ce3d020106082a8648ce3d030107034200", "hex"),
  Ed25519: Buffer.from("302a300506032b6570032100", "hex"),
};

/** Error codes after which the token reconnects (closes its sessions, logs in again) and retries once. */
const RECONNECT_ON = new Set([
  "CKR_GENERAL_ERROR", "CKR_FUNCTION_FAILED", "CKR_DEVICE_ERROR", "CKR_DEVICE_MEMORY", "CKR_DEVICE_REMOVED",
  "CKR_SESSION_CLOSED", "CKR_SESSION_HANDLE_INVALID", "CKR_TOKEN_NOT_PRESENT", "CKR_TOKEN_NOT_RECOGNIZED", "CKR_CRYPTOKI_NOT_INITIALIZED",
  "CKR_SLOT_ID_INVALID", "CKR_OPERATION_ACTIVE", "CKR_SESSION_COUNT",
]);

/** Errors fixed without closing the sessions: look the key up again, log in again. */
const SOFT = new Set(["CKR_KEY_HANDLE_INVALID", "CKR_OBJECT_HANDLE_INVALID", "CKR_USER_NOT_LOGGED_IN", "KEY_MISSING"]);

const RETRY_GAP_MS = 2000;

function ckr(e: unknown): string {
  const m = (e as Error | undefined)?.message ?? "";
  return /^CKR_[A-Z_]+/.exec(m)?.[0] ?? m;
}

// One loaded and initialised module per library path per process (C_Initialize may run once per process).
const modules = new Map<string, { mod: Module; lib: Lib; refs: number }>();

function loadModule(path: string): { mod: Module; lib: Lib } {
  const hit = modules.get(path);
  if (hit) {
    hit.refs++;
    return hit;
  }
  const lib = createRequire(import.meta.url)("pkcs11js") as Lib;
  const mod = new lib.PKCS11();
  try {
    mod.load(path);
  } catch (cause) {
    throw new AppError("KEYSTORE_LOCKED", `The PKCS#11 module ${path} cannot be loaded (${(cause as Error).message}).`, { cause });
  }
  try {
    mod.C_Initialize({ flags: lib.CKF_OS_LOCKING_OK });
  } catch (cause) {
    if (ckr(cause) !== "CKR_CRYPTOKI_ALREADY_INITIALIZED") {
      throw new AppError("KEYSTORE_LOCKED", `The PKCS#11 module ${path} does not initialise (${ckr(cause)}).`, { cause });
    }
  }
  const entry = { mod, lib, refs: 1 };
  modules.set(path, entry);
  return entry;
}

function unloadModule(path: string): void {
  const e = modules.get(path);
  if (!e || --e.refs > 0) return;
  modules.delete(path);
  try {
    e.mod.C_Finalize();
    e.mod.close();
  } catch {
    // nothing more to do with a module that will not finalise
  }
}

export interface TokenStatus {
  readonly ok: boolean;
  /** Why the token is unavailable (absent when ok). */
  readonly reason?: string;
  readonly since?: Date;
}

export interface TokenOptions {
  readonly uri: Pkcs11Uri;
  readonly log?: Logger;
  /** Health probe interval, seconds (default 10; 0 turns the probe off). */
  readonly probeSeconds?: number;
}

export interface Pkcs11Token {
  readonly label: string;
  /** `ES256`: ECDSA (CKM_ECDSA) over `data`, which must be the SHA-256 digest; returns r‖s. `Ed25519`: CKM_EDDSA. */
  sign(id: Uint8Array, alg: SigningAlg, data: Uint8Array): Promise<Buffer>;
  /**
   * Generates a key pair on the token (private: sensitive, never extractable). Its CKA_ID is `keyIdOf` its public
   * key (the subjectKeyIdentifier a certificate for it carries). Returns the SPKI and the id.
   */
  generate(alg: SigningAlg, label: string): Promise<{ spki: Uint8Array; id: Uint8Array }>;
  /** Puts an existing private key on the token (sensitive, never extractable from then on), CKA_ID `keyIdOf` it. */
  importKey(key: KeyObject, label: string): Promise<{ spki: Uint8Array; id: Uint8Array }>;
  /** Is there a private key with this CKA_ID? */
  has(id: Uint8Array): Promise<boolean>;
  /** Deletes the key pair with this CKA_ID (tests, rollback of a key that was never used). */
  destroy(id: Uint8Array): Promise<number>;
  status(): TokenStatus;
  /** Checks the token now (present, logged in), reconnecting if needed; updates `status()`. */
  probe(): Promise<TokenStatus>;
  close(): Promise<void>;
}

export function readPin(file: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (cause) {
    throw new AppError("KEYSTORE_LOCKED", `The PKCS#11 PIN file ${file} cannot be read (${(cause as NodeJS.ErrnoException).code ?? "error"}).`, { cause });
  }
  const pin = text.replace(/\r?\n$/, "");
  if (pin.length === 0 || /[\r\n]/.test(pin)) throw new AppError("KEYSTORE_LOCKED", `The PKCS#11 PIN file ${file} must hold the PIN on one line.`);
  return pin;
}

export function spkiFromEcPoint(alg: SigningAlg, point: Buffer): Uint8Array {
  if (alg === "SM2") throw new AppError("KEYSTORE_UNAVAILABLE", "SM2 keys are not kept on PKCS#11 tokens (no standard SM2 mechanism).");
  // CKA_EC_POINT is a DER OCTET STRING around the point (PKCS#11 §2.3.3); some tokens give the bare point.
  const want = alg === "ES256" ? 65 : 32;
  let raw = point;
  if (point.length === want + 2 && point[0] === 0x04 && point[1] === want) raw = point.subarray(2);
  if (raw.length !== want) throw new AppError("KEYSTORE_UNAVAILABLE", `The token returned a ${alg} public key of unexpected length ${point.length}.`);
  return new Uint8Array(Buffer.concat([SPKI_PREFIX[alg], raw]));
}

/** CKA_ID of a key: SHA-1 over the public key bits of its SPKI (RFC 5280 §4.2.1.2 method 1, the usual convention). */
export function keyIdOf(spki: Uint8Array): Uint8Array {
  const b = Buffer.from(spki);
  for (const alg of ["ES256", "Ed25519"] as const) {
    const prefix = SPKI_PREFIX[alg];
    if (b.length > prefix.length && b.subarray(0, prefix.length).equals(prefix)) {
      return new Uint8Array(crypto.createHash("sha1").update(b.subarray(prefix.length)).digest());
    }
  }
  throw new AppError("KEYSTORE_LOCKED", "Only P-256 and Ed25519 keys can be on the token.");
}

export async function openToken(opts: TokenOptions): Promise<Pkcs11Token> {
  const { uri } = opts;
  const log = opts.log;
  const pin = readPin(uri.pinFile);
  try {
    if (process.platform !== "win32" && (fs.statSync(uri.pinFile).mode & 0o077) !== 0) log?.warn({ file: uri.pinFile }, "the PKCS#11 PIN file is readable by group or others; chmod 600 it");
  } catch {
    // read just above: a stat failure now changes nothing
  }
  const { mod, lib } = loadModule(uri.modulePath);
  const label = uri.token ?? `slot ${uri.slotId}`;
  const slotNumber = (s: Buffer) => (s.length >= 8 ? Number(s.readBigUInt64LE(0)) : s.readUInt32LE(0));

  let slot: Handle | null = null;
  let idle: Handle[] = [];
  let all: Handle[] = [];
  let waiters: Array<{ resolve: (s: Handle) => void; reject: (e: Error) => void }> = [];
  let generation = 0;
  const handles = new Map<string, Handle>();
  let state: TokenStatus = { ok: true };
  let reconnecting: Promise<void> | null = null;
  let lastAttempt = 0;
  let closed = false;

  function findSlot(): Handle {
    let slots: Handle[];
    try {
      slots = mod.C_GetSlotList(true);
    } catch (cause) {
      throw new AppError("KEYSTORE_UNAVAILABLE", `The PKCS#11 module lists no slots (${ckr(cause)}).`, { cause });
    }
    const seen: string[] = [];
    for (const s of slots) {
      let info: Pkcs11Js.TokenInfo;
      try {
        info = mod.C_GetTokenInfo(s);
      } catch {
        continue;
      }
      const tl = info.label.trimEnd();
      seen.push(tl || "(no label)");
      if (uri.token !== undefined && tl !== uri.token) continue;
      if (uri.serial !== undefined && info.serialNumber.trimEnd() !== uri.serial) continue;
      if (uri.manufacturer !== undefined && info.manufacturerID.trimEnd() !== uri.manufacturer) continue;
      if (uri.model !== undefined && info.model.trimEnd() !== uri.model) continue;
      if (uri.slotId !== undefined && slotNumber(s) !== uri.slotId) continue;
      if (!(info.flags & lib.CKF_TOKEN_INITIALIZED)) continue;
      return s;
    }
    throw new AppError("KEYSTORE_UNAVAILABLE", `No PKCS#11 token ${JSON.stringify(label)} is present (tokens seen: ${seen.join(", ") || "none"}).`);
  }

  function login(s: Handle): void {
    try {
      mod.C_Login(s, lib.CKU_USER, pin);
    } catch (cause) {
      const c = ckr(cause);
      if (c === "CKR_USER_ALREADY_LOGGED_IN") return;
      if (c === "CKR_PIN_INCORRECT") throw new AppError("KEYSTORE_LOCKED", `Wrong PIN for PKCS#11 token ${JSON.stringify(label)} (PIN file ${uri.pinFile}).`, { cause });
      if (c === "CKR_PIN_LOCKED") throw new AppError("KEYSTORE_LOCKED", `The user PIN of PKCS#11 token ${JSON.stringify(label)} is locked; unlock it with the token's tools.`, { cause });
      if (c === "CKR_PIN_EXPIRED") throw new AppError("KEYSTORE_LOCKED", `The user PIN of PKCS#11 token ${JSON.stringify(label)} has expired; set a new one.`, { cause });
      throw new AppError("KEYSTORE_UNAVAILABLE", `Login to PKCS#11 token ${JSON.stringify(label)} failed (${c}).`, { cause });
    }
  }

  /** Opens the sessions and logs in. Throws KEYSTORE_LOCKED (PIN) or KEYSTORE_UNAVAILABLE. */
  function connect(): void {
    const s0 = findSlot();
    const opened: Handle[] = [];
    try {
      for (let i = 0; i < uri.sessions; i++) opened.push(mod.C_OpenSession(s0, lib.CKF_SERIAL_SESSION | lib.CKF_RW_SESSION));
      login(opened[0]!);
    } catch (e) {
      for (const s of opened) {
        try {
          mod.C_CloseSession(s);
        } catch {
          // already gone
        }
      }
      if (e instanceof AppError) throw e;
      throw new AppError("KEYSTORE_UNAVAILABLE", `Sessions on PKCS#11 token ${JSON.stringify(label)} cannot be opened (${ckr(e)}).`, { cause: e });
    }
    slot = s0;
    all = opened;
    idle = [...opened];
    generation++;
    handles.clear();
    // Callers that waited for a session during the reconnect get the new ones.
    const w = waiters;
    waiters = [];
    for (const fn of w) {
      const s = idle.pop();
      if (s) fn.resolve(s);
      else waiters.push(fn);
    }
  }

  function disconnect(): void {
    if (slot) {
      try {
        mod.C_CloseAllSessions(slot);
      } catch {
        // the token is gone: its sessions went with it
      }
    }
    slot = null;
    all = [];
    idle = [];
    handles.clear();
  }

  function unavailable(reason: string): AppError {
    if (state.ok) log?.error({ token: label, reason }, "PKCS#11 token unavailable: signing answers 503 until it is back");
    state = { ok: false, reason, since: state.since ?? new Date() };
    return new AppError("KEYSTORE_UNAVAILABLE", `The PKCS#11 token ${JSON.stringify(label)} is unavailable: ${reason}`);
  }

  function healthy(): void {
    if (!state.ok) log?.info({ token: label }, "PKCS#11 token available again");
    state = { ok: true };
  }

  function reconnect(): Promise<void> {
    reconnecting ??= (async () => {
      lastAttempt = Date.now();
      disconnect();
      try {
        connect();
        healthy();
      } catch (e) {
        const err = unavailable(e instanceof AppError ? e.message : ckr(e));
        // Callers waiting for a session would wait for ever: they get the error now.
        const w = waiters;
        waiters = [];
        for (const fn of w) fn.reject(err);
        throw err;
      }
    })().finally(() => {
      reconnecting = null;
    });
    return reconnecting;
  }

  async function acquire(): Promise<{ s: Handle; gen: number }> {
    if (closed) throw new AppError("NOT_READY", "The key store is closed.");
    if (reconnecting) await reconnecting;
    if (!state.ok) {
      if (Date.now() - lastAttempt < RETRY_GAP_MS) throw new AppError("KEYSTORE_UNAVAILABLE", `The PKCS#11 token ${JSON.stringify(label)} is unavailable: ${state.reason}`);
      await reconnect();
    }
    const s = idle.pop();
    if (s) return { s, gen: generation };
    return new Promise((resolve, reject) => waiters.push({ resolve: (x) => resolve({ s: x, gen: generation }), reject }));
  }

  function release(s: Handle, gen: number): void {
    if (gen !== generation) return; // a session of an earlier connection: already closed
    const w = waiters.shift();
    if (w) w.resolve(s);
    else idle.push(s);
  }

  function find(s: Handle, template: Pkcs11Js.Template, max = 2): Handle[] {
    mod.C_FindObjectsInit(s, template);
    try {
      return mod.C_FindObjects(s, max);
    } finally {
      mod.C_FindObjectsFinal(s);
    }
  }

  function privateKeyHandle(s: Handle, id: Uint8Array): Handle {
    const k = Buffer.from(id).toString("hex");
    const hit = handles.get(k);
    if (hit) return hit;
    const found = find(s, [{ type: lib.CKA_CLASS, value: lib.CKO_PRIVATE_KEY }, { type: lib.CKA_ID, value: Buffer.from(id) }]);
    if (found.length === 0) throw new KeyMissing(k);
    if (found.length > 1) log?.warn({ token: label, id: k }, "several private keys on the token have this CKA_ID; using the first");
    handles.set(k, found[0]!);
    return found[0]!;
  }

  /**
   * After a failed operation: a handle or login problem is fixed in place (handles looked up again, login again);
   * anything else, or a token that no longer answers, reconnects. Throws KEYSTORE_UNAVAILABLE when that fails.
   */
  async function recover(s: Handle, code: string): Promise<void> {
    if (SOFT.has(code) && slot) {
      handles.clear();
      try {
        mod.C_GetTokenInfo(slot);
        const info = mod.C_GetSessionInfo(s);
        // CKS_RO_USER_FUNCTIONS (1) or CKS_RW_USER_FUNCTIONS (3): logged in. Anything else: logged out meanwhile.
        if (info.state !== 1 && info.state !== 3) login(s);
        return;
      } catch (e) {
        if (e instanceof AppError) throw unavailable(e.message);
        // the token does not answer: reconnect
      }
    }
    await reconnect();
  }

  /** Runs `op` on a session; after a session, login, handle or device error recovers once and retries. */
  async function withSession<T>(what: string, op: (s: Handle) => Promise<T> | T): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const { s, gen } = await acquire();
      try {
        const r = await op(s);
        if (!state.ok) healthy();
        return r;
      } catch (e) {
        if (e instanceof AppError) throw e;
        const code = e instanceof KeyMissing ? "KEY_MISSING" : ckr(e);
        const recoverable = SOFT.has(code) || RECONNECT_ON.has(code);
        if (attempt === 0 && recoverable && !closed) {
          log?.warn({ token: label, code, what }, "PKCS#11 operation failed; recovering and retrying once");
          if (gen === generation) await recover(s, code);
          continue;
        }
        // One key missing is that key's problem (a 503 for its callers), not the token's: readiness stays.
        if (e instanceof KeyMissing) throw new AppError("KEYSTORE_UNAVAILABLE", `${what}: the token has no private key with CKA_ID ${e.idHex}.`);
        if (recoverable) throw unavailable(`${what} failed (${code})`);
        throw new AppError("KEYSTORE_UNAVAILABLE", `The PKCS#11 token refused ${what} (${code}).`, { cause: e });
      } finally {
        release(s, gen);
      }
    }
  }

  // Start-up: find the token, open sessions, log in. A wrong PIN throws KEYSTORE_LOCKED here (one line at start).
  try {
    connect();
  } catch (e) {
    unloadModule(uri.modulePath);
    if (e instanceof AppError && e.code === "KEYSTORE_UNAVAILABLE") throw new AppError("KEYSTORE_LOCKED", e.message, { cause: e });
    throw e;
  }

  const probeMs = (opts.probeSeconds ?? 10) * 1000;
  async function probe(): Promise<TokenStatus> {
    if (closed) return state;
    if (!state.ok || !slot) {
      await reconnect().catch(() => undefined);
      return state;
    }
    try {
      mod.C_GetTokenInfo(slot);
      const s = idle[0] ?? all[0]!;
      const info = mod.C_GetSessionInfo(s);
      // CKS_RO_USER_FUNCTIONS (1) or CKS_RW_USER_FUNCTIONS (3): logged in. Anything else: the token was logged out.
      if (info.state !== 1 && info.state !== 3) login(s);
      healthy();
    } catch (e) {
      log?.warn({ token: label, code: ckr(e) }, "PKCS#11 token probe failed; reconnecting");
      await reconnect().catch(() => undefined);
    }
    return state;
  }
  let probing = false;
  const timer = probeMs > 0 ? setInterval(() => {
    if (probing) return;
    probing = true;
    void probe().finally(() => (probing = false));
  }, probeMs) : null;
  timer?.unref();

  const ecdsaOut = () => Buffer.alloc(132);

  return {
    label,
    async sign(id, alg, data) {
      return withSession(`signing with key ${Buffer.from(id).toString("hex")}`, async (s) => {
        const h = privateKeyHandle(s, id);
        mod.C_SignInit(s, { mechanism: alg === "Ed25519" ? CKM_EDDSA : lib.CKM_ECDSA }, h);
        return mod.C_SignAsync(s, Buffer.from(data), alg === "Ed25519" ? Buffer.alloc(64) : ecdsaOut());
      });
    },
    async generate(alg, keyLabel) {
      if (alg === "SM2") throw new AppError("KEYSTORE_UNAVAILABLE", "SM2 keys are not kept on PKCS#11 tokens (no standard SM2 mechanism).");
      // A random CKA_ID first, the key's own id once its public key is known (set on both objects).
      const tmp = crypto.randomBytes(20);
      return withSession("generating a key", (s) => {
        const common = [
          { type: lib.CKA_TOKEN, value: true },
          { type: lib.CKA_ID, value: tmp },
          { type: lib.CKA_LABEL, value: keyLabel },
        ];
        const kp = mod.C_GenerateKeyPair(
          s,
          { mechanism: alg === "Ed25519" ? CKM_EC_EDWARDS_KEY_PAIR_GEN : lib.CKM_EC_KEY_PAIR_GEN },
          [...common, { type: lib.CKA_VERIFY, value: true }, { type: lib.CKA_EC_PARAMS, value: EC_PARAMS[alg] }],
          [
            ...common,
            { type: lib.CKA_SIGN, value: true },
            { type: lib.CKA_PRIVATE, value: true },
            { type: lib.CKA_SENSITIVE, value: true },
            { type: lib.CKA_EXTRACTABLE, value: false },
          ],
        );
        const point = mod.C_GetAttributeValue(s, kp.publicKey, [{ type: lib.CKA_EC_POINT }])[0]!.value as Buffer;
        const spki = spkiFromEcPoint(alg, point);
        const id = keyIdOf(spki);
        for (const h of [kp.publicKey, kp.privateKey]) mod.C_SetAttributeValue(s, h, [{ type: lib.CKA_ID, value: Buffer.from(id) }]);
        return { spki, id };
      });
    },
    async importKey(key, keyLabel) {
      const alg: SigningAlg | null = key.asymmetricKeyType === "ed25519" ? "Ed25519"
        : key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1" ? "ES256" : null;
      if (!alg || key.type !== "private") throw new AppError("VALIDATION_FAILED", "Only P-256 and Ed25519 private keys can be put on the token.");
      const jwk = key.export({ format: "jwk" });
      const d = Buffer.from(jwk.d!, "base64url");
      const spki = new Uint8Array(crypto.createPublicKey(key).export({ type: "spki", format: "der" }));
      const point = Buffer.from(spki).subarray(SPKI_PREFIX[alg].length);
      const id = Buffer.from(keyIdOf(spki));
      try {
        await withSession("importing a key", (s) => {
          const common = [
            { type: lib.CKA_TOKEN, value: true },
            { type: lib.CKA_ID, value: id },
            { type: lib.CKA_LABEL, value: keyLabel },
            { type: lib.CKA_KEY_TYPE, value: alg === "Ed25519" ? CKK_EC_EDWARDS : lib.CKK_EC },
            { type: lib.CKA_EC_PARAMS, value: EC_PARAMS[alg] },
          ];
          mod.C_CreateObject(s, [
            { type: lib.CKA_CLASS, value: lib.CKO_PRIVATE_KEY }, ...common,
            { type: lib.CKA_VALUE, value: d },
            { type: lib.CKA_SIGN, value: true },
            { type: lib.CKA_PRIVATE, value: true },
            { type: lib.CKA_SENSITIVE, value: true },
            { type: lib.CKA_EXTRACTABLE, value: false },
          ]);
          mod.C_CreateObject(s, [
            { type: lib.CKA_CLASS, value: lib.CKO_PUBLIC_KEY }, ...common,
            { type: lib.CKA_EC_POINT, value: Buffer.concat([Buffer.from([0x04, point.length]), point]) },
            { type: lib.CKA_VERIFY, value: true },
          ]);
        });
      } finally {
        d.fill(0);
      }
      return { spki, id: new Uint8Array(id) };
    },
    async has(id) {
      return withSession("looking a key up", (s) => {
        try {
          privateKeyHandle(s, id);
          return true;
        } catch (e) {
          if (e instanceof KeyMissing) return false;
          throw e;
        }
      });
    },
    async destroy(id) {
      return withSession("deleting a key", (s) => {
        const objs = find(s, [{ type: lib.CKA_ID, value: Buffer.from(id) }], 16);
        for (const o of objs) mod.C_DestroyObject(s, o);
        handles.delete(Buffer.from(id).toString("hex"));
        return objs.length;
      });
    },
    status: () => state,
    probe,
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearInterval(timer);
      if (reconnecting) await reconnecting.catch(() => undefined);
      disconnect();
      unloadModule(uri.modulePath);
    },
  };
}

class KeyMissing extends Error {
  constructor(readonly idHex: string) {
    super(`no private key with CKA_ID ${idHex}`);
  }
}
