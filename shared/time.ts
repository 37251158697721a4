/** All times are UTC. The wire format is `YYYY-MM-DD HH:MM:SS`. */

export function formatDateTime(d: Date): string {
  return d.toISOString().slice(0, 19).replace("T", " ");
}

export function formatDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}

export const nowDateTime = (): string => formatDateTime(new Date());

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** True only for a real calendar date in the exact form YYYY-MM-DD (2026-02-30 is false). */
export function isCalendarDate(value: string): boolean {
  const m = DATE_RE.exec(value);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (y < 1970 || y > 9999) return false;
  const dt = new Date(Date.UTC(y, mo - 1, d));
  return dt.getUTCFullYear() === y && dt.getUTCMonth() === mo - 1 && dt.getUTCDate() === d;
}

const DATETIME_RE = /^(\d{4}-\d{2}-\d{2}) (\d{2}):(\d{2}):(\d{2})$/;

/** Parses `YYYY-MM-DD HH:MM:SS` strictly; undefined when it is not a real instant. */
export function parseDateTime(value: string): Date | undefined {
  const m = DATETIME_RE.exec(value);
  if (!m || !isCalendarDate(m[1]!)) return undefined;
  const [h, mi, s] = [Number(m[2]), Number(m[3]), Number(m[4])];
  if (h > 23 || mi > 59 || s > 59) return undefined;
  return new Date(`${m[1]}T${m[2]}:${m[3]}:${m[4]}Z`);
}

export function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return formatDate(d);
}

/** The default statistics window: 30 days before today (UTC) through today, both ends included. */
export function defaultWindow(now = new Date()): { start: string; end: string } {
  const end = formatDate(now);
  return { start: addDays(end, -30), end };
}

/** Every date from start to end inclusive, ascending. Callers guarantee start <= end. */
export function datesBetween(start: string, end: string): string[] {
  const out: string[] = [];
  for (let d = start; d <= end; d = addDays(d, 1)) out.push(d);
  return out;
}

export const epochSeconds = (d = new Date()): number => Math.floor(d.getTime() / 1000);
