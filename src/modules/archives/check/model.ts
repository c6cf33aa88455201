/**
 * The package as the checks see it: tag files parsed once (bag-info, manifests, case.json, events.json, case.xml),
 * with the problems found while parsing kept for the items that report them.
 */
import { checkBagitTxt, checkXml, isObj, parseBagInfo, parseJson, parseManifest, type ManifestLine } from "./bag.js";
import type { CheckLimits } from "./limits.js";
import type { Scan } from "./scan.js";

export interface FileMeta {
  index: number;
  path: string;
  name: unknown;
  format: unknown;
  size: unknown;
  sha256: unknown;
  sm3: unknown;
  role: unknown;
}

export interface EventMeta {
  index: number;
  raw: Record<string, unknown>;
}

export interface Model {
  bagitProblems: string[] | null;
  bagInfo: Map<string, string[]> | null;
  bagInfoProblems: string[];
  manifests: { sha256: ManifestLine[] | null; sm3: ManifestLine[] | null; tag: ManifestLine[] | null };
  manifestProblems: Map<string, string[]>;
  caseJson: Record<string, unknown> | null;
  caseJsonProblems: string[];
  files: FileMeta[];
  /** metadata files[] by path (first occurrence). */
  filesByPath: Map<string, FileMeta>;
  events: EventMeta[] | null;
  eventsDoc: Record<string, unknown> | null;
  eventsProblems: string[];
  xmlTexts: Map<string, string> | null;
  xmlProblems: string[];
  payload: string[];
}

export const bagInfoOne = (m: Model, label: string): string | null => {
  const v = m.bagInfo?.get(label);
  return v && v.length === 1 ? v[0]! : null;
};

export function buildModel(scan: Scan, limits: CheckLimits): Model {
  const t = scan.tags;
  const manifestProblems = new Map<string, string[]>();
  const manifest = (p: string, hex: number): ManifestLine[] | null => {
    const b = t.get(p);
    if (!b) return null;
    const r = parseManifest(b, hex);
    if (r.problems.length) manifestProblems.set(p, r.problems);
    return r.value;
  };
  const bagit = t.get("bagit.txt");
  const infoBuf = t.get("bag-info.txt");
  const info = infoBuf ? parseBagInfo(infoBuf) : null;

  let caseJson: Record<string, unknown> | null = null;
  const caseJsonProblems: string[] = [];
  const files: FileMeta[] = [];
  const cj = t.get("metadata/case.json");
  if (cj) {
    const r = parseJson(cj);
    caseJsonProblems.push(...r.problems);
    if (r.problems.length === 0 && !isObj(r.value)) caseJsonProblems.push("not a JSON object");
    else if (isObj(r.value)) {
      caseJson = r.value;
      if (!Array.isArray(r.value.files)) caseJsonProblems.push("files is not a list");
      else {
        r.value.files.forEach((f, i) => {
          if (!isObj(f) || typeof f.path !== "string") caseJsonProblems.push(`files[${i}] has no path`);
          else files.push({ index: i, path: f.path, name: f.name, format: f.format, size: f.size, sha256: f.sha256, sm3: f.sm3, role: f.role });
        });
      }
    }
  }
  const filesByPath = new Map<string, FileMeta>();
  for (const f of files) {
    if (filesByPath.has(f.path)) caseJsonProblems.push(`files[${f.index}]: ${f.path} is listed twice`);
    else filesByPath.set(f.path, f);
  }

  let events: EventMeta[] | null = null;
  let eventsDoc: Record<string, unknown> | null = null;
  const eventsProblems: string[] = [];
  const ej = t.get("metadata/events.json");
  if (ej) {
    const r = parseJson(ej);
    eventsProblems.push(...r.problems);
    if (isObj(r.value)) {
      eventsDoc = r.value;
      const list = r.value.events;
      if (!Array.isArray(list)) eventsProblems.push("events is not a list");
      else if (list.length > limits.maxEvents) eventsProblems.push(`more than maxEvents (${limits.maxEvents}) events`);
      else {
        events = [];
        list.forEach((e, i) => {
          if (!isObj(e)) eventsProblems.push(`events[${i}] is not an object`);
          else events!.push({ index: i, raw: e });
        });
      }
    } else if (r.problems.length === 0) eventsProblems.push("not a JSON object");
  }

  let xmlTexts: Map<string, string> | null = null;
  const xmlProblems: string[] = [];
  const xml = t.get("metadata/case.xml");
  if (xml) {
    const r = checkXml(xml, limits.maxXmlDepth);
    xmlProblems.push(...r.problems);
    if (r.problems.length === 0) xmlTexts = r.value;
  }

  return {
    bagitProblems: bagit ? checkBagitTxt(bagit) : null,
    bagInfo: info?.value ?? null,
    bagInfoProblems: info?.problems ?? [],
    manifests: { sha256: manifest("manifest-sha256.txt", 64), sm3: manifest("manifest-sm3.txt", 64), tag: manifest("tagmanifest-sha256.txt", 64) },
    manifestProblems,
    caseJson,
    caseJsonProblems,
    files,
    filesByPath,
    events,
    eventsDoc,
    eventsProblems,
    xmlTexts,
    xmlProblems,
    payload: scan.source.files.filter((f) => f.path.startsWith("data/")).map((f) => f.path),
  };
}
