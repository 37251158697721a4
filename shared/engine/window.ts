/**
 * Timer arithmetic of ENGINE §6: a Wait's DueAt with its optional delivery window,
 * Debug's sleep, and SendSMS's `delivery_window` in an IANA time zone.
 *
 * Pure: no I/O, no clock. Every time is whole epoch seconds (UTC) in and out.
 *
 * A window is a daily range of local wall-clock time, [before, after] inclusive to
 * the second, on the allowed weekdays. A time inside it proceeds; otherwise the
 * answer is the window's opening on the same date (allowed day, before opening) or
 * on the first later allowed date. In UTC this is exactly §6's rule. In a zone with
 * DST the same rule reads as "the first instant at or after `at` whose local
 * time is inside the window", which also settles the two days a year when a
 * wall-clock time is missing (spring forward: the window opens when the clocks jump
 * into it) or happens twice (fall back: the first occurrence).
 */

export const WAIT_UNIT_SECONDS = { seconds: 1, minutes: 60, hours: 3600, days: 86400 } as const;
export type WaitUnit = keyof typeof WAIT_UNIT_SECONDS;

/** Weekday abbreviations in `Date.getUTCDay()` order: 0 = Sunday … 6 = Saturday. */
export const DAY_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;
const ALL_DAYS: readonly number[] = [0, 1, 2, 3, 4, 5, 6];

const DAY = 86400;

/** A daily window in hours (fractions allowed: 9.5 = 09:30) on weekdays 0 = Sun … 6 = Sat. */
export interface DailyWindow {
  before: number;
  after: number;
  days: readonly number[];
}

/** The same window in seconds of the day, as the arithmetic uses it. */
interface SecondsWindow {
  before: number;
  after: number;
  allowed: boolean[];
}

/* ------------------------------------------------------------------------------------------------
 * Parameter readers. Stored parameters are canonical (actions.ts: "HH:MM" strings, lowercase day
 * abbreviations, booleans), but trees written by older code or copied between users may carry
 * looser spellings, and a step must not fail over "09" versus "09:00".
 * --------------------------------------------------------------------------------------------- */

/** A parameter by name, case-insensitively (the canonical spelling first). */
function param(params: Record<string, unknown>, name: string): unknown {
  if (name in params) return params[name];
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(params)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

const isBlank = (v: unknown): boolean => v === undefined || v === null || v === "";

function toBool(v: unknown): boolean {
  if (v === true || v === 1) return true;
  return typeof v === "string" && ["1", "true", "yes", "on"].includes(v.trim().toLowerCase());
}

/** A finite number from a number or a decimal string; undefined otherwise. */
function toNumber(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) ? v : undefined;
  if (typeof v === "string" && /^\s*\d+(\.\d+)?\s*$/.test(v)) return Number(v);
  return undefined;
}

/**
 * A time of day as seconds since midnight. Accepts "HH:MM" (the stored form),
 * "HH:MM:SS", "HH" ("09"), and numbers of hours (9, 9.5). 24:00 is the end of the day.
 * Throws a RangeError for anything else: a corrupt window must not silently move sends.
 */
