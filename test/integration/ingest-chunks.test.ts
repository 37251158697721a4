import { inject } from "vitest";
import { beforeAll, describe, expect, it } from "vitest";
import { hotStream, streamTotals, type StreamEvent } from "../../bench/hot-stream.js";
import { countWrites } from "../../bench/write-items.js";
import { createUser, type TestUser } from "../support/api.js";

/**
 * The ingest core at delivery scale, in-process against the same DynamoDB Local
 * as the HTTP tests, so that its DynamoDB requests can be counted and faults
 * injected with a middleware on its client (the only mock: a fault).
 */
const DAYS = ["2026-03-01", "2026-03-02"];

async function domain() {
  Object.assign(process.env, inject("stackEnv"));
  const { ingestEvents } = await import("../../shared/domain/ingest/ingest.js");
  const { ddb } = await import("../../shared/aws.js");
  return { ingestEvents, ddb };
}

/** A user with one enabled journey of two SendEmail actions, made through the API. */
async function hotJourney(): Promise<{ user: TestUser; journeyId: number; actionIds: number[] }> {
  const user = await createUser();
  const emailId = Number((await user.post("/api/v1/email", { EmailName: "E", Subject: "S" })).body["EmailID"]);
  const journeyId = Number((await user.post("/api/v1/journey", { Name: "Hot" })).body["JourneyID"]);
  const send = { Action: "SendEmail", EmailID: emailId, Published: true };
  const tree = await user.patch("/api/v1/journey.actions", { JourneyID: journeyId, Actions: [send, send] });
  expect(tree.status, JSON.stringify(tree.body)).toBe(200);
  const actionIds = (tree.body["Actions"] as { ActionID: string }[]).map((a) => Number(a.ActionID));
  return { user, journeyId, actionIds };
}

async function lifetime(user: TestUser, journeyId: number) {
  const res = await user.get("/api/v1/journey", { JourneyID: journeyId, StartDate: DAYS[0], EndDate: DAYS[1] });
  expect(res.status).toBe(200);
  const stats = res.body["JourneyStats"] as Record<string, unknown>;
  return { all: stats["AggregatedEmailActions"] as Record<string, number>, days: stats["AggregatedDaysEmailActions"] as Record<string, number>[] };
}

/** The per-day rows add up to the lifetime figures (every event of the stream is inside the window). */
function expectDaysAddUp(days: Record<string, number>[], all: Record<string, number>) {
  for (const k of Object.keys(all)) {
    const sum = days.reduce((n, d) => n + Number(d[k] ?? 0), 0);
    expect(Math.round(sum * 100) / 100, k).toBe(all[k]);
  }
}

const batchesOf = <T>(xs: T[], size: number) => Array.from({ length: Math.ceil(xs.length / size) }, (_, i) => xs.slice(i * size, (i + 1) * size));

