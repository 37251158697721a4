import { beforeAll, describe, expect, it } from "vitest";
import { createUser, type TestUser } from "../support/api.js";
import { countingCalls, invoke, loadHandler, type Handler } from "../support/in-process.js";

/**
 * DESIGN.md's round-trip budget is a count, so it is asserted: each read makes the
 * same number of DynamoDB calls for a small account and a large one (many
 * journeys, many actions, many days, many ISPs). Seeding goes through the domain
 * code in-process, against the same DynamoDB Local.
 */
interface Seeded {
  user: TestUser;
  /** A journey with `actions` SendEmail actions and events over `days` days. */
  busy: { journeyId: number; actionIds: number[] };
}

async function seedAccount(journeys: number, actions: number, days: number, isps: number): Promise<Seeded> {
  const user = await createUser();
  const { createJourney: create, changeStatus } = await import("../../shared/domain/journeys/journeys.js");
  const { replaceTree } = await import("../../shared/domain/journeys/journey-tree.js");
  const { createEmail } = await import("../../shared/domain/emails.js");
  const { nextIds } = await import("../../shared/domain/ids.js");
  const { ingestEvents } = await import("../../shared/domain/ingest/ingest.js");
  const emailId = await createEmail(user.userId, { EmailName: "E", Subject: "S", HTMLContent: "", PlainContent: "" });
  const now = new Date();
  const blank = {
    Trigger: "Manual" as const, TriggerParameters: {}, Notes: "", Trigger_Criteria: [], Run_Criteria: [],
    Run_Criteria_Operator: "and" as const, Rate_Limit_Per_Hour: 0, Rate_Limit_Per_Day: 0,
  };
  const sendEmail = (ActionID: number, OrderNo: number) => ({
    ActionID, Action: "SendEmail" as const, ActionParameters: { EmailID: emailId, SenderDomainID: 0 },
    Published: true, Notes: "", ParentActionID: 0, Branch: "" as const, OrderNo,
  });
  const events: Record<string, unknown>[] = [];
  let busy: Seeded["busy"] | undefined;
  for (let j = 0; j < journeys; j++) {
    const width = j === 0 ? actions : 1;
    const first = await nextIds("Action", width);
    const ids = Array.from({ length: width }, (_, i) => first + i);
    const journey = await create(user.userId, { JourneyName: `J${j}`, ...blank }, now);
    await replaceTree(user.userId, journey, ids.map((id, i) => sendEmail(id, i + 1)), now);
    await changeStatus(user.userId, journey.JourneyID, "Enabled", now);
    if (j === 0) busy = { journeyId: journey.JourneyID, actionIds: ids };
    const spread = j === 0 ? Math.max(days, width) : 1;
    for (let k = 0; k < spread; k++) {
      const day = new Date(Date.UTC(2026, 0, 1 + (k % days))).toISOString().slice(0, 10);
      // Every action and every day gets events; ISPs rotate.
      events.push({
        EventID: `${j}-${k}`, Type: "Sent", JourneyID: journey.JourneyID, ActionID: ids[k % width],
        SubscriberID: k + 1, EmailAddress: `s${k}@isp${k % isps}.example`, OccurredAt: `${day} 12:00:00`,
      });
    }
  }
  for (let i = 0; i < events.length; i += 500) await ingestEvents(user.userId, events.slice(i, i + 500), now);
  return { user, busy: busy! };
}

describe("round-trip budget", () => {
  let handlers: Record<string, Handler>;
  let small: Seeded;
  let large: Seeded;
  beforeAll(async () => {
    handlers = {
      actions: await loadHandler("actions"),
      journeys: await loadHandler("journeys"),
      stats: await loadHandler("stats"),
    };
    small = await seedAccount(5, 2, 2, 1);
    // 500 journeys; the busy one has 500 SendEmail actions with events over 500 days.
    large = await seedAccount(500, 500, 500, 12);
  }, 300_000);

  // 500 days, all of them with events in the large account.
  const WINDOW = { StartDate: "2026-01-01", EndDate: "2027-05-15" };
  const reads: [string, keyof typeof handlers, string, number, (s: Seeded) => Record<string, string | number>][] = [
    ["journey.get", "journeys", "/api/v1/journey", 4, (s) => ({ JourneyID: s.busy.journeyId, ...WINDOW, IncludeActivityCounters: 1 })],
    ["journey.get (EmailID + ISP)", "journeys", "/api/v1/journey", 4, (s) => ({ JourneyID: s.busy.journeyId, ...WINDOW, EmailID: s.busy.actionIds[0]!, ISP: "isp0.example" })],
    // A month for the list: 500 journeys × 500 zero-filled days would be a 60 MB answer.
    ["journey.list", "journeys", "/api/v1/journeys", 4, () => ({ StatsStartDate: "2026-01-01", StatsEndDate: "2026-01-31", IncludeActivityCounters: 1 })],
    // A page reads the journeys, then only that page's rollups: never more than the whole list.
    ["journey.list (a page)", "journeys", "/api/v1/journeys", 3, () => ({ StatsStartDate: "2026-01-01", StatsEndDate: "2026-01-31", RecordsPerRequest: 2, RecordsFrom: 3 })],
    ["journey.sendemailactions", "actions", "/api/v1/journey.sendemailactions", 3, () => ({})],
    ["journey.stats.byisp", "stats", "/api/v1/journey.stats.byisp", 3, (s) => ({ JourneyID: s.busy.journeyId, ...WINDOW })],
    ["journey.stats.byisp (EmailID)", "stats", "/api/v1/journey.stats.byisp", 3, (s) => ({ JourneyID: s.busy.journeyId, ...WINDOW, EmailID: s.busy.actionIds[0]! })],
    ["journey.stats.byaction", "stats", "/api/v1/journey.stats.byaction", 3, (s) => ({ JourneyID: s.busy.journeyId, ...WINDOW })],
    ["journey.stats.byaction (ISP)", "stats", "/api/v1/journey.stats.byaction", 3, (s) => ({ JourneyID: s.busy.journeyId, ...WINDOW, ISP: "isp1.example" })],
    ["account.journey.benchmark", "stats", "/api/v1/account.journey.benchmark", 3, () => WINDOW],
    // Its recipients come from MailIndex: one query of the action's key range, then the page's suppression items.
    ["journey.action.subscribers", "stats", "/api/v1/journey.action.subscribers", 4, (s) => ({ JourneyID: s.busy.journeyId, ActionID: s.busy.actionIds[0]!, FilterJSON: "[]" })],
  ];

  it.each(reads)("%s makes the same number of calls for a small and a large account, within its budget", async (_name, group, path, budget, query) => {
    const counter = await countingCalls();
    const measure = async (s: Seeded) => {
      counter.reset();
      const res = await invoke(handlers[group]!, s.user.apiKey, "GET", path, query(s));
      expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
      return counter.names();
    };
    const few = await measure(small);
    const many = await measure(large);
    expect(few.length).toBeLessThanOrEqual(budget);
    expect(many).toEqual(few);
  });
});
