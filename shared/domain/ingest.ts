import { TransactWriteCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { ddb, tableName } from "../aws.js";
import { isAwsError } from "../errors.js";
import { keys, type Key } from "../keys.js";
import { toNonNegativeInt, toPositiveInt } from "../params.js";
import { formatDateTime, parseDateTime } from "../time.js";
import { isEmailAddress, ispOf } from "./email-address.js";
import { batchGet, keyId } from "./owned.js";
import { sha256Hex } from "./secrets.js";
import type { EmailActionKey } from "./stats.js";
import { treePointer } from "./tree-store.js";

/**
 * The one ingest core behind `journey.events.ingest` and the events queue
 * (CONTRACT §7). Every accepted event is applied in one DynamoDB transaction
 * together with its exactly-once marker, so a resent, redelivered or concurrent
 * duplicate changes nothing, and the rollups never disagree with the markers.
 *
 * Conditions that only decide *how* an event counts (is this the subscriber's
 * first open of this action? is the subscriber already in the journey?) are
 * guards inside the same transaction. When DynamoDB cancels the transaction, its cancellation
 * reasons name the guards that failed; the transaction is rebuilt without them
 * and retried. Only a failed marker means "duplicate".
 */
export const EVENT_TYPES = [
  "Enrolled", "Completed", "Exited", "Sent", "Delivered", "Opened", "Clicked", "Converted",
  "BrowserViewed", "Forwarded", "Bounced", "Unsubscribed", "SpamComplaint",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

const COUNTER: Partial<Record<EventType, EmailActionKey>> = {
  Sent: "SendCount",
  Delivered: "DeliveryCount",
  Opened: "OpenCount",
  Clicked: "ClickCount",
  Converted: "ConversionCount",
  BrowserViewed: "BrowserViewCount",
  Forwarded: "ForwardCount",
  Bounced: "BounceCount",
  Unsubscribed: "UnsubscribeCount",
  SpamComplaint: "SpamComplaintCount",
};
/** Kinds that count once per (ActionID, SubscriberID): the first ingested one counts, on its own day. */
const UNIQUE = new Set<EventType>(["Opened", "Clicked", "Converted", "BrowserViewed", "Forwarded", "Unsubscribed", "SpamComplaint"]);
/** What the per-ISP rollups track (the reference: not conversions, browser views or forwards). */
export const ISP_KEYS: readonly EmailActionKey[] = [
  "SendCount", "DeliveryCount", "OpenCount", "ClickCount", "BounceCount", "UnsubscribeCount", "SpamComplaintCount", "TotalRevenue",
];
const ENROLLMENT = new Set<EventType>(["Enrolled", "Completed", "Exited"]);

export interface IngestEvent {
  EventID: string;
  Type: EventType;
  JourneyID: number;
  ActionID?: number;
  SubscriberID: number;
  EmailAddress?: string;
  /** `YYYY-MM-DD HH:MM:SS` UTC. */
  OccurredAt: string;
  /** Cents. */
  Amount: number;
  BounceType: "Hard" | "Soft";
}

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
 * counts); different subscribers are applied in parallel.
 */
export async function ingestEvents(userId: number, rawEvents: unknown[], now = new Date()): Promise<IngestResult> {
  const parsed = rawEvents.map((raw) => parseEvent(raw, now));
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
    if (v.e.ActionID !== undefined && !indexItems.has(keyId(keys.sendEmail(userId, v.e.JourneyID, treePointer(j).version, v.e.ActionID)))) {
      rejected.set(v.i, 6);
      continue;
    }
    accepted.push(v);
  }

  // Markers already written are duplicates for sure: one BatchGet spares each of them
  // a failing transaction (redeliveries are mostly duplicates). The transaction's
  // own marker condition still decides every race.
  const known = await batchGet(accepted.map(({ e }) => keys.eventMarker(userId, sha256Hex(e.EventID))));
  let duplicates = 0;
  const fresh = accepted.filter(({ e }) => {
    const seen = known.has(keyId(keys.eventMarker(userId, sha256Hex(e.EventID))));
    if (seen) duplicates++;
    return !seen;
  });

  const freshIndexes = new Set(fresh.map(({ i }) => i));

  // Apply: sequential per (journey, subscriber), parallel across them.
  const lanes = new Map<string, IngestEvent[]>();
  for (const { e } of fresh) {
    const lane = `${e.JourneyID}#${e.SubscriberID}`;
    (lanes.get(lane) ?? lanes.set(lane, []).get(lane)!).push(e);
  }
  let applied = 0;
  const queue = [...lanes.values()];
  const workers = Array.from({ length: Math.min(8, queue.length) }, async () => {
    for (let lane = queue.shift(); lane; lane = queue.shift()) {
      for (const e of lane) {
        if (await applyEvent(userId, e, now)) applied++;
        else duplicates++;
      }
    }
  });
  await Promise.all(workers);

  // Applied events, and duplicates whose time was given (so it is the original's),
  // advance the journeys' latest-activity and latest-enrollment times.
  await advanceJourneyTimes(
    userId,
    accepted.filter(({ i }) => freshIndexes.has(i) || parsed[i]!.explicitTime).map(({ e }) => e),
  );

  return {
    Accepted: applied,
    Duplicates: duplicates,
    Rejected: [...rejected]
      .sort(([a], [b]) => a - b)
      .map(([Index, Code]) => ({ Index, EventID: parsed[Index]!.eventId, Code, Message: MESSAGES[Code]! })),
  };
}