describe("ingest core: chunked transactions", () => {
  let d: Awaited<ReturnType<typeof domain>>;
  beforeAll(async () => {
    d = await domain();
  });

  it.each([
    ["100 subscribers", 100],
    ["400 subscribers", 400],
  ])("writes at most 2.5 DynamoDB items per accepted event on the hot stream (%s), and none for a redelivered batch", async (_label, subscribers) => {
    const { user, journeyId, actionIds } = await hotJourney();
    const events = hotStream({ journeyId, actionIds, subscribers, days: DAYS, prefix: "w" });
    const counter = countWrites(d.ddb());
    try {
      let accepted = 0;
      for (const batch of batchesOf(events, 500)) {
        const r = await d.ingestEvents(user.userId, batch);
        expect(r.Rejected).toEqual([]);
        accepted += r.Accepted;
      }
      expect(accepted).toBe(events.length);
      const perEvent = counter.items() / accepted;
      // At least a marker per event: a counter that saw nothing would fail here, not pass.
      expect(perEvent).toBeGreaterThanOrEqual(1);
      expect(perEvent).toBeLessThanOrEqual(2.5);
      console.log(`hot stream, ${subscribers} subscribers: ${accepted} events, ${counter.items()} write items (${perEvent.toFixed(3)} per event), ${JSON.stringify(counter.counts())}`);

      // A redelivered batch: every event a duplicate, proven by reads alone.
      counter.reset();
      const again = await d.ingestEvents(user.userId, events.slice(0, 500));
      expect(again).toMatchObject({ Accepted: 0, Duplicates: 500 });
      expect(counter.items()).toBe(0);
    } finally {
      counter.stop();
    }
    const { all, days } = await lifetime(user, journeyId);
    expect(all).toEqual(streamTotals(events));
    expectDaysAddUp(days, all);
  }, 120_000);

  it("applies a chunk whole or not at all: a transaction that fails midway leaves nothing of its chunk, and the retry completes it exactly", async () => {
    const { user, journeyId, actionIds } = await hotJourney();
    const events = hotStream({ journeyId, actionIds, subscribers: 120, days: DAYS, prefix: "f" });
    expect(events.length).toBeGreaterThan(300);
    const batch = events.slice(0, 500);

    // The fault: the third transaction is refused as DynamoDB would refuse a throttled one.
    const committed = new Set<string>();
    let transactions = 0;
    const name = "inject-third-transaction-fault";
    d.ddb().middlewareStack.add(
      (next, context) => async (args) => {
        if (!String(context.commandName).startsWith("TransactWrite")) return next(args);
        transactions++;
        if (transactions === 3) throw Object.assign(new Error("injected fault"), { name: "InternalServerError" });
        const out = await next(args);
        for (const item of (args.input as { TransactItems: { Put?: { Item: Record<string, unknown> } }[] }).TransactItems) {
          const raw = item.Put?.Item["EventID"];
          const id = typeof raw === "object" && raw !== null ? (raw as { S?: string }).S : raw;
          if (typeof id === "string") committed.add(id);
        }
        return out;
      },
      { step: "initialize", name },
    );
    try {
      await expect(d.ingestEvents(user.userId, batch)).rejects.toThrow("injected fault");
    } finally {
      d.ddb().middlewareStack.remove(name);
    }
    expect(transactions).toBeGreaterThanOrEqual(3);
    expect(committed.size).toBeGreaterThan(0);
    expect(committed.size).toBeLessThan(batch.length);

    // What is visible is exactly the committed chunks: every counter agrees with their events.
    const visible = await lifetime(user, journeyId);
    expect(visible.all).toEqual(streamTotals(batch.filter((e) => committed.has(e.EventID))));

    // The client's retry: the committed events are duplicates, the rest is applied once.
    const retry = await d.ingestEvents(user.userId, batch);
    expect(retry).toMatchObject({ Accepted: batch.length - committed.size, Duplicates: committed.size, Rejected: [] });
    const { all, days } = await lifetime(user, journeyId);
    expect(all).toEqual(streamTotals(batch));
    expectDaysAddUp(days, all);
  }, 60_000);

  it("backs off and retries a chunk cancelled by a transaction conflict, as DynamoDB cancels contended ones", async () => {
    const { user, journeyId, actionIds } = await hotJourney();
    const batch = hotStream({ journeyId, actionIds, subscribers: 60, days: DAYS, prefix: "tc" }).slice(0, 300);
    // DynamoDB Local serialises transactions and never reports a conflict; AWS does, on hot rollups.
    let cancelled = 0;
    const name = "inject-transaction-conflicts";
    d.ddb().middlewareStack.add(
      (next, context) => async (args) => {
        if (!String(context.commandName).startsWith("TransactWrite") || cancelled >= 3) return next(args);
        cancelled++;
        const items = (args.input as { TransactItems: unknown[] }).TransactItems;
        throw Object.assign(new Error("Transaction cancelled"), {
          name: "TransactionCanceledException",
          CancellationReasons: items.map((_, i) => ({ Code: i === items.length - 1 ? "TransactionConflict" : "None" })),
        });
      },
      { step: "initialize", name },
    );
    try {
      const r = await d.ingestEvents(user.userId, batch);
      expect(r).toMatchObject({ Accepted: batch.length, Duplicates: 0, Rejected: [] });
    } finally {
      d.ddb().middlewareStack.remove(name);
    }
    expect(cancelled).toBe(3);
    expect((await lifetime(user, journeyId)).all).toEqual(streamTotals(batch));
  }, 60_000);

  it("gives exact figures when two batches race with shared EventIDs and competing first opens", async () => {
    const { user, journeyId, actionIds } = await hotJourney();
    const subscribers = 150;
    const sent: StreamEvent[] = [];
    const opens = (prefix: string): StreamEvent[] =>
      Array.from({ length: subscribers }, (_, i) => ({
        EventID: `${prefix}-open-${i + 1}`, Type: "Opened", JourneyID: journeyId, ActionID: actionIds[0]!, SubscriberID: i + 1,
        EmailAddress: `r${i + 1}@gmail.com`, OccurredAt: `${DAYS[0]} 10:00:00`,
      }));
    for (let i = 1; i <= subscribers; i++) {
      sent.push({ EventID: `race-sent-${i}`, Type: "Sent", JourneyID: journeyId, ActionID: actionIds[0]!, SubscriberID: i, EmailAddress: `r${i}@gmail.com`, OccurredAt: `${DAYS[0]} 09:00:00` });
    }
    // Both batches carry the same Sent events (one EventID each) and their own first open of every subscriber.
    const a = [...sent, ...opens("a")];
    const b = [...sent, ...opens("b")];
    const [ra, rb] = await Promise.all([d.ingestEvents(user.userId, a), d.ingestEvents(user.userId, b)]);
    expect(ra.Accepted + rb.Accepted).toBe(subscribers * 3);
    expect(ra.Duplicates + rb.Duplicates).toBe(subscribers);
    const { all } = await lifetime(user, journeyId);
    // Each subscriber's first open counts once, whichever batch won it; both opens are accepted events.
    expect(all).toMatchObject({ SendCount: subscribers, OpenCount: subscribers });

    const subs = await user.get("/api/v1/journey.action.subscribers", {
      JourneyID: journeyId, ActionID: actionIds[0]!, FilterJSON: '["opened"]', RecordsPerRequest: 1000,
    });
    expect(subs.body["TotalSubscribers"]).toBe(subscribers);
  }, 60_000);
});

