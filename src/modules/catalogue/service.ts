/**
 * The catalogue (admin): licence types and matters (事项). Read-mostly: a process-local snapshot serves the hot
 * paths (issuance, 免证办 queries); it is replaced after every committed change here and re-read at most
 * `cacheSeconds` after another instance changed the database.
 *
 * Issuer grants: besides a type's current `issuers` (what issuance checks), the catalogue keeps when each
 * department was allowed to issue each type (`issuerAllowedAt`, what verification checks at the signing time). The
 * grants change in the same write transaction as the type: a department added to the issuers gets a grant from
 * now, one removed has its grant closed now; the others are left alone.
 */
import { checkUscc, HOLDER_CODE_TYPES, type HolderCodeType } from "../../codes/index.js";
import { AppError } from "../../errors.js";
import { actorLabel, type Actor, type Clock, type CryptoProfile, type TrustLog, type UnitOfWork } from "../kernel.js";
import { TLOG_EVENTS } from "../tlog/events.js";
import { fieldDefsProblem, type FieldDef } from "./fields.js";
import type { CatalogueRepos, HolderKind, IssuerGrant, LicenceType, Matter } from "./ports.js";

export const TYPE_CODE_RE = /^[0-9A-HJ-NPQRTUWXY]{18}\d{3}$/;
export const MATTER_CODE_RE = /^[0-9A-Za-z._-]{1,64}$/;

export interface CatalogueDeps<R extends CatalogueRepos> {
  uow: UnitOfWork<R>;
  clock: Clock;
  log: TrustLog<R>;
  cacheSeconds?: number;
}

export interface LicenceTypeInput {
  code: string;
  name: string;
  holderKind: HolderKind;
  holderCodeTypes: string[];
  fields: FieldDef[];
  validityDays?: number | null;
  issuers: string[];
  /** Crypto profile the type's licences are signed with (default p256). */
  profile?: CryptoProfile;
}

export interface MatterInput {
  code: string;
  name: string;
  licenceTypes: string[];
  consentExempt?: boolean;
  exemptBasis?: string | null;
  /** The departments that handle the matter (实施主体); default none. */
  departments?: string[];
}

interface Snapshot {
  types: Map<string, LicenceType>;
  matters: Map<string, Matter>;
  /** Grants by type code, in repository order (department, start). */
  grants: Map<string, IssuerGrant[]>;
  /** Grant periods [from, to] in ms (to = Infinity while open) by `typeCode NUL departmentId`. */
  periods: Map<string, Array<readonly [number, number]>>;
  loadedAt: number;
  /** Increases with every load: what was derived from a snapshot is current while this is unchanged. */
  generation: number;
}

/** The least time between two loads of the snapshot caused by another instance's commits. */
const MARK_RELOAD_MS = 250;

const pairKey = (typeCode: string, departmentId: string) => `${typeCode}\u0000${departmentId}`;

function bad(problem: string): AppError {
  return new AppError("LICENCE_TYPE_INVALID", `The licence type is not valid: ${problem}.`, { details: { problem } });
}

/** What the log records of a licence type or matter when it is created or changed (no personal data). */
const typeEventData = (t: LicenceType) => ({ name: t.name, holderKind: t.holderKind, holderCodeTypes: t.holderCodeTypes, fields: t.fields, validityDays: t.validityDays, issuers: t.issuers, profile: t.profile });
const matterEventData = (m: Matter) => ({ name: m.name, licenceTypes: m.licenceTypes, consentExempt: m.consentExempt, exemptBasis: m.exemptBasis, departments: m.departments });

