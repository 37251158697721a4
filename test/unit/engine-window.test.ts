import { describe, expect, it } from "vitest";
import { parseActions } from "../../shared/domain/trees/actions.js";
import {
  debugDueAt,
  parseDays,
  smsDueAt,
  smsWindow,
  timeOfDaySeconds,
  waitDueAt,
  waitSeconds,
  waitWindow,
  windowDueAt,
} from "../../shared/engine/window.js";

/** Epoch seconds of a UTC `YYYY-MM-DD HH:MM:SS`. */
const t = (s: string): number => Date.parse(`${s.replace(" ", "T")}Z`) / 1000;
/** The UTC `YYYY-MM-DD HH:MM:SS` of epoch seconds. */
const show = (epoch: number): string => new Date(epoch * 1000).toISOString().slice(0, 19).replace("T", " ");

const MON_FRI = ["mon", "tue", "wed", "thu", "fri"];
/** §6's example window: Mon–Fri 09:00–19:00, and a zero-length wait so base = start. */
const monFri = (extra: Record<string, unknown> = {}) => ({
  WaitUnit: "seconds",
  WaitAmount: 0,
  TimeConstraintEnabled: true,
  DontSendBefore: "09:00",
  DontSendAfter: "19:00",
  AllowedDays: MON_FRI,
  ...extra,
});
const due = (start: string, params: Record<string, unknown>) => {
  const r = waitDueAt(t(start), params);
  return { dueAt: show(r.dueAt), heldByWindow: r.heldByWindow };
};

describe("waitDueAt: §6's worked examples (Mon–Fri 09:00–19:00)", () => {
  // 2026-01-02 is a Friday, 2026-01-04 a Sunday, 2026-01-05 a Monday, 2026-01-06 a Tuesday.
  it("Fri 19:00:00 proceeds (the window's end is inclusive, to the second)", () => {
    expect(due("2026-01-02 19:00:00", monFri())).toEqual({ dueAt: "2026-01-02 19:00:00", heldByWindow: false });
  });
  it("Fri 19:00:01 → Mon 09:00:00", () => {
    expect(due("2026-01-02 19:00:01", monFri())).toEqual({ dueAt: "2026-01-05 09:00:00", heldByWindow: true });
  });
  it("Sun 23:30 → Mon 09:00", () => {
    expect(due("2026-01-04 23:30:00", monFri())).toEqual({ dueAt: "2026-01-05 09:00:00", heldByWindow: true });
  });
  it("Tue 06:10 → 09:00 the same day", () => {
    expect(due("2026-01-06 06:10:00", monFri())).toEqual({ dueAt: "2026-01-06 09:00:00", heldByWindow: true });
  });
  it("the window's start is inclusive too: 09:00:00 proceeds, 08:59:59 waits one second", () => {
    expect(due("2026-01-06 09:00:00", monFri())).toEqual({ dueAt: "2026-01-06 09:00:00", heldByWindow: false });
    expect(due("2026-01-06 08:59:59", monFri())).toEqual({ dueAt: "2026-01-06 09:00:00", heldByWindow: true });
  });
  it("inside the window on an allowed day proceeds", () => {
    expect(due("2026-01-07 13:37:12", monFri())).toEqual({ dueAt: "2026-01-07 13:37:12", heldByWindow: false });
  });
  it("a Saturday inside the hours still waits for Monday", () => {
    expect(due("2026-01-03 10:00:00", monFri())).toEqual({ dueAt: "2026-01-05 09:00:00", heldByWindow: true });
  });
});

