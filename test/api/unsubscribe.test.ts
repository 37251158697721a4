import { randomUUID } from "node:crypto";
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { beforeAll, describe, expect, inject, it, vi } from "vitest";
import { baseUrl, createUser, type TestUser } from "../support/api.js";
import { countsOf, eventually, ok, settled, triggerJourney } from "../support/enrolments.js";
import { sqsClient } from "../support/sqs.js";

/**
 * One-click unsubscribe (ENGINE §8.4, §12 "One-click unsubscribe") against the suite's
 * local stack: the public route served by the real handler through the local gateway.
 * Links are made as the SendEmail step makes them, by the signing module itself, with
 * the keys the stack hands its handlers (stackEnv).
 */

type Json = Record<string, any>;

// ListUnsubscription is seen through the engine (an enrolment), shared with the other test worker.
vi.setConfig({ testTimeout: 120_000 });

async function links() {
  Object.assign(process.env, inject("stackEnv"));
  const token = await import("../../shared/delivery/unsubscribe-token.js");
  const { getSubscriber } = await import("../../shared/domain/subscribers/subscribers.js");
  const { keys } = await import("../../shared/keys.js");
  const { ddb, tableName } = await import("../../shared/aws.js");
  const { DeleteCommand } = await import("@aws-sdk/lib-dynamodb");
  return { ...token, getSubscriber, deleteSubscriber: (userId: number, id: number) => ddb().send(new DeleteCommand({ TableName: tableName(), Key: keys.subscriber(userId, id) })) };
}
let m: Awaited<ReturnType<typeof links>>;

let user: TestUser;
let list: number;
let journey: number;
let action: number;
let probe: number;

const form = { "content-type": "application/x-www-form-urlencoded" };
const get = (url: string) => fetch(url, { redirect: "manual" });
const post = (url: string, body = "List-Unsubscribe=One-Click") => fetch(url, { method: "POST", headers: form, body });

async function newSubscriber(email = `u-${randomUUID().slice(0, 8)}@example.com`): Promise<number> {
  const res = await ok(() => user.post("/api/v1/subscriber", { ListID: list, EmailAddress: email }));
  return Number(res.body["SubscriberID"]);
}

async function subscriber(id: number): Promise<Json> {
  return (await ok(() => user.get("/api/v1/subscriber", { ListID: list, SubscriberID: id }))).body;
}

/** UnsubscribeCount of the action in journey.get (all-time) and journey.stats.byaction (today is in its default window). */
async function unsubscribeCounts(): Promise<[number, number]> {
  const got = (await ok(() => user.get("/api/v1/journey", { JourneyID: journey }))).body;
  const byAction = (await ok(() => user.get("/api/v1/journey.stats.byaction", { JourneyID: journey }))).body;
  const row = (byAction["Actions"] as Json[]).find((a) => Number(a["ActionID"]) === action);
  return [Number((got as Json)["JourneyStats"]["AggregatedEmailActions"]["UnsubscribeCount"]), Number(row?.["Stats"]["UnsubscribeCount"])];
}

/** Waits until the events queue holds nothing (twice in a row), so an event sent before has been ingested. */
async function eventsDrained(timeoutMs = 30_000): Promise<void> {
  const url = inject("stackEnv")["EVENTS_QUEUE_URL"]!;
  const deadline = Date.now() + timeoutMs;
  let streak = 0;
  while (Date.now() < deadline) {
    const { Attributes: a = {} } = await sqsClient().send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"] }),
    );
    const depth = Number(a["ApproximateNumberOfMessages"] ?? 0) + Number(a["ApproximateNumberOfMessagesNotVisible"] ?? 0) + Number(a["ApproximateNumberOfMessagesDelayed"] ?? 0);
    streak = depth === 0 ? streak + 1 : 0;
    if (streak >= 2) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("the events queue did not drain");
}

beforeAll(async () => {
  m = await links();
  user = await createUser();
  list = Number((await ok(() => user.post("/api/v1/list", { SubscriberListName: "Newsletter" }))).body["ListID"]);
  const email = Number((await ok(() => user.post("/api/v1/email", { EmailName: "Weekly", Subject: "Hello" }))).body["EmailID"]);
  // The journey whose email carried the link: Disabled, so nothing else runs in it.
  journey = Number((await ok(() => user.post("/api/v1/journey", { Name: `News ${randomUUID().slice(0, 6)}`, Trigger: "Manual" }))).body["JourneyID"]);
  const tree = await ok(() => user.patch("/api/v1/journey.actions", { JourneyID: journey, Actions: [{ Action: "SendEmail", EmailID: email, Published: true }] }));
  action = Number((tree.body["Actions"] as Json[])[0]!["ActionID"]);
  // ListUnsubscription on that list: each firing enrols (and, with no action, completes at once).
  probe = await triggerJourney(user, { Trigger: "ListUnsubscription", Trigger_ListID: list });
}, 120_000);

describe("GET /unsubscribe/{token}", () => {
  it("answers a small page with a strict CSP and no script, and changes nothing", async () => {
    const sub = await newSubscriber();
    const url = await m.unsubscribeUrl(user.userId, sub, journey, action);
    expect(url.startsWith(`${inject("stackEnv")["PUBLIC_BASE_URL"]}/unsubscribe/`)).toBe(true);
    const res = await get(url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/form-action 'self'/);
    expect(csp).not.toMatch(/script-src|unsafe-inline|unsafe-eval|https?:|\*/);
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(res.headers.get("cache-control")).toBe("no-store");
    const html = await res.text();
    expect(html).toMatch(/<form method="post">/);
    expect(html).not.toMatch(/<script|\son\w+=|src=|href=/i);
    // The page does not repeat the token: the form posts back to its own URL.
    expect(html).not.toContain(url.split("/").at(-1));

    // Twice, as a scanner and then a person would: still Subscribed, nothing fired or counted.
    expect((await get(url)).status).toBe(200);
    await settled();
    const after = await subscriber(sub);
    expect(after["SubscriberInformation"]["SubscriptionStatus"]).toBe("Subscribed");
    expect(after["Suppressed"]).toBe(false);
    expect(await countsOf(user, list, sub)).toEqual({});
  });
});

