import { describe, expect, it } from "vitest";
import { dayStart, hourStart, notBefore, room, type RateCounts, type RateLimits } from "../../shared/engine/rate-window.js";

const t = (s: string): number => Date.parse(`${s.replace(" ", "T")}Z`) / 1000;
const show = (epoch: number): string => new Date(epoch * 1000).toISOString().slice(0, 19).replace("T", " ");

/**
 * §4.5 played out: arrivals at `now` are admitted while there is room and no
 * backlog (FIFO), else deferred with their NotBefore. Returns what each got.
 */
function arrive(now: number, limits: RateLimits, n: number, counts?: Partial<RateCounts>) {
  const c: RateCounts = { hour: 0, day: 0, hourStart: hourStart(now), dayStart: dayStart(now), ...counts };
  let backlog = 0;
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    if (backlog === 0 && room(now, limits, c) > 0) {
      c.hour += 1;
      c.day += 1;
      out.push("now");
    } else {
      out.push(show(notBefore(now, limits, c, backlog)));
      backlog += 1;
    }
  }
  return out;
}

/** A plain walk of §4.5's rule, window by window, to check the arithmetic against. */
function walk(now: number, limits: RateLimits, counts: RateCounts, backlogAhead: number): number {
  const hourly = limits.perHour > 0;
  if (!hourly && limits.perDay <= 0) return now;
  const step = hourly ? 3600 : 86400;
  let w = hourly ? hourStart(now) : dayStart(now);
  let hourUsed = counts.hourStart === hourStart(now) ? counts.hour : 0;
  const dayUsed = new Map<number, number>([[dayStart(now), counts.dayStart === dayStart(now) ? counts.day : 0]]);
  let position = backlogAhead;
  for (;;) {
    const used = dayUsed.get(dayStart(w)) ?? 0;
    const hourRoom = hourly ? Math.max(0, limits.perHour - hourUsed) : Infinity;
    const dayRoom = limits.perDay > 0 ? Math.max(0, limits.perDay - used) : Infinity;
    const take = Math.min(hourRoom, dayRoom);
    if (position < take) return Math.max(now, w);
    position -= take;
    dayUsed.set(dayStart(w), used + take);
    hourUsed = 0;
    w += step;
  }
}

describe("hourStart, dayStart", () => {
  it("fixed UTC windows", () => {
    expect(show(hourStart(t("2026-01-05 10:10:59")))).toBe("2026-01-05 10:00:00");
    expect(show(hourStart(t("2026-01-05 10:00:00")))).toBe("2026-01-05 10:00:00");
    expect(show(dayStart(t("2026-01-05 23:59:59")))).toBe("2026-01-05 00:00:00");
    expect(show(dayStart(t("2026-01-06 00:00:00")))).toBe("2026-01-06 00:00:00");
  });
});

describe("room", () => {
  const now = t("2026-01-05 10:10:00");
  const counts = { hour: 1, day: 5, hourStart: hourStart(now), dayStart: dayStart(now) };
  it("the smaller of both limits' room; Infinity without limits", () => {
    expect(room(now, { perHour: 2, perDay: 0 }, counts)).toBe(1);
    expect(room(now, { perHour: 0, perDay: 6 }, counts)).toBe(1);
    expect(room(now, { perHour: 10, perDay: 7 }, counts)).toBe(2);
    expect(room(now, { perHour: 0, perDay: 0 }, counts)).toBe(Infinity);
    expect(room(now, { perHour: 1, perDay: 0 }, { ...counts, hour: 3 })).toBe(0);
  });
  it("counts kept for an earlier window have lapsed", () => {
    expect(room(now, { perHour: 2, perDay: 0 }, { ...counts, hour: 2, hourStart: hourStart(now) - 3600 })).toBe(2);
    expect(room(now, { perHour: 0, perDay: 6 }, { ...counts, day: 6, dayStart: dayStart(now) - 86400 })).toBe(6);
  });
});

