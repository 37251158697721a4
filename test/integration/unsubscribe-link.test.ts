import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { buildEvent, lambdaContext } from "../../infra/local/gateway.js";
import { createUser, type TestUser } from "../support/api.js";
import { eventually, ok } from "../support/enrolments.js";
import { loadHandler, type Handler } from "../support/in-process.js";
import { logsWhile } from "../support/logs.js";

/**
 * The unsubscribe function in process, against the suite's local stack: what it logs
 * (never the token or a key), a failed event hand-off (500, completed by the next POST),
 * and a verifier meeting a kid added after it read its keys.
 */
type Json = Record<string, any>;

let user: TestUser;
let handler: Handler;
let tokens: typeof import("../../shared/delivery/unsubscribe-token.js");
let config: typeof import("../../shared/config.js");
let list: number;
let journey: number;
let action: number;

beforeAll(async () => {
  user = await createUser();
  handler = await loadHandler("unsubscribe", { POWERTOOLS_LOG_LEVEL: "INFO" });
  tokens = await import("../../shared/delivery/unsubscribe-token.js");
  config = await import("../../shared/config.js");
  list = Number((await ok(() => user.post("/api/v1/list", { SubscriberListName: "In-process list" }))).body["ListID"]);
  const email = Number((await ok(() => user.post("/api/v1/email", { EmailName: "E", Subject: "S" }))).body["EmailID"]);
  journey = Number((await ok(() => user.post("/api/v1/journey", { Name: `J ${randomUUID().slice(0, 6)}` }))).body["JourneyID"]);
  const tree = await ok(() => user.patch("/api/v1/journey.actions", { JourneyID: journey, Actions: [{ Action: "SendEmail", EmailID: email }] }));
  action = Number((tree.body["Actions"] as Json[])[0]!["ActionID"]);
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
  delete process.env["UNSUBSCRIBE_KEYS_FILE"];
  Object.assign(process.env, inject("stackEnv"));
  config.resetConfigForTests();
});

const newSubscriber = async () =>
  Number((await ok(() => user.post("/api/v1/subscriber", { ListID: list, EmailAddress: `i-${randomUUID().slice(0, 8)}@example.com` }))).body["SubscriberID"]);

function call(method: "GET" | "POST", token: string) {
  const path = `/unsubscribe/${token}`;
  return handler(
    buildEvent({
      method,
      path,
      routeKey: `${method} /unsubscribe/{token}`,
      pathParameters: { token },
      sourceIp: "203.0.113.9",
      ...(method === "POST" ? { body: Buffer.from("List-Unsubscribe=One-Click"), headers: { "content-type": "application/x-www-form-urlencoded" } } : {}),
    }),
    lambdaContext("in-process-unsubscribe"),
  );
}

const unsubscribeCount = async () =>
  Number(((await ok(() => user.get("/api/v1/journey", { JourneyID: journey }))).body as Json)["JourneyStats"]["AggregatedEmailActions"]["UnsubscribeCount"]);