describe("waitDueAt: AllowedDays", () => {
  it('["sun"] from a Monday waits for the next Sunday, 6 days on', () => {
    expect(due("2026-01-05 10:00:00", monFri({ AllowedDays: ["sun"] }))).toEqual({ dueAt: "2026-01-11 09:00:00", heldByWindow: true });
    expect(due("2026-01-05 07:00:00", monFri({ AllowedDays: ["sun"] }))).toEqual({ dueAt: "2026-01-11 09:00:00", heldByWindow: true });
  });
  it('["sun"] on a Sunday after hours waits a whole week', () => {
    expect(due("2026-01-04 19:00:01", monFri({ AllowedDays: ["sun"] }))).toEqual({ dueAt: "2026-01-11 09:00:00", heldByWindow: true });
  });
  it("day names are case-insensitive and full names are read", () => {
    expect(due("2026-01-05 10:00:00", monFri({ AllowedDays: ["SUN"] })).dueAt).toBe("2026-01-11 09:00:00");
    expect(due("2026-01-05 10:00:00", monFri({ AllowedDays: ["Sunday"] })).dueAt).toBe("2026-01-11 09:00:00");
    expect(due("2026-01-05 20:00:00", monFri({ AllowedDays: ["Mon", "TUE"] })).dueAt).toBe("2026-01-06 09:00:00");
  });
  it("absent or empty AllowedDays means every day (the reference's default)", () => {
    expect(due("2026-01-03 20:00:00", monFri({ AllowedDays: undefined })).dueAt).toBe("2026-01-04 09:00:00");
    expect(due("2026-01-03 20:00:00", monFri({ AllowedDays: [] })).dueAt).toBe("2026-01-04 09:00:00");
  });
});

describe("waitDueAt: across month and year boundaries", () => {
  it("Fri 30 Jan after hours → Mon 2 Feb", () => {
    expect(due("2026-01-30 20:00:00", monFri()).dueAt).toBe("2026-02-02 09:00:00");
  });
  it("Wed 31 Dec 2025 late → Thu 1 Jan 2026", () => {
    expect(due("2025-12-31 23:59:59", monFri()).dueAt).toBe("2026-01-01 09:00:00");
  });
  it("Fri 1 Jan 2027 after hours → Mon 4 Jan 2027", () => {
    expect(due("2027-01-01 19:00:01", monFri()).dueAt).toBe("2027-01-04 09:00:00");
  });
  it("a 3-day wait from Thu 31 Dec 2026 lands on Sun 3 Jan → Mon 4 Jan 2027", () => {
    expect(due("2026-12-31 12:00:00", monFri({ WaitUnit: "days", WaitAmount: 3 }))).toEqual({
      dueAt: "2027-01-04 09:00:00",
      heldByWindow: true,
    });
  });
  it("a leap day: Sat 26 Feb 2028 → Tue 29 Feb with AllowedDays tue", () => {
    expect(due("2028-02-26 12:00:00", monFri({ AllowedDays: ["tue"] })).dueAt).toBe("2028-02-29 09:00:00");
  });
});

