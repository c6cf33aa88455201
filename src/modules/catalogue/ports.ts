import type { HolderCodeType } from "../../codes/index.js";
import type { DirectoryRepos } from "../directory/ports.js";
import type { FieldDef } from "./fields.js";
import type { CryptoProfile } from "../kernel.js";

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
  /** Crypto profile its licences are signed with (DESIGN rule 11): p256 = JWS ES256, sm2 = JWS SM2SM3. */
  profile: CryptoProfile;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * A period in which a department was allowed to issue a licence type: from `validFrom` to `validTo`, both
 * inclusive (null = still allowed). A department removed and added again has several grants.
 */
export interface IssuerGrant {
  typeCode: string;
  departmentId: string;
  validFrom: Date;
  validTo: Date | null;
}

export interface Matter {
  code: string;
  name: string;
  licenceTypes: string[];
  consentExempt: boolean;
  /** The regulation that exempts the matter from consent (required when consentExempt). */
  exemptBasis: string | null;
  /**
   * The departments that handle the matter (实施主体): a case (办件) of the matter is handled, signed and archived in
   * the name of one of them. Set by the administrator; an approval system cannot choose another (src/modules/cases).
   */
  departments: string[];
  createdAt: Date;
  updatedAt: Date;
}

export interface LicenceTypeRepo {
  insert(t: LicenceType): Promise<void>;
  update(t: LicenceType): Promise<void>;
  byCode(code: string): Promise<LicenceType | undefined>;
  all(): Promise<LicenceType[]>;
  /** Whether any licence of the type has been issued. */
  issued(code: string): Promise<boolean>;
}

/** Issuer grants: append-only history, except that an open grant is closed once. */
export interface IssuerGrantRepo {
  /** Every grant of every type, by type, department and start. */
  all(): Promise<IssuerGrant[]>;
  /** The grants of one type, by department and start. */
  ofType(typeCode: string): Promise<IssuerGrant[]>;
  /** Opens a grant from `at` (the department must not have an open grant for the type). */
  open(typeCode: string, departmentId: string, at: Date): Promise<void>;
  /** Closes the department's open grant for the type at `at`; false when it had none. */
  close(typeCode: string, departmentId: string, at: Date): Promise<boolean>;
}

export interface MatterRepo {
  insert(m: Matter): Promise<void>;
  update(m: Matter): Promise<void>;
  byCode(code: string): Promise<Matter | undefined>;
  all(): Promise<Matter[]>;
}

export interface CatalogueRepos extends DirectoryRepos {
  licenceTypes: LicenceTypeRepo;
  issuerGrants: IssuerGrantRepo;
  matters: MatterRepo;
}
