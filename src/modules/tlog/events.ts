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
  // service keys from the keys folder, logged once when a deployment first uses them (src/context.ts)
  keyRegistered: "key.registered",
  // a department key replaced by `sidian keys rotate`: it signs nothing more, its certificate stays valid
  keyRetired: "key.retired",
  certificateIssued: "certificate.issued",
  certificateRevoked: "certificate.revoked",
  // e-seals (issue 5: src/modules/seals): data = { sealId, departmentId, certSerial, … }; stamps carry document hashes only
  sealCreated: "seal.created",
  sealStatusChanged: "seal.status-changed",
  sealStamped: "seal.stamped",
  // a stamp exported as a GB/T 38540 SES_Signature: the seal's key signed again (data = { stampId, sesSha256 })
  sealSesSigned: "seal.ses-signed",
  // e-licences (issue 4: src/modules/catalogue, licences, access). Licence and access events carry `holder`.
  licenceTypeCreated: "licence-type.created",
  licenceTypeUpdated: "licence-type.updated",
  matterCreated: "matter.created",
  matterUpdated: "matter.updated",
  licenceIssued: "licence.issued",
  licenceStatusChanged: "licence.status-changed",
  consentGranted: "consent.granted",
  consentRevoked: "consent.revoked",
  licenceAccessed: "licence.accessed",
  // counter (src/modules/qr): a verified licence attached to a case (办件)
  licenceAttached: "licence.attached",
  // e-signatures (issue 17: src/modules/signatures): subject `signing:<request id>`; participant events carry `holder`
  signingCreated: "signing.created",
  signingSent: "signing.sent",
  signingViewed: "signing.viewed",
  signingSigned: "signing.signed",
  signingDeclined: "signing.declined",
  signingExpired: "signing.expired",
  signingCancelled: "signing.cancelled",
  signingCompleted: "signing.completed",
  // the completion report drawn and sealed (the seal's own `seal.stamped` entry is logged beside it)
  signingSealed: "signing.sealed",
  // cases and their archives (issue 19: src/modules/cases, src/modules/archives): subject `case:<id>`, `holder` = the applicant's key
  caseOpened: "case.opened",
  caseItemAttached: "case.item-attached",
  caseClosed: "case.closed",
  caseArchived: "case.archived",
  // a 四性检测 run over a stored package (issue 19): data = { archiveId, stage, result, failed: [item ids], tagmanifestSha256, reportSha256 }
  archiveChecked: "archive.checked",
  // a package received at transfer (移交接收, issue 19 §4), subject `archive-receipt:<id>`: data = { receiptId, departmentId, bagName, caseNo, sourceOrganization, sourceArchiveId, packageSha256, packageSize, tagmanifestSha256, reportSha256 }
  archiveReceived: "archive.received",
  // a package refused at receipt (it failed 四性检测; it is not kept): data = { departmentId, packageSha256, packageSize, tagmanifestSha256, failed: [item ids], reportSha256 }
  archiveReceiveRefused: "archive.receive-refused",
  // a stored package released after passing 四性检测 at archiving (check-before-release): data = { archiveId, checkLogIndex }
  archiveReleased: "archive.released",
  // a renewal time-stamp added to a stored package (DA/T 97 evidence renewal): data = { archiveId, n, over, genTime, tsaNotAfter, packageSha256, previousPackageSha256 }
  archiveRenewed: "archive.renewed",
  // e-materials (issue 18: src/modules/materials): subject `material:<identifier>`; events carry `holder`
  materialTypeCreated: "material-type.created",
  materialTypeUpdated: "material-type.updated",
  materialRegistered: "material.registered",
  materialStatusChanged: "material.status-changed",
  materialAccessed: "material.accessed",
} as const;

export type TlogEventType = (typeof TLOG_EVENTS)[keyof typeof TLOG_EVENTS];
