/**
 * Rate-limit windows of ENGINE §4.5: `Rate_Limit_Per_Hour` and `Rate_Limit_Per_Day`
 * count admissions per fixed UTC hour and UTC day; 0 means no limit.
 *
 * Pure arithmetic over the rate item's counts. The runner's conditional writes
 * enforce the limits; this module says how much room a window has and which
 * window admits a waiting row (its NotBefore).
 */

const HOUR = 3600;
const DAY = 86400;

export const hourStart = (epoch: number): number => Math.floor(epoch / HOUR) * HOUR;
export const dayStart = (epoch: number): number => Math.floor(epoch / DAY) * DAY;

export interface RateLimits {
  perHour: number;
  perDay: number;
}

/** The rate item's counts, each for the window starting at its `…Start`. */
export interface RateCounts {
  hour: number;
  day: number;
  hourStart: number;
  dayStart: number;
}

const limited = (n: number): boolean => Number.isFinite(n) && n > 0;

/** The counts as of `now`: a count kept for an earlier window has lapsed to 0. */
function current(now: number, counts: RateCounts): { hour: number; day: number } {
  return {
    hour: counts.hourStart === hourStart(now) ? Math.max(0, counts.hour) : 0,
    day: counts.dayStart === dayStart(now) ? Math.max(0, counts.day) : 0,
  };
}

/** How many more admissions both limits allow right now; Infinity without limits. */
export function room(now: number, limits: RateLimits, counts: RateCounts): number {
  const c = current(now, counts);
  const hourRoom = limited(limits.perHour) ? Math.max(0, limits.perHour - c.hour) : Infinity;
  const dayRoom = limited(limits.perDay) ? Math.max(0, limits.perDay - c.day) : Infinity;
  return Math.min(hourRoom, dayRoom);
}

/**
 * NotBefore of the (backlogAhead + 1)-th waiting row (§4.5): walking windows from
 * the current one (hours; days when only a day limit is set), each takes as many
 * rows, in order, as both limits leave room for; the answer is the later of `now`
 * and the start of the row's window. `now` without limits.
 *
 * Arithmetic rather than a walk for whole days, so a backlog of millions is as
 * cheap as one of three.
 */
export function notBefore(now: number, limits: RateLimits, counts: RateCounts, backlogAhead: number): number {
  const perHour = limited(limits.perHour) ? Math.floor(limits.perHour) : 0;
  const perDay = limited(limits.perDay) ? Math.floor(limits.perDay) : 0;
  if (perHour === 0 && perDay === 0) return now;
  let position = Math.max(0, Math.floor(backlogAhead));
  const c = current(now, counts);

  if (perHour === 0) {
    // Day windows: today has what its count leaves, each later day perDay.
    const today = Math.max(0, perDay - c.day);
    if (position < today) return now;
    position -= today;
    return dayStart(now) + (1 + Math.floor(position / perDay)) * DAY;
  }

  // Hour windows, today: hour by hour, each taking what both limits leave.
  let dayUsed = c.day;
  let hourUsed = c.hour;
  for (let h = hourStart(now); h < dayStart(now) + DAY; h += HOUR) {
    const hourRoom = Math.max(0, perHour - hourUsed);
    const dayRoom = perDay ? Math.max(0, perDay - dayUsed) : Infinity;
    const take = Math.min(hourRoom, dayRoom);
    if (position < take) return Math.max(now, h);
    position -= take;
    dayUsed += take;
    hourUsed = 0;
  }

  // Later days start empty: their hours fill perHour each, in order, until the day's
  // limit, so a day holds `perDayCap` rows and row p of a day sits in hour p / perHour.
  const perDayCap = perDay ? Math.min(perDay, 24 * perHour) : 24 * perHour;
  const days = Math.floor(position / perDayCap);
  position -= days * perDayCap;
  return dayStart(now) + (1 + days) * DAY + Math.floor(position / perHour) * HOUR;
}
