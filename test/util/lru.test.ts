/** The bounded LRU map and the read-through TTL cache (src/util/lru.ts). */
import t from "tap";
import { Lru, TtlCache } from "../../src/util/lru.js";

t.test("Lru: bounded, evicts the least recently used once more than half full", async (t) => {
  const l = new Lru<string, number>(4);
  for (const k of ["a", "b", "c"]) l.set(k, k.charCodeAt(0));
  t.equal(l.get("a"), 97, "a hit, with the map more than half full: a becomes the youngest");
  l.set("d", 100);
  l.set("e", 101);
  t.equal(l.size, 4, "never more than max");
  t.equal(l.get("b"), undefined, "b (least recently used) went first");
  t.equal(l.get("a"), 97, "a stayed");
  l.set("f", 102);
  t.equal(l.get("c"), undefined, "then c");
  t.same(["a", "d", "e", "f"].map((k) => l.get(k) !== undefined), [true, true, true, true]);
  l.delete("a");
  t.equal(l.get("a"), undefined);
  t.equal(l.size, 3);
});

t.test("Lru: below half full a hit does not reorder, and nothing is evicted", async (t) => {
  const l = new Lru<number, number>(10);
  for (let i = 0; i < 5; i++) l.set(i, i);
  for (let i = 0; i < 5; i++) t.equal(l.get(i), i);
  t.equal(l.size, 5);
  for (let i = 5; i < 15; i++) l.set(i, i);
  t.equal(l.size, 10);
  t.same([0, 1, 2, 3, 4].map((i) => l.get(i)), [undefined, undefined, undefined, undefined, undefined], "the oldest insertions went");
});

t.test("TtlCache: loads once, reuses until the TTL, keeps only what `keep` allows, forgets failures", async (t) => {
  let now = 0;
  let loads = 0;
  const c = new TtlCache<string, string | null>(10, 1000, () => now, (v) => v !== null);
  const load = async (k: string) => (loads++, k === "none" ? null : `v:${k}`);
  t.equal(await c.get("x", load), "v:x");
  t.equal(await c.get("x", load), "v:x");
  t.equal(loads, 1, "reused");
  now = 1000;
  t.equal(await c.get("x", load), "v:x");
  t.equal(loads, 2, "loaded again after the TTL");
  t.equal(await c.get("none", load), null);
  t.equal(await c.get("none", load), null);
  t.equal(loads, 4, "values `keep` refuses are not remembered");
  c.delete("x");
  await c.get("x", load);
  t.equal(loads, 5, "deleted: loaded again");
  await t.rejects(c.get("boom", async () => { throw new Error("down"); }), /down/);
  t.equal(await c.get("boom", load), "v:boom", "a failed load is not remembered");
});

t.test("Lru with a weight bound: the oldest go until the total fits; replacing and deleting give weight back", async (t) => {
  const l = new Lru<string, number[]>(100, { weigh: (v) => v.length, maxWeight: 10 });
  l.set("a", [1, 2, 3, 4]);
  l.set("b", [1, 2, 3]);
  l.set("c", [1, 2, 3]);
  t.equal(l.size, 3, "10 in all: nothing evicted");
  l.set("d", [1]);
  t.equal(l.get("a"), undefined, "11 > 10: the oldest (a, 4) went");
  t.same(["b", "c", "d"].map((k) => l.get(k)?.length), [3, 3, 1]);
  l.set("b", [1]);
  l.set("e", [1, 2, 3, 4, 5]);
  t.same(["b", "c", "d", "e"].map((k) => l.get(k)?.length), [1, 3, 1, 5], "b replaced by a lighter value: 10 in all, nothing evicted");
  l.delete("e");
  l.set("f", [1, 2, 3, 4, 5]);
  t.equal(l.size, 4, "deleting gave e's weight back");
  const big = new Lru<string, number[]>(100, { weigh: (v) => v.length, maxWeight: 2 });
  big.set("x", [1, 2, 3]);
  t.equal(big.get("x")?.length, 3, "a single entry heavier than the bound is kept until the next");
  big.set("y", [1]);
  t.equal(big.get("x"), undefined);
  t.equal(big.get("y")?.length, 1);
});
