import { inject } from "vitest";

/**
 * Bulk seeding for tests that need a large account. Journeys are written as the
 * items journey.create stores (same key and `storable` shape), 25 to a
 * BatchWriteItem and several batches in flight: 2,000 journeys take seconds where
 * going through journey.create one by one takes minutes. Bare journeys have no
 * action tree and no statistics, which every reader treats as empty.
 */
export async function seedBareJourneys(userId: number, count: number, name = (i: number) => `Bulk journey ${i + 1}`): Promise<number[]> {
  Object.assign(process.env, inject("stackEnv"));
  const { keys } = await import("../../shared/keys.js");
  const { storable } = await import("../../shared/domain/journeys/journeys.js");
  const { nextIds } = await import("../../shared/domain/ids.js");
  const { batchPut } = await import("../../shared/domain/owned.js");
  const { formatDateTime } = await import("../../shared/time.js");
  const first = await nextIds("Journey", count);
  const at = formatDateTime(new Date());
  const ids = Array.from({ length: count }, (_, i) => first + i);
  const items = ids.map((JourneyID, i) => ({
    ...keys.journey(userId, JourneyID),
    ...storable({
      JourneyID,
      JourneyName: name(i),
      Trigger: "Manual",
      TriggerParameters: {},
      Status: "Disabled",
      Notes: "",
      CreatedAt: at,
      UpdatedAt: at,
      Trigger_Criteria: [],
      Run_Criteria: [],
      Run_Criteria_Operator: "and",
      Rate_Limit_Per_Hour: 0,
      Rate_Limit_Per_Day: 0,
      Tree: { version: "", chunks: 0 },
    }),
  }));
  const SLICE = 250;
  const slices: (typeof items)[] = [];
  for (let i = 0; i < items.length; i += SLICE) slices.push(items.slice(i, i + SLICE));
  // Four slices in flight: DynamoDB Local gains little from more on two cores.
  for (let i = 0; i < slices.length; i += 4) await Promise.all(slices.slice(i, i + 4).map((s) => batchPut(s)));
  return ids;
}
