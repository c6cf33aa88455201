/**
 * `sidian demo`: seeds a demo department and one client per role (idempotent: re-running rotates the demo
 * secrets so the printed commands always work) and prints curl commands that exercise the token flow.
 */
import { usccCheckChar } from "./codes/index.js";
import type { Context } from "./context.js";
import { AppError } from "./errors.js";
import type { Actor, Role } from "./modules/kernel.js";

const SYSTEM: Actor = { kind: "system", name: "demo" };
const USCC17 = "11350100MB0000001";
export const DEMO_USCC = `${USCC17}${usccCheckChar(USCC17)}`;
export const DEMO_MATTER = "DEMO-MATTER-0001";

export interface DemoSeed {
  departmentId: string;
  clients: Array<{ role: Role; id: string; secret: string }>;
}

export async function seedDemo(ctx: Context): Promise<DemoSeed> {
  let dept = await ctx.uow.read.departments.byUscc(DEMO_USCC);
  if (!dept) dept = await ctx.directory.createDepartment({ name: "演示市市场监督管理局", uscc: DEMO_USCC, regionCode: "350100" }, SYSTEM);
  const wanted: Array<{ role: Role; id: string; name: string; departmentId?: string; matters?: string[] }> = [
    { role: "admin", id: "demo-admin", name: "演示管理员" },
    { role: "issuer", id: "demo-issuer", name: "演示制证系统", departmentId: dept.id },
    { role: "consumer", id: "demo-consumer", name: "演示审批系统", matters: [DEMO_MATTER] },
    { role: "counter", id: "demo-counter", name: "演示窗口终端", departmentId: dept.id },
  ];
  const clients: DemoSeed["clients"] = [];
  for (const w of wanted) {
    try {
      const { secret } = await ctx.directory.createClient({ id: w.id, name: w.name, role: w.role, departmentId: w.departmentId ?? null, matters: w.matters ?? [] }, SYSTEM);
      clients.push({ role: w.role, id: w.id, secret });
    } catch (e) {
      if (!(e instanceof AppError && e.code === "CLIENT_EXISTS")) throw e;
      const r = await ctx.directory.updateClient(w.id, { rotateSecret: true, status: "active" }, SYSTEM);
      clients.push({ role: w.role, id: w.id, secret: r.secret! });
    }
  }
  return { departmentId: dept.id, clients };
}

export function demoText(seed: DemoSeed, url: string): string {
  const c = (role: Role) => seed.clients.find((x) => x.role === role)!;
  const lines = [
    "Demo data (DEV ONLY): department 演示市市场监督管理局 " + `(USCC ${DEMO_USCC}, id ${seed.departmentId})`,
    ...seed.clients.map((x) => `  ${x.role.padEnd(9)} client_id=${x.id}  client_secret=${x.secret}`),
    "",
    "Try:",
    `  export ADMIN_ID=${c("admin").id} ADMIN_SECRET=${c("admin").secret}`,
    `  TOKEN=$(curl -s -u "$ADMIN_ID:$ADMIN_SECRET" -d grant_type=client_credentials ${url}/oauth/token | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')`,
    `  curl -s -H "authorization: Bearer $TOKEN" ${url}/me`,
    `  curl -s -H "authorization: Bearer $TOKEN" ${url}/departments`,
    `  curl -s -H "authorization: Bearer $TOKEN" ${url}/departments/${seed.departmentId}/certificates`,
    `  curl -s -u ${c("issuer").id}:${c("issuer").secret} -d grant_type=client_credentials -d scope=licences:issue ${url}/oauth/token`,
    `  curl -s ${url}/.well-known/jwks.json`,
    `  curl -s ${url}/pki/trust-bundle.pem`,
    `  curl -s ${url}/log/checkpoint`,
    `  open ${url}/docs for the OpenAPI documentation`,
  ];
  return lines.join("\n") + "\n";
}
