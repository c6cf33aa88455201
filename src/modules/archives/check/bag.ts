/**
 * Parsers for the bag's tag files (RFC 8493) and metadata (docs/archives.md): each returns what it could read and a
 * list of problems (line by line), never throws on bad input.
 */

export interface ManifestLine {
  digest: string;
  path: string;
  line: number;
}

export interface Parsed<T> {
  value: T;
  problems: string[];
}

/** Decodes a manifest/tag text as strict UTF-8 (BagIt tag files are UTF-8); null when it is not. */
export function utf8(buf: Buffer): string | null {
  try {
    const s = new TextDecoder("utf-8", { fatal: true }).decode(buf);
    return s.charCodeAt(0) === 0xfeff ? null : s;
  } catch {
    return null;
  }
}

function lines(text: string): string[] {
  const l = text.split(/\r\n|\n|\r/);
  if (l[l.length - 1] === "") l.pop();
  return l;
}

/** RFC 8493 §2.1.3: `<checksum> <filepath>`, the path with CR, LF and % percent-encoded. */
export function parseManifest(buf: Buffer, hexLength: number): Parsed<ManifestLine[]> {
  const problems: string[] = [];
  const out: ManifestLine[] = [];
  const text = utf8(buf);
  if (text === null) return { value: out, problems: ["not UTF-8 text"] };
  const seen = new Set<string>();
  lines(text).forEach((l, i) => {
    const m = /^([0-9A-Fa-f]+)[ \t]+(.+)$/.exec(l);
    if (!m) {
      problems.push(`line ${i + 1} is not "<digest> <path>"`);
      return;
    }
    const digest = m[1]!.toLowerCase();
    if (digest.length !== hexLength) {
      problems.push(`line ${i + 1}: the digest has ${digest.length} hex digits, not ${hexLength}`);
      return;
    }
    let p: string;
    try {
      p = decodePath(m[2]!);
    } catch {
      problems.push(`line ${i + 1}: bad percent-encoding in the path`);
      return;
    }
    if (seen.has(p)) {
      problems.push(`line ${i + 1}: ${p} is listed twice`);
      return;
    }
    seen.add(p);
    out.push({ digest, path: p, line: i + 1 });
  });
  return { value: out, problems };
}

function decodePath(s: string): string {
  return s.replace(/%(0A|0D|25)/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16))).replace(/%/g, () => {
    throw new Error("bare %");
  });
}

/** bag-info.txt: `Label: value` lines; continuation lines start with a space or tab. Labels may repeat. */
export function parseBagInfo(buf: Buffer): Parsed<Map<string, string[]>> {
  const problems: string[] = [];
  const out = new Map<string, string[]>();
  const text = utf8(buf);
  if (text === null) return { value: out, problems: ["not UTF-8 text"] };
  let last: { label: string; idx: number } | null = null;
  lines(text).forEach((l, i) => {
    if (/^[ \t]/.test(l) && last) {
      const vals = out.get(last.label)!;
      vals[last.idx] += " " + l.trim();
      return;
    }
    const m = /^([^:\s][^:]*?)\s*:\s?(.*)$/.exec(l);
    if (!m) {
      problems.push(`line ${i + 1} is not "Label: value"`);
      return;
    }
    const vals = out.get(m[1]!) ?? [];
    vals.push(m[2]!.trim());
    out.set(m[1]!, vals);
    last = { label: m[1]!, idx: vals.length - 1 };
  });
  return { value: out, problems };
}

/** bagit.txt of BagIt 1.0 (RFC 8493 §2.1.1). */
export function checkBagitTxt(buf: Buffer): string[] {
  const text = utf8(buf);
  if (text === null) return ["not UTF-8 text"];
  const info = parseBagInfo(buf);
  const problems = [...info.problems];
  const v = info.value.get("BagIt-Version");
  const e = info.value.get("Tag-File-Character-Encoding");
  if (!v || v.length !== 1 || !/^1\.0$/.test(v[0]!)) problems.push(`BagIt-Version is ${v ? JSON.stringify(v.join(",")) : "missing"}, not 1.0`);
  if (!e || e.length !== 1 || e[0]!.toUpperCase() !== "UTF-8") problems.push(`Tag-File-Character-Encoding is ${e ? JSON.stringify(e.join(",")) : "missing"}, not UTF-8`);
  if (info.value.size !== 2) problems.push("bagit.txt holds other lines than the two of RFC 8493");
  return problems;
}

/** Parses JSON bounded in depth (JSON.parse recursion on hostile nesting throws RangeError: reported, not thrown). */
export function parseJson(buf: Buffer): Parsed<unknown> {
  const text = utf8(buf);
  if (text === null) return { value: undefined, problems: ["not UTF-8 text"] };
  try {
    return { value: JSON.parse(text), problems: [] };
  } catch (e) {
    return { value: undefined, problems: [`not JSON: ${(e as Error).message.slice(0, 200)}`] };
  }
}

