/**
 * Limits on what a package handed to the checker may make it do (DESIGN rule 8). Every count and length read from
 * a package (entries, path lengths, tag-file sizes, events, proof lengths) is checked against this table before it
 * is used; the zip reader (src/containers/zip) bounds inflation (zip bombs) with `maxEntryBytes`/`maxTotalBytes`.
 * docs/archives.md "Checking limits" documents each row.
 */
export const CHECK_LIMITS = {
  /** Entries (files, folders, links) in one package. */
  maxEntries: 20_000,
  /** Characters of one entry's path inside the bag. */
  maxPathLength: 1024,
  /** Folder depth of one entry. */
  maxDepth: 32,
  /** Bytes of one payload file (as stored, or inflated from the zip). */
  maxEntryBytes: 8 * 1024 ** 3,
  /** Bytes of all payload files together. */
  maxTotalBytes: 64 * 1024 ** 3,
  /** Inflated size over compressed size above which a zip entry is refused (zip bomb), when over 1 MiB. */
  maxCompressionRatio: 200,
  /** Bytes of one tag file (bagit.txt, bag-info.txt, manifests, metadata/*, signature/*). */
  maxTagFileBytes: 32 * 1024 * 1024,
  /** Bytes of a PDF that is validated (larger PDFs are reported, not opened). */
  maxPdfBytes: 256 * 1024 * 1024,
  /** Bytes of a JWS (src/modules/licences/jws.ts parses at most 64,000 characters). */
  maxJwsBytes: 64_000,
  /** Bytes of a JSON payload file that is parsed. */
  maxJsonBytes: 32 * 1024 * 1024,
  /** Events in metadata/events.json. */
  maxEvents: 100_000,
  /** Hashes in one inclusion proof (a tree of 2^64 leaves needs 64). */
  maxProofHashes: 64,
  /** Renewal time-stamps (signature/renewal-<n>.tsr). */
  maxRenewals: 1000,
  /** Failures listed per item (the rest are counted). */
  maxFailuresPerItem: 200,
  /** Nesting of XML elements in metadata/case.xml. */
  maxXmlDepth: 64,
} as const;

export type CheckLimits = { -readonly [K in keyof typeof CHECK_LIMITS]: number };
