import { randomUUID } from "node:crypto";
import * as z from "zod/mini";
import { document } from "../command-docs.js";
import { defineCommand, userOf } from "../command.js";
import { CommandError, notFound } from "../errors.js";
import { applyEvents, type EventType } from "../domain/ingest.js";
import { getJourneys, listJourneys, type Journey } from "../domain/journeys.js";
import { getOwned, queryByPrefix } from "../domain/owned.js";
import { keys } from "../keys.js";
import { formatDateTime } from "../time.js";
import { field, fail, flag, isAbsent, requiredId, toPositiveInt, type Coded } from "../params.js";

/**
 * subscriber.journey.trigger / remove / exit / list (reference/subscriber-journeys.md).
 * Enrolling and leaving go through the ingest core as Enrolled / Exited events, so
 * the enrollment counters of journey.get and journey.list move exactly as they do
 * for ingested events.
 */

const LIST_ID = requiredId([2, "Missing ListID parameter"], [5, "Invalid ListID parameter"], "The subscriber's list");
const SUBSCRIBER_ID = requiredId([3, "Missing SubscriberID parameter"], [6, "Invalid SubscriberID parameter"], "The subscriber");

/** One JourneyID, or an array (or comma list) of them. */
const JOURNEY_IDS: readonly [missing: Coded, invalid: Coded] = [
  [1, "Missing JourneyID parameter"],
  [4, "Invalid JourneyID parameter"],
];
const journeyIds = field({ type: "array|string", required: true, description: "A JourneyID or an array of JourneyIDs", codes: JOURNEY_IDS }, (v, ctx): number[] => {
  const [missing, invalid] = JOURNEY_IDS;
  if (isAbsent(v) || (Array.isArray(v) && v.length === 0)) return fail(ctx, v, missing);
  const tokens = Array.isArray(v) ? v : typeof v === "string" && v.includes(",") ? v.split(",").map((t) => t.trim()) : [v];
  const ids = tokens.map(toPositiveInt);
  if (ids.some((id) => id === undefined) || tokens.length > 100) return fail(ctx, v, invalid);
  return [...new Set(ids as number[])];
});

/** What enrollment's shared checks raise past the parameters' own, declared for /docs (7 carries SkippedJourneys). */
const notOnList = (): CommandError[] => [notFound(8, "List not found"), notFound(9, "Subscriber not found")];
const enrollErrors = (): CommandError[] => [new CommandError(7, "Journey not found", "notFound"), ...notOnList()];

/** The subscriber must be on the list, both the caller's (8, 9: HTTP 404, CONTRACT §11). */
async function subscriberOnList(userId: number, listId: number, subscriberId: number): Promise<string> {
  if (!(await getOwned("list", userId, listId))) throw notFound(8, "List not found");
  const subscriber = await getOwned("subscriber", userId, subscriberId);
  if (!subscriber || subscriber["ListID"] !== listId) throw notFound(9, "Subscriber not found");
  return String(subscriber["EmailAddress"]);
}

function event(type: EventType, journeyId: number, subscriberId: number, email: string, now: Date) {
  return {
    // Commands are not retried by EventID, so each call is its own event.
    EventID: `cmd-${randomUUID()}`,
    Type: type,
    JourneyID: journeyId,
    SubscriberID: subscriberId,
    ...(type === "Enrolled" ? { EmailAddress: email } : {}),
    OccurredAt: formatDateTime(now),
    Amount: 0,
    BounceType: "Hard" as const,
  };
}

type Skip = { JourneyID: number; Reason: string };

function skippedAll(skipped: Skip[]): CommandError {
  return new CommandError(7, "Journey not found", "notFound", {}, { SkippedJourneys: skipped });
}

/**
 * Applies one enrollment event per journey (trigger and remove): journeys the
 * caller does not own, or that `skip` names a reason for, are skipped; when every
 * one is, the call fails with code 7 and the reasons.
 */
async function acrossJourneys(
  userId: number,
  p: { JourneyID: number[]; ListID: number; SubscriberID: number },
  type: "Enrolled" | "Exited",
  skip: (journey: Journey) => string | undefined,
  now: Date,
) {
  const journeys = await getJourneys(userId, p.JourneyID);
  const skipped: Skip[] = [];
  const targets: number[] = [];
  for (const id of p.JourneyID) {
    const j = journeys.get(id);
    const reason = j ? skip(j) : "Journey not found";
    if (reason) skipped.push({ JourneyID: id, Reason: reason });
    else targets.push(id);
  }
  if (targets.length === 0) throw skippedAll(skipped);
  const email = await subscriberOnList(userId, p.ListID, p.SubscriberID);
  const events = targets.map((id) => event(type, id, p.SubscriberID, email, now));
  await applyEvents(userId, events, now);
  return {
    JourneyIDs: targets,
    ListID: p.ListID,
    SubscriberID: p.SubscriberID,
    ...(skipped.length > 0 ? { SkippedJourneys: skipped } : {}),
  };
}

