import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEngineStack, subscriber, type EngineStack, type EngineUser } from "../support/engine.js";
import { formatDateTime, parseDateTime } from "../../shared/time.js";

/**
 * A Wait's delivery window across day boundaries (ENGINE §6, §12 "Windows across
 * day boundaries"), black-box on this file's own local stack: §6's four examples
 * for Mon–Fri 09:00–19:00, and AllowedDays ["sun"] from a Monday. Each enrolment
 * is made at a `SetNow` time; its Wait (WaitAmount 0) starts at the enrolment's
 * second, so its base is that second. The step record must say `Waiting {Until,
 * HeldByWindow}`; the action after the Wait must not run 10 minutes before Until
 * and must run once the clock reaches it.
 *
 * The product clock only moves forward, so the file is one timeline, in order:
 * (A) the 19:00:00 / 19:00:01 edge on Fridays a week or more ahead, then (B) the
 * week after the last Friday: the Sunday-only Wait enrolled Monday 10:00, Tuesday
 * 06:10, Sunday 09:00, Sunday 23:30 and the Monday after. Clock moves land on a due
 * time or at least 10 minutes short of every pending one (docs/engine.md, local
 * Idle), so `idle()` never waits on a real-time delay.
 *
 * Pinning to the second: the enrolment's second is read by subscriber.journey.trigger
 * after its own reads, so on a loaded machine a call made at the very start of
 * 19:00:00 may still land on 19:00:01 or later. Each Friday therefore makes one
 * attempt at the second still needed; an attempt that lands on a needed second
 * (its JourneyEnrolled row says which) is checked, any other is left to run its
 * course, and the next Friday tries again.
 */
let engine: EngineStack;
beforeAll(async () => {
  engine = await startEngineStack();
}, 120_000);
afterAll(async () => engine?.stop());

type Params = Record<string, unknown>;
type Row = { ActivityType: string; ActionID: number; Action: string; Outcome: string; Reason: string; Detail: Record<string, unknown>; EntryID: string };

