/** Calendar dates (YYYY-MM-DD) in China Standard Time (UTC+8, no daylight saving): licence validity is by date. */
const CST_MS = 8 * 3600_000;

const DAY_MS = 86_400_000;
/** The last date computed and the UTC instants it spans: called on every verification and view. */
let last = { from: 0, to: 0, date: "" };

export function chinaDate(d: Date): string {
  const t = d.getTime();
  if (t >= last.from && t < last.to) return last.date;
  const date = new Date(t + CST_MS).toISOString().slice(0, 10);
  const from = Math.floor((t + CST_MS) / DAY_MS) * DAY_MS - CST_MS;
  last = { from, to: from + DAY_MS, date };
  return date;
}

export function addDays(date: string, days: number): string {
  const t = Date.parse(`${date}T00:00:00Z`) + days * 86_400_000;
  return new Date(t).toISOString().slice(0, 10);
}

/** The first instant (UTC) after the end of a CST calendar date. */
export function endOfChinaDate(date: string): Date {
  return new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000 - CST_MS);
}
