/**
 * Validation of signed PDFs (PAdES / adbe.pkcs7.detached). Returns a verdict (DESIGN rule 4), never throws, except
 * PDF_LIMIT_EXCEEDED for a document over a limit of limits.ts (refused, not judged). The verdict has
 * document-level checks and, per signature, one check per concern:
 *
 *   byte-range    /ByteRange is [0 a b c], starts at 0, its gap is exactly this signature's /Contents hex string
 *                 (signature wrapping), ends at the end of a revision (%%EOF), and the signed revision's own
 *                 cross-reference puts the signature dictionary where it is (no duplicated keys either)
 *   contents      /Contents holds a CMS SignedData (not missing, not zeroed: universal signature forgery)
 *   digest        the message-digest attribute equals the hash of the byte ranges
 *   signature     the CMS signature verifies with the signer certificate; ESS signing-certificate(-v2) names it
 *   timestamp     RFC 3161 signature time-stamp: imprint = hash of the signature value, TSA signature and chain
 *   certificate   chain to the configured trust anchors at the time-stamp time (or now), revocation when known
 *   seal          for Sidian seal certificates: the seal's status and validity at signing time
 *   modifications what later incremental updates changed: allowed (signatures, their widgets and fields,
 *                 AcroForm/DSS bookkeeping) or not (page content, resources, other annotations, swapped objects:
 *                 incremental saving and shadow attacks); and whether the signature covers the whole file
 */
import crypto from "node:crypto";
import { AppError } from "../errors.js";
import type { CheckStatus, RevocationStatus } from "../pki/chain.js";
import { parseSignedData, type ParsedSignedData } from "../pki/cms.js";
import { readNode } from "../pki/der.js";
import type { CertInfo } from "../pki/reader.js";
import {
  certificateCheck, checkMessageDigest, checkSigner, contentTypeIsData, timestampCheck, verifySignatureTimestamp, verifySignerChain, type SignerCheck,
} from "../pki/signer-info.js";
import { OID } from "../pki/profiles.js";
import { embeddedEvidence, judgeSealStatus, readSealStatus, type SealStatusStatement } from "../pki/seal-status.js";
import { PdfDict, PdfRef, PdfString, type PdfObj } from "./objects.js";
import { analyse, docMdp, type ModResult } from "./changes.js";
import { limitExceeded, PDF_LIMITS } from "./limits.js";
import { openPdf, type PdfDocument } from "./reader.js";

export type Status = CheckStatus;
export type Check = SignerCheck;
export type Result = "VALID" | "INVALID" | "INDETERMINATE";

export interface SignatureReport {
  index: number;
  field: string | null;
  subFilter: string | null;
  signer: string | null;
  signerSerial: string | null;
  sealId: string | null;
  /** /M of the signature dictionary (claimed, not trusted). */
  claimedTime: string | null;
  /** Time from the signature time-stamp, when valid. */
  timestampTime: string | null;
  byteRange: number[] | null;
  coversWholeFile: boolean;
  /** Revisions appended after this signature's revision. */
  laterRevisions: number;
  result: Result;
  checks: Check[];
}

export interface PdfVerdict {
  result: Result;
  checks: Check[];
  document: { size: number; sha256: string; revisions: number; pages: number | null };
  signatures: SignatureReport[];
}

export interface SealStatusInfo {
  status: "active" | "suspended" | "revoked";
  reason: string | null;
  validFrom: Date;
  validTo: Date;
}

export interface VerifyPdfDeps {
  anchors: readonly CertInfo[];
  intermediates?: readonly CertInfo[];
  knownTsaCerts?: readonly CertInfo[];
  /** Revocation status from Sidian's database (online); omitted offline. */
  revocation?: (cert: CertInfo, issuer: CertInfo) => Promise<RevocationStatus> | RevocationStatus;
  /** Seal status at a time (online); omitted offline. */
  sealStatus?: (sealId: string, at: Date) => Promise<SealStatusInfo | null>;
  /**
   * Offline: seal-status evidence handed to the verifier (DER CMS, `sidian verify --status`), besides what each stamp
   * carries (pki/seal-status.ts). Ignored when `sealStatus` answers (online).
   */
  sealStatusEvidence?: readonly Buffer[];
  /**
   * Certificates whose subject serialNumber is a Sidian seal ID: those issued by one of these CAs (subject DER
   * match): the issuing CA of each crypto profile (P-256, SM2).
   */
  sealIssuers?: readonly CertInfo[];
  now: () => Date;
}

