import type { CryptoProfile, Role } from "../kernel.js";

export interface Department {
  id: string;
  name: string;
  uscc: string;
  regionCode: string;
  /** Crypto profile of the licence-signing key made with the department, and the default of its seals. */
  profile: CryptoProfile;
  createdAt: Date;
  updatedAt: Date;
}

export interface Client {
  id: string;
  name: string;
  role: Role;
  departmentId: string | null;
  matters: string[];
  scopes: string[];
  secretHash: string;
  status: "active" | "disabled";
  createdAt: Date;
  updatedAt: Date;
}

export interface DepartmentRepo {
  insert(d: Department): Promise<void>;
  update(id: string, patch: Partial<Pick<Department, "name" | "regionCode">> & { updatedAt: Date }): Promise<void>;
  byId(id: string): Promise<Department | undefined>;
  byUscc(uscc: string): Promise<Department | undefined>;
  list(opts: { limit: number; after?: string }): Promise<Department[]>;
}

export interface ClientRepo {
  insert(c: Client): Promise<void>;
  update(id: string, patch: Partial<Pick<Client, "name" | "matters" | "scopes" | "status" | "secretHash">> & { updatedAt: Date }): Promise<void>;
  byId(id: string): Promise<Client | undefined>;
  list(opts: { limit: number; after?: string; departmentId?: string }): Promise<Client[]>;
}

/** Matters (事项) are defined by the catalogue; the directory only checks that a client's matters exist. */
export interface MatterLookup {
  byCode(code: string): Promise<{ code: string } | undefined>;
}

export interface DirectoryRepos {
  departments: DepartmentRepo;
  clients: ClientRepo;
  matters: MatterLookup;
}
