import { randomUUID } from "node:crypto";
import { GetQueueAttributesCommand, GetQueueUrlCommand, ReceiveMessageCommand, SendMessageCommand, type MessageAttributeValue } from "@aws-sdk/client-sqs";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { afterEach, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { createUser, type TestUser } from "../support/api.js";
import { DAYS, eventSet, statsJourney, type Fixture } from "../support/event-set.js";
import { sqsClient } from "../support/sqs.js";
import { captureLogs } from "../support/logs.js";

/**
 * The events queue against the real local stack: messages go through fauxqs and
 * the local event source mapping to the events worker, and are compared with the
 * same events sent through journey.events.ingest. Redelivery, throttling and
 * poison messages are driven in-process, where the batch and the faults are ours.
 */
type Worker = (event: SQSEvent) => Promise<SQSBatchResponse>;
type Aws = typeof import("../../shared/aws.js");

let worker: Worker;
let aws: Aws;
let keys: typeof import("../../shared/keys.js").keys;
let queueUrl: string;

beforeAll(async () => {
  const env = inject("stackEnv");
  Object.assign(process.env, env);
  queueUrl = env["EVENTS_QUEUE_URL"]!;
  aws = await import("../../shared/aws.js");
  ({ keys } = await import("../../shared/keys.js"));
  ({ handler: worker } = (await import("../../functions/events-worker/index.js")) as { handler: Worker });
});

const injected: string[] = [];
afterEach(() => {
  for (const name of injected.splice(0)) aws.ddb().middlewareStack.remove(name);
  vi.restoreAllMocks();
});

const ingestOverHttp = (user: TestUser, events: unknown[]) => user.post("/api/v1/journey.events", { Events: events });

/** journey.get over the event set's window, with everything that names rather than counts removed. */
async function journeyView(user: TestUser, f: Fixture) {
  const res = await user.get("/api/v1/journey", {
    JourneyID: f.journeyId,
    StartDate: DAYS[0],
    EndDate: DAYS[2],
    IncludeActivityCounters: 1,
  });
  expect(res.status, res.text).toBe(200);
  return withoutIdentity(res.body);
}

// IDs come from per-user counters and timestamps from the wall clock; the two
// journeys legitimately differ in those and in nothing else.
const isIdentity = (key: string) => /(^JourneyID|ActionID|^EmailID|^CreatedAt|^UpdatedAt)$/.test(key);
function withoutIdentity(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutIdentity);
  if (typeof v !== "object" || v === null) return v;
  return Object.fromEntries(Object.entries(v).filter(([k]) => !isIdentity(k)).map(([k, val]) => [k, withoutIdentity(val)]));
}

const userAttribute = (userId: number, DataType = "Number"): Record<string, MessageAttributeValue> => ({
  UserID: { DataType, StringValue: String(userId) },
});

async function queueDepth(url: string): Promise<number> {
  const { Attributes: a = {} } = await sqsClient().send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"],
    }),
  );
  return Number(a["ApproximateNumberOfMessages"] ?? 0) + Number(a["ApproximateNumberOfMessagesNotVisible"] ?? 0) + Number(a["ApproximateNumberOfMessagesDelayed"] ?? 0);
}

