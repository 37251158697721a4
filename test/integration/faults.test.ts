import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { inject } from "vitest";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { buildEvent, lambdaContext } from "../../infra/local/gateway.js";
import { createJourney, createUser } from "../support/api.js";
import { captureLogs } from "../support/logs.js";

/**
 * Fault injection: the real handler module runs in this process against the same
 * DynamoDB Local, and a client middleware makes one kind of SDK call fail.
 */
type Handler = (e: APIGatewayProxyEventV2, c: Context) => Promise<APIGatewayProxyStructuredResultV2>;
let handler: Handler;
let ddb: typeof import("../../shared/aws.js").ddb;

beforeAll(async () => {
  Object.assign(process.env, inject("stackEnv"));
  ({ ddb } = await import("../../shared/aws.js"));
  ({ handler } = (await import("../../functions/journeys/index.js")) as { handler: Handler });
});

const injected: string[] = [];
afterEach(() => {
  for (const name of injected.splice(0)) ddb().middlewareStack.remove(name);
  vi.restoreAllMocks();
});

function failOn(commandName: string, error: Error, when: (input: Record<string, unknown>) => boolean = () => true) {
  const name = `inject-${commandName}-${injected.length}`;
  injected.push(name);
  ddb().middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === commandName && when(args.input as Record<string, unknown>)) throw error;
      return next(args);
    },
    { step: "initialize", name },
  );
}

const call = (apiKey: string, method: string, path: string, body: unknown) =>
  handler(
    buildEvent({
      method,
      path,
      routeKey: `${method} ${path}`,
      headers: { "content-type": "application/json", apikey: apiKey },
      body: Buffer.from(JSON.stringify(body)),
    }),
    lambdaContext("journeys"),
  );

describe("unhandled faults", () => {
  it("answer 500/100005 'Internal error' with no internals, and log no credentials", async () => {
    const user = await createUser();
    const id = await createJourney(user);
    const logs = captureLogs();
    failOn("GetItemCommand", Object.assign(new Error("disk on fire at /var/task/secret-path"), { name: "InternalServerError" }));
    const res = await call(user.apiKey, "GET", "/api/v1/journey", { JourneyID: id });
    expect(res.statusCode).toBe(500);
    expect(JSON.parse(res.body ?? "")).toEqual({
      Success: false,
      ErrorCode: 100005,
      ErrorText: "Internal error",
      Errors: [{ Code: 100005, Message: "Internal error" }],
    });
    expect(res.body).not.toContain("secret-path");
    expect(logs.text()).toContain("disk on fire");
    expect(logs.text()).not.toContain(user.apiKey);
  });

  it("leave nothing half-written when a journey write fails", async () => {
    const user = await createUser();
    const id = await createJourney(user, { Name: "Before" });
    captureLogs();
    // Only the journey's own write fails; authentication and the rate limit go through. The update is a
    // transaction (it moves the trigger index entry with a trigger change, ENGINE §4.2).
    const skOf = (key: unknown) => {
      const sk = (key as { SK?: unknown } | undefined)?.SK;
      return String(typeof sk === "object" && sk !== null ? (sk as { S?: string }).S : sk);
    };
    const journeyWrite = (input: Record<string, unknown>) =>
      ((input["TransactItems"] as { Update?: { Key?: unknown } }[] | undefined) ?? []).some((i) => skOf(i.Update?.Key).startsWith("J#"));
    failOn("TransactWriteItemsCommand", Object.assign(new Error("throttled"), { name: "ProvisionedThroughputExceededException" }), journeyWrite);
    const res = await call(user.apiKey, "PATCH", "/api/v1/journey", { JourneyID: id, Name: "After" });
    expect(res.statusCode).toBe(500);
    const after = await user.get("/api/v1/journey", { JourneyID: id });
    expect(after.body["JourneyName"]).toBe("Before");
  });
});

describe("writes that do not happen", () => {
  const failTransactions = () =>
    failOn("TransactWriteItemsCommand", Object.assign(new Error("injected"), { name: "InternalServerError", $fault: "server" }));

  it("journey.clone answers code 4 (500 on v1) and leaves no half-made copy", async () => {
    const user = await createUser();
    const id = await createJourney(user, { Name: "Source" });
    await user.patch("/api/v1/journey.actions", { JourneyID: id, Actions: [{ Action: "ExitThisJourney" }] });
    captureLogs();
    failTransactions();
    const res = await call(user.apiKey, "POST", "/api/v1/journey.clone", { JourneyID: id, NewJourneyName: "Copy" });
    expect(res.statusCode).toBe(500);
    expect(JSON.parse(res.body ?? "")["Errors"]).toEqual([{ Code: 4, Message: "Journey not cloned successfully" }]);
    const journeys = (await user.get("/api/v1/journeys", { SkipStats: 1 })).body["Journeys"] as { JourneyID: string }[];
    expect(journeys.map((j) => Number(j.JourneyID))).toEqual([id]);
  });

  it("journey.copytouser answers code 10 and copies no email when the journey cannot be written", async () => {
    const source = await createUser();
    const target = await createUser();
    const emailId = Number((await source.post("/api/v1/email", { EmailName: "E" })).body["EmailID"]);
    const id = await createJourney(source);
    await source.patch("/api/v1/journey.actions", { JourneyID: id, Actions: [{ Action: "SendEmail", EmailID: emailId }] });
    const admin = (await import("../../functions/admin/index.js")) as { handler: typeof handler };
    captureLogs();
    failTransactions();
    const res = await admin.handler(
      buildEvent({
        method: "POST",
        path: "/api/v1/journey.copytouser",
        routeKey: "POST /api/v1/journey.copytouser",
        headers: { "content-type": "application/json", adminapikey: inject("adminKey") },
        body: Buffer.from(JSON.stringify({ JourneyID: id, SourceUserID: source.userId, TargetUserID: target.userId })),
      }),
      lambdaContext("admin"),
    );
    expect(res.statusCode).toBe(500);
    expect(JSON.parse(res.body ?? "")["Errors"]).toEqual([{ Code: 10, Message: "Failed to create journey" }]);
    expect((await target.get("/api/v1/journeys", { SkipStats: 1 })).body["Journeys"]).toEqual([]);
    expect((await target.get("/api/v1/emails")).body["Emails"]).toEqual([]);
  });
});