export function createCatalogueService<R extends CatalogueRepos>(deps: CatalogueDeps<R>) {
  const { uow, clock, log } = deps;
  const ttl = (deps.cacheSeconds ?? 30) * 1000;
  let snap: Snapshot | null = null;
  let loading: Promise<Snapshot> | null = null;
  let generations = 0;

  async function load(): Promise<Snapshot> {
    const [types, ms, gs] = await Promise.all([uow.read.licenceTypes.all(), uow.read.matters.all(), uow.read.issuerGrants.all()]);
    const grants = new Map<string, IssuerGrant[]>();
    const periods = new Map<string, Array<readonly [number, number]>>();
    for (const g of gs) {
      const list = grants.get(g.typeCode);
      if (list) list.push(g);
      else grants.set(g.typeCode, [g]);
      const k = pairKey(g.typeCode, g.departmentId);
      const p = [g.validFrom.getTime(), g.validTo ? g.validTo.getTime() : Infinity] as const;
      const ps = periods.get(k);
      if (ps) ps.push(p);
      else periods.set(k, [p]);
    }
    return { types: new Map(types.map((t) => [t.code, t])), matters: new Map(ms.map((m) => [m.code, m])), grants, periods, loadedAt: clock.now().getTime(), generation: ++generations };
  }

  async function snapshot(): Promise<Snapshot> {
    // Another instance (or process) committed since the snapshot was loaded: load again, at most every
    // MARK_RELOAD_MS (a busy peer commits all the time), so a catalogue change there is seen here within a second.
    const mark = uow.changeMark?.();
    if (snap && clock.now().getTime() - snap.loadedAt < ttl && (mark === snapMark || performance.now() - snapAt < MARK_RELOAD_MS)) return snap;
    loading ??= load().then((s) => {
      snap = s;
      snapMark = mark;
      snapAt = performance.now();
      loading = null;
      return s;
    }, (e) => {
      loading = null;
      throw e;
    });
    return loading;
  }

  const invalidate = () => {
    snap = null;
  };
  /** uow.changeMark() when the snapshot in `snap` began loading. */
  let snapMark: number | undefined;
  let snapAt = 0;

  async function checkType(repos: R, input: LicenceTypeInput): Promise<LicenceType> {
    if (!TYPE_CODE_RE.test(input.code) || !checkUscc(input.code.slice(0, 18)).ok) {
      throw bad("the type code must be the defining authority's USCC (valid check character) followed by 3 digits");
    }
    const kinds = input.holderCodeTypes.map((c) => HOLDER_CODE_TYPES[c as HolderCodeType]?.kind);
    if (input.holderCodeTypes.length === 0) throw bad("at least one holder code type is required");
    if (kinds.some((k) => k === undefined)) throw bad("unknown holder code type");
    if (kinds.some((k) => k !== input.holderKind)) throw bad(`every holder code type must be one for a ${input.holderKind}`);
    const fp = fieldDefsProblem(input.fields);
    if (fp) throw bad(fp);
    const vd = input.validityDays ?? null;
    if (vd !== null && (!Number.isInteger(vd) || vd < 1 || vd > 36_500)) throw bad("validityDays must be 1-36500 or null (long-term)");
    const issuers = [...new Set(input.issuers)];
    for (const id of issuers) if (!(await repos.departments.byId(id))) throw bad(`unknown issuing department ${id}`);
    const name = input.name.trim();
    if (!name) throw bad("the name must not be blank (it is signed into every licence as 证照名称)");
    const now = clock.now();
    return {
      code: input.code, name, holderKind: input.holderKind,
      holderCodeTypes: [...new Set(input.holderCodeTypes)] as HolderCodeType[],
      fields: input.fields.map((f) => ({ ...f })), validityDays: vd, issuers, profile: input.profile ?? "p256", createdAt: now, updatedAt: now,
    };
  }

  /**
   * Brings the type's open grants in line with its issuers (inside the type's write transaction): new issuers get
   * a grant from `at`, removed ones have theirs closed at `at`, unchanged ones are not touched.
   */
  async function syncGrants(repos: R, t: LicenceType, at: Date): Promise<void> {
    const open = new Set((await repos.issuerGrants.ofType(t.code)).filter((g) => g.validTo === null).map((g) => g.departmentId));
    for (const id of t.issuers) if (!open.has(id)) await repos.issuerGrants.open(t.code, id, at);
    for (const id of open) if (!t.issuers.includes(id)) await repos.issuerGrants.close(t.code, id, at);
  }

  async function createType(input: LicenceTypeInput, actor: Actor): Promise<LicenceType> {
    return uow.write(async (repos, tx) => {
      const t = await checkType(repos, input);
      if (await repos.licenceTypes.byCode(t.code)) throw new AppError("LICENCE_TYPE_EXISTS");
      await repos.licenceTypes.insert(t);
      await syncGrants(repos, t, t.createdAt);
      await log.append(repos, tx, {
        type: TLOG_EVENTS.licenceTypeCreated, subject: `licence-type:${t.code}`, actor: actorLabel(actor),
        data: typeEventData(t),
      });
      tx.afterCommit(invalidate);
      return t;
    });
  }

  async function updateType(code: string, patch: Partial<Omit<LicenceTypeInput, "code">>, actor: Actor): Promise<LicenceType> {
    return uow.write(async (repos, tx) => {
      const cur = await repos.licenceTypes.byCode(code);
      if (!cur) throw new AppError("LICENCE_TYPE_NOT_FOUND");
      const checked = await checkType(repos, { ...cur, ...patch, code });
      if (checked.holderKind !== cur.holderKind && await repos.licenceTypes.issued(code)) {
        throw new AppError("CONFLICT", `Licences of this type have been issued to ${cur.holderKind === "person" ? "persons" : "organisations"}; the holder kind cannot change (define a new type).`);
      }
      const t: LicenceType = { ...checked, createdAt: cur.createdAt };
      await repos.licenceTypes.update(t);
      await syncGrants(repos, t, t.updatedAt);
      await log.append(repos, tx, {
        type: TLOG_EVENTS.licenceTypeUpdated, subject: `licence-type:${t.code}`, actor: actorLabel(actor),
        data: typeEventData(t),
      });
      tx.afterCommit(invalidate);
      return t;
    });
  }

  async function checkMatter(repos: R, input: MatterInput): Promise<Matter> {
    if (!MATTER_CODE_RE.test(input.code)) throw new AppError("VALIDATION_FAILED", "A matter code is 1-64 characters of 0-9 A-Z a-z . _ -.");
    const types = [...new Set(input.licenceTypes)];
    for (const c of types) if (!(await repos.licenceTypes.byCode(c))) throw new AppError("LICENCE_TYPE_NOT_FOUND", `No licence type ${c}.`, { details: { typeCode: c } });
    const name = input.name.trim();
    if (!name) throw new AppError("VALIDATION_FAILED", "A matter's name must not be blank.");
    const exempt = input.consentExempt ?? false;
    const basis = input.exemptBasis?.trim() || null;
    if (exempt && !basis) throw new AppError("VALIDATION_FAILED", "A consent-exempt matter must name its legal basis (exemptBasis).");
    const departments = [...new Set(input.departments ?? [])];
    for (const d of departments) if (!(await repos.departments.byId(d))) throw new AppError("DEPARTMENT_NOT_FOUND", `No department ${d}.`, { details: { field: "departments", departmentId: d } });
    const now = clock.now();
    return { code: input.code, name, licenceTypes: types, consentExempt: exempt, exemptBasis: exempt ? basis : null, departments, createdAt: now, updatedAt: now };
  }

  async function createMatter(input: MatterInput, actor: Actor): Promise<Matter> {
    return uow.write(async (repos, tx) => {
      const m = await checkMatter(repos, input);
      if (await repos.matters.byCode(m.code)) throw new AppError("MATTER_EXISTS");
      await repos.matters.insert(m);
      await log.append(repos, tx, {
        type: TLOG_EVENTS.matterCreated, subject: `matter:${m.code}`, actor: actorLabel(actor),
        data: matterEventData(m),
      });
      tx.afterCommit(invalidate);
      return m;
    });
  }

  async function updateMatter(code: string, patch: Partial<Omit<MatterInput, "code">>, actor: Actor): Promise<Matter> {
    return uow.write(async (repos, tx) => {
      const cur = await repos.matters.byCode(code);
      if (!cur) throw new AppError("MATTER_NOT_FOUND");
      const m = { ...(await checkMatter(repos, { ...cur, ...patch, code })), createdAt: cur.createdAt };
      await repos.matters.update(m);
      await log.append(repos, tx, {
        type: TLOG_EVENTS.matterUpdated, subject: `matter:${m.code}`, actor: actorLabel(actor),
        data: matterEventData(m),
      });
      tx.afterCommit(invalidate);
      return m;
    });
  }

  async function getType(code: string): Promise<LicenceType> {
    const t = (await snapshot()).types.get(code);
    if (!t) throw new AppError("LICENCE_TYPE_NOT_FOUND", `No licence type ${code}.`);
    return t;
  }

  async function getMatter(code: string): Promise<Matter> {
    const m = (await snapshot()).matters.get(code);
    if (!m) throw new AppError("MATTER_NOT_FOUND", `No matter ${code}.`);
    return m;
  }

  return {
    createType,
    updateType,
    getType,
    /** The snapshot's type, or undefined (no throw): for verification. */
    findType: async (code: string) => (await snapshot()).types.get(code),
    /**
     * Whether the department was allowed to issue the type at `at` (a grant with validFrom ≤ at ≤ validTo): for
     * verification at the signing time. From the snapshot: no database read once it is loaded.
     */
    issuerAllowedAt: async (typeCode: string, departmentId: string, at: Date): Promise<boolean> => {
      const ms = at.getTime();
      if (Number.isNaN(ms)) return false;
      const ps = (await snapshot()).periods.get(pairKey(typeCode, departmentId));
      return ps !== undefined && ps.some(([from, to]) => from <= ms && ms <= to);
    },
    /** The type's issuer grants, oldest first per department (empty for an unknown type). */
    issuerGrants: async (typeCode: string): Promise<IssuerGrant[]> => [...((await snapshot()).grants.get(typeCode) ?? [])],
    listTypes: async () => [...(await snapshot()).types.values()].sort((a, b) => (a.code < b.code ? -1 : 1)),
    createMatter,
    updateMatter,
    getMatter,
    listMatters: async () => [...(await snapshot()).matters.values()].sort((a, b) => (a.code < b.code ? -1 : 1)),
    /** The current snapshot's generation: a verdict derived from the catalogue holds while it is unchanged. */
    generation: async (): Promise<number> => (await snapshot()).generation,
    /** Drops the snapshot (tests; or after an out-of-band change). */
    invalidate,
  };
}

export type CatalogueService = ReturnType<typeof createCatalogueService>;
