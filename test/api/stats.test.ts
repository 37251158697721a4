import { beforeAll, describe, expect, it } from "vitest";
import { createUser, firstError, outcome, type TestUser } from "../support/api.js";
import { ALL_TIME, BY_DAY, DAYS, eventSet, statsJourney, zero, type Fixture } from "../support/event-set.js";

/**
 * Exact numbers for the fixed event set of test/support/event-set.ts, worked out
 * by hand from the counting rules of CONTRACT §7.
 */
const [D1, D2, D3] = DAYS;
const WINDOW = { StartDate: D1, EndDate: D3 };

let user: TestUser;
let f: Fixture;
let events: Record<string, unknown>[];

beforeAll(async () => {
  user = await createUser();
  f = await statsJourney(user);
  events = eventSet(f, "s");
  const res = await user.post("/api/v1/journey.events", { Events: events });
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ Accepted: events.length - 2, Duplicates: 2 });
  // Exited s6 is accepted but ends nothing; the rejected list is empty.
  expect(res.body["Rejected"]).toEqual([]);
}, 60_000);

/** The latest OccurredAt among the set's events, computed independently of the service. */
const latest = (filter: (e: Record<string, unknown>) => boolean) =>
  events.filter(filter).map((e) => String(e["OccurredAt"])).sort().at(-1);

describe("journey.get statistics", () => {
  it("carries exact all-time, per-day and revenue figures with the activity counters", async () => {
    const res = await user.get("/api/v1/journey", { JourneyID: f.journeyId, ...WINDOW, IncludeActivityCounters: 1 });
    expect(res.status).toBe(200);
    const stats = res.body["JourneyStats"] as Record<string, unknown>;
    expect(stats).toEqual({
      ActiveSubscribers: 3,
      TotalSubscribers: 6,
      AggregatedEmailActions: ALL_TIME,
      AggregatedDaysEmailActions: BY_DAY,
      TotalRevenue: 24.99,
      DaysRevenue: [{ Date: D1, Amount: 0 }, { Date: D2, Amount: 19.99 }, { Date: D3, Amount: 5 }],
      LastTriggeredAt: latest((e) => e["Type"] === "Enrolled"),
      LastActivityAt: latest(() => true),
      TotalEnrolledLifetime: 5,
    });
  });

  it("windows the per-day series and revenue but not the all-time block", async () => {
    const res = await user.get("/api/v1/journey", { JourneyID: f.journeyId, StartDate: D2, EndDate: D2 });
    const stats = res.body["JourneyStats"] as Record<string, unknown>;
    expect(stats["AggregatedEmailActions"]).toEqual(ALL_TIME);
    expect(stats["AggregatedDaysEmailActions"]).toEqual([BY_DAY[1]]);
    expect(stats["TotalRevenue"]).toBe(19.99);
  });

  it("gives each SendEmail action its window Stats, DailyStats, Revenue and DaysRevenue", async () => {
    const res = await user.get("/api/v1/journey", { JourneyID: f.journeyId, ...WINDOW });
    const actions = res.body["Actions"] as Record<string, unknown>[];
    const a1 = actions.find((a) => Number(a["ActionID"]) === f.a1)!;
    expect(a1["Stats"]).toEqual({ SendCount: 5, DeliveryCount: 4, OpenCount: 2, ClickCount: 1, BounceCount: 1, UnsubscribeCount: 1, SpamComplaintCount: 0, TotalRevenue: 24.99 });
    expect(a1["DailyStats"]).toEqual([
      { Date: D1, SendCount: 5, OpenCount: 1, ClickCount: 0, TotalRevenue: 0 },
      { Date: D2, SendCount: 0, OpenCount: 1, ClickCount: 1, TotalRevenue: 19.99 },
      { Date: D3, SendCount: 0, OpenCount: 0, ClickCount: 0, TotalRevenue: 5 },
    ]);
    expect(a1["Revenue"]).toBe(24.99);
    expect(a1["DaysRevenue"]).toEqual([{ Date: D1, Amount: 0 }, { Date: D2, Amount: 19.99 }, { Date: D3, Amount: 5 }]);
    const a2 = actions.find((a) => Number(a["ActionID"]) === f.a2)!;
    expect(a2["Stats"]).toEqual({ SendCount: 3, DeliveryCount: 0, OpenCount: 1, ClickCount: 0, BounceCount: 1, UnsubscribeCount: 0, SpamComplaintCount: 1, TotalRevenue: 0 });
    const wait = actions.find((a) => a["Action"] === "Wait")!;
    expect(wait).not.toHaveProperty("Stats");
    expect(wait).not.toHaveProperty("Revenue");
  });

  it("filters AggregatedEmailActions by EmailID and ISP from the per-ISP figures, zeroing the untracked three", async () => {
    const get = async (q: Record<string, unknown>) =>
      (((await user.get("/api/v1/journey", { JourneyID: f.journeyId, ...WINDOW, ...q })).body["JourneyStats"] as Record<string, unknown>)["AggregatedEmailActions"]);
    expect(await get({ EmailID: f.a1 })).toEqual({ ...zero, SendCount: 5, DeliveryCount: 4, OpenCount: 2, ClickCount: 1, BounceCount: 1, UnsubscribeCount: 1, TotalRevenue: 24.99 });
    expect(await get({ ISP: "GMAIL.com" })).toEqual({ ...zero, SendCount: 4, DeliveryCount: 2, OpenCount: 3, ClickCount: 1, SpamComplaintCount: 1, TotalRevenue: 24.99 });
    expect(await get({ EmailID: f.a2, ISP: "yahoo.com" })).toEqual({ ...zero, SendCount: 1, BounceCount: 1 });
    expect(await get({ ISP: "nowhere.example" })).toEqual(zero);
  });
});

