import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEngineStack, type EngineStack, type EngineUser } from "../support/engine.js";

/**
 * A journey's life while subscribers are enrolled (ENGINE §5.4, §12): disable
 * pauses, enable resumes once with windows re-applied, delete ends everything at
 * once, and tree edits move enrolled subscribers by redirects.
 */
let engine: EngineStack;
beforeAll(async () => {
  engine = await startEngineStack();
}, 120_000);
afterAll(async () => engine?.stop());

type Step = { Action: string; Outcome: string; Reason: string; ActionID: number; Detail: Record<string, unknown> };

async function setup(user: EngineUser, actions: unknown[]) {
  const list = Number((await user.post("/api/v1/list", { SubscriberListName: "L" })).body["ListID"]);
  const journeyId = Number((await user.post("/api/v1/journey", { Name: "J" })).body["JourneyID"]);
  const upd = await user.patch("/api/v1/journey.actions", { JourneyID: journeyId, Actions: actions });
  expect(upd.status, upd.text).toBe(200);
  expect((await user.get("/api/v1/journey.enable", { JourneyID: journeyId })).status).toBe(200);
  return { list, journeyId, ids: (upd.body["Actions"] as { ActionID: string }[]).map((a) => Number(a.ActionID)) };
}

async function enrol(user: EngineUser, list: number, journeyId: number, email: string): Promise<number> {
  const sid = Number((await user.post("/api/v1/subscriber", { ListID: list, EmailAddress: email })).body["SubscriberID"]);
  const r = await user.post("/api/v1/subscriber.journey.trigger", { JourneyID: journeyId, ListID: list, SubscriberID: sid });
  expect(r.status, r.text).toBe(200);
  return sid;
}

async function cursor(userId: number, sid: number, journeyId: number) {
  const { engineItemsOf } = await import("../../shared/engine/fanout.js");
  const all = (await engineItemsOf(userId, sid)).filter((i) => i["EntryID"] && i["JourneyID"] === journeyId);
  return all[all.length - 1]!;
}

const steps = (c: Record<string, unknown>) => (c["Steps"] as Step[]).map((s) => `${s.Action}:${s.Outcome}`);

describe("pause and resume", () => {
  it("runs nothing past its due time while Disabled, and resumes each cursor once on enable", { timeout: 120_000 }, async () => {
    const user = await engine.user();
    const tagList = Number((await user.post("/api/v1/list", { SubscriberListName: "T" })).body["ListID"]);
    void tagList;
    const { list, journeyId } = await setup(user, [
      { Action: "Wait", WaitUnit: "hours", WaitAmount: 1, Published: true },
      { Action: "Debug", DebugMessage: "after", Published: true },
    ]);
    const sids = [await enrol(user, list, journeyId, "p1@example.com"), await enrol(user, list, journeyId, "p2@example.com")];
    await engine.idle();
    expect((await user.get("/api/v1/journey.disable", { JourneyID: journeyId })).status).toBe(200);
    await engine.advance(7200);
    for (const sid of sids) {
      const c = await cursor(user.userId, sid, journeyId);
      expect(c["State"]).toBe("Paused");
      expect(steps(c)).toEqual(["Wait:Waiting"]);
    }
    expect((await user.get("/api/v1/journey.enable", { JourneyID: journeyId })).status).toBe(200);
    await engine.idle();
    for (const sid of sids) {
      const c = await cursor(user.userId, sid, journeyId);
      expect(c["State"]).toBe("Completed");
      expect(steps(c)).toEqual(["Wait:Waiting", "Debug:Done"]);
    }
  });

  it("re-applies a Wait's window on resume", { timeout: 120_000 }, async () => {
    const user = await engine.user();
    // A one-hour window 12 hours from the product clock's hour: the Wait's base (now + 1 min) is
    // never inside it, whatever time of day the suite runs and however far earlier tests moved
    // the clock, so the cursor waits in the index (no delayed message for Idle to wait out).
    const now = Date.parse(`${String((await engine.local("GET", "/_local/clock")).body["Now"]).replace(" ", "T")}Z`) / 1000;
    const hour = new Date(now * 1000).getUTCHours();
    const before = (hour + 12) % 24 === 23 ? 22 : (hour + 12) % 24;
    const hh = (n: number) => String(n).padStart(2, "0");
    const { list, journeyId } = await setup(user, [
      { Action: "Wait", WaitUnit: "minutes", WaitAmount: 1, TimeConstraintEnabled: true, DontSendBefore: `${hh(before)}:00`, DontSendAfter: `${hh(before + 1)}:00`, AllowedDays: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], Published: true },
      { Action: "Debug", DebugMessage: "after", Published: true },
    ]);
    const sid = await enrol(user, list, journeyId, "w1@example.com");
    await engine.idle();
    expect((await user.get("/api/v1/journey.disable", { JourneyID: journeyId })).status).toBe(200);
    // Past the due time and 12 hours from the window: on enable, it waits for the next opening.
    const nextDay = new Date((now + 2 * 86400) * 1000).toISOString().slice(0, 10);
    const setNow = `${nextDay} ${hh((before + 12) % 24)}:00:00`;
    await engine.local("POST", "/_local/clock", { SetNow: setNow });
    await engine.idle();
    expect((await cursor(user.userId, sid, journeyId))["State"]).toBe("Paused");
    expect((await user.get("/api/v1/journey.enable", { JourneyID: journeyId })).status).toBe(200);
    await engine.idle();
    const c = await cursor(user.userId, sid, journeyId);
    expect(c["State"]).toBe("Active");
    expect(c["DueAt"]).toBe(Date.parse(`${setNow.replace(" ", "T")}Z`) / 1000 + 12 * 3600);
  });
});