describe("notBefore (§4.5)", () => {
  const now = t("2026-01-05 10:10:00");

  it("§12: Rate_Limit_Per_Hour 2, five enrolments at 10:10 → 2 now, then 11:00, 11:00, 12:00", () => {
    expect(arrive(now, { perHour: 2, perDay: 0 }, 5)).toEqual([
      "now",
      "now",
      "2026-01-05 11:00:00",
      "2026-01-05 11:00:00",
      "2026-01-05 12:00:00",
    ]);
  });
  it("a day limit alone walks day windows", () => {
    expect(arrive(now, { perHour: 0, perDay: 3 }, 5)).toEqual(["now", "now", "now", "2026-01-06 00:00:00", "2026-01-06 00:00:00"]);
    expect(arrive(now, { perHour: 0, perDay: 2 }, 7)).toEqual([
      "now",
      "now",
      "2026-01-06 00:00:00",
      "2026-01-06 00:00:00",
      "2026-01-07 00:00:00",
      "2026-01-07 00:00:00",
      "2026-01-08 00:00:00",
    ]);
  });
  it("both limits: each hour takes what both leave, and a full day moves to the next", () => {
    // 2 an hour, 3 a day: 10:10 admits 2; 11:00 has one left of the day; then 00:00 ×2, 01:00, next day 00:00 ×2 …
    expect(arrive(now, { perHour: 2, perDay: 3 }, 8)).toEqual([
      "now",
      "now",
      "2026-01-05 11:00:00",
      "2026-01-06 00:00:00",
      "2026-01-06 00:00:00",
      "2026-01-06 01:00:00",
      "2026-01-07 00:00:00",
      "2026-01-07 00:00:00",
    ]);
  });
  it("a row that fits the current window gets now, not the window's start", () => {
    const counts = { hour: 0, day: 0, hourStart: hourStart(now), dayStart: dayStart(now) };
    expect(notBefore(now, { perHour: 2, perDay: 0 }, counts, 1)).toBe(now);
    expect(notBefore(now, { perHour: 0, perDay: 0 }, counts, 1_000)).toBe(now);
  });
  it("late in the day, the hour walk crosses midnight and the month", () => {
    const late = t("2026-01-31 23:30:00");
    const counts = { hour: 2, day: 2, hourStart: hourStart(late), dayStart: dayStart(late) };
    expect(show(notBefore(late, { perHour: 2, perDay: 0 }, counts, 0))).toBe("2026-02-01 00:00:00");
    expect(show(notBefore(late, { perHour: 2, perDay: 0 }, counts, 2))).toBe("2026-02-01 01:00:00");
  });
  it("limits lowered below the counts leave no room, not negative room", () => {
    const counts = { hour: 5, day: 5, hourStart: hourStart(now), dayStart: dayStart(now) };
    expect(show(notBefore(now, { perHour: 2, perDay: 0 }, counts, 0))).toBe("2026-01-05 11:00:00");
  });
  it("a backlog of millions costs no walk", () => {
    const counts = { hour: 1, day: 1, hourStart: hourStart(now), dayStart: dayStart(now) };
    const started = performance.now();
    const r = notBefore(now, { perHour: 1, perDay: 0 }, counts, 5_000_000);
    expect(performance.now() - started).toBeLessThan(50);
    // Today: 11:00 … 23:00 take 13; then 24 a day.
    const rest = 5_000_000 - 13;
    expect(r).toBe(dayStart(now) + (1 + Math.floor(rest / 24)) * 86400 + (rest % 24) * 3600);
  });
  it("agrees with a window-by-window walk", () => {
    let seed = 11;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let i = 0; i < 400; i++) {
      const at = t("2026-01-05 00:00:00") + rand(2 * 86400);
      const limits = { perHour: rand(4), perDay: rand(3) === 0 ? 0 : rand(40) };
      const counts = {
        hour: rand(5),
        day: rand(30),
        hourStart: rand(4) === 0 ? hourStart(at) - 3600 : hourStart(at),
        dayStart: rand(4) === 0 ? dayStart(at) - 86400 : dayStart(at),
      };
      const ahead = rand(200);
      expect(notBefore(at, limits, counts, ahead), JSON.stringify({ at: show(at), limits, counts, ahead })).toBe(
        walk(at, limits, counts, ahead),
      );
    }
  });
});
