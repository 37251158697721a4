import type { TransactWriteCommandInput } from "@aws-sdk/lib-dynamodb";
import { tableName } from "../aws.js";
import { keys, type Key } from "../keys.js";
import type { Journey } from "../domain/journeys/journeys.js";
import { queryByPrefix } from "../domain/owned.js";
import type { Trigger } from "../domain/journeys/trigger.js";

/**
 * The trigger index (ENGINE §4.2): which Enabled journeys a firing trigger enrols
 * into. It changes only in the same transaction as the status change, deletion or
 * trigger edit that moves a journey into, out of or within it, so a lookup never
 * sees a journey the table does not agree is Enabled for that trigger.
 */
type TransactItem = NonNullable<TransactWriteCommandInput["TransactItems"]>[number];

/** The value a trigger is indexed under; undefined for triggers that never fire by themselves (Manual, WebsiteEvent_*). */
export function triggerValue(trigger: Trigger, params: Record<string, unknown>): string | number | undefined {
  switch (trigger) {
    case "ListSubscription":
    case "ListUnsubscription":
      return Number(params["ListID"]);
    case "Tag":
    case "UnTag":
      return Number(params["TagID"]);
    case "CustomFieldValueChanged":
      return Number(params["CustomFieldID"]);
    case "EmailOpen":
    case "EmailLinkClick":
    case "EmailConversion":
      return Number(params["EmailID"]);
    case "JourneyCompleted":
      return Number(params["JourneyID"]);
    case "RevenueHit":
      return "";
    default:
      return undefined;
  }
}

/** RevenueHit's threshold T in cents: 100 × the value, rounded half up to a whole cent (§4.1). */
export const revenueThreshold = (amount: unknown): number => Math.floor(Number(amount) * 100 + 0.5 + 1e-9);

function entryKey(userId: number, j: Pick<Journey, "JourneyID" | "Trigger" | "TriggerParameters">): Key | undefined {
  const value = triggerValue(j.Trigger, j.TriggerParameters);
  return value === undefined ? undefined : keys.triggerEntry(userId, j.Trigger, value, j.JourneyID);
}

/** The transaction item that lists an Enabled journey in the index (none for triggers that are never indexed). */
export function indexPut(userId: number, j: Pick<Journey, "JourneyID" | "Trigger" | "TriggerParameters">): TransactItem | undefined {
  const key = entryKey(userId, j);
  if (!key) return undefined;
  const item: Record<string, unknown> = { ...key, JourneyID: j.JourneyID };
  if (j.Trigger === "RevenueHit") item["Threshold"] = revenueThreshold(j.TriggerParameters["Amount"]);
  return { Put: { TableName: tableName(), Item: item } };
}

/** The transaction item that takes a journey out of the index. */
export function indexDelete(userId: number, j: Pick<Journey, "JourneyID" | "Trigger" | "TriggerParameters">): TransactItem | undefined {
  const key = entryKey(userId, j);
  return key ? { Delete: { TableName: tableName(), Key: key } } : undefined;
}

/** The Enabled journeys (by the index) that a (Trigger, value) enrols into; RevenueHit's come with T. */
export async function indexedJourneys(
  userId: number,
  trigger: Trigger,
  value: string | number,
): Promise<{ journeyId: number; threshold?: number }[]> {
  const { PK, prefix } = keys.triggerPrefix(userId, trigger, value);
  const items = await queryByPrefix(PK, prefix);
  return items.map((i) => ({
    journeyId: Number(i["JourneyID"]),
    ...(typeof i["Threshold"] === "number" ? { threshold: i["Threshold"] } : {}),
  }));
}
