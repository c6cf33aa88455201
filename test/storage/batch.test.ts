/**
 * Grouped reads (storage/batch.ts): a lone read goes at once; reads asked for while `inFlight` statements are out
 * wait and go together; every caller gets the values of its own keys in its order; a failed statement fails every
 * caller in it and no other.
 */
import t from "tap";
import { createReadBatcher } from "../../src/storage/batch.js";

function deferred() {
  let resolve!: () => void;
  const p = new Promise<void>((r) => (resolve = r));
  return { p, resolve };
}

t.test("a lone read goes at once; reads asked for meanwhile share the next statement", async (t) => {
  const calls: number[][] = [];
  const gates: Array<ReturnType<typeof deferred>> = [];
  const b = createReadBatcher<number, string>(async (keys) => {
    calls.push(keys);
    const g = deferred();
    gates.push(g);
    await g.p;
    return new Map(keys.filter((k) => k !== 99).map((k) => [k, `v${k}`]));
  }, { inFlight: 1 });
  const first = b.load([1, 2]);
  t.same(calls, [[1, 2]], "the first read is sent without waiting");
  const second = b.load([3, 99]);
  const third = b.load([2, 4]);
  t.equal(calls.length, 1, "the others wait while one is in flight");
  gates[0]!.resolve();
  t.same(await first, ["v1", "v2"]);
  await new Promise((r) => setImmediate(r));
  t.same(calls[1], [3, 99, 2, 4], "the waiting reads go in one statement, each key once");
  gates[1]!.resolve();
  t.same(await second, ["v3", undefined], "a key with no value: undefined");
  t.same(await third, ["v2", "v4"], "each caller gets its own keys in its order");
  t.same(await b.load([]), [], "no keys: nothing read");
  t.equal(calls.length, 2);
});

t.test("a failed statement fails its callers only; at most maxKeys keys per statement", async (t) => {
  let n = 0;
  const sizes: number[] = [];
  const b = createReadBatcher<number, number>(async (keys) => {
    sizes.push(keys.length);
    await new Promise((r) => setImmediate(r));
    if (n++ === 1) throw new Error("store down");
    return new Map(keys.map((k) => [k, k * 10]));
  }, { inFlight: 1, maxKeys: 3 });
  const a = b.load([1]);
  const c = b.load([2, 3]);
  const d = b.load([4, 5]);
  t.same(await a, [10]);
  await t.rejects(c, /store down/, "the second statement failed: its caller sees the error");
  t.same(await d, [40, 50], "the next statement answers");
  t.same(sizes, [1, 2, 2], "2 + 2 keys exceed maxKeys 3: two statements");
});
