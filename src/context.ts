/**
 * Wiring: config → database → key material → services. The one place that knows every concrete part.
 * Tests call `createContext` with a temp database (and their own clock); server.ts and the CLI call it too.
 */
import { hkdfSync } from "node:crypto";
import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import type { Config } from "./config.js";
import { derivePiiProtector, type PiiProtector } from "./crypto/pii.js";
import { AppError } from "./errors.js";
import { createAuthService, type AuthService } from "./modules/auth/index.js";
import { createOidcIdpKeys, createStaticIdpKeys, type IdpKeys } from "./modules/auth/idp-keys.js";
import { createDirectoryService, type DirectoryService } from "./modules/directory/index.js";
import { createCatalogueService, type CatalogueService } from "./modules/catalogue/index.js";
import { createSealWorker, type SealWorker } from "./crypto/seal-worker.js";
import fs from "node:fs";
import { createMetrics, type Metrics } from "./metrics.js";
import { createTracing, type Tracing } from "./telemetry.js";
import { profileOf, type SignObserver } from "./pki/signing-key.js";
import type { StoreObserver } from "./storage/db.js";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import { VERSION } from "./app.js";
import { createLicenceService, createSigner, createVerifier, type LicenceService, type LicenceVerifier } from "./modules/licences/index.js";
import { createAccessService, createCopySigner, type AccessService } from "./modules/access/index.js";
import { actorLabel, systemClock, type Actor, type Clock, type Logger, type TxHooks } from "./modules/kernel.js";
import { createQrService, keyHintFromKid, type QrService } from "./modules/qr/index.js";
import { createCaseService, type CaseService } from "./modules/cases/index.js";
import { createArchiveService, type ArchiveService } from "./modules/archives/index.js";
import { createTlog, TLOG_EVENTS, type Tlog, type TlogEvent } from "./modules/tlog/index.js";
import { createSealService, type SealService } from "./modules/seals/index.js";
import { createDocumentService, type DocumentService } from "./modules/documents/index.js";
import { createCompletion, createSignatureService, createSigningFlow, type Completion, type SignatureService, type SigningFlow } from "./modules/signatures/index.js";
import { createTsa, type Tsa } from "./pki/tsa.js";
import { createWebhookService, type WebhookService } from "./modules/webhooks/index.js";
import { createMaterialContainer, createMaterialService, createReceiptPdf, createReceiptSigner, type MaterialContainer, type MaterialService, type MaterialsReceiptPdf } from "./modules/materials/index.js";
import { createPdfPool, type PdfWork } from "./pdf/pool.js";
import { createArchiveChecks, type ArchiveChecks } from "./modules/archives/check/runs.js";
import { createArchiveReceiver, type ArchiveReceiver } from "./modules/archives/receive.js";
import { onlineVerifyDeps } from "./modules/seals/index.js";
import { formatVkey, parseVkey } from "./modules/tlog/checkpoint.js";
import { createFileKeyStore, createPkiService, loadKeyMaterial, type IssuedCertificate, type KeyMaterial, type PkiService } from "./pki/index.js";
import { createPkcs11KeyStore, tokenServiceKeys } from "./pki/pkcs11/keystore.js";
import { openToken, type Pkcs11Token } from "./pki/pkcs11/token.js";
import { fromPemAll } from "./pki/pem.js";
import { DEV_MARK } from "./pki/profiles.js";
import { DEFAULT_TRUST_LIST, parseTrustList, type TrustList } from "./pki/trust-list.js";
import { openSqlite, type SqliteHandle } from "./storage/db.js";
import { bindPublicUrl } from "./storage/deployment.js";
import { refuseUnfinishedCopy } from "./storage/copy-store.js";
import { createPgUnitOfWork, createUnitOfWork, type Repos } from "./storage/repos/index.js";
import { openPg, type PgHandle } from "./storage/pg.js";
import { sqliteSql, type Sql } from "./storage/sql.js";
import type { UnitOfWork } from "./modules/kernel.js";

