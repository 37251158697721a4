import { randomUUID } from "node:crypto";
import * as z from "zod/mini";
import { document } from "../command-docs.js";
import { defineCommand, userOf } from "../command.js";
import { CommandError, notFound } from "../errors.js";
import { applyEvents, type EventType, type IngestEvent } from "../domain/ingest/ingest.js";
import { getJourneys, listJourneys } from "../domain/journeys/journeys.js";
import { getSubscriber } from "../domain/subscribers/subscribers.js";
import { getOwned, queryByPrefix } from "../domain/owned.js";
import { admitNow, type SkipReason } from "../engine/enrol.js";
import { newUlid } from "../engine/entry-id.js";
import { endEnrolment, liveCursorsOf } from "../engine/fanout.js";
import { engineEvent } from "../engine/runner.js";
import { productEpoch } from "../clock.js";
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
  const subscriber = await getSubscriber(userId, subscriberId);
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

/** What subscriber.journey.trigger answers for a journey the engine did not enrol into (§4.3). */
const SKIP_TEXT: Partial<Record<SkipReason, string>> = {
  JourneyNotFound: "Journey not found",
  JourneyDisabled: "Journey is disabled",
  CriteriaNotMet: "Trigger criteria not met",
  LoopGuard: "Loop guard",
};

/**
 * Enrols through the engine's own procedure (ENGINE §4.3), synchronously, one
 * journey after another, and applies each Enrolled through ingest before
 * answering. A journey the subscriber is already active in keeps its running
 * enrolment and counts one more entry (§4.4): `eng:<EntryID>:Enrolled:<SignalID>`.
 */
async function triggerJourneys(userId: number, p: { JourneyID: number[]; ListID: number; SubscriberID: number; BypassJourneyStatusCheck: boolean }, now: Date) {
  const journeys = await getJourneys(userId, p.JourneyID);
  const skipped: Skip[] = [];
  const candidates: number[] = [];
  for (const id of p.JourneyID) {
    const j = journeys.get(id);
    const reason = !j ? "Journey not found" : j.Status !== "Enabled" && !p.BypassJourneyStatusCheck ? "Journey is disabled" : undefined;
    if (reason) skipped.push({ JourneyID: id, Reason: reason });
    else candidates.push(id);
  }
  if (candidates.length === 0) throw skippedAll(skipped);
  await subscriberOnList(userId, p.ListID, p.SubscriberID);
  const at = Math.floor(now.getTime() / 1000);
  const targets: number[] = [];
  const enrolled: IngestEvent[] = [];
  const deferred: { JourneyID: number; NotBefore: string }[] = [];
  for (const journeyId of candidates) {
    // A ULID: deferred rows are kept in (At, SignalID) order, so calls in one second keep their arrival order.
    const signalId = newUlid();
    const result = await admitNow(
      { userId, subscriberId: p.SubscriberID, journeyId, signalId, at, depth: 0, source: "Command", bypass: p.BypassJourneyStatusCheck, deterministic: false },
      Math.max(at, productEpoch()),
      false,
    );
    if (result.status === "Enrolled" || result.status === "Deferred") {
      if (result.status === "Enrolled" && result.enrolled) enrolled.push(asIngest(result.enrolled));
      // A deferral is not a skip: the journey stays in JourneyIDs (§4.3).
      if (result.status === "Deferred") deferred.push({ JourneyID: journeyId, NotBefore: formatDateTime(new Date(result.notBefore * 1000)) });
      targets.push(journeyId);
      continue;
    }
    if (result.reason === "AlreadyActive") {
      const live = (await liveCursorsOf(userId, p.SubscriberID)).find((c) => c.JourneyID === journeyId);
      if (live) {
        await applyEvents(userId, [asIngest(engineEvent(live, "Enrolled", live.EnrolledAt)), asIngest(engineEvent(live, "Enrolled", at, `:${signalId}`))], now);
        targets.push(journeyId);
        continue;
      }
    }
    skipped.push({ JourneyID: journeyId, Reason: SKIP_TEXT[result.reason] ?? result.reason });
  }
  if (targets.length === 0) throw skippedAll(skipped);
  // The cursor's own Enrolled (same EventID) also travels on the events queue; whichever lands second is a duplicate.
  if (enrolled.length > 0) await applyEvents(userId, enrolled, now);
  return {
    JourneyIDs: targets,
    ListID: p.ListID,
    SubscriberID: p.SubscriberID,
    ...(skipped.length > 0 ? { SkippedJourneys: skipped } : {}),
    ...(deferred.length > 0 ? { DeferredJourneys: deferred } : {}),
  };
}

const asIngest = (e: Record<string, unknown>): IngestEvent => ({ ...(e as unknown as IngestEvent), Amount: 0, BounceType: "Hard" });

/**
 * Ends the subscriber's live enrolment in a journey (EndReason `Command`) and applies
 * its Exited through ingest before answering; with no live enrolment, an Exited
 * event of the command's own, as before the engine.
 */
async function exitJourney(userId: number, journeyId: number, subscriberId: number, email: string, now: Date): Promise<void> {
  const ended = await endEnrolment(userId, subscriberId, journeyId, "Command", Math.max(Math.floor(now.getTime() / 1000), productEpoch()));
  if (ended) {
    await applyEvents(userId, [asIngest(engineEvent(ended, "Enrolled", ended.EnrolledAt)), asIngest(engineEvent(ended, "Exited", ended.EndedAt ?? 0))], now);
    return;
  }
  await applyEvents(userId, [event("Exited", journeyId, subscriberId, email, now)], now);
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
    return triggerJourneys(userOf(ctx).userId, p, ctx.now);
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
    const { userId } = userOf(ctx);
    const journeys = await getJourneys(userId, p.JourneyID);
    const skipped: Skip[] = p.JourneyID.filter((id) => !journeys.has(id)).map((id) => ({ JourneyID: id, Reason: "Journey not found" }));
    const targets = p.JourneyID.filter((id) => journeys.has(id));
    if (targets.length === 0) throw skippedAll(skipped);
    const email = await subscriberOnList(userId, p.ListID, p.SubscriberID);
    for (const id of targets) await exitJourney(userId, id, p.SubscriberID, email, ctx.now);
    return {
      JourneyIDs: targets,
      ListID: p.ListID,
      SubscriberID: p.SubscriberID,
      ...(skipped.length > 0 ? { SkippedJourneys: skipped } : {}),
    };
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
    await exitJourney(userId, p.JourneyID, p.SubscriberID, email, ctx.now);
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
