import { describe, expect, it } from "vitest";
import { createJourney, createUser, firstError, outcome, seedReferences, type TestUser } from "../support/api.js";

const DATETIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;
const today = () => new Date().toISOString().slice(0, 10);
const daysAgo = (n: number) => new Date(Date.now() - n * 86400_000).toISOString().slice(0, 10);

const ZERO_ACTIONS = {
  SendCount: 0,
  DeliveryCount: 0,
  OpenCount: 0,
  ClickCount: 0,
  ConversionCount: 0,
  BrowserViewCount: 0,
  ForwardCount: 0,
  BounceCount: 0,
  UnsubscribeCount: 0,
  SpamComplaintCount: 0,
  TotalRevenue: 0,
};

describe("journey.create", () => {
  it("creates a Disabled journey and answers the reference shape", async () => {
    const user = await createUser();
    const refs = await seedReferences(user);
    const res = await user.post("/api/v1/journey", {
      Name: "Welcome Series",
      Trigger: "ListSubscription",
      Trigger_ListID: refs.list,
      Notes: "Onboarding journey for new subscribers",
    });
    expect(res.status).toBe(200);
    const id = res.body["JourneyID"];
    expect(typeof id).toBe("number");
    const journey = res.body["Journey"] as Record<string, unknown>;
    expect(journey).toMatchObject({
      JourneyID: String(id),
      JourneyName: "Welcome Series",
      Trigger: "ListSubscription",
      TriggerParameters: { ListID: refs.list },
      Status: "Disabled",
      Notes: "Onboarding journey for new subscribers",
      Run_Criteria: [],
      Run_Criteria_Operator: "and",
      Rate_Limit_Per_Hour: 0,
      Rate_Limit_Per_Day: 0,
    });
    expect(journey["CreatedAt"]).toMatch(DATETIME);
    expect(journey["UpdatedAt"]).toBe(journey["CreatedAt"]);
  });

  it("stores each trigger's parameters in canonical form (CONTRACT §8)", async () => {
    const user = await createUser();
    const refs = await seedReferences(user);
    const other = await createJourney(user);
    const cases: [Record<string, unknown>, string, Record<string, unknown>][] = [
      [{}, "Manual", {}],
      [{ Trigger: "listunsubscription", Trigger_ListID: String(refs.list) }, "ListUnsubscription", { ListID: refs.list }],
      [{ Trigger: "EmailOpen", Trigger_EmailID: refs.email }, "EmailOpen", { EmailID: refs.email }],
      [{ Trigger: "EMAILCONVERSION", Trigger_EmailID: refs.email }, "EmailConversion", { EmailID: refs.email }],
      [{ Trigger: "EmailLinkClick", Trigger_EmailID: refs.email }, "EmailLinkClick", { EmailID: refs.email }],
      [{ Trigger: "Tag", Trigger_Value: refs.tag }, "Tag", { TagID: refs.tag }],
      [{ Trigger: "untag", Trigger_Value: String(refs.tag) }, "UnTag", { TagID: refs.tag }],
      [{ Trigger: "CustomFieldValueChanged", Trigger_Value: refs.field }, "CustomFieldValueChanged", { CustomFieldID: refs.field }],
      [{ Trigger: "RevenueHit", Trigger_Value: "49.95" }, "RevenueHit", { Amount: 49.95 }],
      [{ Trigger: "JourneyCompleted", Trigger_Value: other }, "JourneyCompleted", { JourneyID: other }],
      [{ Trigger: "websiteevent_pageview", Trigger_Value: "/pricing" }, "WebsiteEvent_pageView", { Value: "/pricing" }],
      [{ Trigger: "WebsiteEvent_identify" }, "WebsiteEvent_identify", { Value: "" }],
      [{ Trigger: "WebsiteEvent_customEvent", Trigger_Value: "signup" }, "WebsiteEvent_customEvent", { Value: "signup" }],
      [{ Trigger: "WebsiteEvent_conversion", Trigger_Value: "x" }, "WebsiteEvent_conversion", { Value: "x" }],
    ];
    for (const [params, trigger, triggerParameters] of cases) {
      const res = await user.post("/api/v1/journey", { Name: "t", ...params });
      expect(res.status, JSON.stringify(params)).toBe(200);
      expect(res.body["Journey"]).toMatchObject({ Trigger: trigger, TriggerParameters: triggerParameters });
    }
  });

  it("validates and echoes criteria and rate limits", async () => {
    const user = await createUser();
    const criteria = [[{ type: "Fields", field_id: "EmailAddress", operator: "ENDS WITH", value: "@hotmail.com" }], [{ type: "suppressions", operator: "not exist" }]];
    const res = await user.post("/api/v1/journey", {
      Name: "c",
      Trigger_Criteria: JSON.stringify(criteria),
      Run_Criteria: criteria,
      Run_Criteria_Operator: "OR",
      Rate_Limit_Per_Hour: "10",
      Rate_Limit_Per_Day: 100,
    });
    expect(res.status).toBe(200);
    const canonical = [[{ type: "fields", field_id: "EmailAddress", operator: "ends with", value: "@hotmail.com" }], [{ type: "suppressions", operator: "not exist" }]];
    expect(res.body["Journey"]).toMatchObject({
      Trigger_Criteria: canonical,
      Run_Criteria: canonical,
      Run_Criteria_Operator: "or",
      Rate_Limit_Per_Hour: 10,
      Rate_Limit_Per_Day: 100,
    });
  });
});