describe("ingest core: a subscriber's lifetime revenue", () => {
  it("adds every accepted conversion exactly once, even from racing batches", async () => {
    const d = await domain();
    const { getSubscriber } = await import("../../shared/domain/subscribers/subscribers.js");
    const { user, journeyId, actionIds } = await hotJourney();
    const list = Number((await user.post("/api/v1/list", { SubscriberListName: "L" })).body["ListID"]);
    const sub = Number((await user.post("/api/v1/subscriber", { ListID: list, EmailAddress: "buyer@gmail.com" })).body["SubscriberID"]);
    const conversion = (id: string, actionId: number, cents: number) => ({
      EventID: id, Type: "Converted", JourneyID: journeyId, ActionID: actionId, SubscriberID: sub,
      EmailAddress: "buyer@gmail.com", OccurredAt: `${DAYS[0]} 12:00:00`, Amount: cents,
    });
    // Two batches at once, each converting on both actions, sharing one EventID.
    const a = [conversion("rev-1", actionIds[0]!, 1000), conversion("rev-2", actionIds[1]!, 250), conversion("rev-shared", actionIds[0]!, 7)];
    const b = [conversion("rev-3", actionIds[0]!, 40), conversion("rev-shared", actionIds[0]!, 7), conversion("rev-4", actionIds[1]!, 3)];
    await Promise.all([d.ingestEvents(user.userId, a), d.ingestEvents(user.userId, b)]);
    expect((await getSubscriber(user.userId, sub))?.["Revenue"]).toBe(1000 + 250 + 7 + 40 + 3);
    // Revenue counts every conversion, ConversionCount only the first per action.
    const { all } = await lifetime(user, journeyId);
    expect(all).toMatchObject({ ConversionCount: 2, TotalRevenue: 13 });
  }, 60_000);
});

describe("ingest core: 16 concurrent clients on one journey", () => {
  it("gives exact counters with overlapping and redelivered batches, no 5xx and no call over 29 s", async () => {
    const { user, journeyId, actionIds } = await hotJourney();
    const events = hotStream({ journeyId, actionIds, subscribers: 300, days: DAYS, prefix: "c16" });
    // 16 clients: each posts its own share in 250-event batches, then redelivers a neighbour's
    // first batch, and every fourth client overlaps into the next share.
    const shares = Array.from({ length: 16 }, (_, k) => events.slice(Math.floor((k * events.length) / 16), Math.floor(((k + 1) * events.length) / 16)));
    const plans = shares.map((share, k) => {
      const own = batchesOf(share, 250);
      const neighbour = shares[(k + 1) % 16]!;
      const overlap = k % 4 === 0 ? [neighbour.slice(0, 100)] : [];
      return [...own, ...overlap, neighbour.slice(0, 250)];
    });
    let accepted = 0;
    let duplicates = 0;
    let slowest = 0;
    const statuses: number[] = [];
    await Promise.all(
      plans.map(async (batches) => {
        for (const batch of batches) {
          const t0 = performance.now();
          const res = await user.post("/api/v1/journey.events", { Events: batch });
          slowest = Math.max(slowest, performance.now() - t0);
          statuses.push(res.status);
          if (res.status === 200) {
            accepted += Number(res.body["Accepted"]);
            duplicates += Number(res.body["Duplicates"]);
          }
        }
      }),
    );
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(slowest).toBeLessThan(29_000);
    expect(accepted).toBe(events.length);
    expect(accepted + duplicates).toBe(plans.flat().reduce((n, b) => n + b.length, 0));
    const { all, days } = await lifetime(user, journeyId);
    expect(all).toEqual(streamTotals(events));
    expectDaysAddUp(days, all);
  }, 120_000);
});
