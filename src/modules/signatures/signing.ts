/**
 * Signing a request's document: each participant's signature is its own PAdES B-T revision (incremental update,
 * the signer's certificate, an RFC 3161 time-stamp from the TSA) with their drawn mark as its appearance.
 *
 * Two ways to hold the key:
 * - cloud (云签名): Sidian keeps a P-256 key per person in the key store with a personal-signing certificate from
 *   the internal CA (subject: name + pseudonym). The key signs only after a fresh holder authentication AND a
 *   WebAuthn assertion whose challenge is bound to this request, this participant and the document's current
 *   SHA-256 (single use: a replayed or stale assertion is refused). No passkey, no signature.
 * - own key (external): `prepare` hands out the CMS signed attributes to sign (DSS getDataToSign) for a
 *   certificate chain that must end at a configured trust anchor; `complete` takes the signature value, checks it
 *   against the certificate and embeds it.
 *
 * The slow work (parse, sign, time-stamp) runs outside the write transaction; the commit re-checks that the
 * participant may still act and that the document is still the revision that was signed (else
 * SIGNING_DOCUMENT_CHANGED: a parallel signer went first; sign again on the new revision).
 */
import crypto from "node:crypto";
import {
  generateAuthenticationOptions, generateRegistrationOptions, verifyAuthenticationResponse, verifyRegistrationResponse,
  type AuthenticationResponseJSON, type RegistrationResponseJSON,
} from "@simplewebauthn/server";
import type { PiiProtector } from "../../crypto/pii.js";
import { AppError } from "../../errors.js";
import type { PdfWork } from "../../pdf/pool.js";
import { embedSignature } from "../../pdf/sign.js";
import type { StampPrepared } from "../../pdf/stamp.js";
import { verifyChain } from "../../pki/chain.js";
import { attribute, buildSignedData, CMS_OID, encodeSigner, verifySignatureValue } from "../../pki/cms.js";
import { bytesOf, children, readNode, setOf, oid, octets } from "../../pki/der.js";
import type { KeyStore, PkiRepos } from "../../pki/index.js";
import { parseCertificate } from "../../pki/reader.js";
import type { Tsa } from "../../pki/tsa.js";
import type { CatalogueRepos } from "../catalogue/index.js";
import { actorLabel, type Actor, type Clock, type TxHooks, type UnitOfWork } from "../kernel.js";
import { TLOG_EVENTS } from "../tlog/events.js";
import type { TlogEvent } from "../tlog/index.js";
import { checkMark, type SignatureMark } from "./mark.js";
import type { Participant, PersonalKey, SignatureRepos, SigningRequest } from "./ports.js";
import { closedError, type SignatureService } from "./service.js";

/** Bytes reserved for a participant's CMS (signature, chain, time-stamp token). */
export const SIGNATURE_RESERVE = 16_384;
const CHALLENGE_MS = 5 * 60_000;
/** When the sealing job first looks at a completed request (sealing is tried at once after the last signature). */
const SEAL_FIRST_RETRY_MS = 30_000;
const PREPARED_MS = 15 * 60_000;

type Repos = SignatureRepos & CatalogueRepos & PkiRepos;

export interface PersonCertificate {
  serial: string;
  keyId: string;
  sha256: string;
  der: Uint8Array;
}

export interface SigningFlowDeps<R extends Repos> {
  uow: UnitOfWork<R>;
  clock: Clock;
  log: { append(repos: R, tx: TxHooks, event: TlogEvent): Promise<{ index: number }> };
  pii: PiiProtector;
  keyStore: KeyStore;
  tsa: Tsa;
  /** Issuing CA and root (DER), embedded after a cloud signer's certificate. */
  chain: readonly Uint8Array[];
  /** Creates a person's key + certificate inside the caller's transaction and logs it. */
  issuePersonCertificate(repos: R, tx: TxHooks, input: { name: string; pseudonym: string }, actor: Actor): Promise<PersonCertificate>;
  /** The relying party: the public origin of the signer's page and its host name. */
  webauthn: { rpId: string; origin: string; rpName: string };
  /** Trust anchors (DER) for own-key signers' certificates; empty: own-key signing is refused. */
  externalAnchors: readonly Uint8Array[];
  reauthSeconds: number;
  svc: SignatureService<R>;
  /** After the last signature: the completion report and the final seal (failures are the callee's to record). */
  onCompleted?: (requestId: string) => Promise<unknown>;
  /** Where the request's untrusted document is read: the PDF worker pool (time and memory budget per task). */
  pdf: PdfWork;
}

