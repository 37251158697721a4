import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cursorsOf, startEngineStack, subscriber, type EngineStack, type EngineUser } from "../support/engine.js";

/**
 * The real SES v2 call (ENGINE §8.1–§8.2) against an SES double on 127.0.0.1: the
 * stack runs with `DELIVERY_MODE` unset, so the runner builds and sends the very
 * request it sends on AWS, and the double answers as SES does: accepted,
 * throttled, refused, a 5xx, or nothing at all. That is fault injection, the only
 * use of a double here; everything else is the local stack.
 */
type Answer = { status: number; type?: string; body?: Record<string, unknown>; hang?: boolean };
const script: Answer[] = [];
const received: Record<string, unknown>[] = [];
let server: Server;
let engine: EngineStack;

function ses(req: IncomingMessage, res: ServerResponse) {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    if (req.method === "POST" && req.url === "/v2/email/outbound-emails") received.push(JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>);
    const answer = script.shift() ?? { status: 200, body: { MessageId: `ses-${received.length}` } };
    if (answer.hang) return; // Never answers: the client's 10 s request timeout must end it.
    res.writeHead(answer.status, { "content-type": "application/json", ...(answer.type ? { "x-amzn-errortype": answer.type } : {}) });
    res.end(JSON.stringify(answer.body ?? { message: answer.type ?? "error" }));
  });
}

beforeAll(async () => {
  server = createServer(ses);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as AddressInfo).port;
  engine = await startEngineStack({
    DELIVERY_MODE: "ses",
    SES_ENDPOINT: `http://127.0.0.1:${port}`,
    SES_CONFIGURATION_SET: "journey-test",
    SENDER_DOMAINS: JSON.stringify({ "0": { Domain: "news.example.com" } }),
  });
}, 120_000);
afterAll(async () => {
  await engine?.stop();
  server?.closeAllConnections();
  server?.close();
});

type Step = { Action: string; Outcome: string; Reason: string; Detail: Record<string, unknown> };

async function setup(user: EngineUser, address: string) {
  const l = Number((await user.post("/api/v1/list", { SubscriberListName: "L" })).body["ListID"]);
  const e = Number((await user.post("/api/v1/email", { EmailName: "E", Subject: "Über", HTMLContent: "<p>h</p>", PlainContent: "t" })).body["EmailID"]);
  const j = Number((await user.post("/api/v1/journey", { Name: "J" })).body["JourneyID"]);
  const upd = await user.patch("/api/v1/journey.actions", {
    JourneyID: j,
    Actions: [{ Action: "SendEmail", EmailID: e, From: { Name: "Zoë", Email: "z@news.example.com" }, BCC: [{ Email: "audit@example.org" }], Published: true }],
  });
  expect(upd.status, upd.text).toBe(200);
  expect((await user.get("/api/v1/journey.enable", { JourneyID: j })).status).toBe(200);
  const sid = await subscriber(user, l, address);
  return { l, j, sid, actionId: Number((upd.body["Actions"] as Record<string, unknown>[])[0]!["ActionID"]) };
}
async function run(user: EngineUser, s: Awaited<ReturnType<typeof setup>>) {
  const res = await user.post("/api/v1/subscriber.journey.trigger", { JourneyID: s.j, ListID: s.l, SubscriberID: s.sid });
  expect(res.status, res.text).toBe(200);
}
/** The subscriber's one cursor; an empty one until its enrolment is visible, so polls keep polling. */
async function cursor(user: EngineUser, sid: number): Promise<Record<string, unknown>> {
  const [c] = await cursorsOf(user.userId, sid);
  return c ?? { Steps: [] };
}

