/**
 * A small, bounded XML reader for the documents containers carry (ASiCManifest.xml; metadata a package declares).
 * It reads well-formed XML 1.0 into a tree with resolved namespaces, and refuses what a manifest never needs and an
 * attacker likes: DOCTYPE (so no entity expansion, no external entities), processing instructions other than the
 * XML declaration, undeclared prefixes, duplicate attributes, entities other than the five predefined and character
 * references. Linear in the input; every count is bounded (XML_LIMITS). Throws XmlError with a position.
 */
export interface XmlElement {
  /** Namespace URI ("" when none) and local name. */
  readonly ns: string;
  readonly name: string;
  /** Attributes by expanded name: `local` when unprefixed, `{ns}local` when prefixed. */
  readonly attrs: ReadonlyMap<string, string>;
  readonly children: readonly XmlElement[];
  /** Concatenated character data directly inside this element. */
  readonly text: string;
}

export const XML_LIMITS = Object.freeze({ maxBytes: 1024 * 1024, maxDepth: 32, maxElements: 20_000, maxAttributes: 64 });

export class XmlError extends Error {
  override readonly name = "XmlError";
}

const NAME = /[A-Za-z_\u00c0-\uffff][A-Za-z0-9._\-\u00b7\u00c0-\uffff]*(?::[A-Za-z_\u00c0-\uffff][A-Za-z0-9._\-\u00b7\u00c0-\uffff]*)?/y;
const XML_NS = "http://www.w3.org/XML/1998/namespace";

function decodeEntities(s: string, at: number): string {
  if (!s.includes("&")) return s;
  return s.replace(/&([^;&]{0,12});?/g, (m, e: string) => {
    if (!m.endsWith(";")) throw new XmlError(`an unterminated entity reference near ${at}`);
    switch (e) {
      case "amp": return "&";
      case "lt": return "<";
      case "gt": return ">";
      case "quot": return "\"";
      case "apos": return "'";
    }
    const num = /^#x([0-9a-fA-F]{1,6})$/.exec(e) ?? /^#([0-9]{1,7})$/.exec(e);
    if (num) {
      const cp = parseInt(num[1]!, e[1] === "x" ? 16 : 10);
      if (cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) throw new XmlError(`an invalid character reference near ${at}`);
      return String.fromCodePoint(cp);
    }
    throw new XmlError(`an undeclared entity &${e}; near ${at}`);
  });
}