export interface Context {
  config: Config;
  clock: Clock;
  /** The SQLite store; on PostgreSQL (SIDIAN_DB=postgres://…) reading it throws: use `store` or `pg`. */
  db: SqliteHandle;
  /** The PostgreSQL store when SIDIAN_DB is a postgres:// URL, else null. */
  pg: PgHandle | null;
  /** What both stores offer: which one, reads as portable SQL (last committed state), a health check. */
  store: { kind: "sqlite" | "pg"; sql: Sql; ping(): Promise<boolean>; writersWaiting(): number; /** A write transaction is open in this process. */ inTransaction(): boolean };
  uow: UnitOfWork<Repos>;
  material: KeyMaterial;
  pii: PiiProtector;
  tlog: Tlog<Repos>;
  pki: PkiService;
  directory: DirectoryService;
  auth: AuthService;
  catalogue: CatalogueService;
  licences: LicenceService;
  verifier: LicenceVerifier;
  access: AccessService;
  /** E-seals registry and PAdES stamping (issue 5). */
  seals: SealService;
  /** Sealed licence PDFs and use-annotated copies (issue 6). */
  documents: DocumentService;
  /** E-signature requests (issue 17). */
  signatures: SignatureService<Repos>;
  /** Signed webhooks (Standard Webhooks) per client, with retries and a delivery log. */
  webhooks: WebhookService<Repos>;
  /** E-materials (issue 18): material types, registration with receipts, reuse, verification. */
  materials: MaterialService;
  /** ASiC-E containers of materials (GET /materials/:id/container), signed by the platform (token) key. */
  materialContainer: MaterialContainer;
  /** The receipt PDF sealed by the platform's seal (SIDIAN_SIGNING_SEAL). */
  materialReceiptPdf: MaterialsReceiptPdf;
  /** Completion report, final seal and evidence of signing requests (issue 17). */
  completion: Completion<Repos>;
  /** Signing: passkeys, cloud keys, own-key signatures (issue 17). */
  signing: SigningFlow<Repos>;
  qr: QrService;
  /** Cases (办件) of approval systems and counters (issue 19). */
  cases: CaseService;
  /** Archival packages of closed cases (issue 19). */
  archives: ArchiveService;
  /** 四性检测 of stored packages, each run logged (src/modules/archives/check/runs.ts). */
  archiveChecks: ArchiveChecks;
  /** Packages received at transfer (移交接收), checked before they are taken (src/modules/archives/receive.ts). */
  archiveReceiver: ArchiveReceiver;
  /** The internal RFC 3161 time-stamping authority. */
  tsa: Tsa;
  /** Worker pool that reads untrusted PDFs (validation, stamping) off the event loop, with a time budget. */
  pdf: PdfWork;
  /** Trust lists `POST /verify/pdf?trust=NAME` may judge by: `sidian` (built in) and SIDIAN_TRUST_LISTS. */
  trustLists: ReadonlyMap<string, TrustList>;
  /** Issues a department certificate and logs it, inside the caller's transaction. */
  issueCertificate(repos: Repos, tx: TxHooks, input: Parameters<PkiService["issueDepartmentCertificate"]>[1], actor: Actor): Promise<IssuedCertificate>;
  /** The PKCS#11 token when SIDIAN_KEYSTORE names one. */
  token: Pkcs11Token | null;
  /** Prometheus metrics (null with SIDIAN_METRICS=off); the token that may scrape them from anywhere. */
  metrics: Metrics | null;
  metricsToken: string | null;
  /** OpenTelemetry tracing when an OTLP endpoint is configured (or a test gave an exporter). */
  tracing: Tracing | null;
  /** The identity provider's keys (static or fetched from the issuer). */
  idpKeys: IdpKeys;
  /** Readiness; `problems` says why when not ready (e.g. the PKCS#11 token is away). */
  ready(): Promise<{ db: boolean; keys: boolean; problems?: string[] }>;
  close(): Promise<void>;
}

/**
 * Appends `key.registered` for every service key and certificate of the keys folder that this deployment has not
 * logged yet (root, issuing CA, TSA, token, log and IdP keys): a key swapped in later is visible in the log.
 */
async function registerServiceKeys(uow: UnitOfWork<Repos>, tlog: Tlog<Repos>, m: KeyMaterial, clock: Clock): Promise<void> {
  const spkiSha = (k: KeyObject) => createHash("sha256").update(k.export({ format: "der", type: "spki" })).digest("hex");
  const items: Array<{ role: string; sha256: string; data: Record<string, unknown> }> = [
    ...([["root-ca", m.rootCert], ["issuing-ca", m.issuingCa.cert], ["tsa", m.tsa.cert], ["token", m.token.cert]] as const).map(([role, c]) => ({
      role, sha256: c.sha256, data: { kind: "certificate", serial: c.serial, subject: c.subject, notBefore: c.notBefore.toISOString(), notAfter: c.notAfter.toISOString() },
    })),
    { role: "log", sha256: spkiSha(m.log.publicKey), data: { kind: "key", alg: "Ed25519" } },
    ...m.idp.jwks.keys.map((jwk) => ({ role: "idp", sha256: spkiSha(createPublicKey({ key: jwk as import("node:crypto").JsonWebKey, format: "jwk" })), data: { kind: "key", alg: jwk.alg ?? null, kid: jwk.kid ?? null } })),
  ];
  const missing: typeof items = [];
  for (const it of items) if (!(await uow.read.registeredKeys.has(it.sha256))) missing.push(it);
  if (missing.length === 0) return;
  await uow.write(async (repos, tx) => {
    for (const it of missing) {
      if (await repos.registeredKeys.has(it.sha256)) continue;
      const { index } = await tlog.append(repos, tx, {
        type: TLOG_EVENTS.keyRegistered, subject: `key:${it.sha256}`, actor: "system:startup", data: { role: it.role, sha256: it.sha256, ...it.data },
      });
      await repos.registeredKeys.insert({ sha256: it.sha256, role: it.role, logIndex: index, firstSeen: clock.now() });
    }
  });
}

/** The seal worker, counting the licences it signs (metrics) and the ones it has in hand (queue depth). */
function countedSealWorker(w: SealWorker, metrics: Metrics | null): SealWorker & { queued(): number } {
  let inHand = 0;
  return {
    async seal(key, aeadKey, jobs, alg) {
      inHand += jobs.length;
      try {
        const out = await w.seal(key, aeadKey, jobs, alg);
        metrics?.signedBatch("licence-signing", alg ?? "ES256", "file", out.length);
        return out;
      } finally {
        inHand -= jobs.length;
      }
    },
    close: () => w.close(),
    queued: () => inHand,
  };
}