async function until<T>(what: string, probe: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A record in Lambda's shape, as the event source mapping would deliver it. */
function record(body: string, userId?: number | string, attrs: Partial<SQSRecord["attributes"]> = {}): SQSRecord {
  const now = String(Date.now());
  return {
    messageId: randomUUID(),
    receiptHandle: randomUUID(),
    body,
    attributes: { ApproximateReceiveCount: "1", SentTimestamp: now, SenderId: "000000000000", ApproximateFirstReceiveTimestamp: now, ...attrs },
    messageAttributes:
      userId === undefined ? {} : { UserID: { stringValue: String(userId), dataType: "Number", stringListValues: [], binaryListValues: [] } },
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:journey-events",
    awsRegion: "us-east-1",
  };
}

/** The set split as producers would: mostly 10 events a message, every third message a single bare event. */
function messages(events: Record<string, unknown>[]): (Record<string, unknown> | Record<string, unknown>[])[] {
  const out: (Record<string, unknown> | Record<string, unknown>[])[] = [];
  for (let i = 0, n = 0; i < events.length; n++) {
    if (n % 3 === 2) out.push(events[i++]!);
    else {
      out.push(events.slice(i, i + 10));
      i += 10;
    }
  }
  return out;
}

/** Lifetime rollup counters as the ingest core stores them: what "counted" means, independent of the read path. */
async function lifetimeCounters(userId: number, journeyId: number): Promise<Record<string, unknown>> {
  const { Item } = await aws.ddb().send(new GetCommand({ TableName: aws.tableName(), Key: keys.journeyLifetime(userId, journeyId) }));
  return Item ?? {};
}

describe("the events queue", () => {
  it("gives the same reads as the same event set sent through journey.events.ingest", async () => {
    const [viaHttp, viaQueue] = await Promise.all([createUser(), createUser()]);
    const [fh, fq] = await Promise.all([statsJourney(viaHttp), statsJourney(viaQueue)]);
    const httpSet = eventSet(fh, "ev");
    const queueSet = eventSet(fq, "ev");

    let valid = 0;
    const rejected: unknown[] = [];
    for (let i = 0; i < httpSet.length; i += 500) {
      const res = await ingestOverHttp(viaHttp, httpSet.slice(i, i + 500));
      expect(res.status, res.text).toBe(200);
      valid += Number(res.body["Accepted"]) + Number(res.body["Duplicates"]);
      rejected.push(...(res.body["Rejected"] as unknown[]));
    }
    expect(valid).toBeGreaterThan(0);

    // Sent one after another: the local mapping, like SQS, keeps them in order.
    const bodies = messages(queueSet);
    expect(bodies.some((b) => !Array.isArray(b))).toBe(true);
    for (const [i, body] of bodies.entries()) {
      // Both places a producer may name the user, and both attribute data types.
      const wrapped = i === 1;
      await sqsClient().send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: JSON.stringify(wrapped ? { UserID: viaQueue.userId, Events: body } : body),
          ...(wrapped ? {} : { MessageAttributes: userAttribute(viaQueue.userId, i % 2 ? "String" : "Number") }),
        }),
      );
    }
    await until("the events queue to drain", () => queueDepth(queueUrl), (n) => n === 0);
    // Deleted is not yet necessarily settled for reads: wait until two reads agree.
    let previous = JSON.stringify(await journeyView(viaQueue, fq));
    await until(
      "the queued journey's reads to settle",
      async () => {
        await new Promise((r) => setTimeout(r, 200));
        const now = JSON.stringify(await journeyView(viaQueue, fq));
        const same = now === previous;
        previous = now;
        return same;
      },
      (same) => same,
    );

    expect(await journeyView(viaQueue, fq)).toEqual(await journeyView(viaHttp, fh));

    // The exactly-once markers agree too: every valid event of the set is already there, on both sides.
    const [againHttp, againQueue] = await Promise.all([ingestOverHttp(viaHttp, httpSet), ingestOverHttp(viaQueue, queueSet)]);
    for (const res of [againHttp, againQueue]) {
      expect(res.status, res.text).toBe(200);
      expect(res.body["Accepted"]).toBe(0);
      expect(res.body["Duplicates"]).toBe(valid);
      expect(res.body["Rejected"]).toEqual(rejected);
    }
  }, 60_000);

  it("changes nothing when a batch is delivered twice", async () => {
    const user = await createUser();
    const f = await statsJourney(user);
    const events = eventSet(f, "redeliver");
    const batch: SQSEvent = { Records: messages(events).map((b) => record(JSON.stringify(b), user.userId)) };

    expect(await worker(batch)).toEqual({ batchItemFailures: [] });
    const before = await journeyView(user, f);
    const counters = await lifetimeCounters(user.userId, f.journeyId);

    expect(await worker(batch)).toEqual({ batchItemFailures: [] });
    expect(await journeyView(user, f)).toEqual(before);
    expect(await lifetimeCounters(user.userId, f.journeyId)).toEqual(counters);

    const again = await ingestOverHttp(user, events);
    expect(again.body["Accepted"]).toBe(0);
    expect(again.body["Duplicates"]).toBe(events.length);
  });

  it("fails only the record whose event was throttled, and counts that event once when it is redelivered", async () => {
    const user = await createUser();
    const f = await statsJourney(user);
    const sent = (s: number, EventID: string) => ({
      EventID,
      Type: "Sent",
      JourneyID: f.journeyId,
      ActionID: f.a1,
      SubscriberID: s,
      EmailAddress: `s${s}@example.com`,
      OccurredAt: `${DAYS[0]} 10:00:00`,
    });
    const throttled = `throttled-${randomUUID()}`;
    const delivered = { ...sent(3, `delivered-${randomUUID()}`), Type: "Delivered" };
    const ok1 = record(JSON.stringify([sent(1, randomUUID()), sent(2, randomUUID())]), user.userId);
    const hit = record(JSON.stringify([sent(3, throttled), delivered]), user.userId);
    const ok2 = record(JSON.stringify(sent(4, randomUUID())), user.userId);

    // Once per send, before the SDK's retries: the transaction of that one event fails as throttled would.
    const name = "throttle-one-event";
    injected.push(name);
    aws.ddb().middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { TransactItems?: { Put?: { Item?: Record<string, unknown> } }[] };
        const ids = (input.TransactItems ?? []).map((t) => t.Put?.Item?.["EventID"]);
        const marks = ids.some((id) => id === throttled || (typeof id === "object" && id !== null && (id as { S?: string }).S === throttled));
        if (/^TransactWrite(Items)?Command$/.test(String(context.commandName)) && marks) {
          throw Object.assign(new Error("Rate of requests exceeds the allowed throughput"), { name: "ProvisionedThroughputExceededException" });
        }
        return next(args);
      },
      { step: "initialize", name },
    );
    const logs = captureLogs();

    expect(await worker({ Records: [ok1, hit, ok2] })).toEqual({ batchItemFailures: [{ itemIdentifier: hit.messageId }] });
    expect(logs.text()).toContain("ProvisionedThroughputExceededException");
    // The failed record applied nothing: its later event waits behind the throttled one.
    expect(await lifetimeCounters(user.userId, f.journeyId)).toMatchObject({ SendCount: 3 });
    expect((await lifetimeCounters(user.userId, f.journeyId))["DeliveryCount"]).toBeUndefined();

    aws.ddb().middlewareStack.remove(name);
    injected.splice(injected.indexOf(name), 1);
    const redelivered = { ...hit, receiptHandle: randomUUID(), attributes: { ...hit.attributes, ApproximateReceiveCount: "2" } };
    expect(await worker({ Records: [redelivered] })).toEqual({ batchItemFailures: [] });
    expect(await lifetimeCounters(user.userId, f.journeyId)).toMatchObject({ SendCount: 4, DeliveryCount: 1 });

    // A third delivery, and the same events over HTTP, are duplicates and count nothing more.
    expect(await worker({ Records: [redelivered] })).toEqual({ batchItemFailures: [] });
    const again = await ingestOverHttp(user, [sent(3, throttled), delivered]);
    expect([again.body["Accepted"], again.body["Duplicates"]]).toEqual([0, 2]);
    expect(await lifetimeCounters(user.userId, f.journeyId)).toMatchObject({ SendCount: 4, DeliveryCount: 1 });
  });

  it("ingests a batch's messages of one user together: ten 10-event messages share full chunk transactions, not one each", async () => {
    const user = await createUser();
    const f = await statsJourney(user);
    const messages = Array.from({ length: 10 }, (_, m) =>
      record(
        JSON.stringify(
          Array.from({ length: 10 }, (_, k) => ({
            EventID: `batch-${m}-${k}`, Type: "Sent", JourneyID: f.journeyId, ActionID: f.a1, SubscriberID: m * 10 + k + 1,
            EmailAddress: `b${m * 10 + k}@gmail.com`, OccurredAt: `${DAYS[0]} 10:00:00`,
          })),
        ),
        user.userId,
      ),
    );
    let transactions = 0;
    const name = "count-transactions";
    injected.push(name);
    aws.ddb().middlewareStack.add(
      (next, context) => async (args) => {
        if (String(context.commandName).startsWith("TransactWrite")) transactions++;
        return next(args);
      },
      { step: "initialize", name },
    );
    expect(await worker({ Records: messages })).toEqual({ batchItemFailures: [] });
    // 100 markers, 100 email states and the rollups fill three transactions; one per message would be ten.
    expect(transactions).toBeLessThanOrEqual(3);
    expect(await lifetimeCounters(user.userId, f.journeyId)).toMatchObject({ SendCount: 100 });
  });

  it("reports poison messages as failures without logging their bodies, and still applies the rest of the batch", async () => {
    const user = await createUser();
    const f = await statsJourney(user);
    const event = {
      EventID: randomUUID(),
      Type: "Sent",
      JourneyID: f.journeyId,
      ActionID: f.a1,
      SubscriberID: 1,
      EmailAddress: "ann@example.com",
      OccurredAt: `${DAYS[0]} 10:00:00`,
    };
    const secret = `APIKey-${randomUUID()}`;
    const poison = [
      record(`not json ${secret}`, user.userId),
      record(JSON.stringify({ ...event, EventID: randomUUID(), Note: secret })),
      record(JSON.stringify(event), `user-${secret}`),
      record(JSON.stringify({ UserID: user.userId + 1, Events: [event] }), user.userId),
      record(JSON.stringify([]), user.userId),
      record(JSON.stringify("just a string"), user.userId),
    ];
    const good = record(JSON.stringify({ UserID: user.userId, Events: [event] }));
    const logs = captureLogs();

    const res = await worker({ Records: [poison[0]!, good, ...poison.slice(1)] });
    expect(res.batchItemFailures).toEqual(poison.map((r) => ({ itemIdentifier: r.messageId })));
    expect(logs.lines.filter((l) => l.includes('"poison event message"'))).toHaveLength(poison.length);
    for (const r of poison) expect(logs.text()).toContain(r.messageId);
    expect(logs.text()).not.toContain(secret);
    expect(await lifetimeCounters(user.userId, f.journeyId)).toMatchObject({ SendCount: 1 });
  });

  it("succeeds for a message whose events are all rejected, logging the rejections", async () => {
    const user = await createUser();
    const logs = captureLogs();
    const bad = record(JSON.stringify([{ EventID: "x", Type: "Nope", JourneyID: 1, SubscriberID: 1 }]), user.userId);
    expect(await worker({ Records: [bad] })).toEqual({ batchItemFailures: [] });
    expect(logs.text()).toContain('"Code":4');
  });

  it("moves a poison message to the DLQ after 5 receives through the local stack", async () => {
    const { Attributes } = await sqsClient().send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["RedrivePolicy"] }));
    const policy = JSON.parse(Attributes?.["RedrivePolicy"] ?? "{}") as { deadLetterTargetArn: string; maxReceiveCount: number | string };
    expect(Number(policy.maxReceiveCount)).toBe(5);
    const dlqName = policy.deadLetterTargetArn.split(":").pop()!;
    const { QueueUrl: dlqUrl } = await sqsClient().send(new GetQueueUrlCommand({ QueueName: dlqName }));
    const marker = randomUUID();

    await sqsClient().send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: `{"not": "a user" ${marker}` }));
    const found = await until(
      "the poison message in the DLQ",
      async () => {
        const { Messages = [] } = await sqsClient().send(
          new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: ["All"] }),
        );
        return Messages.find((m) => m.Body?.includes(marker));
      },
      (m) => m !== undefined,
      55_000,
    );
    expect(Number(found?.Attributes?.["ApproximateReceiveCount"])).toBeGreaterThanOrEqual(5);
    // The engine's tests on the same stack also send events to this queue, so "empty" is
    // awaited: nothing, the poison message included, stays behind once their events are applied.
    expect(await until("the events queue empty", () => queueDepth(queueUrl), (n) => n === 0)).toBe(0);
  }, 90_000);
});
