/**
 * Published keys and certificates (public), and department certificate management (admin).
 *   GET  /.well-known/jwks.json      token key (ES256, x5c) + transparency-log key (Ed25519)
 *   GET  /pki/trust-bundle.pem       root + issuing CA (P-256, then SM2 when configured)
 *   GET  /pki/anchors.json           trust anchors per crypto profile (p256, sm2), JWKS-like
 *   GET  /pki/sm2/crl                current CRL of the SM2 issuing CA
 *   GET  /pki/crl                    current CRL (DER; ?format=pem for PEM)
 *   GET  /pki/certificates/:serial   one certificate Sidian issued, with status
 *   GET  /departments/:id/certificates, POST /departments/:id/certificates, POST /pki/certificates/:serial/revoke
 */
import type { KeyObject } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { Type, type Static } from "@sinclair/typebox";
import type { Context } from "../../context.js";
import { AppError } from "../../errors.js";
import { actorLabel } from "../../modules/kernel.js";
import { formatVkey, TLOG_EVENTS } from "../../modules/tlog/index.js";
import { REVOCATION_REASONS, toPem, type CertificateRecord, type RevocationReason } from "../../pki/index.js";
import { requireDepartment } from "../plugins/auth.js";
import { ex } from "../openapi.js";
import { Line } from "../validation.js";
import { problems } from "../schemas.js";

const CertificateOut = Type.Object({
  serial: Type.String(), profile: Type.String(), subject: Type.String(), issuerSerial: Type.String(),
  departmentId: Type.Union([Type.String(), Type.Null()]), sha256: Type.String(),
  notBefore: Type.String({ format: "date-time" }), notAfter: Type.String({ format: "date-time" }),
  status: Type.String(), revokedAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
  revocationReason: Type.Union([Type.String(), Type.Null()]), pem: Type.String(),
}, { $id: "Certificate" });
const SerialParam = Type.Object({ serial: Type.String({ pattern: "^[0-9a-fA-F]{2,64}$" }) });
const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
const IssueBody = Type.Object({
  profile: Type.Union([Type.Literal("licence-signing"), Type.Literal("signer")], { description: "seal certificates are issued with seals" }),
  commonName: Type.Optional(Line({ minLength: 1, maxLength: 64, description: "signer: the person's name" })),
  validityDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 1825 })),
  crypto: Type.Optional(Type.Union([Type.Literal("p256"), Type.Literal("sm2")], { description: "crypto profile of the new key and certificate; default: the department's profile. A department signs licences of a type of the sm2 profile with its SM2 licence-signing certificate" })),
}, { additionalProperties: false });
const RevokeBody = Type.Object({
  reason: Type.Union(Object.keys(REVOCATION_REASONS).filter((r) => r !== "certificateHold" && r !== "removeFromCRL").map((r) => Type.Literal(r))),
}, { additionalProperties: false });

function certOut(c: CertificateRecord) {
  return {
    serial: c.serial, profile: c.profile, subject: c.subject, issuerSerial: c.issuerSerial, departmentId: c.departmentId, sha256: c.sha256,
    notBefore: c.notBefore.toISOString(), notAfter: c.notAfter.toISOString(), status: c.status,
    revokedAt: c.revokedAt ? c.revokedAt.toISOString() : null, revocationReason: c.revocationReason, pem: toPem(c.der, "CERTIFICATE"),
  };
}