describe("the park/enable race", () => {
  it("a cursor parking while journey.enable runs still resumes", { timeout: 120_000 }, async () => {
    const user = await engine.user();
    const { list, journeyId } = await setup(user, [
      { Action: "Wait", WaitUnit: "hours", WaitAmount: 1, Published: true },
      { Action: "Debug", DebugMessage: "after", Published: true },
    ]);
    const sids: number[] = [];
    for (let i = 0; i < 20; i++) sids.push(await enrol(user, list, journeyId, `race${i}@example.com`));
    await engine.idle();
    expect((await user.get("/api/v1/journey.disable", { JourneyID: journeyId })).status).toBe(200);
    // The clock move hands all 20 steps, which find the journey Disabled and park, while the enable runs:
    // each park either lands before the enable (and the resume job finds it) or fails its check (and goes on).
    const [moved, enabled] = await Promise.all([
      engine.local("POST", "/_local/clock", { AdvanceSeconds: 3601 }),
      new Promise((r) => setTimeout(r, 20)).then(() => user.get("/api/v1/journey.enable", { JourneyID: journeyId })),
    ]);
    expect([moved.status, enabled.status]).toEqual([200, 200]);
    await engine.idle();
    for (const sid of sids) {
      const c = await cursor(user.userId, sid, journeyId);
      expect(c["State"]).toBe("Completed");
      expect(steps(c)).toEqual(["Wait:Waiting", "Debug:Done"]);
    }
  });
});

describe("deletion", () => {
  it("ends every enrolment of a deleted journey at once, and none runs again", { timeout: 120_000 }, async () => {
    const user = await engine.user();
    const { list, journeyId } = await setup(user, [
      { Action: "Wait", WaitUnit: "hours", WaitAmount: 1, Published: true },
      { Action: "Debug", DebugMessage: "never", Published: true },
    ]);
    const sid = await enrol(user, list, journeyId, "d1@example.com");
    await engine.idle();
    expect((await user.post("/api/v1/journey.delete", { JourneyID: journeyId })).status).toBe(200);
    const info = await user.get("/api/v1/subscriber", { ListID: list, SubscriberID: sid });
    expect((info.body["SubscriberJourneys"] as { InProgress: unknown[] }).InProgress).toEqual([]);
    await engine.idle();
    await engine.advance(7200);
    const c = await cursor(user.userId, sid, journeyId);
    expect(c["State"]).toBe("Exited");
    expect(c["EndReason"]).toBe("JourneyDeleted");
    expect(steps(c)).toEqual(["Wait:Waiting"]);
  });
});

