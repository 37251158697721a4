import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DdbObserver } from "../../shared/aws.js";
import { cursorsOf, startEngineStack, subscriber, subscriberItem, type EngineStack, type EngineUser } from "../support/engine.js";

/**
 * Outbox overflow items (ENGINE §5.5): "entries that would take an outbox past
 * 64 KB go into an extra outbox item `OB#<ULID>` in the same partition, in the
 * same write". A `subscriber.tag` call giving one subscriber 450 tags fires 450
 * Tag signals (about 330 bytes each as outbox entries, ~145 KB together): the
 * subscriber item keeps 64 KB of them and the rest ride in overflow items put in
 * the same transaction. Each tag has an Enabled Tag journey with no actions, so
 * a delivered signal shows as exactly one enrolment in that journey: every signal
 * must arrive (one enrolment in each of the 450 journeys, none missing), and the
 * overflow items must be gone afterwards, whether the writer delivers them or,
 * after it dies between its write and its delivery (`after-write`), recovery does.
 */
let engine: EngineStack;
beforeAll(async () => {
  // No sweeper timer: the clock route hands lost work (as faults.test.ts does), so nothing is
  // recovered before the test moves the clock.
  engine = await startEngineStack({ LOCAL_SWEEP_MS: "3600000" });
}, 120_000);
afterAll(async () => {
  delete (globalThis as { __journeyDdbObserver?: DdbObserver }).__journeyDdbObserver;
  await engine?.stop();
});

const TAGS = 450;

async function inParallel<T>(n: number, make: (i: number) => Promise<T>, width = 8): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let i = next++; i < n; i = next++) out[i] = await make(i);
    }),
  );
  return out;
}

interface Setup {
  user: EngineUser;
  list: number;
  tags: number[];
  /** The Tag journey of each tag, in the same order. */
  journeys: number[];
}

let setupDone: Setup | undefined;
async function setup(): Promise<Setup> {
  if (setupDone) return setupDone;
  const user = await engine.user();
  const list = Number((await user.post("/api/v1/list", { SubscriberListName: "Many tags" })).body["ListID"]);
  const tags = await inParallel(TAGS, async (i) => {
    const res = await user.post("/api/v1/subscriber.tags", { ListID: list, TagName: `t${i}` });
    expect(res.status, res.text).toBe(200);
    return Number(res.body["TagID"]);
  });
  const journeys = await inParallel(TAGS, async (i) => {
    const res = await user.post("/api/v1/journey", { Name: `On t${i}`, Trigger: "Tag", Trigger_Value: tags[i] });
    expect(res.status, res.text).toBe(200);
    return Number(res.body["JourneyID"]);
  });
  for (let i = 0; i < TAGS; i += 100) {
    const res = await user.post("/api/v1/journeys.enable", { JourneyIDs: journeys.slice(i, i + 100) });
    expect(res.status, res.text).toBe(200);
    expect(res.body["FailedJourneyIDs"]).toEqual([]);
  }
  await engine.idle(180_000);
  setupDone = { user, list, tags, journeys };
  return setupDone;
}

/** The subscriber's overflow items (`OB#…` in its partition). */
async function overflowItems(userId: number, sid: number): Promise<Record<string, unknown>[]> {
  const { keys } = await import("../../shared/keys.js");
  const { queryAll } = await import("../../shared/domain/owned.js");
  const { tableName } = await import("../../shared/aws.js");
  return queryAll({
    TableName: tableName(),
    KeyConditionExpression: "PK = :pk AND begins_with(SK, :p)",
    ExpressionAttributeValues: { ":pk": keys.subscriberPartition(userId, sid), ":p": "OB#" },
    ConsistentRead: true,
  });
}

/** Records the overflow items the process puts and deletes, and the items of each transaction. */
function watchOverflow() {
  const puts: string[] = [];
  const deletes: string[] = [];
  const transactions: number[] = [];
  (globalThis as { __journeyDdbObserver?: DdbObserver }).__journeyDdbObserver = (command, input) => {
    const items = (input["TransactItems"] as Record<string, { Item?: { SK?: string }; Key?: { SK?: string } }>[] | undefined) ?? [];
    const obPuts = items.map((t) => t["Put"]?.Item?.SK).filter((sk): sk is string => typeof sk === "string" && sk.startsWith("OB#"));
    if (obPuts.length > 0) transactions.push(items.length);
    puts.push(...obPuts);
    const key = input["Key"] as { SK?: string } | undefined;
    if (command.startsWith("Delete") && key?.SK?.startsWith("OB#")) deletes.push(key.SK);
  };
  return {
    puts,
    deletes,
    transactions,
    stop: () => delete (globalThis as { __journeyDdbObserver?: DdbObserver }).__journeyDdbObserver,
  };
}

