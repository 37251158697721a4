import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEngineStack, subscriber, type EngineStack, type EngineUser } from "../support/engine.js";

/**
 * The engine end to end on its own local stack: an enrolment walks a tree of
 * AddTag → Wait 1 day → Decision → (UpdateCustomFieldValue | RemoveTag), crossing
 * the day on the local clock.
 */
let engine: EngineStack;

beforeAll(async () => {
  engine = await startEngineStack();
}, 120_000);
afterAll(async () => engine?.stop());

async function refs(user: EngineUser) {
  const list = Number((await user.post("/api/v1/list", { SubscriberListName: "Main" })).body["ListID"]);
  const tag = Number((await user.post("/api/v1/subscriber.tags", { ListID: list, TagName: "vip" })).body["TagID"]);
  const field = Number((await user.post("/api/v1/customfield", { SubscriberListID: list, FieldName: "City" })).body["CustomFieldID"]);
  return { list, tag, field };
}

async function cursors(userId: number, subscriberId: number) {
  const { engineItemsOf } = await import("../../shared/engine/fanout.js");
  return (await engineItemsOf(userId, subscriberId)).filter((i) => typeof i["EntryID"] === "string");
}

describe("a chain across a day on the local clock", () => {
  // Two clock moves, each waiting for the engine: slower when another engine test file runs beside it.
  it("tags, waits a day, takes the Decision's True branch and completes", { timeout: 120_000 }, async () => {
    const user = await engine.user();
    const r = await refs(user);
    const journeyId = Number((await user.post("/api/v1/journey", { Name: "Chain" })).body["JourneyID"]);
    const upd = await user.patch("/api/v1/journey.actions", {
      JourneyID: journeyId,
      Actions: [
        { Action: "AddTag", TargetTagID: r.tag, Published: true },
        { Action: "Wait", WaitUnit: "days", WaitAmount: 1, Published: true },
        {
          Action: "Decision",
          CriteriaOperator: "and",
          Criteria: [[{ type: "tags", operator: "has this tag", value: String(r.tag) }]],
          Published: true,
          Actions: {
            True: [{ Action: "UpdateCustomFieldValue", TargetCustomFieldID: r.field, NewCustomFieldValue: "Paris", Published: true }],
            False: [{ Action: "RemoveTag", TargetTagID: r.tag, Published: true }],
          },
        },
      ],
    });
    expect(upd.status, upd.text).toBe(200);
    expect((await user.get("/api/v1/journey.enable", { JourneyID: journeyId })).status).toBe(200);
    const sid = await subscriber(user, r.list, "chain@example.com");

    const trig = await user.post("/api/v1/subscriber.journey.trigger", { JourneyID: journeyId, ListID: r.list, SubscriberID: sid });
    expect(trig.status, trig.text).toBe(200);
    await engine.idle();

    let [c] = await cursors(user.userId, sid);
    expect(c?.["State"]).toBe("Active");
    expect((c?.["Steps"] as { Action: string; Outcome: string }[]).map((s) => `${s.Action}:${s.Outcome}`)).toEqual(["AddTag:Done", "Wait:Waiting"]);

    // Not to within 10 minutes of DueAt: the sweeper would hand it with a delay of real seconds.
    await engine.advance(86_400 - 600);
    [c] = await cursors(user.userId, sid);
    expect(c?.["State"]).toBe("Active");

    await engine.advance(601);
    [c] = await cursors(user.userId, sid);
    expect(c?.["State"]).toBe("Completed");
    const steps = (c?.["Steps"] as { Action: string; Outcome: string; Detail: Record<string, unknown> }[]).map((s) => `${s.Action}:${s.Outcome}`);
    expect(steps).toEqual(["AddTag:Done", "Wait:Waiting", "Decision:Done", "UpdateCustomFieldValue:Done"]);

    const stats = await user.get("/api/v1/journey", { JourneyID: journeyId });
    const j = stats.body["Journey"] as Record<string, unknown>;
    expect(JSON.stringify(stats.body)).toContain("ActiveSubscribers");
    void j;
  });
});