export const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Well-formedness of an XML document (XML 1.0, enough for metadata): one root element, tags nested and closed,
 * attributes quoted and not repeated, only the predefined and numeric character references, no DOCTYPE (no
 * entities, no external resources: XXE), no processing instructions but the XML declaration. Returns the problems
 * and the text of the first element with each local name (for cross-checks with case.json).
 */
export function checkXml(buf: Buffer, maxDepth: number): Parsed<Map<string, string>> {
  const texts = new Map<string, string>();
  const text = utf8(buf);
  if (text === null) return { value: texts, problems: ["not UTF-8 text"] };
  const problems: string[] = [];
  const stack: string[] = [];
  let i = 0;
  let roots = 0;
  let current: { name: string; text: string } | null = null;
  const NAME = /^[A-Za-z_\u00C0-\uFFFF][\w.\-:\u00B7\u00C0-\uFFFF]*/u;
  const refOk = (s: string) => s.replace(/&(lt|gt|amp|apos|quot|#[0-9]+|#x[0-9A-Fa-f]+);/g, "").indexOf("&") < 0;
  const unescape = (s: string) => s.replace(/&(lt|gt|amp|apos|quot);/g, (_, n: string) => ({ lt: "<", gt: ">", amp: "&", apos: "'", quot: '"' })[n]!)
    .replace(/&#(x?)([0-9A-Fa-f]+);/g, (_, x: string, d: string) => String.fromCodePoint(parseInt(d, x ? 16 : 10)));
  if (text.startsWith("<?xml")) {
    const end = text.indexOf("?>");
    if (end < 0) return { value: texts, problems: ["unterminated XML declaration"] };
    if (!/encoding=["']UTF-8["']/i.test(text.slice(0, end)) && /encoding=/.test(text.slice(0, end))) problems.push("the XML declaration names another encoding than UTF-8");
    i = end + 2;
  }
  while (i < text.length && problems.length < 20) {
    const lt = text.indexOf("<", i);
    const chunk = text.slice(i, lt < 0 ? text.length : lt);
    if (chunk.trim()) {
      if (stack.length === 0) problems.push("text outside the root element");
      else if (!refOk(chunk)) problems.push(`an unknown entity or bare & in <${stack[stack.length - 1]}>`);
      else if (current) current.text += unescape(chunk);
    }
    if (lt < 0) break;
    if (text.startsWith("<!--", lt)) {
      const e = text.indexOf("-->", lt + 4);
      if (e < 0) { problems.push("unterminated comment"); break; }
      i = e + 3;
      continue;
    }
    if (text.startsWith("<![CDATA[", lt)) {
      const e = text.indexOf("]]>", lt);
      if (e < 0 || stack.length === 0) { problems.push("CDATA outside an element or unterminated"); break; }
      if (current) current.text += text.slice(lt + 9, e);
      i = e + 3;
      continue;
    }
    if (text.startsWith("<!", lt)) { problems.push("a DOCTYPE or declaration (entities are not accepted)"); break; }
    if (text.startsWith("<?", lt)) { problems.push("a processing instruction"); break; }
    const gt = text.indexOf(">", lt);
    if (gt < 0) { problems.push("unterminated tag"); break; }
    const tag = text.slice(lt + 1, gt);
    i = gt + 1;
    if (tag.startsWith("/")) {
      const name = tag.slice(1).trim();
      const open = stack.pop();
      if (open !== name) { problems.push(`</${name}> closes <${open ?? "nothing"}>`); break; }
      if (current && current.name === name) {
        const local = name.includes(":") ? name.slice(name.indexOf(":") + 1) : name;
        if (!texts.has(local)) texts.set(local, current.text.trim());
      }
      current = null;
      continue;
    }
    const selfClose = tag.endsWith("/");
    const body = selfClose ? tag.slice(0, -1) : tag;
    const m = NAME.exec(body);
    if (!m) { problems.push(`a tag without a valid name at character ${lt}`); break; }
    const name = m[0];
    let rest = body.slice(name.length);
    const attrs = new Set<string>();
    const ATTR = /^\s+([A-Za-z_:\u00C0-\uFFFF][\w.\-:\u00B7\u00C0-\uFFFF]*)\s*=\s*("[^"<]*"|'[^'<]*')/u;
    for (;;) {
      const a = ATTR.exec(rest);
      if (!a) break;
      if (attrs.has(a[1]!)) problems.push(`<${name}> repeats the attribute ${a[1]}`);
      if (!refOk(a[2]!)) problems.push(`<${name}> attribute ${a[1]} holds an unknown entity or bare &`);
      attrs.add(a[1]!);
      rest = rest.slice(a[0].length);
    }
    if (rest.trim()) { problems.push(`<${name}> has malformed attributes`); break; }
    if (stack.length === 0) roots++;
    if (roots > 1) { problems.push("more than one root element"); break; }
    if (!selfClose) {
      stack.push(name);
      if (stack.length > maxDepth) { problems.push(`elements nested deeper than ${maxDepth}`); break; }
      current = { name, text: "" };
    }
  }
  if (problems.length === 0 && stack.length) problems.push(`<${stack[stack.length - 1]}> is not closed`);
  if (problems.length === 0 && roots === 0) problems.push("no root element");
  return { value: texts, problems };
}