describe("journey.list statistics", () => {
  it("carries the same figures per row, with the counters when asked", async () => {
    const res = await user.get("/api/v1/journeys", { StatsStartDate: D1, StatsEndDate: D3, IncludeActivityCounters: "on" });
    const row = (res.body["Journeys"] as Record<string, unknown>[]).find((j) => Number(j["JourneyID"]) === f.journeyId)!;
    const stats = row["JourneyStats"] as Record<string, unknown>;
    expect(stats).toMatchObject({ ActiveSubscribers: 3, TotalSubscribers: 6, AggregatedEmailActions: ALL_TIME, TotalRevenue: 24.99, TotalEnrolledLifetime: 5 });
    expect(stats["AggregatedDaysEmailActions"]).toEqual(BY_DAY);
    expect(stats["LastActivityAt"]).toBe(latest(() => true));
  });
});

describe("journey.stats.byisp", () => {
  it("lists the window's domains by Sent, then Domain", async () => {
    const res = await user.get("/api/v1/journey.stats.byisp", { JourneyID: f.journeyId, ...WINDOW });
    expect(res.body).toEqual({
      Success: true,
      ByISP: [
        { Domain: "gmail.com", Sent: 4, Delivered: 2, Opened: 3, Clicked: 1, Bounced: 0, Unsubscribed: 0, Complained: 1 },
        { Domain: "yahoo.com", Sent: 3, Delivered: 1, Opened: 0, Clicked: 0, Bounced: 2, Unsubscribed: 0, Complained: 0 },
        { Domain: "outlook.com", Sent: 1, Delivered: 1, Opened: 0, Clicked: 0, Bounced: 0, Unsubscribed: 1, Complained: 0 },
      ],
    });
  });

  it("scopes to one SendEmail action with EmailID, and to the window's days", async () => {
    const a2 = await user.get("/api/v1/journey.stats.byisp", { JourneyID: f.journeyId, ...WINDOW, EmailID: f.a2 });
    expect(a2.body["ByISP"]).toEqual([
      { Domain: "gmail.com", Sent: 2, Delivered: 0, Opened: 1, Clicked: 0, Bounced: 0, Unsubscribed: 0, Complained: 1 },
      { Domain: "yahoo.com", Sent: 1, Delivered: 0, Opened: 0, Clicked: 0, Bounced: 1, Unsubscribed: 0, Complained: 0 },
    ]);
    const d3 = await user.get("/api/v1/journey.stats.byisp", { JourneyID: f.journeyId, StartDate: D3, EndDate: D3 });
    expect(d3.body["ByISP"]).toEqual([
      { Domain: "gmail.com", Sent: 0, Delivered: 0, Opened: 1, Clicked: 0, Bounced: 0, Unsubscribed: 0, Complained: 1 },
      { Domain: "outlook.com", Sent: 0, Delivered: 0, Opened: 0, Clicked: 0, Bounced: 0, Unsubscribed: 1, Complained: 0 },
    ]);
    const none = await user.get("/api/v1/journey.stats.byisp", { JourneyID: f.journeyId, StartDate: "2026-01-01", EndDate: "2026-01-02" });
    expect(none.body["ByISP"]).toEqual([]);
  });

  it.each([
    [{}, 422, 1],
    [{ JourneyID: "x" }, 422, 2],
    [{ JourneyID: 999999999 }, 404, 3],
    [{ StartDate: "2026-02-30" }, 422, 4],
    [{ EndDate: "2026/03/01" }, 422, 5],
    [{ StartDate: "2026-03-03", EndDate: "2026-03-01" }, 422, 6],
    [{ EmailID: "abc" }, 422, 7],
  ])("answers %j with %i / code %i", async (params, status, code) => {
    const p = { ...(code > 3 || code === 0 ? { JourneyID: f.journeyId } : {}), ...params };
    expect(outcome(await user.get("/api/v1/journey.stats.byisp", p))).toEqual([status, code]);
    expect(outcome(await user.legacy({ Command: "journey.stats.byisp", ...p }))).toEqual([200, code]);
  });

  it("answers code 7 for an action that is not a SendEmail action of the journey", async () => {
    const wait = ((await user.get("/api/v1/journey", { JourneyID: f.journeyId })).body["Actions"] as Record<string, unknown>[]).find((a) => a["Action"] === "Wait")!;
    expect(outcome(await user.get("/api/v1/journey.stats.byisp", { JourneyID: f.journeyId, EmailID: wait["ActionID"] }))).toEqual([422, 7]);
  });
});

