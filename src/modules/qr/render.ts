/**
 * QR rendering without a canvas: the `qrcode` package computes the module matrix; we write the SVG (one path,
 * run-length merged rows) and the PNG (1-bit greyscale, zlib) ourselves — several times faster than the
 * package's own renderers and byte-for-byte deterministic.
 */
import { deflateSync } from "node:zlib";
import QRCode from "qrcode";

export type Ecc = "L" | "M" | "Q" | "H";

export interface QrMatrix {
  /** Modules per side (without the quiet zone). */
  size: number;
  /** QR version 1..40. */
  version: number;
  ecc: Ecc;
  /** Row-major, 1 = dark. */
  modules: Uint8Array;
}

/**
 * Encodes `text`. Text made only of 0-9 A-Z space $%*+-./: is encoded in alphanumeric mode (5.5 bits a
 * character instead of 8), which is why the live tokens use upper-case base32.
 */
export function qrMatrix(text: string, ecc: Ecc = "M"): QrMatrix {
  const alnum = /^[0-9A-Z $%*+\-./:]*$/.test(text);
  const qr = QRCode.create(alnum ? [{ data: text, mode: "alphanumeric" }] : text, { errorCorrectionLevel: ecc });
  const size = qr.modules.size;
  const modules = new Uint8Array(size * size);
  const data = qr.modules.data as unknown as ArrayLike<number | boolean>;
  for (let i = 0; i < size * size; i++) modules[i] = data[i] ? 1 : 0;
  return { size, version: qr.version, ecc, modules };
}

/** SVG with a 4-module quiet zone; `px` is the rendered width (the viewBox stays in modules, so it scales crisply). */
export function qrSvg(m: QrMatrix, opts: { px?: number; title?: string } = {}): string {
  const q = 4;
  const n = m.size + 2 * q;
  let d = "";
  for (let y = 0; y < m.size; y++) {
    let x = 0;
    while (x < m.size) {
      if (!m.modules[y * m.size + x]) {
        x++;
        continue;
      }
      const start = x;
      while (x < m.size && m.modules[y * m.size + x]) x++;
      d += `M${start + q} ${y + q}h${x - start}v1h-${x - start}z`;
    }
  }
  const px = opts.px ?? n * 4;
  const title = opts.title ? `<title>${escapeXml(opts.title)}</title>` : "";
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${px}" height="${px}" viewBox="0 0 ${n} ${n}" shape-rendering="crispEdges" role="img">${title}<rect width="${n}" height="${n}" fill="#fff"/><path d="${d}" fill="#000"/></svg>`;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "ascii");
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** PNG, 1 bit per pixel greyscale, `scale` pixels a module, 4-module quiet zone. */
export function qrPng(m: QrMatrix, scale = 8): Buffer {
  const q = 4;
  const side = (m.size + 2 * q) * scale;
  const rowBytes = Math.ceil(side / 8);
  const raw = Buffer.alloc((rowBytes + 1) * side, 0);
  for (let py = 0; py < side; py++) {
    const row = py * (rowBytes + 1);
    raw[row] = 0; // filter: none
    const my = Math.floor(py / scale) - q;
    for (let bx = 0; bx < rowBytes; bx++) {
      let byte = 0;
      for (let bit = 0; bit < 8; bit++) {
        const px = bx * 8 + bit;
        const mx = Math.floor(px / scale) - q;
        const dark = px < side && my >= 0 && my < m.size && mx >= 0 && mx < m.size && m.modules[my * m.size + mx] === 1;
        // greyscale 1-bit: 1 = white
        if (!dark) byte |= 0x80 >> bit;
      }
      raw[row + 1 + bx] = byte;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // greyscale
  ihdr[10] = 0;
  ihdr[11] = 0;
  ihdr[12] = 0;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw, { level: 6 })),
    chunk("IEND", new Uint8Array(0)),
  ]);
}
