/**
 * One error type for the whole service (DESIGN rule 2).
 *
 * Every code below MUST be documented in docs/errors.md (a test enforces it). Clients receive
 * `{code, message, requestId}` where `message` is the public message; the `cause` only goes to logs.
 */
export const ERROR_TABLE = {
  // --- generic request problems
  VALIDATION_FAILED: { status: 400, message: "The request is not valid." },
  BODY_TOO_LARGE: { status: 413, message: "The request body is too large." },
  HEADERS_TOO_LARGE: { status: 431, message: "The request URL or headers are too large." },
  REQUEST_TIMEOUT: { status: 408, message: "The request was not received in time." },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: "The content type is not supported." },
  ROUTE_NOT_FOUND: { status: 404, message: "No such route." },
  METHOD_NOT_ALLOWED: { status: 405, message: "The route does not take this method." },
  RATE_LIMITED: { status: 429, message: "Too many requests; slow down." },
  INTERNAL: { status: 500, message: "Internal error." },
  NOT_READY: { status: 503, message: "The service is not ready." },
  METRICS_FORBIDDEN: { status: 403, message: "Metrics are served only to the configured networks or bearer token." },
  CONFIG_INVALID: { status: 500, message: "The configuration is not valid." },
  DEV_KEYS_IN_PRODUCTION: { status: 500, message: "Development keys must not be used in production." },
  CONFLICT: { status: 409, message: "The change conflicts with the current state." },
  STORE_UNAVAILABLE: { status: 503, message: "The database cannot be reached now; retry later." },
  STORE_BUSY: { status: 503, message: "The database is too busy to apply the change now; retry later." },

  // --- authentication and authorisation
  AUTH_REQUIRED: { status: 401, message: "Authentication is required." },
  TOKEN_INVALID: { status: 401, message: "The access token is not valid." },
  TOKEN_EXPIRED: { status: 401, message: "The access token has expired." },
  INVALID_CLIENT: { status: 401, message: "Client authentication failed." },
  IDP_UNAVAILABLE: { status: 503, message: "The identity provider's keys cannot be fetched now; retry later." },
  UNSUPPORTED_GRANT_TYPE: { status: 400, message: "The grant type is not supported." },
  INVALID_SCOPE: { status: 400, message: "The requested scope is not allowed for this client." },
  FORBIDDEN_ROLE: { status: 403, message: "This role may not call this route." },
  FORBIDDEN_SCOPE: { status: 403, message: "The token lacks the scope this route needs." },
  FORBIDDEN_DEPARTMENT: { status: 403, message: "The object belongs to another department." },

  // --- identity codes
  USCC_INVALID: { status: 400, message: "The unified social credit code is not valid." },
  CITIZEN_ID_INVALID: { status: 400, message: "The citizen ID number is not valid." },
  LICENCE_ID_INVALID: { status: 400, message: "The licence identifier is not valid." },
  REGION_CODE_INVALID: { status: 400, message: "The region code must be 6 digits." },

  // --- directory
  DEPARTMENT_NOT_FOUND: { status: 404, message: "No such department." },
  DEPARTMENT_EXISTS: { status: 409, message: "A department with this USCC already exists." },
  CLIENT_NOT_FOUND: { status: 404, message: "No such client." },
  CLIENT_EXISTS: { status: 409, message: "A client with this id already exists." },
  CLIENT_BINDING_INVALID: { status: 400, message: "The client's role does not match its department or matter binding." },

  // --- keys and PKI
  KEY_NOT_FOUND: { status: 404, message: "No such key." },
  CERTIFICATE_NOT_FOUND: { status: 404, message: "No such certificate." },
  CERTIFICATE_PROFILE_INVALID: { status: 400, message: "The certificate profile is not valid for this request." },
  CRYPTO_PROFILE_UNAVAILABLE: { status: 404, message: "This deployment does not offer the requested crypto profile." },
  KEYSTORE_LOCKED: { status: 500, message: "The key store cannot be opened." },
  KEYSTORE_UNAVAILABLE: { status: 503, message: "The key store (HSM) cannot sign now; retry later." },

  // --- transparency log
  LOG_ENTRY_NOT_FOUND: { status: 404, message: "No log entry at that index." },
  LOG_RANGE_INVALID: { status: 400, message: "The requested tree sizes or indexes are out of range." },
  LOG_CHECKPOINT_NOT_FOUND: { status: 404, message: "No checkpoint has been published yet." },

  // --- counter
  CASE_ATTACH_REFUSED: { status: 409, message: "The licence cannot be attached to the case." },
  CASE_NOT_FOUND: { status: 404, message: "No such case." },
  CASE_ITEM_UNAVAILABLE: { status: 404, message: "Nothing by that reference can be attached to this case by this caller." },
  CASE_NUMBER_TAKEN: { status: 409, message: "A case with that number exists already." },
  CASE_CLOSED: { status: 409, message: "The case is closed; it can no longer change." },
  CASE_NOT_ARCHIVABLE: { status: 409, message: "The case cannot be archived as it stands." },
  CASE_ALREADY_ARCHIVED: { status: 409, message: "The case has been archived already." },
  ARCHIVE_NOT_FOUND: { status: 404, message: "No such archive." },
  ARCHIVE_NOT_STORED: { status: 409, message: "The archive's package is not stored (yet)." },
  ARCHIVE_BUILD_IN_PROGRESS: { status: 409, message: "The archive's package is being built by another request." },
  ARCHIVE_NOT_RELEASED: { status: 409, message: "The package has not passed 四性检测 at archiving, so it is not released." },
  ARCHIVE_PACKAGE_TOO_LARGE: { status: 413, message: "The package is larger than this archive receives." },
  ARCHIVE_PACKAGE_MALFORMED: { status: 422, message: "The package is not a readable zip." },
  ARCHIVE_PACKAGE_UNSAFE: { status: 422, message: "The package's zip has an unsafe entry and was not read." },
  ARCHIVE_PACKAGE_REFUSED: { status: 422, message: "The package failed 四性检测 at receipt and was not taken." },
  ARCHIVE_ALREADY_RECEIVED: { status: 409, message: "This archive received the package already." },
  ARCHIVE_RECEIPT_NOT_FOUND: { status: 404, message: "No such received package." },

  // --- e-seals, PDF stamping and validation, time stamping (issue 5)
  SEAL_NOT_FOUND: { status: 404, message: "No such seal." },
  STAMP_NOT_FOUND: { status: 404, message: "This seal made no stamp that resulted in this document." },
  SEAL_EXISTS: { status: 409, message: "A seal with this ID already exists." },
  SEAL_REVOKED: { status: 409, message: "The seal is revoked and cannot stamp." },
  SEAL_SUSPENDED: { status: 409, message: "The seal is suspended and cannot stamp." },
  SEAL_EXPIRED: { status: 409, message: "The seal is outside its validity period and cannot stamp." },
  SEAL_STATUS_INVALID: { status: 409, message: "This status change is not allowed in the seal's current status." },
  SEAL_TEXT_UNSUPPORTED: { status: 400, message: "The seal text contains characters the seal font cannot draw." },
  PDF_INVALID: { status: 422, message: "The file is not a readable PDF." },
  PDF_ENCRYPTED: { status: 422, message: "Encrypted PDFs are not supported." },
  PDF_UNSUPPORTED: { status: 422, message: "The PDF uses a feature that is not supported." },
  PDF_PAGE_NOT_FOUND: { status: 422, message: "The document has no such page." },
  PDF_ANCHOR_NOT_FOUND: { status: 422, message: "The anchor text was not found in the document." },
  PDF_CHANGES_NOT_ALLOWED: { status: 422, message: "The document's certification signature does not allow further signatures." },
  PDF_LIMIT_EXCEEDED: { status: 422, message: "The PDF is over a documented limit (objects, pages, signatures, nesting or inflated size)." },
  PDF_BUDGET_EXCEEDED: { status: 422, message: "Reading the PDF took more time or memory than one request may use; the work was stopped." },
  PDF_WORKERS_BUSY: { status: 503, message: "Every PDF worker is busy and the queue is full; retry later." },
  TSA_REQUEST_INVALID: { status: 400, message: "The time-stamp request is not valid." },
  STATUS_EVIDENCE_INVALID: { status: 400, message: "The file is not seal-status evidence." },
  SIGNING_EVIDENCE_INVALID: { status: 422, message: "The signing evidence does not check out for this PDF." },
  INPUT_FILE_UNREADABLE: { status: 400, message: "A file named on the command line is missing or cannot be read." },
  TRUST_BUNDLE_INVALID: { status: 400, message: "The trust bundle holds no readable certificate." },
  TRUST_LIST_UNKNOWN: { status: 400, message: "No trust list with this name is configured." },

  // --- zip archives and ASiC-E containers (issue 18): src/containers/
  ZIP_INVALID: { status: 422, message: "The file is not a readable zip archive." },
  ZIP_LIMIT_EXCEEDED: { status: 422, message: "The zip archive is over a documented limit (entries, names, sizes or compression ratio)." },
  ZIP_UNSAFE_ENTRY: { status: 422, message: "The zip archive has an unsafe entry (path traversal, absolute path, link or special file)." },
  ZIP_DUPLICATE_ENTRY: { status: 422, message: "The zip archive has two entries of the same name." },
  ZIP_ENCRYPTED: { status: 422, message: "Encrypted zip entries are not supported." },
  ZIP_UNSUPPORTED: { status: 422, message: "The zip archive uses a feature that is not supported (compression method, multiple disks)." },
  ZIP_ENTRY_CORRUPT: { status: 422, message: "A zip entry's data does not match its declared size or CRC." },

  // --- e-licences: catalogue, issuance, lifecycle, access (issue 4)
  LICENCE_TYPE_NOT_FOUND: { status: 404, message: "No such licence type." },
  LICENCE_TYPE_EXISTS: { status: 409, message: "A licence type with this code already exists." },
  LICENCE_TYPE_INVALID: { status: 400, message: "The licence type definition is not valid." },
  LICENCE_TYPE_NOT_ALLOWED: { status: 403, message: "This department may not issue licences of this type." },
  MATTER_NOT_FOUND: { status: 404, message: "No such matter." },
  MATTER_EXISTS: { status: 409, message: "A matter with this code already exists." },
  LICENCE_NOT_FOUND: { status: 404, message: "No such licence." },
  LICENCE_NUMBER_TAKEN: { status: 409, message: "This licence number is already used by another licence of this type and department." },
  LICENCE_TRANSITION_INVALID: { status: 409, message: "This change is not allowed in the licence's current status." },
  FIELDS_INVALID: { status: 400, message: "The licence fields do not match the licence type's schema." },
  HOLDER_CODE_TYPE_INVALID: { status: 400, message: "The holder code type is not allowed for this licence type." },
  HOLDER_CODE_INVALID: { status: 400, message: "The holder code is not valid for its code type." },
  VALIDITY_INVALID: { status: 400, message: "The validity period is not valid." },
  IDEMPOTENCY_CONFLICT: { status: 409, message: "This Idempotency-Key was used with a different request." },
  BATCH_TOO_LARGE: { status: 413, message: "The batch has too many lines." },
  SIGNING_KEY_UNAVAILABLE: { status: 409, message: "The department has no usable licence-signing certificate." },
  FORBIDDEN_MATTER: { status: 403, message: "The client does not serve this matter, or the matter may not use this licence type." },
  CONSENT_REQUIRED: { status: 403, message: "The holder has not granted consent for this client and matter." },
  CONSENT_NOT_FOUND: { status: 404, message: "No such consent." },
  COPY_LINK_INVALID: { status: 404, message: "The copy link is not valid or has expired." },
  STATUS_LIST_NOT_FOUND: { status: 404, message: "No such status list." },
  STATUS_LIST_UNAVAILABLE: { status: 503, message: "The department cannot sign its status list now; the online status of each licence still answers." },
  LICENCE_SEAL_MISSING: { status: 409, message: "The issuing department has no active official seal to seal the licence document." },

  // --- e-signatures: signing requests (issue 17)
  SIGNING_REQUEST_NOT_FOUND: { status: 404, message: "No such signing request." },
  SIGNING_STATE_INVALID: { status: 409, message: "This action is not allowed in the request's current state." },
  SIGNING_DOCUMENT_MISSING: { status: 409, message: "The request has no document yet." },
  SIGNING_NOT_YOUR_TURN: { status: 409, message: "An earlier group has not finished signing yet." },
  SIGNING_ALREADY_ACTED: { status: 409, message: "This participant has already signed or declined." },
  SIGNING_DECLINED: { status: 409, message: "The request was declined by a participant; nobody can sign it any more." },
  SIGNING_EXPIRED: { status: 409, message: "The request has expired; nobody can sign it any more." },
  SIGNING_CANCELLED: { status: 409, message: "The request was cancelled by its initiator." },
  SIGNING_COMPLETED: { status: 409, message: "The request is completed." },
  SIGNING_DOCUMENT_CHANGED: { status: 409, message: "The document changed since this signature was prepared (another participant signed first); sign again." },
  SIGNING_REAUTH_REQUIRED: { status: 401, message: "Log in again: a cloud signature needs a fresh authentication." },
  SIGNING_PREPARATION_NOT_FOUND: { status: 409, message: "No prepared own-key signature for this participant (never asked for, or expired)." },
  SIGNATURE_MARK_INVALID: { status: 400, message: "The drawn signature is not valid." },
  PASSKEY_REQUIRED: { status: 409, message: "Register a passkey before signing with a cloud key." },
  WEBAUTHN_REGISTRATION_INVALID: { status: 400, message: "The passkey registration could not be verified." },
  WEBAUTHN_ASSERTION_INVALID: { status: 403, message: "The passkey confirmation could not be verified for this request and document." },
  EXTERNAL_CERTIFICATE_UNTRUSTED: { status: 422, message: "The signer's certificate does not chain to a trusted signing CA." },
  EXTERNAL_SIGNATURE_INVALID: { status: 400, message: "The signature value does not verify over the data to sign with the signer's certificate." },
  WEBHOOK_URL_INVALID: { status: 422, message: "The webhook URL is not allowed (https, no credentials or fragment)." },
  WEBHOOK_NOT_FOUND: { status: 404, message: "The client has no webhook endpoint." },

  // --- e-materials (issue 18)
  MATERIAL_TYPE_NOT_FOUND: { status: 404, message: "No such material type." },
  MATERIAL_TYPE_EXISTS: { status: 409, message: "A material type with this code already exists." },
  MATERIAL_TYPE_INVALID: { status: 400, message: "The material type definition is not valid." },
  MATERIAL_TYPE_NOT_ACCEPTED: { status: 403, message: "The matter does not accept this material type." },
  MATERIAL_NOT_FOUND: { status: 404, message: "No such material." },
  MATERIAL_TOO_LARGE: { status: 413, message: "The material is larger than its type allows." },
  MATERIAL_EMPTY: { status: 400, message: "The material is empty." },
  MATERIAL_CONTENT_REFUSED: { status: 422, message: "The material's bytes are not an accepted media type, or contradict the declared type." },
  MATERIAL_HASH_MISMATCH: { status: 422, message: "The material's bytes do not have the hash the client stated." },
  MATERIAL_UPLOAD_INVALID: { status: 400, message: "The upload is not a well-formed material upload." },
  MATERIAL_SOURCE_PROTECTED: { status: 403, message: "The material's source class does not let this caller replace or withdraw it." },
  MATERIAL_STATE_INVALID: { status: 409, message: "This change is not allowed in the material's current status." },
  MATERIAL_LINK_INVALID: { status: 404, message: "The material link is not valid or has expired." },
  MATERIAL_RECEIPT_SEAL_MISSING: { status: 409, message: "No platform seal is configured to seal the receipt PDF." },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_TABLE;

export interface AppErrorOptions {
  cause?: unknown;
  /** Extra public details (validated field paths, limits…). Never put secrets or personal data here. */
  details?: Record<string, unknown>;
}

export class AppError extends Error {
  override readonly name = "AppError";
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  /** `message` is public: it is sent to the client. Put internals in `cause`. */
  constructor(code: ErrorCode, message?: string, opts: AppErrorOptions = {}) {
    super(message ?? ERROR_TABLE[code].message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.status = ERROR_TABLE[code].status;
    this.details = opts.details;
  }
}

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}

export function statusOf(code: ErrorCode): number {
  return ERROR_TABLE[code].status;
}
