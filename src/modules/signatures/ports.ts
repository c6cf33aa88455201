/**
 * What the e-signatures module needs from storage (src/storage/repos/signatures.ts implements it).
 * Contracts: `requests.insert` and `participants.insert` MUST fail on a duplicate key; documents are append-only
 * (a revision is never rewritten); `requests.update` changes only the row it names.
 */

export type SigningStatus = "draft" | "in_progress" | "completed" | "declined" | "expired" | "cancelled";
export const SIGNING_STATUSES: readonly SigningStatus[] = ["draft", "in_progress", "completed", "declined", "expired", "cancelled"];
/** signer: signs; approver: signs to approve (reason 同意); copy: receives the document, never acts. */
export type ParticipantRole = "signer" | "approver" | "copy";
/** waiting: an earlier group has not finished; pending: their turn; copy: copy-only participant. */
export type ParticipantStatus = "waiting" | "pending" | "signed" | "declined" | "copy";

/** Where the signature goes: a rectangle on a page (mm from the top-left corner), or a text placeholder. */
export type SignaturePlacement =
  | { readonly page: number; readonly xMm: number; readonly yMm: number; readonly widthMm: number; readonly heightMm: number }
  | { readonly placeholder: string; readonly widthMm: number; readonly heightMm: number };

export interface SigningRequest {
  readonly id: string;
  readonly title: string;
  readonly matterCode: string | null;
  readonly caseRef: string | null;
  readonly initiatorClientId: string;
  readonly initiatorRole: string;
  /** The initiating department (issuer initiators); null for approval systems. */
  readonly departmentId: string | null;
  readonly status: SigningStatus;
  /** 1-based group whose participants may act now (in_progress). */
  readonly currentGroup: number;
  readonly groupCount: number;
  readonly expiresAt: Date;
  /** SHA-256 of the document as uploaded. */
  readonly documentSha256: string | null;
  /** SHA-256 of the latest revision (what the next signer signs). */
  readonly currentSha256: string | null;
  readonly pageCount: number | null;
  readonly statusReason: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly completedAt: Date | null;
}

export interface Participant {
  readonly requestId: string;
  /** 0-based position in the request. */
  readonly idx: number;
  /** 1-based group. */
  readonly groupNo: number;
  readonly holderHash: string;
  readonly holderCodeEnc: string;
  readonly codeType: string;
  readonly nameEnc: string;
  readonly role: ParticipantRole;
  /** USCC of the company a legal representative acts for. */
  readonly actingFor: string | null;
  readonly placement: SignaturePlacement | null;
  readonly status: ParticipantStatus;
  readonly viewedAt: Date | null;
  readonly actedAt: Date | null;
  readonly declineReason: string | null;
  /** How the signature was made: `cloud` (key in Sidian, passkey) or `external` (the signer's own key). */
  readonly method: string | null;
  readonly certSerial: string | null;
  readonly logIndex: number | null;
}

export interface SigningDocument {
  readonly requestId: string;
  readonly seq: number;
  readonly sha256: string;
  /** uploaded | prepared | signed | completed */
  readonly kind: string;
  /** Sealed bytes (PiiProtector.sealBytes, aad = `signing:<requestId>:<seq>`). */
  readonly bytes: Buffer;
  readonly createdAt: Date;
}

export type RequestPatch = Partial<Pick<SigningRequest,
  "status" | "currentGroup" | "documentSha256" | "currentSha256" | "pageCount" | "statusReason" | "updatedAt" | "completedAt">>;
export type ParticipantPatch = Partial<Pick<Participant,
  "status" | "viewedAt" | "actedAt" | "declineReason" | "method" | "certSerial" | "logIndex" | "placement">>;

export interface SigningRequestRepo {
  insert(r: SigningRequest): Promise<void>;
  byId(id: string): Promise<SigningRequest | undefined>;
  update(id: string, patch: RequestPatch): Promise<void>;
  /** Newest first; `before` = createdAt of the last item seen (ms) and its id. */
  list(opts: { initiatorClientId?: string; departmentId?: string; status?: SigningStatus; limit: number; before?: { at: Date; id: string } }): Promise<SigningRequest[]>;
  /** Open requests (draft, in progress) whose expiry is at or before `at`. */
  dueForExpiry(at: Date, limit: number): Promise<SigningRequest[]>;
}

export interface ParticipantRepo {
  insert(p: Participant): Promise<void>;
  ofRequest(requestId: string): Promise<Participant[]>;
  update(requestId: string, idx: number, patch: ParticipantPatch): Promise<void>;
  /**
   * A holder's participations (newest request first), with the facts of their requests that the holder's list
   * shows. `waitingAt`: only those waiting for the holder at that time (their group signs now and they have not
   * acted; the request in progress and not past its expiry), filtered before `limit`.
   */
  forHolder(holderHash: string, opts: { waitingAt?: Date; limit: number }): Promise<HolderParticipation[]>;
}

