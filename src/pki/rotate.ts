/**
 * `sidian keys rotate`, service keys: new TSA, access-token and transparency-log keys (in the keys folder, or on the
 * PKCS#11 token when one is configured), certified by the issuing CA, with an overlap during which what the old
 * keys signed keeps verifying.
 *
 * The old public material moves to `previous/` and `manifest.previous` lists it with the end of its overlap
 * (see `KeysManifest.previous`): the old token key stays accepted and in the JWKS, the old TSA certificate stays
 * known, and old log keys stay known to `log audit` for good. Old private key files are deleted (nothing signs
 * with them again); keys on a token stay there until the operator destroys them (the notes say so).
 *
 * The running service keeps its keys until it restarts: every instance must restart after a rotation. The
 * manifest is written last, so a crash part-way leaves the folder as it was or complete.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { AppError } from "../errors.js";
import { systemClock, type Clock } from "../modules/kernel.js";
import { issue, issuerOf, type ServiceKeyGenerator } from "./cli.js";
import { KEY_FILES, loadKeyMaterial, tokenJwk, type KeysManifest, type PreviousKeyEntry } from "./material.js";
import { toPem } from "./pem.js";
import { serviceSubject } from "./profiles.js";
import { keyObjectSigningKey, type SigningAlg, type SigningKey } from "./signing-key.js";

const DAY = 86_400_000;

export type RotatableServiceRole = "tsa" | "token" | "log";
export const ROTATABLE_SERVICE_ROLES: readonly RotatableServiceRole[] = ["tsa", "token", "log"];

export interface RotateServiceKeysOptions {
  readonly dir: string;
  readonly roles: readonly RotatableServiceRole[];
  /** Days during which the old keys stay accepted and published. */
  readonly overlapDays: number;
  /** The token the folder's keys are on (manifest `keyStore: pkcs11`): new keys are generated there. */
  readonly serviceKeys?: ServiceKeyGenerator;
  readonly clock?: Clock;
  readonly progress?: (step: string) => void;
}

export interface RotatedServiceKey {
  readonly role: RotatableServiceRole;
  /** Old and new: certificate SHA-256 (tsa, token) or SPKI SHA-256 (log). */
  readonly oldSha256: string;
  readonly newSha256: string;
  /** Where the old public material is now, relative to the folder. */
  readonly previousFile: string;
  readonly kid?: { readonly old: string; readonly new: string };
}

export interface RotateServiceKeysResult {
  readonly dir: string;
  readonly rotated: readonly RotatedServiceKey[];
  readonly overlapUntil: string;
  readonly notes: readonly string[];
}

const sha256 = (b: Uint8Array) => crypto.createHash("sha256").update(b).digest("hex");