describe("journey.create error codes", () => {
  let user: TestUser;
  let refs: Awaited<ReturnType<typeof seedReferences>>;
  const setup = async () => {
    user ??= await createUser();
    refs ??= await seedReferences(user);
  };

  const cases: [string, () => Record<string, unknown>, number, string][] = [
    ["no Name", () => ({}), 1, "Missing Name parameter"],
    ["blank Name", () => ({ Name: "   " }), 1, "Missing Name parameter"],
    ["no Name and a bad trigger (lowest code wins)", () => ({ Trigger: "Nope" }), 1, "Missing Name parameter"],
    ["an unknown trigger", () => ({ Name: "x", Trigger: "ScheduledPull" }), 3, "Invalid trigger"],
    ["an unknown criteria type", () => ({ Name: "x", Run_Criteria: [[{ type: "planets", operator: "is" }]] }), 3, ""],
    ["criteria that are not JSON", () => ({ Name: "x", Trigger_Criteria: "[[{" }), 3, ""],
    ["a bad operator", () => ({ Name: "x", Run_Criteria_Operator: "xor" }), 3, ""],
    ["a list trigger without a list", () => ({ Name: "x", Trigger: "ListSubscription" }), 4, "Missing Trigger_ListID parameter"],
    ["a non-numeric list", () => ({ Name: "x", Trigger: "ListSubscription", Trigger_ListID: "12abc" }), 5, "Invalid Trigger_ListID parameter"],
    ["a negative list", () => ({ Name: "x", Trigger: "ListSubscription", Trigger_ListID: -3 }), 5, "Invalid Trigger_ListID parameter"],
    ["an unknown list", () => ({ Name: "x", Trigger: "ListSubscription", Trigger_ListID: 999999999 }), 6, "Trigger_ListID matching record not found"],
    ["an email trigger without an email", () => ({ Name: "x", Trigger: "EmailOpen" }), 7, "Missing Trigger_EmailID parameter"],
    ["a bad email", () => ({ Name: "x", Trigger: "EmailOpen", Trigger_EmailID: "1.5" }), 8, "Invalid Trigger_EmailID parameter"],
    ["an unknown email", () => ({ Name: "x", Trigger: "EmailLinkClick", Trigger_EmailID: 999999999 }), 9, "Trigger_EmailID matching record not found"],
    ["a tag trigger without a tag", () => ({ Name: "x", Trigger: "Tag" }), 10, "Invalid Trigger_Value parameter"],
    ["an unknown tag", () => ({ Name: "x", Trigger: "UnTag", Trigger_Value: 999999999 }), 11, "Trigger_Value matching record not found"],
    ["a bad custom field", () => ({ Name: "x", Trigger: "CustomFieldValueChanged", Trigger_Value: "0" }), 12, "Invalid Trigger_Value parameter (CustomFieldValueChanged)"],
    ["an unknown custom field", () => ({ Name: "x", Trigger: "CustomFieldValueChanged", Trigger_Value: 999999999 }), 13, "Trigger_Value matching record not found (CustomFieldValueChanged)"],
    ["a bad revenue amount", () => ({ Name: "x", Trigger: "RevenueHit", Trigger_Value: "-5" }), 14, "Invalid Trigger_Value parameter (RevenueHit)"],
    ["a zero revenue amount", () => ({ Name: "x", Trigger: "RevenueHit", Trigger_Value: 0 }), 14, "Invalid Trigger_Value parameter (RevenueHit)"],
    ["no revenue amount", () => ({ Name: "x", Trigger: "RevenueHit" }), 15, "Missing Trigger_Value parameter (RevenueHit)"],
    ["a bad journey", () => ({ Name: "x", Trigger: "JourneyCompleted", Trigger_Value: "abc" }), 16, "Invalid Trigger_Value parameter (JourneyCompleted)"],
    ["an unknown journey", () => ({ Name: "x", Trigger: "JourneyCompleted", Trigger_Value: 999999999 }), 17, "Trigger_Value matching record not found (JourneyCompleted)"],
    ["a bad hourly limit", () => ({ Name: "x", Rate_Limit_Per_Hour: "1e3" }), 18, "Invalid rate_limit_per_hour parameter"],
    ["a bad daily limit", () => ({ Name: "x", Rate_Limit_Per_Day: "-1" }), 19, "Invalid rate_limit_per_day parameter"],
    ["an unknown list and a bad limit (the record check comes first)", () => ({ Name: "x", Trigger: "ListSubscription", Trigger_ListID: 999999999, Rate_Limit_Per_Hour: "x" }), 6, ""],
  ];

  it.each(cases)("rejects %s with its code, on v1 (422) and /api.php (200)", async (_label, params, code, message) => {
    await setup();
    const v1 = await user.post("/api/v1/journey", params());
    expect(outcome(v1)).toEqual([422, code]);
    if (message) expect(firstError(v1)?.Message).toBe(message);
    const legacy = await user.legacy({ Command: "journey.create", ...params() });
    expect(outcome(legacy)).toEqual([200, code]);
    // Nothing was half-written.
    const list = await user.get("/api/v1/journeys", { SkipStats: 1 });
    expect((list.body["Journeys"] as unknown[]).every((j) => (j as { JourneyName: string }).JourneyName !== "x")).toBe(true);
  });

  it("refuses records that belong to another user (code 6)", async () => {
    await setup();
    const other = await createUser();
    expect(outcome(await other.post("/api/v1/journey", { Name: "x", Trigger: "ListSubscription", Trigger_ListID: refs.list }))).toEqual([422, 6]);
    expect(outcome(await other.post("/api/v1/journey", { Name: "x", Trigger: "Tag", Trigger_Value: refs.tag }))).toEqual([422, 11]);
  });
});