const worst = (checks: readonly Check[]): Result =>
  checks.some((c) => c.status === "FAILED") ? "INVALID" : checks.some((c) => c.status === "INDETERMINATE") ? "INDETERMINATE" : "VALID";

export interface SigRef {
  field: string | null;
  sigNum: number | null;
  dict: PdfDict;
}

export function findSignatures(doc: PdfDocument): SigRef[] {
  const out: SigRef[] = [];
  const acro = doc.dict(doc.catalog().get("AcroForm"));
  const fields = acro ? doc.resolve(acro.get("Fields")) : undefined;
  const seen = new Set<number>();
  const sigSeen = new Set<number>();
  let fieldCount = 0;
  const walk = (arr: PdfObj[], parentName: string | null, inheritedFt: string | undefined, depth: number) => {
    if (depth > PDF_LIMITS.maxFieldDepth) throw limitExceeded("maxFieldDepth", "the form-field tree is deeper than that");
    for (const f of arr) {
      if (f instanceof PdfRef) {
        if (seen.has(f.num)) continue;
        seen.add(f.num);
      }
      if (++fieldCount > PDF_LIMITS.maxFormFields) throw limitExceeded("maxFormFields", "the form has more fields than that");
      const d = doc.dict(f);
      if (!d) continue;
      const t = d.get("T");
      const nm = t instanceof PdfString ? (parentName ? `${parentName}.${t.text()}` : t.text()) : parentName;
      const ft = d.name("FT") ?? inheritedFt;
      const kids = doc.resolve(d.get("Kids"));
      if (ft === "Sig" && d.has("V")) {
        const v = d.get("V");
        const sd = doc.dict(v);
        // One signature dictionary is validated once, whichever fields point at it.
        const dup = v instanceof PdfRef && sigSeen.has(v.num);
        if (v instanceof PdfRef) sigSeen.add(v.num);
        if (sd && !dup) {
          if (out.length >= PDF_LIMITS.maxSignatures) throw limitExceeded("maxSignatures", "the document has more signatures than that");
          out.push({ field: nm, sigNum: v instanceof PdfRef ? v.num : null, dict: sd });
        }
      }
      if (Array.isArray(kids)) walk(kids, nm, ft, depth + 1);
    }
  };
  if (Array.isArray(fields)) walk(fields, null, undefined, 0);
  if (out.length === 0 && doc.repaired) {
    // Damaged file: look for signature dictionaries directly so their problems can still be reported.
    for (const [num] of doc.xref) {
      let o: PdfObj | undefined;
      try {
        o = doc.get(num);
      } catch (e) {
        rethrowLimit(e);
        continue;
      }
      if (o instanceof PdfDict && o.name("Type") === "Sig") {
        if (out.length >= PDF_LIMITS.maxSignatures) throw limitExceeded("maxSignatures", "the document has more signatures than that");
        out.push({ field: null, sigNum: num, dict: o });
      }
    }
  }
  return out;
}

/** Limits are not verdicts: a document over one is refused (PDF_LIMIT_EXCEEDED), whatever the step. */
function rethrowLimit(e: unknown): void {
  if (e instanceof AppError && e.code === "PDF_LIMIT_EXCEEDED") throw e;
}

const isPdfSpace = (x: number | undefined) => x === 0x00 || x === 0x09 || x === 0x0a || x === 0x0c || x === 0x0d || x === 0x20;

function isTrailingSpace(buf: Buffer, from: number): boolean {
  for (let i = from; i < buf.length; i++) if (!isPdfSpace(buf[i])) return false;
  return true;
}

/**
 * Where each revision of the file ends, ascending: from just after its `%%EOF` (`eof`) to the last byte of the
 * white space that follows it (`last`). A signed range that ends anywhere in [eof, last] ends that revision: writers
 * differ on the end-of-line after `%%EOF` (none, LF, CR, CRLF, blank lines) and on which side of the boundary they
 * put it (pdf-lib/@signpdf end at `%%EOF` and the next update starts with the end-of-line); white space between
 * revisions changes nothing a reader sees.
 */
interface RevisionSpan {
  eof: number;
  last: number;
}