describe("waitDueAt: the base wait", () => {
  const start = "2026-01-05 10:00:00";
  it("units are 1, 60, 3600 and 86400 seconds, without a window", () => {
    const p = (WaitUnit: string, WaitAmount: unknown) => ({ WaitUnit, WaitAmount });
    expect(due(start, p("seconds", 30))).toEqual({ dueAt: "2026-01-05 10:00:30", heldByWindow: false });
    expect(due(start, p("minutes", 30)).dueAt).toBe("2026-01-05 10:30:00");
    expect(due(start, p("hours", 30)).dueAt).toBe("2026-01-06 16:00:00");
    expect(due(start, p("days", 30)).dueAt).toBe("2026-02-04 10:00:00");
  });
  it("WaitAmount 0 is allowed and is start itself", () => {
    expect(due(start, { WaitUnit: "days", WaitAmount: 0 })).toEqual({ dueAt: start, heldByWindow: false });
  });
  it("amounts as strings, units in any case or singular", () => {
    expect(due(start, { WaitUnit: "Hours", WaitAmount: "2" }).dueAt).toBe("2026-01-05 12:00:00");
    expect(due(start, { WaitUnit: "day", WaitAmount: 1 }).dueAt).toBe("2026-01-06 10:00:00");
  });
  it("the window applies to base, not start: Fri 18:00 + 2 hours → Mon 09:00", () => {
    expect(due("2026-01-02 18:00:00", monFri({ WaitUnit: "hours", WaitAmount: 2 }))).toEqual({
      dueAt: "2026-01-05 09:00:00",
      heldByWindow: true,
    });
  });
  it("TimeConstraintEnabled off (or absent) ignores the window", () => {
    expect(due("2026-01-03 23:00:00", monFri({ TimeConstraintEnabled: false }))).toEqual({
      dueAt: "2026-01-03 23:00:00",
      heldByWindow: false,
    });
    expect(due("2026-01-03 23:00:00", { ...monFri(), TimeConstraintEnabled: undefined }).heldByWindow).toBe(false);
    expect(due("2026-01-03 23:00:00", monFri({ TimeConstraintEnabled: "true" })).dueAt).toBe("2026-01-05 09:00:00");
  });
  it("a broken unit or amount throws rather than guessing", () => {
    expect(() => waitDueAt(0, { WaitUnit: "weeks", WaitAmount: 1 })).toThrow(RangeError);
    expect(() => waitDueAt(0, { WaitUnit: "days" })).toThrow(RangeError);
    expect(() => waitDueAt(0, { WaitUnit: "days", WaitAmount: -1 })).toThrow(RangeError);
    expect(() => waitDueAt(0, { WaitUnit: "days", WaitAmount: 1.5 })).toThrow(RangeError);
  });
  it("waitSeconds multiplies", () => {
    expect(waitSeconds({ WaitUnit: "minutes", WaitAmount: 3 })).toBe(180);
  });
});

describe("waitDueAt: spellings of the window", () => {
  it("hours as numbers or bare strings such as '09'", () => {
    for (const [before, after] of [
      [9, 19],
      ["09", "19"],
      ["9", 19],
      ["09:00:00", "19:00"],
    ]) {
      const p = monFri({ DontSendBefore: before, DontSendAfter: after });
      expect(due("2026-01-02 19:00:00", p).dueAt).toBe("2026-01-02 19:00:00");
      expect(due("2026-01-02 19:00:01", p).dueAt).toBe("2026-01-05 09:00:00");
    }
  });
  it("minutes count: 09:30–17:45", () => {
    const p = monFri({ DontSendBefore: "09:30", DontSendAfter: "17:45" });
    expect(due("2026-01-06 09:29:59", p).dueAt).toBe("2026-01-06 09:30:00");
    expect(due("2026-01-06 17:45:00", p).dueAt).toBe("2026-01-06 17:45:00");
    expect(due("2026-01-06 17:45:01", p).dueAt).toBe("2026-01-07 09:30:00");
  });
  it("defaults 09:00 and 19:00 when enabled without times", () => {
    expect(due("2026-01-03 19:00:01", { WaitUnit: "seconds", WaitAmount: 0, TimeConstraintEnabled: true }).dueAt).toBe(
      "2026-01-04 09:00:00",
    );
  });
  it("keys are read case-insensitively", () => {
    const p = { waitunit: "seconds", waitamount: 0, timeconstraintenabled: true, dontsendbefore: "10:00", dontsendafter: "11:00", alloweddays: ["mon"] };
    expect(due("2026-01-05 11:00:01", p).dueAt).toBe("2026-01-12 10:00:00");
  });
  it("the canonical parameters journey.actions.update stores give the same answers", () => {
    const parsed = parseActions(
      [
        {
          Action: "Wait",
          WaitUnit: "Days",
          WaitAmount: "2",
          TimeConstraintEnabled: "yes",
          DontSendBefore: "09:00",
          DontSendAfter: "19:00",
          AllowedDays: ["FRI", "mon", "Tue", "wed", "thu"],
        },
      ],
      { journeyId: 1 },
    );
    if (!parsed.ok) throw new Error(parsed.message);
    const params = parsed.actions[0]!.ActionParameters;
    // Wed 19:00:01 + 2 days = Fri 19:00:01 → Mon 09:00.
    expect(due("2026-01-07 19:00:01", params)).toEqual({ dueAt: "2026-01-12 09:00:00", heldByWindow: true });
    expect(waitWindow(params)).toEqual({ before: 9, after: 19, days: [1, 2, 3, 4, 5] });
  });
  it("a malformed time throws", () => {
    expect(() => waitDueAt(0, monFri({ DontSendBefore: "9am" }))).toThrow(RangeError);
    expect(() => waitDueAt(0, monFri({ DontSendBefore: "09:61" }))).toThrow(RangeError);
    expect(() => waitDueAt(0, monFri({ DontSendBefore: "20:00", DontSendAfter: "19:00" }))).toThrow(RangeError);
    expect(() => waitDueAt(0, monFri({ AllowedDays: ["mo"] }))).toThrow(RangeError);
  });
});

