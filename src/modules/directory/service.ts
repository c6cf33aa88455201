/**
 * Departments and API clients. Every change is logged to the transparency log in the same transaction.
 */
import { randomUUID } from "node:crypto";
import { checkUscc } from "../../codes/index.js";
import { hashSecret, newSecret } from "../../crypto/password.js";
import { AppError } from "../../errors.js";
import { checkLine } from "../../util/text.js";
import type { Actor, Clock, CryptoProfile, Role, TrustLog, TxHooks, UnitOfWork } from "../kernel.js";
import { actorLabel } from "../kernel.js";
import type { Client, Department, DirectoryRepos } from "./ports.js";

/** Scopes each role may hold. A token carries the subset the client asked for (default: all of its own). */
export const ROLE_SCOPES: Record<Role, readonly string[]> = {
  admin: ["admin"],
  issuer: ["licences:issue", "licences:manage", "seals:stamp"],
  consumer: ["licences:query"],
  counter: ["verify:counter"],
  // The archive office (档案部门): receives case packages, runs 四性检测, re-checks stored packages (issue 19).
  archivist: ["archives:read", "archives:check", "archives:receive"],
};

export type PublicClient = Omit<Client, "secretHash">;

export interface DepartmentHooks<R> {
  /** Called inside the creating transaction, e.g. to issue the department's licence-signing certificate. */
  onDepartmentCreated?(repos: R, tx: TxHooks, d: Department, actor: Actor): Promise<void>;
}

export interface DirectoryDeps<R extends DirectoryRepos> {
  uow: UnitOfWork<R>;
  clock: Clock;
  log: TrustLog<R>;
  hooks?: DepartmentHooks<R>;
  /** Called after a client's record changed (committed): drop cached copies (the auth service's client cache). */
  onClientChanged?(id: string): void;
}

const REGION_RE = /^\d{6}$/;
const CLIENT_ID_RE = /^[a-z0-9][a-z0-9._-]{2,63}$/;

export function toPublicClient(c: Client): PublicClient {
  const { secretHash: _s, ...rest } = c;
  return rest;
}