describe("journey.get", () => {
  it("returns the journey, no actions, and zeroed stats over the default 31-day window", async () => {
    const user = await createUser();
    const id = await createJourney(user, { Name: "G", Notes: "n" });
    const res = await user.get("/api/v1/journey", { JourneyID: id });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ Success: true, JourneyID: String(id), JourneyName: "G", Status: "Disabled", Notes: "n", Actions: [] });
    const stats = res.body["JourneyStats"] as Record<string, unknown>;
    expect(stats["ActiveSubscribers"]).toBe(0);
    expect(stats["TotalSubscribers"]).toBe(0);
    expect(stats["AggregatedEmailActions"]).toEqual(ZERO_ACTIONS);
    const days = stats["AggregatedDaysEmailActions"] as { Date: string }[];
    expect(days).toHaveLength(31);
    expect(days[0]).toEqual({ Date: daysAgo(30), ...ZERO_ACTIONS });
    expect(days[30]?.Date).toBe(today());
    expect(stats["TotalRevenue"]).toBe(0);
    expect(stats["DaysRevenue"]).toHaveLength(31);
    expect((stats["DaysRevenue"] as unknown[])[0]).toEqual({ Date: daysAgo(30), Amount: 0 });
    expect(stats).not.toHaveProperty("LastTriggeredAt");
  });

  it("allows a one-day window and adds the activity counters on request", async () => {
    const user = await createUser();
    const id = await createJourney(user);
    const res = await user.get("/api/v1/journey", { JourneyID: id, StartDate: "2026-02-28", EndDate: "2026-02-28", IncludeActivityCounters: "yes" });
    expect(res.status).toBe(200);
    const stats = res.body["JourneyStats"] as Record<string, unknown>;
    expect(stats["AggregatedDaysEmailActions"]).toEqual([{ Date: "2026-02-28", ...ZERO_ACTIONS }]);
    expect(stats["DaysRevenue"]).toEqual([{ Date: "2026-02-28", Amount: 0 }]);
    expect(stats).toMatchObject({ LastTriggeredAt: null, LastActivityAt: null, TotalEnrolledLifetime: 0 });
  });

  it.each([
    [{}, 0, 1, "Missing JourneyID parameter"],
    [{ JourneyID: "abc" }, 0, 2, "Invalid JourneyID parameter"],
    [{ JourneyID: "0" }, 0, 2, "Invalid JourneyID parameter"],
    [{ JourneyID: 999999999 }, 0, 3, "Journey not found"],
    [{ JourneyID: 999999999, StartDate: "bad" }, 0, 3, "Journey not found"],
    [{ StartDate: "2026-02-30" }, 1, 4, "Invalid StartDate format"],
    [{ StartDate: "2026-2-3" }, 1, 4, "Invalid StartDate format"],
    [{ EndDate: "20260101" }, 1, 5, "Invalid EndDate format"],
    [{ StartDate: "2026-03-02", EndDate: "2026-03-01" }, 1, 6, "StartDate must be before EndDate"],
    [{ StartDate: "2020-01-01", EndDate: "2026-01-01" }, 1, 5, ""],
    [{ EmailID: "x" }, 1, 7, "Invalid EmailID parameter (not a positive integer, or not a SendEmail action on this journey)"],
    [{ EmailID: 12345 }, 1, 7, "Invalid EmailID parameter (not a positive integer, or not a SendEmail action on this journey)"],
    [{ ISP: "gmail.com/../x" }, 1, 8, "Invalid ISP parameter (must match /^[a-zA-Z0-9.-]+$/)"],
  ])("answers %j (with a journey: %i) with code %i", async (params, withJourney, code, message) => {
    const user = await createUser();
    const id = withJourney === 1 ? await createJourney(user) : undefined;
    const res = await user.get("/api/v1/journey", { ...(id ? { JourneyID: id } : {}), ...params });
    const status = code === 3 ? 404 : 422;
    expect(outcome(res)).toEqual([status, code]);
    if (message) expect(firstError(res)?.Message).toBe(message);
    const legacy = await user.legacy({ Command: "journey.get", ...(id ? { JourneyID: id } : {}), ...params });
    expect(outcome(legacy)).toEqual([200, code]);
  });

  it("accepts an ISP filter on a valid domain", async () => {
    const user = await createUser();
    const id = await createJourney(user);
    expect((await user.get("/api/v1/journey", { JourneyID: id, ISP: "gmail.com" })).status).toBe(200);
  });
});

