import t from "tap";
import { createContext } from "../../src/context.js";
import { testConfig } from "../helpers/app.js";

t.test("service keys are logged once per deployment (key.registered)", async (t) => {
  const config = testConfig(t);
  const first = await createContext(config, { autoCheckpoint: false });
  const size1 = await first.tlog.size();
  const entries = await Promise.all(Array.from({ length: size1 }, (_, i) => first.tlog.getEntry(i)));
  const reg = entries.filter((e) => e.event.type === "key.registered");
  t.same(reg.map((e) => e.event.data.role).sort(), ["idp", "issuing-ca", "log", "root-ca", "token", "tsa"]);
  const token = reg.find((e) => e.event.data.role === "token")!;
  t.equal(token.event.data.sha256, first.material.token.cert.sha256, "the token certificate's fingerprint is logged");
  t.equal(token.event.subject, `key:${first.material.token.cert.sha256}`);
  await first.close();

  const second = await createContext(config, { autoCheckpoint: false });
  t.equal(await second.tlog.size(), size1, "a restart with the same keys logs nothing new");
  await second.close();
});
