/**
 * Archiving a closed case (issue 19 §2): the case's package — a BagIt bag (bag.ts) with its metadata (metadata.ts),
 * PREMIS-style events each with an inclusion proof to one signed checkpoint, and a CAdES signature (with an RFC 3161
 * time-stamp) over the tag manifest by the archiving department's certificate — zipped and stored.
 *
 * Order of work:
 *  1. the files are planned from what the case recorded (every SHA-256 is on record): the payload manifest is fixed;
 *  2. one transaction creates the archive (status `building`), marks the case `archived` and logs `case.archived`
 *     with the manifest's digest (DESIGN rule 5);
 *  3. a checkpoint covering that entry is published; every event's inclusion proof is taken against it;
 *  4. the zip is written as the bag is read (one payload file in memory at a time) into 1 MiB chunks, each sealed
 *     (AES-256-GCM, AAD `archive:<id>:<seq>`) as other stored blobs are, then the archive becomes `stored`.
 * A build that stops half-way leaves the archive `building`; `POST /cases/{id}/archive` again clears its chunks and
 * builds it anew under the same log entry. Downloading streams the chunks: memory stays at one chunk.
 *
 * One build at a time per archive, across instances: the archive row is the lease. A build takes it by
 * compare-and-set (`build_token`, `build_lease_until`: in the transaction that creates the archive, or that clears a
 * stopped build's chunks), renews it with every chunk it writes and on a timer, and stores the package only while it
 * still holds it. A second request while the lease runs gets 409 ARCHIVE_BUILD_IN_PROGRESS; a builder that crashed
 * stops renewing, and once its lease has run out (BUILD_LEASE_MS) the next request takes over. A builder that lost
 * its lease (paused past it) finds out at its next chunk and stops without touching the new builder's chunks.
 */
import { createHash, randomUUID } from "node:crypto";
import { Readable, Writable } from "node:stream";
import { AppError } from "../../errors.js";
import type { PiiProtector } from "../../crypto/pii.js";
import { maskCode } from "../../codes/index.js";
import { attribute, buildSignedData, CMS_OID } from "../../pki/cms.js";
import type { CertificateRecord, IssueDepartmentCertificateInput, IssuedCertificate, KeyStore, PkiRepos } from "../../pki/index.js";
import { parseCertificate } from "../../pki/reader.js";
import type { Tsa } from "../../pki/tsa.js";
import { createZipWriter } from "../../containers/zip/index.js";
import { uuidv7 } from "../../util/uuid7.js";
import type { DirectoryRepos } from "../directory/ports.js";
import { actorLabel, type Actor, type Clock, type TxHooks, type UnitOfWork } from "../kernel.js";
import { CASE_EVENTS, ownerOf, type CaseService } from "../cases/service.js";
import type { CaseItem, CaseRecord, CaseRepos } from "../cases/ports.js";
import { payloadManifest, writeBag, type BagSink, type PlannedFile } from "./bag.js";
import { caseJson, caseXml, PACKAGE_FORMAT, type CaseMeta, type Retention } from "./metadata.js";
import { inlineHasher, workerHasher, type Hasher } from "./hasher.js";
import { bagNameOf, PathSet, safeSegment } from "./names.js";

const EXT: Record<string, string> = { "application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png", "application/ofd": ".ofd", "application/json": ".json" };
import type { ArchiveRecord, ArchiveRepos } from "./ports.js";

/** The common name of the department certificate that signs its archival packages (profile `signer`). */
export const ARCHIVE_SIGNER_CN = "电子档案封装";

/** Stored package chunk size. */
export const CHUNK_BYTES = 1024 * 1024;

/** How long a build lease lasts without renewal (renewed with every chunk and every third of this). */
export const BUILD_LEASE_MS = 60_000;

type R = CaseRepos & ArchiveRepos & PkiRepos & DirectoryRepos;