export function createDirectoryService<R extends DirectoryRepos>(deps: DirectoryDeps<R>) {
  const { uow, clock, log } = deps;

  async function createDepartment(input: { name: string; uscc: string; regionCode: string; profile?: CryptoProfile }, actor: Actor): Promise<Department> {
    const uscc = checkUscc(input.uscc);
    if (!uscc.ok) throw new AppError("USCC_INVALID", `The USCC is not valid (${uscc.problem}).`, { details: { field: "uscc", problem: uscc.problem } });
    if (!REGION_RE.test(input.regionCode)) throw new AppError("REGION_CODE_INVALID");
    const now = clock.now();
    const d: Department = { id: randomUUID(), name: checkLine("name", input.name, { min: 2, max: 100 }), uscc: input.uscc, regionCode: input.regionCode, profile: input.profile ?? "p256", createdAt: now, updatedAt: now };
    return uow.write(async (repos, tx) => {
      if (await repos.departments.byUscc(d.uscc)) throw new AppError("DEPARTMENT_EXISTS");
      await repos.departments.insert(d);
      await log.append(repos, tx, {
        type: "department.created",
        subject: `department:${d.id}`,
        actor: actorLabel(actor),
        data: { name: d.name, uscc: d.uscc, regionCode: d.regionCode, profile: d.profile },
      });
      await deps.hooks?.onDepartmentCreated?.(repos, tx, d, actor);
      return d;
    });
  }

  async function updateDepartment(id: string, patch: { name?: string; regionCode?: string }, actor: Actor): Promise<Department> {
    if (patch.regionCode !== undefined && !REGION_RE.test(patch.regionCode)) throw new AppError("REGION_CODE_INVALID");
    return uow.write(async (repos, tx) => {
      const cur = await repos.departments.byId(id);
      if (!cur) throw new AppError("DEPARTMENT_NOT_FOUND");
      const next = { ...cur, ...(patch.name !== undefined ? { name: checkLine("name", patch.name, { min: 2, max: 100 }) } : {}), ...(patch.regionCode ? { regionCode: patch.regionCode } : {}), updatedAt: clock.now() };
      await repos.departments.update(id, { name: next.name, regionCode: next.regionCode, updatedAt: next.updatedAt });
      await log.append(repos, tx, {
        type: "department.updated",
        subject: `department:${id}`,
        actor: actorLabel(actor),
        data: { name: next.name, regionCode: next.regionCode },
      });
      return next;
    });
  }

  async function getDepartment(id: string): Promise<Department> {
    const d = await uow.read.departments.byId(id);
    if (!d) throw new AppError("DEPARTMENT_NOT_FOUND");
    return d;
  }

  function checkBinding(role: Role, departmentId: string | null, matters: string[]): void {
    const bad = (why: string) => new AppError("CLIENT_BINDING_INVALID", why);
    if (role === "issuer" && !departmentId) throw bad("An issuer client must be bound to a department.");
    if (role === "issuer" && matters.length) throw bad("An issuer client is bound to a department, not to matters.");
    if (role === "consumer" && matters.length === 0) throw bad("A consumer client must be bound to at least one matter.");
    if (role === "admin" && (departmentId || matters.length)) throw bad("An admin client is not bound to a department or matters.");
    if (role === "counter" && matters.length) throw bad("A counter client is not bound to matters.");
    if (role === "archivist" && !departmentId) throw bad("An archivist client must be bound to a department (its archive office).");
    if (role === "archivist" && matters.length) throw bad("An archivist client is bound to a department, not to matters.");
  }

  /** Every matter a client is bound to must exist (MATTER_NOT_FOUND lists the unknown codes). */
  async function checkMatters(repos: R, matters: readonly string[]): Promise<void> {
    const unknown: string[] = [];
    for (const code of matters) if (!(await repos.matters.byCode(code))) unknown.push(code);
    if (unknown.length) {
      throw new AppError("MATTER_NOT_FOUND", `No matter with code${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}.`, { details: { field: "matters", matters: unknown } });
    }
  }

  function checkScopes(role: Role, scopes: string[] | undefined): string[] {
    const allowed = ROLE_SCOPES[role];
    if (!scopes) return [...allowed];
    const extra = scopes.filter((s) => !allowed.includes(s));
    if (extra.length) throw new AppError("INVALID_SCOPE", `Scopes not allowed for role ${role}: ${extra.join(", ")}`);
    return [...new Set(scopes)];
  }

  /** Creates a client and returns its secret once; only the scrypt hash is stored. */
  async function createClient(
    input: { id?: string; name: string; role: Role; departmentId?: string | null; matters?: string[]; scopes?: string[] },
    actor: Actor,
  ): Promise<{ client: PublicClient; secret: string }> {
    const id = input.id ?? `${input.role}-${randomUUID().slice(0, 8)}`;
    if (!CLIENT_ID_RE.test(id)) throw new AppError("VALIDATION_FAILED", "Client id: 3-64 chars of a-z 0-9 . _ -, starting with a letter or digit.", { details: { field: "id" } });
    const departmentId = input.departmentId ?? null;
    const matters = [...new Set(input.matters ?? [])];
    checkBinding(input.role, departmentId, matters);
    const scopes = checkScopes(input.role, input.scopes);
    const secret = newSecret();
    const secretHash = await hashSecret(secret);
    const now = clock.now();
    const c: Client = { id, name: checkLine("name", input.name, { max: 100 }), role: input.role, departmentId, matters, scopes, secretHash, status: "active", createdAt: now, updatedAt: now };
    await uow.write(async (repos, tx) => {
      if (departmentId && !(await repos.departments.byId(departmentId))) throw new AppError("DEPARTMENT_NOT_FOUND");
      await checkMatters(repos, matters);
      if (await repos.clients.byId(id)) throw new AppError("CLIENT_EXISTS");
      await repos.clients.insert(c);
      await log.append(repos, tx, {
        type: "client.created",
        subject: `client:${id}`,
        actor: actorLabel(actor),
        data: { role: c.role, departmentId, matters, scopes },
      });
    });
    return { client: toPublicClient(c), secret };
  }

  async function updateClient(
    id: string,
    patch: { name?: string; status?: "active" | "disabled"; matters?: string[]; scopes?: string[]; rotateSecret?: boolean },
    actor: Actor,
  ): Promise<{ client: PublicClient; secret?: string }> {
    const secret = patch.rotateSecret ? newSecret() : undefined;
    const secretHash = secret ? await hashSecret(secret) : undefined;
    const client = await uow.write(async (repos, tx) => {
      const cur = await repos.clients.byId(id);
      if (!cur) throw new AppError("CLIENT_NOT_FOUND");
      const matters = patch.matters ? [...new Set(patch.matters)] : cur.matters;
      checkBinding(cur.role, cur.departmentId, matters);
      if (patch.matters) await checkMatters(repos, matters);
      const scopes = patch.scopes ? checkScopes(cur.role, patch.scopes) : cur.scopes;
      const next: Client = {
        ...cur,
        name: patch.name !== undefined ? checkLine("name", patch.name, { max: 100 }) : cur.name,
        status: patch.status ?? cur.status,
        matters,
        scopes,
        secretHash: secretHash ?? cur.secretHash,
        updatedAt: clock.now(),
      };
      await repos.clients.update(id, { name: next.name, status: next.status, matters, scopes, secretHash: next.secretHash, updatedAt: next.updatedAt });
      await log.append(repos, tx, {
        type: "client.updated",
        subject: `client:${id}`,
        actor: actorLabel(actor),
        data: { status: next.status, matters, scopes, secretRotated: Boolean(secret) },
      });
      tx.afterCommit(() => deps.onClientChanged?.(id));
      return next;
    });
    return secret ? { client: toPublicClient(client), secret } : { client: toPublicClient(client) };
  }

  async function getClient(id: string): Promise<Client> {
    const c = await uow.read.clients.byId(id);
    if (!c) throw new AppError("CLIENT_NOT_FOUND");
    return c;
  }

  return {
    createDepartment,
    updateDepartment,
    getDepartment,
    listDepartments: (opts: { limit: number; after?: string }) => uow.read.departments.list(opts),
    createClient,
    updateClient,
    getClient,
    listClients: async (opts: { limit: number; after?: string; departmentId?: string }) =>
      (await uow.read.clients.list(opts)).map(toPublicClient),
  };
}

export type DirectoryService = ReturnType<typeof createDirectoryService>;
