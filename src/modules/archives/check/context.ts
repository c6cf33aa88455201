/** What every property's checks get: the scan, the parsed model, the trust the caller configured, the stage. */
import type { CertInfo } from "../../../pki/reader.js";
import type { NoteVerifier } from "../../tlog/checkpoint.js";
import type { CheckLimits } from "./limits.js";
import type { Model } from "./model.js";
import { dat70, ItemBuilder, type Property, type Stage } from "./report.js";
import type { Scan } from "./scan.js";

export interface Trust {
  /** Self-signed trust anchors (from config / --trust, never from the package). */
  anchors: readonly CertInfo[];
  intermediates: readonly CertInfo[];
  knownTsaCerts: readonly CertInfo[];
  /** The transparency log's key and origin (config / --log-key). */
  logKey: NoteVerifier | null;
  logOrigin?: string;
}

export interface CheckContext {
  scan: Scan;
  model: Model;
  trust: Trust;
  limits: CheckLimits;
  stage: Stage;
  now: Date;
  /** Whether a virus scanner is configured (and what it says it is). */
  scanner: string | null;
}

/** An item builder numbered in its property's order (the n of GD-p-n). */
export function itemMaker(ctx: CheckContext, property: Property) {
  let n = 0;
  return (id: string, title: string) => new ItemBuilder(`${property}.${id}`, property, title, dat70(ctx.stage, property, ++n), ctx.limits.maxFailuresPerItem);
}
