import { GetQueueAttributesCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { randomUUID } from "node:crypto";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { afterEach, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { adminKey, createUser, http, outcome, type TestUser } from "../support/api.js";
import { statsJourney, type Fixture } from "../support/event-set.js";
import { sqsClient } from "../support/sqs.js";
import { sesEvent, type SesEventBridgeEvent, type SesEventDetailInput, type SesMail } from "../../shared/delivery/ses-shape.js";

/**
 * SES events into statistics (ENGINE §8.3) on the suite's shared stack: raw EventBridge
 * SES events go onto the local SES events queue, as the EventBridge rule puts them on
 * AWS, and travel the adapter, the events queue and the ingest core; the numbers are
 * then read back through the API as CONTRACT §7 counts them.
 */
type Aws = typeof import("../../shared/aws.js");

const DAY = "2026-03-05";
const WINDOW = { StartDate: DAY, EndDate: DAY };
const at = (hms: string) => new Date(`${DAY}T${hms}.250Z`);

let env: Record<string, string>;
let aws: Aws;
let keys: typeof import("../../shared/keys.js").keys;
let user: TestUser;
let f: Fixture;
let sub1: number;
let sub2: number;
let mail1: SesMail;
let mail2: SesMail;
/** Every SES event pushed by the main scenario, to push again as a redelivered batch. */
const pushed: SesEventBridgeEvent[] = [];

async function push(events: SesEventBridgeEvent[]): Promise<void> {
  for (const e of events) {
    await sqsClient().send(new SendMessageCommand({ QueueUrl: env["SES_EVENTS_QUEUE_URL"], MessageBody: JSON.stringify(e) }));
  }
}

async function depth(url: string): Promise<number> {
  const { Attributes: a = {} } = await sqsClient().send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"],
    }),
  );
  return Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) + Number(a.ApproximateNumberOfMessagesDelayed ?? 0);
}

/**
 * Both queues empty: the adapter deletes a record only once its events are on the events
 * queue, and the events worker only once they are ingested. Other test files' events only
 * make this wait longer, never end it early. Twice in a row, as a poller may be between
 * its receive and its next send.
 */
