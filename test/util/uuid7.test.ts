import t from "tap";
import { uuidv7 } from "../../src/util/uuid7.js";

t.test("uuidv7: RFC 9562 layout, time-ordered, unique", async (t) => {
  const at = Date.UTC(2026, 10, 22, 1, 2, 3, 456);
  const id = uuidv7(at);
  t.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, "version 7, variant 10");
  t.equal(parseInt(id.replace(/-/g, "").slice(0, 12), 16), at, "the first 48 bits are the Unix milliseconds");
  const ids = Array.from({ length: 2000 }, (_, i) => uuidv7(at + i));
  t.same([...ids].sort(), ids, "later ids sort after earlier ones");
  const same = Array.from({ length: 5000 }, () => uuidv7(at));
  t.equal(new Set(same).size, same.length, "unique within one millisecond (74 random bits)");
});