export default async function pkiRoutes(app: FastifyInstance, opts: { ctx: Context }) {
  const { ctx } = opts;
  const rateLimit = { max: ctx.config.publicRateLimit, timeWindow: "1 minute" };
  app.addSchema(CertificateOut);

  // The JWKS changes only when an old key's overlap ends (after `sidian keys rotate`): built again then.
  const logKey = ctx.tlog.publicKey();
  const logJwk = (pub: KeyObject) => {
    const vkey = formatVkey(logKey.name, pub);
    return { ...(pub.export({ format: "jwk" }) as Record<string, unknown>), kid: `log:${vkey.split("+")[1]}`, alg: "EdDSA", use: "sig" };
  };
  const prev = ctx.material.previous;
  let jwksBody = "";
  let jwksUntil = -Infinity;
  const jwksNow = () => {
    const now = ctx.clock.now();
    if (now.getTime() < jwksUntil) return jwksBody;
    const live = <T extends { until: Date }>(xs: readonly T[]) => xs.filter((x) => x.until > now);
    jwksBody = JSON.stringify({ keys: [...ctx.pki.jwks().keys, logJwk(ctx.material.log.publicKey), ...live(prev.log).map((l) => logJwk(l.publicKey))] });
    jwksUntil = Math.min(Infinity, ...live([...prev.log, ...prev.token]).map((x) => x.until.getTime()));
    return jwksBody;
  };

  app.get("/.well-known/jwks.json", {
    config: { auth: "public", rateLimit },
    schema: { tags: ["pki"], description: "The JWKS of Sidian's access-token key (ES256) and transparency-log key (Ed25519), by `kid`. Verify Sidian's tokens with any JOSE library against it; cache it and fetch again on an unknown `kid`. After a key rotation the old keys stay listed until the tokens and checkpoints they signed can no longer be presented.",
      summary: "Public keys: access-token key (ES256) and transparency-log key (Ed25519)",
      response: { 200: Type.Object({ keys: Type.Array(Type.Record(Type.String(), Type.Unknown())) }) } },
  }, async (_req, reply) => reply.header("cache-control", "public, max-age=300").type("application/json").send(jwksNow()));

  app.get("/pki/trust-bundle.pem", {
    config: { auth: "public", rateLimit },
    schema: { tags: ["pki"], description: "The root CA and the issuing CA certificates (PEM): the P-256 pair, then the SM2 (national profile) pair when the deployment has one. Every Sidian signature (licences, seals, time-stamps) chains to one of these roots: configure them once as the trust anchors of an offline verifier.",
      summary: "Trust anchors: the root CA and the issuing CA (PEM)", response: { 200: Type.String() } },
  }, async (_req, reply) => reply.header("cache-control", "public, max-age=3600").type("application/x-pem-file").send(ctx.pki.trustBundlePem()));

  // The trust anchors per crypto profile (the JWKS cannot carry SM2: JOSE registers no SM2 curve).
  const m = ctx.material;
  const anchor = (profile: "p256" | "sm2", root: typeof m.rootCert, issuing: typeof m.rootCert, crl: string) => ({
    profile, signatureAlgorithm: profile === "sm2" ? "SM3withSM2 (1.2.156.10197.1.501)" : "ecdsa-with-SHA256 (1.2.840.10045.4.3.2)",
    root: { subject: root.subject, sha256: root.sha256, notAfter: root.notAfter.toISOString(), pem: toPem(root.der, "CERTIFICATE") },
    issuingCa: { subject: issuing.subject, sha256: issuing.sha256, notAfter: issuing.notAfter.toISOString(), pem: toPem(issuing.der, "CERTIFICATE") },
    crl,
  });
  const anchorsBody = JSON.stringify({
    anchors: [
      anchor("p256", m.rootCert, m.issuingCa.cert, ctx.pki.crlUrl),
      ...(m.sm2 ? [anchor("sm2", m.sm2.rootCert, m.sm2.issuingCa.cert, `${ctx.pki.crlUrl.replace(/\/pki\/crl$/, "")}/pki/sm2/crl`)] : []),
    ],
  });
  app.get("/pki/anchors.json", {
    config: { auth: "public", rateLimit },
    schema: { tags: ["pki"], description: "Sidian's trust anchors per crypto profile, JWKS-like: for `p256` and (when configured) `sm2`, the root and issuing CA certificates (PEM, SHA-256) and the CRL URL. SM2 signatures (SM3withSM2, signer ID 1234567812345678) chain to the `sm2` root; everything else to the `p256` root.",
      summary: "Trust anchors per crypto profile (P-256 and SM2)",
      response: { 200: ex(Type.Object({ anchors: Type.Array(Type.Record(Type.String(), Type.Unknown())) }), {
        anchors: [{
          profile: "sm2", signatureAlgorithm: "SM3withSM2 (1.2.156.10197.1.501)",
          root: { subject: "C=CN, O=Sidian, CN=Sidian SM2 Root CA", sha256: "5f0c…", notAfter: "2046-11-21T23:19:07.000Z", pem: "-----BEGIN CERTIFICATE-----\nMIIB…\n-----END CERTIFICATE-----\n" },
          issuingCa: { subject: "C=CN, O=Sidian, CN=Sidian SM2 Issuing CA 1", sha256: "9a41…", notAfter: "2036-11-21T23:19:07.000Z", pem: "-----BEGIN CERTIFICATE-----\nMIIC…\n-----END CERTIFICATE-----\n" },
          crl: "https://sidian.example.gov.cn/pki/sm2/crl",
        }],
      }) } },
  }, async (_req, reply) => reply.header("cache-control", "public, max-age=3600").type("application/json").send(anchorsBody));

  app.get<{ Querystring: { format?: "der" | "pem" } }>("/pki/sm2/crl", {
    config: { auth: "public", rateLimit },
    schema: { tags: ["pki"], description: "The SM2 issuing CA's current certificate revocation list (SM3withSM2), re-signed on every revocation of an SM2 certificate (its URL is in every SM2 certificate's CRL distribution point). 404 CRYPTO_PROFILE_UNAVAILABLE when the deployment has no SM2 hierarchy.",
      summary: "Current CRL of the SM2 issuing CA (DER, or PEM with ?format=pem)",
      querystring: Type.Object({ format: Type.Optional(Type.Union([Type.Literal("der"), Type.Literal("pem")])) }, { additionalProperties: false }),
      response: { 200: { description: "The CRL", content: {
        "application/pkix-crl": { schema: Type.String({ format: "binary", examples: ["<DER CertificateList>"] }) },
        "application/x-pem-file": { schema: Type.String({ examples: ["-----BEGIN X509 CRL-----\nMIIBODCB3wIBATAKBggqgRzPVQGDdTB…\n-----END X509 CRL-----\n"] }) },
      } }, ...problems("CRYPTO_PROFILE_UNAVAILABLE") } },
  }, async (req, reply) => {
    if (!ctx.pki.sm2Available) throw new AppError("CRYPTO_PROFILE_UNAVAILABLE", "This deployment has no SM2 hierarchy.");
    const der = await ctx.pki.crl("sm2");
    reply.header("cache-control", "public, max-age=60");
    if (req.query.format === "pem") return reply.type("application/x-pem-file").send(toPem(der, "X509 CRL"));
    return reply.type("application/pkix-crl").send(Buffer.from(der));
  });

  app.get<{ Querystring: { format?: "der" | "pem" } }>("/pki/crl", {
    config: { auth: "public", rateLimit },
    schema: { tags: ["pki"], description: "The issuing CA's current certificate revocation list, re-signed on every revocation (its URL is in every certificate's CRL distribution point).",
      summary: "Current CRL of the issuing CA (DER, or PEM with ?format=pem)",
      querystring: Type.Object({ format: Type.Optional(Type.Union([Type.Literal("der"), Type.Literal("pem")])) }, { additionalProperties: false }),
      response: { 200: { description: "The CRL", content: {
        "application/pkix-crl": { schema: Type.String({ format: "binary", examples: ["<DER CertificateList>"] }) },
        "application/x-pem-file": { schema: Type.String({ examples: ["-----BEGIN X509 CRL-----\nMIIBODCB3wIBATAKBggqhkjOPQQDAjB…\n-----END X509 CRL-----\n"] }) },
      } } } },
  }, async (req, reply) => {
    const der = await ctx.pki.crl();
    reply.header("cache-control", "public, max-age=60");
    if (req.query.format === "pem") return reply.type("application/x-pem-file").send(toPem(der, "X509 CRL"));
    return reply.type("application/pkix-crl").send(Buffer.from(der));
  });

  app.get<{ Params: Static<typeof SerialParam> }>("/pki/certificates/:serial", {
    config: { auth: "public", rateLimit },
    schema: { tags: ["pki"], description: "A certificate by serial number (hex) with its status (`good` or `revoked` with time and reason).",
      summary: "A certificate Sidian issued, with its status", params: SerialParam,
      response: { 200: Type.Ref("Certificate"), ...problems("CERTIFICATE_NOT_FOUND") } },
  }, async (req) => certOut(await ctx.pki.certificate(req.params.serial.toLowerCase())));

  app.get<{ Params: Static<typeof IdParam> }>("/departments/:id/certificates", {
    config: { auth: { roles: ["admin", "issuer"] } },
    schema: { tags: ["pki"], description: "A department's licence-signing, seal and signer certificates, current and old. Issuers may read their own department's only.",
      summary: "A department's certificates (issuers: their own department only)", security: [{ bearer: [] }], params: IdParam,
      response: { 200: Type.Object({ items: Type.Array(Type.Ref("Certificate")) }), ...problems("DEPARTMENT_NOT_FOUND", "FORBIDDEN_DEPARTMENT") } },
  }, async (req) => {
    requireDepartment(req.actor, req.params.id);
    await ctx.directory.getDepartment(req.params.id);
    return { items: (await ctx.uow.read.certificates.listByDepartment(req.params.id)).map(certOut) };
  });

  app.post<{ Params: Static<typeof IdParam>; Body: Static<typeof IssueBody> }>("/departments/:id/certificates", {
    config: { auth: { roles: ["admin"], scopes: ["admin"] } },
    schema: { tags: ["pki"], description: "Makes a new key (on the HSM when one is configured) and certificate for a department: `licence-signing` replaces the department's signing certificate of that crypto profile (`crypto`, default the department's) for new licences (licences signed with the old one keep verifying), `signer` certifies a person (pseudonym only). Seal certificates are made with seals.",
      summary: "Issue a licence-signing or signer certificate (new key) for a department", security: [{ bearer: [] }],
      params: IdParam, body: IssueBody, response: { 201: Type.Ref("Certificate"), ...problems("DEPARTMENT_NOT_FOUND", "CERTIFICATE_PROFILE_INVALID", "KEYSTORE_UNAVAILABLE", "CRYPTO_PROFILE_UNAVAILABLE") } },
  }, async (req, reply) => {
    const serial = await ctx.uow.write(async (repos, tx) => {
      const d = await repos.departments.byId(req.params.id);
      if (!d) throw new AppError("DEPARTMENT_NOT_FOUND");
      const c = await ctx.issueCertificate(repos, tx, {
        department: d, profile: req.body.profile, crypto: req.body.crypto ?? d.profile,
        ...(req.body.commonName ? { commonName: req.body.commonName } : {}),
        ...(req.body.validityDays ? { validityDays: req.body.validityDays } : {}),
      }, req.actor);
      return c.serial;
    });
    return reply.code(201).send(certOut(await ctx.pki.certificate(serial)));
  });

  app.post<{ Params: Static<typeof SerialParam>; Body: Static<typeof RevokeBody> }>("/pki/certificates/:serial/revoke", {
    config: { auth: { roles: ["admin"], scopes: ["admin"] } },
    schema: { tags: ["pki"], description: "Revokes a certificate (final): its key is retired, the CRL is re-signed, and signatures made after the revocation time stop verifying. Logged.",
      summary: "Revoke a certificate (final; its key is retired and the CRL is re-signed)", security: [{ bearer: [] }],
      params: SerialParam, body: RevokeBody, response: { 200: Type.Ref("Certificate"), ...problems("CERTIFICATE_NOT_FOUND", "CONFLICT", "KEYSTORE_UNAVAILABLE") } },
  }, async (req) => {
    const serial = req.params.serial.toLowerCase();
    await ctx.uow.write(async (repos, tx) => {
      const r = await ctx.pki.revokeCertificate(repos, serial, req.body.reason as RevocationReason, ctx.clock.now(), tx);
      await ctx.tlog.append(repos, tx, {
        type: TLOG_EVENTS.certificateRevoked, subject: `certificate:${r.serial}`, actor: actorLabel(req.actor),
        data: { serial: r.serial, profile: r.profile, reason: req.body.reason, keyId: r.keyId },
      });
    });
    return certOut(await ctx.pki.certificate(serial));
  });
}
