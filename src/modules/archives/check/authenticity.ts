/**
 * 真实性 (DA/T 70 authenticity): structure of the bag, payload and tag digests against the manifests, the package
 * signature and its time-stamps (with renewals), every signed PDF (Sidian's validator on the worker pool), every JWS,
 * every event's inclusion proof against the included checkpoint and that checkpoint against the configured log key,
 * metadata values in range, and each file's attributes (size, format, digests) against the metadata.
 */
import { isUscc } from "../../../codes/index.js";
import { chainOk } from "./jws.js";
import { parseCompact, verifyEs256 } from "../../licences/jws.js";
import { cachedCertificate } from "../../../pki/cache.js";
import { verifyCheckpoint, type VerifiedCheckpoint } from "../../tlog/checkpoint.js";
import { leafHash as hashLeaf, verifyInclusion } from "../../tlog/merkle.js";
import { isObj } from "./bag.js";
import { itemMaker, type CheckContext } from "./context.js";
import { SIGNATURE_PATH, verifyPackageSignature, verifyRenewals, tsaCertOf } from "./evidence.js";
import { ARCHIVAL_FORMATS, fits } from "./formats.js";
import { bagInfoOne } from "./model.js";
import type { CheckItem } from "./report.js";
import crypto from "node:crypto";

const HEX64 = /^[0-9a-f]{64}$/;
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
/** docs/archives.md: retention {period: permanent|30y|10y, code: Y|D30|D10, zh: 永久|30年|10年}. */
export const RETENTION_PERIODS = new Set(["permanent", "30y", "10y"]);
const RETENTION_CODES: Readonly<Record<string, [string, string]>> = { permanent: ["Y", "永久"], "30y": ["D30", "30年"], "10y": ["D10", "10年"] };
export const EVENT_TYPES = new Set(["created", "received", "accessed", "signed", "stamped", "closed", "archived"]);

export const isoTime = (v: unknown): Date | null => {
  if (typeof v !== "string" || !ISO_DATE_TIME.test(v)) return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
};

/** Decodes a hash given as hex (the layout) or base64 (the log's own API); null when it is neither 32 bytes. */
export function hash32(v: unknown): Buffer | null {
  if (typeof v !== "string") return null;
  if (/^[0-9a-fA-F]{64}$/.test(v)) return Buffer.from(v, "hex");
  if (/^[A-Za-z0-9+/]{43}=$/.test(v)) return Buffer.from(v, "base64");
  return null;
}