export function timeOfDaySeconds(v: unknown, name = "time"): number {
  let seconds: number | undefined;
  if (typeof v === "number") {
    if (Number.isFinite(v)) seconds = Math.round(v * 3600);
  } else if (typeof v === "string") {
    const m = /^\s*(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?\s*$/.exec(v);
    if (m) {
      const [h, mi, s] = [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
      if (mi < 60 && s < 60) seconds = h * 3600 + mi * 60 + s;
    }
  }
  if (seconds === undefined || seconds < 0 || seconds > DAY) throw new RangeError(`${name} is not a time of day: ${JSON.stringify(v)}`);
  return seconds;
}

/**
 * Weekdays as 0 = Sun … 6 = Sat, from day names (case-insensitive; "mon" or
 * "Monday"), numbers 0–6, or a comma list. Absent or empty means every day (the
 * reference's default; validation never stores an empty list).
 */
export function parseDays(v: unknown, name = "days"): number[] {
  const items: unknown[] = Array.isArray(v) ? v : typeof v === "string" ? v.split(",").filter((s) => s.trim() !== "") : isBlank(v) ? [] : [v];
  if (items.length === 0) return [...ALL_DAYS];
  const out = new Set<number>();
  for (const item of items) {
    let day: number | undefined;
    if (typeof item === "number" && Number.isInteger(item) && item >= 0 && item <= 6) day = item;
    else if (typeof item === "string") {
      const s = item.trim().toLowerCase();
      const i = DAY_NAMES.indexOf(s.slice(0, 3) as (typeof DAY_NAMES)[number]);
      // "mon" and "monday" are fine; "mo" or "monsoon" are not days.
      if (i >= 0 && (s.length === 3 || s === FULL_DAY_NAMES[i])) day = i;
    }
    if (day === undefined) throw new RangeError(`${name} holds something that is not a weekday: ${JSON.stringify(item)}`);
    out.add(day);
  }
  return [...out].sort((a, b) => a - b);
}
const FULL_DAY_NAMES = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];

function toSecondsWindow(window: DailyWindow): SecondsWindow {
  const before = timeOfDaySeconds(window.before, "window.before");
  const after = timeOfDaySeconds(window.after, "window.after");
  // Validation requires after > before; an inverted window would have no instant in it at all.
  if (after < before) throw new RangeError(`window closes (${window.after}) before it opens (${window.before})`);
  const allowed = Array.from({ length: 7 }, () => false);
  for (const d of window.days) {
    if (!Number.isInteger(d) || d < 0 || d > 6) throw new RangeError(`window day out of range: ${d}`);
    allowed[d] = true;
  }
  if (!allowed.includes(true)) throw new RangeError("window allows no day");
  return { before, after, allowed };
}

/* ------------------------------------------------------------------------------------------------
 * The arithmetic
 * --------------------------------------------------------------------------------------------- */

/** Weekday (0 = Sun) of a day number counted from 1970-01-01, a Thursday. */
const weekdayOf = (dayNumber: number): number => (((dayNumber + 4) % 7) + 7) % 7;

/**
 * §6's rule on a wall-clock time expressed as if it were UTC: `wall` itself when
 * inside, else the opening on its date (allowed day, too early), else the opening
 * on the first later allowed date.
 */
function wallDueAt(wall: number, w: SecondsWindow): number {
  const day = Math.floor(wall / DAY);
  const tod = wall - day * DAY;
  const wd = weekdayOf(day);
  if (w.allowed[wd]) {
    if (tod >= w.before && tod <= w.after) return wall;
    if (tod < w.before) return day * DAY + w.before;
  }
  for (let k = 1; k <= 7; k++) if (w.allowed[(wd + k) % 7]) return (day + k) * DAY + w.before;
  /* c8 ignore next */
  throw new Error("unreachable: a window allows at least one day");
}

const formatters = new Map<string, Intl.DateTimeFormat | null>();

/** A formatter for the zone, or null for UTC and for names the runtime does not know (§6: UTC if invalid). */
function formatterFor(timeZone: string): Intl.DateTimeFormat | null {
  let f = formatters.get(timeZone);
  if (f !== undefined) return f;
  f = null;
  if (typeof timeZone === "string" && timeZone !== "" && timeZone.toUpperCase() !== "UTC") {
    try {
      const candidate = new Intl.DateTimeFormat("en-US", {
        timeZone,
        hourCycle: "h23",
        year: "numeric",
        month: "numeric",
        day: "numeric",
        hour: "numeric",
        minute: "numeric",
        second: "numeric",
      });
      // Zones that are UTC under another name cost nothing to treat as such.
      f = candidate.resolvedOptions().timeZone === "UTC" ? null : candidate;
    } catch {
      f = null;
    }
  }
  // Bounded: zone names come from validated action parameters, and there are a few hundred of them.
  if (formatters.size < 1000) formatters.set(timeZone, f);
  return f;
}

/** True when the runtime knows `timeZone` as an IANA zone (UTC included). */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** The zone's offset from UTC at instant `t` (epoch s), in seconds: local wall time = t + offset. */
function offsetAt(f: Intl.DateTimeFormat, t: number): number {
  const parts: Record<string, number> = {};
  for (const p of f.formatToParts(new Date(t * 1000))) if (p.type !== "literal") parts[p.type] = Number(p.value);
  const wall = Date.UTC(parts["year"]!, parts["month"]! - 1, parts["day"]!, parts["hour"]!, parts["minute"]!, parts["second"]!) / 1000;
  return wall - t;
}

/**
 * The first instant at or after `at` (epoch s) inside the window, in `timeZone`
 * (IANA; UTC when absent or invalid). `before`/`after` are hours of the day, `days`
 * weekdays 0 = Sun … 6 = Sat, both read in local time.
 */
export function windowDueAt(at: number, window: { before: number; after: number; days: readonly number[] }, timeZone = "UTC"): number {
  const w = toSecondsWindow(window);
  const f = formatterFor(timeZone);
  if (f === null) return wallDueAt(at, w);
  // Within a stretch of constant offset, local time is UTC shifted, so the UTC rule
  // applies to it. If the answer lies past an offset change, nothing before the
  // change qualified; start again from the change with the new offset. Two changes
  // per year is the norm, so this loops once or twice.
  let t = at;
  for (let guard = 0; guard < 16; guard++) {
    const offset = offsetAt(f, t);
    const candidate = wallDueAt(t + offset, w) - offset;
    if (offsetAt(f, candidate) === offset) return candidate;
    // Binary search, to the second, for the first instant with another offset.
    let lo = t;
    let hi = candidate;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (offsetAt(f, mid) === offset) lo = mid;
      else hi = mid;
    }
    t = hi;
  }
  /* c8 ignore next */
  throw new Error(`no window instant found in ${timeZone}`);
}

