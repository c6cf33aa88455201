/** Calendar dates (YYYY-MM-DD) in China Standard Time (UTC+8, no daylight saving): licence validity is by date. */
const CST_MS = 8 * 3600_000;

export function chinaDate(d: Date): string {
  return new Date(d.getTime() + CST_MS).toISOString().slice(0, 10);
}

export function addDays(date: string, days: number): string {
  const t = Date.parse(`${date}T00:00:00Z`) + days * 86_400_000;
  return new Date(t).toISOString().slice(0, 10);
}

/** The first instant (UTC) after the end of a CST calendar date. */
export function endOfChinaDate(date: string): Date {
  return new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000 - CST_MS);
}
