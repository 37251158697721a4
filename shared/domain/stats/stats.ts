import type { Window } from "./window.js";

/**
 * Statistics blocks (CONTRACT §8). The builders take rollup counters and shape
 * them; where a journey has no rollups the numbers are true zeros and every
 * per-day series is still zero-filled over the window.
 */
export const EMAIL_ACTION_KEYS = [
  "SendCount",
  "DeliveryCount",
  "OpenCount",
  "ClickCount",
  "ConversionCount",
  "BrowserViewCount",
  "ForwardCount",
  "BounceCount",
  "UnsubscribeCount",
  "SpamComplaintCount",
  "TotalRevenue",
] as const;
export type EmailActionKey = (typeof EMAIL_ACTION_KEYS)[number];
/** Counters as stored: every count, and revenue in integer cents. */
export type Counters = Partial<Record<EmailActionKey, number>>;

/** Cents (integer, exact) to currency units. */
export const toCurrency = (cents: number): number => Math.round(cents) / 100;

export function emailActions(c: Counters = {}): Record<EmailActionKey, number> {
  const out = {} as Record<EmailActionKey, number>;
  for (const k of EMAIL_ACTION_KEYS) out[k] = k === "TotalRevenue" ? toCurrency(c[k] ?? 0) : (c[k] ?? 0);
  return out;
}

export interface EnrollmentCounters {
  ActiveSubscribers: number;
  TotalSubscribers: number;
  TotalEnrolledLifetime: number;
  LastTriggeredAt: string | null;
  LastActivityAt: string | null;
}

export interface JourneyRollup {
  lifetime: Counters;
  daily: Map<string, Counters>;
  enrollment: EnrollmentCounters;
}

const NO_ENROLLMENT: EnrollmentCounters = {
  ActiveSubscribers: 0,
  TotalSubscribers: 0,
  TotalEnrolledLifetime: 0,
  LastTriggeredAt: null,
  LastActivityAt: null,
};

export function journeyStats(
  rollup: JourneyRollup | undefined,
  window: Window,
  opts: { includeActivityCounters: boolean },
): Record<string, unknown> {
  const enrollment = rollup?.enrollment ?? NO_ENROLLMENT;
  const days = window.dates.map((date) => ({ Date: date, ...emailActions(rollup?.daily.get(date)) }));
  const windowCents = window.dates.reduce((sum, d) => sum + (rollup?.daily.get(d)?.TotalRevenue ?? 0), 0);
  const stats: Record<string, unknown> = {
    ActiveSubscribers: enrollment.ActiveSubscribers,
    TotalSubscribers: enrollment.TotalSubscribers,
    AggregatedEmailActions: emailActions(rollup?.lifetime),
    AggregatedDaysEmailActions: days,
    TotalRevenue: toCurrency(windowCents),
    DaysRevenue: window.dates.map((date) => ({ Date: date, Amount: toCurrency(rollup?.daily.get(date)?.TotalRevenue ?? 0) })),
  };
  if (opts.includeActivityCounters) {
    stats["LastTriggeredAt"] = enrollment.LastTriggeredAt;
    stats["LastActivityAt"] = enrollment.LastActivityAt;
    stats["TotalEnrolledLifetime"] = enrollment.TotalEnrolledLifetime;
  }
  return stats;
}

/** The eight keys of journey.stats.byaction's Stats block (the per-ISP cache's counters). */
export const ACTION_STAT_KEYS = [
  "SendCount",
  "DeliveryCount",
  "OpenCount",
  "ClickCount",
  "BounceCount",
  "UnsubscribeCount",
  "SpamComplaintCount",
  "TotalRevenue",
] as const satisfies readonly EmailActionKey[];

/** Keys the per-ISP cache does not track: always 0 when a filter reads it (reference, issue #2019). */
export const UNTRACKED_BY_ISP = ["ConversionCount", "BrowserViewCount", "ForwardCount"] as const satisfies readonly EmailActionKey[];

export function sumWindow(daily: Map<string, Counters> | undefined, window: Window): Counters {
  const total: Counters = {};
  for (const date of window.dates) {
    for (const [k, v] of Object.entries(daily?.get(date) ?? {}) as [EmailActionKey, number][]) total[k] = (total[k] ?? 0) + v;
  }
  return total;
}

function pick(c: Counters, keys: readonly EmailActionKey[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of keys) out[k] = k === "TotalRevenue" ? toCurrency(c[k] ?? 0) : (c[k] ?? 0);
  return out;
}

/** Stats, DailyStats (zero-filled), Revenue and DaysRevenue of one SendEmail action over a window. */
export function actionStats(daily: Map<string, Counters> | undefined, window: Window) {
  const total = sumWindow(daily, window);
  return {
    Stats: pick(total, ACTION_STAT_KEYS),
    DailyStats: window.dates.map((date) => ({
      Date: date,
      ...pick(daily?.get(date) ?? {}, ["SendCount", "OpenCount", "ClickCount", "TotalRevenue"]),
    })),
    Revenue: toCurrency(total.TotalRevenue ?? 0),
    DaysRevenue: window.dates.map((date) => ({ Date: date, Amount: toCurrency(daily?.get(date)?.TotalRevenue ?? 0) })),
  };
}

/** The filtered AggregatedEmailActions: same eleven keys, the untracked three at 0. */
export function filteredEmailActions(c: Counters): Record<EmailActionKey, number> {
  const out = emailActions(c);
  for (const k of UNTRACKED_BY_ISP) out[k] = 0;
  return out;
}