export const subscriberJourneyTrigger = defineCommand({
  name: "subscriber.journey.trigger",
  route: { method: "POST", path: "/api/v1/subscriber.journey.trigger" },
  group: "events",
  scope: "user",
  permission: "Campaign.Create",
  params: z.object({
    JourneyID: journeyIds,
    ListID: LIST_ID,
    SubscriberID: SUBSCRIBER_ID,
    BypassJourneyStatusCheck: flag("Enroll even into a Disabled journey"),
  }),
  async run(p, ctx) {
    const skipDisabled = (j: Journey) => (j.Status !== "Enabled" && !p.BypassJourneyStatusCheck ? "Journey is disabled" : undefined);
    return acrossJourneys(userOf(ctx).userId, p, "Enrolled", skipDisabled, ctx.now);
  },
});
DOCS: document(subscriberJourneyTrigger, {
  summary: "Enroll a subscriber of the caller's list into one or more journeys",
  errors: enrollErrors(),
});

export const subscriberJourneyRemove = defineCommand({
  name: "subscriber.journey.remove",
  route: { method: "POST", path: "/api/v1/subscriber.journey.remove" },
  group: "events",
  scope: "user",
  permission: "Campaign.Create",
  params: z.object({ JourneyID: journeyIds, ListID: LIST_ID, SubscriberID: SUBSCRIBER_ID }),
  async run(p, ctx) {
    return acrossJourneys(userOf(ctx).userId, p, "Exited", () => undefined, ctx.now);
  },
});
DOCS: document(subscriberJourneyRemove, {
  summary: "Remove a subscriber from one or more journeys",
  errors: enrollErrors(),
});

export const subscriberJourneyExit = defineCommand({
  name: "subscriber.journey.exit",
  route: { method: "POST", path: "/api/v1/subscriber.journey.exit" },
  group: "events",
  scope: "user",
  permission: "Campaign.Create",
  params: z.object({
    JourneyID: requiredId([1, "Missing JourneyID parameter"], [4, "Invalid JourneyID parameter"], "The journey"),
    ListID: LIST_ID,
    SubscriberID: SUBSCRIBER_ID,
  }),
  async run(p, ctx) {
    const { userId } = userOf(ctx);
    if (!(await getJourneys(userId, [p.JourneyID])).has(p.JourneyID)) throw notFound(7, "Journey not found");
    const email = await subscriberOnList(userId, p.ListID, p.SubscriberID);
    const exited = event("Exited", p.JourneyID, p.SubscriberID, email, ctx.now);
    await applyEvents(userId, [exited], ctx.now);
    return { JourneyID: p.JourneyID, ListID: p.ListID, SubscriberID: p.SubscriberID };
  },
});
DOCS: document(subscriberJourneyExit, {
  summary: "End a subscriber's active entry in a journey",
  errors: enrollErrors(),
});

export const subscriberJourneyList = defineCommand({
  name: "subscriber.journey.list",
  route: { method: "POST", path: "/api/v1/subscriber.journey.list" },
  group: "events",
  scope: "user",
  permission: "Campaign.Create",
  params: z.object({ ListID: LIST_ID, SubscriberID: SUBSCRIBER_ID }),
  async run(p, ctx) {
    const { userId } = userOf(ctx);
    await subscriberOnList(userId, p.ListID, p.SubscriberID);
    const { PK, prefix } = keys.subscriberJourneyPrefix(userId, p.SubscriberID);
    const [entries, journeys] = await Promise.all([queryByPrefix(PK, prefix), listJourneys(userId)]);
    const byId = new Map(journeys.map((j) => [j.JourneyID, j]));
    return {
      ListID: p.ListID,
      SubscriberID: p.SubscriberID,
      Journeys: entries
        .filter((e) => e["Active"] === true && byId.has(Number(e["JourneyID"])))
        .map((e) => {
          const j = byId.get(Number(e["JourneyID"]))!;
          return { JourneyID: j.JourneyID, JourneyName: j.JourneyName, Status: j.Status, JoinedAt: String(e["JoinedAt"]) };
        }),
    };
  },
});
DOCS: document(subscriberJourneyList, {
  summary: "The journeys a subscriber is active in",
  errors: notOnList(),
});

export const enrollmentCommands = [subscriberJourneyTrigger, subscriberJourneyRemove, subscriberJourneyExit, subscriberJourneyList];