/** Each journey's count of the subscriber's enrolments. */
async function enrolmentsPerJourney(s: Setup, sid: number): Promise<number[]> {
  const counts = new Map<number, number>();
  for (const c of await cursorsOf(s.user.userId, sid)) counts.set(Number(c["JourneyID"]), (counts.get(Number(c["JourneyID"])) ?? 0) + 1);
  return s.journeys.map((j) => counts.get(j) ?? 0);
}

/** Waits until the steps queue is empty (Idle cannot hold while lost work waits in the index). */
async function queuesDrained(timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const st = (await engine.local("GET", "/_local/engine")).body;
    if (Number(st["StepsVisible"]) + Number(st["StepsInFlight"]) + Number(st["StepsDelayed"]) === 0) return;
    if (Date.now() > deadline) throw new Error(`steps queue not drained: ${JSON.stringify(st)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const tagAll = (s: Setup, sid: number) => s.user.post("/api/v1/subscriber.tag", { SubscriberListID: s.list, SubscriberID: sid, TagID: s.tags });

describe("an outbox past 64 KB", () => {
  it("puts the overflow in OB# items in the same transaction; the writer delivers every signal once and deletes them", { timeout: 600_000 }, async () => {
    const s = await setup();
    const sid = await subscriber(s.user, s.list, "many@example.com");
    const watch = watchOverflow();
    const res = await tagAll(s, sid);
    watch.stop();
    expect(res.status, res.text).toBe(200);

    // 450 entries of ~330 bytes: 64 KB stay on the subscriber, the rest fill two overflow items,
    // put in the tag call's one transaction (the subscriber and its overflow items).
    expect(watch.puts).toHaveLength(2);
    expect(watch.transactions).toEqual([3]);
    // Delivered before the call answered: deleted, and the subscriber's outbox cleared.
    expect([...watch.deletes].sort()).toEqual([...watch.puts].sort());
    expect(await overflowItems(s.user.userId, sid)).toEqual([]);
    const item = await subscriberItem(s.user.userId, sid);
    expect(item?.["Outbox"]).toEqual({});
    expect(item?.["DuePK"]).toBeUndefined();
    expect((item?.["Tags"] as number[]).length).toBe(TAGS);

    await engine.idle(300_000);
    expect(await enrolmentsPerJourney(s, sid)).toEqual(s.journeys.map(() => 1));
  });

  it("after a crash between the write and its delivery, recovery delivers the subscriber's and the overflow items' signals", { timeout: 600_000 }, async () => {
    const s = await setup();
    const sid = await subscriber(s.user, s.list, "crash@example.com");
    // Armed after the subscriber exists: the tag call's write is the one whose writer dies.
    expect((await engine.local("POST", "/_local/faults", { Point: "after-write", Times: 1 })).status).toBe(200);
    let res;
    try {
      res = await tagAll(s, sid);
    } finally {
      await engine.local("DELETE", "/_local/faults");
    }
    expect(res.status, res.text).toBe(200);

    // Nothing was sent: the entries wait on the subscriber (indexed) and in two overflow items (indexed).
    await queuesDrained();
    const left = await overflowItems(s.user.userId, sid);
    expect(left).toHaveLength(2);
    for (const ob of left) {
      expect(ob["Kind"]).toBe("Outbox");
      expect(typeof ob["DuePK"]).toBe("string");
    }
    const held = Object.keys(((await subscriberItem(s.user.userId, sid))?.["Outbox"] ?? {}) as object).length;
    const inOverflow = left.reduce((n, ob) => n + Object.keys(ob["Outbox"] as object).length, 0);
    expect(held + inOverflow).toBe(TAGS);
    expect(held).toBeGreaterThan(0);
    expect(await enrolmentsPerJourney(s, sid)).toEqual(s.journeys.map(() => 0));

    // Recovery re-hands whatever is 5 minutes overdue.
    await engine.local("POST", "/_local/clock", { AdvanceSeconds: 360 });
    await engine.idle(300_000);
    expect(await overflowItems(s.user.userId, sid)).toEqual([]);
    const item = await subscriberItem(s.user.userId, sid);
    expect(item?.["Outbox"]).toEqual({});
    expect(item?.["DuePK"]).toBeUndefined();
    expect(await enrolmentsPerJourney(s, sid)).toEqual(s.journeys.map(() => 1));
  });
});
