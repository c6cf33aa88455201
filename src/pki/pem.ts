/**
 * PEM (RFC 7468) encoding and decoding. Strict: one label, base64 body, nothing else inside the block.
 */

export function toPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

export interface PemBlock {
  label: string;
  der: Uint8Array;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n\t ]*?)-----END \1-----/g;

/** All PEM blocks in `text`, in order. Throws when no block is found or a body is not base64. */
export function fromPemAll(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    const body = (m[2] ?? "").replace(/\s+/g, "");
    if (body.length === 0 || body.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(body)) {
      throw new Error(`PEM block "${m[1]}" has a malformed base64 body`);
    }
    out.push({ label: m[1] ?? "", der: new Uint8Array(Buffer.from(body, "base64")) });
  }
  if (out.length === 0) throw new Error("no PEM block found");
  return out;
}

/** The single block with `label`; throws if there is none, several, or another label. */
export function fromPem(text: string, label: string): Uint8Array {
  const blocks = fromPemAll(text);
  if (blocks.length !== 1) throw new Error(`expected one PEM block, found ${blocks.length}`);
  const b = blocks[0]!;
  if (b.label !== label) throw new Error(`expected PEM label "${label}", found "${b.label}"`);
  return b.der;
}