const DAY = 86_400;
const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"];
const at = (epoch: number) => formatDateTime(new Date(epoch * 1000));
const epochOf = (text: string) => Math.floor(parseDateTime(text)!.getTime() / 1000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function now(): Promise<number> {
  return epochOf(String((await engine.local("GET", "/_local/clock")).body["Now"]));
}

/** Moves the clock to `epoch` and waits for the engine to settle. */
async function setNow(epoch: number): Promise<void> {
  const res = await engine.local("POST", "/_local/clock", { SetNow: at(epoch) });
  expect(res.status, res.text).toBe(200);
  await engine.idle();
}

/**
 * Sleeps until product second `target` has just begun. The clock's offset is whole
 * seconds, so product seconds begin with real ones.
 */
async function untilProductSecond(target: number): Promise<void> {
  const offset = Number((await engine.local("GET", "/_local/clock")).body["OffsetSeconds"]);
  await sleep(Math.max(0, (target - offset) * 1000 - Date.now() + 2));
}

interface Setup {
  user: EngineUser;
  list: number;
  tag: number;
  /** Wait 0 s in Mon–Fri 09:00–19:00 → AddTag. */
  weekdays: number;
  /** Wait 0 s in Sun 09:00–19:00 → AddTag. */
  sundays: number;
}

async function setup(): Promise<Setup> {
  const user = await engine.user();
  const list = Number((await user.post("/api/v1/list", { SubscriberListName: "Windows" })).body["ListID"]);
  const tag = Number((await user.post("/api/v1/subscriber.tags", { ListID: list, TagName: "after" })).body["TagID"]);
  const journey = async (days: string[]) => {
    const created = await user.post("/api/v1/journey", { Name: `Window ${days.join(",")}` });
    expect(created.status, created.text).toBe(200);
    const id = Number(created.body["JourneyID"]);
    const wait: Params = { Action: "Wait", WaitUnit: "seconds", WaitAmount: 0, TimeConstraintEnabled: true, DontSendBefore: "09:00", DontSendAfter: "19:00", AllowedDays: days, Published: true };
    const upd = await user.patch("/api/v1/journey.actions", { JourneyID: id, Actions: [wait, { Action: "AddTag", TargetTagID: tag, Published: true }] });
    expect(upd.status, upd.text).toBe(200);
    expect((await user.get("/api/v1/journey.enable", { JourneyID: id })).status).toBe(200);
    return id;
  };
  return { user, list, tag, weekdays: await journey(WEEKDAYS), sundays: await journey(["sun"]) };
}

let serial = 0;
const newSubscriber = (s: Setup) => subscriber(s.user, s.list, `w${++serial}@example.com`);

/** Enrols `sid` now into `journeyId` by subscriber.journey.trigger. */
async function trigger(s: Setup, sid: number, journeyId: number): Promise<number> {
  const res = await s.user.post("/api/v1/subscriber.journey.trigger", { JourneyID: journeyId, ListID: s.list, SubscriberID: sid });
  expect(res.status, res.text).toBe(200);
  return sid;
}

/** A new subscriber enrolled now into `journeyId`. */
const enrol = async (s: Setup, journeyId: number) => trigger(s, await newSubscriber(s), journeyId);

/** The subscriber's activity in the journey, oldest first. */
async function activity(s: Setup, sid: number, journeyId: number): Promise<Row[]> {
  const res = await s.user.get("/api/v1/subscriber.activity", { SubscriberID: sid, SubscriberListID: s.list, JourneyID: journeyId });
  expect(res.status, res.text).toBe(200);
  return [...(res.body["Activity"] as Row[])].reverse();
}

const enrolledAt = async (s: Setup, sid: number, journeyId: number): Promise<number | undefined> => {
  const row = (await activity(s, sid, journeyId)).find((r) => r.ActivityType === "JourneyEnrolled");
  return row ? epochOf(String((row as unknown as { ActivityDate: string }).ActivityDate)) : undefined;
};

const brief = (rows: Row[]) =>
  rows.map((r) => (r.ActivityType === "JourneyStep" ? `${r.Action}:${r.Outcome}` : r.ActivityType));

/** The Wait's step record is `Waiting {Until, HeldByWindow}`, and nothing after it has run. */
async function expectWaiting(s: Setup, sid: number, journeyId: number, until: number, held: boolean): Promise<void> {
  const rows = await activity(s, sid, journeyId);
  expect(brief(rows)).toEqual(["JourneyEnrolled", "Wait:Waiting"]);
  expect(rows[1]!.Detail).toEqual({ Until: at(until), HeldByWindow: held });
}

/** The Wait was recorded once, and the AddTag after it has run, ending the enrolment. */
async function expectPassed(s: Setup, sid: number, journeyId: number, until: number, held: boolean): Promise<void> {
  const rows = await activity(s, sid, journeyId);
  expect(brief(rows)).toEqual(["JourneyEnrolled", "Wait:Waiting", "AddTag:Done", "JourneyEnded"]);
  expect(rows[1]!.Detail).toEqual({ Until: at(until), HeldByWindow: held });
  const ran = epochOf(String((rows[2] as unknown as { ActivityDate: string }).ActivityDate));
  expect(ran).toBeGreaterThanOrEqual(until);
}

/**
 * Checks that the action after the Wait has not run at Until − 10 min, then moves
 * the clock to Until and checks that it has.
 */
async function crossUntil(s: Setup, waiting: { sid: number; journeyId: number; until: number; held: boolean }[]): Promise<void> {
  const until = waiting[0]!.until;
  await setNow(until - 600);
  for (const w of waiting) await expectWaiting(s, w.sid, w.journeyId, w.until, w.held);
  await setNow(until);
  for (const w of waiting) await expectPassed(s, w.sid, w.journeyId, w.until, w.held);
}

describe("a Wait's window across day boundaries (Mon–Fri 09:00–19:00 and Sundays only)", () => {
  // Many clock moves, each waiting for the engine; two engine stacks may share two cores.
  it("holds each enrolment to §6's answer to the second, and runs the next action exactly at Until", { timeout: 600_000 }, async () => {
    const s = await setup();

    // (A) The Friday edge: an enrolment at 19:00:00 and one at 19:00:01, each on the first Friday
    // (a week or more ahead) whose attempt lands on that second.
    let friday = Math.floor(((await now()) + 7 * DAY) / DAY) * DAY;
    while (new Date(friday * 1000).getUTCDay() !== 5) friday += DAY;
    const needed = new Set([0, 1]);
    let lastFriday = friday;
    for (let attempt = 0; attempt < 10 && needed.size > 0; attempt++, friday += 7 * DAY) {
      lastFriday = friday;
      const close = friday + 19 * 3600;
      const monday = friday + 3 * DAY;
      const aim = Math.min(...needed);
      const sid = await newSubscriber(s);
      // Settle the engine well before the edge, then come within seconds of it without waiting on
      // anything (nothing is due for 10 minutes either side), and call at the very start of the second.
      await setNow(close - 900);
      expect((await engine.local("POST", "/_local/clock", { SetNow: at(close - 3) })).status).toBe(200);
      await untilProductSecond(close + aim);
      await trigger(s, sid, s.weekdays);
      await engine.idle();
      const landed = (await enrolledAt(s, sid, s.weekdays))! - close;
      if (landed === 0 && needed.has(0)) {
        // Fri 19:00:00 is inside the window (its end is inclusive): it proceeds at once, no clock move.
        await expectPassed(s, sid, s.weekdays, close, false);
        needed.delete(0);
      } else if (landed === 1 && needed.has(1)) {
        // Fri 19:00:01 is past it: Mon 09:00:00.
        await expectWaiting(s, sid, s.weekdays, monday + 9 * 3600, true);
        await crossUntil(s, [{ sid, journeyId: s.weekdays, until: monday + 9 * 3600, held: true }]);
        needed.delete(1);
      }
      // Any other second is a missed attempt, left to run its course.
    }
    expect([...needed], "seconds after Fri 19:00:00 that no attempt enrolled at").toEqual([]);
    const monday = lastFriday + 3 * DAY;

    // (B) The week after the last attempt.
    // AllowedDays ["sun"] from a Monday (10:00, inside the hours but not the day): Sun 09:00.
    const sunday = monday + 6 * DAY;
    await setNow(monday + 10 * 3600);
    const fromMonday = await enrol(s, s.sundays);
    await engine.idle();
    await expectWaiting(s, fromMonday, s.sundays, sunday + 9 * 3600, true);

    // Tue 06:10, an allowed day before the window opens: 09:00 the same day.
    const tuesday = monday + DAY;
    await setNow(tuesday + 6 * 3600 + 10 * 60);
    const early = await enrol(s, s.weekdays);
    await engine.idle();
    await crossUntil(s, [{ sid: early, journeyId: s.weekdays, until: tuesday + 9 * 3600, held: true }]);

    // The Sunday-only Wait, enrolled on Monday, runs on Sunday at 09:00.
    await crossUntil(s, [{ sid: fromMonday, journeyId: s.sundays, until: sunday + 9 * 3600, held: true }]);

    // Sun 23:30, a day not allowed: Mon 09:00.
    await setNow(sunday + 23 * 3600 + 30 * 60);
    const night = await enrol(s, s.weekdays);
    await engine.idle();
    await crossUntil(s, [{ sid: night, journeyId: s.weekdays, until: sunday + DAY + 9 * 3600, held: true }]);
  });
});
