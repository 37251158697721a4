import { CommandError } from "../../errors.js";
import { datesBetween, defaultWindow } from "../../time.js";

export interface Window {
  start: string;
  end: string;
  dates: string[];
}

/**
 * Longest window a statistics read accepts. Every per-day series is zero-filled
 * over the window, so an unbounded window (1970 to 9999) would build millions of
 * rows; two years covers every dashboard and report we know of.
 */
export const MAX_WINDOW_DAYS = 731;

/**
 * Resolves a statistics window from already format-checked dates (CONTRACT §4):
 * defaults to the last 30 days through today, StartDate == EndDate is allowed,
 * Start after End is the command's documented `order` error.
 */
export function resolveWindow(
  start: string | undefined,
  end: string | undefined,
  errors: { order: CommandError; tooLong: CommandError },
  now = new Date(),
): Window {
  const fallback = defaultWindow(now);
  const s = start ?? fallback.start;
  const e = end ?? fallback.end;
  if (s > e) throw errors.order;
  const dates = datesBetween(s, e);
  if (dates.length > MAX_WINDOW_DAYS) throw errors.tooLong;
  return { start: s, end: e, dates };
}
