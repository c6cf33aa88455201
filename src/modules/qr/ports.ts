export interface ScanRecord {
  at: Date;
  kind: "live" | "static";
  identifier: string | null;
  outcome: string;
  clientId: string | null;
}

export interface ScanRepo {
  insertMany(rows: readonly ScanRecord[]): Promise<void>;
  byIdentifier(identifier: string, limit: number): Promise<ScanRecord[]>;
}

export interface CaseAttachment {
  caseNo: string;
  identifier: string;
  clientId: string;
  verdict: string;
  logIndex: number;
  at: Date;
}

export interface CaseAttachmentRepo {
  insert(a: CaseAttachment): Promise<void>;
  byCase(caseNo: string): Promise<CaseAttachment[]>;
}
