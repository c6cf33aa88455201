/** hmacSha256 (src/crypto/hash.ts): the same bytes as node:crypto's createHmac, for every message length it takes. */
import { createHmac, randomBytes } from "node:crypto";
import t from "tap";
import { hmacSha256 } from "../../src/crypto/hash.js";

t.test("agrees with createHmac (RFC 4231 vector, random keys and messages, long messages, repeated use)", async (t) => {
  // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?"
  t.equal(hmacSha256(Buffer.from("Jefe"))("what do ya want for nothing?", "hex"), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  for (const keyLen of [0, 1, 32, 63, 64]) {
    const key = randomBytes(keyLen);
    const mac = hmacSha256(key);
    for (const msg of ["", "111:35010219500101000X", "张三丰".repeat(50), "x".repeat(1024), "y".repeat(1025), "z".repeat(5000), "码".repeat(400)]) {
      for (const enc of ["hex", "base64url"] as const) {
        t.equal(mac(msg, enc), createHmac("sha256", key).update(msg).digest(enc), `key ${keyLen} B, message ${Buffer.byteLength(msg)} B, ${enc}`);
      }
    }
    // A short message after a long one: nothing of the earlier one is left in the kept buffer.
    t.equal(mac("a", "hex"), createHmac("sha256", key).update("a").digest("hex"));
  }
  t.throws(() => hmacSha256(randomBytes(65)), RangeError, "keys longer than the block size are refused, not mishandled");
});
