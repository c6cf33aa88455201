/**
 * Who may replace (supersede) or withdraw a material, by its source class. A material's receipt says which kind of
 * source stands behind the bytes; a newer version inherits that claim, so only the same authority may make it:
 *
 *   source of the material      may be superseded by                     may be withdrawn by the holder
 *   holder (own upload)         the holder                               yes
 *   approval (approval system)  the same approval system (client)        yes (the holder submitted it there)
 *   counter (window scan of     a counter terminal of the same           yes (the holder's own paper original;
 *     the holder's original)      department (or the same terminal)        the scan leaves reuse, its bytes go)
 *   department (issued by a     an issuer of the same department         no: the issuing department's record;
 *     department's system)                                                 it revokes it
 *
 * A holder's own upload therefore never replaces what a counter attested or a department issued (a newer version
 * would carry the attested lineage with unattested bytes), and a holder never deletes a department's record: they
 * keep it out of reuse by not consenting (or withdrawing consent). Reading is not restricted by source: the holder
 * previews every material registered for them. Refusals are 403 MATERIAL_SOURCE_PROTECTED naming the action, the
 * material's source and the caller's.
 */
import { AppError } from "../../errors.js";
import { actorLabel, type Actor } from "../kernel.js";
import type { MaterialRecord, MaterialSource } from "./ports.js";

function sameDepartment(rec: MaterialRecord, actor: Actor): boolean {
  return actor.kind === "client" && actor.departmentId !== null && rec.departmentId === actor.departmentId;
}

/** Whether `actor`, registering as source class `by`, may make a newer version of `prev`. */
export function maySupersede(prev: MaterialRecord, by: MaterialSource, actor: Actor): boolean {
  if (prev.source !== by) return false;
  switch (prev.source) {
    case "holder":
      return actor.kind === "holder" && prev.holderHash === actor.subjectHash;
    case "approval":
      return prev.registrant === actorLabel(actor);
    case "counter":
      return prev.registrant === actorLabel(actor) || sameDepartment(prev, actor);
    case "department":
      return sameDepartment(prev, actor);
  }
}

/** Whether the holder may withdraw `rec`: anything registered for them except a department's own record. */
export function mayWithdraw(rec: MaterialRecord, actor: Actor): boolean {
  return actor.kind === "holder" && rec.holderHash === actor.subjectHash && rec.source !== "department";
}

export function sourceProtected(action: "supersede" | "withdraw", rec: MaterialRecord, by: MaterialSource | "holder"): AppError {
  const what = rec.source === "counter" ? "counter-attested" : rec.source === "department" ? "department-issued" : rec.source === "approval" ? "approval-system" : "holder-registered";
  return new AppError("MATERIAL_SOURCE_PROTECTED", `A ${by} may not ${action} a ${what} material${action === "withdraw" ? "; its registrant or department can revoke it" : ""}.`, {
    details: { action, source: rec.source, by },
  });
}
