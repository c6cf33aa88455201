/**
 * E-seals, stamping a PDF (PAdES B-T by incremental update) with a stamp record (用印记录) and a log entry per stamp.
 *
 * Stamping does the slow work (parse, hash, sign, time-stamp) outside the write transaction, then records the
 * stamp in one short transaction that re-checks the seal and certificate status, so a seal revoked while a
 * stamp was being prepared yields no output at all.
 */
import crypto, { randomUUID } from "node:crypto";
import { checkLine } from "../../util/text.js";
import { AppError } from "../../errors.js";
import { byteRangeDigest, embedSignature } from "../../pdf/sign.js";
import type { StampPrepared } from "../../pdf/stamp.js";
import { attribute, buildSignedData, certificateIssuerDer, CMS_OID, encodeSigner, type EncodedSigner } from "../../pki/cms.js";
import type { CertificateRecord } from "../../pki/index.js";
import { sealStatusAttribute } from "../../pki/seal-status.js";
import { actorLabel, type Actor, type TxHooks } from "../kernel.js";
import { TLOG_EVENTS } from "../tlog/events.js";
import { documentSha256Hex, isSm2Cert, type SealCore } from "./core.js";
import { CMS_RESERVE, MM, type SealServiceRepos, type StampCustom, type StampInput, type StampResult } from "./model.js";
import type { Seal, StampRecord } from "./ports.js";

