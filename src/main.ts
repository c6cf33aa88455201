/**
 * The `sidian` command. `npm start` runs `sidian serve`.
 */
import { archiveBuildCommand } from "./cli/archive.js";
import fs from "node:fs";
import { parseArgs, type ParseArgsConfig } from "node:util";
import pino from "pino";
import { loggerOptions } from "./app.js";
import { loadConfig, type Config } from "./config.js";
import { createContext, type Context } from "./context.js";
import { demoText, seedDemo } from "./demo.js";
import { AppError } from "./errors.js";
import { mintHolderToken } from "./modules/auth/index.js";
import type { Actor, Logger, Role } from "./modules/kernel.js";
import { logAudit, logVerifyProof } from "./modules/tlog/cli.js";
import { formatKeysSummary, keysInit, keysShow, loadKeyMaterial } from "./pki/index.js";
import { formatCeremony, MIN_PASSPHRASE_LENGTH } from "./pki/cli.js";
import { startServer } from "./server.js";
import { importServiceKeysToToken, tokenServiceKeyGenerator, tokenServiceKeys } from "./pki/pkcs11/keystore.js";
import { openToken, type Pkcs11Token } from "./pki/pkcs11/token.js";
import { isLicenceJwsFile, stampCommand, verifyCommand } from "./cli/seals.js";
import { detectKind, verifyMaterialCommand } from "./cli/verify-material.js";
import { importFile } from "./cli/import.js";
import { dbBackupCommand, dbCopyCommand, dbRestoreCommand } from "./cli/db.js";
import { rotateDepartmentKeys } from "./cli/keys-rotate.js";
import { ROTATABLE_SERVICE_ROLES, rotateServiceKeys, type RotatableServiceRole } from "./pki/rotate.js";
import { signExternalCommand } from "./cli/sign-external.js";
import { archiveCheckCommand } from "./cli/archive-check.js";

const USAGE = `sidian — e-licences, e-seals, e-signatures, e-materials (四电)

usage: sidian <command> [options]

  serve [--demo]                         migrate and serve (SIDIAN_* environment, see README)
  demo                                   seed demo department and clients; print curl commands
  keys init [--dev] [--dir D] [--force]  create key material (--dev: DEV-ONLY keys for keys-dev/)
  keys init --production --root-key-out FILE --passphrase-file F [--dir D]
                                         the production key ceremony: root CA offline (its key written once to
                                         FILE, encrypted), issuing CA and service keys in the key store
  keys show [--dir D]                    show the loaded chain, keys and fingerprints
                                         (with SIDIAN_KEYSTORE=pkcs11:… keys init makes the issuing CA, TSA,
                                         token and log keys on the token, where they stay)
  keys rotate [--departments | --department ID] [--service tsa,token,log|all] [--overlap-days N] [--dir D]
                                         new keys with overlap: departments get a new licence-signing key and
                                         certificate (old certificates stay valid, old keys sign no more); service
                                         keys are replaced in the folder or on the token, the old ones stay
                                         accepted and published for N days (default 30); restart the service after
  keys import-to-token [--dir D] [--delete-files]
                                         move the folder's service private keys onto the SIDIAN_KEYSTORE token
  departments create --name N --uscc U --region R
  departments list
  clients create --name N --role admin|issuer|consumer|counter|archivist [--id ID] [--department ID] [--matters A,B]
  clients list
  clients rotate --id ID                 new secret for a client
  dev holder-token --code C [--code-type 111] [--ttl 900]   DEV ONLY: a holder token from the dev IdP key
  import FILE.ndjson --department ID [--errors F]   bulk-import licences (one JSON licence per line; exit 0 all
                                         imported or replayed, 1 some lines failed, 2 did not start, 3 stopped)
  db backup FILE [--force]               consistent copy of the SQLite database while the service runs
  db restore FILE [--force]              check a backup (integrity, migrations, log audit) and put it in place
                                         (exit 0 done, 1 the backup does not check out, 2 refused)
  db copy --from A --to B [--restart]    copy a whole deployment between stores (SQLite file or postgres://…),
                                         then check it (row counts, log root, log audit); run again to resume
                                         (exit 0 done, 1 the checks failed, 2 refused)
  log audit [--json]                     recompute the transparency log and check every checkpoint
  log verify-proof --proof F --vkey K [--checkpoint F] [--leaf F]
  log checkpoint                         sign a checkpoint now
  stamp in.pdf --seal ID [--page N --x MM --y MM | --anchor TEXT] [--out F] [--reason R]
                                         stamp a PDF with a seal (PAdES B-T, incremental)
  sign-external --url URL --request ID --token-file F --key key.pem --cert chain.pem [--mark mark.json]
                                         sign a signing request with your own key (ECDSA P-256): the key stays here
  archive check PACKAGE [--trust bundle.pem] [--log-key K] [--clamd ADDR] [--stage S] [--json] [--report F]
                                         DA/T 70 四性检测 of an archive package (zip or bag directory), offline with the
                                         keys folder's anchors and log key (exit 0 all pass, 1 a check failed, 2 unreadable)
  archive recheck [--limit N]            re-check every stored package (long-term stage); each run is logged
                                         as archive.checked (exit 0 all passed, 1 one failed or could not run)
  verify file.pdf|licence.jws [--trust bundle.pem] [--status evidence.p7s …] [--evidence E.json] [--json]
                                         validate a signed PDF offline; --status: seal-status evidence from
                                         GET /seals/ID/status-evidence; a signing request's PDF shows each signer
                                         (masked), role, time, certificate kind and completion, with --evidence
                                         from GET /signatures/ID/evidence checked against the log key
                                         (exit 0 VALID, 1 INVALID, 3 INDETERMINATE, 2 error)
  verify x.asice [--trust bundle.pem] [--jwks jwks.json] [--json]
                                         an ASiC-E container (GET /materials/:id/container), offline
  verify receipt.jws [--file x.pdf] [--jwks jwks.json] [--json]
                                         a material receipt, and the file's hashes against it, offline
  archive build CASE [--out FILE.zip] [--retention permanent|30y|10y]
                                         archive a closed case (id or case number) and write its package
                                         (BagIt zip, docs/archives.md)
`;