async function settled(timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let streak = 0;
  while (Date.now() < deadline) {
    const [ses, events] = await Promise.all([depth(env["SES_EVENTS_QUEUE_URL"]!), depth(env["EVENTS_QUEUE_URL"]!)]);
    streak = ses + events === 0 ? streak + 1 : 0;
    if (streak >= 2) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("the SES events and events queues did not empty");
}

const message = (messageId: string, subscriberId: number, to: string, cc: string[] = []): SesMail => ({
  messageId,
  sentAt: at("09:00:00"),
  from: "News <news@news.example.com>",
  to: [to],
  cc,
  bcc: ["audit@bcc.example"],
  subject: "Hello",
  tags: { UserID: String(user.userId), JourneyID: String(f.journeyId), ActionID: String(f.a1), SubscriberID: String(subscriberId), EntryID: "01JH0000000000000000000000" },
  configurationSet: env["SES_CONFIGURATION_SET"]!,
});

const ev = (m: SesMail, e: SesEventDetailInput) => sesEvent(m, e);

async function journeyStats() {
  const res = await user.get("/api/v1/journey", { JourneyID: f.journeyId, ...WINDOW });
  expect(res.status, res.text).toBe(200);
  const a1 = (res.body["Actions"] as Record<string, unknown>[]).find((a) => Number(a["ActionID"]) === f.a1)!;
  return { action: a1["Stats"], journey: (res.body["JourneyStats"] as Record<string, unknown>)["AggregatedEmailActions"] };
}
const byIsp = async () => (await user.get("/api/v1/journey.stats.byisp", { JourneyID: f.journeyId, ...WINDOW })).body["ByISP"];
const recipients = async (filter?: string[]) =>
  (await user.get("/api/v1/journey.action.subscribers", { JourneyID: f.journeyId, ActionID: f.a1, ...(filter ? { FilterJSON: JSON.stringify(filter) } : {}) })).body;
const emailState = async (subscriberId: number, journeyOwner = user.userId, actionId = f.a1) =>
  (await aws.ddb().send(new GetCommand({ TableName: aws.tableName(), Key: keys.emailState(journeyOwner, subscriberId, actionId), ConsistentRead: true }))).Item;

const EXPECTED_ACTION = { SendCount: 2, DeliveryCount: 1, OpenCount: 1, ClickCount: 1, BounceCount: 1, UnsubscribeCount: 0, SpamComplaintCount: 1, TotalRevenue: 0 };
const EXPECTED_ISP = [
  { Domain: "gmail.com", Sent: 1, Delivered: 1, Opened: 1, Clicked: 1, Bounced: 1, Unsubscribed: 0, Complained: 1 },
  { Domain: "yahoo.com", Sent: 1, Delivered: 0, Opened: 0, Clicked: 0, Bounced: 0, Unsubscribed: 0, Complained: 0 },
];

beforeAll(async () => {
  env = inject("stackEnv");
  Object.assign(process.env, env);
  aws = await import("../../shared/aws.js");
  ({ keys } = await import("../../shared/keys.js"));
  user = await createUser();
  f = await statsJourney(user, "SES events");
  const list = Number((await user.post("/api/v1/list", { SubscriberListName: "SES" })).body["ListID"]);
  sub1 = Number((await user.post("/api/v1/subscriber", { ListID: list, EmailAddress: "ann@gmail.com" })).body["SubscriberID"]);
  sub2 = Number((await user.post("/api/v1/subscriber", { ListID: list, EmailAddress: "bob@yahoo.com" })).body["SubscriberID"]);
  expect(sub1).toBeGreaterThan(0);
  expect(sub2).toBeGreaterThan(0);
  mail1 = message(`ses-it-${user.userId}-1`, sub1, "ann@gmail.com");
  mail2 = message(`ses-it-${user.userId}-2`, sub2, "bob@yahoo.com", ["carl@outlook.com"]);

  pushed.push(
    // Subscriber 1: sent, delivered, opened twice, two links clicked, hard-bounced, complained.
    ev(mail1, { type: "Send" }),
    ev(mail1, { type: "Delivery", at: at("09:00:02") }),
    ev(mail1, { type: "Open", at: at("09:05:00") }),
    ev(mail1, { type: "Open", at: at("10:05:00") }),
    ev(mail1, { type: "Click", at: at("09:06:00"), link: "https://shop.example.com/a" }),
    ev(mail1, { type: "Click", at: at("09:07:00"), link: "https://shop.example.com/b" }),
    ev(mail1, { type: "Bounce", at: at("09:08:00"), bounceType: "Permanent" }),
    ev(mail1, { type: "Complaint", at: at("09:09:00") }),
    // Subscriber 2: sent; the CC's delivery and bounce are not the subscriber's; then SES rejected it.
    ev(mail2, { type: "Send" }),
    ev(mail2, { type: "Delivery", at: at("09:00:03"), recipients: ["carl@outlook.com"] }),
    ev(mail2, { type: "Bounce", at: at("09:00:04"), bounceType: "Permanent", recipients: ["carl@outlook.com"] }),
    ev(mail2, { type: "Reject", at: at("09:00:05") }),
  );
  await push(pushed);
  await settled();
}, 120_000);

describe("SES events through the adapter (ENGINE §8.3)", () => {
  it("count per CONTRACT §7 in journey.get: two sends, one delivery, the first open and click, one bounce, one complaint", async () => {
    const { action, journey } = await journeyStats();
    expect(action).toEqual(EXPECTED_ACTION);
    expect(journey).toMatchObject({ ...EXPECTED_ACTION, ConversionCount: 0, BrowserViewCount: 0, ForwardCount: 0 });
  });

  it("count per ISP in journey.stats.byisp, the CC's domain nowhere", async () => {
    expect(await byIsp()).toEqual(EXPECTED_ISP);
  });

  it("list both recipients in journey.action.subscribers, the bounced and complaining one Suppressed, with its engagement flags", async () => {
    const all = await recipients();
    expect(all["Subscribers"]).toEqual([
      { SubscriberID: String(sub1), EmailAddress: "ann@gmail.com", Suppressed: true },
      { SubscriberID: String(sub2), EmailAddress: "bob@yahoo.com", Suppressed: false },
    ]);
    for (const filter of ["opened", "clicked", "bounced", "spam_complaint"]) {
      expect((await recipients([filter]))["Subscribers"], filter).toEqual([{ SubscriberID: String(sub1), EmailAddress: "ann@gmail.com", Suppressed: true }]);
    }
  });

  it("count a CC recipient's Delivery and Bounce nowhere: subscriber 2 has neither", async () => {
    const state = await emailState(sub2);
    expect(state?.["Sent"]).toBe(true);
    expect(state?.["Bounced"]).toBeUndefined();
    expect(state?.["EmailAddress"]).toBe("bob@yahoo.com");
    expect((await recipients(["bounced"]))["Subscribers"]).not.toContainEqual(expect.objectContaining({ SubscriberID: String(sub2) }));
  });

  it("marks the (action, subscriber) email state Failed on a Reject, and counts no event for it", async () => {
    const state = await emailState(sub2);
    expect(state).toMatchObject({ Failed: `${DAY} 09:00:00`, FailedBy: "Reject", SubscriberID: sub2, ActionID: f.a1, JourneyID: f.journeyId });
    // Subscriber 1 had no Reject.
    expect((await emailState(sub1))?.["Failed"]).toBeUndefined();
  });

  it("changes no statistic when the whole batch is delivered again", async () => {
    await push(pushed);
    await settled();
    const { action } = await journeyStats();
    expect(action).toEqual(EXPECTED_ACTION);
    expect(await byIsp()).toEqual(EXPECTED_ISP);
    expect(((await recipients())["Subscribers"] as unknown[]).length).toBe(2);
  });

  it("uses the EventID the runner's own Sent uses, so a send counts once whichever arrives first", async () => {
    const res = await user.post("/api/v1/journey.events", {
      Events: [{ EventID: `ses:${mail1.messageId}:Send`, Type: "Sent", JourneyID: f.journeyId, ActionID: f.a1, SubscriberID: sub1, EmailAddress: "ann@gmail.com", OccurredAt: `${DAY} 09:00:00` }],
    });
    expect(res.body).toMatchObject({ Accepted: 0, Duplicates: 1, Rejected: [] });
  });

  it("drops events without the tags, of another configuration set, or for a journey that is gone, writing nothing", async () => {
    const orphan = 900_000_000 + (user.userId % 1000);
    const untagged = { ...message(`ses-it-${user.userId}-3`, orphan, "dan@gmail.com"), tags: { EntryID: "x" } };
    const foreign = { ...message(`ses-it-${user.userId}-4`, orphan, "dan@gmail.com"), configurationSet: "someone-elses-set" };
    const gone = { ...message(`ses-it-${user.userId}-5`, orphan, "dan@gmail.com") };
    gone.tags = { ...gone.tags, JourneyID: "999999999" };
    await push([ev(untagged, { type: "Send" }), ev(foreign, { type: "Send" }), ev(foreign, { type: "Reject" }), ev(gone, { type: "Reject" })]);
    await settled();
    expect(await emailState(orphan)).toBeUndefined();
    const { action } = await journeyStats();
    expect(action).toEqual(EXPECTED_ACTION);
  });
});

describe("the adapter's partial batch response (run in-process, a send failure injected)", () => {
  type Handler = (event: SQSEvent) => Promise<SQSBatchResponse>;
  afterEach(() => vi.restoreAllMocks());
  const record = (body: unknown): SQSRecord => ({
    messageId: randomUUID(),
    receiptHandle: randomUUID(),
    body: typeof body === "string" ? body : JSON.stringify(body),
    attributes: { ApproximateReceiveCount: "1", SentTimestamp: String(Date.now()), SenderId: "000000000000", ApproximateFirstReceiveTimestamp: String(Date.now()) },
    messageAttributes: {},
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:journey-ses-events",
    awsRegion: "us-east-1",
  });

  it("reports only the records whose user's message could not be sent; dropped ones and the rest succeed", async () => {
    const { handler } = (await import("../../functions/ses-events/index.js")) as { handler: Handler };
    const [ok, failing] = await Promise.all([createUser(), createUser()]);
    const [fOk, fFailing] = await Promise.all([statsJourney(ok, "SES ok"), statsJourney(failing, "SES failing")]);
    const mailOf = (u: TestUser, fx: Fixture, n: number): SesMail => ({
      ...message(`ses-it-batch-${u.userId}-${n}`, 77, "eve@gmail.com"),
      tags: { UserID: String(u.userId), JourneyID: String(fx.journeyId), ActionID: String(fx.a1), SubscriberID: "77" },
    });
    const good = [record(ev(mailOf(ok, fOk, 1), { type: "Send" })), record(ev(mailOf(ok, fOk, 1), { type: "Delivery", at: at("09:00:01") }))];
    const bad = [record(ev(mailOf(failing, fFailing, 1), { type: "Send" })), record(ev(mailOf(failing, fFailing, 1), { type: "Open", at: at("09:00:02") }))];
    const dropped = [record("not json"), record(ev({ ...mailOf(ok, fOk, 2), configurationSet: "other" }, { type: "Send" }))];

    // The failing user's message to the events queue fails, as a throttled SQS would.
    const realFetch = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const body = typeof init?.body === "string" ? (JSON.parse(init.body) as { MessageBody?: string }) : {};
      if (body.MessageBody && (JSON.parse(body.MessageBody) as { UserID?: number }).UserID === failing.userId) throw new Error("injected: SQS unavailable");
      return realFetch(input, init);
    });
    const res = await handler({ Records: [good[0]!, bad[0]!, dropped[0]!, good[1]!, bad[1]!, dropped[1]!] });
    vi.restoreAllMocks();
    expect(res.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(bad.map((r) => r.messageId).sort());

    await settled();
    const statsOf = async (u: TestUser, fx: Fixture) =>
      ((await u.get("/api/v1/journey", { JourneyID: fx.journeyId, ...WINDOW })).body["Actions"] as Record<string, unknown>[]).find((a) => Number(a["ActionID"]) === fx.a1)!["Stats"];
    expect(await statsOf(ok, fOk)).toMatchObject({ SendCount: 1, DeliveryCount: 1 });
    expect(await statsOf(failing, fFailing)).toMatchObject({ SendCount: 0, OpenCount: 0 });
  });
});

