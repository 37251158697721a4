import { randomUUID } from "node:crypto";
import { eachLimited } from "./stats.js";

/**
 * Seeding straight through the domain functions, in-process, against the
 * stack's DynamoDB Local (as test/integration/round-trips.test.ts does): the
 * measured requests go through HTTP, the setup does not need to. The modules
 * are imported only when called, after the stack has set process.env.
 */
export interface BenchUser {
  userId: number;
  apiKey: string;
}

export interface SeededJourney {
  journeyId: number;
  actionIds: number[];
}

export async function createBenchUser(): Promise<BenchUser> {
  const { createUser } = await import("../shared/domain/users/users.js");
  const tag = randomUUID().slice(0, 12);
  return createUser({
    username: `bench-${tag}`,
    password: `pw-${tag}`,
    email: `${tag}@bench.example`,
    permissions: ["Campaign.Create", "Campaign.Delete"],
    now: new Date(),
  });
}

/** `count` enabled journeys of `actionsPerJourney` top-level SendEmail actions each, `concurrency` at a time. */
export async function seedJourneys(
  userId: number,
  count: number,
  actionsPerJourney: number,
  concurrency = 16,
): Promise<SeededJourney[]> {
  const { createJourney, changeStatus } = await import("../shared/domain/journeys/journeys.js");
  const { replaceTree } = await import("../shared/domain/journeys/journey-tree.js");
  const { createEmail } = await import("../shared/domain/emails.js");
  const { nextIds } = await import("../shared/domain/ids.js");
  const now = new Date();
  const emailId = await createEmail(userId, { EmailName: "Bench", Subject: "Bench", HTMLContent: "<p>Hi</p>", PlainContent: "Hi" });
  const firstAction = await nextIds("Action", count * actionsPerJourney);
  const blank = {
    Trigger: "Manual" as const,
    TriggerParameters: {},
    Notes: "",
    Trigger_Criteria: [],
    Run_Criteria: [],
    Run_Criteria_Operator: "and" as const,
    Rate_Limit_Per_Hour: 0,
    Rate_Limit_Per_Day: 0,
  };
  const out: SeededJourney[] = new Array(count);
  await eachLimited(
    Array.from({ length: count }, (_, j) => j),
    concurrency,
    async (j) => {
      const actionIds = Array.from({ length: actionsPerJourney }, (_, i) => firstAction + j * actionsPerJourney + i);
      const journey = await createJourney(userId, { JourneyName: `Bench journey ${j + 1}`, ...blank }, now);
      const tree = actionIds.map((ActionID, i) => ({
        ActionID,
        Action: "SendEmail" as const,
        ActionParameters: { EmailID: emailId, SenderDomainID: 0 },
        Published: true,
        Notes: "",
        ParentActionID: 0,
        Branch: "" as const,
        OrderNo: i + 1,
      }));
      const replaced = await replaceTree(userId, journey, tree, now);
      if (!replaced.ok) throw new Error(`seeding: tree of journey ${journey.JourneyID} was not written`);
      const enabled = await changeStatus(userId, journey.JourneyID, "Enabled", now);
      if (!enabled.ok) throw new Error(`seeding: journey ${journey.JourneyID} could not be enabled`);
      out[j] = { journeyId: journey.JourneyID, actionIds };
    },
  );
  return out;
}

/** Ingests in-process in batches of 500, `concurrency` batches at a time; throws if any event is not accepted. */
export async function ingestAll(userId: number, events: Record<string, unknown>[], concurrency = 4): Promise<void> {
  const { ingestEvents } = await import("../shared/domain/ingest/ingest.js");
  const batches: Record<string, unknown>[][] = [];
  for (let i = 0; i < events.length; i += 500) batches.push(events.slice(i, i + 500));
  await eachLimited(batches, concurrency, async (batch) => {
    const r = await ingestEvents(userId, batch);
    if (r.Rejected.length > 0) throw new Error(`seeding: ${r.Rejected.length} events rejected, first: ${JSON.stringify(r.Rejected[0])}`);
  });
}

/** `YYYY-MM-DD` of `daysAgo` days before today (UTC). */
export function dayAgo(daysAgo: number, now = new Date()): string {
  return new Date(now.getTime() - daysAgo * 86_400_000).toISOString().slice(0, 10);
}
