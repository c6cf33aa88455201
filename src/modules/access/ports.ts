import type { LicenceRepos } from "../licences/ports.js";

export interface ConsentRecord {
  id: string;
  holderHash: string;
  clientId: string;
  matterCode: string;
  grantedAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
}

export interface AccessRecord {
  id: string;
  at: Date;
  clientId: string;
  matterCode: string;
  holderHash: string;
  identifiers: string[];
  /** AES-256-GCM of the use cause, AAD `access:<id>`. */
  causeEnc: string;
  basis: "consent" | "exempt";
  consentId: string | null;
  logIndex: number;
}

export interface ConsentRepo {
  insert(c: ConsentRecord): Promise<void>;
  byId(id: string): Promise<ConsentRecord | undefined>;
  forHolder(holderHash: string): Promise<ConsentRecord[]>;
  /** A granted, unrevoked consent of this holder for this client and matter that is unexpired at `now`. */
  active(holderHash: string, clientId: string, matterCode: string, now: Date): Promise<ConsentRecord | undefined>;
  revoke(id: string, at: Date): Promise<boolean>;
}

export interface AccessLogRepo {
  insertMany(recs: readonly AccessRecord[]): Promise<void>;
  byId(id: string): Promise<AccessRecord | undefined>;
  forHolder(holderHash: string, opts: { limit: number; before?: Date }): Promise<AccessRecord[]>;
}

export interface AccessRepos extends LicenceRepos {
  consents: ConsentRepo;
  accessLog: AccessLogRepo;
}