function revisionSpans(doc: PdfDocument): RevisionSpan[] {
  const buf = doc.buf;
  const eofs = [...new Set(doc.sections.map((s) => s.eofEnd))].sort((a, b) => a - b);
  return eofs.map((eof) => {
    let last = eof;
    while (last < buf.length && isPdfSpace(buf[last])) last++;
    return { eof, last };
  });
}

/** Index of the revision a signed range ending at `end` closes, or -1 (binary search: linear validation overall). */
function revisionEndingAt(spans: readonly RevisionSpan[], end: number): number {
  let lo = 0, hi = spans.length - 1, found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (spans[mid]!.eof <= end) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found >= 0 && end <= spans[found]!.last ? found : -1;
}

/**
 * The seal check offline: the newest usable seal-status evidence about this seal and certificate, signed by the CA
 * that issued the certificate, judged at the signing time (pki/seal-status.ts judgeSealStatus).
 */
function offlineSealCheck(sealId: string, signer: CertInfo, issuer: CertInfo, evidence: readonly Buffer[], at: Date, now: Date): Check {
  let best: SealStatusStatement | null = null;
  const problems: string[] = [];
  for (const der of evidence) {
    const r = readSealStatus(der, issuer);
    if ("problem" in r) {
      problems.push(r.problem);
      continue;
    }
    const st = r.statement;
    if (st.sealId !== sealId || st.certSerial !== signer.serial || st.certSha256 !== signer.sha256) continue; // about another seal
    if (!best || Date.parse(st.producedAt) > Date.parse(best.producedAt)) best = st;
  }
  if (best) return { id: "seal", ...judgeSealStatus(best, at, now) };
  const rejected = problems.length ? `; status evidence rejected: ${[...new Set(problems)].slice(0, 3).join("; ")}` : "";
  return {
    id: "seal", status: "INDETERMINATE",
    detail: `seal ${sealId}: status not checked offline: no status evidence for this seal (stamps made by Sidian carry it; otherwise pass --status FILE from GET /seals/${sealId}/status-evidence)${rejected}`,
  };
}

// --------------------------------------------------------------------------------------------- main

export async function verifyPdf(buf: Buffer, deps: VerifyPdfDeps): Promise<PdfVerdict> {
  const checks: Check[] = [];
  const sha256 = crypto.createHash("sha256").update(buf).digest("hex");
  const base = { size: buf.length, sha256, revisions: 0, pages: null as number | null };
  let doc: PdfDocument;
  try {
    doc = openPdf(buf, { repair: true });
  } catch (e) {
    rethrowLimit(e);
    checks.push({ id: "structure", status: "FAILED", detail: e instanceof AppError ? e.message : `The PDF cannot be read: ${(e as Error).message}` });
    return { result: "INVALID", checks, document: base, signatures: [] };
  }
  if (doc.encrypted) {
    checks.push({ id: "structure", status: "INDETERMINATE", detail: "the PDF is encrypted; encrypted documents are not validated" });
    return { result: "INDETERMINATE", checks, document: base, signatures: [] };
  }
  if (doc.repaired) checks.push({ id: "structure", status: "FAILED", detail: "the cross-reference is damaged; the file was read by scanning for objects" });
  else checks.push({ id: "structure", status: "PASSED", detail: `${doc.sections.length} cross-reference section(s)` });
  const spans = revisionSpans(doc);
  base.revisions = spans.length;
  try {
    base.pages = doc.pageCount();
  } catch (e) {
    rethrowLimit(e);
    base.pages = null;
  }
  const lastEnd = spans[spans.length - 1]?.eof ?? buf.length;
  if (!doc.repaired && !isTrailingSpace(buf, lastEnd)) {
    checks.push({ id: "trailing-data", status: "FAILED", detail: `${buf.length - lastEnd} byte(s) after the last %%EOF are not part of any revision` });
  }
  let sigs: SigRef[];
  try {
    sigs = findSignatures(doc);
  } catch (e) {
    rethrowLimit(e);
    checks.push({ id: "signatures", status: "FAILED", detail: `the form fields cannot be read: ${(e as Error).message}` });
    return { result: "INVALID", checks, document: base, signatures: [] };
  }
  if (sigs.length === 0) {
    checks.push({ id: "signatures", status: "INDETERMINATE", detail: "the document has no signatures" });
    return { result: worst(checks) === "INVALID" ? "INVALID" : "INDETERMINATE", checks, document: base, signatures: [] };
  }
  checks.push({ id: "signatures", status: "PASSED", detail: `${sigs.length} signature(s)` });

  // Signed end of each signature (once), to tell which signatures come later: a lookup, not a set per signature.
  const signedEnd = (s: SigRef) => {
    const br = s.dict.get("ByteRange");
    return Array.isArray(br) && br.length === 4 && br.every((x) => typeof x === "number") ? Number(br[2]) + Number(br[3]) : -1;
  };
  const endOf = new Map<number, number>();
  const claims = new Map<number, number>();
  for (const x of sigs) {
    const e = signedEnd(x);
    if (x.sigNum !== null) endOf.set(x.sigNum, e);
    // Counted when its dictionary is defined inside the revision it claims (a dictionary added by a later update
    // cannot make a genuine signature of that revision look contested).
    const r = revisionEndingAt(spans, e);
    const at = x.sigNum !== null ? doc.info(x.sigNum)?.offset ?? -1 : -1;
    if (r >= 0 && at >= (r > 0 ? spans[r - 1]!.eof : 0) && at < spans[r]!.eof) claims.set(r, (claims.get(r) ?? 0) + 1);
  }
  const revs: Revisions = { spans, endOf, claims, old: new Map(), changed: new Map() };
  const reports: SignatureReport[] = [];
  for (let i = 0; i < sigs.length; i++) reports.push(await verifyOne(doc, buf, sigs[i]!, i, revs, deps));
  const result = worst([...checks, ...reports.flatMap((r) => (r.result === "VALID" ? [] : [{ id: "", status: r.result === "INVALID" ? "FAILED" as const : "INDETERMINATE" as const, detail: "" }]))]);
  return { result, checks, document: base, signatures: reports };
}

