import { keys, type Key } from "../../keys.js";
import { toNonNegativeInt, toPositiveInt } from "../../params.js";
import { formatDateTime, parseDateTime } from "../../time.js";
import { isEmailAddress } from "../email-address.js";
import { applyEvents, EVENT_TYPES, type EventType, type IngestEvent } from "./ingest-apply.js";
import { batchGet, keyId } from "../owned.js";
import { treePointer } from "../trees/tree-store.js";

/**
 * The one ingest core behind `journey.events.ingest`, the events queue and the
 * enrolment commands (CONTRACT §7): shape checks, ownership checks, then
 * `applyEvents` (./ingest-apply.ts), which applies the accepted events a chunk at
 * a time, each chunk in one transaction with its exactly-once markers.
 */
export { EVENT_TYPES, applyEvents, type EventType, type IngestEvent } from "./ingest-apply.js";

const ENROLLMENT = new Set<EventType>(["Enrolled", "Completed", "Exited"]);

export interface Rejection {
  Index: number;
  EventID: string;
  Code: number;
  Message: string;
}

export interface IngestResult {
  Accepted: number;
  Duplicates: number;
  Rejected: Rejection[];
}

const MESSAGES: Record<number, string> = {
  3: "Invalid EventID",
  4: "Invalid Type",
  5: "Journey not found",
  6: "Action not found or not a SendEmail action",
  7: "Invalid SubscriberID",
  8: "Invalid EmailAddress",
  9: "Invalid OccurredAt",
  10: "Invalid Amount",
  11: "Invalid BounceType",
};

const lowerKeys = (o: Record<string, unknown>) => new Map(Object.entries(o).map(([k, v]) => [k.toLowerCase(), v]));

/** Shape checks that need no database; codes in ascending order, lowest failing code wins. */
function parseEvent(raw: unknown, now: Date): { event?: IngestEvent; codes: number[]; eventId: string; explicitTime: boolean } {
  const codes: number[] = [];
  const f = typeof raw === "object" && raw !== null && !Array.isArray(raw) ? lowerKeys(raw as Record<string, unknown>) : new Map<string, unknown>();
  const eventIdRaw = f.get("eventid");
  const eventId = typeof eventIdRaw === "string" ? eventIdRaw : typeof eventIdRaw === "number" ? String(eventIdRaw) : "";
  if (eventId.length < 1 || eventId.length > 128) codes.push(3);
  const typeRaw = f.get("type");
  const type = typeof typeRaw === "string" ? EVENT_TYPES.find((t) => t.toLowerCase() === typeRaw.trim().toLowerCase()) : undefined;
  if (!type) codes.push(4);
  const journeyId = toPositiveInt(f.get("journeyid"));
  if (journeyId === undefined) codes.push(5);
  const needsAction = type !== undefined && !ENROLLMENT.has(type);
  const actionRaw = f.get("actionid");
  const actionId = actionRaw === undefined || actionRaw === null || actionRaw === "" ? undefined : toPositiveInt(actionRaw);
  if (needsAction && actionId === undefined) codes.push(6);
  const subscriberId = toPositiveInt(f.get("subscriberid"));
  if (subscriberId === undefined) codes.push(7);
  const emailRaw = f.get("emailaddress");
  const needsEmail = type !== "Completed" && type !== "Exited";
  const email = isEmailAddress(emailRaw) ? emailRaw : undefined;
  if ((needsEmail && !email) || (!needsEmail && emailRaw !== undefined && emailRaw !== null && emailRaw !== "" && !email)) codes.push(8);
  const occurredRaw = f.get("occurredat");
  let occurredAt = formatDateTime(now);
  if (occurredRaw !== undefined && occurredRaw !== null && occurredRaw !== "") {
    const parsed = typeof occurredRaw === "string" ? parseDateTime(occurredRaw) : undefined;
    if (!parsed) codes.push(9);
    else occurredAt = formatDateTime(parsed);
  }
  const amountRaw = f.get("amount");
  let amount = 0;
  if (amountRaw !== undefined && amountRaw !== null && amountRaw !== "") {
    const cents = toNonNegativeInt(amountRaw);
    if (type !== "Converted" || cents === undefined || cents > 1e12) codes.push(10);
    else amount = cents;
  }
  const bounceRaw = f.get("bouncetype");
  let bounceType: "Hard" | "Soft" = "Hard";
  if (bounceRaw !== undefined && bounceRaw !== null && bounceRaw !== "") {
    const b = typeof bounceRaw === "string" ? (["Hard", "Soft"] as const).find((x) => x.toLowerCase() === bounceRaw.trim().toLowerCase()) : undefined;
    if (type !== "Bounced" || !b) codes.push(11);
    else bounceType = b;
  }
  const explicitTime = occurredRaw !== undefined && occurredRaw !== null && occurredRaw !== "";
  if (codes.length > 0) return { codes, eventId, explicitTime };
  return {
    codes,
    eventId,
    explicitTime,
    event: {
      EventID: eventId,
      Type: type!,
      JourneyID: journeyId!,
      ...(needsAction ? { ActionID: actionId! } : {}),
      SubscriberID: subscriberId!,
      ...(email ? { EmailAddress: email } : {}),
      OccurredAt: occurredAt,
      Amount: amount,
      BounceType: bounceType,
    },
  };
}