describe("journey.list", () => {
  it("lists the caller's journeys in ID order with stats, and omits JourneyStats with SkipStats", async () => {
    const user = await createUser();
    const a = await createJourney(user, { Name: "A" });
    const b = await createJourney(user, { Name: "B" });
    const res = await user.get("/api/v1/journeys", { StatsStartDate: "2026-01-01", StatsEndDate: "2026-01-03", IncludeActivityCounters: 1 });
    expect(res.status).toBe(200);
    const rows = res.body["Journeys"] as Record<string, unknown>[];
    expect(rows.map((r) => r["JourneyID"])).toEqual([String(a), String(b)]);
    const stats = rows[0]?.["JourneyStats"] as Record<string, unknown>;
    expect(stats["AggregatedDaysEmailActions"]).toHaveLength(3);
    expect(stats).toMatchObject({ ActiveSubscribers: 0, TotalSubscribers: 0, TotalRevenue: 0, TotalEnrolledLifetime: 0 });

    const skip = await user.get("/api/v1/journeys", { SkipStats: "true", IncludeActivityCounters: 1 });
    for (const row of skip.body["Journeys"] as Record<string, unknown>[]) expect(row).not.toHaveProperty("JourneyStats");
    const emptyFlag = await user.get("/api/v1/journeys", { SkipStats: "" });
    expect((emptyFlag.body["Journeys"] as Record<string, unknown>[])[0]).toHaveProperty("JourneyStats");
  });

  it.each([
    [{ StatsStartDate: "2026-13-01" }, 4, "Invalid StatsStartDate format"],
    [{ StatsEndDate: "yesterday" }, 5, "Invalid StatsEndDate format"],
    [{ StatsStartDate: "2026-05-02", StatsEndDate: "2026-05-01" }, 6, "StatsStartDate must be before StatsEndDate"],
    [{ StatsStartDate: "2026-05-02", StatsEndDate: "2026-05-01", SkipStats: 1 }, 6, "StatsStartDate must be before StatsEndDate"],
  ])("rejects %j with code %i, even with SkipStats", async (params, code, message) => {
    const user = await createUser();
    const res = await user.get("/api/v1/journeys", params);
    expect(outcome(res)).toEqual([422, code]);
    expect(firstError(res)?.Message).toBe(message);
    expect(outcome(await user.legacy({ Command: "journey.list", ...params }))).toEqual([200, code]);
  });
});

