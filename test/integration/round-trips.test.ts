import { beforeAll, describe, expect, it } from "vitest";
import { createUser, type TestUser } from "../support/api.js";
import { countingCalls, invoke, loadHandler, type Handler } from "../support/in-process.js";

/**
 * DESIGN.md's round-trip budget is a count, so it is asserted: each read makes the
 * same number of DynamoDB calls for a small account and a large one.
 */
async function seedAccount(user: TestUser, journeys: number, sendsPerJourney: number) {
  const { createJourney: create, changeStatus } = await import("../../shared/domain/journeys.js");
  const { replaceTree } = await import("../../shared/domain/journey-tree.js");
  const { createEmail } = await import("../../shared/domain/emails.js");
  const { nextIds } = await import("../../shared/domain/ids.js");
  const emailId = await createEmail(user.userId, { EmailName: "E", Subject: "S", HTMLContent: "", PlainContent: "" });
  const now = new Date();
  const ids = await nextIds("Action", journeys * sendsPerJourney);
  let next = ids;
  for (let j = 0; j < journeys; j++) {
    const journey = await create(
      user.userId,
      {
        JourneyName: `J${j}`, Trigger: "Manual", TriggerParameters: {}, Notes: "", Trigger_Criteria: [], Run_Criteria: [],
        Run_Criteria_Operator: "and", Rate_Limit_Per_Hour: 0, Rate_Limit_Per_Day: 0,
      },
      now,
    );
    const tree = Array.from({ length: sendsPerJourney }, (_, i) => ({
      ActionID: next++, Action: "SendEmail" as const, ActionParameters: { EmailID: emailId, SenderDomainID: 0 },
      Published: true, Notes: "", ParentActionID: 0, Branch: "" as const, OrderNo: i + 1,
    }));
    await replaceTree(user.userId, journey, tree, now);
    await changeStatus(user.userId, journey.JourneyID, "Enabled", now);
  }
}

describe("round-trip budget", () => {
  let actions: Handler;
  let small: TestUser;
  let large: TestUser;
  beforeAll(async () => {
    actions = await loadHandler("actions");
    [small, large] = await Promise.all([createUser(), createUser()]);
    await Promise.all([seedAccount(small, 5, 2), seedAccount(large, 200, 3)]);
  }, 180_000);

  it("journey.sendemailactions makes the same number of calls (at most 3) for 5 and for 200 journeys", async () => {
    const counter = await countingCalls();
    const measure = async (user: TestUser, expected: number) => {
      counter.reset();
      const res = await invoke(actions, user.apiKey, "GET", "/api/v1/journey.sendemailactions");
      expect(res.status).toBe(200);
      expect((res.body["Actions"] as unknown[]).length).toBe(expected);
      return counter.count();
    };
    const few = await measure(small, 10);
    const many = await measure(large, 600);
    expect(few).toBeLessThanOrEqual(3);
    expect(many).toBe(few);
  });
});
