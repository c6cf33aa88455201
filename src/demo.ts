/**
 * `sidian demo`: seeds a demo department and one client per role (idempotent) and prints curl commands that
 * exercise the token flow.
 *
 * The demo clients' secrets are kept beside the database (`<db>.demo-secrets.json`, 0600, DEV only) so that every
 * run prints the same working secrets: `sidian demo` beside a server started with `--demo` never rotates the
 * secrets the server printed. A secret is made anew only for a client whose secret is not in that file (or no
 * longer matches), and the output says so.
 */
import fs from "node:fs";
import { usccCheckChar } from "./codes/index.js";
import { verifySecret } from "./crypto/password.js";
import type { Context } from "./context.js";
import { AppError } from "./errors.js";
import type { Actor, Role } from "./modules/kernel.js";

const SYSTEM: Actor = { kind: "system", name: "demo" };
const USCC17 = "11350100MB0000001";
export const DEMO_USCC = `${USCC17}${usccCheckChar(USCC17)}`;
export const DEMO_MATTER = "DEMO-MATTER-0001";
/** Defining authority USCC (DESIGN.md's example) + 3 digits. */
export const DEMO_TYPE = "11100000MB03271699901";
export const DEMO_HOLDER = "11010519491231002X";

export interface DemoSeed {
  departmentId: string;
  /** The department's official seal (type 01): it seals the licence PDFs. */
  sealId: string;
  clients: Array<{ role: Role; id: string; secret: string }>;
  /** Clients whose secret had to be made anew (it was not in the secrets file): earlier printed secrets stop working. */
  rotated: string[];
}

/** Where the demo secrets are kept for a database (null for an in-memory one: nothing to keep). */
export function demoSecretsFile(dbPath: string): string | null {
  return dbPath === ":memory:" || /^postgres(ql)?:/i.test(dbPath) ? null : `${dbPath}.demo-secrets.json`;
}

function readSecrets(file: string | null): Record<string, string> {
  if (!file) return {};
  try {
    const j = JSON.parse(fs.readFileSync(file, "utf8")) as unknown;
    return j && typeof j === "object" ? Object.fromEntries(Object.entries(j).filter(([, v]) => typeof v === "string")) as Record<string, string> : {};
  } catch {
    return {};
  }
}