/** How an event counts, decided by guards; each flag is dropped when its guard fails. */
interface Guards {
  /** Unique kinds: this is the subscriber's first of this kind on this action. */
  first: boolean;
  /** Enrolled: 0 = first entry ever, 1 = re-entry after leaving, 2 = already active. */
  entryLevel: number;
  /** Completed/Exited: the subscriber has an active entry to end. */
  endsEntry: boolean;
}

type Tx = NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]["TransactItems"]>[number];
type Role = "marker" | "first" | "entry" | "plain";

/** Builds an update with ADDs, unconditional SETs and an optional guarded SET. */
function update(
  key: Key,
  add: Record<string, number>,
  set: Record<string, unknown> = {},
  condition?: { expression: string; values?: Record<string, unknown>; names?: Record<string, string> },
): Tx | undefined {
  const adds = Object.entries(add).filter(([, n]) => n !== 0);
  const sets = Object.entries(set);
  if (adds.length === 0 && sets.length === 0) return undefined;
  const names: Record<string, string> = { ...(condition?.names ?? {}) };
  const values: Record<string, unknown> = { ...(condition?.values ?? {}) };
  const parts: string[] = [];
  if (sets.length) {
    parts.push(
      "SET " +
        sets
          .map(([k, v], i) => {
            names[`#s${i}`] = k;
            values[`:s${i}`] = v;
            return `#s${i} = :s${i}`;
          })
          .join(", "),
    );
  }
  if (adds.length) {
    parts.push(
      "ADD " +
        adds
          .map(([k, v], i) => {
            names[`#a${i}`] = k;
            values[`:a${i}`] = v;
            return `#a${i} :a${i}`;
          })
          .join(", "),
    );
  }
  return {
    Update: {
      TableName: tableName(),
      Key: key,
      UpdateExpression: parts.join(" "),
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ...(condition ? { ConditionExpression: condition.expression } : {}),
    },
  };
}