export async function authenticity(ctx: CheckContext): Promise<CheckItem[]> {
  const { scan, model: m, trust } = ctx;
  const item = itemMaker(ctx, "authenticity");
  const items: CheckItem[] = [];

  // 1. bag structure --------------------------------------------------------------------------------------------
  {
    const b = item("bag-structure", "信息包目录结构规范性（BagIt 1.0）");
    if (m.bagitProblems === null) b.fail("bagit.txt", "missing: not a BagIt bag");
    else for (const p of m.bagitProblems) b.fail("bagit.txt", p);
    for (const p of m.bagInfoProblems) b.fail("bag-info.txt", p);
    for (const [f, ps] of m.manifestProblems) for (const p of ps) b.fail(f, p);
    for (const [f, why] of scan.tagErrors) b.fail(f, `cannot be read: ${why}`);
    // A zip holds no empty folder: a bag whose (signed) Payload-Oxum says its payload is empty (0.0) needs no data/ entry.
    if (!scan.source.files.some((f) => f.path.startsWith("data/")) && bagInfoOne(m, "Payload-Oxum") !== "0.0") b.fail("data/", "the bag has no payload folder");
    items.push(b.done("BagIt 1.0, UTF-8 tag files, manifests well formed"));
  }

  // 2. payload digests against both manifests ---------------------------------------------------------------------
  {
    const b = item("payload-digests", "内容数据摘要值与清单一致（SHA-256、SM3）");
    let n = 0;
    for (const [name, lines, alg] of [["manifest-sha256.txt", m.manifests.sha256, "sha256"], ["manifest-sm3.txt", m.manifests.sm3, "sm3"]] as const) {
      if (!lines) {
        b.fail(name, "missing");
        continue;
      }
      for (const l of lines) {
        const f = scan.facts.get(l.path);
        if (!f) continue; // a listed file that is missing: integrity.files-present
        n++;
        if (f[alg] !== l.digest) b.fail(l.path, `${alg} is ${f[alg]}, ${name} line ${l.line} says ${l.digest}`);
      }
    }
    items.push(b.done(`${n} digest(s) match (SHA-256 and SM3)`));
  }

  // 3. tag manifest ----------------------------------------------------------------------------------------------
  {
    const b = item("tag-manifest", "标签文件摘要值与标签清单一致");
    const lines = m.manifests.tag;
    if (!lines) b.fail("tagmanifest-sha256.txt", "missing");
    else {
      const listed = new Set(lines.map((l) => l.path));
      for (const l of lines) {
        const f = scan.facts.get(l.path);
        if (!f) b.fail(l.path, `listed in tagmanifest-sha256.txt line ${l.line} but not in the package`);
        else if (f.sha256 !== l.digest) b.fail(l.path, `sha256 is ${f.sha256}, tagmanifest-sha256.txt line ${l.line} says ${l.digest}`);
        if (l.path.startsWith("data/")) b.fail(l.path, "a payload file in the tag manifest");
      }
      for (const f of scan.source.files) {
        if (f.path.startsWith("data/") || f.path.startsWith("signature/") || f.path === "tagmanifest-sha256.txt") continue;
        if (!listed.has(f.path)) b.fail(f.path, "a tag file the tag manifest does not cover (so the signature does not either)");
      }
    }
    items.push(b.done(`${lines?.length ?? 0} tag file(s) match`));
  }

  // 4/5. signature and time-stamps ---------------------------------------------------------------------------------
  const tm = scan.tags.get("tagmanifest-sha256.txt");
  const p7s = scan.tags.get(SIGNATURE_PATH);
  const sig = p7s && tm ? await verifyPackageSignature(p7s, tm, trust, ctx.now) : null;
  {
    const b = item("signature", "信息包电子签名（CAdES，覆盖标签清单）有效且可信");
    if (!p7s) b.fail(SIGNATURE_PATH, "missing: the package is not signed");
    else if (!tm) b.fail("tagmanifest-sha256.txt", "missing: nothing the signature could cover");
    else if (sig!.problem) b.fail(SIGNATURE_PATH, sig!.problem);
    items.push(b.done(`signed by ${sig?.signer?.subject ?? "?"}; chains to ${trust.anchors.map((a) => a.subject).join(" / ")}`));
  }
  {
    const b = item("timestamp", "签名时间戳（RFC 3161）及续期时间戳有效");
    let found = "";
    if (!sig) b.fail(SIGNATURE_PATH, "no signature, so no time-stamp");
    else if (sig.timestampProblem) b.fail(SIGNATURE_PATH, `time-stamp: ${sig.timestampProblem}`);
    else found = `time-stamped ${sig.timestamp!.genTime!.toISOString()} by ${sig.timestamp!.tsa}`;
    const renewals = await verifyRenewals(scan.tags, sig?.timestamp ?? null, trust);
    for (const r of renewals) if (r.problem) b.fail(r.path, r.problem);
    const stray = scan.source.files.filter((f) => /^signature\/renewal-/.test(f.path) && !renewals.some((r) => r.path === f.path));
    for (const f of stray) b.fail(f.path, "a renewal out of sequence (renewal-1 … renewal-n, no gaps)");
    // The newest evidence must still be verifiable today: its TSA certificate not expired.
    const newest = renewals.length ? renewals[renewals.length - 1]!.verification : sig?.timestamp ?? null;
    const cert = tsaCertOf(newest);
    if (cert && ctx.now > cert.notAfter) {
      b.fail(renewals.length ? renewals[renewals.length - 1]!.path : SIGNATURE_PATH, `the newest time-stamp's certificate expired ${cert.notAfter.toISOString()} and was not renewed`);
    }
    if (renewals.length) found += `; ${renewals.length} renewal(s), newest ${renewals[renewals.length - 1]!.verification.genTime?.toISOString() ?? "?"}`;
    if (cert) found += `; newest TSA certificate valid until ${cert.notAfter.toISOString()}`;
    items.push(b.done(found));
  }

  // 6. signed PDFs ---------------------------------------------------------------------------------------------------
  {
    const b = item("signed-pdfs", "内容中签名/签章PDF验证通过（Sidian 验证器）");
    let signed = 0;
    for (const [path, c] of scan.content) {
      if (!c.pdf) {
        if (c.notExamined && /\.pdf$/i.test(path)) b.fail(path, `not validated: ${c.notExamined}`);
        continue;
      }
      const v = c.pdf;
      if (v.signatures.length === 0) {
        if (/^data\/(documents|signatures)\//.test(path)) b.fail(path, "a signed document or signing record without any signature");
        continue;
      }
      signed++;
      if (v.result !== "VALID") {
        const bad = [...v.checks.filter((x) => x.status !== "PASSED" && x.id !== "signatures"), ...v.signatures.flatMap((s) => s.checks.filter((x) => x.status !== "PASSED").map((x) => ({ ...x, id: `signature #${s.index} ${x.id}` })))];
        b.fail(path, `${v.result}: ${bad.slice(0, 3).map((x) => `${x.id}: ${x.detail}`).join("; ") || "not valid"}`);
      }
    }
    items.push(signed === 0 && !b.failed ? b.notApplicable("no signed PDF in the package") : b.done(`${signed} signed PDF(s) valid`));
  }

  // 7. JWS ------------------------------------------------------------------------------------------------------------
  {
    const b = item("jws", "电子证照（JWS）签名验证通过");
    let n = 0;
    for (const [path, c] of scan.content) {
      if (c.jws === undefined) continue;
      n++;
      const problem = await verifyJws(c.jws.trim(), ctx);
      if (problem) b.fail(path, problem);
    }
    items.push(n === 0 ? b.notApplicable("no JWS in the package") : b.done(`${n} JWS verified (ES256, x5c chains to a configured anchor)`));
  }

  // 8. log inclusion proofs -----------------------------------------------------------------------------------------------
  items.push(logProofs(ctx, item("log-proofs", "过程事件存证：透明日志包含证明与签名检查点有效")));

  // 9. metadata values ----------------------------------------------------------------------------------------------------
  items.push(metadataValues(ctx, item("metadata-values", "元数据格式规范、取值在值域内、与 bag-info 一致")));

  // 10. file attributes ------------------------------------------------------------------------------------------------------
  {
    const b = item("file-attributes", "内容数据电子属性（大小、格式、摘要）与元数据一致");
    let n = 0;
    for (const f of m.files) {
      const facts = scan.facts.get(f.path);
      if (!facts) continue; // missing: integrity
      n++;
      if (f.size !== facts.size) b.fail(f.path, `size is ${facts.size}, metadata says ${JSON.stringify(f.size)}`);
      if (f.sha256 !== facts.sha256) b.fail(f.path, `sha256 is ${facts.sha256}, metadata says ${JSON.stringify(f.sha256)}`);
      if (f.sm3 !== facts.sm3) b.fail(f.path, `sm3 is ${facts.sm3}, metadata says ${JSON.stringify(f.sm3)}`);
      if (typeof f.format !== "string" || !fits(f.format, facts.sniffed)) {
        b.fail(f.path, `the content is ${facts.sniffDetail ?? facts.sniffed}, metadata says ${JSON.stringify(f.format)}`);
      }
    }
    if (!m.caseJson) b.fail("metadata/case.json", "missing or unreadable: no attributes to compare");
    items.push(b.done(`${n} file(s): size, format, SHA-256 and SM3 as the metadata says`));
  }
  return items;
}

async function verifyJws(text: string, ctx: CheckContext): Promise<string | null> {
  const p = parseCompact(text);
  if (typeof p === "string") return p;
  if (p.header.alg !== "ES256") return `algorithm ${String(p.header.alg)} is not allowed (ES256 only)`;
  const x5c = p.header.x5c;
  if (!Array.isArray(x5c) || x5c.length === 0 || x5c.some((c) => typeof c !== "string")) return "no x5c certificate chain in the header";
  let certs;
  try {
    certs = x5c.map((c) => cachedCertificate(Buffer.from(c, "base64")));
  } catch (e) {
    return `an x5c certificate cannot be read: ${(e as Error).message}`;
  }
  const leaf = certs[0]!;
  let key;
  try {
    key = crypto.createPublicKey({ key: Buffer.from(leaf.spki), format: "der", type: "spki" });
  } catch {
    return "the x5c certificate's key cannot be used";
  }
  if (!verifyEs256(key, p.signingInput, p.signature)) return `the signature does not verify with the key of ${leaf.subject}`;
  const iat = isObj(p.payload) && typeof p.payload.iat === "number" && Number.isFinite(p.payload.iat) ? new Date(p.payload.iat * 1000) : ctx.now;
  return chainOk(leaf, certs.slice(1), ctx.trust, iat);
}

function logProofs(ctx: CheckContext, b: ReturnType<ReturnType<typeof itemMaker>>): CheckItem {
  const { model: m, scan, trust } = ctx;
  const note = scan.tags.get("metadata/checkpoint.txt");
  let cp: VerifiedCheckpoint | null = null;
  if (!note) b.fail("metadata/checkpoint.txt", "missing");
  else if (!trust.logKey) b.fail("metadata/checkpoint.txt", "no log key is configured (--log-key / the keys folder): the checkpoint cannot be verified");
  else {
    try {
      cp = verifyCheckpoint(note.toString("utf8"), trust.logKey, trust.logOrigin !== undefined ? { origin: trust.logOrigin } : {});
    } catch (e) {
      b.fail("metadata/checkpoint.txt", `not a checkpoint signed by the configured log key ${trust.logKey.name}: ${(e as Error).message}`);
    }
  }
  if (!m.events) {
    b.fail("metadata/events.json", m.eventsProblems[0] ?? "missing");
    return b.done("");
  }
  let n = 0;
  for (const { index, raw: e } of m.events) {
    const subject = `metadata/events.json events[${index}] (${String(e.type)})`;
    const lh = hash32(e.leafHash);
    const proof = Array.isArray(e.inclusionProof) && e.inclusionProof.length <= ctx.limits.maxProofHashes ? e.inclusionProof.map(hash32) : null;
    const idx = e.logIndex;
    const size = e.treeSize;
    if (!lh) { b.fail(subject, "leafHash is not a SHA-256 hash"); continue; }
    if (!proof || proof.some((h) => h === null)) { b.fail(subject, "inclusionProof is not a list of SHA-256 hashes"); continue; }
    if (typeof idx !== "number" || !Number.isSafeInteger(idx) || idx < 0 || typeof size !== "number" || !Number.isSafeInteger(size) || idx >= size) {
      b.fail(subject, "logIndex and treeSize are not a valid position in a tree"); continue;
    }
    if (typeof e.leaf === "string" && !hashLeaf(Buffer.from(e.leaf, "utf8")).equals(lh)) { b.fail(subject, "the leaf does not hash to leafHash"); continue; }
    if (!cp) continue;
    if (size !== cp.size) { b.fail(subject, `the proof is for tree size ${size}, the checkpoint is size ${cp.size}`); continue; }
    if (!verifyInclusion(idx, size, lh, proof as Buffer[], cp.root)) { b.fail(subject, `entry ${idx} is not proven in the checkpoint's tree (size ${size}): the inclusion proof is broken`); continue; }
    n++;
  }
  return b.done(`${n} event(s) proven in the log (checkpoint size ${cp?.size ?? "?"}, signed by ${trust.logKey?.name ?? "?"})`);
}

function metadataValues(ctx: CheckContext, b: ReturnType<ReturnType<typeof itemMaker>>): CheckItem {
  const m = ctx.model;
  const cj = "metadata/case.json";
  for (const p of m.caseJsonProblems) b.fail(cj, p);
  for (const p of m.xmlProblems) b.fail("metadata/case.xml", p);
  for (const p of m.eventsProblems) b.fail("metadata/events.json", p);
  const c = m.caseJson && isObj(m.caseJson.case) ? m.caseJson.case : null;
  const str = (v: unknown) => typeof v === "string" && v.length > 0 && v.length <= 2000 && !/[\u0000-\u001f\u202a-\u202e]/.test(v);
  if (c) {
    for (const k of ["caseNo", "title", "matterCode"] as const) if (c[k] !== undefined && !str(c[k])) b.fail(`${cj} case.${k}`, "not a one-line text");
    const dep = isObj(c.department) ? c.department : null;
    if (dep && typeof dep.uscc === "string" && !isUscc(dep.uscc)) b.fail(`${cj} case.department.uscc`, `${dep.uscc} is not a valid unified social credit code (check character)`);
    const opened = c.openedAt === undefined ? undefined : isoTime(c.openedAt);
    const closed = c.closedAt === undefined ? undefined : isoTime(c.closedAt);
    if (opened === null) b.fail(`${cj} case.openedAt`, `${JSON.stringify(c.openedAt)} is not an ISO 8601 date-time`);
    if (closed === null) b.fail(`${cj} case.closedAt`, `${JSON.stringify(c.closedAt)} is not an ISO 8601 date-time`);
    if (opened && closed && closed < opened) b.fail(`${cj} case.closedAt`, "before case.openedAt");
    if (closed && closed > ctx.now) b.fail(`${cj} case.closedAt`, "in the future");
    // bag-info agrees with the metadata
    const ext = bagInfoOne(m, "External-Identifier");
    if (ext !== null && c.caseNo !== undefined && ext !== c.caseNo) b.fail("bag-info.txt External-Identifier", `${ext}, case.json caseNo is ${JSON.stringify(c.caseNo)}`);
    const code = bagInfoOne(m, "Sidian-Department-Code");
    if (code !== null && dep && dep.uscc !== undefined && code !== dep.uscc) b.fail("bag-info.txt Sidian-Department-Code", `${code}, case.json says ${JSON.stringify(dep.uscc)}`);
    const matter = bagInfoOne(m, "Sidian-Matter-Code");
    if (matter !== null && c.matterCode !== undefined && matter !== c.matterCode) b.fail("bag-info.txt Sidian-Matter-Code", `${matter}, case.json says ${JSON.stringify(c.matterCode)}`);
    const org = bagInfoOne(m, "Source-Organization");
    if (org !== null && dep && dep.name !== undefined && org !== dep.name) b.fail("bag-info.txt Source-Organization", `${org}, case.json department is ${JSON.stringify(dep.name)}`);
    if (m.xmlTexts && typeof c.caseNo === "string") {
      const x = m.xmlTexts.get("caseNo") ?? m.xmlTexts.get("CaseNo") ?? m.xmlTexts.get("案卷号") ?? m.xmlTexts.get("办件编号");
      if (x !== undefined && x !== c.caseNo) b.fail("metadata/case.xml caseNo", `${x}, case.json says ${c.caseNo}`);
    }
  }
  const ret = m.caseJson?.retention;
  const period = isObj(ret) ? ret.period : ret;
  if (ret !== undefined && !(typeof period === "string" && RETENTION_PERIODS.has(period))) b.fail(`${cj} retention`, `${JSON.stringify(period)} is not a retention period (permanent 永久, 30y 30年, 10y 10年)`);
  else if (isObj(ret) && typeof period === "string") {
    const [code, zh] = RETENTION_CODES[period]!;
    if ((ret.code !== undefined && ret.code !== code) || (ret.zh !== undefined && ret.zh !== zh)) b.fail(`${cj} retention`, `period ${period} with code ${JSON.stringify(ret.code)} and ${JSON.stringify(ret.zh)} (expected ${code}, ${zh})`);
  }
  for (const f of m.files) {
    const s = `${cj} files[${f.index}] ${f.path}`;
    if (!f.path.startsWith("data/") || f.path.normalize("NFC") !== f.path) b.fail(s, "path is not an NFC path under data/");
    if (f.size !== undefined && !(typeof f.size === "number" && Number.isSafeInteger(f.size) && f.size >= 0)) b.fail(s, "size is not a whole number of bytes");
    for (const k of ["sha256", "sm3"] as const) if (f[k] !== undefined && !(typeof f[k] === "string" && HEX64.test(f[k] as string))) b.fail(s, `${k} is not 64 lower-case hex digits`);
    if (f.format !== undefined && !(typeof f.format === "string" && /^[a-z]+\/[a-z0-9.+-]+$/.test(f.format))) b.fail(s, "format is not a MIME type");
    if (f.name !== undefined && !str(f.name)) b.fail(s, "name is not a one-line text");
  }
  const date = bagInfoOne(m, "Bagging-Date");
  if (date !== null && (!/^\d{4}-\d{2}-\d{2}$/.test(date) || Number.isNaN(new Date(`${date}T00:00:00Z`).getTime()) || new Date(`${date}T00:00:00Z`).toISOString().slice(0, 10) !== date)) {
    b.fail("bag-info.txt Bagging-Date", `${date} is not a date (YYYY-MM-DD)`);
  }
  const oxum = bagInfoOne(m, "Payload-Oxum");
  if (oxum !== null && !/^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$/.test(oxum)) b.fail("bag-info.txt Payload-Oxum", `${oxum} is not octets.count`);
  for (const { index, raw: e } of m.events ?? []) {
    const s = `metadata/events.json events[${index}]`;
    if (!EVENT_TYPES.has(e.type as string)) b.fail(s, `type ${JSON.stringify(e.type)} is not one of ${[...EVENT_TYPES].join(", ")}`);
    if (!isoTime(e.at)) b.fail(s, `at ${JSON.stringify(e.at)} is not an ISO 8601 date-time`);
    else if (isoTime(e.at)! > ctx.now) b.fail(s, "at is in the future");
  }
  const formats = m.files.map((f) => f.format).filter((x): x is string => typeof x === "string");
  return b.done(`case.json, case.xml, events.json and bag-info.txt well formed and in range (${formats.filter((x) => ARCHIVAL_FORMATS.has(x)).length} archival format(s) named)`);
}

