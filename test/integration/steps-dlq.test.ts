import { randomUUID } from "node:crypto";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { lambdaContext } from "../../infra/local/gateway.js";
import { createJourney, createUser, type TestUser } from "../support/api.js";
import { captureLogs } from "../support/logs.js";

/**
 * The steps DLQ consumer (ENGINE §10), its real handler run in this process against
 * the shared local stack. The cursor is made by the engine itself: a
 * subscriber.journey.trigger into a journey whose first action waits a day, so the
 * enrolment sits Active, parked in its Wait, while the test hands the DLQ handler
 * the Step message a failing worker would have left there.
 */
type Handler = (e: SQSEvent, c: ReturnType<typeof lambdaContext>) => Promise<SQSBatchResponse>;
let dlq: Handler;
let engine: typeof import("../../shared/engine/fanout.js");
let deadLetter: typeof import("../../shared/engine/dead-letter.js");

beforeAll(async () => {
  // createUser sets the stack's environment; the handler reads it at import.
  await createUser();
  ({ handler: dlq } = (await import("../../functions/steps-dlq/index.js")) as unknown as { handler: Handler });
  engine = await import("../../shared/engine/fanout.js");
  deadLetter = await import("../../shared/engine/dead-letter.js");
});

// The handler logs every message it ends or drops; kept off the test output, and read where it matters.
let logs: ReturnType<typeof captureLogs>;
beforeEach(() => {
  logs = captureLogs();
});
afterEach(() => vi.restoreAllMocks());

/** The log lines the DLQ consumer wrote, parsed. */
const dlqLines = () =>
  logs.lines
    .flatMap((l) => l.split("\n"))
    .filter((l) => l.startsWith("{") && (l.includes("steps DLQ") || l.includes("enrolment ended")))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

const event = (...bodies: string[]): SQSEvent => ({
  Records: bodies.map((body, i) => ({
    messageId: `dlq-${i}-${randomUUID()}`,
    receiptHandle: "r",
    body,
    attributes: {
      ApproximateReceiveCount: "1",
      SentTimestamp: String(Date.now()),
      SenderId: "local",
      ApproximateFirstReceiveTimestamp: String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:journey-steps-dlq",
    awsRegion: "us-east-1",
  })),
});

type Item = Record<string, unknown>;
type StepRecord = { ActionID: number; Action: string; Outcome: string; Reason: string; Detail: Record<string, unknown> };

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await read();
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 200));
    last = await read();
  }
  return last;
}

/** A journey [Wait 1 day, Debug], enabled, and one subscriber enrolled and parked in its Wait. */
async function parkedEnrolment(user: TestUser) {
  const list = Number((await user.post("/api/v1/list", { SubscriberListName: "DLQ" })).body["ListID"]);
  const journeyId = await createJourney(user);
  const upd = await user.patch("/api/v1/journey.actions", {
    JourneyID: journeyId,
    Actions: [
      { Action: "Wait", WaitUnit: "days", WaitAmount: 1, Published: true },
      { Action: "Debug", DebugMessage: "after", Published: true },
    ],
  });
  expect(upd.status, upd.text).toBe(200);
  const waitId = Number((upd.body["Actions"] as { ActionID: string }[])[0]!.ActionID);
  expect((await user.get("/api/v1/journey.enable", { JourneyID: journeyId })).status).toBe(200);
  const sid = Number((await user.post("/api/v1/subscriber", { ListID: list, EmailAddress: `dlq-${randomUUID().slice(0, 8)}@example.com` })).body["SubscriberID"]);
  const trigger = await user.post("/api/v1/subscriber.journey.trigger", { JourneyID: journeyId, ListID: list, SubscriberID: sid });
  expect(trigger.status, trigger.text).toBe(200);
  const cursor = await until(
    () => cursorOf(user.userId, sid, journeyId),
    (c) => c?.["State"] === "Active" && ((c["Steps"] as StepRecord[]) ?? []).some((s) => s.Action === "Wait" && s.Outcome === "Waiting") && Object.keys((c["Outbox"] as Item) ?? {}).length === 0,
    "the enrolment to park in its Wait",
  );
  return { list, journeyId, sid, waitId, cursor: cursor! };
}

