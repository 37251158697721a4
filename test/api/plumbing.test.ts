import { describe, expect, it } from "vitest";
import { createUser, firstError, http, outcome } from "../support/api.js";

describe("GET /health", () => {
  it("answers 200 {Status: ok} once the stack is ready", async () => {
    const res = await http.get("/health");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ Status: "ok" });
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
  });
});

describe("hard failures", () => {
  it("answers 400/100000 when a JSON body does not parse, on v1 and on /api.php", async () => {
    const user = await createUser();
    for (const path of ["/api/v1/journey", "/api.php"]) {
      const res = await http.raw("POST", path, '{"Name": "x",', { "content-type": "application/json", APIKey: user.apiKey });
      expect(outcome(res)).toEqual([400, 100000]);
      expect(res.body["ErrorCode"]).toBe(100000);
    }
  });

  it("answers 400/100003 with the reference message for an unknown or missing Command on /api.php", async () => {
    const res = await http.legacy({ Command: "nope.nothing" });
    expect(outcome(res)).toEqual([400, 100003]);
    expect(firstError(res)?.Message).toBe('Invalid API command: "nope.nothing" not found.');
    const missing = await http.legacy({}, "GET");
    expect(outcome(missing)).toEqual([400, 100003]);
    expect(firstError(missing)?.Message).toBe('Invalid API command: "" not found.');
  });

  it("rejects a v1 call whose Command names another command with 400/100003", async () => {
    const user = await createUser();
    const res = await user.post("/api/v1/journey", { Command: "journey.delete", Name: "x" });
    expect(outcome(res)).toEqual([400, 100003]);
  });

  it("accepts a v1 call whose Command names the route's own command, in any case", async () => {
    const user = await createUser();
    const res = await user.post("/api/v1/journey", { Command: "Journey.Create", Name: "x" });
    expect(res.status).toBe(200);
  });

  it("answers 400/100001 for a known v1 path with the wrong method, and 400/100003 for an unknown path", async () => {
    expect(outcome(await http.raw("DELETE", "/api/v1/journey", ""))).toEqual([400, 100001]);
    expect(outcome(await http.get("/api/v1/no.such.thing"))).toEqual([400, 100003]);
  });
});

describe("parameter merging", () => {
  it("merges query and body, the body winning, with case-insensitive names", async () => {
    const user = await createUser();
    const res = await http.raw(
      "POST",
      `/api/v1/journey?name=FromQuery&notes=q`,
      JSON.stringify({ NAME: "FromBody" }),
      { "content-type": "application/json", apikey: user.apiKey },
    );
    expect(res.status).toBe(200);
    const journey = res.body["Journey"] as Record<string, unknown>;
    expect(journey["JourneyName"]).toBe("FromBody");
    expect(journey["Notes"]).toBe("q");
  });

  it("accepts form bodies, and JSON arrays sent as strings", async () => {
    const user = await createUser();
    const res = await http.form("POST", "/api/v1/journey", {
      Name: "Form journey",
      Run_Criteria: '[[{"type":"tags","operator":"has this tag","value":"1"}]]',
      apikey: user.apiKey,
    });
    expect(res.status).toBe(200);
    const journey = res.body["Journey"] as Record<string, unknown>;
    expect(journey["Run_Criteria"]).toEqual([[{ type: "tags", operator: "has this tag", value: "1" }]]);
  });
});

describe("response compression", () => {
  it("gzips a large body for a client that accepts gzip, and sends it plain otherwise", async () => {
    const user = await createUser();
    for (let i = 0; i < 3; i++) await user.post("/api/v1/journey", { Name: `J${i}` });
    const query = "StatsStartDate=2025-01-01&StatsEndDate=2026-01-01";
    const url = `${(await import("../support/api.js")).baseUrl()}/api/v1/journeys?${query}`;
    const plain = await fetch(url, { headers: { APIKey: user.apiKey, "Accept-Encoding": "identity" } });
    expect(plain.headers.get("content-encoding")).toBeNull();
    const text = await plain.text();
    expect(text.length).toBeGreaterThan(16 * 1024);
    const zipped = await fetch(url, { headers: { APIKey: user.apiKey, "Accept-Encoding": "gzip" } });
    expect(zipped.headers.get("content-encoding")).toBe("gzip");
    expect(Number(zipped.headers.get("content-length"))).toBeLessThan(text.length / 10);
    // fetch undoes the gzip: the same document arrives.
    expect(JSON.parse(await zipped.text())).toEqual(JSON.parse(text));
  });
});