export function createStamping<R extends SealServiceRepos>(
  core: SealCore<R>,
  statusEvidence: { evidence(seal: Seal, cert: CertificateRecord, which: "all" | "last"): Promise<Buffer> },
) {
  const { deps, get, pictureOf, refusal, statusSignerOf } = core;
  const { uow, clock, log } = deps;
  const { evidence } = statusEvidence;

  /** Per certificate: issuerAndSerialNumber, ESS attribute and certificate set, encoded once (keyed by serial, checked against the DER). */
  const signers = new Map<string, { der: Uint8Array; encoded: EncodedSigner }>();

  function encodedSigner(cert: CertificateRecord): EncodedSigner {
    const hit = signers.get(cert.serial);
    if (hit && Buffer.compare(hit.der, cert.der) === 0) return hit.encoded;
    const chain = isSm2Cert(cert.der) ? deps.sm2?.chain ?? [] : deps.chain;
    const encoded = encodeSigner({ der: cert.der, issuerDer: certificateIssuerDer(cert.der), serial: cert.serial }, [cert.der, ...chain]);
    if (signers.size >= 1024) signers.delete(signers.keys().next().value!);
    signers.set(cert.serial, { der: Uint8Array.from(cert.der), encoded });
    return encoded;
  }

  /** The stamped revision prepared by the caller (StampInput.custom) around the seal's appearance. */
  async function customStamp(pdf: Buffer, c: StampCustom, seal: Seal, now: Date, input: StampInput): Promise<StampPrepared> {
    return c.prepare(pdf, {
      appearance: pictureOf(seal).appearance,
      fields: {
        fieldName: `Seal-${seal.id}`, signingTime: now, signerName: seal.name,
        ...(input.reason ? { reason: input.reason } : {}), ...(input.location ? { location: input.location } : {}), reserve: CMS_RESERVE,
      },
    });
  }

  /**
   * `within` runs inside the transaction that records the stamp (after the stamp record and its log entry): a
   * caller that stores the stamped bytes does so atomically with the 用印记录.
   */
  async function stamp(
    sealId: string, input: StampInput, actor: Actor, before?: (seal: Seal) => void,
    within?: (repos: R, tx: TxHooks, result: StampResult) => Promise<void>,
  ): Promise<StampResult> {
    // The text rule for what the stamp writes into the signature dictionary or looks for (the command line sends
    // these as typed; HTTP's edge has checked them already).
    if (input.reason) checkLine("reason", input.reason, { max: 200 });
    if (input.location) checkLine("location", input.location, { max: 200 });
    if ("anchor" in input.placement) checkLine("anchor", input.placement.anchor, { max: 64 });
    const seal = await get(sealId);
    before?.(seal);
    const cert = await uow.read.certificates.get(seal.certSerial);
    const now = clock.now();
    const no = refusal(seal, cert, now);
    if (no) throw no;
    // The untrusted document is read on a PDF worker under a time budget (src/pdf/pool.ts); keys stay here.
    const p = input.placement;
    const prepared = input.custom ? await customStamp(input.pdf, input.custom, seal, now, input) : await deps.pdf.prepareStamp(input.pdf, {
      placement: "anchor" in p
        ? { anchor: p.anchor, ...(p.page !== undefined ? { page: p.page } : {}), dx: (p.dxMm ?? 0) * MM, dy: (p.dyMm ?? 0) * MM }
        : { page: p.page, x: p.xMm * MM, y: p.yMm * MM },
      size: seal.diameterMm * MM,
      appearance: pictureOf(seal).appearance,
      fieldName: `Seal-${seal.id}`,
      signingTime: now,
      signerName: seal.name,
      ...(input.reason ? { reason: input.reason } : {}),
      ...(input.location ? { location: input.location } : {}),
      reserve: CMS_RESERVE,
    });
    const { pageIndex } = prepared;
    // The national profile (a seal of the sm2 profile): SM3 over the byte ranges, SM2 signature, SM2 TSA with an SM3
    // imprint. Same /SubFilter (ETSI.CAdES.detached): the CMS says which algorithms it uses.
    const sm2 = seal.profile === "sm2";
    if (sm2 && !deps.sm2) throw new AppError("CRYPTO_PROFILE_UNAVAILABLE", "This SM2 seal cannot stamp: the keys folder has no SM2 hierarchy (TSA).");
    const digest = sm2 ? byteRangeDigest(prepared.bytes, prepared.byteRange, "sm3") : prepared.digest;
    const tsa = sm2 ? deps.sm2!.tsa : deps.tsa;
    const hashOid = sm2 ? CMS_OID.sm3 : CMS_OID.sha256;
    let tstTime = now;
    const cms = await buildSignedData({
      eContentType: CMS_OID.data,
      contentDigest: digest,
      encoded: encodedSigner(cert!),
      sign: (data) => deps.keyStore.sign(seal.keyId, data, { encoding: "der" }),
      ...(sm2 ? { profile: "sm2" as const } : {}),
      unsignedAttrs: async (sv) => {
        const t = await tsa.stamp(hashOid, crypto.createHash(sm2 ? "sm3" : "sha256").update(sv).digest(), { certReq: true });
        tstTime = t.genTime;
        const attrs = [attribute(CMS_OID.signatureTimeStampToken, t.token)];
        // The seal's status at signing time, produced after the time-stamp (so it covers it): the last status
        // change only (the one in effect now), which keeps the evidence small whatever the seal's history. Signed by
        // the CA that issued the seal's certificate (P-256 or SM2 issuing CA).
        if (statusSignerOf(sm2)) attrs.push(sealStatusAttribute(await evidence(seal, cert!, "last")));
        return attrs;
      },
    });
    const out = embedSignature(prepared, cms);
    let record: StampRecord = {
      id: randomUUID(),
      sealId: seal.id,
      departmentId: seal.departmentId,
      certSerial: seal.certSerial,
      signer: actorLabel(actor),
      documentSha256: prepared.documentSha256,
      resultSha256: await documentSha256Hex(out),
      pageIndex,
      fieldName: prepared.fieldName,
      stampedAt: now,
      timestampAt: tstTime,
    };
    await uow.write(async (repos, tx) => {
      const s2 = await repos.seals.byId(seal.id);
      const c2 = await repos.certificates.get(seal.certSerial);
      const again = s2 ? refusal(s2, c2, now) : new AppError("SEAL_NOT_FOUND");
      if (again) throw again;
      const { index } = await log.append(repos, tx, {
        type: TLOG_EVENTS.sealStamped,
        subject: `seal:${seal.id}`,
        actor: record.signer,
        data: {
          stampId: record.id, sealId: seal.id, departmentId: seal.departmentId, certSerial: seal.certSerial,
          documentSha256: record.documentSha256, resultSha256: record.resultSha256, page: pageIndex + 1,
          timestamp: tstTime.toISOString(),
        },
      });
      record = { ...record, logIndex: index };
      await repos.stamps.insert(record);
      if (within) await within(repos, tx, { pdf: out, record });
    });
    return { pdf: out, record };
  }

  return { stamp };
}