describe("the SES v2 call", () => {
  it("sends SES the message, configuration set, headers and tags, with one attempt, and records Done", { timeout: 90_000 }, async () => {
    const user = await engine.user();
    const s = await setup(user, "one@example.com");
    received.length = 0;
    await run(user, s);
    await engine.idle();
    expect(received).toHaveLength(1);
    const body = received[0]!;
    expect(body).toMatchObject({
      FromEmailAddress: `=?UTF-8?B?${Buffer.from("Zoë").toString("base64")}?= <z@news.example.com>`,
      Destination: { ToAddresses: ["one@example.com"], BccAddresses: ["audit@example.org"] },
      ConfigurationSetName: "journey-test",
      Content: { Simple: { Subject: { Data: "Über", Charset: "UTF-8" }, Body: { Html: { Data: "<p>h</p>" }, Text: { Data: "t" } } } },
    });
    const headers = (body["Content"] as { Simple: { Headers: { Name: string; Value: string }[] } }).Simple.Headers;
    expect(headers.map((h) => h.Name)).toEqual(["List-Unsubscribe", "List-Unsubscribe-Post"]);
    expect(body["EmailTags"]).toEqual([
      { Name: "UserID", Value: String(user.userId) },
      { Name: "JourneyID", Value: String(s.j) },
      { Name: "ActionID", Value: String(s.actionId) },
      { Name: "SubscriberID", Value: String(s.sid) },
      { Name: "EntryID", Value: String((await cursor(user, s.sid))["EntryID"]) },
    ]);
    const [step] = (await cursor(user, s.sid))["Steps"] as Step[];
    expect(step).toMatchObject({ Outcome: "Done", Detail: { MessageId: "ses-1" } });
  });

  it("a definite refusal is Failed SesRejected with its code; a 5xx is Unconfirmed NoAnswer, never retried", { timeout: 90_000 }, async () => {
    const user = await engine.user();
    const refused = await setup(user, "refused@example.com");
    const broken = await setup(user, "broken@example.com");
    received.length = 0;
    script.push({ status: 400, type: "MessageRejected", body: { message: "Email address is not verified." } });
    await run(user, refused);
    await engine.idle();
    script.push({ status: 500, type: "InternalFailure" });
    await run(user, broken);
    await engine.idle();
    expect(received).toHaveLength(2);
    expect(((await cursor(user, refused.sid))["Steps"] as Step[])[0]).toMatchObject({ Outcome: "Failed", Reason: "SesRejected", Detail: { Code: "MessageRejected" } });
    const [unconfirmed] = (await cursor(user, broken.sid))["Steps"] as Step[];
    expect(unconfirmed).toMatchObject({ Outcome: "Unconfirmed", Reason: "NoAnswer" });
    expect(String(unconfirmed!.Detail["Error"])).toContain("500");
  });

  it("no answer within 10 s is Unconfirmed NoAnswer", { timeout: 90_000 }, async () => {
    const user = await engine.user();
    const s = await setup(user, "hang@example.com");
    received.length = 0;
    script.push({ status: 0, hang: true });
    const started = Date.now();
    await run(user, s);
    await expect.poll(async () => ((await cursor(user, s.sid))["Steps"] as Step[]).length, { timeout: 40_000 }).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(9_000);
    expect(((await cursor(user, s.sid))["Steps"] as Step[])[0]).toMatchObject({ Outcome: "Unconfirmed", Reason: "NoAnswer" });
    expect(received).toHaveLength(1);
  });

  it("throttling re-parks the cursor on the action for 60 s (Deferred Throttled), then the next try sends", { timeout: 150_000 }, async () => {
    const user = await engine.user();
    const s = await setup(user, "slow@example.com");
    received.length = 0;
    script.push({ status: 429, type: "TooManyRequestsException" });
    await run(user, s);
    await expect.poll(async () => ((await cursor(user, s.sid))["Steps"] as Step[]).length, { timeout: 30_000 }).toBe(1);
    const parked = await cursor(user, s.sid);
    expect((parked["Steps"] as Step[])[0]).toMatchObject({ Outcome: "Deferred", Reason: "Throttled", Detail: { Attempt: 1 } });
    expect(parked["ActionID"]).toBe(s.actionId);
    expect(parked["Throttles"]).toBe(1);
    expect(parked["Intent"]).toBeUndefined();
    // Its own delayed message (60 s) brings it back; the clock need not move.
    await expect.poll(async () => (await cursor(user, s.sid))["State"], { timeout: 120_000, interval: 2_000 }).toBe("Completed");
    const done = await cursor(user, s.sid);
    expect((done["Steps"] as Step[]).map((x) => `${x.Outcome}:${x.Reason}`)).toEqual(["Deferred:Throttled", "Done:"]);
    expect(done["Throttles"]).toBeUndefined();
    expect(received).toHaveLength(2);
  });
});