describe("POST /_local/ses/events, its refusals (the outbox lives in the stack's own process)", () => {
  const post = (body: unknown, headers: Record<string, string> = { AdminAPIKey: adminKey() }) => http.post("/_local/ses/events", body, headers);

  it("requires the AdminAPIKey header", async () => {
    expect(outcome(await post({ MessageId: "local-x", Type: "Open" }, {}))).toEqual([401, 99998]);
    expect(outcome(await post({ MessageId: "local-x", Type: "Open" }, { AdminAPIKey: "wrong-key-0123456789" }))).toEqual([401, 99998]);
  });

  it.each([
    [{}, "MessageId"],
    [{ MessageId: 12, Type: "Open" }, "MessageId"],
    [{ MessageId: "local-x" }, "Type"],
    [{ MessageId: "local-x", Type: "Send" }, "Type"],
    [{ MessageId: "local-x", Type: "DeliveryDelay" }, "Type"],
    [{ MessageId: "local-x", Type: "Click", Link: 5 }, "Link"],
    [{ MessageId: "local-x", Type: "Bounce", BounceType: "Hard" }, "BounceType"],
    [{ MessageId: "local-x", Type: "Delivery", Recipients: "a@x.com" }, "Recipients"],
    [{ MessageId: "local-x", Type: "Delivery", Recipients: [] }, "Recipients"],
    [{ MessageId: "local-x", Type: "Delivery", Recipients: [""] }, "Recipients"],
  ])("answers %j with 422 Invalid %s parameter", async (body, name) => {
    const res = await post(body);
    expect(res.status, res.text).toBe(422);
    expect(res.body).toEqual({ Success: false, Errors: [{ Code: 1, Message: `Invalid ${name} parameter` }] });
  });

  it("answers 404, code 2, for a MessageId that is not in the local outbox", async () => {
    const res = await post({ MessageId: "local-never-sent", Type: "Open" });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ Success: false, Errors: [{ Code: 2, Message: expect.any(String) }] });
  });
});
