/**
 * Stream decoding: FlateDecode with PNG predictors, nothing else (structural streams, content streams and CMaps
 * are all Sidian reads; images are never decoded). Inflation is capped while it runs (zlib's maxOutputLength
 * stops at the cap, so a bomb costs the cap, not its full size) and counted against the document's budget.
 */
import zlib from "node:zlib";
import { AppError } from "../errors.js";
import { bad } from "./lexer.js";
import { checkLimit, InflateBudget, limitExceeded, PDF_LIMITS } from "./limits.js";
import { PdfDict, PdfName, type PdfObj, type PdfStream } from "./objects.js";

function pngUnpredict(data: Buffer, columns: number, colors: number, bpc: number): Buffer {
  if (!Number.isInteger(columns) || columns < 1 || !Number.isInteger(colors) || colors < 1 || colors > 32 || ![1, 2, 4, 8, 16].includes(bpc)) {
    throw bad("a stream's predictor parameters (/Columns, /Colors, /BitsPerComponent) are not valid");
  }
  const bpp = Math.max(1, Math.ceil((colors * bpc) / 8));
  const rowLen = Math.ceil((columns * colors * bpc) / 8);
  checkLimit("maxPredictorRow", rowLen, "a predictor row");
  const rows = Math.floor(data.length / (rowLen + 1));
  const out = Buffer.alloc(rows * rowLen);
  let prev = Buffer.alloc(rowLen);
  for (let r = 0; r < rows; r++) {
    const type = data[r * (rowLen + 1)]!;
    const src = data.subarray(r * (rowLen + 1) + 1, (r + 1) * (rowLen + 1));
    const cur = out.subarray(r * rowLen, (r + 1) * rowLen);
    for (let i = 0; i < rowLen; i++) {
      const a = i >= bpp ? cur[i - bpp]! : 0;
      const up = prev[i]!;
      const c = i >= bpp ? prev[i - bpp]! : 0;
      let v = src[i]!;
      switch (type) {
        case 1: v += a; break;
        case 2: v += up; break;
        case 3: v += (a + up) >> 1; break;
        case 4: {
          const p = a + up - c;
          const pa = Math.abs(p - a), pb = Math.abs(p - up), pc = Math.abs(p - c);
          v += pa <= pb && pa <= pc ? a : pb <= pc ? up : c;
          break;
        }
        default: break;
      }
      cur[i] = v & 0xff;
    }
    prev = cur;
  }
  return out;
}

function inflate(data: Buffer, budget: InflateBudget): Buffer {
  const allowance = budget.allowance;
  if (allowance <= 0) throw limitExceeded("maxInflatedDocument", "the document's streams inflate to more than that");
  let out: Buffer;
  try {
    out = zlib.inflateSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: allowance });
  } catch (cause) {
    if ((cause as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") {
      throw allowance < PDF_LIMITS.maxInflatedStream
        ? limitExceeded("maxInflatedDocument", "the document's streams inflate to more than that")
        : limitExceeded("maxInflatedStream", "a stream inflates to more than that");
    }
    throw bad("a compressed stream is damaged", cause);
  }
  budget.take(out.length);
  return out;
}

/**
 * Decodes a stream's data: FlateDecode (with PNG predictors) only; anything else → PDF_UNSUPPORTED. `budget` is the
 * document's (PdfDocument.decode passes it); a fresh one bounds a single call.
 */
export function decodeStream(
  s: PdfStream, resolve: (o: PdfObj | undefined) => PdfObj | undefined = (o) => o, budget: InflateBudget = new InflateBudget(),
): Buffer {
  const f = resolve(s.dict.get("Filter"));
  const list = Array.isArray(f) ? f : f === undefined || f === null ? [] : [f];
  if (list.length > 8) throw new AppError("PDF_UNSUPPORTED", "A stream has more than 8 filters.");
  const filters = list.map((x) => (x instanceof PdfName ? x.name : "?"));
  const p = resolve(s.dict.get("DecodeParms"));
  const parms = Array.isArray(p) ? p : [p];
  let data = s.data;
  filters.forEach((fl, i) => {
    if (fl !== "FlateDecode" && fl !== "Fl") throw new AppError("PDF_UNSUPPORTED", `Stream filter ${fl} is not supported.`);
    data = inflate(data, budget);
    const dp = resolve(parms[i]);
    if (dp instanceof PdfDict) {
      const num = (k: string, dflt: number) => {
        const v = resolve(dp.get(k));
        return typeof v === "number" ? v : dflt;
      };
      const pred = num("Predictor", 1);
      if (pred >= 10) data = pngUnpredict(data, num("Columns", 1), num("Colors", 1), num("BitsPerComponent", 8));
      else if (pred === 2) throw new AppError("PDF_UNSUPPORTED", "TIFF predictors are not supported.");
    }
  });
  return data;
}