describe("journey.update", () => {
  it("changes the given fields only and keeps the stored trigger parameters", async () => {
    const user = await createUser();
    const refs = await seedReferences(user);
    const id = await createJourney(user, { Name: "Old", Notes: "keep", Trigger: "ListSubscription", Trigger_ListID: refs.list, Rate_Limit_Per_Day: 5 });
    const res = await user.patch("/api/v1/journey", { JourneyID: id, Name: "New" });
    expect(res.status).toBe(200);
    expect(res.body["Journey"]).toMatchObject({
      JourneyID: String(id),
      JourneyName: "New",
      Notes: "keep",
      Trigger: "ListSubscription",
      TriggerParameters: { ListID: refs.list },
      Rate_Limit_Per_Day: 5,
    });
    const switched = await user.patch("/api/v1/journey", { JourneyID: id, Trigger: "EmailOpen", Trigger_EmailID: refs.email, Rate_Limit_Per_Hour: 3 });
    expect(switched.body["Journey"]).toMatchObject({ Trigger: "EmailOpen", TriggerParameters: { EmailID: refs.email }, Rate_Limit_Per_Hour: 3 });
    const got = await user.get("/api/v1/journey", { JourneyID: id });
    expect(got.body).toMatchObject({ JourneyName: "New", Trigger: "EmailOpen", TriggerParameters: { EmailID: refs.email } });
  });

  it.each([
    [{}, false, 1],
    [{ JourneyID: "x" }, false, 2],
    [{ Trigger: "Bogus" }, true, 3],
    [{ Trigger: "ListSubscription" }, true, 4],
    [{ Trigger: "ListSubscription", Trigger_ListID: "a" }, true, 5],
    [{ Trigger: "ListSubscription", Trigger_ListID: 999999999 }, true, 6],
    [{ Trigger: "EmailOpen" }, true, 7],
    [{ Trigger: "EmailOpen", Trigger_EmailID: "a" }, true, 8],
    [{ Trigger: "EmailOpen", Trigger_EmailID: 999999999 }, true, 9],
    [{ JourneyID: 999999999 }, false, 10],
    [{ Trigger: "Tag", Trigger_Value: 999999999 }, true, 11],
    [{ Trigger: "CustomFieldValueChanged", Trigger_Value: "x" }, true, 12],
    [{ Trigger: "CustomFieldValueChanged", Trigger_Value: 999999999 }, true, 13],
    [{ Trigger: "RevenueHit", Trigger_Value: "abc" }, true, 14],
    [{ Trigger: "RevenueHit" }, true, 15],
    [{ Trigger: "JourneyCompleted", Trigger_Value: "x" }, true, 16],
    [{ Trigger: "JourneyCompleted", Trigger_Value: 999999999 }, true, 17],
    [{ Rate_Limit_Per_Hour: 1.5 }, true, 18],
    [{ Rate_Limit_Per_Day: "ten" }, true, 19],
  ])("answers %j (with a journey: %s) with code %i and leaves the journey unchanged", async (params, withJourney, code) => {
    const user = await createUser();
    const id = withJourney ? await createJourney(user, { Name: "Same" }) : undefined;
    const before = id ? (await user.get("/api/v1/journey", { JourneyID: id })).body : undefined;
    const res = await user.patch("/api/v1/journey", { ...(id ? { JourneyID: id } : {}), Name: "Changed", ...params });
    expect(outcome(res)).toEqual([code === 10 ? 404 : 422, code]);
    expect(outcome(await user.legacy({ Command: "journey.update", ...(id ? { JourneyID: id } : {}), ...params }))).toEqual([200, code]);
    if (id) expect((await user.get("/api/v1/journey", { JourneyID: id })).body).toEqual(before);
  });

  it("refuses a JourneyCompleted trigger that points at the journey itself", async () => {
    const user = await createUser();
    const id = await createJourney(user);
    expect(outcome(await user.patch("/api/v1/journey", { JourneyID: id, Trigger: "JourneyCompleted", Trigger_Value: id }))).toEqual([422, 16]);
  });
});

