/**
 * 材料目录: material types (admin). Each names the matters that accept it, the media kinds it accepts (as sniffed
 * from the bytes), its upload limit and whether its materials expire (and after how many days by default). Read on
 * every registration and reuse query through a snapshot, replaced after every committed change here and re-read
 * when another instance committed (uow.changeMark) or after `cacheSeconds`.
 */
import { AppError } from "../../errors.js";
import { actorLabel, type Actor, type Clock, type TrustLog, type UnitOfWork } from "../kernel.js";
import { TLOG_EVENTS } from "../tlog/events.js";
import { MATERIAL_TYPE_CODE_RE } from "./identifier.js";
import { MEDIA_TYPES, type MaterialRepos, type MaterialType, type MediaKind } from "./ports.js";

/** The largest material any type may accept (and what POST /verify/material hashes at most). */
export const MATERIAL_MAX_BYTES = 100 * 1024 * 1024;

export interface MaterialTypeInput {
  code: string;
  name: string;
  matters: string[];
  mediaTypes: string[];
  maxBytes: number;
  expires?: boolean;
  validityDays?: number | null;
}

function bad(problem: string): AppError {
  return new AppError("MATERIAL_TYPE_INVALID", `The material type is not valid: ${problem}.`, { details: { problem } });
}

const eventData = (t: MaterialType) => ({ name: t.name, matters: t.matters, mediaTypes: t.mediaTypes, maxBytes: t.maxBytes, expires: t.expires, validityDays: t.validityDays });

export function createMaterialTypes<R extends MaterialRepos>(deps: { uow: UnitOfWork<R>; clock: Clock; log: TrustLog<R>; cacheSeconds?: number }) {
  const { uow, clock, log } = deps;
  const ttl = (deps.cacheSeconds ?? 30) * 1000;
  let snap: { types: Map<string, MaterialType>; at: number; mark: number | undefined } | null = null;

  async function snapshot() {
    const mark = uow.changeMark?.();
    if (snap && clock.now().getTime() - snap.at < ttl && snap.mark === mark) return snap;
    const types = await uow.read.materialTypes.all();
    snap = { types: new Map(types.map((t) => [t.code, t])), at: clock.now().getTime(), mark };
    return snap;
  }
  const invalidate = () => void (snap = null);

  async function check(repos: R, input: MaterialTypeInput): Promise<MaterialType> {
    if (!MATERIAL_TYPE_CODE_RE.test(input.code)) throw bad("the code must be 2-21 characters of 0-9 A-Z");
    const name = input.name.trim();
    if (!name) throw bad("the name must not be blank");
    const matters = [...new Set(input.matters)];
    for (const m of matters) if (!(await repos.matters.byCode(m))) throw bad(`unknown matter ${m}`);
    const kinds = [...new Set(input.mediaTypes)];
    if (kinds.length === 0) throw bad("at least one media type is required");
    for (const k of kinds) if (!Object.hasOwn(MEDIA_TYPES, k)) throw bad(`unknown media type ${k} (pdf, jpeg, png, ofd, json)`);
    if (!Number.isInteger(input.maxBytes) || input.maxBytes < 1 || input.maxBytes > MATERIAL_MAX_BYTES) throw bad(`maxBytes must be 1-${MATERIAL_MAX_BYTES}`);
    const expires = input.expires ?? false;
    const vd = input.validityDays ?? null;
    if (expires && (vd === null || !Number.isInteger(vd) || vd < 1 || vd > 36_500)) throw bad("a type that expires needs validityDays 1-36500");
    if (!expires && vd !== null) throw bad("validityDays is only for a type that expires");
    const now = clock.now();
    return { code: input.code, name, matters, mediaTypes: kinds as MediaKind[], maxBytes: input.maxBytes, expires, validityDays: expires ? vd : null, createdAt: now, updatedAt: now };
  }

  async function create(input: MaterialTypeInput, actor: Actor): Promise<MaterialType> {
    return uow.write(async (repos, tx) => {
      const t = await check(repos, input);
      if (await repos.materialTypes.byCode(t.code)) throw new AppError("MATERIAL_TYPE_EXISTS");
      await repos.materialTypes.insert(t);
      await log.append(repos, tx, { type: TLOG_EVENTS.materialTypeCreated, subject: `material-type:${t.code}`, actor: actorLabel(actor), data: eventData(t) });
      tx.afterCommit(invalidate);
      return t;
    });
  }

  async function update(code: string, patch: Partial<Omit<MaterialTypeInput, "code">>, actor: Actor): Promise<MaterialType> {
    return uow.write(async (repos, tx) => {
      const cur = await repos.materialTypes.byCode(code);
      if (!cur) throw new AppError("MATERIAL_TYPE_NOT_FOUND");
      const merged: MaterialTypeInput = { ...cur, ...patch, code };
      // Turning expiry off drops the default validity with it.
      if (patch.expires === false && patch.validityDays === undefined) merged.validityDays = null;
      const t = { ...(await check(repos, merged)), createdAt: cur.createdAt };
      await repos.materialTypes.update(t);
      await log.append(repos, tx, { type: TLOG_EVENTS.materialTypeUpdated, subject: `material-type:${t.code}`, actor: actorLabel(actor), data: eventData(t) });
      tx.afterCommit(invalidate);
      return t;
    });
  }

  async function get(code: string): Promise<MaterialType> {
    const t = (await snapshot()).types.get(code);
    if (!t) throw new AppError("MATERIAL_TYPE_NOT_FOUND", `No material type ${code}.`);
    return t;
  }

  return {
    create, update, get,
    find: async (code: string) => (await snapshot()).types.get(code),
    list: async () => [...(await snapshot()).types.values()].sort((a, b) => (a.code < b.code ? -1 : 1)),
    /** The types a matter accepts, by code. */
    acceptedBy: async (matterCode: string) => [...(await snapshot()).types.values()].filter((t) => t.matters.includes(matterCode)).sort((a, b) => (a.code < b.code ? -1 : 1)),
    invalidate,
  };
}

export type MaterialTypes = ReturnType<typeof createMaterialTypes>;
