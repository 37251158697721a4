import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEngineStack, type EngineStack, type EngineUser } from "../support/engine.js";

/**
 * Rate-limit deferral (ENGINE §4.5, §12): admissions per fixed UTC hour and day,
 * a FIFO backlog that is never dropped, and its drain as windows open.
 */
let engine: EngineStack;
beforeAll(async () => {
  engine = await startEngineStack();
}, 120_000);
afterAll(async () => engine?.stop());

async function journeyWithLimits(user: EngineUser, limits: Record<string, number>, enable = true) {
  const list = Number((await user.post("/api/v1/list", { SubscriberListName: "L" })).body["ListID"]);
  const journeyId = Number((await user.post("/api/v1/journey", { Name: "Limited", ...limits })).body["JourneyID"]);
  const upd = await user.patch("/api/v1/journey.actions", {
    JourneyID: journeyId,
    Actions: [{ Action: "Wait", WaitUnit: "days", WaitAmount: 30, Published: true }],
  });
  expect(upd.status, upd.text).toBe(200);
  if (enable) expect((await user.get("/api/v1/journey.enable", { JourneyID: journeyId })).status).toBe(200);
  return { list, journeyId };
}

const subscribe = async (user: EngineUser, list: number, n: number) => {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) ids.push(Number((await user.post("/api/v1/subscriber", { ListID: list, EmailAddress: `r${i}-${Date.now()}@example.com` })).body["SubscriberID"]));
  return ids;
};

async function enrolled(userId: number, sids: number[], journeyId: number): Promise<boolean[]> {
  const { engineItemsOf } = await import("../../shared/engine/fanout.js");
  return Promise.all(sids.map(async (s) => (await engineItemsOf(userId, s)).some((i) => i["EntryID"] && i["JourneyID"] === journeyId)));
}

/** Sets the product clock to `day`'s `time`, a day that is always ahead of the clock. */
const at = async (day: string, time: string) => {
  const r = await engine.local("POST", "/_local/clock", { SetNow: `${day} ${time}` });
  expect(r.status, r.text).toBe(200);
  await engine.idle();
};

async function futureDay(daysAhead: number): Promise<string> {
  const now = String((await engine.local("GET", "/_local/clock")).body["Now"]);
  return new Date(Date.parse(`${now.slice(0, 10)}T00:00:00Z`) + daysAhead * 86400_000).toISOString().slice(0, 10);
}

describe("rate-limit deferral", () => {
  it("with 2 an hour, five enrolments at 10:10 are admitted 2 now, 2 at 11:00 and 1 at 12:00, in arrival order", { timeout: 120_000 }, async () => {
    const user = await engine.user();
    const { list, journeyId } = await journeyWithLimits(user, { Rate_Limit_Per_Hour: 2 });
    const sids = await subscribe(user, list, 5);
    const day = await futureDay(2);
    await at(day, "10:10:00");
    const deferred: unknown[] = [];
    for (const sid of sids) {
      const r = await user.post("/api/v1/subscriber.journey.trigger", { JourneyID: journeyId, ListID: list, SubscriberID: sid });
      expect(r.status, r.text).toBe(200);
      expect(r.body["JourneyIDs"]).toEqual([journeyId]);
      deferred.push(r.body["DeferredJourneys"]);
    }
    expect(deferred).toEqual([
      undefined,
      undefined,
      [{ JourneyID: journeyId, NotBefore: `${day} 11:00:00` }],
      [{ JourneyID: journeyId, NotBefore: `${day} 11:00:00` }],
      [{ JourneyID: journeyId, NotBefore: `${day} 12:00:00` }],
    ]);
    await engine.idle();
    expect(await enrolled(user.userId, sids, journeyId)).toEqual([true, true, false, false, false]);
    await at(day, "11:00:00");
    expect(await enrolled(user.userId, sids, journeyId)).toEqual([true, true, true, true, false]);
    await at(day, "12:00:00");
    expect(await enrolled(user.userId, sids, journeyId)).toEqual([true, true, true, true, true]);
  });

  it("with 2 a day, the third waits for the next UTC day", { timeout: 120_000 }, async () => {
    const user = await engine.user();
    const { list, journeyId } = await journeyWithLimits(user, { Rate_Limit_Per_Day: 2 });
    const sids = await subscribe(user, list, 3);
    const day = await futureDay(3);
    await at(day, "09:00:00");
    const answers = [];
    for (const sid of sids) answers.push((await user.post("/api/v1/subscriber.journey.trigger", { JourneyID: journeyId, ListID: list, SubscriberID: sid })).body["DeferredJourneys"]);
    const next = new Date(Date.parse(`${day}T00:00:00Z`) + 86400_000).toISOString().slice(0, 10);
    expect(answers[2]).toEqual([{ JourneyID: journeyId, NotBefore: `${next} 00:00:00` }]);
    await engine.idle();
    expect(await enrolled(user.userId, sids, journeyId)).toEqual([true, true, false]);
    await at(next, "00:00:00");
    expect(await enrolled(user.userId, sids, journeyId)).toEqual([true, true, true]);
  });

  it("admits a deferred BypassJourneyStatusCheck entry of a Disabled journey", { timeout: 120_000 }, async () => {
    const user = await engine.user();
    const { list, journeyId } = await journeyWithLimits(user, { Rate_Limit_Per_Hour: 1 }, false);
    const sids = await subscribe(user, list, 2);
    const day = await futureDay(5);
    await at(day, "08:30:00");
    for (const sid of sids) {
      const r = await user.post("/api/v1/subscriber.journey.trigger", { JourneyID: journeyId, ListID: list, SubscriberID: sid, BypassJourneyStatusCheck: true });
      expect(r.status, r.text).toBe(200);
    }
    await engine.idle();
    expect(await enrolled(user.userId, sids, journeyId)).toEqual([true, false]);
    await at(day, "09:00:00");
    expect(await enrolled(user.userId, sids, journeyId)).toEqual([true, true]);
  });
});
