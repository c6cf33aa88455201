/**
 * E-seals, GB/T 38540 data: a seal's SES_Seal (JSON rendering, and DER signed by the seal maker) and a stamp of an
 * SM2 seal exported as an SES_Signature.
 */
import crypto from "node:crypto";
import { AppError } from "../../errors.js";
import { sm3 } from "../../crypto/sm2.js";
import { CMS_OID } from "../../pki/cms.js";
import { actorLabel, type Actor } from "../kernel.js";
import { TLOG_EVENTS } from "../tlog/events.js";
import { documentSha256Hex, type SealCore } from "./core.js";
import type { SealServiceRepos, SesSealJson } from "./model.js";
import type { Seal, StampRecord } from "./ports.js";
import { encodeSesSeal, encodeSesSignature, type SesSealInfo } from "./ses.js";

export function createSesExport<R extends SealServiceRepos>(core: SealCore<R>) {
  const { deps, get, pictureOf, refusal } = core;
  const { uow, clock, log } = deps;

  function sesSeal(seal: Seal, certDer: Uint8Array): SesSealJson {
    const svg = pictureOf(seal).svg;
    return {
      esealInfo: {
        header: { ID: "ES", version: 4, Vid: "Sidian" },
        esID: seal.id,
        property: {
          type: Number(seal.type), name: seal.name, certListType: 1,
          certList: [Buffer.from(certDer).toString("base64")],
          createDate: seal.createdAt.toISOString(), validStart: seal.validFrom.toISOString(), validEnd: seal.validTo.toISOString(),
        },
        picture: { type: "SVG", data: Buffer.from(svg, "utf8").toString("base64"), width: seal.diameterMm, height: seal.diameterMm },
      },
      signInfo: null,
      note: "SES_SealInfo fields per GB/T 38540; the seal maker's signature (SES_SignInfo) is not produced by this service.",
    };
  }

  /**
   * The GB/T 38540 SES_Seal (version 4) of a seal as DER, signed by the seal maker (SM3withSM2): header ES/4/Sidian,
   * esID, property (type 1 = organisation seal, name, certListType 1 with the seal's certificate, dates), the SVG
   * picture at its size in mm. The same seal always gives the same SES_SealInfo bytes (the signature differs: SM2
   * signatures are randomised).
   */
  async function sesSealDer(seal: Seal, certDer: Uint8Array): Promise<Buffer> {
    if (!deps.sealMaker) throw new AppError("CRYPTO_PROFILE_UNAVAILABLE", "GB/T 38540 seal data needs the SM2 seal maker: the keys folder has no SM2 hierarchy.");
    const info: SesSealInfo = {
      header: { id: "ES", version: 4, vid: "Sidian" },
      esID: seal.id,
      property: {
        type: 1, name: seal.name, certListType: 1, certs: [certDer], certDigests: [],
        createDate: seal.createdAt, validStart: seal.validFrom, validEnd: seal.validTo,
      },
      picture: { type: "SVG", data: Buffer.from(pictureOf(seal).svg, "utf8"), width: Math.round(seal.diameterMm), height: Math.round(seal.diameterMm) },
      extDatas: [],
    };
    return encodeSesSeal(info, deps.sealMaker);
  }

  /**
   * A stamp of an SM2 seal exported as a GB/T 38540 SES_Signature (DER), for systems that check SES rather than PAdES:
   * TBS_Sign { version 4, the seal's SES_Seal (signed by the seal maker), timeInfo = the stamp's time-stamp time,
   * dataHash = SM3 of the stamped document as Sidian returned it, propertyInfo naming the stamp }, signed by the seal's
   * SM2 key over the DER of TBS_Sign, with an SM2 time-stamp token over the signature value. The document must be the
   * exact output of a stamp of this seal (its 用印记录); the seal must still be usable (its key signs again), and the
   * export is logged as a use of the seal.
   */
  async function sesSignature(sealId: string, pdf: Buffer, actor: Actor, before?: (seal: Seal) => void): Promise<{ der: Buffer; stamp: StampRecord }> {
    const seal = await get(sealId);
    before?.(seal);
    if (seal.profile !== "sm2" || !deps.sm2 || !deps.sealMaker) {
      throw new AppError("CRYPTO_PROFILE_UNAVAILABLE", seal.profile !== "sm2" ? "GB/T 38540 SES_Signature is made for seals of the sm2 profile only (SM3withSM2)." : "The keys folder has no SM2 hierarchy.");
    }
    const record = (await uow.read.stamps.byResult(await documentSha256Hex(pdf))).find((r) => r.sealId === seal.id);
    if (!record) throw new AppError("STAMP_NOT_FOUND");
    const cert = await uow.read.certificates.get(seal.certSerial);
    const no = refusal(seal, cert, clock.now());
    if (no) throw no;
    const tsa = deps.sm2.tsa;
    const der = await encodeSesSignature({
      version: 4, eseal: await sesSealDer(seal, cert!.der), timeInfo: record.timestampAt, dataHash: await sm3Chunked(pdf),
      propertyInfo: `type=application/pdf; stamp=${record.id}; field=${record.fieldName}; page=${record.pageIndex + 1}; sha256=${record.resultSha256}`,
      extDatas: [],
    }, {
      certDer: cert!.der,
      sign: (tbs) => deps.keyStore.sign(seal.keyId, tbs, { encoding: "der" }),
      timeStamp: async (sig) => (await tsa.stamp(CMS_OID.sm3, sm3(sig), { certReq: true })).token,
    });
    await uow.write(async (repos, tx) => {
      await log.append(repos, tx, {
        type: TLOG_EVENTS.sealSesSigned, subject: `seal:${seal.id}`, actor: actorLabel(actor),
        data: { stampId: record.id, sealId: seal.id, certSerial: seal.certSerial, resultSha256: record.resultSha256, sesSha256: crypto.createHash("sha256").update(der).digest("hex") },
      });
    });
    return { der, stamp: record };
  }

  /** The seal and its certificate (DER), for the exports by seal id. */
  async function withCertificate(id: string): Promise<{ seal: Seal; certDer: Uint8Array }> {
    const seal = await get(id);
    const c = await uow.read.certificates.get(seal.certSerial);
    return { seal, certDer: c!.der };
  }

  return {
    sesSeal: async (id: string) => {
      const { seal, certDer } = await withCertificate(id);
      return sesSeal(seal, certDer);
    },
    sesSealDer: async (id: string) => {
      const { seal, certDer } = await withCertificate(id);
      return sesSealDer(seal, certDer);
    },
    sesSignature,
  };
}

/** SM3 of a document, 1 MiB at a time with a turn of the event loop between chunks (no SM3 in WebCrypto). */
async function sm3Chunked(b: Buffer): Promise<Buffer> {
  if (b.length <= 1 << 20) return sm3(b);
  const h = crypto.createHash("sm3");
  for (let i = 0; i < b.length; i += 1 << 20) {
    h.update(b.subarray(i, i + (1 << 20)));
    await new Promise<void>((r) => setImmediate(r));
  }
  return h.digest();
}
