import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EngineStack, EngineUser } from "../support/engine.js";

/**
 * SendSMS (ENGINE §8.5) and Webhook (§8.6) as steps of a running journey,
 * black-box on this file's own stack: SMS through the local sender into
 * `/_local/outbox`, webhooks to a receiver on 127.0.0.1 (the local-only
 * WEBHOOK_ALLOW_LOOPBACK lets the guard admit it; every other address rule stays).
 *
 * SMS_GATEWAYS is read when the SMS module loads, so the stack is imported only
 * after this file has set it.
 */
const POOL = "arn:aws:sms-voice:us-east-1:111122223333:pool/pool-local";
const SENDER = "arn:aws:sms-voice:us-east-1:111122223333:sender-id/ACME/GB";
let engine: EngineStack;
let support: typeof import("../support/engine.js");
let receiver: Server;
let hookUrl = "";
type Received = { headers: IncomingHttpHeaders; body: Record<string, unknown> };
const received: Received[] = [];
const answers: number[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown> });
      res.writeHead(answers.shift() ?? 200);
      res.end("ok");
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", () => r()));
  hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  process.env["SMS_GATEWAYS"] = JSON.stringify({ "0": { OriginationIdentity: POOL, SenderIds: { ACME: SENDER } } });
  process.env["WEBHOOK_ALLOW_LOOPBACK"] = "1";
  support = await import("../support/engine.js");
  engine = await support.startEngineStack();
}, 120_000);
afterAll(async () => {
  await engine?.stop();
  receiver?.closeAllConnections();
  receiver?.close();
});

type Params = Record<string, unknown>;
type Step = { Action: string; Outcome: string; Reason: string; Detail: Record<string, unknown> };
const pub = (a: Params): Params => ({ Published: true, ...a });

async function setup(user: EngineUser, actions: Params[], address: string, attrs: Params = {}) {
  const l = Number((await user.post("/api/v1/list", { SubscriberListName: "L" })).body["ListID"]);
  const created = await user.post("/api/v1/journey", { Name: "Hooks and texts" });
  const j = Number(created.body["JourneyID"]);
  const upd = await user.patch("/api/v1/journey.actions", { JourneyID: j, Actions: actions });
  expect(upd.status, upd.text).toBe(200);
  expect((await user.get("/api/v1/journey.enable", { JourneyID: j })).status).toBe(200);
  const sid = await support.subscriber(user, l, address, attrs);
  const res = await user.post("/api/v1/subscriber.journey.trigger", { JourneyID: j, ListID: l, SubscriberID: sid });
  expect(res.status, res.text).toBe(200);
  return { l, j, sid, actionIds: (upd.body["Actions"] as Params[]).map((a) => Number(a["ActionID"])) };
}
async function cursorOf(user: EngineUser, sid: number) {
  const [c] = await support.cursorsOf(user.userId, sid);
  return c!;
}
const stepsOf = async (user: EngineUser, sid: number) => (await cursorOf(user, sid))["Steps"] as Step[];
async function outbox(query: Params): Promise<Params[]> {
  const qs = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)])).toString();
  return (await engine.local("GET", `/_local/outbox?${qs}`)).body["Messages"] as Params[];
}