/** What every signature of one document shares, computed once per revision so validation stays linear. */
interface Revisions {
  /** Where each revision ends (ascending). */
  spans: RevisionSpan[];
  /** Signature dictionary number → end of its signed range. */
  endOf: Map<number, number>;
  /** Revision index → how many signatures' signed ranges close it (trailing white space after %%EOF included). */
  claims: Map<number, number>;
  /** The signed revision ending at an offset, opened on its own (or why it cannot be). */
  old: Map<number, PdfDocument | Error>;
  /** Objects defined by the sections after an offset. */
  changed: Map<number, Set<number>>;
}

function signedRevision(buf: Buffer, end: number, revs: Revisions): PdfDocument | Error {
  let o = revs.old.get(end);
  if (!o) {
    try {
      o = openPdf(buf.subarray(0, end));
    } catch (e) {
      rethrowLimit(e);
      o = e as Error;
    }
    revs.old.set(end, o);
  }
  return o;
}

function changedAfter(doc: PdfDocument, end: number, revs: Revisions): Set<number> {
  let c = revs.changed.get(end);
  if (!c) {
    c = new Set<number>();
    for (const sec of doc.sections) if (sec.offset >= end) for (const k of sec.entries.keys()) c.add(k);
    revs.changed.set(end, c);
  }
  return c;
}

