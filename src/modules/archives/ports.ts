/**
 * What the archives module needs from storage (src/storage/repos/archives.ts, both stores). Contracts: one archive
 * per case (`insert` MUST fail on a second); chunks are written once each, in order, before `update` marks the
 * archive `stored`; a stored archive never changes.
 */
export type ArchiveStatus = "building" | "stored";

export interface ArchiveRecord {
  id: string;
  caseId: string;
  /** The archiving department (the case's department): its certificate signs the tag manifest. */
  departmentId: string;
  bagName: string;
  status: ArchiveStatus;
  files: number;
  payloadOctets: number;
  manifestSha256: string;
  tagmanifestSha256: string | null;
  packageSha256: string | null;
  packageSize: number | null;
  chunks: number | null;
  certSerial: string | null;
  createdBy: string;
  createdAt: Date;
  storedAt: Date | null;
  logIndex: number;
  /** When the package passed 四性检测 at the archiving stage (check-before-release); null: not released. */
  releasedAt: Date | null;
  /** The build lease of a `building` archive (null when no build holds it). */
  buildToken?: string | null;
  buildLeaseUntil?: Date | null;
}

export interface ArchiveRepo {
  insert(a: ArchiveRecord): Promise<void>;
  byId(id: string): Promise<ArchiveRecord | undefined>;
  byCase(caseId: string): Promise<ArchiveRecord | undefined>;
  update(id: string, patch: Partial<Pick<ArchiveRecord, "status" | "tagmanifestSha256" | "packageSha256" | "packageSize" | "chunks" | "certSerial" | "storedAt" | "releasedAt">>): Promise<void>;
  /**
   * Compare-and-set: takes the build lease of a `building` archive for `token` until `until`, when no build holds it
   * or its lease ran out by `now`. One UPDATE on the row: across instances, exactly one caller wins.
   */
  claimBuild(id: string, token: string, until: Date, now: Date): Promise<boolean>;
  /** Extends the lease while `token` still holds it; false when it was lost (taken over after running out). */
  renewBuild(id: string, token: string, until: Date): Promise<boolean>;
  /** Marks the archive stored (with `patch`) and ends the lease, only while `token` holds it. */
  finishBuild(id: string, token: string, patch: Partial<Pick<ArchiveRecord, "tagmanifestSha256" | "packageSha256" | "packageSize" | "chunks" | "certSerial" | "storedAt" | "releasedAt">>): Promise<boolean>;
  /** Gives the lease up (a build that failed), so the next request may build at once. */
  releaseBuild(id: string, token: string): Promise<void>;
  /** How many cases use this item (case_items kind + ref) and have no stored package yet (open, closed, or building). */
  pendingUses(kind: "licence" | "material" | "signature" | "document", ref: string): Promise<number>;
  /** Stored archives, oldest first (for re-checks), after `afterId`. */
  listStored(opts: { limit: number; afterId?: string }): Promise<ArchiveRecord[]>;
}

export interface ArchiveChunkRepo {
  insert(archiveId: string, seq: number, sealed: Buffer): Promise<void>;
  get(archiveId: string, seq: number): Promise<Buffer | undefined>;
  /** Removes the chunks of an archive that was not stored (a build that failed half-way), before it is retried. */
  clear(archiveId: string): Promise<number>;
}

export interface ArchiveRepos {
  archives: ArchiveRepo;
  archiveChunks: ArchiveChunkRepo;
}
