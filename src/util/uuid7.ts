/**
 * UUID version 7 (RFC 9562 §5.7): 48-bit Unix milliseconds, then 74 random bits. Ids made one after another sort
 * (and land in a B-tree index) one after another, so a table keyed by them is appended to, not written at random
 * pages: used for records written on every request (the access log).
 */
import { randomFillSync } from "node:crypto";

const POOL = 256;
const pool = Buffer.alloc(16 * POOL);
let next = POOL;

export function uuidv7(now = Date.now()): string {
  if (next === POOL) {
    randomFillSync(pool);
    next = 0;
  }
  const b = pool.subarray(16 * next, 16 * next + 16);
  next++;
  b.writeUIntBE(now, 0, 6);
  b[6] = (b[6]! & 0x0f) | 0x70; // version 7
  b[8] = (b[8]! & 0x3f) | 0x80; // variant 10
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
