import { request } from "node:http";
import { gunzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { baseUrl, createUser, firstError, outcome, type TestUser } from "../support/api.js";
import { countingCalls, invoke, loadHandler } from "../support/in-process.js";
import { seedBareJourneys } from "../support/seed.js";

/**
 * journey.list on a 2,000-journey account (issue 13): the paging extension, and the
 * answer past Lambda's 6 MB response limit, through the local gateway. With the
 * default 31-day window each journey's zero-filled stats are about 8 KB, so the
 * unpaged list is about 17 MB: only gzip brings it under the limit.
 */
const TOTAL = 2_000;
const LIMIT = 6 * 1024 * 1024 + 100;
const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body as sent, before any decoding. */
  bytes: Buffer;
  json: Record<string, unknown>;
}

/**
 * A GET with exactly the headers given: fetch would add Accept-Encoding on its own,
 * and the point here is what a client that does not send it (curl without
 * --compressed, PHP's curl) gets.
 */
function rawGet(path: string, query: Record<string, string | number>, headers: Record<string, string>): Promise<Raw> {
  const url = new URL(path, baseUrl());
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, String(v));
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "GET", headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const bytes = Buffer.concat(chunks);
        const text = (res.headers["content-encoding"] === "gzip" ? gunzipSync(bytes) : bytes).toString("utf8");
        let json: Record<string, unknown> = {};
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          // Left empty: the assertions on status and body say what went wrong.
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes, json });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

type Row = { JourneyID: string; JourneyName: string; JourneyStats?: Record<string, unknown> };
const rows = (r: { json: Record<string, unknown> } | { body: Record<string, unknown> }) =>
  ("json" in r ? r.json : r.body)["Journeys"] as Row[];

let user: TestUser;
let ids: number[];
/** The walk's page size; gzip keeps a page of it under the limit. */
const PAGE = 500;
/** Positions (JourneyID order) of the journeys that carry statistics: both sides of a page boundary, and the last. */
const WITH_STATS = [PAGE - 1, PAGE, TOTAL - 1];
const SENT_DAY = daysAgo(2);

/** A journey with one SendEmail action, created the way a user does; its statistics come from real events. */
async function journeyWithSends(user: TestUser, emailId: number, name: string, sends: number): Promise<number> {
  const journeyId = Number((await user.post("/api/v1/journey", { Name: name })).body["JourneyID"]);
  const res = await user.patch("/api/v1/journey.actions", { JourneyID: journeyId, Actions: [{ Action: "SendEmail", EmailID: emailId, Published: true }] });
  const actionId = Number((res.body["Actions"] as { ActionID: string }[])[0]!.ActionID);
  const events = Array.from({ length: sends }, (_, k) => ({
    EventID: `${name}-${k}`, Type: "Sent", JourneyID: journeyId, ActionID: actionId,
    SubscriberID: k + 1, EmailAddress: `s${k}@gmail.com`, OccurredAt: `${SENT_DAY} 10:00:00`,
  }));
  const ingested = await user.post("/api/v1/journey.events", { Events: events });
  expect(ingested.body["Accepted"]).toBe(sends);
  return journeyId;
}

let seedMs = 0;
beforeAll(async () => {
  const t0 = performance.now();
  user = await createUser();
  const emailId = Number((await user.post("/api/v1/email", { EmailName: "Paging", Subject: "Hi" })).body["EmailID"]);
  // IDs come from one counter and the list is in JourneyID order, so seeding in this
  // order puts the journeys with statistics at the positions of WITH_STATS.
  const before = await seedBareJourneys(user.userId, PAGE - 1);
  const a = await journeyWithSends(user, emailId, "stats-a", 1);
  const b = await journeyWithSends(user, emailId, "stats-b", 2);
  const middle = await seedBareJourneys(user.userId, TOTAL - PAGE - 2);
  const c = await journeyWithSends(user, emailId, "stats-c", 3);
  ids = [...before, a, b, ...middle, c];
  seedMs = performance.now() - t0;
  console.log(`journey-list-pages: seeded ${TOTAL} journeys in ${(seedMs / 1000).toFixed(1)} s`);
}, 120_000);

describe("journey.list paging at 2,000 journeys", () => {
  it("walks every journey exactly once, in JourneyID order, with TotalJourneys and the page's statistics", async () => {
    const seen: Row[] = [];
    for (let from = 0; from < TOTAL; from += PAGE) {
      const res = await rawGet("/api/v1/journeys", { RecordsPerRequest: PAGE, RecordsFrom: from }, { APIKey: user.apiKey, "Accept-Encoding": "gzip" });
      expect(res.status, res.bytes.subarray(0, 300).toString()).toBe(200);
      expect(res.json["TotalJourneys"]).toBe(TOTAL);
      const page = rows(res);
      expect(page.length).toBe(Math.min(PAGE, TOTAL - from));
      seen.push(...page);
    }
    expect(seen.map((r) => Number(r.JourneyID))).toEqual(ids);
    const sent = (r: Row) => (r.JourneyStats?.["AggregatedEmailActions"] as Record<string, number>)["SendCount"];
    const sentOn = (r: Row) =>
      (r.JourneyStats?.["AggregatedDaysEmailActions"] as { Date: string; SendCount: number }[]).find((d) => d.Date === SENT_DAY)?.SendCount;
    // Lifetime rollups and window days reach the first and the last journey of a page.
    expect(WITH_STATS.map((i) => [sent(seen[i]!), sentOn(seen[i]!)])).toEqual([[1, 1], [2, 2], [3, 3]]);
    expect(seen.filter((r) => (sent(r) ?? 0) > 0).length).toBe(3);
    expect((seen[0]!.JourneyStats?.["AggregatedDaysEmailActions"] as unknown[]).length).toBe(31);
  });

  it("makes at most 3 DynamoDB calls for a page, wherever the page starts", async () => {
    const handler = await loadHandler("journeys");
    const counter = await countingCalls();
    const callsFor = async (from: number) => {
      counter.reset();
      const res = await invoke(handler, user.apiKey, "GET", "/api/v1/journeys", { RecordsPerRequest: 50, RecordsFrom: from });
      expect(res.status).toBe(200);
      expect(rows(res).map((r) => Number(r.JourneyID))).toEqual(ids.slice(from, from + 50));
      return counter.names();
    };
    const first = await callsFor(0);
    expect(first.length).toBeLessThanOrEqual(3);
    expect(await callsFor(1_000)).toEqual(first);
    expect(await callsFor(TOTAL - 50)).toEqual(first);
  });

  it("answers an empty page with TotalJourneys past the end, and honours SkipStats", async () => {
    const past = await user.get("/api/v1/journeys", { RecordsFrom: TOTAL });
    expect(past.body).toEqual({ Success: true, Journeys: [], TotalJourneys: TOTAL });
    // RecordsFrom alone: the default page of 25.
    const skip = await user.get("/api/v1/journeys", { RecordsFrom: 10, SkipStats: 1 });
    expect(rows(skip).map((r) => Number(r.JourneyID))).toEqual(ids.slice(10, 35));
    expect(rows(skip).some((r) => "JourneyStats" in r)).toBe(false);
  });
});