describe("tree edits while enrolled", () => {
  it("continues at the redirect of a deleted Wait, keeps DueAt on a changed duration, and completes when the rest is deleted", { timeout: 120_000 }, async () => {
    const user = await engine.user();
    const { list, journeyId, ids } = await setup(user, [
      { Action: "Wait", WaitUnit: "hours", WaitAmount: 1, Published: true },
      { Action: "Debug", DebugMessage: "one", Published: true },
      { Action: "Debug", DebugMessage: "two", Published: true },
    ]);
    const [wait, one, two] = ids as [number, number, number];
    const a = await enrol(user, list, journeyId, "e1@example.com");
    await engine.idle();
    const before = await cursor(user.userId, a, journeyId);
    // Changing the Wait's duration leaves the existing DueAt.
    let upd = await user.patch("/api/v1/journey.actions", {
      JourneyID: journeyId,
      Actions: [
        { ActionID: wait, Action: "Wait", WaitUnit: "hours", WaitAmount: 5, Published: true },
        { ActionID: one, Action: "Debug", DebugMessage: "one", Published: true },
        { ActionID: two, Action: "Debug", DebugMessage: "two", Published: true },
      ],
    });
    expect(upd.status, upd.text).toBe(200);
    expect((await cursor(user.userId, a, journeyId))["DueAt"]).toBe(before["DueAt"]);
    // Deleting the awaited Wait and the next action: the cursor continues at "two".
    upd = await user.patch("/api/v1/journey.actions", {
      JourneyID: journeyId,
      Actions: [{ ActionID: two, Action: "Debug", DebugMessage: "two", Published: true }],
    });
    expect(upd.status, upd.text).toBe(200);
    await engine.advance(3601);
    const c = await cursor(user.userId, a, journeyId);
    expect(c["State"]).toBe("Completed");
    expect((c["Steps"] as Step[]).map((s) => s.ActionID)).toEqual([wait, two]);
  });

  it("reaches an action inserted after a Wait, and two edits keep the redirect chain", { timeout: 120_000 }, async () => {
    const user = await engine.user();
    const { list, journeyId, ids } = await setup(user, [
      { Action: "Wait", WaitUnit: "hours", WaitAmount: 1, Published: true },
      { Action: "Debug", DebugMessage: "one", Published: true },
    ]);
    const [wait, one] = ids as [number, number];
    const a = await enrol(user, list, journeyId, "i1@example.com");
    await engine.idle();
    let upd = await user.patch("/api/v1/journey.actions", {
      JourneyID: journeyId,
      Actions: [
        { ActionID: wait, Action: "Wait", WaitUnit: "hours", WaitAmount: 1, Published: true },
        { Action: "Debug", DebugMessage: "inserted", Published: true },
        { ActionID: one, Action: "Debug", DebugMessage: "one", Published: true },
      ],
    });
    const inserted = Number((upd.body["Actions"] as { ActionID: string }[])[1]!.ActionID);
    // Two edits: delete the Wait (redirect → inserted), then delete "inserted" (redirect → one).
    upd = await user.patch("/api/v1/journey.actions", {
      JourneyID: journeyId,
      Actions: [
        { ActionID: inserted, Action: "Debug", DebugMessage: "inserted", Published: true },
        { ActionID: one, Action: "Debug", DebugMessage: "one", Published: true },
      ],
    });
    expect(upd.status).toBe(200);
    upd = await user.patch("/api/v1/journey.actions", {
      JourneyID: journeyId,
      Actions: [{ ActionID: one, Action: "Debug", DebugMessage: "one", Published: true }],
    });
    expect(upd.status).toBe(200);
    await engine.advance(3601);
    const c = await cursor(user.userId, a, journeyId);
    expect(c["State"]).toBe("Completed");
    expect((c["Steps"] as Step[]).map((s) => s.ActionID)).toEqual([wait, one]);
  });
});