describe("journey.delete and journeys.delete", () => {
  it("deletes a journey: it answers {JourneyID}, then 404 everywhere", async () => {
    const user = await createUser();
    const id = await createJourney(user);
    const res = await user.post("/api/v1/journey.delete", { JourneyID: id });
    expect(res.body).toEqual({ Success: true, JourneyID: id });
    expect(outcome(await user.get("/api/v1/journey", { JourneyID: id }))).toEqual([404, 3]);
    expect(outcome(await user.post("/api/v1/journey.delete", { JourneyID: id }))).toEqual([404, 3]);
    expect((await user.get("/api/v1/journeys", { SkipStats: 1 })).body["Journeys"]).toEqual([]);
  });

  it.each([
    [{}, 1],
    [{ JourneyID: "-1" }, 2],
  ])("journey.delete %j answers code %i", async (params, code) => {
    const user = await createUser();
    expect(outcome(await user.post("/api/v1/journey.delete", params))).toEqual([422, code]);
  });

  it("journeys.delete removes the caller's listed journeys and reports the legacy shape", async () => {
    const user = await createUser();
    const a = await createJourney(user);
    const b = await createJourney(user);
    const c = await createJourney(user);
    const res = await user.legacy({ Command: "journeys.delete", Journeys: `${a}, ${b},x,${b},999999999` });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ Success: true, ErrorCode: 0, ErrorText: "" });
    const left = (await user.get("/api/v1/journeys", { SkipStats: 1 })).body["Journeys"] as { JourneyID: string }[];
    expect(left.map((j) => j.JourneyID)).toEqual([String(c)]);
  });

  it("journeys.delete without usable IDs answers ErrorCode [1]", async () => {
    const user = await createUser();
    for (const Journeys of [undefined, "", "abc,-2"]) {
      const res = await user.legacy({ Command: "journeys.delete", ...(Journeys !== undefined ? { Journeys } : {}) });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ Success: false, ErrorCode: [1], ErrorText: ["Missing Journeys parameter"] });
    }
  });

  it("journeys.delete has no v1 route", async () => {
    const user = await createUser();
    expect(outcome(await user.post("/api/v1/journeys.delete", { Journeys: "1" }))).toEqual([400, 100003]);
  });
});

describe("journey.enable and journey.disable", () => {
  it("flips the status and answers the journey", async () => {
    const user = await createUser();
    const id = await createJourney(user);
    const on = await user.get("/api/v1/journey.enable", { JourneyID: id });
    expect(on.status).toBe(200);
    expect(on.body["Journey"]).toMatchObject({ JourneyID: String(id), Status: "Enabled" });
    expect(outcome(await user.get("/api/v1/journey.enable", { JourneyID: id }))).toEqual([409, 4]);
    expect(firstError(await user.get("/api/v1/journey.enable", { JourneyID: id }))?.Message).toBe("Journey is already enabled");
    const off = await user.get("/api/v1/journey.disable", { JourneyID: id });
    expect(off.body["Journey"]).toMatchObject({ Status: "Disabled" });
    const again = await user.get("/api/v1/journey.disable", { JourneyID: id });
    expect(outcome(again)).toEqual([409, 4]);
    expect(firstError(again)?.Message).toBe("Journey is already disabled");
    expect(outcome(await user.legacy({ Command: "journey.disable", JourneyID: id }))).toEqual([200, 4]);
  });

  it.each(["journey.enable", "journey.disable"])("%s answers codes 1, 2 and 3", async (command) => {
    const user = await createUser();
    expect(outcome(await user.get(`/api/v1/${command}`, {}))).toEqual([422, 1]);
    expect(outcome(await user.get(`/api/v1/${command}`, { JourneyID: "1.5" }))).toEqual([422, 2]);
    expect(outcome(await user.get(`/api/v1/${command}`, { JourneyID: 999999999 }))).toEqual([404, 3]);
    expect(outcome(await user.legacy({ Command: command, JourneyID: 999999999 }))).toEqual([200, 3]);
  });

  it("lets exactly one of 20 concurrent enables win; the rest get 409/4", async () => {
    const user = await createUser();
    const id = await createJourney(user);
    const results = await Promise.all(Array.from({ length: 20 }, () => user.get("/api/v1/journey.enable", { JourneyID: id })));
    const statuses = results.map((r) => outcome(r));
    expect(statuses.filter(([s]) => s === 200)).toHaveLength(1);
    expect(statuses.filter(([s, c]) => s === 409 && c === 4)).toHaveLength(19);
  });
});

