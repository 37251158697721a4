import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEngineStack, type EngineStack, type EngineUser } from "../support/engine.js";

/**
 * Enrolment records and counting (ENGINE §4.3, §4.4, §5.5, §12 "Enrolment records",
 * "subscriber.journey.trigger", "Run_Criteria, re-entry, loops"), on a stack of this
 * file's own, whose rate limit lets a test make hundreds of calls.
 */
let engine: EngineStack;
beforeAll(async () => {
  engine = await startEngineStack();
}, 120_000);
afterAll(async () => engine?.stop());

async function journey(user: EngineUser, params: Record<string, unknown>, actions: unknown[], enable = true): Promise<number> {
  const id = Number((await user.post("/api/v1/journey", { Name: `J${Math.random()}`, ...params })).body["JourneyID"]);
  if (actions.length) expect((await user.patch("/api/v1/journey.actions", { JourneyID: id, Actions: actions })).status).toBe(200);
  if (enable) expect((await user.get("/api/v1/journey.enable", { JourneyID: id })).status).toBe(200);
  return id;
}

const stats = async (user: EngineUser, id: number) => {
  const s = (await user.get("/api/v1/journey", { JourneyID: id, IncludeActivityCounters: 1 })).body["JourneyStats"] as Record<string, number>;
  return [s["ActiveSubscribers"], s["TotalSubscribers"]];
};

async function list(user: EngineUser) {
  return Number((await user.post("/api/v1/list", { SubscriberListName: "L" })).body["ListID"]);
}

async function subscribers(user: EngineUser, listId: number, n: number, prefix: string): Promise<number[]> {
  return Promise.all(
    Array.from({ length: n }, async (_, i) => Number((await user.post("/api/v1/subscriber", { ListID: listId, EmailAddress: `${prefix}${i}@example.com` })).body["SubscriberID"])),
  );
}

const WAIT_DAY = { Action: "Wait", WaitUnit: "days", WaitAmount: 1, Published: true };

describe("enrolment records", () => {
  it("counts Enrolled before its end: 200 enrolments into a journey with no published action leave ActiveSubscribers 0", { timeout: 120_000 }, async () => {
    const user = await engine.user();
    const l = await list(user);
    const id = await journey(user, {}, []);
    const sids = await subscribers(user, l, 200, "empty");
    await Promise.all(sids.map((s) => user.post("/api/v1/subscriber.journey.trigger", { JourneyID: id, ListID: l, SubscriberID: s })));
    await engine.idle();
    expect(await stats(user, id)).toEqual([0, 200]);
  });

  it("200 enrolments exited by subscriber.journey.exit at once leave ActiveSubscribers 0", { timeout: 120_000 }, async () => {
    const user = await engine.user();
    const l = await list(user);
    const id = await journey(user, {}, [WAIT_DAY]);
    const sids = await subscribers(user, l, 200, "exit");
    await Promise.all(sids.map((s) => user.post("/api/v1/subscriber.journey.trigger", { JourneyID: id, ListID: l, SubscriberID: s })));
    await engine.idle();
    expect(await stats(user, id)).toEqual([200, 200]);
    const exits = await Promise.all(sids.map((s) => user.post("/api/v1/subscriber.journey.exit", { JourneyID: id, ListID: l, SubscriberID: s })));
    expect(exits.every((r) => r.status === 200)).toBe(true);
    await engine.idle();
    expect(await stats(user, id)).toEqual([0, 200]);
  });

  it("a trigger call on an active enrolment adds 1 to TotalSubscribers, not ActiveSubscribers, and its Exited leaves 0", { timeout: 120_000 }, async () => {
    const user = await engine.user();
    const l = await list(user);
    const id = await journey(user, {}, [WAIT_DAY]);
    const [s] = await subscribers(user, l, 1, "again");
    for (let i = 0; i < 2; i++) {
      const r = await user.post("/api/v1/subscriber.journey.trigger", { JourneyID: id, ListID: l, SubscriberID: s });
      expect(r.body["JourneyIDs"]).toEqual([id]);
    }
    await engine.idle();
    expect(await stats(user, id)).toEqual([1, 2]);
    await user.post("/api/v1/subscriber.journey.exit", { JourneyID: id, ListID: l, SubscriberID: s });
    await engine.idle();
    expect(await stats(user, id)).toEqual([0, 2]);
  });

  it("shows CurrentStep, TotalSteps and SnoozedUntil on a tree with a Decision", { timeout: 120_000 }, async () => {
    const user = await engine.user();
    const l = await list(user);
    const id = await journey(user, {}, [
      { Action: "Debug", DebugMessage: "first", Published: true },
      WAIT_DAY,
      {
        Action: "Decision",
        Published: true,
        Criteria: [],
        Actions: {
          True: [{ Action: "Debug", DebugMessage: "t1", Published: true }, { Action: "Debug", DebugMessage: "t2", Published: true }],
          False: [{ Action: "Debug", DebugMessage: "f1", Published: true }],
        },
      },
      { Action: "Debug", DebugMessage: "last", Published: true },
    ]);
    const [s] = await subscribers(user, l, 1, "steps");
    await user.post("/api/v1/subscriber.journey.trigger", { JourneyID: id, ListID: l, SubscriberID: s });
    await engine.idle();
    const info = await user.get("/api/v1/subscriber", { ListID: l, SubscriberID: s });
    const [entry] = (info.body["SubscriberJourneys"] as { InProgress: Record<string, unknown>[] }).InProgress;
    // Passed: the first Debug. Ahead: the Wait, the Decision, both branches (3), the last Debug.
    expect(entry).toMatchObject({ JourneyID: id, State: "Active", CurrentStep: 2, TotalSteps: 7 });
    expect(String(entry!["SnoozedUntil"])).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
  });
});

