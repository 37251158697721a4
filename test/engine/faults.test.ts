import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEngineStack, type EngineStack, type EngineUser } from "../support/engine.js";

/**
 * Exactly once under faults (ENGINE §11, the tests that apply without delivery):
 * every fault is injected through `/_local/faults`, and lost work is found again
 * through `/_local/clock`, which moves overdue entries as the recovery pass does.
 * A duplicate step is more than one non-Deferred step record for one (EntryID,
 * ActionID).
 */
let engine: EngineStack;
beforeAll(async () => {
  // No sweeper timer here: the clock route hands lost work, and the sweeper-twice test runs the sweeper itself.
  engine = await startEngineStack({ LONG_WAIT_THRESHOLD_SECONDS: "120", LOCAL_SWEEP_MS: "3600000" });
}, 120_000);
afterAll(async () => engine?.stop());

type Step = { ActionID: number; Action: string; Outcome: string };

async function journey(user: EngineUser, actions: unknown[]) {
  const list = Number((await user.post("/api/v1/list", { SubscriberListName: "L" })).body["ListID"]);
  const journeyId = Number((await user.post("/api/v1/journey", { Name: "J" })).body["JourneyID"]);
  const upd = await user.patch("/api/v1/journey.actions", { JourneyID: journeyId, Actions: actions });
  expect(upd.status, upd.text).toBe(200);
  expect((await user.get("/api/v1/journey.enable", { JourneyID: journeyId })).status).toBe(200);
  return { list, journeyId };
}

async function enrol(user: EngineUser, list: number, journeyId: number, email: string, before?: () => Promise<unknown>) {
  const sid = Number((await user.post("/api/v1/subscriber", { ListID: list, EmailAddress: email })).body["SubscriberID"]);
  // Armed after the subscriber exists, so that its ListSubscription signal is not the message a fault takes.
  await before?.();
  expect((await user.post("/api/v1/subscriber.journey.trigger", { JourneyID: journeyId, ListID: list, SubscriberID: sid })).status).toBe(200);
  return sid;
}

async function cursorOf(userId: number, sid: number) {
  const { engineItemsOf } = await import("../../shared/engine/fanout.js");
  return (await engineItemsOf(userId, sid)).find((i) => typeof i["EntryID"] === "string")!;
}

/** Each action's non-Deferred step records, counted. */
function recordsPerAction(c: Record<string, unknown>): Map<number, number> {
  const out = new Map<number, number>();
  for (const s of c["Steps"] as Step[]) if (s.Outcome !== "Deferred") out.set(s.ActionID, (out.get(s.ActionID) ?? 0) + 1);
  return out;
}