describe("the unsubscribe function in process", () => {
  it("logs one request line per call with the route pattern, and never the token or a key", async () => {
    const sub = await newSubscriber();
    const token = await tokens.unsubscribeToken(user.userId, sub, journey, action);
    const forged = `${token.split(".")[0]}.${"A".repeat(43)}`;
    const out = await logsWhile(async () => {
      expect((await call("GET", token)).statusCode).toBe(200);
      expect((await call("POST", token)).statusCode).toBe(200);
      expect((await call("GET", forged)).statusCode).toBe(404);
      expect((await call("POST", forged)).statusCode).toBe(404);
    });
    const lines = out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Json).filter((l) => l["message"] === "request");
    expect(lines.map((l) => [l["route"], l["status"], l["command"]])).toEqual([
      ["GET /unsubscribe/{token}", 200, "unsubscribe"],
      ["POST /unsubscribe/{token}", 200, "unsubscribe"],
      ["GET /unsubscribe/{token}", 404, "unsubscribe"],
      ["POST /unsubscribe/{token}", 404, "unsubscribe"],
    ]);
    for (const secret of [token, token.split(".")[0]!, token.split(".")[1]!, forged, ...Object.values(JSON.parse(process.env["UNSUBSCRIBE_KEYS"]!) as Record<string, string>)]) {
      expect(out).not.toContain(secret);
    }
    // The source IP API Gateway reports is kept.
    const { getSubscriber } = await import("../../shared/domain/subscribers/subscribers.js");
    expect((await getSubscriber(user.userId, sub))?.["UnsubscriptionIP"]).toBe("203.0.113.9");
  });

  it("answers 500 when the event cannot be handed to the events queue, and the next POST completes it", async () => {
    const sub = await newSubscriber();
    const token = await tokens.unsubscribeToken(user.userId, sub, journey, action);
    const before = await unsubscribeCount();
    // A queue that does not exist: the fault a lost SQS call would be.
    process.env["EVENTS_QUEUE_URL"] = `${inject("stackEnv")["EVENTS_QUEUE_URL"]}-missing`;
    config.resetConfigForTests();
    let failed: Awaited<ReturnType<typeof call>> | undefined;
    const out = await logsWhile(async () => {
      failed = await call("POST", token);
    });
    expect(failed?.statusCode).toBe(500);
    expect(failed?.headers?.["Content-Type"]).toBe("text/plain; charset=utf-8");
    expect(out).toContain("unsubscribe link failed");
    expect(out).not.toContain(token);
    // The status was written before the hand-off failed; the event was not counted.
    const info = async () => ((await ok(() => user.get("/api/v1/subscriber", { ListID: list, SubscriberID: sub }))).body as Json)["SubscriberInformation"];
    expect((await info())["SubscriptionStatus"]).toBe("Unsubscribed");

    Object.assign(process.env, inject("stackEnv"));
    config.resetConfigForTests();
    const again = await call("POST", token);
    expect([again.statusCode, again.body]).toEqual([200, "You have been unsubscribed."]);
    await eventually(async () => expect(await unsubscribeCount()).toBe(before + 1), 30_000);
  });
});

describe("a kid added after the keys were read", () => {
  it("verifies once the verifier reads the keys again, at most once a minute", async () => {
    const dir = mkdtempSync(join(tmpdir(), "unsub-rotate-"));
    const file = join(dir, "keys.json");
    const k1 = randomUUID().repeat(2);
    const k2 = randomUUID().repeat(2);
    writeFileSync(file, JSON.stringify({ 1: k1 }));
    delete process.env["UNSUBSCRIBE_KEYS"];
    process.env["UNSUBSCRIBE_KEYS_FILE"] = file;
    config.resetConfigForTests();
    vi.useFakeTimers({ toFake: ["Date"] });
    const t0 = new Date("2030-01-01T00:00:00Z").getTime();
    vi.setSystemTime(t0);

    const claims = { userId: 3, subscriberId: 4, journeyId: 5, actionId: 6 };
    const old = await tokens.unsubscribeToken(3, 4, 5, 6);
    expect(await tokens.verifyUnsubscribeToken(old)).toEqual(claims);
    // Another container already signs with kid 2.
    const fresh = tokens.signToken(claims, tokens.parseSigningKeys(JSON.stringify({ 1: k1, 2: k2 }), "test"));
    writeFileSync(file, JSON.stringify({ 1: k1, 2: k2 }));
    vi.setSystemTime(t0 + 30_000);
    expect(await tokens.verifyUnsubscribeToken(fresh)).toBeUndefined();
    vi.setSystemTime(t0 + 61_000);
    expect(await tokens.verifyUnsubscribeToken(fresh)).toEqual(claims);
    expect(await tokens.verifyUnsubscribeToken(old)).toEqual(claims);
    // A forged kid after that costs at most one more read a minute, and never verifies.
    const forged = tokens.signToken(claims, tokens.parseSigningKeys(JSON.stringify({ 7: k2 }), "test"));
    expect(await tokens.verifyUnsubscribeToken(forged)).toBeUndefined();
  });
});