export async function seedDemo(ctx: Context): Promise<DemoSeed> {
  const file = demoSecretsFile(ctx.config.dbPath);
  const known = readSecrets(file);
  let dept = await ctx.uow.read.departments.byUscc(DEMO_USCC);
  if (!dept) dept = await ctx.directory.createDepartment({ name: "演示市市场监督管理局", uscc: DEMO_USCC, regionCode: "350100" }, SYSTEM);
  try {
    await ctx.catalogue.createType({
      code: DEMO_TYPE, name: "演示食品经营许可证", holderKind: "person", holderCodeTypes: ["111"], validityDays: 365 * 5, issuers: [dept.id],
      fields: [
        { name: "scope", label: "经营项目", type: "string", required: true, maxLength: 100 },
        { name: "approvedOn", label: "核准日期", type: "date" },
      ],
    }, SYSTEM);
  } catch (e) {
    if (!(e instanceof AppError && e.status === 409)) throw e;
  }
  try {
    await ctx.catalogue.createMatter({ code: DEMO_MATTER, name: "演示事项：食品经营许可变更", licenceTypes: [DEMO_TYPE] }, SYSTEM);
  } catch (e) {
    if (!(e instanceof AppError && e.status === 409)) throw e;
  }
  // The official seal: without it the licence PDF answers 409 LICENCE_SEAL_MISSING.
  const seal = (await ctx.seals.officialSeal(dept.id)) ?? (await ctx.seals.createSeal({ departmentId: dept.id, type: "01" }, SYSTEM));
  const wanted: Array<{ role: Role; id: string; name: string; departmentId?: string; matters?: string[] }> = [
    { role: "admin", id: "demo-admin", name: "演示管理员" },
    { role: "issuer", id: "demo-issuer", name: "演示制证系统", departmentId: dept.id },
    { role: "consumer", id: "demo-consumer", name: "演示审批系统", matters: [DEMO_MATTER] },
    { role: "counter", id: "demo-counter", name: "演示窗口终端", departmentId: dept.id },
  ];
  const clients: DemoSeed["clients"] = [];
  const rotated: string[] = [];
  for (const w of wanted) {
    const cur = await ctx.uow.read.clients.byId(w.id);
    if (!cur) {
      const { secret } = await ctx.directory.createClient({ id: w.id, name: w.name, role: w.role, departmentId: w.departmentId ?? null, matters: w.matters ?? [] }, SYSTEM);
      clients.push({ role: w.role, id: w.id, secret });
      continue;
    }
    const keep = known[w.id];
    if (keep !== undefined && (await verifySecret(keep, cur.secretHash))) {
      if (cur.status !== "active") await ctx.directory.updateClient(w.id, { status: "active" }, SYSTEM);
      clients.push({ role: w.role, id: w.id, secret: keep });
      continue;
    }
    const r = await ctx.directory.updateClient(w.id, { rotateSecret: true, status: "active" }, SYSTEM);
    clients.push({ role: w.role, id: w.id, secret: r.secret! });
    rotated.push(w.id);
  }
  if (file) {
    const next = Object.fromEntries(clients.map((c) => [c.id, c.secret]));
    if (JSON.stringify(next) !== JSON.stringify(known)) {
      const tmp = `${file}.tmp-${process.pid}`;
      fs.writeFileSync(tmp, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
      fs.renameSync(tmp, file);
    }
  }
  return { departmentId: dept.id, sealId: seal.id, clients, rotated };
}

export function demoText(seed: DemoSeed, url: string): string {
  const c = (role: Role) => seed.clients.find((x) => x.role === role)!;
  const lines = [
    "Demo data (DEV ONLY): department 演示市市场监督管理局 " + `(USCC ${DEMO_USCC}, id ${seed.departmentId}, official seal ${seed.sealId}),`,
    `  licence type ${DEMO_TYPE} 演示食品经营许可证, matter ${DEMO_MATTER}`,
    ...seed.clients.map((x) => `  ${x.role.padEnd(9)} client_id=${x.id}  client_secret=${x.secret}`),
    ...(seed.rotated.length ? [`  (new secrets for ${seed.rotated.join(", ")}: their earlier ones were not kept, so they no longer work)`] : []),
    `  service: ${url}`,
    "",
    "Try:",
    `  export ADMIN_ID=${c("admin").id} ADMIN_SECRET=${c("admin").secret}`,
    `  TOKEN=$(curl -s -u "$ADMIN_ID:$ADMIN_SECRET" -d grant_type=client_credentials ${url}/oauth/token | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')`,
    `  curl -s -H "authorization: Bearer $TOKEN" ${url}/me`,
    `  curl -s -H "authorization: Bearer $TOKEN" ${url}/departments`,
    `  curl -s -H "authorization: Bearer $TOKEN" ${url}/departments/${seed.departmentId}/certificates`,
    `  curl -s -u ${c("issuer").id}:${c("issuer").secret} -d grant_type=client_credentials -d scope=licences:issue ${url}/oauth/token`,
    "",
    "Issue a licence (issuer), let the holder consent, fetch it for a matter (consumer), verify it (anyone):",
    `  ISSUER=$(curl -s -u ${c("issuer").id}:${c("issuer").secret} -d grant_type=client_credentials ${url}/oauth/token | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')`,
    `  LICENCE=$(curl -s -H "authorization: Bearer $ISSUER" -H 'content-type: application/json' -H "idempotency-key: demo-$(date +%s)" -d '{"typeCode":"${DEMO_TYPE}","number":"JY1350102'$(date +%s)'","holder":{"name":"张三","code":"${DEMO_HOLDER}","codeType":"111"},"fields":{"scope":"预包装食品销售","approvedOn":"2026-01-05"}}' ${url}/licences | node -pe 'JSON.parse(require("fs").readFileSync(0)).identifier')`,
    `  echo $LICENCE`,
    `  HOLDER=$(npx sidian dev holder-token --code ${DEMO_HOLDER})`,
    `  curl -s -H "authorization: Bearer $HOLDER" -H 'content-type: application/json' -d '{"clientId":"${c("consumer").id}","matterCode":"${DEMO_MATTER}","days":30}' ${url}/holders/me/consents`,
    `  CONSUMER=$(curl -s -u ${c("consumer").id}:${c("consumer").secret} -d grant_type=client_credentials ${url}/oauth/token | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')`,
    `  curl -s -H "authorization: Bearer $CONSUMER" -H 'content-type: application/json' -d '{"holderCode":"${DEMO_HOLDER}","holderCodeType":"111","matterCode":"${DEMO_MATTER}","useCause":"办理食品经营许可变更"}' ${url}/holders/licences:query`,
    `  curl -s -H "authorization: Bearer $HOLDER" ${url}/holders/me/accesses      # who used my licences`,
    `  curl -s -H 'content-type: application/json' -d '{"identifier":"'$LICENCE'"}' ${url}/verify`,
    "",
    "The licence as a sealed PDF (the department's official seal, PAdES B-T), and its validation:",
    `  curl -s -H "authorization: Bearer $ISSUER" -o licence.pdf ${url}/licences/$LICENCE/document`,
    `  curl -s -H 'content-type: application/pdf' --data-binary @licence.pdf ${url}/verify/pdf`,
    "A live QR (亮证) the holder shows, valid 5 minutes, and the page it opens:",
    `  QR=$(curl -s -X POST -H "authorization: Bearer $HOLDER" ${url}/holders/me/licences/$LICENCE/qr | node -pe 'JSON.parse(require("fs").readFileSync(0)).url')`,
    `  echo $QR                                      # open it in a browser: the /v/ verification page (有效)`,
    `  curl -s -X POST -H "authorization: Bearer $HOLDER" -o qr.png "${url}/holders/me/licences/$LICENCE/qr?format=png"   # the QR image itself`,
    `  open ${url}/v/l/$LICENCE                  # the static page (printed on the PDF)`,
    `  open ${url}/counter                       # the counter: log in as ${c("counter").id} / ${c("counter").secret}, upload qr.png or paste $QR`,
    "",
    `  curl -s ${url}/.well-known/jwks.json`,
    `  curl -s ${url}/pki/trust-bundle.pem`,
    `  curl -s ${url}/log/checkpoint`,
    `  open ${url}/docs for the OpenAPI documentation`,
  ];
  return lines.join("\n") + "\n";
}