/** Waits until the steps queue is empty (Idle cannot hold while lost work waits in the index). */
async function queuesDrained(timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = (await engine.local("GET", "/_local/engine")).body;
    if (Number(s["StepsVisible"]) + Number(s["StepsInFlight"]) + Number(s["StepsDelayed"]) === 0) return;
    if (Date.now() > deadline) throw new Error(`steps queue not drained: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const CHAIN = [
  { Action: "Debug", DebugMessage: "a", Published: true },
  { Action: "Wait", WaitUnit: "seconds", WaitAmount: 5, Published: true },
  { Action: "Debug", DebugMessage: "b", Published: true },
  { Action: "Debug", DebugMessage: "c", Published: true },
];

describe("exactly once under faults", () => {
  it("duplicate delivery of every step message applies each step once", { timeout: 120_000 }, async () => {
    const user = await engine.user();
    const { list, journeyId } = await journey(user, CHAIN);
    await engine.local("POST", "/_local/faults", { Point: "duplicate-delivery", Times: 100 });
    const sids = await Promise.all([1, 2, 3].map((i) => enrol(user, list, journeyId, `dup${i}@example.com`)));
    await engine.idle();
    await engine.local("DELETE", "/_local/faults");
    for (const sid of sids) {
      const c = await cursorOf(user.userId, sid);
      expect(c["State"]).toBe("Completed");
      expect([...recordsPerAction(c).values()]).toEqual([1, 1, 1, 1]);
    }
  });

  it("a worker killed between chain writes resumes through recovery with no action repeated", { timeout: 120_000 }, async () => {
    const user = await engine.user();
    const { list, journeyId } = await journey(user, [
      { Action: "Debug", DebugMessage: "a", Published: true },
      { Action: "Debug", DebugMessage: "b", Published: true },
      { Action: "Debug", DebugMessage: "c", Published: true },
    ]);
    const sid = await enrol(user, list, journeyId, "killed@example.com", () => engine.local("POST", "/_local/faults", { Point: "after-write", Times: 1 }));
    await queuesDrained();
    expect((await cursorOf(user.userId, sid))["State"]).toBe("Active");
    await engine.advance(360);
    const c = await cursorOf(user.userId, sid);
    expect(c["State"]).toBe("Completed");
    expect([...recordsPerAction(c).values()]).toEqual([1, 1, 1]);
  });

  it("a dropped handoff is recovered within 6 minutes of product time", { timeout: 120_000 }, async () => {
    const user = await engine.user();
    const { list, journeyId } = await journey(user, CHAIN);
    const sid = await enrol(user, list, journeyId, "dropped@example.com");
    await engine.idle();
    // Drop the first Step message of a second enrolment.
    const sid2 = await enrol(user, list, journeyId, "dropped2@example.com", () => engine.local("POST", "/_local/faults", { Point: "drop-handoff", Times: 1 }));
    await queuesDrained();
    expect((await cursorOf(user.userId, sid2))["Steps"]).toEqual([]);
    await engine.advance(360);
    for (const s of [sid, sid2]) {
      const c = await cursorOf(user.userId, s);
      expect(c["State"]).toBe("Completed");
      expect([...recordsPerAction(c).values()]).toEqual([1, 1, 1, 1]);
    }
  });

  it("a handoff dropped twice in a row is recovered within 16 minutes", { timeout: 120_000 }, async () => {
    const user = await engine.user();
    const { list, journeyId } = await journey(user, CHAIN);
    const sid = await enrol(user, list, journeyId, "twice@example.com", () => engine.local("POST", "/_local/faults", { Point: "drop-handoff", Times: 2 }));
    await queuesDrained();
    await engine.advance(360);
    await queuesDrained();
    expect((await cursorOf(user.userId, sid))["State"]).toBe("Active");
    await engine.advance(600);
    const c = await cursorOf(user.userId, sid);
    expect(c["State"]).toBe("Completed");
    expect([...recordsPerAction(c).values()]).toEqual([1, 1, 1, 1]);
  });

  it("a sweeper run twice for one minute executes each step once", { timeout: 120_000 }, async () => {
    const user = await engine.user();
    const { list, journeyId } = await journey(user, [
      { Action: "Wait", WaitUnit: "minutes", WaitAmount: 3, Published: true },
      { Action: "Debug", DebugMessage: "after", Published: true },
    ]);
    const sid = await enrol(user, list, journeyId, "sweep@example.com");
    await engine.idle();
    const c0 = await cursorOf(user.userId, sid);
    expect(c0["Queued"]).toBe(false);
    // Move to the due second with the clock route's own hand-off dropped, then run the sweeper
    // twice, concurrently, for that minute: two hand-offs of one step, both due.
    const { sweep, writeMark } = await import("../../shared/engine/sweeper.js");
    const { dueShards } = await import("../../shared/engine/due.js");
    const due = Number(c0["DueAt"]);
    await engine.local("POST", "/_local/faults", { Point: "drop-handoff", Times: 1 });
    await engine.local("POST", "/_local/clock", { SetNow: new Date(due * 1000).toISOString().slice(0, 19).replace("T", " ") });
    await Promise.all(Array.from({ length: dueShards() }, (_, s) => writeMark("primary", s, Math.floor(due / 60) - 1)));
    const [a, b] = await Promise.all([sweep(due), sweep(due)]);
    expect(a.handed + b.handed).toBe(2);
    await engine.idle();
    const c = await cursorOf(user.userId, sid);
    expect(c["State"]).toBe("Completed");
    expect([...recordsPerAction(c).values()]).toEqual([1, 1]);
  });
});