function buildTransaction(userId: number, e: IngestEvent, g: Guards, appliedAt: string): { items: Tx[]; roles: Role[] } {
  const items: Tx[] = [];
  const roles: Role[] = [];
  const push = (tx: Tx | undefined, role: Role) => {
    if (tx) {
      items.push(tx);
      roles.push(role);
    }
  };
  const jid = e.JourneyID;
  const day = e.OccurredAt.slice(0, 10);

  push(
    {
      Put: {
        TableName: tableName(),
        Item: { ...keys.eventMarker(userId, sha256Hex(e.EventID)), EventID: e.EventID, Type: e.Type, JourneyID: jid, IngestedAt: appliedAt },
        ConditionExpression: "attribute_not_exists(PK)",
      },
    },
    "marker",
  );

  // Counters this event adds to the email rollups.
  const deltas: Partial<Record<EmailActionKey, number>> = {};
  const counter = COUNTER[e.Type];
  if (counter && (!UNIQUE.has(e.Type) || g.first)) deltas[counter] = 1;
  if (e.Type === "Converted" && e.Amount > 0) deltas.TotalRevenue = e.Amount;
  const ispDeltas = Object.fromEntries(Object.entries(deltas).filter(([k]) => ISP_KEYS.includes(k as EmailActionKey)));

  push(update(keys.journeyLifetime(userId, jid), deltas, { JourneyID: jid }), "plain");

  if (e.ActionID !== undefined) {
    const aid = e.ActionID;
    const isp = ispOf(e.EmailAddress!);
    const state: Record<string, unknown> = { EmailAddress: e.EmailAddress, SubscriberID: e.SubscriberID, ActionID: aid };
    if (e.Type === "Sent") state["Sent"] = true;
    if (e.Type === "Delivered") state["Delivered"] = true;
    if (e.Type === "Bounced") {
      state["Bounced"] = true;
      if (e.BounceType === "Hard") state["HardBounced"] = true;
    }
    if (UNIQUE.has(e.Type) && g.first) {
      push(
        update(keys.actionSubscriber(userId, jid, aid, e.SubscriberID), {}, { ...state, [e.Type]: day }, {
          expression: "attribute_not_exists(#flag)",
          names: { "#flag": e.Type },
        }),
        "first",
      );
    } else {
      push(update(keys.actionSubscriber(userId, jid, aid, e.SubscriberID), {}, state), "plain");
    }
    if (Object.keys(deltas).length > 0) {
      push(update(keys.journeyDayByUser(userId, day, jid), deltas, { JourneyID: jid, Date: day }), "plain");
      push(update(keys.journeyDay(userId, jid, day), deltas, { Date: day }), "plain");
      push(update(keys.actionDay(userId, jid, day, aid), deltas, { Date: day, ActionID: aid }), "plain");
      push(update(keys.actionLifetime(userId, jid, aid), deltas, { ActionID: aid }), "plain");
    }
    if (Object.keys(ispDeltas).length > 0) {
      push(update(keys.actionIspLifetime(userId, jid, aid, isp), ispDeltas, { ActionID: aid, Domain: isp }), "plain");
      push(update(keys.journeyIspLifetime(userId, jid, isp), ispDeltas, { Domain: isp }), "plain");
      push(update(keys.actionIspDay(userId, jid, day, aid, isp), ispDeltas, { Date: day, ActionID: aid, Domain: isp }), "plain");
      push(update(keys.journeyIspDay(userId, jid, day, isp), ispDeltas, { Date: day, Domain: isp }), "plain");
    }
    const suppresses = e.Type === "Unsubscribed" || e.Type === "SpamComplaint" || (e.Type === "Bounced" && e.BounceType === "Hard");
    if (suppresses) push(update(keys.suppression(userId, e.SubscriberID), {}, { Suppressed: true }), "plain");
  }

  if (e.Type === "Enrolled") {
    const entryKey = keys.enrollment(userId, jid, e.SubscriberID);
    const mirrorKey = keys.subscriberJourney(userId, e.SubscriberID, jid);
    const enrollmentAdds: Record<string, number> = { TotalSubscribers: 1 };
    if (g.entryLevel === 0) {
      enrollmentAdds["TotalEnrolledLifetime"] = 1;
      enrollmentAdds["ActiveSubscribers"] = 1;
      push(update(entryKey, { Entries: 1 }, { Active: true, JoinedAt: e.OccurredAt }, { expression: "attribute_not_exists(PK)" }), "entry");
    } else if (g.entryLevel === 1) {
      enrollmentAdds["ActiveSubscribers"] = 1;
      push(
        update(entryKey, { Entries: 1 }, { Active: true, JoinedAt: e.OccurredAt }, {
          expression: "Active = :no",
          values: { ":no": false },
        }),
        "entry",
      );
    } else {
      push(update(entryKey, { Entries: 1 }), "plain");
    }
    if (g.entryLevel < 2) {
      push(update(mirrorKey, {}, { JourneyID: jid, SubscriberID: e.SubscriberID, Active: true, JoinedAt: e.OccurredAt }), "plain");
    }
    push(update(keys.journeyEnrollment(userId, jid), enrollmentAdds, { JourneyID: jid }), "plain");
  }

  if ((e.Type === "Completed" || e.Type === "Exited") && g.endsEntry) {
    push(
      update(keys.enrollment(userId, jid, e.SubscriberID), {}, { Active: false, EndedAt: e.OccurredAt, EndedBy: e.Type }, {
        expression: "Active = :yes",
        values: { ":yes": true },
      }),
      "entry",
    );
    push(update(keys.subscriberJourney(userId, e.SubscriberID, jid), {}, { Active: false }), "plain");
    push(update(keys.journeyEnrollment(userId, jid), { ActiveSubscribers: -1 }, { JourneyID: jid }), "plain");
  }
  return { items, roles };
}

