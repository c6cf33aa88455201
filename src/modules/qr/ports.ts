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