async function verifyOne(doc: PdfDocument, buf: Buffer, s: SigRef, index: number, revs: Revisions, deps: VerifyPdfDeps): Promise<SignatureReport> {
  const checks: Check[] = [];
  const d = s.dict;
  const rep: SignatureReport = {
    index: index + 1, field: s.field, subFilter: d.name("SubFilter") ?? null, signer: null, signerSerial: null, sealId: null,
    claimedTime: d.get("M") instanceof PdfString ? (d.get("M") as PdfString).text() : null, timestampTime: null,
    byteRange: null, coversWholeFile: false, laterRevisions: 0, result: "INVALID", checks,
  };
  const done = () => {
    rep.result = worst(checks);
    return rep;
  };
  const fail = (id: string, detail: string) => {
    checks.push({ id, status: "FAILED", detail });
    return done();
  };
  const sub = rep.subFilter;
  if (sub !== "ETSI.CAdES.detached" && sub !== "adbe.pkcs7.detached") {
    return fail("format", `signature format ${sub ?? "(none)"} is not supported (ETSI.CAdES.detached, adbe.pkcs7.detached)`);
  }
  // 1. byte range ------------------------------------------------------------------------------------------
  if (d.duplicates.length) return fail("byte-range", `the signature dictionary repeats ${d.duplicates.map((k) => "/" + k).join(", ")}`);
  const br = d.get("ByteRange");
  const contents = d.get("Contents");
  if (!(contents instanceof PdfString)) return fail("contents", "the signature has no /Contents (universal signature forgery)");
  if (!Array.isArray(br) || br.length !== 4 || !br.every((x) => typeof x === "number" && Number.isInteger(x) && x >= 0)) {
    return fail("byte-range", "the signature has no valid /ByteRange (universal signature forgery)");
  }
  const [a, b, c, l] = br as [number, number, number, number];
  rep.byteRange = [a, b, c, l];
  const end = c + l;
  if (a !== 0 || b <= 0 || c <= b || end > buf.length) return fail("byte-range", `/ByteRange [${br.join(" ")}] does not describe two ranges from the start of the file`);
  if (contents.start !== b || contents.end !== c || !contents.hex) {
    return fail("byte-range", `the gap of /ByteRange (${b}–${c}) is not exactly this signature's /Contents (${contents.start}–${contents.end}): signature wrapping`);
  }
  const revision = revisionEndingAt(revs.spans, end);
  if (revision < 0) return fail("byte-range", `the signed range ends at ${end}, which is not the end of a revision (%%EOF)`);
  // Two signatures cannot both have signed the same revision: each one's range covers the other's /Contents, which
  // was written after (or before) it was signed. Refused before hashing, so that thousands of signatures all signing
  // to the end of one large file cost no hashing each (work linear in the input, issue 14 §1).
  const rivals = (revs.claims.get(revision) ?? 1) - 1;
  if (rivals > 0) return fail("byte-range", `${rivals} other signature(s) claim the revision this one signs (its %%EOF at ${revs.spans[revision]!.eof}); one revision is signed by one signature`);
  const old = signedRevision(buf, end, revs);
  if (old instanceof Error) return fail("byte-range", `the signed revision cannot be read on its own: ${old.message}`);
  const sigInfoOld = s.sigNum !== null ? old.info(s.sigNum) : undefined;
  if (!sigInfoOld || sigInfoOld.offset < 0 || !(sigInfoOld.offset < b && b - sigInfoOld.offset < 65536)) {
    return fail("byte-range", "the signed revision does not define this signature dictionary where the signature is");
  }
  rep.coversWholeFile = isTrailingSpace(buf, end);
  rep.laterRevisions = revs.spans.length - 1 - revision;
  checks.push({ id: "byte-range", status: "PASSED", detail: `bytes 0–${b} and ${c}–${end} signed; the gap is exactly /Contents` });

  // 2. contents ----------------------------------------------------------------------------------------------
  const raw = contents.bytes;
  if (raw.length === 0 || raw.every((x) => x === 0)) return fail("contents", "/Contents is empty or zero-filled (universal signature forgery)");
  let sd: ParsedSignedData;
  let cmsDer: Buffer;
  try {
    const n = readNode(raw);
    cmsDer = raw.subarray(0, n.end);
    if (!raw.subarray(n.end).every((x) => x === 0)) throw new Error("data after the CMS");
    sd = parseSignedData(cmsDer);
  } catch (e) {
    return fail("contents", `/Contents is not a CMS SignedData: ${(e as Error).message}`);
  }
  if (sd.signerInfos.length !== 1) return fail("contents", `the CMS has ${sd.signerInfos.length} signers (one expected)`);
  if (sd.eContent !== null) return fail("contents", "the CMS is not detached");
  const si = sd.signerInfos[0]!;
  checks.push({ id: "contents", status: "PASSED", detail: `CMS SignedData, ${cmsDer.length} bytes` });

  // 3. digest ------------------------------------------------------------------------------------------------
  const md = checkMessageDigest(si, (hname) => crypto.createHash(hname).update(buf.subarray(0, b)).update(buf.subarray(c, end)).digest());
  if (md.problem === "algorithm") return fail("digest", `digest algorithm ${si.digestAlgorithm} is not accepted`);
  if (md.problem === "attribute") return fail("digest", "the CMS has no (single) message-digest attribute");
  if (md.problem === "mismatch") return fail("digest", "the signed bytes were changed: their digest does not match the signature");
  if (!contentTypeIsData(si, false)) return fail("digest", "the content-type attribute is missing or not id-data");
  checks.push({ id: "digest", status: "PASSED", detail: `${md.hname} of the signed bytes matches` });

  // 4. signature ---------------------------------------------------------------------------------------------
  const { certs, signer, problem } = checkSigner(sd, si, sub === "ETSI.CAdES.detached");
  if (!signer) return fail("signature", "the signer's certificate is not in the CMS");
  rep.signer = signer.subject;
  rep.signerSerial = signer.serial;
  if (problem === "signature") return fail("signature", "the CMS signature does not verify with the signer's certificate");
  if (problem === "no-ess") return fail("signature", "PAdES requires the signing-certificate-v2 attribute");
  if (problem === "ess-mismatch") return fail("signature", "the signing-certificate attribute does not name the signer's certificate");
  checks.push({ id: "signature", status: "PASSED", detail: `signed by ${signer.subject}` });

  // 5. time-stamp -------------------------------------------------------------------------------------------
  let at = deps.now();
  const tv = await verifySignatureTimestamp(si, deps);
  if (tv) {
    const ts = timestampCheck(tv);
    checks.push(ts.check);
    if (ts.at) {
      at = ts.at;
      rep.timestampTime = ts.at.toISOString();
    }
  } else {
    checks.push({ id: "timestamp", status: "PASSED", detail: `no signature time-stamp (PAdES B-B): certificates are checked at validation time${rep.claimedTime ? `; claimed signing time ${rep.claimedTime}` : ""}` });
  }

  // 6. certificate chain ----------------------------------------------------------------------------------
  const chain = await verifySignerChain(signer, certs, deps, at);
  checks.push(certificateCheck(chain, at, !!deps.revocation));

  // 7. seal status ----------------------------------------------------------------------------------------------
  const sealId = signer.subjectAttrs[OID.serialNumber];
  const ours = deps.sealIssuers?.find((c) => Buffer.from(signer.issuerDer).equals(Buffer.from(c.subjectDer)));
  if (sealId && ours) {
    rep.sealId = sealId;
    if (!deps.sealStatus) {
      const issuer = chain.result === "VALID" && chain.path[1] ? chain.path[1] : ours;
      checks.push(offlineSealCheck(sealId, signer, issuer, [...embeddedEvidence(si.unsignedAttrs), ...(deps.sealStatusEvidence ?? [])], at, deps.now()));
    } else {
      const st = await deps.sealStatus(sealId, at);
      if (!st) checks.push({ id: "seal", status: "INDETERMINATE", detail: `seal ${sealId} is not in this registry` });
      else if (st.status !== "active") checks.push({ id: "seal", status: "FAILED", detail: `seal ${sealId} was ${st.status} at ${at.toISOString()}${st.reason ? ` (${st.reason})` : ""}` });
      else if (at < st.validFrom || at > st.validTo) checks.push({ id: "seal", status: "FAILED", detail: `seal ${sealId} was outside its validity at ${at.toISOString()}` });
      else checks.push({ id: "seal", status: "PASSED", detail: `seal ${sealId} was active at ${at.toISOString()}` });
    }
  }

  // 8. modifications after signing ---------------------------------------------------------------------------
  if (rep.laterRevisions === 0) {
    checks.push({ id: "modifications", status: "PASSED", detail: rep.coversWholeFile ? "the signature covers the whole file" : "the signature covers the whole file up to trailing whitespace" });
  } else {
    const changed = changedAfter(doc, end, revs);
    let mod: ModResult;
    try {
      mod = analyse(old, doc, changed, (n) => n !== s.sigNum && (revs.endOf.get(n) ?? -1) > end);
    } catch (e) {
      rethrowLimit(e);
      mod = { allowed: [], disallowed: [`later revisions cannot be analysed: ${(e as Error).message}`] };
    }
    const mdp = docMdp(old, s.dict);
    if (mdp === 1) mod.disallowed.push("this is a certification signature that allows no changes (DocMDP P=1)");
    if (mod.disallowed.length) {
      checks.push({ id: "modifications", status: "FAILED", detail: `${rep.laterRevisions} later revision(s) with changes not allowed after signing: ${mod.disallowed.slice(0, 8).join("; ")}` });
    } else {
      checks.push({ id: "modifications", status: "PASSED", detail: `${rep.laterRevisions} later revision(s), only allowed changes: ${[...new Set(mod.allowed)].slice(0, 8).join("; ") || "none"}` });
    }
  }
  return done();
}