/** The log, as the archive needs it: append in a transaction, publish a checkpoint, read entries and proofs. */
export interface ArchiveLog<RR> {
  append(repos: RR, tx: TxHooks, event: { type: string; subject: string; actor: string; holder?: string; data: Record<string, unknown> }): Promise<{ index: number }>;
  checkpoint(): Promise<{ size: number; note: string }>;
  getEntry(index: number): Promise<{ index: number; leafHash: string; leaf: string; event: { type: string; at: string; actor: string; holder?: string } }>;
  inclusionProof(q: { index: number; treeSize: number }): Promise<{ leafHash: string; hashes: string[]; treeSize: number }>;
  publicKey(): { origin: string; name: string; keyId: string; vkey: string; publicKeyPem: string };
}

export interface ArchiveDeps<RR extends R> {
  uow: UnitOfWork<RR>;
  clock: Clock;
  log: ArchiveLog<RR>;
  pii: PiiProtector;
  cases: CaseService;
  /** The licence's signed JWS (the licence as issued, at its current version record). */
  licenceJws(identifier: string): Promise<string>;
  /** A material's stored file (its bytes streamed from the materials store). */
  materialFile(identifier: string): Promise<{ name: string | null; mediaType: string; sha256: string; size: number; open(): AsyncIterable<Uint8Array> }>;
  matterName(code: string): Promise<string | null>;
  keyStore: KeyStore;
  tsa: Tsa;
  /** Issuing CA then root (DER), embedded after the signer's certificate. */
  chain: readonly Uint8Array[];
  issueCertificate(repos: RR, tx: TxHooks, input: IssueDepartmentCertificateInput, actor: Actor): Promise<IssuedCertificate>;
  /** Told the materials a stored package holds (a withdrawn one's bytes, kept for the case, may go now). */
  materialsArchived?(identifiers: string[]): Promise<void>;
  /** `Bag-Software-Agent`. */
  software: string;
}

/** An archive as callers see it: the stored record's public fields (ports.ts) and the case's number. */
export type ArchiveView = Pick<
  ArchiveRecord,
  | "id" | "caseId" | "departmentId" | "bagName" | "status" | "files" | "payloadOctets" | "manifestSha256" | "tagmanifestSha256"
  | "packageSha256" | "packageSize" | "certSerial" | "createdAt" | "storedAt" | "logIndex" | "releasedAt"
> & { caseNo: string };

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest();

function buildInProgress(a: ArchiveRecord): AppError {
  return new AppError("ARCHIVE_BUILD_IN_PROGRESS", "The case's package is being built by another request; ask again when it is done (GET /archives/{id}).", {
    details: { archiveId: a.id, ...(a.buildLeaseUntil ? { leaseUntil: a.buildLeaseUntil.toISOString() } : {}) },
  });
}
const leaseLost = (archiveId: string) => new AppError("ARCHIVE_BUILD_IN_PROGRESS", "This build's lease ran out and another build took the archive over.", { details: { archiveId, reason: "lease-lost" } });
const b64hex = (b64: string) => Buffer.from(b64, "base64").toString("hex");
const DAY = 86_400_000;

/** The PREMIS event types of a package, and what in the case each comes from. */
export type PackageEventType = "created" | "received" | "accessed" | "signed" | "stamped" | "closed" | "archived";

