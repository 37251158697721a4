import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { buildEvent, lambdaContext } from "../../infra/local/gateway.js";
import { createUser, type TestUser } from "../support/api.js";
import { loadHandler, type Handler } from "../support/in-process.js";
import { logsWhile } from "../support/logs.js";

/**
 * What the functions write to their logs, captured in process from the real
 * handlers against the local stack: one line per request with the fields an
 * operator searches by, and never a credential or a parameter value.
 */
let user: TestUser;
let legacy: Handler;
let journeys: Handler;
let config: typeof import("../../shared/config.js");

beforeAll(async () => {
  user = await createUser();
  // The test stack runs at WARN to keep the output short; this file reads the INFO lines.
  // Metrics are off on the local stack (EMF is for CloudWatch); this file reads them too.
  const env = { POWERTOOLS_LOG_LEVEL: "INFO", POWERTOOLS_METRICS_DISABLED: "false" };
  legacy = await loadHandler("legacy", env);
  journeys = await loadHandler("journeys", env);
  config = await import("../../shared/config.js");
});

afterEach(() => {
  vi.restoreAllMocks();
  delete process.env["LOG_FORMAT"];
  config.resetConfigForTests();
});

const jsonLines = (out: string) =>
  out
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** /api.php with the key in the query, the form body and a header at once. */
function keyEverywhere(key: string, extra: Record<string, string> = {}) {
  const form = new URLSearchParams({ Command: "journey.list", APIKey: key, ...extra }).toString();
  return buildEvent({
    method: "POST",
    path: "/api.php",
    rawQuery: new URLSearchParams({ APIKey: key }).toString(),
    headers: { apikey: key, "content-type": "application/x-www-form-urlencoded" },
    body: Buffer.from(form),
    routeKey: "POST /api.php",
  });
}

describe("request logs", () => {
  it("never contain the APIKey, whether it is sent in the query, the body or a header", async () => {
    const wrongKey = "wrong-key-Zq8vN3kLp0XyT7";
    const secretValue = "param-value-Hm4Rt9Wq2";
    const out = await logsWhile(async () => {
      expect((await legacy(keyEverywhere(user.apiKey), lambdaContext("legacy"))).statusCode).toBe(200);
      // A rejected key and a rejected parameter value are credentials and user data too.
      await legacy(keyEverywhere(wrongKey), lambdaContext("legacy"));
      await legacy(keyEverywhere(user.apiKey, { Status: secretValue }), lambdaContext("legacy"));
    });
    const lines = jsonLines(out).filter((l) => l["message"] === "request");
    // Three requests, three lines: the assertion below has something to search.
    expect(lines).toHaveLength(3);
    expect(out).not.toContain(user.apiKey);
    expect(out).not.toContain(encodeURIComponent(user.apiKey));
    expect(out).not.toContain(wrongKey);
    expect(out).not.toContain(secretValue);
  });

  it("write one JSON line per request with command, route, status, error code, duration, user, cold start and correlation ids", async () => {
    const ok = buildEvent({ method: "GET", path: "/api/v1/journeys", routeKey: "GET /api/v1/journeys", headers: { apikey: user.apiKey } });
    const bad = buildEvent({ method: "GET", path: "/api/v1/journey", rawQuery: "JourneyID=abc", routeKey: "GET /api/v1/journey", headers: { apikey: user.apiKey } });
    const context = lambdaContext("journeys");
    const out = await logsWhile(async () => {
      await journeys(ok, context);
      await journeys(bad, lambdaContext("journeys"));
    });
    const [first, second] = jsonLines(out).filter((l) => l["message"] === "request");
    expect(first).toMatchObject({
      level: "INFO",
      service: "journey-api",
      command: "journey.list",
      route: "GET /api/v1/journeys",
      status: 200,
      userId: user.userId,
      correlation_id: ok.requestContext.requestId,
      function_request_id: context.awsRequestId,
      cold_start: expect.any(Boolean),
    });
    expect(first?.["durationMs"]).toEqual(expect.any(Number));
    expect(first?.["errorCode"]).toBeUndefined();
    expect(second).toMatchObject({ command: "journey.get", status: 422, errorCode: 2, correlation_id: bad.requestContext.requestId });
  });

  it("are one short readable line per request with LOG_FORMAT=text (npm start)", async () => {
    process.env["LOG_FORMAT"] = "text";
    config.resetConfigForTests();
    const out = await logsWhile(() => legacy(keyEverywhere(user.apiKey), lambdaContext("legacy")));
    // The EMF metrics line (enabled in this file) aside, the request is one readable line.
    const text = out.split("\n").filter((l) => l !== "" && !l.startsWith("{"));
    expect(text).toHaveLength(1);
    expect(text[0]).toMatch(new RegExp(`^200 POST /api\\.php journey\\.list user=${user.userId} \\d+ms$`));
  });
});

describe("request metrics", () => {
  it("are one EMF record per request in the JourneyApi namespace: Requests and Errors by command and status class", async () => {
    const ok = buildEvent({ method: "GET", path: "/api/v1/journeys", routeKey: "GET /api/v1/journeys", headers: { apikey: user.apiKey } });
    const bad = buildEvent({ method: "GET", path: "/api/v1/journey", rawQuery: "JourneyID=abc", routeKey: "GET /api/v1/journey", headers: { apikey: user.apiKey } });
    const out = await logsWhile(async () => {
      await journeys(ok, lambdaContext("journeys"));
      await journeys(bad, lambdaContext("journeys"));
    });
    const emf = jsonLines(out).filter((l) => "_aws" in l);
    expect(emf).toHaveLength(2);
    const directive = (emf[0]!["_aws"] as { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] }).CloudWatchMetrics[0]!;
    expect(directive.Namespace).toBe("JourneyApi");
    expect(directive.Dimensions).toEqual([["service", "command", "statusClass"]]);
    expect(emf[0]).toMatchObject({ command: "journey.list", statusClass: "2xx", Requests: 1, Errors: 0 });
    expect(emf[1]).toMatchObject({ command: "journey.get", statusClass: "4xx", Requests: 1, Errors: 1 });
  });
});
