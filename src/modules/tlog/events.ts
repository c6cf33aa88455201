/**
 * Event types the log records. `<object>.<verb>`; later capabilities add theirs here and append through the same
 * port (`TrustLog.append`). Every event's subject is an opaque id; `data` carries hashes and non-personal facts.
 */
export const TLOG_EVENTS = {
  // directory (lead: src/modules/directory)
  departmentCreated: "department.created",
  departmentUpdated: "department.updated",
  clientCreated: "client.created",
  clientUpdated: "client.updated",
  // keys and certificates (src/pki): data = { keyId, alg, spkiSha256 } / { serial, certSha256, profile, issuer }
  keyCreated: "key.created",
  certificateIssued: "certificate.issued",
  certificateRevoked: "certificate.revoked",
} as const;

export type TlogEventType = (typeof TLOG_EVENTS)[keyof typeof TLOG_EVENTS];