describe("journey.stats.byaction", () => {
  it("gives every SendEmail action by OrderNo, zero-filled daily", async () => {
    const res = await user.get("/api/v1/journey.stats.byaction", { JourneyID: f.journeyId, ...WINDOW });
    expect(res.status).toBe(200);
    const rows = res.body["Actions"] as Record<string, unknown>[];
    expect(rows.map((r) => r["ActionID"])).toEqual([f.a2, f.a1]);
    expect(rows[1]).toEqual({
      ActionID: f.a1,
      Action: "SendEmail",
      EmailID: f.emailId,
      EmailName: "Welcome",
      OrderNo: 2,
      Stats: { SendCount: 5, DeliveryCount: 4, OpenCount: 2, ClickCount: 1, BounceCount: 1, UnsubscribeCount: 1, SpamComplaintCount: 0, TotalRevenue: 24.99 },
      DailyStats: [
        { Date: D1, SendCount: 5, OpenCount: 1, ClickCount: 0, TotalRevenue: 0 },
        { Date: D2, SendCount: 0, OpenCount: 1, ClickCount: 1, TotalRevenue: 19.99 },
        { Date: D3, SendCount: 0, OpenCount: 0, ClickCount: 0, TotalRevenue: 5 },
      ],
    });
  });

  it("narrows to one action with EmailID and to one ISP with ISP", async () => {
    const res = await user.get("/api/v1/journey.stats.byaction", { JourneyID: f.journeyId, ...WINDOW, EmailID: f.a1, ISP: "gmail.com" });
    const rows = res.body["Actions"] as Record<string, unknown>[];
    expect(rows).toHaveLength(1);
    expect(rows[0]!["Stats"]).toEqual({ SendCount: 2, DeliveryCount: 2, OpenCount: 2, ClickCount: 1, BounceCount: 0, UnsubscribeCount: 0, SpamComplaintCount: 0, TotalRevenue: 24.99 });
    expect((rows[0]!["DailyStats"] as unknown[]).length).toBe(3);
  });

  it("answers Actions: [] for a journey without SendEmail actions", async () => {
    const empty = Number((await user.post("/api/v1/journey", { Name: "empty" })).body["JourneyID"]);
    expect((await user.get("/api/v1/journey.stats.byaction", { JourneyID: empty })).body).toEqual({ Success: true, Actions: [] });
  });

  it.each([
    [{}, 422, 1],
    [{ JourneyID: "-1" }, 422, 2],
    [{ JourneyID: 999999999 }, 404, 3],
    [{ StartDate: "x" }, 422, 4],
    [{ EndDate: "2026-13-01" }, 422, 5],
    [{ StartDate: "2026-03-02", EndDate: "2026-03-01" }, 422, 6],
    [{ EmailID: 999999999 }, 422, 7],
    [{ ISP: "bad isp" }, 422, 8],
  ])("answers %j with %i / code %i", async (params, status, code) => {
    const p = { ...(code > 3 ? { JourneyID: f.journeyId } : {}), ...params };
    expect(outcome(await user.get("/api/v1/journey.stats.byaction", p))).toEqual([status, code]);
  });
});