describe("subscriber.journey.trigger", () => {
  it("answers 404 code 7 with SkippedJourneys when Trigger_Criteria skip every journey", async () => {
    const user = await engine.user();
    const l = await list(user);
    const tag = Number((await user.post("/api/v1/subscriber.tags", { ListID: l, TagName: "vip" })).body["TagID"]);
    const id = await journey(user, { Trigger_Criteria: [[{ type: "tags", operator: "has this tag", value: String(tag) }]] }, [WAIT_DAY]);
    const [s] = await subscribers(user, l, 1, "crit");
    const r = await user.post("/api/v1/subscriber.journey.trigger", { JourneyID: id, ListID: l, SubscriberID: s });
    expect([r.status, (r.body["Errors"] as { Code: number }[])?.[0]?.Code]).toEqual([404, 7]);
    expect(r.body["SkippedJourneys"]).toEqual([{ JourneyID: id, Reason: "Trigger criteria not met" }]);
  });
});

describe("loops", () => {
  it("two journeys completing into each other stop at Depth 10", { timeout: 120_000 }, async () => {
    const user = await engine.user();
    const l = await list(user);
    const a = await journey(user, {}, [], false);
    const b = await journey(user, { Trigger: "JourneyCompleted", Trigger_Value: a }, []);
    expect((await user.patch("/api/v1/journey", { JourneyID: a, Trigger: "JourneyCompleted", Trigger_Value: b })).status).toBe(200);
    expect((await user.get("/api/v1/journey.enable", { JourneyID: a })).status).toBe(200);
    const [s] = await subscribers(user, l, 1, "loop");
    await user.post("/api/v1/subscriber.journey.trigger", { JourneyID: a, ListID: l, SubscriberID: s });
    await engine.idle();
    // A at depths 0, 2, 4, 6, 8, 10; B at 1, 3, 5, 7, 9; depth 11 is refused.
    expect(await stats(user, a)).toEqual([0, 6]);
    expect(await stats(user, b)).toEqual([0, 5]);
  });
});

describe("the local clock", () => {
  it("refuses SetNow before now with 422", async () => {
    const r = await engine.local("POST", "/_local/clock", { SetNow: "2000-01-01 00:00:00" });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ Success: false, Errors: [{ Code: 1, Message: "Invalid SetNow parameter" }] });
    expect((await engine.local("POST", "/_local/clock", { AdvanceSeconds: 0 })).status).toBe(422);
    expect((await engine.local("POST", "/_local/clock", { AdvanceSeconds: 1, SetNow: "2100-01-01 00:00:00" })).status).toBe(422);
    const noKey = await fetch(new URL("/_local/clock", engine.url));
    expect(noKey.status).toBe(401);
  });
});