/**
 * Ingests up to 500 events for one user. Rejected events change nothing and do
 * not stop the batch. Events of one subscriber in one journey are applied in
 * their order in the batch (the first ingested unique event is the one that
 * counts); different subscribers' events share chunk transactions.
 */
export async function ingestEvents(
  userId: number,
  rawEvents: unknown[],
  now = new Date(),
  /** The default OccurredAt of event i, when events from several messages are ingested together. */
  nowOf: (i: number) => Date = () => now,
): Promise<IngestResult> {
  const parsed = rawEvents.map((raw, i) => parseEvent(raw, nowOf(i)));
  const rejected = new Map<number, number>();
  parsed.forEach((p, i) => {
    if (p.codes.length > 0) rejected.set(i, Math.min(...p.codes));
  });

  // Ownership and SendEmail checks, batched: the journeys, then their index entries.
  const valid = parsed.map((p, i) => ({ i, e: p.event })).filter((x): x is { i: number; e: IngestEvent } => x.e !== undefined);
  const journeyItems = await batchGet([...new Set(valid.map((v) => v.e.JourneyID))].map((id) => keys.journey(userId, id)));
  const journeyOf = (id: number) => journeyItems.get(keyId(keys.journey(userId, id)));
  const indexKeys: Key[] = [];
  for (const { e } of valid) {
    const j = journeyOf(e.JourneyID);
    if (j && e.ActionID !== undefined) indexKeys.push(keys.sendEmail(userId, e.JourneyID, treePointer(j).version, e.ActionID));
  }
  const indexItems = await batchGet(indexKeys);
  const accepted: { i: number; e: IngestEvent }[] = [];
  for (const v of valid) {
    const j = journeyOf(v.e.JourneyID);
    if (!j) {
      rejected.set(v.i, 5);
      continue;
    }
    if (v.e.ActionID !== undefined) {
      const action = indexItems.get(keyId(keys.sendEmail(userId, v.e.JourneyID, treePointer(j).version, v.e.ActionID)));
      if (!action) {
        rejected.set(v.i, 6);
        continue;
      }
      // The EmailID the action sends: what the email triggers match (ENGINE §4.1), kept on the email state.
      const emailId = Number(action["EmailID"]);
      if (Number.isInteger(emailId) && emailId > 0) v.e.EmailID = emailId;
    }
    accepted.push(v);
  }

  const { applied } = await applyEvents(
    userId,
    accepted.map(({ e }) => e),
    now,
    accepted.map(({ i }) => parsed[i]!.explicitTime),
  );
  const count = applied.filter(Boolean).length;
  return {
    Accepted: count,
    Duplicates: accepted.length - count,
    Rejected: [...rejected]
      .sort(([a], [b]) => a - b)
      .map(([Index, Code]) => ({ Index, EventID: parsed[Index]!.eventId, Code, Message: MESSAGES[Code]! })),
  };
}