/** One row of a holder's list: the request's facts and this holder's part in it. */
export interface HolderParticipation {
  readonly id: string;
  readonly title: string;
  readonly matterCode: string | null;
  readonly caseRef: string | null;
  readonly status: SigningStatus;
  readonly expiresAt: Date;
  readonly createdAt: Date;
  readonly role: ParticipantRole;
  readonly groupNo: number;
  readonly myStatus: ParticipantStatus;
  readonly actedAt: Date | null;
}

export interface SigningDocumentRepo {
  insert(d: SigningDocument): Promise<void>;
  latest(requestId: string): Promise<SigningDocument | undefined>;
  get(requestId: string, seq: number): Promise<SigningDocument | undefined>;
  list(requestId: string): Promise<Array<Omit<SigningDocument, "bytes">>>;
  /** Revisions with this SHA-256 (newest first, at most 5): which request a PDF someone holds belongs to. */
  bySha256(sha256: string): Promise<Array<Omit<SigningDocument, "bytes">>>;
}

export interface PersonalKey {
  readonly holderHash: string;
  readonly keyId: string;
  readonly certSerial: string;
  /** Stable pseudonym in the certificate subject (never the ID number). */
  readonly pseudonym: string;
  readonly createdAt: Date;
}

export interface Passkey {
  /** Credential id, base64url. */
  readonly id: string;
  readonly holderHash: string;
  /** COSE public key. */
  readonly publicKey: Buffer;
  readonly counter: number;
  readonly transports: string | null;
  readonly createdAt: Date;
  readonly lastUsedAt: Date | null;
}

export interface WebauthnChallenge {
  readonly challenge: string;
  readonly holderHash: string;
  readonly purpose: "register" | "sign";
  readonly requestId: string | null;
  readonly participantIdx: number | null;
  readonly documentSha256: string | null;
  readonly expiresAt: Date;
}

export interface PreparedSignature {
  readonly requestId: string;
  readonly idx: number;
  /** The revision it was prepared on. */
  readonly baseSeq: number;
  /** Sealed prepared PDF (placeholder zero-filled). */
  readonly bytes: Buffer;
  /** JSON: byte range, contents offsets, certificate chain, signed attributes. */
  readonly state: string;
  readonly createdAt: Date;
  readonly expiresAt: Date;
}

/** A trust event of a request: its log index (the entry itself is in the log). */
export interface SigningEventRow {
  readonly requestId: string;
  readonly logIndex: number;
  readonly type: string;
  readonly createdAt: Date;
}

/** A completed request still to be sealed (the sealing job's row). */
export interface SealJob {
  readonly requestId: string;
  readonly attempts: number;
  readonly nextAt: Date;
  readonly lastError: string | null;
  readonly createdAt: Date;
}

export interface SignatureRepos {
  signingSealJobs: {
    /** Adds the job (in the completing transaction); a second add of the same request changes nothing. */
    add(j: SealJob): Promise<void>;
    /** Jobs due at `now`, earliest first. */
    due(now: Date, limit: number): Promise<SealJob[]>;
    get(requestId: string): Promise<SealJob | undefined>;
    /**
     * Takes a due job for one attempt: moves `nextAt` from `was` to `until` and counts the attempt, only if nobody
     * else did (compare and set). true: this caller runs it.
     */
    claim(requestId: string, was: Date, until: Date): Promise<boolean>;
    /** After a failed attempt: when to try again and why it failed. */
    reschedule(requestId: string, nextAt: Date, lastError: string): Promise<void>;
    /** Done (in the transaction that stores the sealed revision). */
    delete(requestId: string): Promise<void>;
  };
  signingEvents: {
    /** MUST fail on a duplicate (request, log index). */
    insert(e: SigningEventRow): Promise<void>;
    /** In log order. */
    ofRequest(requestId: string): Promise<SigningEventRow[]>;
  };
  signingRequests: SigningRequestRepo;
  signingParticipants: ParticipantRepo;
  signingDocuments: SigningDocumentRepo;
  personalKeys: {
    get(holderHash: string): Promise<PersonalKey | undefined>;
    /** MUST fail on a duplicate holder. */
    insert(k: PersonalKey): Promise<void>;
  };
  passkeys: {
    forHolder(holderHash: string): Promise<Passkey[]>;
    get(id: string): Promise<Passkey | undefined>;
    insert(p: Passkey): Promise<void>;
    /** Records a use: the new signature counter. */
    used(id: string, counter: number, at: Date): Promise<void>;
  };
  webauthnChallenges: {
    insert(c: WebauthnChallenge): Promise<void>;
    /** Removes and returns the challenge (single use), or undefined when it is unknown or already used. */
    take(challenge: string): Promise<WebauthnChallenge | undefined>;
    purge(before: Date): Promise<number>;
  };
  signingPrepared: {
    /** Replaces an earlier preparation of the same participant. */
    put(p: PreparedSignature): Promise<void>;
    get(requestId: string, idx: number): Promise<PreparedSignature | undefined>;
    delete(requestId: string, idx: number): Promise<void>;
  };
}