/**
 * LastActivityAt and LastTriggeredAt are maxima, kept outside the event
 * transactions: a "newer than" guard inside them failed for most events of a
 * busy journey (each failure re-ran a whole transaction), while a max is
 * idempotent and can be advanced once per journey per batch, even on redelivery.
 */
export async function advanceJourneyTimes(userId: number, events: IngestEvent[]): Promise<void> {
  const activity = new Map<number, string>();
  const trigger = new Map<number, string>();
  const later = (m: Map<number, string>, jid: number, at: string) => {
    if ((m.get(jid) ?? "") < at) m.set(jid, at);
  };
  for (const e of events) {
    later(activity, e.JourneyID, e.OccurredAt);
    if (e.Type === "Enrolled") later(trigger, e.JourneyID, e.OccurredAt);
  }
  const advance = async (key: Key, attribute: string, at: string, journeyId: number) => {
    try {
      await ddb().send(
        new UpdateCommand({
          TableName: tableName(),
          Key: key,
          UpdateExpression: "SET #a = :at, JourneyID = :j",
          ConditionExpression: "attribute_not_exists(#a) OR #a < :at",
          ExpressionAttributeNames: { "#a": attribute },
          ExpressionAttributeValues: { ":at": at, ":j": journeyId },
        }),
      );
    } catch (err) {
      if (!isAwsError(err, "ConditionalCheckFailedException")) throw err;
    }
  };
  await Promise.all([
    ...[...activity].map(([jid, at]) => advance(keys.journeyLifetime(userId, jid), "LastActivityAt", at, jid)),
    ...[...trigger].map(([jid, at]) => advance(keys.journeyEnrollment(userId, jid), "LastTriggeredAt", at, jid)),
  ]);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Applies one event. Returns true when it was applied, false when its EventID
 * had already been ingested. Throws on faults the caller must retry (throttling,
 * persistent conflicts): nothing of the event is applied then.
 */
export async function applyEvent(userId: number, e: IngestEvent, now = new Date()): Promise<boolean> {
  const g: Guards = { first: true, entryLevel: 0, endsEntry: true };
  const appliedAt = formatDateTime(now);
  for (let attempt = 0; attempt < 40; attempt++) {
    const { items, roles } = buildTransaction(userId, e, g, appliedAt);
    try {
      await ddb().send(new TransactWriteCommand({ TransactItems: items }));
      return true;
    } catch (err) {
      if (!isAwsError(err, "TransactionCanceledException")) throw err;
      const reasons = (err as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
      let conflicted = false;
      reasons.forEach((r, i) => {
        if (r.Code === "ConditionalCheckFailed") {
          switch (roles[i]) {
            case "marker":
              break;
            case "first":
              g.first = false;
              break;
            case "entry":
              if (e.Type === "Enrolled") g.entryLevel++;
              else g.endsEntry = false;
              break;
          }
        } else if (r.Code && r.Code !== "None") {
          conflicted = true;
        }
      });
      if (reasons[0]?.Code === "ConditionalCheckFailed") return false;
      // Another transaction held one of the items: back off with jitter and try again.
      if (conflicted) await sleep(Math.min(200, 5 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random()));
    }
  }
  throw new Error("event could not be applied: too many transaction conflicts");
}