const CLI_ACTOR: Actor = { kind: "system", name: "cli" };

/** The root key passphrase from a file (first line); one-line errors. */
function readPassphrase(file: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    return fail(`cannot read the passphrase file ${file} (${(e as NodeJS.ErrnoException).code ?? "error"})`);
  }
  const p = text.split(/\r?\n/)[0] ?? "";
  if (p.length < MIN_PASSPHRASE_LENGTH) return fail(`the passphrase in ${file} must be at least ${MIN_PASSPHRASE_LENGTH} characters`);
  return p;
}

function fail(msg: string, code = 2): never {
  process.stderr.write(`sidian: ${msg}\n`);
  process.exit(code);
}

async function withContext<T>(config: Config, fn: (ctx: Context) => Promise<T>, opts: { log?: Logger } = {}): Promise<T> {
  // A command signs with the deployment's public URL: taken from the database when this shell names none.
  const ctx = await createContext(config, { autoCheckpoint: false, adoptPublicUrl: true, ...(opts.log ? { log: opts.log } : {}) });
  try {
    const r = await fn(ctx);
    await ctx.tlog.checkpoint().catch(() => undefined);
    return r;
  } finally {
    await ctx.close();
  }
}

/** Opens the SIDIAN_KEYSTORE token (if one is configured) around `fn`. */
async function withToken<T>(config: Config, fn: (token: Pkcs11Token | null) => Promise<T>): Promise<T> {
  const token = config.keyStore.kind === "pkcs11" ? await openToken({ uri: config.keyStore.uri, probeSeconds: 0 }) : null;
  try {
    return await fn(token);
  } finally {
    await token?.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const [cmd, sub, ...rest] = argv;
  const args = (options: ParseArgsConfig["options"], list = rest) =>
    parseArgs({ args: list, options: options ?? {}, allowPositionals: false, strict: true }).values as Record<string, string | boolean | undefined>;
  const str = (v: string | boolean | undefined, name: string): string => (typeof v === "string" && v ? v : fail(`--${name} is required`));

  if (!cmd || cmd === "help" || cmd === "--help" || cmd === "-h") {
    process.stdout.write(USAGE);
    return 0;
  }
  // Node reads arguments as UTF-8 and turns bytes that are not into U+FFFD: such an argument is refused rather
  // than silently signed or stored (a name typed in another encoding). Names then meet the text rule in the services.
  const garbled = argv.findIndex((a) => a.includes("\uFFFD"));
  if (garbled >= 0) return fail(`VALIDATION_FAILED: argument ${garbled + 1} is not valid UTF-8 text (check the terminal's encoding)`);
  const config = loadConfig();
  switch (cmd) {
    case "serve": {
      const o = args({ demo: { type: "boolean" } }, [sub, ...rest].filter((x): x is string => x !== undefined));
      await startServer(config, {
        onReady: async (r) => {
          if (r.ctx.material.dev) r.app.log.warn("using DEVELOPMENT keys from " + config.keysDir + " (never in production)");
          // The public URL (kept with the database) is where clients reach the service; a random port (0) is only known now.
          if (o.demo) process.stdout.write(demoText(await seedDemo(r.ctx), config.port === 0 && r.ctx.config.publicUrlFrom !== "SIDIAN_PUBLIC_URL" ? r.url : r.ctx.config.publicUrl));
        },
      });
      return -1; // keep running
    }
    case "demo": {
      const { seed, url } = await withContext(config, async (ctx) => ({ seed: await seedDemo(ctx), url: ctx.config.publicUrl }));
      process.stdout.write(demoText(seed, url));
      return 0;
    }
    case "keys": {
      if (sub === "init") {
        const o = args({ dev: { type: "boolean" }, production: { type: "boolean" }, dir: { type: "string" }, force: { type: "boolean" }, "root-key-out": { type: "string" }, "passphrase-file": { type: "string" } });
        const dir = typeof o.dir === "string" ? o.dir : config.keysDir;
        if (o.dev && o.production) return fail("--dev and --production exclude each other");
        let offlineRoot: { file: string; passphrase: string } | undefined;
        if (o.production) {
          const file = str(o["root-key-out"], "root-key-out");
          offlineRoot = { file, passphrase: readPassphrase(str(o["passphrase-file"], "passphrase-file")) };
          if (config.publicUrl.startsWith("http:")) return fail(`SIDIAN_PUBLIC_URL must be https for production keys (it goes into every certificate): ${config.publicUrl}`);
        }
        let n = 0;
        const r = await withToken(config, (token) => keysInit({
          dir, dev: Boolean(o.dev), force: Boolean(o.force), publicUrl: config.publicUrl, ...(token ? { serviceKeys: tokenServiceKeyGenerator(token) } : {}),
          ...(offlineRoot ? { offlineRoot } : {}),
          progress: (step) => process.stderr.write(`[${++n}] ${step}\n`),
        }));
        if (o.production) process.stdout.write(formatCeremony(r) + "\n");
        else process.stdout.write(`key material written to ${dir}\n${JSON.stringify(r, null, 2)}\n`);
        return 0;
      }
      if (sub === "show") {
        const o = args({ dir: { type: "string" } });
        const s = await withToken(config, (token) => keysShow(typeof o.dir === "string" ? o.dir : config.keysDir, token ? { serviceKeys: tokenServiceKeys(token) } : {}));
        process.stdout.write(formatKeysSummary(s) + "\n");
        return 0;
      }
      if (sub === "import-to-token") {
        const o = args({ dir: { type: "string" }, "delete-files": { type: "boolean" } });
        if (config.keyStore.kind !== "pkcs11") return fail("keys import-to-token needs SIDIAN_KEYSTORE=pkcs11:… naming the token");
        const r = await withToken(config, (token) => importServiceKeysToToken(typeof o.dir === "string" ? o.dir : config.keysDir, token!, { deleteFiles: Boolean(o["delete-files"]) }));
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        if (!o["delete-files"]) process.stdout.write("The key files are still in the folder: destroy them (and every copy) once the service runs from the token.\n");
        return 0;
      }
      if (sub === "rotate") {
        const o = args({ departments: { type: "boolean" }, department: { type: "string" }, service: { type: "string" }, "overlap-days": { type: "string" }, dir: { type: "string" } });
        if (o.departments && o.department) return fail("--departments and --department exclude each other");
        const roles = typeof o.service === "string" ? (o.service === "all" ? [...ROTATABLE_SERVICE_ROLES] : o.service.split(",").map((s) => s.trim()).filter(Boolean)) : [];
        for (const r of roles) if (!(ROTATABLE_SERVICE_ROLES as readonly string[]).includes(r)) return fail(`--service: ${r} is not one of tsa, token, log (or all)`);
        if (!o.departments && !o.department && roles.length === 0) return fail("keys rotate needs --departments, --department ID or --service tsa,token,log|all");
        const overlap = typeof o["overlap-days"] === "string" ? o["overlap-days"] : "30";
        if (!/^[1-9][0-9]{0,3}$/.test(overlap)) return fail("--overlap-days must be a whole number of days from 1 to 3650");
        const result: Record<string, unknown> = {};
        if (o.departments || o.department) {
          result.departments = await withContext(config, (ctx) => rotateDepartmentKeys(ctx, {
            ...(typeof o.department === "string" ? { departmentId: o.department } : {}), actor: CLI_ACTOR,
            progress: (line) => process.stderr.write(`${line}\n`),
          }));
        }
        if (roles.length) {
          let n = 0;
          result.service = await withToken(config, (token) => rotateServiceKeys({
            dir: typeof o.dir === "string" ? o.dir : config.keysDir, roles: roles as RotatableServiceRole[], overlapDays: Number(overlap),
            ...(token ? { serviceKeys: tokenServiceKeyGenerator(token) } : {}),
            progress: (step) => process.stderr.write(`[${++n}] ${step}\n`),
          }));
        }
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        return 0;
      }
      return fail("keys init|show|rotate|import-to-token");
    }
    case "departments": {
      if (sub === "create") {
        const o = args({ name: { type: "string" }, uscc: { type: "string" }, region: { type: "string" } });
        const d = await withContext(config, (ctx) => ctx.directory.createDepartment({ name: str(o.name, "name"), uscc: str(o.uscc, "uscc"), regionCode: str(o.region, "region") }, CLI_ACTOR));
        process.stdout.write(JSON.stringify(d, null, 2) + "\n");
        return 0;
      }
      if (sub === "list") {
        const items = await withContext(config, (ctx) => ctx.directory.listDepartments({ limit: 500 }));
        for (const d of items) process.stdout.write(`${d.id}  ${d.uscc}  ${d.regionCode}  ${d.name}\n`);
        return 0;
      }
      return fail("departments create|list");
    }
    case "clients": {
      if (sub === "create") {
        const o = args({ name: { type: "string" }, role: { type: "string" }, id: { type: "string" }, department: { type: "string" }, matters: { type: "string" } });
        const role = str(o.role, "role");
        if (!["admin", "issuer", "consumer", "counter", "archivist"].includes(role)) fail("--role must be admin, issuer, consumer, counter or archivist");
        const r = await withContext(config, (ctx) => ctx.directory.createClient({
          name: str(o.name, "name"), role: role as Role,
          ...(typeof o.id === "string" ? { id: o.id } : {}),
          departmentId: typeof o.department === "string" ? o.department : null,
          matters: typeof o.matters === "string" ? o.matters.split(",").map((s) => s.trim()).filter(Boolean) : [],
        }, CLI_ACTOR));
        process.stdout.write(`client_id=${r.client.id}\nclient_secret=${r.secret}\n(the secret is shown once; only its hash is stored)\n`);
        return 0;
      }
      if (sub === "list") {
        const items = await withContext(config, (ctx) => ctx.directory.listClients({ limit: 500 }));
        for (const c of items) process.stdout.write(`${c.id}  ${c.role}  ${c.status}  dept=${c.departmentId ?? "-"}  matters=${c.matters.join(",") || "-"}  ${c.name}\n`);
        return 0;
      }
      if (sub === "rotate") {
        const o = args({ id: { type: "string" } });
        const r = await withContext(config, (ctx) => ctx.directory.updateClient(str(o.id, "id"), { rotateSecret: true }, CLI_ACTOR));
        process.stdout.write(`client_id=${r.client.id}\nclient_secret=${r.secret}\n`);
        return 0;
      }
      return fail("clients create|list|rotate");
    }
    case "dev": {
      if (sub !== "holder-token") return fail("dev holder-token");
      const o = args({ code: { type: "string" }, "code-type": { type: "string" }, ttl: { type: "string" }, name: { type: "string" } });
      const m = await loadKeyMaterial(config.keysDir, { publicOnly: true });
      if (!m.dev || !m.idp.privateKey || !m.idp.kid) fail("dev holder-token works only with DEV key material that holds the dev IdP key");
      const token = await mintHolderToken({
        idpPrivateKey: m.idp.privateKey, kid: m.idp.kid, idpIssuer: config.idpIssuer, code: str(o.code, "code"),
        codeType: typeof o["code-type"] === "string" ? o["code-type"] : "111",
        ...(typeof o.name === "string" ? { name: o.name } : {}),
        ttlSeconds: typeof o.ttl === "string" ? Number(o.ttl) : 900,
      });
      process.stdout.write(token + "\n");
      return 0;
    }
    case "import": {
      if (!sub || sub.startsWith("-")) return fail("import FILE.ndjson --department ID [--errors FILE]");
      const o = args({ department: { type: "string" }, errors: { type: "string" } });
      const departmentId = str(o.department, "department");
      // Exit codes: 0 every line imported or replayed; 1 some lines failed (or their list could not be written);
      // 2 did not start (usage, unknown department, unreadable input, errors file that cannot be opened);
      // 3 stopped part-way by an internal failure (its cause is logged on stderr).
      let errors: fs.WriteStream | undefined;
      let errorsBroken: Error | undefined;
      // Opened (and known to be writable) before the first line is imported; importFile calls this once the
      // department and the input are known good, so a run that does not start leaves an earlier list as it was.
      const openErrors = () => new Promise<NodeJS.WritableStream>((resolve, reject) => {
        const w = fs.createWriteStream(o.errors as string, { flags: "w" });
        w.once("error", reject);
        w.once("open", () => {
          w.off("error", reject);
          w.on("error", (e) => (errorsBroken ??= e));
          resolve((errors = w));
        });
      });
      const log = pino({ ...loggerOptions(config), level: "warn" }, pino.destination(2));
      let r;
      try {
        r = await withContext(config, (ctx) => importFile(ctx, { file: sub, departmentId, ...(typeof o.errors === "string" ? { errors: openErrors } : {}) }), { log });
      } catch (e) {
        if (e instanceof AppError || (e as NodeJS.ErrnoException).code) return fail(e instanceof AppError ? `${e.code}: ${e.message}` : (e as Error).message);
        throw e;
      }
      if (errors) await new Promise<void>((res) => (errors as fs.WriteStream).end(res));
      process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      if (r.stopped) return 3;
      if (errorsBroken) {
        process.stderr.write(`sidian: the list of failed lines could not be written: ${errorsBroken.message}\n`);
        return 1;
      }
      return r.failed > 0 ? 1 : 0;
    }
    case "db": {
      if (sub === "copy") {
        const o = args({ from: { type: "string" }, to: { type: "string" }, restart: { type: "boolean" } });
        return dbCopyCommand(config, str(o.from, "from"), str(o.to, "to"), { restart: Boolean(o.restart) });
      }
      const [file, ...more] = rest;
      if ((sub !== "backup" && sub !== "restore") || !file || file.startsWith("-")) return fail("db backup|restore FILE [--force] | db copy --from A --to B [--restart]");
      const o = args({ force: { type: "boolean" } }, more);
      return sub === "backup"
        ? dbBackupCommand(config, file, { force: Boolean(o.force) })
        : dbRestoreCommand(config, file, { force: Boolean(o.force) });
    }
    case "log": {
      if (sub === "audit") {
        const o = args({ json: { type: "boolean" } });
        const m = await loadKeyMaterial(config.keysDir, { publicOnly: true });
        const r = await logAudit({ dbPath: config.dbPath, publicKeyPem: m.log.publicKeyPem, previousPublicKeyPems: m.previous.log.map((l) => l.publicKeyPem), origin: config.logOrigin, json: Boolean(o.json) });
        return r.ok ? 0 : 1;
      }
      if (sub === "verify-proof") {
        const o = args({ proof: { type: "string" }, vkey: { type: "string" }, checkpoint: { type: "string" }, leaf: { type: "string" } });
        const v = await logVerifyProof({
          proofFile: str(o.proof, "proof"), vkey: str(o.vkey, "vkey"),
          ...(typeof o.checkpoint === "string" ? { checkpointFile: o.checkpoint } : {}),
          ...(typeof o.leaf === "string" ? { leafFile: o.leaf } : {}),
        });
        return v.result === "VALID" ? 0 : 1;
      }
      if (sub === "checkpoint") {
        const cp = await withContext(config, (ctx) => ctx.tlog.checkpoint());
        process.stdout.write(cp.note);
        return 0;
      }
      return fail("log audit|verify-proof|checkpoint");
    }
    case "archive": {
      if (sub === "build") {
        const [ref, ...more] = rest;
        if (!ref || ref.startsWith("-")) return fail("archive build CASE [--out FILE.zip] [--retention 30y]");
        const o = args({ out: { type: "string" }, retention: { type: "string" } }, more);
        const out = await withContext(config, (ctx) => archiveBuildCommand(ctx, ref, {
          ...(typeof o.out === "string" ? { out: o.out } : {}), ...(typeof o.retention === "string" ? { retention: o.retention } : {}),
        }, CLI_ACTOR));
        process.stdout.write(out);
        return 0;
      }
      if (sub === "recheck") {
        // Exit 0 every stored package passed, 1 one failed or could not be checked. Each run is logged (archive.checked).
        const o = args({ limit: { type: "string" } });
        if (o.limit !== undefined && !/^[1-9][0-9]{0,6}$/.test(String(o.limit))) return fail("--limit must be a whole number");
        const r = await withContext(config, (ctx) => ctx.archiveChecks.recheckAll({
          ...(o.limit !== undefined ? { limit: Number(o.limit) } : {}),
          onRun: (x) => process.stdout.write("error" in x
            ? `${x.archiveId}  ERROR  ${x.error}\n`
            : `${x.archiveId}  ${x.report.result.toUpperCase()}  log #${x.logIndex}  ${x.report.package.caseNo ?? ""}${x.report.result === "fail" ? `  failed: ${x.report.items.filter((i) => i.result === "fail").map((i) => i.id).join(", ")}` : ""}\n`),
        }));
        process.stdout.write(`${JSON.stringify(r)}\n`);
        return r.failed > 0 || r.errors > 0 ? 1 : 0;
      }
      if (sub === "check") {
        try {
          return await archiveCheckCommand(config, rest, { out: (x) => process.stdout.write(x), err: (x) => process.stderr.write(x) });
        } catch (e) {
          if (e instanceof AppError) return fail(`${e.code}: ${e.message}`);
          throw e;
        }
      }
      return fail("archive build|check|recheck");
    }
    case "stamp": {
      const out = await withContext(config, (ctx) => stampCommand(ctx, [sub, ...rest].filter((x): x is string => x !== undefined), CLI_ACTOR));
      process.stdout.write(out);
      return 0;
    }
    case "sign-external": {
      process.stdout.write(await signExternalCommand([sub, ...rest].filter((x): x is string => x !== undefined)));
      return 0;
    }
    case "verify": {
      // Exit 0 VALID, 1 INVALID, 3 INDETERMINATE; 2 when it could not verify (usage, a file that cannot be used).
      let r: { text: string; code: number };
      try {
        const args = [sub, ...rest].filter((x): x is string => x !== undefined);
        const publicKeys = async () => loadKeyMaterial(config.keysDir, { publicOnly: true });
        // A container or a material receipt (by its first bytes), else a PDF.
        const file = args.find((a) => !a.startsWith("-")) ?? "";
        // A licence JWS (either crypto profile) is checked by verifyCommand too (modules/licences/offline.ts).
        const kind = isLicenceJwsFile(file) ? "pdf" : detectKind(file);
        r = kind === "pdf"
          ? await verifyCommand(args, async () => (await publicKeys()).trustBundlePem, async () => {
            const m = await publicKeys();
            return [m.log.publicKeyPem, ...m.previous.log.map((l) => l.publicKeyPem)];
          })
          : await verifyMaterialCommand(kind, args, {
            bundlePem: async () => (await publicKeys()).trustBundlePem,
            receiptKeys: async () => {
              const m = await publicKeys();
              return [{ kid: m.token.kid, publicKey: m.token.publicKey }, ...m.previous.token.map((p) => ({ kid: p.kid, publicKey: p.publicKey }))];
            },
          });
      } catch (e) {
        if (e instanceof AppError) return fail(`${e.code}: ${e.message}`);
        throw e;
      }
      process.stdout.write(r.text);
      return r.code;
    }
    default:
      return fail(`unknown command ${cmd}\n\n${USAGE}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof AppError) {
      process.stderr.write(`sidian: ${e.code}: ${e.message}\n`);
      process.exit(e.code === "CONFIG_INVALID" || e.code === "DEV_KEYS_IN_PRODUCTION" || e.code === "KEYSTORE_LOCKED" ? 78 : 1);
    }
    if ((e as { code?: string }).code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" || (e as { code?: string }).code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      fail((e as Error).message);
    }
    process.stderr.write(`sidian: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  },
);

