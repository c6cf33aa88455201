/**
 * TrueType fix-up for embedding with pdf-lib + fontkit.
 *
 * fontkit's subsetter copies glyph records byte for byte and then writes a short (16-bit, offset/2) `loca`
 * whenever the subset is small enough. Our committed font (fontTools subset, long `loca`) has glyph records of
 * odd length, so their halved offsets are wrong and most glyphs of the subset come out empty or garbled.
 * `padGlyphs` rewrites `glyf`/`loca` once at load time with every glyph padded to a multiple of 4 bytes (what the
 * TrueType spec recommends anyway); the outlines are unchanged.
 */

function checksum(b: Buffer): number {
  let sum = 0;
  const padded = b.length % 4 ? Buffer.concat([b, Buffer.alloc(4 - (b.length % 4))]) : b;
  for (let i = 0; i < padded.length; i += 4) sum = (sum + padded.readUInt32BE(i)) >>> 0;
  return sum;
}

export function padGlyphs(font: Buffer): Buffer {
  const numTables = font.readUInt16BE(4);
  const tables = new Map<string, Buffer>();
  for (let i = 0; i < numTables; i++) {
    const rec = 12 + i * 16;
    const tag = font.toString("latin1", rec, rec + 4);
    const off = font.readUInt32BE(rec + 8);
    const len = font.readUInt32BE(rec + 12);
    tables.set(tag, font.subarray(off, off + len));
  }
  const head = tables.get("head");
  const loca = tables.get("loca");
  const glyf = tables.get("glyf");
  const maxp = tables.get("maxp");
  if (!head || !loca || !glyf || !maxp) return font;
  const numGlyphs = maxp.readUInt16BE(4);
  const long = head.readInt16BE(50) === 1;
  const at = (i: number) => (long ? loca.readUInt32BE(i * 4) : loca.readUInt16BE(i * 2) * 2);
  const parts: Buffer[] = [];
  const newLoca = Buffer.alloc((numGlyphs + 1) * 4);
  let pos = 0;
  for (let g = 0; g < numGlyphs; g++) {
    const rec = glyf.subarray(at(g), at(g + 1));
    newLoca.writeUInt32BE(pos, g * 4);
    parts.push(rec);
    pos += rec.length;
    const pad = (4 - (rec.length % 4)) % 4;
    if (pad) {
      parts.push(Buffer.alloc(pad));
      pos += pad;
    }
  }
  newLoca.writeUInt32BE(pos, numGlyphs * 4);
  const newHead = Buffer.from(head);
  newHead.writeInt16BE(1, 50);
  newHead.writeUInt32BE(0, 8); // checkSumAdjustment, recomputed below
  tables.set("head", newHead);
  tables.set("loca", newLoca);
  tables.set("glyf", Buffer.concat(parts));

  const tags = [...tables.keys()].sort();
  const dirLen = 12 + tags.length * 16;
  let offset = dirLen;
  const header = Buffer.alloc(dirLen);
  header.writeUInt32BE(font.readUInt32BE(0), 0);
  header.writeUInt16BE(tags.length, 4);
  const es = Math.floor(Math.log2(tags.length));
  header.writeUInt16BE(2 ** es * 16, 6);
  header.writeUInt16BE(es, 8);
  header.writeUInt16BE(tags.length * 16 - 2 ** es * 16, 10);
  const body: Buffer[] = [];
  tags.forEach((tag, i) => {
    const data = tables.get(tag)!;
    const rec = 12 + i * 16;
    header.write(tag, rec, 4, "latin1");
    header.writeUInt32BE(checksum(data), rec + 4);
    header.writeUInt32BE(offset, rec + 8);
    header.writeUInt32BE(data.length, rec + 12);
    body.push(data);
    const pad = (4 - (data.length % 4)) % 4;
    if (pad) body.push(Buffer.alloc(pad));
    offset += data.length + pad;
  });
  const out = Buffer.concat([header, ...body]);
  const headOff = out.readUInt32BE(12 + tags.indexOf("head") * 16 + 8);
  out.writeUInt32BE((0xb1b0afba - checksum(out)) >>> 0, headOff + 8);
  return out;
}