describe("POST /unsubscribe/{token}", () => {
  it("unsubscribes, fires ListUnsubscription and counts UnsubscribeCount once, however often it is posted", async () => {
    const sub = await newSubscriber();
    const url = await m.unsubscribeUrl(user.userId, sub, journey, action);
    expect(await unsubscribeCounts()).toEqual([0, 0]);

    const res = await post(url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await res.text()).toBe("You have been unsubscribed.");

    // The status is written before the answer; the source IP is kept.
    const info = (await subscriber(sub))["SubscriberInformation"];
    expect(info["SubscriptionStatus"]).toBe("Unsubscribed");
    expect(info["UnsubscriptionDate"]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect((await m.getSubscriber(user.userId, sub))?.["UnsubscriptionIP"]).toBe("127.0.0.1");
    // The Unsubscribed event, through the events queue and the ingest core: counted, and SuppressedBy set.
    await eventually(async () => expect(await unsubscribeCounts()).toEqual([1, 1]), 30_000);
    expect((await subscriber(sub))["Suppressed"]).toBe(true);
    expect((await m.getSubscriber(user.userId, sub))?.["SuppressedBy"]).toBe("Unsubscribed");
    await eventually(async () => expect(await countsOf(user, list, sub)).toEqual({ [probe]: 1 }), 30_000);

    // Again, with another body (any body will do): the same answer, nothing counted or fired twice.
    const again = await post(url, "");
    expect(again.status).toBe(200);
    expect(await again.text()).toBe("You have been unsubscribed.");
    await eventsDrained();
    await settled();
    expect(await unsubscribeCounts()).toEqual([1, 1]);
    expect(await countsOf(user, list, sub)).toEqual({ [probe]: 1 });
    expect((await subscriber(sub))["SubscriberInformation"]["UnsubscriptionDate"]).toBe(info["UnsubscriptionDate"]);
  });

  it("still unsubscribes when the journey is gone; its event is rejected silently", async () => {
    const gone = Number((await ok(() => user.post("/api/v1/journey", { Name: `Gone ${randomUUID().slice(0, 6)}` }))).body["JourneyID"]);
    await ok(() => user.post("/api/v1/journey.delete", { JourneyID: gone }));
    const sub = await newSubscriber();
    const res = await post(await m.unsubscribeUrl(user.userId, sub, gone, action));
    expect([res.status, await res.text()]).toEqual([200, "You have been unsubscribed."]);
    expect((await subscriber(sub))["SubscriberInformation"]["SubscriptionStatus"]).toBe("Unsubscribed");
  });
});

describe("links that are not valid", () => {
  const notValid = async (res: Response) => {
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await res.text()).toBe("Link not valid.");
  };

  it("answers 404 Link not valid. to GET and POST of a forged or malformed token, and changes nothing", async () => {
    const sub = await newSubscriber();
    const real = (await m.unsubscribeUrl(user.userId, sub, journey, action)).split("/").at(-1)!;
    const [payload, signature] = real.split(".") as [string, string];
    const forgedPayload = Buffer.from(`1.1.${user.userId}.${sub}.${journey}.${action + 1}`).toString("base64url");
    const otherKey = m.signToken({ userId: user.userId, subscriberId: sub, journeyId: journey, actionId: action }, m.parseSigningKeys(m.newSigningKeysJson(), "test"));
    for (const token of [`${forgedPayload}.${signature}`, `${payload}.${signature.slice(1)}`, otherKey, "not-a-token", `${payload}.${signature}.x`]) {
      const url = `${baseUrl()}/unsubscribe/${encodeURIComponent(token)}`;
      await notValid(await get(url));
      await notValid(await post(url));
    }
    await settled();
    expect((await subscriber(sub))["SubscriberInformation"]["SubscriptionStatus"]).toBe("Subscribed");
    expect(await countsOf(user, list, sub)).toEqual({});
  });

  it("answers 404 for a subscriber that is gone, or that the token's user does not own", async () => {
    const sub = await newSubscriber();
    const url = await m.unsubscribeUrl(user.userId, sub, journey, action);
    await m.deleteSubscriber(user.userId, sub);
    await notValid(await get(url));
    await notValid(await post(url));

    // A genuine signature over another user's ID finds no subscriber under that user.
    const other = await createUser();
    const mine = await newSubscriber();
    const foreign = await m.unsubscribeUrl(other.userId, mine, journey, action);
    await notValid(await get(foreign));
    await notValid(await post(foreign));
    expect((await subscriber(mine))["SubscriberInformation"]["SubscriptionStatus"]).toBe("Subscribed");
  });

  it("is not a command: /api.php does not know it, and other methods fall to the dispatcher", async () => {
    const sub = await newSubscriber();
    const url = await m.unsubscribeUrl(user.userId, sub, journey, action);
    const put = await fetch(url, { method: "PUT" });
    expect(put.headers.get("content-type")).toMatch(/^application\/json/);
    const legacy = await user.legacy({ Command: "unsubscribe" });
    expect(legacy.body["Success"]).toBe(false);
    expect((await subscriber(sub))["SubscriberInformation"]["SubscriptionStatus"]).toBe("Subscribed");
  });
});
