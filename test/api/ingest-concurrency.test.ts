import { describe, expect, it } from "vitest";
import { createUser } from "../support/api.js";
import { ALL_TIME, BY_DAY, DAYS, eventSet, statsJourney } from "../support/event-set.js";

describe("concurrent ingestion", () => {
  it("gives the exact figures when eight overlapping batches are ingested at once", async () => {
    const user = await createUser();
    const f = await statsJourney(user);
    const events = eventSet(f, "c");
    // Overlapping prefixes: every batch keeps each subscriber's events in order,
    // and the union is the whole set; every event is sent up to eight times.
    const batches = Array.from({ length: 8 }, (_, k) => events.slice(0, Math.ceil((events.length * (k + 1)) / 8)));
    const results = await Promise.all(batches.map((Events) => user.post("/api/v1/journey.events", { Events })));
    expect(results.every((r) => r.status === 200)).toBe(true);
    const accepted = results.reduce((n, r) => n + Number(r.body["Accepted"]), 0);
    const duplicates = results.reduce((n, r) => n + Number(r.body["Duplicates"]), 0);
    const sent = batches.reduce((n, b) => n + b.length, 0);
    // Each valid EventID was applied exactly once across all batches.
    expect(accepted).toBe(events.length - 2);
    expect(accepted + duplicates).toBe(sent);

    const res = await user.get("/api/v1/journey", { JourneyID: f.journeyId, StartDate: DAYS[0], EndDate: DAYS[2], IncludeActivityCounters: 1 });
    const stats = res.body["JourneyStats"] as Record<string, unknown>;
    expect(stats).toMatchObject({ ActiveSubscribers: 3, TotalSubscribers: 6, TotalEnrolledLifetime: 5, AggregatedEmailActions: ALL_TIME, TotalRevenue: 24.99 });
    expect(stats["AggregatedDaysEmailActions"]).toEqual(BY_DAY);

    // Sending everything again changes nothing.
    const again = await user.post("/api/v1/journey.events", { Events: events });
    expect(again.body).toMatchObject({ Accepted: 0, Duplicates: events.length });
    expect((await user.get("/api/v1/journey", { JourneyID: f.journeyId, StartDate: DAYS[0], EndDate: DAYS[2], IncludeActivityCounters: 1 })).body["JourneyStats"]).toEqual(stats);
  });
});