/* ------------------------------------------------------------------------------------------------
 * Wait
 * --------------------------------------------------------------------------------------------- */

/** A Wait's length in seconds: WaitAmount × the unit. WaitAmount 0 is allowed (§6). */
export function waitSeconds(params: Record<string, unknown>): number {
  const unitRaw = param(params, "WaitUnit");
  const unitText = typeof unitRaw === "string" ? unitRaw.trim().toLowerCase() : "";
  // "day" as well as "days": the unit is a closed vocabulary, and the singular is unambiguous.
  const unit = (unitText.endsWith("s") ? unitText : `${unitText}s`) as WaitUnit;
  const perUnit = WAIT_UNIT_SECONDS[unit];
  if (perUnit === undefined) throw new RangeError(`Wait has no valid WaitUnit: ${JSON.stringify(unitRaw)}`);
  const amount = toNumber(param(params, "WaitAmount"));
  if (amount === undefined || !Number.isInteger(amount) || amount < 0) {
    throw new RangeError(`Wait has no valid WaitAmount: ${JSON.stringify(param(params, "WaitAmount"))}`);
  }
  return amount * perUnit;
}

/**
 * A Wait's delivery window, or undefined when `TimeConstraintEnabled` is off.
 * Defaults as the reference: 09:00, 19:00, every day.
 */
export function waitWindow(params: Record<string, unknown>): DailyWindow | undefined {
  if (!toBool(param(params, "TimeConstraintEnabled"))) return undefined;
  const before = param(params, "DontSendBefore");
  const after = param(params, "DontSendAfter");
  return {
    before: timeOfDaySeconds(isBlank(before) ? "09:00" : before, "DontSendBefore") / 3600,
    after: timeOfDaySeconds(isBlank(after) ? "19:00" : after, "DontSendAfter") / 3600,
    days: parseDays(param(params, "AllowedDays"), "AllowedDays"),
  };
}

/**
 * A Wait's DueAt (§6): `base = start + WaitAmount × unit`, then, with
 * TimeConstraintEnabled, the window in UTC. `heldByWindow` is true when the window
 * moved it past base.
 */
export function waitDueAt(start: number, params: Record<string, unknown>): { dueAt: number; heldByWindow: boolean } {
  const base = start + waitSeconds(params);
  const window = waitWindow(params);
  if (!window) return { dueAt: base, heldByWindow: false };
  const dueAt = windowDueAt(base, window, "UTC");
  return { dueAt, heldByWindow: dueAt !== base };
}

/* ------------------------------------------------------------------------------------------------
 * SendSMS and Debug
 * --------------------------------------------------------------------------------------------- */

/**
 * SendSMS's delivery window with its zone, or undefined when `delivery_window_enabled`
 * is off or no window is given (nothing to hold it to). An invalid zone reads as UTC.
 */
export function smsWindow(params: Record<string, unknown>): { window: DailyWindow; timeZone: string } | undefined {
  if (!toBool(param(params, "delivery_window_enabled"))) return undefined;
  const raw = param(params, "delivery_window");
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return undefined;
  const dw = raw as Record<string, unknown>;
  const zone = param(dw, "timezone");
  const timeZone = typeof zone === "string" && zone !== "" && isValidTimeZone(zone) ? zone : "UTC";
  const start = param(dw, "start_time");
  const end = param(dw, "end_time");
  return {
    window: {
      before: timeOfDaySeconds(isBlank(start) ? "09:00" : start, "delivery_window.start_time") / 3600,
      after: timeOfDaySeconds(isBlank(end) ? "18:00" : end, "delivery_window.end_time") / 3600,
      days: parseDays(param(dw, "days"), "delivery_window.days"),
    },
    timeZone,
  };
}

/**
 * When a SendSMS may send, at `now`: `now` itself without a window or inside it;
 * else the window's next opening, and the cursor parks (`Deferred OutsideWindow`).
 */
export function smsDueAt(now: number, params: Record<string, unknown>): { dueAt: number; heldByWindow: boolean } {
  const w = smsWindow(params);
  if (!w) return { dueAt: now, heldByWindow: false };
  const dueAt = windowDueAt(now, w.window, w.timeZone);
  return { dueAt, heldByWindow: dueAt !== now };
}

/** Debug with SleepSeconds > 0 parks until now + SleepSeconds, with no window (§6); otherwise it is instant. */
export function debugDueAt(now: number, params: Record<string, unknown>): number | undefined {
  const sleep = toNumber(param(params, "SleepSeconds"));
  if (sleep === undefined || sleep <= 0) return undefined;
  return now + Math.floor(sleep);
}