describe("account.journey.benchmark", () => {
  it("weights rates by Sent across the account's journeys", async () => {
    const res = await user.get("/api/v1/account.journey.benchmark", WINDOW);
    expect(res.body).toEqual({
      Success: true,
      StartDate: D1,
      EndDate: D3,
      Benchmark: {
        OpenRate: 0.375, ClickRate: 0.125, ClickToOpenRate: 0.3333, BounceRate: 0.25, UnsubscribeRate: 0.125,
        ComplaintRate: 0.125, RevenuePerSubscriber: 3.12, JourneyCount: 1, TotalSent: 8,
      },
    });
  });

  it("counts only journeys with sends in the window, and is all zeros without sends", async () => {
    const d3 = await user.get("/api/v1/account.journey.benchmark", { StartDate: D3, EndDate: D3 });
    expect(d3.body["Benchmark"]).toEqual({
      OpenRate: 0, ClickRate: 0, ClickToOpenRate: 0, BounceRate: 0, UnsubscribeRate: 0, ComplaintRate: 0,
      RevenuePerSubscriber: 0, JourneyCount: 0, TotalSent: 0,
    });
  });

  it.each([
    [{ StartDate: "2026-02-30" }, 1, "Invalid StartDate format"],
    [{ EndDate: "26-01-01" }, 2, "Invalid EndDate format"],
    [{ StartDate: "2026-03-02", EndDate: "2026-03-01" }, 3, "StartDate must not be after EndDate"],
  ])("answers %j with code %i", async (params, code, message) => {
    const res = await user.get("/api/v1/account.journey.benchmark", params);
    expect(outcome(res)).toEqual([422, code]);
    expect(firstError(res)?.Message).toBe(message);
  });
});