export async function rotateServiceKeys(opts: RotateServiceKeysOptions): Promise<RotateServiceKeysResult> {
  const clock = opts.clock ?? systemClock;
  const step = opts.progress ?? (() => {});
  if (!Number.isInteger(opts.overlapDays) || opts.overlapDays < 1 || opts.overlapDays > 3650) {
    throw new AppError("CONFIG_INVALID", "The overlap must be a whole number of days from 1 to 3650.");
  }
  const roles = [...new Set(opts.roles)];
  if (roles.length === 0) throw new AppError("CONFIG_INVALID", "Name at least one service key to rotate (tsa, token, log).");
  for (const r of roles) if (!ROTATABLE_SERVICE_ROLES.includes(r)) throw new AppError("CONFIG_INVALID", `Service key ${String(r)} cannot be rotated here (tsa, token, log).`);

  step("loading the keys folder (every chain verifies, every key signs)");
  const m = await loadKeyMaterial(opts.dir, { now: clock.now(), ...(opts.serviceKeys ? { serviceKeys: opts.serviceKeys.source } : {}) });
  if (m.keyStore === "pkcs11" && !opts.serviceKeys) throw new AppError("CONFIG_INVALID", "The keys of this folder are on a PKCS#11 token: set SIDIAN_KEYSTORE.");
  const dir = m.dir;
  const now = new Date(Math.floor(clock.now().getTime() / 1000) * 1000);
  const until = new Date(now.getTime() + opts.overlapDays * DAY);
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  const crlUrl = `${(m.manifest.publicUrl ?? "").replace(/\/+$/, "")}/pki/crl`;
  if (!m.manifest.publicUrl) throw new AppError("CONFIG_INVALID", `${path.join(dir, KEY_FILES.manifest)} names no publicUrl.`);
  const ica = issuerOf(m.issuingCa.cert, m.issuingCa.signer);
  const where = opts.serviceKeys ? `on the PKCS#11 token (${opts.serviceKeys.source.backend})` : "in the keys folder";
  const newKey = async (role: RotatableServiceRole, alg: SigningAlg): Promise<SigningKey> => opts.serviceKeys
    ? opts.serviceKeys.generate(role, alg)
    : keyObjectSigningKey(role, (alg === "Ed25519" ? crypto.generateKeyPairSync("ed25519") : crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" })).privateKey);

  const files: Array<[string, string, number]> = [];
  const remove: string[] = [];
  const previous: PreviousKeyEntry[] = [];
  const rotated: RotatedServiceKey[] = [];
  const keyFile = (name: string, sk: SigningKey) => {
    if (sk.privateKey) files.push([name, sk.privateKey.export({ type: "pkcs8", format: "pem" }).toString(), 0o600]);
    else remove.push(name);
  };
  fs.mkdirSync(path.join(dir, "previous"), { recursive: true, mode: 0o755 });

  for (const role of roles) {
    if (role === "log") {
      step(`log key: new Ed25519 key ${where}`);
      const sk = await newKey("log", "Ed25519");
      const oldSpki = new Uint8Array(m.log.publicKey.export({ type: "spki", format: "der" }));
      const prev = `previous/log-${stamp}-${sha256(oldSpki).slice(0, 16)}.pub.pem`;
      files.push([prev, m.log.publicKeyPem, 0o644]);
      files.push([KEY_FILES.logPub, sk.publicKey.export({ type: "spki", format: "pem" }).toString(), 0o644]);
      keyFile(KEY_FILES.logKey, sk);
      previous.push({ role, file: prev, retired: now.toISOString(), until: until.toISOString() });
      rotated.push({ role, oldSha256: sha256(oldSpki), newSha256: sha256(new Uint8Array(sk.publicKey.export({ type: "spki", format: "der" }))), previousFile: prev });
      continue;
    }
    step(`${role} key: new P-256 key ${where}, certificate signed by the issuing CA`);
    const sk = await newKey(role, "ES256");
    const cert = await issue(role, serviceSubject(role, m.dev), sk.publicKey, ica, now, crlUrl);
    const old = role === "tsa" ? m.tsa.cert : m.token.cert;
    const prev = `previous/${role}-${stamp}-${old.serial}.crt.pem`;
    files.push([prev, toPem(old.der, "CERTIFICATE"), 0o644]);
    files.push([role === "tsa" ? KEY_FILES.tsaCert : KEY_FILES.tokenCert, toPem(cert.der, "CERTIFICATE"), 0o644]);
    keyFile(role === "tsa" ? KEY_FILES.tsaKey : KEY_FILES.tokenKey, sk);
    previous.push({ role, file: prev, retired: now.toISOString(), until: until.toISOString() });
    rotated.push({
      role, oldSha256: old.sha256, newSha256: cert.sha256, previousFile: prev,
      ...(role === "token" ? { kid: { old: m.token.kid, new: (await tokenJwk(sk.publicKey)).kid! } } : {}),
    });
  }

  const manifest: KeysManifest = { ...m.manifest, previous: [...(m.manifest.previous ?? []), ...previous] };
  files.unshift([KEY_FILES.manifest, `${JSON.stringify(manifest, null, 2)}\n`, 0o644]);

  step("writing the keys folder (old public material under previous/)");
  const tmp = files.map(([name, body, mode]) => {
    const final = path.join(dir, name);
    const t = path.join(path.dirname(final), `.${path.basename(name)}.tmp-${process.pid}`);
    fs.writeFileSync(t, body, { mode });
    fs.chmodSync(t, mode);
    return [t, final] as const;
  });
  for (const [t, final] of tmp.slice(1)) fs.renameSync(t, final);
  for (const name of remove) fs.rmSync(path.join(dir, name), { force: true }); // a file key now on the token
  fs.renameSync(tmp[0]![0], tmp[0]![1]);

  step("checking: the folder loads with the new keys, and the old ones are listed");
  const after = await loadKeyMaterial(dir, { now: clock.now(), ...(opts.serviceKeys ? { serviceKeys: opts.serviceKeys.source } : {}) });
  for (const r of rotated) {
    const listed = r.role === "log" ? after.previous.log.length > 0 : r.role === "tsa" ? after.previous.tsa.some((t) => t.cert.sha256 === r.oldSha256) : after.previous.token.some((t) => t.cert.sha256 === r.oldSha256);
    if (!listed) throw new AppError("INTERNAL", `The rotated ${r.role} key is not listed as previous after writing the folder.`);
  }

  const notes = [
    "Restart every instance of the service: each keeps its old keys until it restarts.",
    `What the old keys signed keeps verifying until ${until.toISOString()} (access tokens, live QR codes, copies, time-stamps); checkpoints signed by an old log key stay verifiable by \`sidian log audit\` for good.`,
  ];
  if (opts.serviceKeys) notes.push("The old keys are still on the PKCS#11 token (nothing signs with them): destroy them there once the overlap has ended.");
  if (roles.includes("log")) notes.push("Give auditors and witnesses the new log key (GET /log/key) beside the old one.");
  return { dir, rotated, overlapUntil: until.toISOString(), notes };
}