describe("SendSMS", () => {
  it("sends the personalised text with its link from the gateway's sender ID, and records Done {MessageId}", async () => {
    const user = await engine.user();
    const s = await setup(
      user,
      [pub({ Action: "SendSMS", gateway_id: 0, sender_id: "ACME", message: "Hi %Subscriber:EmailAddress% #{{SubscriberID}}", include_link: true, link_url: "https://shop.example.com/a?x=1", link_utm_source: "journey", priority: "high" })],
      "texted@example.com",
      { PhoneNumber: "+447700900123" },
    );
    await engine.idle();
    const [m] = await outbox({ Channel: "sms", JourneyID: s.j });
    expect(m).toMatchObject({
      Channel: "sms",
      From: SENDER,
      To: ["+447700900123"],
      MessageType: "TRANSACTIONAL",
      Body: `Hi texted@example.com #${s.sid} https://shop.example.com/a?x=1&utm_source=journey`,
      Tags: { UserID: String(user.userId), JourneyID: String(s.j), ActionID: String(s.actionIds[0]), SubscriberID: String(s.sid) },
    });
    expect((await stepsOf(user, s.sid))[0]).toMatchObject({ Action: "SendSMS", Outcome: "Done", Detail: { MessageId: m!["MessageId"] } });
  });

  it("no phone: Skipped NoPhone, or Failed NoPhone with skip_if_no_phone false; not sendable: Skipped Suppressed; nothing sent", async () => {
    const user = await engine.user();
    const s = await setup(
      user,
      [pub({ Action: "SendSMS", message: "a" }), pub({ Action: "SendSMS", message: "b", skip_if_no_phone: false })],
      "nophone@example.com",
    );
    const t = await setup(user, [pub({ Action: "SendSMS", message: "c" })], "left@example.com", { PhoneNumber: "+15550101", SubscriptionStatus: "Unsubscribed" });
    await engine.idle();
    expect((await stepsOf(user, s.sid)).map((x) => `${x.Outcome}:${x.Reason}`)).toEqual(["Skipped:NoPhone", "Failed:NoPhone"]);
    expect((await stepsOf(user, t.sid))[0]).toMatchObject({ Outcome: "Skipped", Reason: "Suppressed", Detail: { SuppressedBy: "Unsubscribed" } });
    expect(await outbox({ Channel: "sms", JourneyID: s.j })).toHaveLength(0);
    expect(await outbox({ Channel: "sms", JourneyID: t.j })).toHaveLength(0);
  });

  it("outside its delivery window (in its own time zone) the cursor waits on the action (Deferred OutsideWindow), then sends once", { timeout: 120_000 }, async () => {
    const user = await engine.user();
    const now = new Date(`${String((await engine.local("GET", "/_local/clock")).body["Now"]).replace(" ", "T")}Z`);
    // A window on tomorrow's weekday only, in Tokyo: today is never inside it.
    const tomorrow = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"][new Date(now.getTime() + 2 * 86_400_000).getUTCDay()]!;
    const s = await setup(
      user,
      [pub({ Action: "SendSMS", message: "later", delivery_window_enabled: true, delivery_window: { timezone: "Asia/Tokyo", start_time: "09:00", end_time: "10:00", days: [tomorrow] } })],
      "window@example.com",
      { PhoneNumber: "+15550102" },
    );
    await engine.idle();
    const c = await cursorOf(user, s.sid);
    const [deferred] = c["Steps"] as Step[];
    expect(deferred).toMatchObject({ Outcome: "Deferred", Reason: "OutsideWindow" });
    const until = String(deferred!.Detail["Until"]);
    // 09:00 in Tokyo is 00:00 UTC.
    expect(until).toMatch(/ 00:00:00$/);
    expect(c["ActionID"]).toBe(s.actionIds[0]);
    expect(await outbox({ Channel: "sms", JourneyID: s.j })).toHaveLength(0);
    await engine.local("POST", "/_local/clock", { SetNow: until });
    await engine.idle();
    expect((await stepsOf(user, s.sid)).map((x) => `${x.Outcome}:${x.Reason}`)).toEqual(["Deferred:OutsideWindow", "Done:"]);
    expect(await outbox({ Channel: "sms", JourneyID: s.j })).toHaveLength(1);
  });
});

describe("Webhook", () => {
  it("POSTs the documented body and headers once, and records Done {Status, Attempts, Ms}", async () => {
    const user = await engine.user();
    received.length = 0;
    const s = await setup(user, [pub({ Action: "Webhook", WebhookURL: hookUrl })], "hooked@example.com", { CustomFields: { "7": "Gold" }, Tags: [4, 1] });
    await engine.idle();
    expect(received).toHaveLength(1);
    const c = await cursorOf(user, s.sid);
    const deliveryId = `${String(c["EntryID"])}:${s.actionIds[0]}`;
    expect(received[0]!.headers).toMatchObject({ "content-type": "application/json; charset=utf-8", "user-agent": "JourneyAPI-Webhook/1", "x-journey-delivery": deliveryId });
    expect(received[0]!.body).toMatchObject({
      Event: "journey.webhook",
      DeliveryID: deliveryId,
      UserID: user.userId,
      JourneyID: s.j,
      JourneyName: "Hooks and texts",
      ActionID: s.actionIds[0],
      EntryID: c["EntryID"],
      Subscriber: { SubscriberID: s.sid, ListID: s.l, EmailAddress: "hooked@example.com", SubscriptionStatus: "Subscribed", PhoneNumber: "", CustomFields: { "7": "Gold" } },
    });
    expect(String(received[0]!.body["OccurredAt"])).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect((c["Steps"] as Step[])[0]).toMatchObject({ Action: "Webhook", Outcome: "Done", Detail: { Status: 200, Attempts: 1 } });
  });

  it("503 then 200 is Done with Attempts 2; a refused address is Failed SsrfRefused with no attempt; the journey goes on either way", async () => {
    const user = await engine.user();
    received.length = 0;
    answers.push(503);
    const tag = Number((await user.post("/api/v1/subscriber.tags", { ListID: Number((await user.post("/api/v1/list", { SubscriberListName: "T" })).body["ListID"]), TagName: "x" })).body["TagID"]);
    const s = await setup(user, [pub({ Action: "Webhook", WebhookURL: hookUrl }), pub({ Action: "Webhook", WebhookURL: "https://169.254.169.254/latest/meta-data" }), pub({ Action: "AddTag", TargetTagID: tag })], "retry@example.com");
    await engine.idle();
    expect(received).toHaveLength(2);
    expect(received[0]!.headers["x-journey-delivery"]).toBe(received[1]!.headers["x-journey-delivery"]);
    const steps = await stepsOf(user, s.sid);
    expect(steps[0]).toMatchObject({ Outcome: "Done", Detail: { Status: 200, Attempts: 2 } });
    expect(steps[1]).toMatchObject({ Outcome: "Failed", Reason: "SsrfRefused", Detail: { Attempts: 0, Address: "169.254.169.254" } });
    // The tag belongs to another list: the point is only that the step after the failure ran.
    expect(steps[2]).toMatchObject({ Action: "AddTag" });
  });
});