export function createArchiveService<RR extends R>(deps: ArchiveDeps<RR>) {
  const { uow, clock, log, pii } = deps;

  /** The case, for this caller (its owner; the system — the CLI — any case). */
  async function caseFor(repos: R, caseId: string, actor: Actor): Promise<CaseRecord> {
    const c = await repos.cases.byId(caseId);
    if (!c || (actor.kind !== "system" && c.owner !== ownerOf(actor))) throw new AppError("CASE_NOT_FOUND");
    return c;
  }

  /** Planned payload: what each item contributes, under collision-free NFC paths. */
  async function plan(c: CaseRecord, items: CaseItem[]): Promise<PlannedFile[]> {
    const kept = await uow.read.caseFiles.ofCase(c.id);
    const paths = new PathSet();
    const out: PlannedFile[] = [];
    const add = (folder: string, name: string, f: Omit<PlannedFile, "path" | "name">) => {
      const { path } = paths.claim(`data/${folder}`, name);
      out.push({ path, name, ...f });
    };
    const stored = (id: number, itemId: number, sha: string) => async () => {
      const sealed = await uow.read.caseFiles.bytes(id);
      if (!sealed) throw new AppError("INTERNAL", "A stored file of the case is missing.");
      return pii.openBytes(sealed, `case-file:${itemId}:${sha}`);
    };
    const seen = new Set<string>();
    for (const it of items) {
      const item = { kind: it.kind, ref: it.ref };
      const files = kept.filter((f) => f.itemId === it.id);
      if (it.kind === "licence") {
        // The licence as issued, once per licence however often it was attached.
        if (!seen.has(`licence:${it.ref}`)) {
          seen.add(`licence:${it.ref}`);
          const jws = Buffer.from(await deps.licenceJws(it.ref), "utf8");
          add("licences", `${it.ref}.jws`, { mediaType: "application/jose", role: "licence", item, sha256: sha256(jws).toString("hex"), size: jws.length, open: async () => jws });
        }
        for (const f of files) {
          const pdf = f.mediaType === "application/pdf";
          add("licences", pdf ? `${it.ref}.pdf` : `${it.ref}-copy.jws`, { mediaType: f.mediaType, role: pdf ? "licence-copy-pdf" : "licence-copy", item, sha256: f.sha256, size: f.size, open: stored(f.id, it.id, f.sha256) });
        }
      } else if (it.kind === "signature") {
        for (const f of files) {
          const pdf = f.mediaType === "application/pdf";
          add("signatures", pdf ? `${it.ref}.pdf` : `${it.ref}-evidence.json`, { mediaType: f.mediaType, role: pdf ? "signed-document" : "signing-evidence", item, sha256: f.sha256, size: f.size, open: stored(f.id, it.id, f.sha256) });
        }
      } else if (it.kind === "document") {
        for (const f of files) add("documents", f.name, { mediaType: f.mediaType, role: "stamped-document", item, sha256: f.sha256, size: f.size, open: stored(f.id, it.id, f.sha256) });
      } else if (!seen.has(`material:${it.ref}`)) {
        seen.add(`material:${it.ref}`);
        const m = await deps.materialFile(it.ref);
        const ext = EXT[m.mediaType] ?? "";
        add(`materials/${safeSegment(it.ref)}`, m.name ?? `${it.ref}${ext}`, { mediaType: m.mediaType, role: "material", item, sha256: m.sha256, size: m.size, open: async () => m.open() });
      }
    }
    return out;
  }

  /** The events of the case, in log order, each with its leaf hash and inclusion proof at `treeSize`. */
  async function events(c: CaseRecord, items: CaseItem[], archive: ArchiveRecord, treeSize: number) {
    const list: Array<{ type: PackageEventType; logIndex: number; object: string }> = [];
    list.push({ type: "created", logIndex: c.logIndex, object: `case:${c.id}` });
    const nums = (v: unknown): number[] => (Array.isArray(v) ? v : [v]).filter((x): x is number => Number.isSafeInteger(x));
    for (const it of items) {
      const object = `${it.kind}:${it.ref}`;
      for (const i of nums(it.detail.accessed)) list.push({ type: "accessed", logIndex: i, object });
      for (const i of nums(it.detail.signed)) list.push({ type: "signed", logIndex: i, object });
      for (const i of nums(it.detail.sealed)) list.push({ type: "stamped", logIndex: i, object });
      for (const i of nums(it.detail.stamped)) list.push({ type: "stamped", logIndex: i, object });
      // A material's registration (its receipt, 可信回执) is when the service received it.
      for (const i of nums(it.detail.registered)) list.push({ type: "received", logIndex: i, object });
      list.push({ type: "received", logIndex: it.logIndex, object });
    }
    if (c.closeLogIndex !== null) list.push({ type: "closed", logIndex: c.closeLogIndex, object: `case:${c.id}` });
    list.push({ type: "archived", logIndex: archive.logIndex, object: `archive:${archive.id}` });
    list.sort((a, b) => a.logIndex - b.logIndex);
    const out = [];
    let seq = 0;
    let last = -1;
    for (const e of list) {
      // One event per log entry: two items can rest on the same one (a licence and its 加注件 handed over by one
      // access; a material attached twice).
      if (e.logIndex === last) continue;
      last = e.logIndex;
      const entry = await log.getEntry(e.logIndex);
      const proof = await log.inclusionProof({ index: e.logIndex, treeSize });
      const namesHolder = entry.event.holder !== undefined || entry.event.actor.startsWith("holder:");
      out.push({
        seq: ++seq, type: e.type, at: entry.event.at, agent: entry.event.actor, object: e.object, logType: entry.event.type,
        logIndex: e.logIndex, leafHash: b64hex(proof.leafHash), inclusionProof: proof.hashes.map(b64hex), treeSize,
        // The leaf itself when it names no holder (one that does is shown to entitled readers only: DESIGN rule 7).
        ...(namesHolder ? {} : { leaf: entry.leaf }),
      });
    }
    return out;
  }

  /** The archiving department's `signer` certificate (P-256, valid for at least a day more), issued when it has none. */
  async function signerCert(departmentId: string, actor: Actor): Promise<CertificateRecord> {
    const now = clock.now().getTime();
    const usable = (c: CertificateRecord) => c.profile === "signer" && c.status === "valid" && c.keyId !== null && c.subject.includes(`CN=${ARCHIVE_SIGNER_CN}`)
      && c.notBefore.getTime() <= now && c.notAfter.getTime() > now + DAY && parseCertificate(c.der).signatureAlgorithm === "1.2.840.10045.4.3.2";
    const have = (await uow.read.certificates.listByDepartment(departmentId)).filter(usable).sort((a, b) => b.notAfter.getTime() - a.notAfter.getTime())[0];
    if (have) return have;
    const serial = await uow.write(async (repos, tx) => {
      const d = await repos.departments.byId(departmentId);
      if (!d) throw new AppError("DEPARTMENT_NOT_FOUND");
      return (await deps.issueCertificate(repos, tx, { department: d, profile: "signer", commonName: ARCHIVE_SIGNER_CN }, actor)).serial;
    });
    const c = await uow.read.certificates.get(serial);
    if (!c) throw new AppError("INTERNAL", "The department's signing certificate was issued but cannot be read.");
    return c;
  }

  /** Detached CAdES (CMS SignedData) over `data`, with the signature's RFC 3161 time-stamp as unsigned attribute. */
  async function sign(cert: CertificateRecord, data: Buffer): Promise<Buffer> {
    const info = parseCertificate(cert.der);
    return buildSignedData({
      eContentType: CMS_OID.data,
      contentDigest: sha256(data),
      signer: { der: cert.der, issuerDer: info.issuerDer, serial: cert.serial },
      certificates: [cert.der, ...deps.chain],
      sign: (d) => deps.keyStore.sign(cert.keyId!, d, { encoding: "der" }),
      unsignedAttrs: async (sv) => [attribute(CMS_OID.signatureTimeStampToken, (await deps.tsa.stamp(CMS_OID.sha256, sha256(sv), { certReq: true })).token)],
    });
  }

  /** A Writable that stores what it is given in sealed chunks of CHUNK_BYTES, hashing it as it passes. */
  function chunkStore(archiveId: string, hasher: Hasher, lease: { token: string; until: () => Date }) {
    const hash = hasher.stream(["sha256"]);
    const parts: Buffer[] = [];
    let held = 0;
    let seq = 0;
    let size = 0;
    const put = async (buf: Buffer) => {
      const n = seq++;
      const sealed = pii.sealBytes(buf, `archive:${archiveId}:${n}`);
      // Relaxed: the final `stored` commit is synced, and it makes these (earlier, same store) durable with it.
      await uow.write(async (repos) => {
        // Only while this build holds the lease: a builder that lost it never writes over the next one's chunks.
        if (!(await repos.archives.renewBuild(archiveId, lease.token, lease.until()))) throw leaseLost(archiveId);
        await repos.archiveChunks.insert(archiveId, n, sealed);
      }, { relaxed: true });
    };
    // Takes exactly one chunk's bytes off the front of `parts` (copying only when a chunk spans several writes).
    const takeChunk = (n: number): Buffer => {
      const first = parts[0]!;
      if (first.length >= n) {
        parts[0] = first.subarray(n);
        if (parts[0].length === 0) parts.shift();
        return first.subarray(0, n);
      }
      const out = Buffer.allocUnsafe(n);
      let off = 0;
      while (off < n) {
        const p = parts[0]!;
        const k = Math.min(p.length, n - off);
        p.copy(out, off, 0, k);
        off += k;
        if (k === p.length) parts.shift();
        else parts[0] = p.subarray(k);
      }
      return out;
    };
    const drain = async (all: boolean) => {
      while (held >= CHUNK_BYTES || (all && held > 0)) {
        const take = Math.min(CHUNK_BYTES, held);
        const chunk = takeChunk(take);
        held -= take;
        await put(chunk);
      }
    };
    const w = new Writable({
      highWaterMark: CHUNK_BYTES,
      write(chunk: Buffer, _enc, cb) {
        size += chunk.length;
        parts.push(chunk);
        held += chunk.length;
        const hashed = hash.update(chunk);
        if (held < CHUNK_BYTES) return void hashed.then(() => cb(), cb);
        Promise.all([hashed, drain(false)]).then(() => cb(), cb);
      },
      final(cb) {
        drain(true).then(() => cb(), cb);
      },
    });
    return { w, result: async () => ({ sha256: (await hash.digest())[0]!, size, chunks: seq }) };
  }

  async function view(a: ArchiveRecord): Promise<ArchiveView> {
    const c = await uow.read.cases.byId(a.caseId);
    return {
      id: a.id, caseId: a.caseId, caseNo: c?.caseNo ?? "", departmentId: a.departmentId, bagName: a.bagName, status: a.status, files: a.files,
      payloadOctets: a.payloadOctets, manifestSha256: a.manifestSha256, tagmanifestSha256: a.tagmanifestSha256, packageSha256: a.packageSha256,
      packageSize: a.packageSize, certSerial: a.certSerial, createdAt: a.createdAt, storedAt: a.storedAt, logIndex: a.logIndex,
      releasedAt: a.releasedAt,
    };
  }

  /** Archives a closed case: see the module comment for the order of work. Returns the stored archive. */
  async function archive(caseId: string, actor: Actor, opts: { retention?: Retention; /** Where digests are computed (default inline: a worker thread measured slower on a loaded 2-core machine; bench/archives.ts compares). */ hashOn?: "worker" | "inline" } = {}): Promise<ArchiveView> {
    const c0 = await caseFor(uow.read, caseId, actor);
    const existing = await uow.read.archives.byCase(c0.id);
    if (existing?.status === "stored") throw new AppError("CASE_ALREADY_ARCHIVED", undefined, { details: { archiveId: existing.id } });
    if (existing?.buildToken && existing.buildLeaseUntil && existing.buildLeaseUntil.getTime() > clock.now().getTime()) throw buildInProgress(existing);
    if (!existing && c0.status === "open") throw new AppError("CASE_NOT_ARCHIVABLE", "Close the case with its result before archiving it.", { details: { reason: "open" } });
    if (!c0.departmentId) throw new AppError("CASE_NOT_ARCHIVABLE", "The case has no department to archive it.", { details: { reason: "no-department" } });
    // The department's certificate signs the package: only for a department the caller may act for (never the word
    // of whoever opened the case).
    await deps.cases.departmentStands(c0, actor);
    const dept = await uow.read.departments.byId(c0.departmentId);
    if (!dept) throw new AppError("DEPARTMENT_NOT_FOUND");
    const items = await uow.read.caseItems.ofCase(c0.id);
    const files = await plan(c0, items);
    const manifestSha256 = sha256(Buffer.from(payloadManifest(files), "utf8")).toString("hex");
    const octets = files.reduce((n, f) => n + f.size, 0);
    const cert = await signerCert(dept.id, actor);
    const now = clock.now();

    const token = randomUUID();
    const leaseUntil = () => new Date(clock.now().getTime() + BUILD_LEASE_MS);
    const a: ArchiveRecord = await uow.write(async (repos, tx) => {
      const c = await caseFor(repos, caseId, actor);
      const ex = await repos.archives.byCase(c.id);
      if (ex) {
        // A build that stopped half-way (or whose builder died): the same archive (and log entry) is built anew from
        // what the case holds, once no other build holds its lease.
        if (ex.status === "stored") throw new AppError("CASE_ALREADY_ARCHIVED", undefined, { details: { archiveId: ex.id } });
        if (ex.manifestSha256 !== manifestSha256) throw new AppError("INTERNAL", "The case's files differ from those its archive entry recorded.");
        if (!(await repos.archives.claimBuild(ex.id, token, leaseUntil(), clock.now()))) throw buildInProgress(ex);
        await repos.archiveChunks.clear(ex.id);
        return { ...ex, buildToken: token };
      }
      {
        if (c.status !== "closed") {
          if (c.status === "archived") throw new AppError("CASE_ALREADY_ARCHIVED");
          throw new AppError("CASE_NOT_ARCHIVABLE", "Close the case with its result before archiving it.", { details: { reason: "open" } });
        }
        const id = uuidv7(now.getTime());
        const { index } = await log.append(repos, tx, {
          type: CASE_EVENTS.archived, subject: `case:${c.id}`, actor: actorLabel(actor), ...(c.applicantHash ? { holder: c.applicantHash } : {}),
          data: { caseId: c.id, archiveId: id, departmentId: dept.id, files: files.length, payloadOctets: octets, manifestSha256, format: PACKAGE_FORMAT },
        });
        const rec: ArchiveRecord = {
          id, caseId: c.id, departmentId: dept.id, bagName: bagNameOf(c.caseNo), status: "building", files: files.length, payloadOctets: octets,
          manifestSha256, tagmanifestSha256: null, packageSha256: null, packageSize: null, chunks: null, certSerial: null,
          createdBy: actorLabel(actor), createdAt: now, storedAt: null, logIndex: index, releasedAt: null, buildToken: token, buildLeaseUntil: leaseUntil(),
        };
        await repos.archives.insert(rec);
        await repos.cases.update(c.id, { status: "archived" });
        return rec;
      }
    });
    // Renewed on a timer too, for the stretches without chunks (checkpoint, proofs, the signature and its time-stamp).
    const heartbeat = setInterval(() => {
      uow.write((repos) => repos.archives.renewBuild(a.id, token, leaseUntil()), { relaxed: true }).catch(() => undefined);
    }, Math.floor(BUILD_LEASE_MS / 3));
    heartbeat.unref();
    let finished = false;
    let hasher: Hasher | undefined;
    try {
      const c = (await uow.read.cases.byId(c0.id))!;

      const cp = await log.checkpoint();
      const evs = await events(c, items, a, cp.size);
      const applicant = deps.cases.applicantOf(c);
      const meta: CaseMeta = {
        archiveId: a.id, caseId: c.id, caseNo: c.caseNo, title: c.title ?? `办件 ${c.caseNo}`, channel: c.channel,
        matter: { code: c.matterCode, name: c.matterCode ? await deps.matterName(c.matterCode) : null },
        department: { id: dept.id, name: dept.name, uscc: dept.uscc },
        applicant: applicant && c.applicantHash ? { name: applicant.name, codeType: applicant.codeType, codeMasked: maskCode(applicant.code), holderKey: c.applicantHash } : null,
        staff: deps.cases.staffOf(c), openedAt: c.openedAt.toISOString(), closedAt: c.closedAt?.toISOString() ?? null, result: c.result,
        archivedAt: a.createdAt.toISOString(), retention: opts.retention ?? "30y", eventCount: evs.length,
      };
      const key = log.publicKey();
      hasher = opts.hashOn === "worker" ? workerHasher() : inlineHasher();
      const store = chunkStore(a.id, hasher, { token, until: leaseUntil });
      const zip = createZipWriter(store.w, { mtime: a.createdAt });
      const sink: BagSink = { add: async (path, data, o) => void (await zip.addFile(path, data, { method: o.compress ? "deflate" : "store", ...(o.size !== undefined && !Buffer.isBuffer(data) ? { size: o.size } : {}) })) };
      const bag = await writeBag(sink, {
        bagName: a.bagName, files,
        bagInfo: [
          ["Source-Organization", dept.name], ["Sidian-Department-Code", dept.uscc], ["External-Identifier", c.caseNo], ["Sidian-Case-Id", c.id],
          ["Sidian-Archive-Id", a.id], ["Sidian-Matter-Code", c.matterCode ?? ""], ["Bag-Software-Agent", deps.software],
        ],
        baggingDate: a.createdAt.toISOString().slice(0, 10),
        metadata: (digested) => ({ caseXml: caseXml(meta, digested), caseJson: caseJson(meta, digested) }),
        events: { format: "sidian-premis-events/1", checkpoint: "metadata/checkpoint.txt", logOrigin: key.origin, treeSize: cp.size, events: evs },
        checkpoint: cp.note,
        logKeys: { origin: key.origin, keys: [{ name: key.name, keyId: key.keyId, vkey: key.vkey, publicKeyPem: key.publicKeyPem }] },
        sign: (tm) => sign(cert, tm),
        hasher,
      });
      await zip.finish();
      await new Promise<void>((resolve, reject) => store.w.end((e?: Error | null) => (e ? reject(e) : resolve())));
      const r = await store.result();
      const patch = {
        tagmanifestSha256: bag.tagmanifestSha256, packageSha256: r.sha256, packageSize: r.size, chunks: r.chunks,
        // Held until 四性检测 at the archiving stage passes (check-before-release: release.ts, check/runs.ts).
        certSerial: cert.serial, storedAt: clock.now(), releasedAt: null,
      };
      if (!(await uow.write((repos) => repos.archives.finishBuild(a.id, token, patch)))) throw leaseLost(a.id);
      finished = true;
      const mats = items.filter((i) => i.kind === "material").map((i) => i.ref);
      if (mats.length && deps.materialsArchived) await deps.materialsArchived([...new Set(mats)]).catch(() => undefined);
      return view({ ...a, ...patch, status: "stored", buildToken: null, buildLeaseUntil: null });
    } finally {
      clearInterval(heartbeat);
      await hasher?.close();
      // A build that failed gives its lease up: the next request builds at once (a crashed one's lease runs out).
      if (!finished) await uow.write((repos) => repos.archives.releaseBuild(a.id, token)).catch(() => undefined);
    }
  }

  /** An archive is visible to its case's owner and to the archivists of its department; CASE/ARCHIVE_NOT_FOUND else. */
  async function visible(id: string, actor: Actor): Promise<ArchiveRecord> {
    const a = await uow.read.archives.byId(id);
    if (!a) throw new AppError("ARCHIVE_NOT_FOUND");
    if (actor.kind === "system") return a;
    if (actor.kind === "client" && actor.role === "archivist" && actor.departmentId === a.departmentId) return a;
    const c = await uow.read.cases.byId(a.caseId);
    if (!c || c.owner !== ownerOf(actor)) throw new AppError("ARCHIVE_NOT_FOUND");
    return a;
  }

  /**
   * The stored package (zip) as a stream of its decrypted chunks; one chunk in memory at a time. A package not yet
   * released (四性检测 at archiving has not passed) is ARCHIVE_NOT_RELEASED, except to the checker itself (`held`).
   */
  async function packageStream(id: string, actor: Actor, opts: { held?: boolean } = {}): Promise<{ stream: Readable; size: number; sha256: string; filename: string }> {
    const a = await visible(id, actor);
    if (a.status !== "stored" || a.chunks === null || a.packageSize === null || !a.packageSha256) throw new AppError("ARCHIVE_NOT_STORED");
    if (!a.releasedAt && !opts.held) throw new AppError("ARCHIVE_NOT_RELEASED", undefined, { details: { archiveId: a.id } });
    const chunks = a.chunks;
    async function* read() {
      for (let seq = 0; seq < chunks; seq++) {
        const sealed = await uow.read.archiveChunks.get(a.id, seq);
        if (!sealed) throw new AppError("INTERNAL", `Chunk ${seq} of archive ${a.id} is missing.`);
        yield pii.openBytes(sealed, `archive:${a.id}:${seq}`);
      }
    }
    return { stream: Readable.from(read(), { objectMode: false }), size: a.packageSize, sha256: a.packageSha256, filename: `${a.bagName}.zip` };
  }

  return {
    archive,
    get: async (id: string, actor: Actor) => view(await visible(id, actor)),
    byCase: async (caseId: string, actor: Actor) => {
      const c = await caseFor(uow.read, caseId, actor);
      const a = await uow.read.archives.byCase(c.id);
      if (!a) throw new AppError("ARCHIVE_NOT_FOUND");
      return view(a);
    },
    packageStream,
  };
}

export type ArchiveService = ReturnType<typeof createArchiveService>;