export interface ContextOptions {
  clock?: Clock;
  log?: Logger;
  /** Start the checkpoint timer (default true; tests may turn it off and checkpoint by hand). */
  autoCheckpoint?: boolean;
  /** Run the licence expiry sweep and the expired-copy sweep every minute (default: as autoCheckpoint). */
  autoExpire?: boolean;
  /** Verification's per-licence memory (verdicts, JWS facts, log entries and proofs; default on; the bench measures it). */
  verifyMemory?: boolean;
  /** Trace into this exporter (tests: an in-memory one) whatever the configuration says. */
  traceExporter?: SpanExporter;
  /**
   * Take the public URL recorded with the database when the environment names none (CLI commands: a shell without
   * the server's environment signs the deployment's URL, not the default). The server never adopts.
   */
  adoptPublicUrl?: boolean;
}

export async function createContext(config: Config, opts: ContextOptions = {}): Promise<Context> {
  const clock = opts.clock ?? systemClock;
  const log: Logger = opts.log ?? { debug() {}, info() {}, warn() {}, error() {} };
  // Trust lists for PDF validation (SIDIAN_TRUST_LISTS): read and checked before anything is opened, so a bad file
  // stops the service with one line naming it.
  const configuredTrustLists: TrustList[] = config.trustLists.map(({ name, file }) => {
    let pem: string;
    try {
      pem = fs.readFileSync(file, "latin1");
    } catch (cause) {
      throw new AppError("CONFIG_INVALID", `SIDIAN_TRUST_LISTS: the file of list "${name}" (${file}) cannot be read.`, { cause });
    }
    try {
      return parseTrustList(name, pem);
    } catch (e) {
      throw new AppError("CONFIG_INVALID", `SIDIAN_TRUST_LISTS: list "${name}" (${file}): ${(e as Error).message}.`);
    }
  });
  const metrics = config.metrics === "on" ? createMetrics() : null;
  const tracing = config.otlpTracesUrl || opts.traceExporter
    ? await createTracing({
      serviceName: config.otelServiceName, serviceVersion: VERSION,
      ...(config.otlpTracesUrl ? { url: config.otlpTracesUrl } : {}), ...(opts.traceExporter ? { exporter: opts.traceExporter } : {}),
    })
    : null;
  // Every signature and every write transaction is counted (metrics) and, inside a traced request, a span.
  const onSign: SignObserver | undefined = metrics || tracing ? (e) => {
    metrics?.onSign(e);
    tracing?.record("sign", { "sidian.key": e.role, "sidian.key.profile": profileOf(e.alg), "sidian.key.backend": e.backend }, e.seconds, e.ok);
  } : undefined;
  const storeObserver: StoreObserver | undefined = metrics || tracing ? {
    write(wait, hold, ok) {
      metrics?.store.write?.(wait, hold, ok);
      tracing?.record("db.write", { "db.lock_wait_ms": Math.round(wait * 1e6) / 1e3 }, wait + hold, ok);
    },
    sync(seconds, ok) {
      metrics?.store.sync?.(seconds, ok);
      tracing?.record("db.sync", {}, seconds, ok);
    },
  } : undefined;
  let metricsToken: string | null = null;
  if (metrics && config.metricsTokenFile) {
    try {
      metricsToken = fs.readFileSync(config.metricsTokenFile, "utf8").trim();
    } catch (cause) {
      throw new AppError("CONFIG_INVALID", `SIDIAN_METRICS_TOKEN_FILE ${config.metricsTokenFile} cannot be read.`, { cause });
    }
    if (metricsToken.length < 32 || /\s/.test(metricsToken)) throw new AppError("CONFIG_INVALID", `SIDIAN_METRICS_TOKEN_FILE must hold one token of at least 32 characters.`);
  }
  // Keys on a PKCS#11 token: opened first (a wrong PIN stops start-up here, with one line).
  const token = config.keyStore.kind === "pkcs11" ? await openToken({ uri: config.keyStore.uri, log }) : null;
  let material: KeyMaterial;
  try {
    material = await loadKeyMaterial(config.keysDir, { now: clock.now(), ...(token ? { serviceKeys: tokenServiceKeys(token) } : {}), ...(onSign ? { onSign } : {}) });
  } catch (e) {
    await token?.close();
    throw e;
  }
  if (config.mode === "production" && material.dev) {
    await token?.close();
    throw new AppError(
      "DEV_KEYS_IN_PRODUCTION",
      `Refusing to start: SIDIAN_MODE=production but ${config.keysDir} holds DEVELOPMENT keys (keys-dev). ` +
        "Create production key material (see keys-dev/README.md, 'Production') and point SIDIAN_KEYS_DIR at it.",
    );
  }
  // Dev material comes from git, which cannot keep 0600 modes: its warnings would be noise on every start.
  if (material.dev) {
    if (material.warnings.length) log.debug({ keysDir: config.keysDir, warnings: material.warnings }, "dev key material warnings");
  } else {
    for (const w of material.warnings) log.warn({ keysDir: config.keysDir }, `key material: ${w}`);
  }

  let sqlite: SqliteHandle | null = null;
  let pgStore: PgHandle | null = null;
  let uow: UnitOfWork<Repos>;
  let store: Context["store"];
  try {
    if (config.dbKind === "pg") {
      pgStore = await openPg(config.dbPath, { poolMax: config.dbPoolMax, ...(storeObserver ? { observer: storeObserver } : {}) });
      const h = pgStore;
      uow = createPgUnitOfWork(h);
      store = { kind: "pg", sql: h.r, ping: () => h.ping(), writersWaiting: () => h.writersWaiting(), inTransaction: () => h.inTransaction() };
    } else {
      const h = openSqlite(config.dbPath, {
        sync: config.dbSync, checkpoint: config.dbCheckpoint, writerCacheMb: config.dbCacheMb,
        onCheckpointerError: (e) => log.error({ err: e }, "background WAL checkpointer failed; the writer's own checkpoint takes over"),
        ...(storeObserver ? { observer: storeObserver } : {}),
      });
      sqlite = h;
      uow = createUnitOfWork(h);
      store = { kind: "sqlite", sql: sqliteSql(h.reader), ping: async () => h.ping(), writersWaiting: () => h.writersWaiting(), inTransaction: () => h.writer.inTransaction };
    }
  } catch (e) {
    await token?.close();
    throw e;
  }
  const db = sqlite ?? new Proxy({} as SqliteHandle, {
    get: () => {
      throw new Error("ctx.db is the SQLite store; this service runs on PostgreSQL (use ctx.store or ctx.pg)");
    },
  });
  const closeStore = () => (pgStore ? pgStore.close() : sqlite!.close());
  // The deployment's public URL is kept with the database: a different one is refused (one line).
  try {
    const deployment = pgStore
      ? { sql: pgStore.r, write: (fn: (w: Sql) => Promise<void>) => pgStore!.transaction(() => fn(pgStore!.w)) }
      : { sql: sqliteSql(sqlite!.writer), write: (fn: (w: Sql) => Promise<void>) => sqlite!.transaction(() => fn(sqliteSql(sqlite!.writer))) };
    // A database an unfinished `sidian db copy` is filling would look complete: refused.
    await refuseUnfinishedCopy(deployment.sql, pgStore ? pgStore.target.label : config.dbPath);
    const publicUrl = await bindPublicUrl(deployment, {
      configured: config.publicUrl, from: config.publicUrlFrom, adopt: opts.adoptPublicUrl ?? false, now: clock.now(),
      dbLabel: pgStore ? pgStore.target.label : config.dbPath,
    });
    if (publicUrl !== config.publicUrl) config = { ...config, publicUrl };
  } catch (e) {
    await closeStore();
    await token?.close();
    throw e;
  }
  const pii = derivePiiProtector(material.kek);
  const tlog = createTlog<Repos>({
    uow,
    clock,
    signer: { name: config.logOrigin, publicKey: material.log.publicKey, sign: (msg) => material.log.signingKey.sign(msg) },
    checkpointIntervalSeconds: config.checkpointIntervalSeconds,
    checkpointMaxEntries: config.checkpointMaxEntries,
    log,
    autoCheckpoint: opts.autoCheckpoint ?? true,
    // Several instances: one signs checkpoints at a time (lease of three intervals, at least 10 s, renewed every
    // interval); when it dies another takes over once the lease has run out.
    ...(pgStore ? { checkpointLease: () => pgStore!.lease("log-checkpoints", Math.max(10, 3 * config.checkpointIntervalSeconds)) } : {}),
  });
  const fileKeys = createFileKeyStore({ kek: material.kek, repo: uow.read.keys, clock, ...(onSign ? { onSign } : {}) });
  const keyStore = token ? createPkcs11KeyStore({ token, file: fileKeys, repo: uow.read.keys, clock, ...(onSign ? { onSign } : {}) }) : fileKeys;
  const pki = createPkiService({ uow, material, clock, publicUrl: config.publicUrl, keyStore });

  async function issueCertificate(repos: Repos, tx: TxHooks, input: Parameters<PkiService["issueDepartmentCertificate"]>[1], actor: Actor) {
    const c = await pki.issueDepartmentCertificate(repos, input);
    await tlog.append(repos, tx, {
      type: TLOG_EVENTS.certificateIssued,
      subject: `certificate:${c.serial}`,
      actor: actorLabel(actor),
      data: {
        serial: c.serial, profile: c.profile, certSha256: c.sha256, keyId: c.keyId, departmentId: c.departmentId,
        issuerSerial: c.issuerSerial, notBefore: c.notBefore.toISOString(), notAfter: c.notAfter.toISOString(),
        ...(c.sealId ? { sealId: c.sealId } : {}),
      },
    });
    return c;
  }

  await registerServiceKeys(uow, tlog, material, clock);

  const directory = createDirectoryService<Repos>({
    uow,
    clock,
    log: tlog,
    hooks: {
      // A department can sign licences from the moment it exists: its licence-signing key and certificate are
      // created in the same transaction as the department (and logged with it).
      onDepartmentCreated: async (repos, tx, d, actor) => {
        await issueCertificate(repos, tx, { department: d, profile: "licence-signing", crypto: d.profile }, actor);
      },
    },
    // A disabled client or a changed binding takes effect on its next request.
    onClientChanged: (id) => auth.forgetClient(id),
  });
  // Holder tokens: the identity provider's keys from the keys folder (the dev IdP), or fetched from the issuer.
  const idpKeys: IdpKeys = config.idpKeys === "file"
    ? createStaticIdpKeys(config.idpIssuer, material.idp.jwks)
    : createOidcIdpKeys({
      issuer: config.idpIssuer, ...(typeof config.idpKeys === "object" ? { jwksUri: config.idpKeys.jwksUri } : {}),
      fetch: globalThis.fetch, clock, log, allowHttp: config.mode !== "production",
    });
  // Warmed up in the background: an identity provider that is down does not stop the service from starting.
  if (config.idpKeys !== "file") void idpKeys.refresh();
  const auth = createAuthService({
    uow,
    clock,
    issuer: config.publicUrl,
    tokenTtlSeconds: config.tokenTtlSeconds,
    signingKey: material.token,
    previousKeys: material.previous.token,
    idp: { issuer: config.idpIssuer, audience: config.idpAudience, keys: (header) => idpKeys.getKey(header), claims: config.idpClaims },
    pii,
  });

  // E-licences (issue 4): catalogue, licences (signing, lifecycle, status lists), verification, 免证办 access.
  const catalogue = createCatalogueService<Repos>({ uow, clock, log: tlog });
  const signer = createSigner<Repos>({ uow, pki, clock });
  // Bulk issuance signs and encrypts on a second core (started on first use); its signatures and queue are counted.
  const sealWorker = countedSealWorker(createSealWorker(), metrics);
  const licences = createLicenceService<Repos>({
    uow, clock, tlog, pii, signer, catalogue, publicUrl: config.publicUrl, log, ...(config.sealWorker === "on" ? { sealWorker } : {}),
  });
  const verifier = createVerifier<Repos>({ uow, clock, pki, catalogue, licences, tlog, log, ...(opts.verifyMemory === false ? { remember: false } : {}) });
  const access = createAccessService<Repos>({
    uow, clock, tlog, pii, catalogue, licences, publicUrl: config.publicUrl, log,
    copySigner: createCopySigner({ signingKey: material.token.signingKey, kid: material.token.kid, certDer: material.token.cert.der, issuingCaDer: material.issuingCa.cert.der }),
    linkKey: Buffer.from(hkdfSync("sha256", material.kek, Buffer.alloc(0), "sidian/copy-link/v1", 32)),
  });
  // E-seals (issue 5): RFC 3161 TSA, seal registry and PAdES stamping.
  const tsa = createTsa({ material, clock });
  const pdf = createPdfPool({ threads: config.pdfWorkers, queue: config.pdfQueue, timeBudgetMs: config.pdfTimeBudgetMs, memoryMb: config.pdfWorkerMemoryMb });
  const seals = createSealService<Repos>({
    uow, clock, log: tlog, keyStore: pki.keyStore, tsa, ...(material.dev ? { devMark: DEV_MARK } : {}), pdf,
    chain: [material.issuingCa.cert.der, material.rootCert.der],
    ...(material.sm2 ? { sm2: { tsa: createTsa({ material: material.sm2, clock, profile: "sm2" }), chain: [material.sm2.issuingCa.cert.der, material.sm2.rootCert.der], statusSigner: material.sm2.issuingCa } } : {}),
    ...(material.sm2 ? { sealMaker: { certDer: material.sm2.sealMaker.cert.der, sign: (d: Uint8Array) => material.sm2!.sealMaker.signingKey.sign(d, "der") } } : {}),
    statusSigner: material.issuingCa,
    issueCertificate,
    revokeCertificate: async (repos, tx, serial, actor) => {
      const r = await pki.revokeCertificate(repos, serial, "cessationOfOperation", clock.now(), tx);
      await tlog.append(repos, tx, {
        type: TLOG_EVENTS.certificateRevoked, subject: `certificate:${r.serial}`, actor: actorLabel(actor),
        data: { serial: r.serial, profile: r.profile, reason: r.reason, keyId: r.keyId },
      });
    },
  });

  // Live QR (亮证) and the verification pages (issue 6): tokens signed with the published token key.
  const qr = createQrService<Repos>({
    uow, tlog, clock, log, verifier, publicUrl: config.publicUrl, ttlSeconds: config.liveQrTtlSeconds,
    key: { hint: keyHintFromKid(material.token.kid), publicKey: material.token.publicKey, sign: (d) => material.token.signingKey.sign(d, "p1363") },
    previousKeys: material.previous.token.map((t) => ({ hint: keyHintFromKid(t.kid), publicKey: t.publicKey })),
  });

  // Licence documents (issue 6): rendered, sealed with the department's official seal, stored content-addressed.
  const documents = createDocumentService<Repos>({ ...(material.dev ? { devMark: DEV_MARK } : {}), uow, clock, catalogue, licences, access, seals, pii, publicUrl: config.publicUrl });
  // E-signatures (issue 17): signing requests, participants in ordered groups.
  // Signed webhooks to the clients an administrator gave an endpoint (Standard Webhooks).
  const webhooks = createWebhookService<Repos>({
    uow, clock, pii, allowHttpLoopback: config.mode !== "production", logger: log,
    clientExists: async (id) => (await uow.read.clients.byId(id)) !== undefined,
  });
  // Every event about a request is also indexed by request (signing_events) and reported to the initiator's
  // webhook, in the same transaction.
  const signingLog = {
    async append(repos: Repos, tx: TxHooks, ev: TlogEvent) {
      const r = await tlog.append(repos, tx, ev);
      if (ev.subject.startsWith("signing:")) {
        const requestId = ev.subject.slice("signing:".length);
        await repos.signingEvents.insert({ requestId, logIndex: r.index, type: ev.type, createdAt: clock.now() });
        const req = ev.type === TLOG_EVENTS.signingCreated ? undefined : await repos.signingRequests.byId(requestId);
        if (req) {
          const d = (ev.data ?? {}) as Record<string, unknown>;
          const pick = Object.fromEntries(["participant", "group", "role", "method", "from", "documentSha256After", "finalSha256"].filter((k) => d[k] !== undefined).map((k) => [k, d[k]]));
          await webhooks.enqueue(repos, tx, req.initiatorClientId, ev.type, { requestId, logIndex: r.index, ...pick });
        }
      }
      return r;
    },
  };
  const signatures = createSignatureService<Repos>({ uow, clock, log: signingLog, pii, logger: log, pdf });
  const completion = createCompletion<Repos>({
    uow, clock, pii, svc: signatures, log: signingLog, tlog, seals, platformSealId: config.signingSealId, publicUrl: config.publicUrl, logger: log, pdf,
  });
  let signingAnchors: Uint8Array[] = [];
  if (config.signingTrustFile) {
    try {
      signingAnchors = fromPemAll(fs.readFileSync(config.signingTrustFile, "utf8")).filter((b) => b.label === "CERTIFICATE").map((b) => b.der);
    } catch (cause) {
      throw new AppError("CONFIG_INVALID", `SIDIAN_SIGNING_TRUST ${config.signingTrustFile} cannot be read.`, { cause });
    }
    if (signingAnchors.length === 0) throw new AppError("CONFIG_INVALID", `SIDIAN_SIGNING_TRUST ${config.signingTrustFile} holds no certificate.`);
  }
  // Trust lists for PDF validation: the built-in one first (the configured ones were read before anything opened).
  const trustLists = new Map<string, TrustList>([[DEFAULT_TRUST_LIST, { name: DEFAULT_TRUST_LIST, anchors: [material.rootCert], intermediates: [material.issuingCa.cert], crls: [] }]]);
  for (const l of configuredTrustLists) trustLists.set(l.name, l);
  const publicOrigin = new URL(config.publicUrl);
  const signing = createSigningFlow<Repos>({
    uow, clock, log: signingLog, pii, keyStore: pki.keyStore, tsa, svc: signatures, onCompleted: (id) => completion.tryFinalise(id), pdf,
    chain: [material.issuingCa.cert.der, material.rootCert.der],
    webauthn: { rpId: publicOrigin.hostname, origin: publicOrigin.origin, rpName: "Sidian 四电" },
    externalAnchors: signingAnchors,
    reauthSeconds: config.signingReauthSeconds,
    issuePersonCertificate: async (repos, tx, input, actor) => {
      const c = await pki.issuePersonCertificate(repos, input);
      await tlog.append(repos, tx, {
        type: TLOG_EVENTS.certificateIssued, subject: `certificate:${c.serial}`, actor: actorLabel(actor),
        data: { serial: c.serial, profile: c.profile, certSha256: c.sha256, keyId: c.keyId, issuerSerial: c.issuerSerial, notBefore: c.notBefore.toISOString(), notAfter: c.notAfter.toISOString() },
      });
      return c;
    },
  });
  // Cases (办件) and their archival packages (issue 19).
  const cases = createCaseService<Repos>({
    uow, clock, log: tlog, pii,
    sources: {
      verify: (identifier) => verifier.verify({ identifier }, "counter"),
      licence: async (repos, identifier) => {
        const r = await repos.licences.byId(identifier);
        return r ? { holderHash: r.holderHash, departmentId: r.departmentId, typeCode: r.typeCode } : undefined;
      },
      access: async (repos, q) => {
        const acc = await access.standingAccess(repos, q);
        return acc ? { id: acc.id, logIndex: acc.logIndex } : undefined;
      },
      copy: async (token, actor, expect) => {
        const c = await access.copy(actor, token);
        const acc = await uow.read.accessLog.byId(c.annotation.accessId);
        // Fetched for another matter or applicant: refused before the copy's PDF is made (no work for a stranger).
        if (!acc || acc.matterCode !== expect.matterCode || acc.holderHash !== expect.holderHash) throw new AppError("COPY_LINK_INVALID");
        const doc = await documents.copyDocument(token, actor);
        return { identifier: c.licence.identifier, accessId: acc.id, accessLogIndex: acc.logIndex, matterCode: acc.matterCode, holderHash: acc.holderHash, jws: c.copy, pdf: doc.pdf };
      },
      signature: async (requestId, actor) => {
        let d = await signatures.document(requestId, actor);
        // Completed but not sealed yet (sealing failed after the last signature): try again now.
        if (d.request.status === "completed" && d.kind !== "completed" && (await completion.tryFinalise(requestId))) d = await signatures.document(requestId, actor);
        const evidence = await completion.evidence(requestId, actor);
        const events = (await uow.read.signingEvents.ofRequest(requestId)).map((e) => ({ type: e.type, logIndex: e.logIndex }));
        return { status: d.kind === "completed" ? d.request.status : "sealing", title: d.request.title, matterCode: d.request.matterCode, pdf: d.pdf, evidence, events };
      },
      material: async (identifier, actor) => {
        const rec = await uow.read.materials.byId(identifier);
        if (!rec) return undefined;
        const m = await materials.core.view(rec);
        return { holderHash: rec.holderHash, status: m.status, sha256: m.sha256, size: m.size, mediaType: m.mediaType, logIndex: m.logIndex, own: materials.core.canSee(rec, actor) };
      },
      stampsOf: async (repos, sha) => (await repos.stamps.byResult(sha)).map((s) => ({ id: s.id, sealId: s.sealId, departmentId: s.departmentId, logIndex: s.logIndex ?? null })),
      departmentExists: async (repos, id) => (await repos.departments.byId(id)) !== undefined,
      matter: async (code) => {
        const m = await uow.read.matters.byCode(code);
        return m ? { code: m.code, departments: m.departments, licenceTypes: m.licenceTypes } : undefined;
      },
    },
  });
  const archives = createArchiveService<Repos>({
    uow, clock, log: tlog, pii, cases,
    licenceJws: async (identifier) => licences.jwsOf(await licences.record(identifier)),
    materialFile: async (identifier) => {
      const rec = await materials.core.record(identifier);
      const v = await materials.core.view(rec, { withName: true });
      // A material the holder withdrew after the case used it: its bytes are kept for this package (issue 18/19).
      return { name: v.name, mediaType: rec.mediaType, sha256: rec.sha256, size: rec.size, open: () => (async function* () {
        yield* (await materials.core.archivalBytes(rec)) as AsyncIterable<Uint8Array>;
      })() };
    },
    materialsArchived: async (identifiers) => {
      for (const id of identifiers) await materials.releaseKept(id);
    },
    matterName: async (code) => (await uow.read.matters.byCode(code))?.name ?? null,
    keyStore: pki.keyStore, tsa, chain: [material.issuingCa.cert.der, material.rootCert.der], issueCertificate,
    software: `sidian/${VERSION}`,
  });
  // 四性检测 of stored packages (issue 19): the service's own trust (root, issuing CA, TSA, log key), online PDF validation.
  const archiveTrust = {
    anchors: [material.rootCert, ...(material.sm2 ? [material.sm2.rootCert] : [])],
    intermediates: [material.issuingCa.cert, ...(material.sm2 ? [material.sm2.issuingCa.cert] : [])],
    knownTsaCerts: [material.tsa.cert, ...material.previous.tsa.map((t) => t.cert)],
    logKey: parseVkey(formatVkey(config.logOrigin, material.log.publicKey)),
    logOrigin: config.logOrigin,
  };
  const archivePdfDeps = onlineVerifyDeps({ material, certificates: uow.read.certificates, seals, clock });
  const archiveChecks = createArchiveChecks<Repos>({
    uow, clock, log: tlog, archives, pdf, pdfConcurrency: config.pdfWorkers, clamd: config.clamd, logger: log, agent: `sidian/${VERSION}`,
    pdfDeps: archivePdfDeps, trust: archiveTrust,
  });
  // Transfer and receipt (移交接收): packages built elsewhere, checked at the transfer stage before they are kept.
  const archiveReceiver = createArchiveReceiver<Repos>({
    uow, clock, log: tlog, pii, trust: archiveTrust, pdf, pdfDeps: archivePdfDeps, pdfConcurrency: config.pdfWorkers, clamd: config.clamd,
    agent: `sidian/${VERSION}`, maxBytes: config.archiveReceiveMaxBytes,
  });
  // E-materials (issue 18): receipts signed with the published token key (JWKS), as every other token.
  const materials = createMaterialService<Repos>({
    uow, clock, tlog, pii, catalogue, publicUrl: config.publicUrl, log,
    keptFor: (repos, identifier) => repos.archives.pendingUses("material", identifier),
    receipts: createReceiptSigner({
      signingKey: material.token.signingKey, kid: material.token.kid, publicKey: material.token.publicKey,
      certDer: material.token.cert.der, issuingCaDer: material.issuingCa.cert.der,
      previous: material.previous.token.map((t) => ({ kid: t.kid, publicKey: t.publicKey })),
    }),
    holderKey: Buffer.from(hkdfSync("sha256", material.kek, Buffer.alloc(0), "sidian/material-receipt-holder/v1", 32)),
    linkKey: Buffer.from(hkdfSync("sha256", material.kek, Buffer.alloc(0), "sidian/material-link/v1", 32)),
  });
  const materialContainer = createMaterialContainer({
    materials, tsa,
    signer: { certificates: [material.token.cert.der, material.issuingCa.cert.der, material.rootCert.der], sign: (d) => material.token.signingKey.sign(d, "der") },
  });
  const materialReceiptPdf = createReceiptPdf(materials.core, { seals, platformSealId: config.signingSealId, ...(material.dev ? { devMark: DEV_MARK } : {}) });
  // Documents an earlier version stored in the clear are encrypted in the background (read as they are until then).
  let closed = false;
  // Stopped between transactions once closing begins: a long first pass does not hold up shutdown.
  const encrypting = documents.encryptStoredDocuments({ stopped: () => closed }).then(
    (n) => void (n > 0 && log.info({ documents: n }, "stored documents encrypted (an earlier version stored them in the clear)")),
    (e) => log.error({ err: e }, "encrypting stored documents failed; they stay readable and are tried again at the next start"),
  );

  // Licences stored before numbers were unique (migration 0016) get their number's keyed hash, in the background.
  const numbering = licences.numberStoredLicences({ stopped: () => closed }).then(
    (r) => void (r.numbered > 0 && log.info({ licences: r.numbered, duplicates: r.duplicates.length }, "licence numbers filled in for licences stored before numbers were unique")),
    (e) => log.error({ err: e }, "filling in licence numbers failed; it is tried again at the next start"),
  );

  // Periodic jobs (every minute): licence expiry, and deleting stored 加注件 PDFs whose links have expired. On
  // PostgreSQL one instance runs them at a time: the holder of the "periodic-jobs" lease (90 s, renewed every
  // minute; when the holder dies another instance takes over within two and a half minutes).
  let expiryTimer: NodeJS.Timeout | null = null;
  const leader = pgStore ? () => pgStore!.lease("periodic-jobs", 90) : async () => true;
  // Webhooks on every instance: a message is leased before it is sent (src/modules/webhooks).
  const stopWebhooks = (opts.autoExpire ?? opts.autoCheckpoint ?? true) ? webhooks.start() : () => undefined;
  // The sealing job (issue 17 §5): completed signing requests whose final seal failed are tried again with
  // back-off, on every instance (each attempt is claimed in the database).
  let sealing: Promise<unknown> = Promise.resolve();
  let sealTimer: NodeJS.Timeout | null = null;
  if (opts.autoExpire ?? opts.autoCheckpoint ?? true) {
    let busy = false;
    sealTimer = setInterval(() => {
      if (closed || busy) return;
      busy = true;
      sealing = completion.runDue().catch((e) => log.error({ err: e }, "the signing seal job failed")).finally(() => void (busy = false));
    }, 15_000);
    sealTimer.unref();
  }
  // The periodic re-check of stored packages (DA/T 70 long-term stage), one run at a time.
  let recheckTimer: NodeJS.Timeout | null = null;
  let rechecking: Promise<unknown> | null = null;
  if ((opts.autoExpire ?? opts.autoCheckpoint ?? true) && config.archiveRecheckHours > 0) {
    recheckTimer = setInterval(() => {
      if (rechecking || closed) return;
      rechecking = archiveChecks.recheckAll().then(
        (r) => log.info({ ...r }, "archive re-check done"),
        (e: unknown) => log.error({ err: e }, "archive re-check failed"),
      ).finally(() => (rechecking = null));
    }, config.archiveRecheckHours * 3_600_000);
    recheckTimer.unref();
  }
  if (opts.autoExpire ?? opts.autoCheckpoint ?? true) {
    expiryTimer = setInterval(async () => {
      if (closed || !(await leader())) return;
      licences.expireDue().catch((e) => log.error({ err: e }, "licence expiry sweep failed"));
      signatures.expireDue().catch((e) => log.error({ err: e }, "signing request expiry sweep failed"));
      documents.sweepExpiredCopies().then(
        (r) => void (r.documents > 0 && log.info(r, "expired use-annotated copies deleted")),
        (e) => log.error({ err: e }, "expired copy sweep failed"),
      );
    }, 60_000);
    expiryTimer.unref();
  }

  metrics?.attach({
    logSize: () => tlog.size(),
    latestCheckpoint: () => tlog.latestCheckpoint().then((c) => ({ size: c.size, createdAt: c.createdAt }), () => null),
    writersWaiting: () => store.writersWaiting(),
    queues: { seal_worker: () => sealWorker.queued(), access_records: () => access.queued(), scan_records: () => qr.queued() },
    keystore: { backend: material.keyStore, up: () => token?.status().ok ?? true },
    idp: () => idpKeys.status(),
    now: () => clock.now(),
  });

  return {
    metrics, metricsToken, tracing, idpKeys,
    config, clock, db, pg: pgStore, store, uow, material, pii, tlog, pki, directory, auth, issueCertificate, catalogue, licences, verifier, access, seals, tsa, pdf, trustLists, qr, cases, archives, archiveChecks, archiveReceiver, documents, signatures, signing, completion, webhooks, materials, materialReceiptPdf, materialContainer,
    token,
    ready: async () => {
      const t = token?.status();
      const dbUp = !closed && (await store.ping());
      const problems = t && !t.ok ? [`PKCS#11 token: ${t.reason ?? "unavailable"}`] : [];
      if (!dbUp && !closed) problems.push(store.kind === "pg" ? `database: PostgreSQL at ${pgStore!.target.label} does not answer` : "database: the SQLite store cannot be read or made durable");
      return { db: dbUp, keys: !closed && (t?.ok ?? true), ...(problems.length ? { problems } : {}) };
    },
    async close() {
      if (closed) return;
      closed = true;
      if (expiryTimer) clearInterval(expiryTimer);
      if (sealTimer) clearInterval(sealTimer);
      if (recheckTimer) clearInterval(recheckTimer);
      await rechecking;
      stopWebhooks();
      await sealing;
      await encrypting;
      await numbering;
      await access.drain();
      await materials.drain();
      await qr.close();
      await sealWorker.close();
      await pdf.close();
      await tlog.close();
      await closeStore();
      await token?.close();
      await tracing?.shutdown().catch((e: unknown) => log.warn({ err: e }, "exporting the last traces failed"));
    },
  };
}