/** Parses UTF-8 bytes (a BOM is allowed) into the root element. */
export function parseXml(bytes: Uint8Array, limits = XML_LIMITS): XmlElement {
  if (bytes.length > limits.maxBytes) throw new XmlError(`the document is over ${limits.maxBytes} bytes`);
  let s: string;
  try {
    s = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new XmlError("the document is not UTF-8");
  }
  if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/.test(s)) throw new XmlError("the document contains a character XML forbids");
  let p = 0;
  let elements = 0;
  const ws = () => {
    while (p < s.length && (s[p] === " " || s[p] === "\t" || s[p] === "\n" || s[p] === "\r")) p++;
  };
  const expect = (lit: string) => {
    if (!s.startsWith(lit, p)) throw new XmlError(`expected ${JSON.stringify(lit)} at ${p}`);
    p += lit.length;
  };
  const name = (): string => {
    NAME.lastIndex = p;
    const m = NAME.exec(s);
    if (!m) throw new XmlError(`expected a name at ${p}`);
    p += m[0].length;
    return m[0];
  };
  const misc = () => {
    for (;;) {
      ws();
      if (s.startsWith("<!--", p)) {
        const e = s.indexOf("-->", p + 4);
        if (e < 0) throw new XmlError(`an unterminated comment at ${p}`);
        if (s.slice(p + 4, e).includes("--")) throw new XmlError(`"--" inside a comment at ${p}`);
        p = e + 3;
      } else if (s.startsWith("<?", p)) throw new XmlError(`a processing instruction at ${p} (not accepted)`);
      else if (s.startsWith("<!DOCTYPE", p) || s.startsWith("<!doctype", p)) throw new XmlError("a DOCTYPE (document type declarations and entities are not accepted)");
      else return;
    }
  };
  // XML declaration.
  if (s.startsWith("<?xml", p) && /[\s?]/.test(s[p + 5] ?? "")) {
    const e = s.indexOf("?>", p);
    if (e < 0) throw new XmlError("an unterminated XML declaration");
    const decl = s.slice(p, e);
    const enc = /encoding\s*=\s*["']([^"']+)["']/.exec(decl);
    if (enc && enc[1]!.toLowerCase() !== "utf-8") throw new XmlError(`encoding ${enc[1]} (only UTF-8 is read)`);
    p = e + 2;
  }
  misc();
  if (s[p] !== "<") throw new XmlError("no root element");

  function element(depth: number, scope: ReadonlyMap<string, string>): XmlElement {
    if (depth > limits.maxDepth) throw new XmlError(`elements nested deeper than ${limits.maxDepth}`);
    if (++elements > limits.maxElements) throw new XmlError(`more than ${limits.maxElements} elements`);
    const at = p;
    expect("<");
    const qname = name();
    const raw: Array<[string, string]> = [];
    for (;;) {
      const before = p;
      ws();
      if (s[p] === "/" || s[p] === ">") break;
      if (p === before) throw new XmlError(`expected whitespace before an attribute at ${p}`);
      const an = name();
      ws();
      expect("=");
      ws();
      const q = s[p];
      if (q !== "\"" && q !== "'") throw new XmlError(`an unquoted attribute value at ${p}`);
      const e = s.indexOf(q, p + 1);
      if (e < 0) throw new XmlError(`an unterminated attribute value at ${p}`);
      const v = s.slice(p + 1, e);
      if (v.includes("<")) throw new XmlError(`"<" in an attribute value at ${p}`);
      if (raw.some(([k]) => k === an)) throw new XmlError(`attribute ${an} is repeated at ${p}`);
      raw.push([an, decodeEntities(v, p).replace(/[\t\n\r]/g, " ")]);
      if (raw.length > limits.maxAttributes) throw new XmlError(`more than ${limits.maxAttributes} attributes on one element`);
      p = e + 1;
    }
    const ns = new Map(scope);
    for (const [k, v] of raw) {
      if (k === "xmlns") ns.set("", v);
      else if (k.startsWith("xmlns:")) ns.set(k.slice(6), v);
    }
    const resolve = (q: string, isAttr: boolean): [string, string] => {
      const i = q.indexOf(":");
      if (i < 0) return [isAttr ? "" : ns.get("") ?? "", q];
      const pre = q.slice(0, i);
      const uri = pre === "xml" ? XML_NS : ns.get(pre);
      if (uri === undefined || uri === "") throw new XmlError(`prefix ${pre} is not declared (at ${at})`);
      return [uri, q.slice(i + 1)];
    };
    const attrs = new Map<string, string>();
    for (const [k, v] of raw) {
      if (k === "xmlns" || k.startsWith("xmlns:")) continue;
      const [u, l] = resolve(k, true);
      const key = u ? `{${u}}${l}` : l;
      if (attrs.has(key)) throw new XmlError(`attribute ${key} is repeated (at ${at})`);
      attrs.set(key, v);
    }
    const [eNs, eName] = resolve(qname, false);
    const children: XmlElement[] = [];
    let text = "";
    if (s.startsWith("/>", p)) {
      p += 2;
      return { ns: eNs, name: eName, attrs, children, text };
    }
    expect(">");
    for (;;) {
      const lt = s.indexOf("<", p);
      if (lt < 0) throw new XmlError(`element ${qname} is not closed`);
      const chunk = s.slice(p, lt);
      if (chunk.includes("]]>")) throw new XmlError(`"]]>" in character data at ${p}`);
      text += decodeEntities(chunk, p);
      p = lt;
      if (s.startsWith("</", p)) {
        p += 2;
        const close = name();
        if (close !== qname) throw new XmlError(`</${close}> closes <${qname}> at ${p}`);
        ws();
        expect(">");
        return { ns: eNs, name: eName, attrs, children, text };
      }
      if (s.startsWith("<!--", p)) {
        const e = s.indexOf("-->", p + 4);
        if (e < 0) throw new XmlError(`an unterminated comment at ${p}`);
        p = e + 3;
        continue;
      }
      if (s.startsWith("<![CDATA[", p)) {
        const e = s.indexOf("]]>", p);
        if (e < 0) throw new XmlError(`an unterminated CDATA section at ${p}`);
        text += s.slice(p + 9, e);
        p = e + 3;
        continue;
      }
      if (s.startsWith("<?", p) || s.startsWith("<!", p)) throw new XmlError(`a processing instruction or declaration at ${p} (not accepted)`);
      children.push(element(depth + 1, ns));
    }
  }
  const root = element(1, new Map());
  misc();
  if (p !== s.length) throw new XmlError(`content after the root element at ${p}`);
  return root;
}

/** Escapes text for element content and double-quoted attribute values. */
export function xmlEscape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