describe("journeys.enable and journeys.disable", () => {
  it("processes each owned ID in the right state and reports the rest as failed", async () => {
    const owner = await createUser();
    const stranger = await createUser();
    const a = await createJourney(owner);
    const b = await createJourney(owner);
    const foreign = await createJourney(stranger);
    await owner.get("/api/v1/journey.enable", { JourneyID: b });
    const res = await owner.post("/api/v1/journeys.enable", { JourneyIDs: `${a},${b},${foreign},999999999,abc,${a}` });
    expect(res.body).toEqual({ Success: true, ProcessedJourneyIDs: [a], FailedJourneyIDs: [b, foreign, 999999999] });
    const off = await owner.legacy({ Command: "journeys.disable", JourneyIDs: `${a},${b}` });
    expect(off.body).toEqual({ Success: true, ProcessedJourneyIDs: [a, b], FailedJourneyIDs: [] });
    expect((await stranger.get("/api/v1/journey", { JourneyID: foreign })).body["Status"]).toBe("Disabled");
  });

  it.each(["journeys.enable", "journeys.disable"])("%s answers 422 with code 1 or 2 when no usable IDs are given", async (command) => {
    const user = await createUser();
    const missing = await user.post(`/api/v1/${command}`, {});
    expect(outcome(missing)).toEqual([422, 1]);
    expect(firstError(missing)?.Message).toBe("Missing JourneyIDs parameter");
    const invalid = await user.post(`/api/v1/${command}`, { JourneyIDs: "a,0,-4" });
    expect(outcome(invalid)).toEqual([422, 2]);
    expect(firstError(invalid)?.Message).toBe("Invalid JourneyIDs parameter (no positive integers after parsing)");
  });
});

describe("tenant isolation", () => {
  it("hides user A's journeys from user B on every command", async () => {
    const a = await createUser();
    const b = await createUser();
    const id = await createJourney(a, { Name: "A's journey" });
    expect(outcome(await b.get("/api/v1/journey", { JourneyID: id }))).toEqual([404, 3]);
    expect(outcome(await b.patch("/api/v1/journey", { JourneyID: id, Name: "hijack" }))).toEqual([404, 10]);
    expect(outcome(await b.get("/api/v1/journey.enable", { JourneyID: id }))).toEqual([404, 3]);
    expect(outcome(await b.get("/api/v1/journey.disable", { JourneyID: id }))).toEqual([404, 3]);
    expect(outcome(await b.post("/api/v1/journey.delete", { JourneyID: id }))).toEqual([404, 3]);
    expect((await b.post("/api/v1/journeys.enable", { JourneyIDs: String(id) })).body["FailedJourneyIDs"]).toEqual([id]);
    expect((await b.get("/api/v1/journeys", { SkipStats: 1 })).body["Journeys"]).toEqual([]);
    expect((await b.legacy({ Command: "journeys.delete", Journeys: String(id) })).body).toMatchObject({ Success: true });
    const still = await a.get("/api/v1/journey", { JourneyID: id });
    expect(still.status).toBe(200);
    expect(still.body).toMatchObject({ JourneyName: "A's journey", Status: "Disabled" });
  });
});