describe("journey.action.subscribers", () => {
  const list = (q: Record<string, unknown>) => user.get("/api/v1/journey.action.subscribers", { JourneyID: f.journeyId, ActionID: f.a1, ...q });

  it("lists the subscribers sent the action, with suppression from anywhere in the account", async () => {
    const res = await list({});
    expect(res.body).toEqual({
      Success: true,
      ErrorCode: 0,
      ErrorText: "",
      Subscribers: [
        { SubscriberID: "1", EmailAddress: "ann@gmail.com", Suppressed: false },
        { SubscriberID: "2", EmailAddress: "bob@GMAIL.com", Suppressed: true },
        { SubscriberID: "3", EmailAddress: "cem@yahoo.com", Suppressed: false },
        { SubscriberID: "4", EmailAddress: "dan@outlook.com", Suppressed: true },
        { SubscriberID: "5", EmailAddress: "eve@yahoo.com", Suppressed: true },
      ],
      TotalSubscribers: 5,
    });
  });

  it.each([
    [["opened"], "AND", ["1", "2"]],
    [["opened", "clicked"], "AND", ["1"]],
    [["clicked", "bounced"], "OR", ["1", "5"]],
    [["converted"], undefined, ["1"]],
    [["browser_viewed", "forwarded"], "or", ["2", "3"]],
    [["unsubscribed"], undefined, ["4"]],
    [["spam_complaint"], undefined, []],
  ])("filters %j with %s", async (filter, operator, ids) => {
    const res = await list({ FilterJSON: JSON.stringify(filter), ...(operator ? { Operator: operator } : {}) });
    expect((res.body["Subscribers"] as { SubscriberID: string }[]).map((s) => s.SubscriberID)).toEqual(ids);
    expect(res.body["TotalSubscribers"]).toBe(ids.length);
  });

  it("pages and orders", async () => {
    const res = await list({ RecordsPerRequest: 2, RecordsFrom: 1, OrderField: "SubscriberID", OrderType: "DESC" });
    expect((res.body["Subscribers"] as { SubscriberID: string }[]).map((s) => s.SubscriberID)).toEqual(["4", "3"]);
    expect(res.body["TotalSubscribers"]).toBe(5);
  });

  it.each([
    [{ JourneyID: undefined }, 422, 1],
    [{ ActionID: undefined }, 422, 2],
    [{ JourneyID: "x" }, 422, 3],
    [{ ActionID: "y" }, 422, 4],
    [{ FilterJSON: "[opened" }, 422, 5],
    [{ FilterJSON: '["sneezed"]' }, 422, 6],
    [{ Operator: "XOR" }, 422, 7],
    [{ JourneyID: 999999999 }, 404, 5],
    [{ ActionID: 999999999 }, 404, 6],
  ])("answers %j with %i / code %i in the legacy error shape", async (params, status, code) => {
    const q: Record<string, unknown> = { JourneyID: f.journeyId, ActionID: f.a1, ...params };
    for (const k of Object.keys(q)) if (q[k] === undefined) delete q[k];
    const res = await user.get("/api/v1/journey.action.subscribers", q);
    expect(outcome(res)).toEqual([status, code]);
    expect(res.body["ErrorCode"]).toEqual([{ Code: code, Message: firstError(res)?.Message }]);
  });
});

describe("ingest rejections", () => {
  it("rejects each bad event with its code and applies the rest", async () => {
    const other = await createUser();
    const foreign = await statsJourney(other);
    const base = { Type: "Sent", JourneyID: f.journeyId, ActionID: f.a1, SubscriberID: 9, EmailAddress: "z@zed.com" };
    const res = await user.post("/api/v1/journey.events", {
      Events: [
        { ...base, EventID: "" },
        { ...base, EventID: "r2", Type: "Teleported" },
        { ...base, EventID: "r3", JourneyID: foreign.journeyId },
        { ...base, EventID: "r4", ActionID: f.a1 + 1000000 },
        { ...base, EventID: "r5", SubscriberID: -1 },
        { ...base, EventID: "r6", EmailAddress: "nope" },
        { ...base, EventID: "r7", OccurredAt: "2026-02-30 10:00:00" },
        { ...base, EventID: "r8", Amount: 5 },
        { ...base, EventID: "r9", BounceType: "Medium" },
        { ...base, EventID: "r10", OccurredAt: "2026-01-05 08:00:00" },
      ],
    });
    expect(res.body["Accepted"]).toBe(1);
    expect(res.body["Duplicates"]).toBe(0);
    expect((res.body["Rejected"] as { Index: number; Code: number }[]).map((r) => [r.Index, r.Code])).toEqual([
      [0, 3], [1, 4], [2, 5], [3, 6], [4, 7], [5, 8], [6, 9], [7, 10], [8, 11],
    ]);
    expect((res.body["Rejected"] as { EventID: string }[])[2]!.EventID).toBe("r3");
    // The foreign journey saw nothing.
    const theirs = await other.get("/api/v1/journey", { JourneyID: foreign.journeyId, IncludeActivityCounters: 1 });
    expect((theirs.body["JourneyStats"] as Record<string, unknown>)["LastActivityAt"]).toBeNull();
  });

  it.each([
    [{}, 1],
    [{ Events: [] }, 2],
    [{ Events: "not json" }, 2],
    [{ Events: Array.from({ length: 501 }, () => ({})) }, 2],
  ])("answers %j with code %i", async (params, code) => {
    expect(outcome(await user.post("/api/v1/journey.events", params))).toEqual([422, code]);
  });
});