const b64u = (b: Uint8Array) => Buffer.from(b).toString("base64url");
const sha256 = (b: Uint8Array | string) => crypto.createHash("sha256").update(b).digest();

/** Beijing time, for captions and reports. */
export function beijing(d: Date): string {
  return new Date(d.getTime() + 8 * 3_600_000).toISOString().replace("T", " ").slice(0, 16) + " +08:00";
}

/** The issuer Name DER of a certificate (for issuerAndSerialNumber). */
function issuerOf(der: Uint8Array): Uint8Array {
  const tbs = children(readNode(Buffer.from(der)))[0]!;
  const f = children(tbs);
  const off = f[0]!.tag === 0xa0 ? 1 : 0;
  return bytesOf(f[off + 2]!);
}

interface PreparedState {
  byteRange: [number, number, number, number];
  contentsHexStart: number;
  contentsHexLength: number;
  fieldName: string;
  certificates: string[];
  signedAttrs: string;
  digest: string;
  baseSha256: string;
  signingTime: string;
}

export function createSigningFlow<R extends Repos>(deps: SigningFlowDeps<R>) {
  const { uow, clock, log, pii, svc } = deps;
  const rp = deps.webauthn;

  function requireHolder(actor: Actor): Extract<Actor, { kind: "holder" }> {
    if (actor.kind !== "holder") throw new AppError("FORBIDDEN_ROLE", "Only the participant may sign.");
    return actor;
  }

  function requireFresh(actor: Extract<Actor, { kind: "holder" }>): void {
    const at = actor.authTime?.getTime() ?? 0;
    if (clock.now().getTime() - at > deps.reauthSeconds * 1000) {
      throw new AppError("SIGNING_REAUTH_REQUIRED", `Log in again: a cloud signature needs an authentication from the last ${deps.reauthSeconds} s.`);
    }
  }

  /** Read-only version of the acting check: who acts, and on which revision. */
  async function canAct(id: string, actor: Actor): Promise<{ r: SigningRequest; p: Participant; latest: { seq: number; sha256: string; pdf: Buffer } }> {
    const holder = requireHolder(actor);
    const { r, mine } = await svc.visible(uow.read, id, holder);
    if (r.status === "in_progress" && clock.now() >= r.expiresAt) throw new AppError("SIGNING_EXPIRED");
    if (r.status !== "in_progress") throw r.status === "draft" ? new AppError("SIGNING_STATE_INVALID", "The request has not been sent yet.") : closedError(r);
    const p = mine.find((x) => x.role !== "copy");
    if (!p) throw new AppError("SIGNING_STATE_INVALID", "A copy-only participant does not sign.");
    if (p.status === "signed" || p.status === "declined") throw new AppError("SIGNING_ALREADY_ACTED");
    if (p.groupNo !== r.currentGroup || p.status !== "pending") {
      throw new AppError("SIGNING_NOT_YOUR_TURN", `Group ${r.currentGroup} signs now; this participant is in group ${p.groupNo}.`, { details: { currentGroup: r.currentGroup, group: p.groupNo } });
    }
    const d = await uow.read.signingDocuments.latest(id);
    if (!d) throw new AppError("SIGNING_DOCUMENT_MISSING");
    return { r, p, latest: { seq: d.seq, sha256: d.sha256, pdf: pii.openBytes(d.bytes, svc.aadDoc(id, d.seq)) } };
  }

  // ------------------------------------------------------------------------------------------------ passkeys

  async function registrationOptions(actor: Actor, displayName: string) {
    const h = requireHolder(actor);
    const existing = await uow.read.passkeys.forHolder(h.subjectHash);
    const options = await generateRegistrationOptions({
      rpName: rp.rpName, rpID: rp.rpId, userName: `holder-${h.subjectHash.slice(0, 12)}`, userDisplayName: displayName.slice(0, 64),
      userID: Buffer.from(h.subjectHash.slice(0, 32), "hex"), attestationType: "none",
      excludeCredentials: existing.map((c) => ({ id: c.id })),
      authenticatorSelection: { residentKey: "preferred", userVerification: "required" },
      supportedAlgorithmIDs: [-7],
    });
    await uow.write(async (repos) => {
      await repos.webauthnChallenges.purge(clock.now());
      await repos.webauthnChallenges.insert({
        challenge: options.challenge, holderHash: h.subjectHash, purpose: "register", requestId: null, participantIdx: null, documentSha256: null,
        expiresAt: new Date(clock.now().getTime() + CHALLENGE_MS),
      });
    }, { relaxed: true });
    return options;
  }

  function clientChallenge(response: { response?: { clientDataJSON?: unknown } }): string {
    const cd = response.response?.clientDataJSON;
    if (typeof cd !== "string" || cd.length > 4096) throw new AppError("WEBAUTHN_ASSERTION_INVALID", "The WebAuthn response has no client data.");
    try {
      const c = (JSON.parse(Buffer.from(cd, "base64url").toString("utf8")) as { challenge?: unknown }).challenge;
      if (typeof c !== "string" || c.length > 256) throw new Error("no challenge");
      return c;
    } catch (cause) {
      throw new AppError("WEBAUTHN_ASSERTION_INVALID", "The WebAuthn client data cannot be read.", { cause });
    }
  }

  async function register(actor: Actor, response: RegistrationResponseJSON) {
    const h = requireHolder(actor);
    const challenge = clientChallenge(response as never);
    const c = await uow.write((repos) => repos.webauthnChallenges.take(challenge));
    if (!c || c.purpose !== "register" || c.holderHash !== h.subjectHash || c.expiresAt < clock.now()) {
      throw new AppError("WEBAUTHN_REGISTRATION_INVALID", "The registration challenge is unknown, used or expired; start again.");
    }
    let info;
    try {
      const v = await verifyRegistrationResponse({ response, expectedChallenge: challenge, expectedOrigin: rp.origin, expectedRPID: rp.rpId, requireUserVerification: true });
      if (!v.verified || !v.registrationInfo) throw new Error("not verified");
      info = v.registrationInfo;
    } catch (cause) {
      throw new AppError("WEBAUTHN_REGISTRATION_INVALID", undefined, { cause });
    }
    const cred = info.credential;
    const now = clock.now();
    await uow.write(async (repos) => {
      if (await repos.passkeys.get(cred.id)) throw new AppError("WEBAUTHN_REGISTRATION_INVALID", "This passkey is registered already.");
      await repos.passkeys.insert({
        id: cred.id, holderHash: h.subjectHash, publicKey: Buffer.from(cred.publicKey), counter: cred.counter,
        transports: cred.transports?.length ? cred.transports.join(",") : null, createdAt: now, lastUsedAt: null,
      });
    });
    return { id: cred.id, createdAt: now };
  }

  async function passkeyList(actor: Actor) {
    const h = requireHolder(actor);
    return (await uow.read.passkeys.forHolder(h.subjectHash)).map((p) => ({ id: p.id, createdAt: p.createdAt, lastUsedAt: p.lastUsedAt }));
  }

  // ------------------------------------------------------------------------------------------------ cloud

  /** WebAuthn options whose challenge is bound to this request, participant and document hash. */
  async function signOptions(id: string, actor: Actor) {
    const h = requireHolder(actor);
    requireFresh(h);
    const { p, latest } = await canAct(id, h);
    const creds = await uow.read.passkeys.forHolder(h.subjectHash);
    if (creds.length === 0) throw new AppError("PASSKEY_REQUIRED");
    const nonce = crypto.randomBytes(16);
    const challenge = b64u(sha256(Buffer.concat([Buffer.from(`sidian-sign/v1\0${id}\0${p.idx}\0${latest.sha256}\0`), nonce])));
    const options = await generateAuthenticationOptions({
      rpID: rp.rpId, challenge: Buffer.from(challenge, "base64url"), userVerification: "required",
      allowCredentials: creds.map((c) => ({ id: c.id, ...(c.transports ? { transports: c.transports.split(",") as never } : {}) })),
    });
    await uow.write(async (repos) => {
      await repos.webauthnChallenges.purge(clock.now());
      await repos.webauthnChallenges.insert({
        challenge: options.challenge, holderHash: h.subjectHash, purpose: "sign", requestId: id, participantIdx: p.idx, documentSha256: latest.sha256,
        expiresAt: new Date(clock.now().getTime() + CHALLENGE_MS),
      });
    }, { relaxed: true });
    return { options, documentSha256: latest.sha256 };
  }

  /** The person's cloud key and certificate, created on first use (logged). */
  async function personalKey(actor: Extract<Actor, { kind: "holder" }>, name: string): Promise<{ key: PersonalKey; der: Uint8Array }> {
    const have = await uow.read.personalKeys.get(actor.subjectHash);
    if (have) {
      const c = await uow.read.certificates.get(have.certSerial);
      if (c && c.status === "valid" && c.notAfter > clock.now()) return { key: have, der: c.der };
    }
    return uow.write(async (repos, tx) => {
      const again = await repos.personalKeys.get(actor.subjectHash);
      if (again) {
        const c = await repos.certificates.get(again.certSerial);
        if (c && c.status === "valid" && c.notAfter > clock.now()) return { key: again, der: c.der };
        throw new AppError("SIGNING_KEY_UNAVAILABLE", "The person's signing certificate is no longer valid.");
      }
      const pseudonym = `SD-${actor.subjectHash.slice(0, 24).toUpperCase()}`;
      const cert = await deps.issuePersonCertificate(repos, tx, { name, pseudonym }, actor);
      const key: PersonalKey = { holderHash: actor.subjectHash, keyId: cert.keyId, certSerial: cert.serial, pseudonym, createdAt: clock.now() };
      await repos.personalKeys.insert(key);
      return { key, der: cert.der };
    });
  }

  /** The participant's revision with its placeholder, on the latest document (prepared on a PDF worker). */
  async function prepareOn(r: SigningRequest, p: Participant, pdf: Buffer, mark: SignatureMark, signingTime: Date): Promise<StampPrepared> {
    const name = pii.decrypt(p.nameEnc, `signing:${r.id}:${p.idx}:name`);
    const a = await deps.pdf.signing(pdf, {
      op: "sign", participant: { idx: p.idx, placement: p.placement }, mark, caption: `Signed ${beijing(signingTime)}`,
      fields: { fieldName: `Signature-${p.idx + 1}`, signingTime, signerName: name, reason: p.role === "approver" ? "同意" : "签署", reserve: SIGNATURE_RESERVE },
    });
    if (a.op !== "sign") throw new AppError("INTERNAL", "The PDF worker answered another operation.");
    return a.prepared;
  }

  async function timestamp(signatureValue: Buffer): Promise<{ attrs: Buffer[]; at: Date }> {
    const t = await deps.tsa.stamp(CMS_OID.sha256, sha256(signatureValue), { certReq: true });
    return { attrs: [attribute(CMS_OID.signatureTimeStampToken, t.token)], at: t.genTime };
  }

  /**
   * Records a finished signature: re-checks the participant and the revision, stores the new revision, logs
   * `signing.signed`, and opens the next group (or completes the request).
   */
  async function commit(id: string, actor: Extract<Actor, { kind: "holder" }>, baseSeq: number, baseSha: string, out: Buffer, info: {
    method: "cloud" | "external"; certSerial: string | null; certSha256: string; tstAt: Date; credential?: string;
  }) {
    const afterSha = sha256(out).toString("hex");
    let expired = false;
    const result = await uow.write(async (repos, tx) => {
      const a = await svc.actingParticipant(repos, tx, id, actor);
      if (a === "expired") {
        expired = true;
        return null;
      }
      const { r, ps, p } = a;
      const latest = await repos.signingDocuments.latest(id);
      if (!latest || latest.seq !== baseSeq) throw new AppError("SIGNING_DOCUMENT_CHANGED");
      const now = clock.now();
      await repos.signingDocuments.insert({ requestId: id, seq: baseSeq + 1, sha256: afterSha, kind: "signed", bytes: pii.sealBytes(out, svc.aadDoc(id, baseSeq + 1)), createdAt: now });
      await repos.signingPrepared.delete(id, p.idx);
      const { index } = await log.append(repos, tx, {
        type: TLOG_EVENTS.signingSigned, subject: `signing:${id}`, actor: actorLabel(actor), holder: p.holderHash,
        data: {
          requestId: id, participant: p.idx, group: p.groupNo, role: p.role, method: info.method, certSerial: info.certSerial, certSha256: info.certSha256,
          documentSha256Before: baseSha, documentSha256After: afterSha, timestamp: info.tstAt.toISOString(),
          ...(info.credential ? { passkeySha256: sha256(info.credential).toString("hex") } : {}),
        },
      });
      await repos.signingParticipants.update(id, p.idx, { status: "signed", actedAt: now, method: info.method, certSerial: info.certSerial, logIndex: index });
      const groupDone = ps.filter((x) => x.groupNo === r.currentGroup && x.role !== "copy" && x.idx !== p.idx).every((x) => x.status === "signed");
      let patch: Partial<SigningRequest> = { currentSha256: afterSha, updatedAt: now };
      if (groupDone && r.currentGroup < r.groupCount) {
        const next = r.currentGroup + 1;
        patch = { ...patch, currentGroup: next };
        for (const x of ps) if (x.groupNo === next && x.status === "waiting") await repos.signingParticipants.update(id, x.idx, { status: "pending" });
      } else if (groupDone) {
        patch = { ...patch, status: "completed", completedAt: now };
        // The final seal is made after this transaction; until it is, the sealing job keeps trying (completion.ts).
        await repos.signingSealJobs.add({ requestId: id, attempts: 0, nextAt: new Date(now.getTime() + SEAL_FIRST_RETRY_MS), lastError: null, createdAt: now });
        await log.append(repos, tx, {
          type: TLOG_EVENTS.signingCompleted, subject: `signing:${id}`, actor: "system:signatures",
          data: { requestId: id, documentSha256: r.documentSha256, finalSha256: afterSha, signatures: ps.filter((x) => x.role !== "copy").length },
        });
      }
      await repos.signingRequests.update(id, patch);
      return { logIndex: index, documentSha256: afterSha, status: patch.status ?? r.status };
    });
    if (expired) throw new AppError("SIGNING_EXPIRED");
    if (result!.status === "completed") await deps.onCompleted?.(id);
    return result!;
  }

  async function signCloud(id: string, actor: Actor, input: { assertion: AuthenticationResponseJSON; mark: SignatureMark }) {
    const h = requireHolder(actor);
    requireFresh(h);
    checkMark(input.mark);
    const challenge = clientChallenge(input.assertion as never);
    // Single use: the challenge is consumed whatever happens next.
    const c = await uow.write((repos) => repos.webauthnChallenges.take(challenge));
    const { r, p, latest } = await canAct(id, h);
    if (!c || c.purpose !== "sign" || c.holderHash !== h.subjectHash || c.requestId !== id || c.participantIdx !== p.idx || c.expiresAt < clock.now()) {
      throw new AppError("WEBAUTHN_ASSERTION_INVALID", "The passkey confirmation is not for this request (unknown, used or expired challenge); ask for a new one.");
    }
    if (c.documentSha256 !== latest.sha256) throw new AppError("SIGNING_DOCUMENT_CHANGED", "The document changed after the passkey confirmation was asked for; confirm again.");
    const cred = typeof input.assertion.id === "string" ? await uow.read.passkeys.get(input.assertion.id) : undefined;
    if (!cred || cred.holderHash !== h.subjectHash) throw new AppError("WEBAUTHN_ASSERTION_INVALID", "Unknown passkey.");
    let newCounter: number;
    try {
      const v = await verifyAuthenticationResponse({
        response: input.assertion, expectedChallenge: challenge, expectedOrigin: rp.origin, expectedRPID: rp.rpId, requireUserVerification: true,
        credential: { id: cred.id, publicKey: new Uint8Array(cred.publicKey), counter: cred.counter },
      });
      if (!v.verified) throw new Error("not verified");
      newCounter = v.authenticationInfo.newCounter;
    } catch (cause) {
      throw new AppError("WEBAUTHN_ASSERTION_INVALID", undefined, { cause });
    }
    await uow.write((repos) => repos.passkeys.used(cred.id, newCounter, clock.now()));
    const name = pii.decrypt(p.nameEnc, `signing:${id}:${p.idx}:name`);
    const { key, der } = await personalKey(h, name);
    const now = clock.now();
    const prepared = await prepareOn(r, p, latest.pdf, input.mark, now);
    const digest = Buffer.from(prepared.digest);
    let tstAt = now;
    const cms = await buildSignedData({
      eContentType: CMS_OID.data, contentDigest: digest,
      encoded: encodeSigner({ der, issuerDer: issuerOf(der), serial: key.certSerial }, [der, ...deps.chain]),
      sign: (data) => deps.keyStore.sign(key.keyId, data, { encoding: "der" }),
      unsignedAttrs: async (sv) => {
        const t = await timestamp(sv);
        tstAt = t.at;
        return t.attrs;
      },
    });
    const out = embedSignature(prepared, cms);
    return commit(id, h, latest.seq, latest.sha256, out, { method: "cloud", certSerial: key.certSerial, certSha256: sha256(der).toString("hex"), tstAt, credential: cred.id });
  }

  // ------------------------------------------------------------------------------------------------ own key

  /** getDataToSign: prepares the participant's revision for this certificate chain (leaf first). */
  async function externalPrepare(id: string, actor: Actor, input: { certificates: string[]; mark: SignatureMark }) {
    const h = requireHolder(actor);
    checkMark(input.mark);
    // Whether this holder may act on this request comes first: anyone else gets 404 without their certificates
    // being read or their chain built.
    const { r, p, latest } = await canAct(id, h);
    if (deps.externalAnchors.length === 0) throw new AppError("EXTERNAL_CERTIFICATE_UNTRUSTED", "This deployment trusts no outside CA for signatures (SIDIAN_SIGNING_TRUST).");
    let ders: Buffer[];
    try {
      ders = input.certificates.map((c) => Buffer.from(c, "base64"));
      ders.forEach((d) => parseCertificate(d));
    } catch (cause) {
      throw new AppError("EXTERNAL_CERTIFICATE_UNTRUSTED", "A certificate cannot be read (send DER, base64).", { cause });
    }
    const leaf = parseCertificate(ders[0]!);
    const now = clock.now();
    const chain = await verifyChain({ leaf: ders[0]!, intermediates: ders.slice(1), anchors: deps.externalAnchors, at: now, keyUsage: ["digitalSignature"] });
    if (chain.result !== "VALID") {
      throw new AppError("EXTERNAL_CERTIFICATE_UNTRUSTED", `The certificate does not chain to a trusted signing CA (${chain.problem ?? "not valid"}).`);
    }
    const spki = crypto.createPublicKey({ key: Buffer.from(leaf.spki), format: "der", type: "spki" });
    if (spki.asymmetricKeyType !== "ec" || spki.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
      throw new AppError("EXTERNAL_CERTIFICATE_UNTRUSTED", "Own-key signatures use ECDSA P-256 keys (the allowed algorithm).");
    }
    const prepared = await prepareOn(r, p, latest.pdf, input.mark, now);
    const digest = Buffer.from(prepared.digest);
    const enc = encodeSigner({ der: ders[0]!, issuerDer: issuerOf(ders[0]!), serial: leaf.serial }, ders);
    const signedAttrs = setOf(attribute(CMS_OID.contentType, oid(CMS_OID.data)), attribute(CMS_OID.messageDigest, octets(digest)), enc.essAttr);
    const state: PreparedState = {
      byteRange: [...prepared.byteRange], contentsHexStart: prepared.contentsHexStart, contentsHexLength: prepared.contentsHexLength,
      fieldName: prepared.fieldName, certificates: input.certificates, signedAttrs: signedAttrs.toString("base64"), digest: digest.toString("hex"),
      baseSha256: latest.sha256, signingTime: now.toISOString(),
    };
    const expiresAt = new Date(now.getTime() + PREPARED_MS);
    await uow.write(async (repos) => {
      await repos.signingPrepared.put({ requestId: id, idx: p.idx, baseSeq: latest.seq, bytes: pii.sealBytes(prepared.bytes, `signing-prepared:${id}:${p.idx}`), state: JSON.stringify(state), createdAt: now, expiresAt });
    });
    return {
      dataToSign: signedAttrs.toString("base64"), digestAlgorithm: "SHA-256", digest: sha256(signedAttrs).toString("hex"),
      signatureAlgorithm: "ECDSA P-256 with SHA-256 over dataToSign (DER signature value)", documentSha256: latest.sha256, expiresAt,
    };
  }

  /** signDocument: checks the signature value over the prepared data, time-stamps it and embeds it. */
  async function externalComplete(id: string, actor: Actor, input: { signatureValue: string }) {
    const h = requireHolder(actor);
    const { p, latest } = await canAct(id, h);
    const prep = await uow.read.signingPrepared.get(id, p.idx);
    if (!prep || prep.expiresAt < clock.now()) throw new AppError("SIGNING_PREPARATION_NOT_FOUND");
    if (prep.baseSeq !== latest.seq) throw new AppError("SIGNING_DOCUMENT_CHANGED", "The document changed after the data to sign was handed out; prepare again.");
    const st = JSON.parse(prep.state) as PreparedState;
    const ders = st.certificates.map((c) => Buffer.from(c, "base64"));
    const leaf = parseCertificate(ders[0]!);
    const signedAttrs = Buffer.from(st.signedAttrs, "base64");
    const sig = Buffer.from(input.signatureValue, "base64");
    if (sig.length < 8 || sig.length > 1024 || !verifySignatureValue(CMS_OID.ecdsaWithSha256, CMS_OID.sha256, leaf.spki, signedAttrs, sig)) {
      throw new AppError("EXTERNAL_SIGNATURE_INVALID");
    }
    const bytes = pii.openBytes(prep.bytes, `signing-prepared:${id}:${p.idx}`);
    let tstAt = clock.now();
    const cms = await buildSignedData({
      eContentType: CMS_OID.data, contentDigest: Buffer.from(st.digest, "hex"),
      encoded: encodeSigner({ der: ders[0]!, issuerDer: issuerOf(ders[0]!), serial: leaf.serial }, ders),
      sign: (data) => {
        if (!data.equals(signedAttrs)) throw new AppError("INTERNAL", "The signed attributes differ from the prepared ones.");
        return sig;
      },
      unsignedAttrs: async (sv) => {
        const t = await timestamp(sv);
        tstAt = t.at;
        return t.attrs;
      },
    });
    const out = embedSignature({ bytes, byteRange: st.byteRange, contentsHexStart: st.contentsHexStart, contentsHexLength: st.contentsHexLength, fieldName: st.fieldName }, cms);
    return commit(id, h, prep.baseSeq, st.baseSha256, out, { method: "external", certSerial: null, certSha256: leaf.sha256, tstAt });
  }

  return { registrationOptions, register, passkeyList, signOptions, signCloud, externalPrepare, externalComplete };
}

export type SigningFlow<R extends Repos = Repos> = ReturnType<typeof createSigningFlow<R>>;
