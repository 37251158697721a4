import { describe, expect, it } from "vitest";
import { createJourney, createUser, outcome, type TestUser } from "../support/api.js";

async function setup() {
  const user = await createUser();
  const list = Number((await user.post("/api/v1/list", { SubscriberListName: "L" })).body["ListID"]);
  const sub = Number((await user.post("/api/v1/subscriber", { ListID: list, EmailAddress: "sam@example.com" })).body["SubscriberID"]);
  const on = await createJourney(user, { Name: "On" });
  const off = await createJourney(user, { Name: "Off" });
  // A day's Wait keeps an enrolment active: a journey with no published action completes at once (ENGINE §5.3).
  for (const id of [on, off]) {
    await user.patch("/api/v1/journey.actions", { JourneyID: id, Actions: [{ Action: "Wait", WaitUnit: "days", WaitAmount: 1, Published: true }] });
  }
  await user.get("/api/v1/journey.enable", { JourneyID: on });
  return { user, list, sub, on, off };
}

const counters = async (user: TestUser, id: number) => {
  const stats = (await user.get("/api/v1/journey", { JourneyID: id, IncludeActivityCounters: 1 })).body["JourneyStats"] as Record<string, unknown>;
  return [stats["ActiveSubscribers"], stats["TotalSubscribers"], stats["TotalEnrolledLifetime"]];
};

describe("subscriber journeys", () => {
  it("triggers into enabled journeys, skips disabled and unknown ones, and moves the counters", async () => {
    const { user, list, sub, on, off } = await setup();
    const res = await user.post("/api/v1/subscriber.journey.trigger", { JourneyID: [on, off, 999999999], ListID: list, SubscriberID: sub });
    expect(res.body).toEqual({
      Success: true,
      JourneyIDs: [on],
      ListID: list,
      SubscriberID: sub,
      SkippedJourneys: [
        { JourneyID: off, Reason: "Journey is disabled" },
        { JourneyID: 999999999, Reason: "Journey not found" },
      ],
    });
    expect(await counters(user, on)).toEqual([1, 1, 1]);
    const bypass = await user.post("/api/v1/subscriber.journey.trigger", { JourneyID: off, ListID: list, SubscriberID: sub, BypassJourneyStatusCheck: "true" });
    expect(bypass.body).toEqual({ Success: true, JourneyIDs: [off], ListID: list, SubscriberID: sub });

    const listed = await user.post("/api/v1/subscriber.journey.list", { ListID: list, SubscriberID: sub });
    expect((listed.body["Journeys"] as { JourneyID: number; JourneyName: string; Status: string }[]).map((j) => [j.JourneyID, j.JourneyName, j.Status])).toEqual([
      [on, "On", "Enabled"],
      [off, "Off", "Disabled"],
    ]);

    const exit = await user.post("/api/v1/subscriber.journey.exit", { JourneyID: on, ListID: list, SubscriberID: sub });
    expect(exit.body).toEqual({ Success: true, JourneyID: on, ListID: list, SubscriberID: sub });
    expect(await counters(user, on)).toEqual([0, 1, 1]);
    // Back in: a second entry row, still one distinct subscriber.
    await user.post("/api/v1/subscriber.journey.trigger", { JourneyID: on, ListID: list, SubscriberID: sub });
    expect(await counters(user, on)).toEqual([1, 2, 1]);

    const removed = await user.post("/api/v1/subscriber.journey.remove", { JourneyID: `${on},${off}`, ListID: list, SubscriberID: sub });
    expect(removed.body).toMatchObject({ Success: true, JourneyIDs: [on, off] });
    expect((await user.post("/api/v1/subscriber.journey.list", { ListID: list, SubscriberID: sub })).body["Journeys"]).toEqual([]);
    expect(await counters(user, on)).toEqual([0, 2, 1]);
  });

  it("answers code 7 with SkippedJourneys when every journey is skipped", async () => {
    const { user, list, sub, off } = await setup();
    const res = await user.post("/api/v1/subscriber.journey.trigger", { JourneyID: off, ListID: list, SubscriberID: sub });
    expect(outcome(res)).toEqual([404, 7]);
    expect(res.body["SkippedJourneys"]).toEqual([{ JourneyID: off, Reason: "Journey is disabled" }]);
  });

  it.each([
    ["subscriber.journey.trigger", { ListID: 1, SubscriberID: 1 }, 422, 1],
    ["subscriber.journey.trigger", { JourneyID: 1, SubscriberID: 1 }, 422, 2],
    ["subscriber.journey.remove", { JourneyID: 1, ListID: 1 }, 422, 3],
    ["subscriber.journey.remove", { JourneyID: "a", ListID: 1, SubscriberID: 1 }, 422, 4],
    ["subscriber.journey.exit", { JourneyID: 1, ListID: "b", SubscriberID: 1 }, 422, 5],
    ["subscriber.journey.exit", { JourneyID: 1, ListID: 1, SubscriberID: "c" }, 422, 6],
    ["subscriber.journey.exit", { JourneyID: 999999999, ListID: 1, SubscriberID: 1 }, 404, 7],
    ["subscriber.journey.list", { SubscriberID: 1 }, 422, 2],
    ["subscriber.journey.list", { ListID: 1 }, 422, 3],
  ])("%s %j answers %i / code %i", async (command, params, status, code) => {
    const { user } = await setup();
    const path = `/api/v1/${command}`;
    expect(outcome(await user.post(path, params))).toEqual([status, code]);
    expect(outcome(await user.legacy({ Command: command, ...params }))).toEqual([200, code]);
  });

  it("answers 404 / 8 for another user's list and 404 / 9 for a subscriber not on the list", async () => {
    const { user, list, sub, on } = await setup();
    const other = await setup();
    expect(outcome(await user.post("/api/v1/subscriber.journey.trigger", { JourneyID: on, ListID: other.list, SubscriberID: sub }))).toEqual([404, 8]);
    expect(outcome(await user.post("/api/v1/subscriber.journey.trigger", { JourneyID: on, ListID: list, SubscriberID: other.sub }))).toEqual([404, 9]);
    expect(outcome(await user.post("/api/v1/subscriber.journey.list", { ListID: list, SubscriberID: 999999999 }))).toEqual([404, 9]);
    expect(await counters(user, on)).toEqual([0, 0, 0]);
  });
});