describe("journey.list past Lambda's 6 MB response limit, through the local gateway", () => {
  it("answers 413 / 99997 in the envelope to a client that does not accept gzip", async () => {
    const res = await rawGet("/api/v1/journeys", {}, { APIKey: user.apiKey });
    expect(res.status).toBe(413);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    expect(res.json["Success"]).toBe(false);
    const error = (res.json["Errors"] as { Code: number; Message: string }[])[0]!;
    expect(error.Code).toBe(99997);
    // It says what to do instead, and how large the answer was.
    for (const hint of ["Accept-Encoding: gzip", "RecordsPerRequest", "StatsStartDate", "SkipStats=1"]) expect(error.Message).toContain(hint);
    const bytes = Number(/(\d+) bytes/.exec(error.Message)?.[1]);
    expect(bytes).toBeGreaterThan(LIMIT);
    expect(res.headers["x-ratelimit-limit"]).toBeDefined();
  });

  it("answers it with HTTP 200 on /api.php, like other handler errors", async () => {
    const res = await rawGet("/api.php", { Command: "journey.list", APIKey: user.apiKey }, {});
    expect(res.status).toBe(200);
    expect(firstError({ status: 200, headers: new Headers(), body: res.json, text: "" })?.Code).toBe(99997);
  });

  it("succeeds gzipped, with every journey, for a client that accepts gzip", async () => {
    const res = await rawGet("/api/v1/journeys", {}, { APIKey: user.apiKey, "Accept-Encoding": "gzip" });
    expect(res.status).toBe(200);
    expect(res.headers["content-encoding"]).toBe("gzip");
    expect(res.bytes.length).toBeLessThan(LIMIT);
    expect(gunzipSync(res.bytes).length).toBeGreaterThan(LIMIT);
    expect(rows(res).map((r) => Number(r.JourneyID))).toEqual(ids);
  });

  it("fits a page without gzip, and SkipStats fits the whole list", async () => {
    const page = await rawGet("/api/v1/journeys", { RecordsPerRequest: 500 }, { APIKey: user.apiKey });
    expect(page.status).toBe(200);
    expect(page.headers["content-encoding"]).toBeUndefined();
    expect(rows(page).length).toBe(500);
    const skip = await rawGet("/api/v1/journeys", { SkipStats: 1 }, { APIKey: user.apiKey });
    expect(skip.status).toBe(200);
    expect(rows(skip).length).toBe(TOTAL);
  });
});

describe("journey.list paging parameters", () => {
  it("answers code 7 for a RecordsPerRequest outside 1–1000 and code 8 for a RecordsFrom below 0", async () => {
    const small = await createUser();
    const cases: [Record<string, unknown>, [number, number]][] = [
      [{ RecordsPerRequest: 0 }, [422, 7]],
      [{ RecordsPerRequest: 1001 }, [422, 7]],
      [{ RecordsPerRequest: "abc" }, [422, 7]],
      [{ RecordsPerRequest: "2.5" }, [422, 7]],
      [{ RecordsFrom: -1 }, [422, 8]],
      [{ RecordsFrom: "1e3" }, [422, 8]],
      // The lowest code wins: 7 before 8, and the window's order (6) before both.
      [{ RecordsPerRequest: 0, RecordsFrom: -1 }, [422, 7]],
      [{ RecordsPerRequest: 0, StatsStartDate: "2026-02-01", StatsEndDate: "2026-01-01" }, [422, 6]],
      [{ RecordsPerRequest: 1000, RecordsFrom: 0 }, [200, undefined as never]],
      [{ RecordsPerRequest: "", RecordsFrom: "" }, [200, undefined as never]],
    ];
    const got = await Promise.all(cases.map(([q]) => small.get("/api/v1/journeys", q).then(outcome)));
    expect(got).toEqual(cases.map(([, want]) => want));
    // Empty values count as absent: the unpaged answer, without TotalJourneys.
    const unpaged = await small.get("/api/v1/journeys", { RecordsPerRequest: "" });
    expect(unpaged.body).toEqual({ Success: true, Journeys: [] });
    const legacy = await small.legacy({ Command: "journey.list", RecordsFrom: "-5" });
    expect(outcome(legacy)).toEqual([200, 8]);
  });
});