async function cursorOf(userId: number, sid: number, journeyId: number): Promise<Item | undefined> {
  const all = (await engine.engineItemsOf(userId, sid)).filter((i) => i["EntryID"] && i["JourneyID"] === journeyId);
  return all[all.length - 1];
}

async function membershipOf(userId: number, sid: number, journeyId: number): Promise<Item | undefined> {
  return (await engine.engineItemsOf(userId, sid)).find((i) => !i["EntryID"] && i["JourneyID"] === journeyId);
}

const stepMessage = (userId: number, sid: number, journeyId: number, cursor: Item, version: number) =>
  JSON.stringify({ Kind: "Step", UserID: userId, SubscriberID: sid, JourneyID: journeyId, EntryID: cursor["EntryID"], Version: version });

const activeSubscribers = async (user: TestUser, journeyId: number) =>
  Number(((await user.get("/api/v1/journey", { JourneyID: journeyId })).body["JourneyStats"] as Item)["ActiveSubscribers"]);

describe("steps DLQ consumer", () => {
  it("ends a live cursor whose Step matches its Version: Exited StepFailed, a Failed step record, the membership freed and Exited counted", { timeout: 60_000 }, async () => {
    const user = await createUser();
    const { journeyId, sid, waitId, cursor } = await parkedEnrolment(user);
    const version = Number(cursor["Version"]);
    expect(await activeSubscribers(user, journeyId)).toBe(1);

    // A stale Version (the step moved on) changes nothing.
    for (const stale of [version - 1, version + 1]) {
      const res = await dlq(event(stepMessage(user.userId, sid, journeyId, cursor, stale)), lambdaContext("steps-dlq"));
      expect(res.batchItemFailures).toEqual([]);
    }
    const untouched = await cursorOf(user.userId, sid, journeyId);
    expect(untouched).toEqual(cursor);

    const res = await dlq(event(stepMessage(user.userId, sid, journeyId, cursor, version)), lambdaContext("steps-dlq"));
    expect(res.batchItemFailures).toEqual([]);
    const ended = (await cursorOf(user.userId, sid, journeyId))!;
    expect(ended).toMatchObject({ State: "Exited", EndedBy: "Exited", EndReason: "StepFailed", Version: version + 1, ActionID: 0 });
    const last = (ended["Steps"] as StepRecord[]).at(-1)!;
    expect(last).toMatchObject({ ActionID: waitId, Action: "Wait", Outcome: "Failed", Reason: "StepFailed", Detail: { Error: "redelivered 5 times" } });
    // Its end events went to the events queue and were cleared from its outbox; it left the due index and the journey index.
    expect(ended["Outbox"]).toEqual({});
    for (const attr of ["DuePK", "DueSK", "JourneyKey"]) expect(ended[attr], attr).toBeUndefined();
    expect(typeof ended["ttl"]).toBe("number");
    expect((await membershipOf(user.userId, sid, journeyId))?.["ActiveEntryID"]).toBeUndefined();
    // The Exited, through the events queue and the ingest core, leaves the journey with no active subscriber.
    await until(() => activeSubscribers(user, journeyId), (n) => n === 0, "ActiveSubscribers to reach 0");

    // A second copy of the same message is now stale: nothing moves.
    await dlq(event(stepMessage(user.userId, sid, journeyId, cursor, version)), lambdaContext("steps-dlq"));
    expect(await cursorOf(user.userId, sid, journeyId)).toEqual(ended);
  });

  it("names the last error the runner noted for that Version in the step record", { timeout: 60_000 }, async () => {
    const user = await createUser();
    const { journeyId, sid, cursor } = await parkedEnrolment(user);
    const version = Number(cursor["Version"]);
    const msg = { Kind: "Step" as const, UserID: user.userId, SubscriberID: sid, JourneyID: journeyId, EntryID: String(cursor["EntryID"]), Version: version };
    // A note for an older Version is not this failure's, and is ignored.
    await deadLetter.noteStepError({ ...msg, Version: version - 1 }, new Error("old"), 0);
    await deadLetter.noteStepError(msg, Object.assign(new Error("Throughput exceeds the current capacity"), { name: "ProvisionedThroughputExceededException" }), 0);
    const noted = (await cursorOf(user.userId, sid, journeyId))!;
    // Noting an error leaves the Version (and so every worker's condition) as it was.
    expect(noted["Version"]).toBe(version);

    await dlq(event(JSON.stringify(msg)), lambdaContext("steps-dlq"));
    const ended = (await cursorOf(user.userId, sid, journeyId))!;
    expect(ended["EndReason"]).toBe("StepFailed");
    expect((ended["Steps"] as StepRecord[]).at(-1)!.Detail).toEqual({ Error: "ProvisionedThroughputExceededException: Throughput exceeds the current capacity" });
  });

  it("drops, without failing the batch or touching the cursor, a signal, a job, an outbox message, a poison body and a step of a cursor that does not exist", { timeout: 60_000 }, async () => {
    const user = await createUser();
    const { journeyId, sid, cursor } = await parkedEnrolment(user);
    const key = { PK: `U#${user.userId}#SUB#${sid}`, SK: "x" };
    const res = await dlq(
      event(
        JSON.stringify({ Kind: "Signal", UserID: user.userId, SubscriberID: sid, Trigger: "ListSubscription", Value: 1, SignalID: randomUUID(), Depth: 0, At: 0, Source: key }),
        JSON.stringify({ Kind: "Job", Key: key, EntryId: "job-x" }),
        JSON.stringify({ Kind: "Outbox", Key: key }),
        JSON.stringify({ Kind: "Drain", Key: key }),
        "not json {",
        JSON.stringify({ Kind: "Step", UserID: user.userId }),
        JSON.stringify({ Kind: "Step", UserID: user.userId, SubscriberID: sid, JourneyID: journeyId, EntryID: "01JZZZZZZZZZZZZZZZZZZZZZZZ", Version: 1 }),
      ),
      lambdaContext("steps-dlq"),
    );
    expect(res.batchItemFailures).toEqual([]);
    expect(await cursorOf(user.userId, sid, journeyId)).toEqual(cursor);
    // Each one logged, with why (records run concurrently, so in no set order).
    const sorted = (rows: unknown[][]) => rows.map((r) => JSON.stringify(r)).sort();
    expect(sorted(dlqLines().map((l) => [l["message"], l["reason"], l["kind"]]))).toEqual(sorted([
      ["steps DLQ message dropped", "NotAStep", "Signal"],
      ["steps DLQ message dropped", "NotAStep", "Job"],
      ["steps DLQ message dropped", "NotAStep", "Outbox"],
      ["steps DLQ message dropped", "NotAStep", "Drain"],
      ["steps DLQ message dropped", "Poison", undefined],
      ["steps DLQ message dropped", "NotAStep", "Step"],
      ["steps DLQ message dropped", "Stale", "Step"],
    ]));
  });

  it("tells apart what it ends from what it drops", async () => {
    expect(await deadLetter.deadLetter("[]", 0)).toEqual({ outcome: "Dropped", reason: "Poison" });
    expect(await deadLetter.deadLetter(JSON.stringify({ Kind: "Job" }), 0)).toEqual({ outcome: "Dropped", reason: "NotAStep", kind: "Job" });
    expect(await deadLetter.deadLetter(JSON.stringify({ Kind: "Signal" }), 0)).toEqual({ outcome: "Dropped", reason: "NotAStep", kind: "Signal" });
  });
});
