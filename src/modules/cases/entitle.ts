/**
 * Who may put what into a case (issue 19 security review, H1/H2): the rules, kept apart from the case lifecycle.
 *
 * A case's department (H2) is never the caller's word: it is the caller's own department (a department's clients and
 * counters, and an approval system registered for a department), which must be one of the matter's handling
 * departments (实施主体, catalogue) when the matter names any; an approval system registered for no department handles
 * the matter for one of the matter's departments. Anything else is 403 FORBIDDEN_DEPARTMENT: the department's
 * certificate signs the case's archive, so it is only ever one the caller is entitled to act for.
 *
 * What may be attached (H1) is what the caller legitimately holds for this case's applicant and matter; every refusal
 * of that kind — no such object, another holder's, another department's, not handed over with consent — is the one
 * answer `CASE_ITEM_UNAVAILABLE`, so that attaching is no oracle for what exists or whose it is.
 */
import { AppError } from "../../errors.js";
import type { Actor } from "../kernel.js";

/** The one refusal for an item the caller may not attach, whatever the reason (no oracle). */
export function unavailable(): AppError {
  return new AppError("CASE_ITEM_UNAVAILABLE");
}

/** Rethrows the "not found / not yours / not consented" answers of other modules as `unavailable()`. */
export function asUnavailable(codes: readonly string[]) {
  return (e: unknown): never => {
    if (e instanceof AppError && codes.includes(e.code)) throw unavailable();
    throw e;
  };
}

type ClientActor = Extract<Actor, { kind: "client" }>;

/** The departments this caller may handle a case of this matter for (see the module comment). */
export function entitledDepartments(actor: ClientActor, matter: { departments: readonly string[] }): string[] {
  const own = actor.departmentId;
  if (own) return matter.departments.length === 0 || matter.departments.includes(own) ? [own] : [];
  return actor.role === "consumer" ? [...matter.departments] : [];
}

/** The department of a new case: the one named, if the caller is entitled to it, else the only one it is entitled to. */
export function caseDepartment(actor: ClientActor, matter: { code: string; departments: readonly string[] }, named: string | undefined): string {
  const allowed = entitledDepartments(actor, matter);
  if (named !== undefined) {
    if (!allowed.includes(named)) {
      throw new AppError("FORBIDDEN_DEPARTMENT", "This client may not open a case of this matter for that department: a case's department is the caller's own, or one of the matter's handling departments.", { details: { field: "departmentId" } });
    }
    return named;
  }
  if (allowed.length === 1) return allowed[0]!;
  if (allowed.length === 0) {
    throw new AppError("FORBIDDEN_DEPARTMENT", "No department this client may handle the matter for: the matter names no handling department (catalogue) and the client is registered for none.", { details: { matterCode: matter.code } });
  }
  throw new AppError("VALIDATION_FAILED", "The matter is handled by several departments: name one of them (departmentId).", { details: { field: "departmentId", departments: allowed } });
}
