/**
 * Wiring: config → database → key material → services. The one place that knows every concrete part.
 * Tests call `createContext` with a temp database (and their own clock); server.ts and the CLI call it too.
 */
import { createLocalJWKSet } from "jose";
import type { Config } from "./config.js";
import { derivePiiProtector, type PiiProtector } from "./crypto/pii.js";
import { AppError } from "./errors.js";
import { createAuthService, type AuthService } from "./modules/auth/index.js";
import { createDirectoryService, type DirectoryService } from "./modules/directory/index.js";
import { actorLabel, systemClock, type Actor, type Clock, type Logger, type TxHooks } from "./modules/kernel.js";
import { createTlog, TLOG_EVENTS, type Tlog } from "./modules/tlog/index.js";
import { createPkiService, loadKeyMaterial, type IssuedCertificate, type KeyMaterial, type PkiService } from "./pki/index.js";
import { openSqlite, type SqliteHandle } from "./storage/db.js";
import { createUnitOfWork, type Repos } from "./storage/repos/index.js";

export interface Context {
  config: Config;
  clock: Clock;
  db: SqliteHandle;
  uow: ReturnType<typeof createUnitOfWork>;
  material: KeyMaterial;
  pii: PiiProtector;
  tlog: Tlog<Repos>;
  pki: PkiService;
  directory: DirectoryService;
  auth: AuthService;
  /** Issues a department certificate and logs it, inside the caller's transaction. */
  issueCertificate(repos: Repos, tx: TxHooks, input: Parameters<PkiService["issueDepartmentCertificate"]>[1], actor: Actor): Promise<IssuedCertificate>;
  ready(): { db: boolean; keys: boolean };
  close(): Promise<void>;
}

export interface ContextOptions {
  clock?: Clock;
  log?: Logger;
  /** Start the checkpoint timer (default true; tests may turn it off and checkpoint by hand). */
  autoCheckpoint?: boolean;
}

export async function createContext(config: Config, opts: ContextOptions = {}): Promise<Context> {
  const clock = opts.clock ?? systemClock;
  const log: Logger = opts.log ?? { debug() {}, info() {}, warn() {}, error() {} };
  const material = await loadKeyMaterial(config.keysDir, { now: clock.now() });
  if (config.mode === "production" && material.dev) {
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

  const db = openSqlite(config.dbPath, { sync: config.dbSync });
  const uow = createUnitOfWork(db);
  const pii = derivePiiProtector(material.kek);
  const tlog = createTlog<Repos>({
    uow,
    clock,
    signer: { name: config.logOrigin, privateKey: material.log.privateKey, publicKey: material.log.publicKey },
    checkpointIntervalSeconds: config.checkpointIntervalSeconds,
    checkpointMaxEntries: config.checkpointMaxEntries,
    log,
    autoCheckpoint: opts.autoCheckpoint ?? true,
  });
  const pki = createPkiService({ uow, material, clock, publicUrl: config.publicUrl });

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

  const directory = createDirectoryService<Repos>({
    uow,
    clock,
    log: tlog,
    hooks: {
      // A department can sign licences from the moment it exists: its licence-signing key and certificate are
      // created in the same transaction as the department (and logged with it).
      onDepartmentCreated: async (repos, tx, d, actor) => {
        await issueCertificate(repos, tx, { department: d, profile: "licence-signing" }, actor);
      },
    },
  });
  const auth = createAuthService({
    uow,
    clock,
    issuer: config.publicUrl,
    tokenTtlSeconds: config.tokenTtlSeconds,
    signingKey: material.token,
    idpKeys: createLocalJWKSet({ keys: [...material.idp.jwks.keys] }),
    idpIssuer: config.idpIssuer,
    pii,
  });

  let closed = false;
  return {
    config, clock, db, uow, material, pii, tlog, pki, directory, auth, issueCertificate,
    ready: () => ({ db: !closed && db.ping(), keys: !closed }),
    async close() {
      if (closed) return;
      closed = true;
      await tlog.close();
      db.close();
    },
  };
}
