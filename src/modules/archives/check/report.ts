/**
 * The 四性检测 report (DA/T 70-2018): one item per check, grouped by the four properties. An item has a stable id,
 * a Chinese title, a result (pass / fail / not_applicable) and what it found; a failing item names each file (or
 * entry, event, metadata field) it failed on in `failures`, not only "invalid bag".
 */

export type Property = "authenticity" | "integrity" | "usability" | "security";
export type ItemResult = "pass" | "fail" | "not_applicable";

export const PROPERTY_TITLES: Readonly<Record<Property, string>> = {
  authenticity: "真实性",
  integrity: "完整性",
  usability: "可用性",
  security: "安全性",
};

/** One thing a check found wrong: the file (package path) or other subject, and why. */
export interface Failure {
  /** A path inside the package (`data/…`, `metadata/case.json`, a zip entry name), or `event #3`, `case.closedAt`. */
  subject: string;
  detail: string;
}

export interface CheckItem {
  /** Stable id, e.g. `authenticity.payload-digests`. */
  id: string;
  property: Property;
  /** The item in Chinese (as DA/T 70 names what is checked). */
  title: string;
  /** The closest DA/T 70-2018 item for this stage (GD 归档 / YJ 移交接收 / BC 长期保存), e.g. `GD-1-9`. */
  dat70: string;
  result: ItemResult;
  /** What was found (one line; counts for a pass, the first failure for a fail, why for not_applicable). */
  found: string;
  /** Each failing subject (capped by CHECK_LIMITS.maxFailuresPerItem; `more` counts the rest). */
  failures: Failure[];
  more?: number;
}

export type Stage = "archiving" | "transfer" | "preservation";
const STAGE_PREFIX: Readonly<Record<Stage, string>> = { archiving: "GD", transfer: "YJ", preservation: "BC" };

export interface CheckReport {
  /** `pass` when no item failed. */
  result: "pass" | "fail";
  stage: Stage;
  checkedAt: string;
  package: {
    /** The bag's name (the zip's top-level folder or the directory's name). */
    name: string;
    source: "zip" | "directory";
    caseNo: string | null;
    payloadFiles: number;
    payloadBytes: number;
    /** SHA-256 of the tag manifest (what the package signature covers), when present. */
    tagManifestSha256: string | null;
  };
  summary: Record<Property, { pass: number; fail: number; not_applicable: number }>;
  items: CheckItem[];
  /** Checker software and the trust it used (never from inside the package). */
  checker: { agent: string; anchors: string[]; logKey: string | null; virusScanner: string | null };
  elapsedMs: number;
}

/** Builds the items of one property; `fail()` collects failures, `done()` turns them into an item. */
export class ItemBuilder {
  readonly failures: Failure[] = [];
  private more = 0;
  constructor(
    readonly id: string,
    readonly property: Property,
    readonly title: string,
    readonly dat70: string,
    private readonly maxFailures: number,
  ) {}

  fail(subject: string, detail: string): void {
    if (this.failures.length < this.maxFailures) this.failures.push({ subject, detail });
    else this.more++;
  }

  get failed(): boolean {
    return this.failures.length > 0;
  }

  /** pass (with `found`) unless something failed; then the first failure (and how many) is what was found. */
  done(found: string): CheckItem {
    const n = this.failures.length + this.more;
    const f = this.failures[0];
    return {
      id: this.id, property: this.property, title: this.title, dat70: this.dat70,
      result: n ? "fail" : "pass",
      found: n ? `${n} failure(s); first: ${f!.subject}: ${f!.detail}` : found,
      failures: this.failures,
      ...(this.more ? { more: this.more } : {}),
    };
  }

  notApplicable(why: string): CheckItem {
    return { id: this.id, property: this.property, title: this.title, dat70: this.dat70, result: "not_applicable", found: why, failures: [] };
  }
}

export function dat70(stage: Stage, property: Property, n: number): string {
  const p = { authenticity: 1, integrity: 2, usability: 3, security: 4 }[property];
  return `${STAGE_PREFIX[stage]}-${p}-${n}`;
}

export function summarise(items: readonly CheckItem[]): CheckReport["summary"] {
  const s = {
    authenticity: { pass: 0, fail: 0, not_applicable: 0 },
    integrity: { pass: 0, fail: 0, not_applicable: 0 },
    usability: { pass: 0, fail: 0, not_applicable: 0 },
    security: { pass: 0, fail: 0, not_applicable: 0 },
  };
  for (const i of items) s[i.property][i.result]++;
  return s;
}

/** A short human-readable text of a report (the CLI's stdout without --json). */
export function formatReport(r: CheckReport): string {
  const lines = [
    `四性检测 ${r.result === "pass" ? "通过 PASS" : "未通过 FAIL"}  ${r.package.name} (${r.package.source}, case ${r.package.caseNo ?? "?"}, ${r.package.payloadFiles} file(s), ${r.package.payloadBytes} bytes)  stage ${r.stage}`,
  ];
  for (const p of Object.keys(PROPERTY_TITLES) as Property[]) {
    lines.push(`${PROPERTY_TITLES[p]} (${p})`);
    for (const i of r.items.filter((x) => x.property === p)) {
      const mark = i.result === "pass" ? "PASS" : i.result === "fail" ? "FAIL" : "N/A ";
      lines.push(`  [${mark}] ${i.dat70} ${i.id} ${i.title}: ${i.found}`);
      for (const f of i.failures) lines.push(`         - ${f.subject}: ${f.detail}`);
      if (i.more) lines.push(`         … and ${i.more} more`);
    }
  }
  return lines.join("\n") + "\n";
}
