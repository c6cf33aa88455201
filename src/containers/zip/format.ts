/** ZIP format constants (PKWARE APPNOTE 6.3.10) and small helpers shared by the writer and the reader. */
export const SIG = {
  local: 0x04034b50,
  central: 0x02014b50,
  descriptor: 0x08074b50,
  eocd: 0x06054b50,
  zip64Eocd: 0x06064b50,
  zip64Locator: 0x07064b50,
} as const;

export const FLAG = {
  encrypted: 0x0001,
  descriptor: 0x0008,
  strongEncryption: 0x0040,
  utf8: 0x0800,
  maskedHeaders: 0x2000,
} as const;

export const EXTRA = {
  zip64: 0x0001,
  extendedTime: 0x5455,
  unicodePath: 0x7075,
  aes: 0x9901,
} as const;

export const METHOD = { store: 0, deflate: 8 } as const;

export const U32_MAX = 0xffffffff;
export const U16_MAX = 0xffff;

/** Host systems in "version made by" (APPNOTE 4.4.2): their external attributes carry a Unix mode. */
export const HOST_UNIX = 3;
export const HOST_OSX = 19;

export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;

/** MS-DOS date and time of `d` (its UTC fields; DOS times have no zone), clamped to 1980–2107. */
export function dosDateTime(d: Date): { date: number; time: number } {
  let y = d.getUTCFullYear();
  if (y < 1980) return { date: (0 << 9) | (1 << 5) | 1, time: 0 };
  if (y > 2107) y = 2107;
  return {
    date: ((y - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | (d.getUTCSeconds() >> 1),
  };
}

export function fromDosDateTime(date: number, time: number): Date {
  const y = 1980 + (date >> 9);
  const mo = ((date >> 5) & 0xf) - 1;
  const d = date & 0x1f;
  const ms = Date.UTC(y, Math.max(0, Math.min(11, mo)), Math.max(1, d), (time >> 11) & 0x1f, (time >> 5) & 0x3f, (time & 0x1f) * 2);
  return new Date(ms);
}
