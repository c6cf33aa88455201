import type { HolderCodeType } from "../../codes/index.js";
import type { DirectoryRepos } from "../directory/ports.js";
import type { FieldDef } from "./fields.js";

export type HolderKind = "person" | "organisation";

export interface LicenceType {
  /** 21 chars: the defining authority's USCC + 3 digits. */
  code: string;
  name: string;
  holderKind: HolderKind;
  holderCodeTypes: HolderCodeType[];
  fields: FieldDef[];
  /** Default validity in days; null = long-term (长期). */
  validityDays: number | null;
  /** Department ids allowed to issue licences of this type. */
  issuers: string[];
  createdAt: Date;
  updatedAt: Date;
}

export interface Matter {
  code: string;
  name: string;
  licenceTypes: string[];
  consentExempt: boolean;
  /** The regulation that exempts the matter from consent (required when consentExempt). */
  exemptBasis: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface LicenceTypeRepo {
  insert(t: LicenceType): Promise<void>;
  update(t: LicenceType): Promise<void>;
  byCode(code: string): Promise<LicenceType | undefined>;
  all(): Promise<LicenceType[]>;
}

export interface MatterRepo {
  insert(m: Matter): Promise<void>;
  update(m: Matter): Promise<void>;
  byCode(code: string): Promise<Matter | undefined>;
  all(): Promise<Matter[]>;
}

export interface CatalogueRepos extends DirectoryRepos {
  licenceTypes: LicenceTypeRepo;
  matters: MatterRepo;
}
