/**
 * Child process for crash.test.ts: records "things" and their log entries in the same transactions, forever,
 * until it is killed. Prints `COMMITTED <leaves>` after each commit; with `pause-mid` it also prints `MID` in the
 * middle of a batch (after half of the appends, before COMMIT) and waits there to be killed.
 */
import fs from "node:fs";
import { createHash, createPrivateKey, createPublicKey } from "node:crypto";
import { openSqlite } from "../../src/storage/db.js";
import { createUnitOfWork } from "../../src/storage/repos/index.js";
import { createTlog } from "../../src/modules/tlog/index.js";
import { silentLogger, systemClock } from "../../src/modules/kernel.js";

const [file, mode, keyFile] = process.argv.slice(2) as [string, "pause-mid" | "run", string];
const BATCH = 50;
const h = openSqlite(file, { sync: "normal" });
h.writer.exec("CREATE TABLE IF NOT EXISTS demo_things (id INTEGER PRIMARY KEY, payload TEXT NOT NULL, log_index INTEGER NOT NULL UNIQUE)");
const uow = createUnitOfWork(h);
const privateKey = createPrivateKey(fs.readFileSync(keyFile, "utf8"));
const publicKey = createPublicKey(privateKey);
const tlog = createTlog({
  uow, clock: systemClock, signer: { name: "crash.test/log", privateKey, publicKey },
  checkpointIntervalSeconds: 1, checkpointMaxEntries: 500, log: silentLogger,
});
const insert = h.writer.prepare("INSERT INTO demo_things (id, payload, log_index) VALUES (?, ?, ?)");
let nextId = ((h.writer.prepare("SELECT max(id) FROM demo_things").pluck().get() as number | null) ?? 0) + 1;

let round = 0;
for (;;) {
  round++;
  const size = await uow.write(async (repos, tx) => {
    for (let k = 0; k < BATCH; k++) {
      const id = nextId + k;
      const payload = `thing ${id} ${"x".repeat(id % 17)}`;
      const sha256 = createHash("sha256").update(payload).digest("hex");
      const { index } = await tlog.append(repos, tx, { type: "demo.recorded", subject: `thing:${id}`, actor: "system:crash-test", data: { sha256 } });
      insert.run(id, payload, index);
      if (mode === "pause-mid" && round === 5 && k === BATCH / 2) {
        process.stdout.write("MID\n");
        await new Promise((r) => setTimeout(r, 60_000)); // killed here, inside the open transaction
      }
    }
    return repos.tlog.size();
  });
  nextId += BATCH;
  process.stdout.write(`COMMITTED ${size}\n`);
  if (round % 10 === 0) await new Promise((r) => setImmediate(r)); // let checkpoint timers run
}
