/**
 * ASiCManifest (ETSI EN 319 162-1 §A.4, namespace http://uri.etsi.org/02918/v1.2.1#): what a CAdES signature in an
 * ASiC-E container signs. One SigReference names the signature file; one DataObjectReference per signed file gives
 * its URI (relative to the container root, percent-encoded per segment), media type, digest method and value
 * (XML-DSig, base64).
 */
import { parseXml, XmlError, xmlEscape, type XmlElement } from "../xml.js";

export const ASIC_NS = "http://uri.etsi.org/02918/v1.2.1#";
export const DS_NS = "http://www.w3.org/2000/09/xmldsig#";
export const ASIC_E_MIMETYPE = "application/vnd.etsi.asic-e+zip";

/** XML-DSig digest method URIs accepted (allow-list, DESIGN rule 6) → node hash name. */
export const DIGEST_METHODS: Readonly<Record<string, "sha256" | "sha384" | "sha512">> = {
  "http://www.w3.org/2001/04/xmlenc#sha256": "sha256",
  "http://www.w3.org/2001/04/xmldsig-more#sha384": "sha384",
  "http://www.w3.org/2001/04/xmlenc#sha512": "sha512",
};
export const SHA256_URI = "http://www.w3.org/2001/04/xmlenc#sha256";

export interface ManifestReference {
  /** The zip entry name (URI decoded). */
  readonly name: string;
  readonly mediaType: string | null;
  readonly digestMethod: string;
  readonly digest: Buffer;
}

export interface ParsedManifest {
  readonly signature: string;
  readonly signatureMediaType: string | null;
  readonly references: readonly ManifestReference[];
}

export const uriOf = (name: string): string => name.split("/").map(encodeURIComponent).join("/");

export function buildManifest(signatureName: string, files: ReadonlyArray<{ name: string; mediaType: string; sha256: Uint8Array }>): Buffer {
  const lines = [
    `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`,
    `<asic:ASiCManifest xmlns:asic="${ASIC_NS}" xmlns:ds="${DS_NS}">`,
    `  <asic:SigReference URI="${xmlEscape(uriOf(signatureName))}" MimeType="application/pkcs7-signature"/>`,
  ];
  for (const f of files) {
    lines.push(
      `  <asic:DataObjectReference URI="${xmlEscape(uriOf(f.name))}" MimeType="${xmlEscape(f.mediaType)}">`,
      `    <ds:DigestMethod Algorithm="${SHA256_URI}"/>`,
      `    <ds:DigestValue>${Buffer.from(f.sha256).toString("base64")}</ds:DigestValue>`,
      `  </asic:DataObjectReference>`,
    );
  }
  lines.push(`</asic:ASiCManifest>`, "");
  return Buffer.from(lines.join("\n"), "utf8");
}

export class ManifestError extends Error {
  override readonly name = "ManifestError";
}

const only = (el: XmlElement, ns: string, name: string): XmlElement[] => el.children.filter((c) => c.ns === ns && c.name === name);

function decodeUri(uri: string): string {
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(uri) || uri.startsWith("/") || uri.includes("?") || uri.includes("#")) {
    throw new ManifestError(`URI ${JSON.stringify(uri.slice(0, 200))} is not a relative reference to a file in the container`);
  }
  try {
    return uri.split("/").map(decodeURIComponent).join("/");
  } catch {
    throw new ManifestError(`URI ${JSON.stringify(uri.slice(0, 200))} has a bad percent-encoding`);
  }
}

/** Parses and checks an ASiCManifest (bounded: ≤ `maxReferences` references; XML limits of xml.ts). */
export function parseManifest(bytes: Uint8Array, maxReferences: number): ParsedManifest {
  let root: XmlElement;
  try {
    root = parseXml(bytes);
  } catch (e) {
    throw new ManifestError(e instanceof XmlError ? `not well-formed XML: ${e.message}` : "not well-formed XML");
  }
  if (root.ns !== ASIC_NS || root.name !== "ASiCManifest") throw new ManifestError(`the root element is {${root.ns}}${root.name}, not {${ASIC_NS}}ASiCManifest`);
  const sig = only(root, ASIC_NS, "SigReference");
  if (sig.length !== 1) throw new ManifestError(`${sig.length} SigReference elements (exactly one expected)`);
  const sigUri = sig[0]!.attrs.get("URI");
  if (!sigUri) throw new ManifestError("the SigReference has no URI");
  const refs = only(root, ASIC_NS, "DataObjectReference");
  if (refs.length === 0) throw new ManifestError("no DataObjectReference");
  if (refs.length > maxReferences) throw new ManifestError(`${refs.length} DataObjectReference elements (at most ${maxReferences})`);
  const seen = new Set<string>();
  const references = refs.map((r): ManifestReference => {
    const uri = r.attrs.get("URI");
    if (!uri) throw new ManifestError("a DataObjectReference has no URI");
    const name = decodeUri(uri);
    if (seen.has(name)) throw new ManifestError(`${JSON.stringify(name.slice(0, 200))} is referenced twice`);
    seen.add(name);
    const dm = only(r, DS_NS, "DigestMethod");
    const dv = only(r, DS_NS, "DigestValue");
    if (dm.length !== 1 || dv.length !== 1) throw new ManifestError(`the reference to ${JSON.stringify(name.slice(0, 200))} needs one DigestMethod and one DigestValue`);
    const alg = dm[0]!.attrs.get("Algorithm") ?? "";
    const text = dv[0]!.text.replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw new ManifestError(`the digest of ${JSON.stringify(name.slice(0, 200))} is not base64`);
    return { name, mediaType: r.attrs.get("MimeType") ?? null, digestMethod: alg, digest: Buffer.from(text, "base64") };
  });
  return { signature: decodeUri(sigUri), signatureMediaType: sig[0]!.attrs.get("MimeType") ?? null, references };
}