describe("small readers", () => {
  it("timeOfDaySeconds", () => {
    expect(timeOfDaySeconds("00:00")).toBe(0);
    expect(timeOfDaySeconds("23:59")).toBe(86340);
    expect(timeOfDaySeconds("24:00")).toBe(86400);
    expect(timeOfDaySeconds(9.5)).toBe(34200);
    expect(timeOfDaySeconds("07")).toBe(25200);
    expect(() => timeOfDaySeconds("25:00")).toThrow(RangeError);
    expect(() => timeOfDaySeconds(null)).toThrow(RangeError);
  });
  it("parseDays", () => {
    expect(parseDays(["sun", "SAT", "mon", "mon"])).toEqual([0, 1, 6]);
    expect(parseDays("mon, fri")).toEqual([1, 5]);
    expect(parseDays([0, 6])).toEqual([0, 6]);
    expect(parseDays(undefined)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(() => parseDays(["funday"])).toThrow(RangeError);
    expect(() => parseDays([7])).toThrow(RangeError);
  });
});

describe("windowDueAt in UTC", () => {
  const w = { before: 9, after: 19, days: [1, 2, 3, 4, 5] };
  it("matches the Wait rule", () => {
    expect(show(windowDueAt(t("2026-01-02 19:00:00"), w))).toBe("2026-01-02 19:00:00");
    expect(show(windowDueAt(t("2026-01-02 19:00:01"), w))).toBe("2026-01-05 09:00:00");
    expect(show(windowDueAt(t("2026-01-04 23:30:00"), w, "UTC"))).toBe("2026-01-05 09:00:00");
  });
  it("an invalid or empty zone is UTC", () => {
    expect(show(windowDueAt(t("2026-01-04 23:30:00"), w, "Not/AZone"))).toBe("2026-01-05 09:00:00");
    expect(show(windowDueAt(t("2026-01-04 23:30:00"), w, ""))).toBe("2026-01-05 09:00:00");
    expect(show(windowDueAt(t("2026-01-04 23:30:00"), w, "Etc/UTC"))).toBe("2026-01-05 09:00:00");
  });
  it("rejects a window with no day or closing before it opens", () => {
    expect(() => windowDueAt(0, { before: 9, after: 19, days: [] })).toThrow(RangeError);
    expect(() => windowDueAt(0, { before: 19, after: 9, days: [1] })).toThrow(RangeError);
    expect(() => windowDueAt(0, { before: 9, after: 19, days: [7] })).toThrow(RangeError);
  });
});

describe("windowDueAt in a non-UTC zone", () => {
  const ny = "America/New_York";
  const tokyo = "Asia/Tokyo";
  const weekdays = { before: 9, after: 18, days: [1, 2, 3, 4, 5] };
  const everyDay = { before: 9, after: 18, days: [0, 1, 2, 3, 4, 5, 6] };
  const at = (s: string, w: { before: number; after: number; days: number[] }, zone: string) => show(windowDueAt(t(s), w, zone));

  it("New York in winter (UTC−5): local hours and local weekdays", () => {
    // Mon 07:00 EST → 09:00 EST.
    expect(at("2026-01-05 12:00:00", weekdays, ny)).toBe("2026-01-05 14:00:00");
    // Mon 18:00:00 EST is inside (inclusive); 18:00:01 waits for Tue 09:00.
    expect(at("2026-01-05 23:00:00", weekdays, ny)).toBe("2026-01-05 23:00:00");
    expect(at("2026-01-05 23:00:01", weekdays, ny)).toBe("2026-01-06 14:00:00");
    // Sat 03:00 UTC is still Fri 22:00 in New York: the local weekday decides → Mon.
    expect(at("2026-01-10 03:00:00", weekdays, ny)).toBe("2026-01-12 14:00:00");
    // Mon 02:00 UTC is Sun 21:00 local: not yet Monday there → Mon 09:00 EST.
    expect(at("2026-01-05 02:00:00", weekdays, ny)).toBe("2026-01-05 14:00:00");
  });
  it("New York in summer (UTC−4)", () => {
    expect(at("2026-07-06 12:00:00", weekdays, ny)).toBe("2026-07-06 13:00:00");
  });
  it("the spring-forward day (Sun 8 Mar 2026, 02:00 EST → 03:00 EDT)", () => {
    // Sat 23:30 EST → Sun 09:00, which is already EDT (13:00 UTC, not 14:00).
    expect(at("2026-03-08 04:30:00", everyDay, ny)).toBe("2026-03-08 13:00:00");
    // Sat 20:00 EST, Mon–Fri → Mon 9 Mar 09:00 EDT.
    expect(at("2026-03-08 01:00:00", weekdays, ny)).toBe("2026-03-09 13:00:00");
    // A window opening at 02:30, a time that does not exist that day: it opens when
    // the clocks jump into it, 03:00 EDT.
    expect(at("2026-03-08 05:00:00", { before: 2.5, after: 5, days: [0] }, ny)).toBe("2026-03-08 07:00:00");
  });
  it("the fall-back day (Sun 1 Nov 2026, 02:00 EDT → 01:00 EST)", () => {
    // Sat 20:00 EDT → Sun 09:00 EST (14:00 UTC).
    expect(at("2026-11-01 00:00:00", everyDay, ny)).toBe("2026-11-01 14:00:00");
    // 01:00 happens twice: the window opens at the first.
    expect(at("2026-11-01 04:30:00", { before: 1, after: 1.5, days: [0] }, ny)).toBe("2026-11-01 05:00:00");
    // Inside the second 01:xx, still inside the window.
    expect(at("2026-11-01 06:10:00", { before: 1, after: 1.5, days: [0] }, ny)).toBe("2026-11-01 06:10:00");
  });
  it("Tokyo (UTC+9, no DST): a local day ahead of UTC", () => {
    // 2026-01-05 00:30 UTC is Mon 09:30 JST: inside.
    expect(at("2026-01-05 00:30:00", weekdays, tokyo)).toBe("2026-01-05 00:30:00");
    // Mon 19:00 JST → Tue 09:00 JST = Tue 00:00 UTC.
    expect(at("2026-01-05 10:00:00", weekdays, tokyo)).toBe("2026-01-06 00:00:00");
    // Fri 2026-01-09 20:00 UTC is already Sat 05:00 JST → Mon 09:00 JST = Mon 00:00 UTC.
    expect(at("2026-01-09 20:00:00", weekdays, tokyo)).toBe("2026-01-12 00:00:00");
    // Sun 2026-01-04 23:00 UTC is Mon 08:00 JST → Mon 09:00 JST.
    expect(at("2026-01-04 23:00:00", weekdays, tokyo)).toBe("2026-01-05 00:00:00");
  });
  it("Sydney's DST start (Sun 4 Oct 2026, 02:00 AEST → 03:00 AEDT)", () => {
    // Sat 22:00 AEST (12:00 UTC) → Sun 09:00 AEDT = Sat 22:00 UTC.
    expect(at("2026-10-03 12:00:00", everyDay, "Australia/Sydney")).toBe("2026-10-03 22:00:00");
  });

  it("agrees with a minute-by-minute scan around New York's DST changes", () => {
    const local = new Intl.DateTimeFormat("en-US", {
      timeZone: ny,
      hourCycle: "h23",
      weekday: "short",
      hour: "numeric",
      minute: "numeric",
    });
    const inside = (epoch: number, w: { before: number; after: number; days: number[] }) => {
      const parts = Object.fromEntries(local.formatToParts(new Date(epoch * 1000)).map((p) => [p.type, p.value]));
      const day = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"].indexOf(parts["weekday"]!);
      const minutes = Number(parts["hour"]) * 60 + Number(parts["minute"]);
      return w.days.includes(day) && minutes >= w.before * 60 && minutes <= w.after * 60;
    };
    const windows = [
      { before: 9, after: 18, days: [1, 2, 3, 4, 5] },
      { before: 1, after: 3, days: [0] },
      { before: 2.5, after: 2.75, days: [0, 1] },
      { before: 0, after: 23.5, days: [6] },
    ];
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (const anchor of ["2026-03-06 00:00:00", "2026-10-30 00:00:00"]) {
      for (let i = 0; i < 12; i++) {
        const w = windows[i % windows.length]!;
        const start = t(anchor) + rand(4 * 24 * 60) * 60;
        let expected = start;
        while (!inside(expected, w)) expected += 60;
        expect(show(windowDueAt(start, w, ny)), `from ${show(start)} in ${JSON.stringify(w)}`).toBe(show(expected));
      }
    }
  });
});

describe("smsDueAt and smsWindow", () => {
  const sms = (window: Record<string, unknown>, enabled: unknown = true) => ({
    message: "hi",
    delivery_window_enabled: enabled,
    delivery_window: window,
  });
  const ny = { timezone: "America/New_York", start_time: "09:00", end_time: "18:00", days: MON_FRI };
  it("outside its window in New York, the SMS waits for the local opening", () => {
    const r = smsDueAt(t("2026-01-05 12:00:00"), sms(ny));
    expect({ dueAt: show(r.dueAt), heldByWindow: r.heldByWindow }).toEqual({ dueAt: "2026-01-05 14:00:00", heldByWindow: true });
  });
  it("inside it, now", () => {
    expect(smsDueAt(t("2026-01-05 15:00:00"), sms(ny))).toEqual({ dueAt: t("2026-01-05 15:00:00"), heldByWindow: false });
  });
  it("disabled, or no window object, sends now", () => {
    expect(smsDueAt(100, sms(ny, false))).toEqual({ dueAt: 100, heldByWindow: false });
    expect(smsDueAt(100, { delivery_window_enabled: true })).toEqual({ dueAt: 100, heldByWindow: false });
  });
  it("an invalid zone reads as UTC", () => {
    expect(smsWindow(sms({ ...ny, timezone: "Mars/Olympus" }))?.timeZone).toBe("UTC");
    expect(show(smsDueAt(t("2026-01-05 12:00:00"), sms({ ...ny, timezone: "Mars/Olympus" })).dueAt)).toBe("2026-01-05 12:00:00");
  });
});

describe("debugDueAt", () => {
  it("SleepSeconds > 0 parks until now + SleepSeconds", () => {
    expect(debugDueAt(1000, { SleepSeconds: 5, DebugMessage: "x" })).toBe(1005);
    expect(debugDueAt(1000, { SleepSeconds: "5" })).toBe(1005);
  });
  it("0 or absent is instant", () => {
    expect(debugDueAt(1000, { SleepSeconds: 0 })).toBeUndefined();
    expect(debugDueAt(1000, {})).toBeUndefined();
    expect(debugDueAt(1000, { SleepSeconds: "soon" })).toBeUndefined();
  });
  it("ignores any window", () => {
    expect(debugDueAt(t("2026-01-03 23:00:00"), { SleepSeconds: 60, TimeConstraintEnabled: true })).toBe(t("2026-01-03 23:01:00"));
  });
});
