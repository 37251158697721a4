import { randomUUID } from "node:crypto";
import { TransactWriteCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { ddb, tableName } from "../../aws.js";
import { isAwsError } from "../../errors.js";
import { keys, type Key } from "../../keys.js";
import { logger } from "../../observability.js";
import { epochSeconds } from "../../time.js";
import { productEpoch } from "../../clock.js";
import { dueFields } from "../../engine/due.js";
import type { Outbox, OutboxEntry, Signal } from "../../engine/model.js";
import { deliverOutbox } from "../../engine/outbox.js";
import { indexedJourneys } from "../../engine/trigger-index.js";
import type { Trigger } from "../journeys/trigger.js";
import { ispOf } from "../email-address.js";
import { batchGet, keyId, type Item } from "../owned.js";
import { sha256Hex } from "../secrets.js";
import { strongerSuppression, type SuppressedBy } from "../subscribers/subscribers.js";
import type { EmailActionKey } from "../stats/stats.js";

/**
 * The ingest core's write side (CONTRACT §7; docs/data-model.md, "Ingest").
 *
 * A batch is applied a **chunk** at a time. A chunk is a set of whole lanes (a lane
 * is every event of one (journey, subscriber), in batch order), and one
 * `TransactWriteItems` holds, for the whole chunk:
 * - one exactly-once marker per event (`attribute_not_exists`), with a TTL;
 * - each state item the chunk changes (email state, enrolment entry, subscriber
 *   revenue), once, conditioned on what the replay relied on (the first-flags it
 *   sets still absent, the entry's version, the revenue read);
 * - each rollup item once, with the chunk's deltas summed in memory;
 * - the signals its events fire (ENGINE §4.1, §4.2), as outbox entries on items it
 *   writes anyway (email states, markers), delivered once it commits.
 *
 * So a chunk is applied whole or not at all, and a hot journey's rollups are
 * written once per chunk instead of once per event. The order inside a lane is
 * replayed in memory against the state read, which is how "the first ingested
 * Opened counts, on its own day" stays exact. When a condition fails, the
 * cancellation reasons say which item: a marker means that event is a duplicate
 * (it leaves the chunk), a state item means another writer moved it (it is read
 * again). Either way the chunk is rebuilt and retried.
 */

/** How long an EventID's marker is kept: longer than any way a copy can arrive (SQS keeps a message 14 days at most). */
export const EVENT_MARKER_TTL_DAYS = 35;
/** DynamoDB's limit on the items of one transaction. */
const MAX_TX_ITEMS = 100;
/** Chunks in flight at once; chunks that share a journey (and so its rollups) run one after the other. */
const CHUNK_CONCURRENCY = 4;
/** How long one chunk may keep retrying conflicts before the call fails (and is retried by its client). */
const CHUNK_DEADLINE_MS = 20_000;

export const EVENT_TYPES = [
  "Enrolled", "Completed", "Exited", "Sent", "Delivered", "Opened", "Clicked", "Converted",
  "BrowserViewed", "Forwarded", "Bounced", "Unsubscribed", "SpamComplaint",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

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
  /** The EmailID its SendEmail action sends (set by the ingest checks); what EmailOpen and the like match. */
  EmailID?: number;
}

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
const ISP_KEYS: readonly EmailActionKey[] = [
  "SendCount", "DeliveryCount", "OpenCount", "ClickCount", "BounceCount", "UnsubscribeCount", "SpamComplaintCount", "TotalRevenue",
];

const markerKey = (userId: number, e: IngestEvent) => keys.eventMarker(userId, sha256Hex(e.EventID));
const laneOf = (e: IngestEvent) => `${e.JourneyID}#${e.SubscriberID}`;
const suppresses = (e: IngestEvent) =>
  e.Type === "Unsubscribed" || e.Type === "SpamComplaint" || (e.Type === "Bounced" && e.BounceType === "Hard");

/** Events that change the subscriber item (ENGINE §3.1): its revenue, bounce type or suppression. */
const touchesSubscriber = (e: IngestEvent) => suppresses(e) || e.Type === "Bounced" || (e.Type === "Converted" && e.Amount > 0);

/** The email signal (ENGINE §4.1) the first Opened / Clicked / Converted of an action fires. */
const EMAIL_SIGNAL: Partial<Record<EventType, Trigger>> = { Opened: "EmailOpen", Clicked: "EmailLinkClick", Converted: "EmailConversion" };

/** A Completed event from outside the engine fires JourneyCompleted; the engine sends its own completions' (§5.5). */
const outsideCompletion = (e: IngestEvent) => e.Type === "Completed" && !e.EventID.startsWith("eng:");

/**
 * Events that may fire a signal. Signals fire only for subscribers of the caller
 * (§4.1), so these read the subscriber item even when they do not change it.
 */
const mayFire = (e: IngestEvent) => EMAIL_SIGNAL[e.Type] !== undefined || outsideCompletion(e);

/** The state items an event reads and may change. */
function stateKeys(userId: number, e: IngestEvent): Key[] {
  const out: Key[] = [];
  if (e.ActionID !== undefined) out.push(keys.emailState(userId, e.SubscriberID, e.ActionID));
  else out.push(keys.enrollment(userId, e.JourneyID, e.SubscriberID));
  if (suppresses(e)) out.push(keys.suppression(userId, e.SubscriberID));
  if (touchesSubscriber(e) || mayFire(e)) out.push(keys.subscriber(userId, e.SubscriberID));
  return out;
}

/**
 * What a batch's signals need besides the state items: the firing time (epoch s, the
 * product clock, as every engine time) and, when a conversion of a known subscriber
 * may cross one, the thresholds T of the user's Enabled RevenueHit journeys.
 */
interface SignalContext {
  userId: number;
  at: number;
  thresholds: readonly number[];
}

/**
 * One signal as the outbox entry that carries it (§4.2, §5.5). Its SignalID comes
 * from the EventID, which fires it at most once (a duplicate writes nothing), so a
 * retried chunk rebuilds the very same entry.
 */
function signalEntry(ctx: SignalContext, e: IngestEvent, trigger: Trigger, value: Signal["Value"], source: Key): OutboxEntry {
  const digest = sha256Hex(`${e.EventID}\n${trigger}`).slice(0, 32);
  const signal: Signal = {
    Kind: "Signal",
    UserID: ctx.userId,
    SubscriberID: e.SubscriberID,
    Trigger: trigger,
    Value: value,
    SignalID: `ev-${digest}`,
    Depth: 0,
    At: ctx.at,
    Source: source,
  };
  return { Id: `sig-${digest}`, At: ctx.at, Kind: "Signal", Signal: signal };
}

/**
 * What an accepted event changes on the subscriber item (ENGINE §3.1): Hard never
 * downgrades, and a suppression reason never replaces a stronger one. Only the
 * attributes that really change; none when the SubscriberID is no subscriber of
 * the caller (the item's key holds the UserID, so another user's is absent too).
 */
function subscriberChanges(sub: Item, e: IngestEvent): Record<string, unknown> {
  const set: Record<string, unknown> = {};
  if (e.Type === "Converted" && e.Amount > 0) set["Revenue"] = Number(sub["Revenue"] ?? 0) + e.Amount;
  if (e.Type === "Bounced") {
    const bounce = e.BounceType === "Hard" ? "Hard" : sub["BounceType"] === "Hard" ? "Hard" : "Soft";
    if (sub["BounceType"] !== bounce) set["BounceType"] = bounce;
  }
  const reason: SuppressedBy | undefined =
    e.Type === "SpamComplaint" ? "SpamComplaint" : e.Type === "Unsubscribed" ? "Unsubscribed" : e.Type === "Bounced" && e.BounceType === "Hard" ? "HardBounce" : undefined;
  if (reason && strongerSuppression(sub["SuppressedBy"], reason)) set["SuppressedBy"] = reason;
  return set;
}

/** What the transaction does to one state item: attributes to set, and the condition that the read still holds. */
interface StateWrite {
  key: Key;
  set: Record<string, unknown>;
  /**
   * "versioned": `V` must be as read and goes up by one (enrolment entries, whose
   * Active flag goes both ways); "firsts": each first-flag this write sets must still
   * be absent (flags are never unset, so nothing else about an email state can go
   * stale, and a Sent racing a Delivered needs no guard at all); "subscriber": the
   * subscriber item's `Version` must be as read and goes up by one (ENGINE §5.5:
   * commands write it too); "none": idempotent SET.
   */
  guard: "versioned" | "firsts" | "subscriber" | "none";
  /** "firsts": the unique kinds whose first this write records. */
  firsts?: string[];
  /** Signal entries this write adds to the item's `Outbox` (email states only). */
  outbox?: Outbox;
  before: Item | undefined;
  after: Item;
}

interface CounterWrite {
  key: Key;
  add: Record<string, number>;
  set: Record<string, unknown>;
}

interface Plan {
  markers: IngestEvent[];
  /** Signal entries carried by an event's marker (RevenueHit, JourneyCompleted). */
  markerOutbox: Map<IngestEvent, Outbox>;
  states: Map<string, StateWrite>;
  counters: Map<string, CounterWrite>;
}

/** The cache of state items as last read or written; `undefined` = known absent. */
type States = Map<string, Item | undefined>;

/**
 * Replays events in order against `states` (without changing it) and returns the
 * writes that apply them. Pure: used both to size chunks and to build transactions.
 */
function plan(ctx: SignalContext, events: IngestEvent[], states: States): Plan {
  const userId = ctx.userId;
  const working = new Map<string, Item | undefined>();
  const read = (k: Key): Item | undefined => {
    const id = keyId(k);
    if (working.has(id)) return working.get(id);
    const item = states.get(id);
    return item ? { ...item } : undefined;
  };
  const out: Plan = { markers: [], markerOutbox: new Map(), states: new Map(), counters: new Map() };
  const change = (k: Key, guard: StateWrite["guard"], next: Item, set: Record<string, unknown>, firsts: string[] = [], outbox: Outbox = {}) => {
    const id = keyId(k);
    const prior = out.states.get(id);
    working.set(id, next);
    const entries = { ...(prior?.outbox ?? {}), ...outbox };
    out.states.set(id, {
      key: k,
      guard,
      before: prior ? prior.before : states.get(id),
      after: next,
      set: { ...(prior?.set ?? {}), ...set },
      firsts: [...(prior?.firsts ?? []), ...firsts],
      ...(Object.keys(entries).length > 0 ? { outbox: entries } : {}),
    });
  };
  const onMarker = (e: IngestEvent, entry: OutboxEntry) => {
    const held = out.markerOutbox.get(e) ?? out.markerOutbox.set(e, {}).get(e)!;
    held[entry.Id] = entry;
  };
  const count = (k: Key, add: Record<string, number>, set: Record<string, unknown>) => {
    const adds = Object.entries(add).filter(([, n]) => n !== 0);
    if (adds.length === 0) return;
    const id = keyId(k);
    const c = out.counters.get(id) ?? out.counters.set(id, { key: k, add: {}, set }).get(id)!;
    for (const [name, n] of adds) c.add[name] = (c.add[name] ?? 0) + n;
  };

  for (const e of events) {
    out.markers.push(e);
    const jid = e.JourneyID;
    const day = e.OccurredAt.slice(0, 10);

    if (e.ActionID !== undefined) {
      const aid = e.ActionID;
      const k = keys.emailState(userId, e.SubscriberID, aid);
      const cur = read(k) ?? {};
      const set: Record<string, unknown> = {};
      const put = (name: string, value: unknown) => {
        if (cur[name] !== value) set[name] = cur[name] = value;
      };
      if (cur["SubscriberID"] === undefined) {
        put("SubscriberID", e.SubscriberID);
        put("ActionID", aid);
        put("JourneyID", jid);
        for (const [name, value] of Object.entries(keys.mailIndex(userId, jid, aid, e.SubscriberID))) put(name, value);
      }
      put("EmailAddress", e.EmailAddress);
      // The criteria evaluator's campaign-events rules read an action's EmailID here (ENGINE §4.6).
      if (e.EmailID !== undefined) put("EmailID", e.EmailID);
      if (e.Type === "Sent") put("Sent", true);
      if (e.Type === "Bounced") {
        put("Bounced", true);
        if (e.BounceType === "Hard") put("HardBounced", true);
      }
      let first = true;
      const firsts: string[] = [];
      if (UNIQUE.has(e.Type)) {
        first = cur[e.Type] === undefined;
        if (first) {
          put(e.Type, day);
          firsts.push(e.Type);
        }
      }
      // The first Opened / Clicked / Converted of this (ActionID, SubscriberID) fires its
      // signal (ENGINE §4.1), carried in the outbox of the email state this write sets
      // the first-flag on, so the signal and the flag commit together.
      const emailTrigger = EMAIL_SIGNAL[e.Type];
      const outbox: Outbox = {};
      if (emailTrigger && first && e.EmailID !== undefined && read(keys.subscriber(userId, e.SubscriberID))) {
        const entry = signalEntry(ctx, e, emailTrigger, e.EmailID, k);
        outbox[entry.Id] = entry;
        cur["Outbox"] = { ...((cur["Outbox"] as Outbox | undefined) ?? {}), ...outbox };
      }
      if (Object.keys(set).length > 0) change(k, "firsts", cur, set, firsts, outbox);

      const deltas: Record<string, number> = {};
      const counter = COUNTER[e.Type];
      if (counter && first) deltas[counter] = 1;
      if (e.Type === "Converted" && e.Amount > 0) deltas["TotalRevenue"] = e.Amount;
      const ispDeltas = Object.fromEntries(Object.entries(deltas).filter(([name]) => ISP_KEYS.includes(name as EmailActionKey)));
      const isp = ispOf(e.EmailAddress!);
      // The journey's own day and ISP-day rows are sums of its actions' rows, so they are not stored twice.
      count(keys.journeyLifetime(userId, jid), deltas, { JourneyID: jid });
      count(keys.journeyDayByUser(userId, day, jid), deltas, { JourneyID: jid, Date: day });
      count(keys.actionDay(userId, jid, day, aid), deltas, { Date: day, ActionID: aid });
      count(keys.actionLifetime(userId, jid, aid), deltas, { ActionID: aid });
      count(keys.actionIspDay(userId, jid, day, aid, isp), ispDeltas, { Date: day, ActionID: aid, Domain: isp });
      count(keys.actionIspLifetime(userId, jid, aid, isp), ispDeltas, { ActionID: aid, Domain: isp });
      count(keys.journeyIspLifetime(userId, jid, isp), ispDeltas, { Domain: isp });

      if (suppresses(e)) {
        const sk = keys.suppression(userId, e.SubscriberID);
        if (read(sk)?.["Suppressed"] !== true) change(sk, "none", { ...(read(sk) ?? {}), Suppressed: true }, { Suppressed: true });
      }
      if (touchesSubscriber(e)) {
        // The subscriber item: lifetime revenue (the engine's RevenueHit reads Before and
        // After), bounce type and suppression. Written only on the Version read, so no
        // concurrent conversion or command change is lost.
        const subKey = keys.subscriber(userId, e.SubscriberID);
        const sub = read(subKey);
        const set = sub ? subscriberChanges(sub, e) : {};
        if (sub && Object.keys(set).length > 0) change(subKey, "subscriber", { ...sub, ...set }, set);
        if (sub && typeof set["Revenue"] === "number") {
          // RevenueHit (§4.2): Before and After are exact, as the Revenue write is
          // conditioned on the Version read; the signal rides on this event's marker.
          const before = Number(sub["Revenue"] ?? 0);
          const after = set["Revenue"];
          if (ctx.thresholds.some((t) => before < t && t <= after)) {
            onMarker(e, signalEntry(ctx, e, "RevenueHit", { Before: before, After: after }, markerKey(userId, e)));
          }
        }
      }
      continue;
    }

    if (outsideCompletion(e) && read(keys.subscriber(userId, e.SubscriberID))) {
      onMarker(e, signalEntry(ctx, e, "JourneyCompleted", jid, markerKey(userId, e)));
    }

    // Enrolment events: the entry decides how they count (CONTRACT §7).
    const k = keys.enrollment(userId, jid, e.SubscriberID);
    const entry = read(k);
    const mirror = keys.subscriberJourney(userId, e.SubscriberID, jid);
    if (e.Type === "Enrolled") {
      const adds: Record<string, number> = { TotalSubscribers: 1 };
      const entries = Number(entry?.["Entries"] ?? 0) + 1;
      if (!entry || entry["Active"] !== true) {
        if (!entry) adds["TotalEnrolledLifetime"] = 1;
        adds["ActiveSubscribers"] = 1;
        const set = { Active: true, JoinedAt: e.OccurredAt, Entries: entries };
        change(k, "versioned", { ...(entry ?? {}), ...set }, set);
        const mirrorSet = { JourneyID: jid, SubscriberID: e.SubscriberID, Active: true, JoinedAt: e.OccurredAt };
        change(mirror, "none", mirrorSet, mirrorSet);
      } else {
        change(k, "versioned", { ...entry, Entries: entries }, { Entries: entries });
      }
      count(keys.journeyEnrollment(userId, jid), adds, { JourneyID: jid });
    } else if (entry?.["Active"] === true) {
      const set = { Active: false, EndedAt: e.OccurredAt, EndedBy: e.Type };
      change(k, "versioned", { ...entry, ...set }, set);
      change(mirror, "none", { Active: false }, { Active: false });
      count(keys.journeyEnrollment(userId, jid), { ActiveSubscribers: -1 }, { JourneyID: jid });
    }
  }
  return out;
}

const planSize = (p: Plan) => p.markers.length + p.states.size + p.counters.size;

type Tx = NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]["TransactItems"]>[number];
type Role = { kind: "marker"; event: IngestEvent } | { kind: "state"; id: string } | { kind: "counter" };

function updateItem(
  key: Key,
  set: Record<string, unknown>,
  add: Record<string, number>,
  condition?: string,
  condValues: Record<string, unknown> = {},
  condNames: Record<string, string> = {},
  outbox?: { entries: Outbox },
): Tx {
  const names: Record<string, string> = { ...condNames };
  const values: Record<string, unknown> = { ...condValues };
  const parts: string[] = [];
  const sets = Object.entries(set).map(([k, v], i) => ((names[`#s${i}`] = k), (values[`:s${i}`] = v), `#s${i} = :s${i}`));
  // Entries added to the item's Outbox map, each by its own path, so that a concurrent
  // clearing write's removals are never undone.
  Object.entries(outbox?.entries ?? {}).forEach(([id, entry], i) => {
    names["#ob"] = "Outbox";
    names[`#o${i}`] = id;
    values[`:o${i}`] = entry;
    sets.push(`#ob.#o${i} = :o${i}`);
  });
  if (sets.length) parts.push("SET " + sets.join(", "));
  const adds = Object.entries(add);
  if (adds.length) {
    parts.push("ADD " + adds.map(([k, v], i) => ((names[`#a${i}`] = k), (values[`:a${i}`] = v), `#a${i} :a${i}`)).join(", "));
  }
  if (condition?.includes("#v")) names["#v"] = "V";
  return {
    Update: {
      TableName: tableName(),
      Key: key,
      UpdateExpression: parts.join(" "),
      ExpressionAttributeNames: names,
      ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
      ...(condition ? { ConditionExpression: condition } : {}),
    },
  };
}

/**
 * The marker item of an event, with the signals it carries (RevenueHit,
 * JourneyCompleted) in its outbox, indexed at their time so that a crash before
 * their delivery leaves them to the sweeper's recovery pass (ENGINE §5.5, §6).
 */
function markerItem(ctx: SignalContext, e: IngestEvent, outbox: Outbox | undefined, expires: number): Item {
  const key = markerKey(ctx.userId, e);
  const item: Item = { ...key, EventID: e.EventID, Type: e.Type, JourneyID: e.JourneyID, OccurredAt: e.OccurredAt, ttl: expires };
  if (outbox && Object.keys(outbox).length > 0) Object.assign(item, { Outbox: outbox }, dueFields(key, ctx.at, "Outbox", true, ctx.at));
  return item;
}

function transaction(ctx: SignalContext, p: Plan, now: Date): { items: Tx[]; roles: Role[] } {
  const items: Tx[] = [];
  const roles: Role[] = [];
  const expires = epochSeconds(now) + EVENT_MARKER_TTL_DAYS * 86_400;
  for (const e of p.markers) {
    items.push({
      Put: {
        TableName: tableName(),
        Item: markerItem(ctx, e, p.markerOutbox.get(e), expires),
        ConditionExpression: "attribute_not_exists(PK)",
      },
    });
    roles.push({ kind: "marker", event: e });
  }
  for (const [id, w] of p.states) {
    if (w.guard === "versioned") {
      const v = w.before?.["V"];
      const condition = !w.before
        ? "attribute_not_exists(PK)"
        : typeof v === "number"
          ? "#v = :v"
          : "attribute_exists(PK) AND attribute_not_exists(#v)";
      const version = typeof v === "number" ? v : 0;
      items.push(updateItem(w.key, { ...w.set, V: version + 1 }, {}, condition, typeof v === "number" ? { ":v": v } : {}));
    } else if (w.guard === "firsts") {
      const flags = w.firsts ?? [];
      const names: Record<string, string> = Object.fromEntries(flags.map((f, i) => [`#f${i}`, f]));
      const conditions = flags.map((_, i) => `attribute_not_exists(#f${i})`);
      if (!w.outbox) {
        items.push(updateItem(w.key, w.set, {}, conditions.join(" AND ") || undefined, {}, names));
      } else {
        // Signal entries (§4.2). The Outbox map is created whole when the read saw none,
        // else added to entry by entry; either way conditioned on what was read, so two
        // writers never overwrite each other's entries (a failed check re-reads the item).
        names["#obx"] = "Outbox";
        const held = w.before?.["Outbox"] !== undefined;
        conditions.push(held ? "attribute_exists(#obx)" : "attribute_not_exists(#obx)");
        const set = { ...w.set, ...dueFields(w.key, ctx.at, "Outbox", true, ctx.at), ...(held ? {} : { Outbox: w.outbox }) };
        items.push(updateItem(w.key, set, {}, conditions.join(" AND "), {}, names, held ? { entries: w.outbox } : undefined));
      }
    } else if (w.guard === "subscriber") {
      const v = w.before?.["Version"];
      // Not "#v": updateItem maps that placeholder to the enrolment entries' `V`.
      const names = { "#sver": "Version" };
      items.push(
        typeof v === "number"
          ? updateItem(w.key, { ...w.set, Version: v + 1 }, {}, "#sver = :sver", { ":sver": v }, names)
          : updateItem(w.key, { ...w.set, Version: 1 }, {}, "attribute_exists(PK) AND attribute_not_exists(#sver)", {}, names),
      );
    } else {
      items.push(updateItem(w.key, w.set, {}));
    }
    roles.push({ kind: "state", id });
  }
  for (const c of p.counters.values()) {
    items.push(updateItem(c.key, c.set, c.add));
    roles.push({ kind: "counter" });
  }
  return { items, roles };
}

/** Cancellation reasons that mean "someone else was busy with this item", not "this request is wrong". */
const RETRYABLE = new Set(["TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"]);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Applies one chunk. Returns the events applied; the others turned out to be
 * duplicates (a concurrent copy got there first). Throws when DynamoDB keeps
 * refusing (throttling past the SDK's retries, conflicts past the deadline):
 * nothing of the chunk is applied then, and a retry of the call is safe.
 */
async function applyChunk(ctx: SignalContext, events: IngestEvent[], states: States, now: Date): Promise<IngestEvent[]> {
  let pending = events;
  const deadline = Date.now() + CHUNK_DEADLINE_MS;
  for (let attempt = 0; pending.length > 0; attempt++) {
    const p = plan(ctx, pending, states);
    if (planSize(p) > MAX_TX_ITEMS) {
      // Sized from an earlier read; state moved since. Halve along lane boundaries and go on.
      const [a, b] = halve(pending);
      return [...(await applyChunk(ctx, a, states, now)), ...(await applyChunk(ctx, b, states, now))];
    }
    const { items, roles } = transaction(ctx, p, now);
    try {
      // The token makes the SDK's own retry of a commit that did land (a lost answer)
      // a no-op, instead of a cancellation that would call every event a duplicate.
      await ddb().send(new TransactWriteCommand({ TransactItems: items, ClientRequestToken: randomUUID() }));
      for (const [id, w] of p.states) {
        const moved = w.guard === "versioned" ? { V: Number(w.before?.["V"] ?? 0) + 1 } : w.guard === "subscriber" ? { Version: Number(w.before?.["Version"] ?? 0) + 1 } : {};
        states.set(id, { ...w.after, ...moved });
      }
      await deliverSignals(ctx, p, states, now);
      return pending;
    } catch (err) {
      if (!isAwsError(err, "TransactionCanceledException")) throw err;
      const reasons = (err as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
      const duplicates = new Set<IngestEvent>();
      const stale: string[] = [];
      let conflicted = false;
      reasons.forEach((r, i) => {
        const role = roles[i];
        if (!role || !r.Code || r.Code === "None") return;
        if (r.Code !== "ConditionalCheckFailed") {
          // Only contention is worth retrying; anything else is a request this code built wrong.
          if (!RETRYABLE.has(r.Code)) throw err;
          conflicted = true;
        } else if (role.kind === "marker") duplicates.add(role.event);
        else if (role.kind === "state") stale.push(role.id);
      });
      if (duplicates.size === 0 && stale.length === 0 && !conflicted) throw err;
      pending = pending.filter((e) => !duplicates.has(e));
      if (stale.length > 0) {
        const fresh = await batchGet(
          stale.map((id) => p.states.get(id)!.key),
          { consistent: true },
        );
        for (const id of stale) states.set(id, fresh.get(id));
      }
      if (conflicted) {
        if (Date.now() > deadline) throw new Error("events could not be applied: too many transaction conflicts");
        // Another transaction holds one of the rollups: back off with jitter.
        await sleep(Math.min(250, 10 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random()));
      }
    }
  }
  return [];
}

/**
 * Once a chunk has committed, hands the signals it recorded to the steps queue and
 * clears them (ENGINE §5.5). A failure loses nothing: the entries stay on their
 * items, which the chunk indexed as due, and the sweeper's recovery pass sends them.
 */
async function deliverSignals(ctx: SignalContext, p: Plan, states: States, now: Date): Promise<void> {
  const held: { key: Key; item: Item; cached?: string }[] = [];
  const expires = epochSeconds(now) + EVENT_MARKER_TTL_DAYS * 86_400;
  for (const [e, outbox] of p.markerOutbox) held.push({ key: markerKey(ctx.userId, e), item: markerItem(ctx, e, outbox, expires) });
  for (const [id, w] of p.states) if (w.outbox) held.push({ key: w.key, item: states.get(id) ?? w.after, cached: id });
  await Promise.all(
    held.map(async ({ key, item, cached }) => {
      try {
        const delivered = await deliverOutbox(key, item, ctx.at);
        const current = cached ? states.get(cached) : undefined;
        if (current?.["Outbox"]) {
          // The cache follows the clearing write, so a later chunk neither re-sends nor re-indexes them.
          const rest = { ...(current["Outbox"] as Outbox) };
          for (const d of delivered) delete rest[d];
          states.set(cached!, { ...current, Outbox: rest });
        }
      } catch (err) {
        logger().warn("signal delivery left for recovery", { sk: key.SK, error: err instanceof Error ? err.message : String(err) });
      }
    }),
  );
}

/**
 * The thresholds T (cents) of the user's Enabled RevenueHit journeys, read only when
 * a batch holds a conversion with an amount for a known subscriber (one Query).
 */
async function revenueThresholds(userId: number, events: IngestEvent[], states: States): Promise<number[]> {
  const converts = events.some((e) => e.Type === "Converted" && e.Amount > 0 && states.get(keyId(keys.subscriber(userId, e.SubscriberID))));
  if (!converts) return [];
  return (await indexedJourneys(userId, "RevenueHit", "")).flatMap((j) => (j.threshold === undefined ? [] : [j.threshold]));
}

/** Splits events in two along lane boundaries (one lane alone: in its order). */
function halve(events: IngestEvent[]): [IngestEvent[], IngestEvent[]] {
  const lanes = [...new Set(events.map(laneOf))];
  if (lanes.length > 1) {
    const left = new Set(lanes.slice(0, Math.ceil(lanes.length / 2)));
    return [events.filter((e) => left.has(laneOf(e))), events.filter((e) => !left.has(laneOf(e)))];
  }
  const mid = Math.ceil(events.length / 2);
  return [events.slice(0, mid), events.slice(mid)];
}

/**
 * Packs lanes into chunks of at most MAX_TX_ITEMS items. Lanes are ordered by
 * journey, ISP and day first, so a chunk's events share their rollup items and
 * each rollup is written once for many events. A lane too big for one
 * transaction is cut into consecutive pieces, applied in order.
 */
function pack(ctx: SignalContext, lanes: IngestEvent[][], states: States): IngestEvent[][] {
  const sortKey = (lane: IngestEvent[]) => {
    const e = lane[0]!;
    return `${String(e.JourneyID).padStart(12, "0")}|${e.EmailAddress ? ispOf(e.EmailAddress) : ""}|${e.OccurredAt.slice(0, 10)}`;
  };
  const ordered = [...lanes].sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0));
  const chunks: IngestEvent[][] = [];
  let current: IngestEvent[] = [];
  let own = 0;
  let counters = new Set<string>();
  const close = () => {
    if (current.length) chunks.push(current);
    current = [];
    own = 0;
    counters = new Set();
  };
  for (const lane of ordered) {
    const p = plan(ctx, lane, states);
    const laneOwn = p.markers.length + p.states.size;
    const merged = new Set([...counters, ...p.counters.keys()]);
    if (laneOwn + p.counters.size > MAX_TX_ITEMS) {
      close();
      // Pieces of one lane: each sized against the whole lane's footprint, which is an upper bound.
      const per = Math.max(1, Math.floor((MAX_TX_ITEMS - p.counters.size) / 3));
      for (let i = 0; i < lane.length; i += per) chunks.push(lane.slice(i, i + per));
      continue;
    }
    if (own + laneOwn + merged.size > MAX_TX_ITEMS) {
      close();
      current = [...lane];
      own = laneOwn;
      counters = new Set(p.counters.keys());
    } else {
      current.push(...lane);
      own += laneOwn;
      counters = merged;
    }
  }
  close();
  return chunks;
}

export interface ApplyOutcome {
  /** Per input event: true when applied now, false when it had been ingested before (a duplicate). */
  applied: boolean[];
}

/**
 * Applies validated events of one user, in their order per (journey, subscriber).
 * `explicitTime[i]` says event i carried its own OccurredAt, so a duplicate of it
 * still knows the original's time.
 */
export async function applyEvents(userId: number, events: IngestEvent[], now: Date, explicitTime?: boolean[]): Promise<ApplyOutcome> {
  const applied = events.map(() => false);
  if (events.length === 0) return { applied };

  // An EventID repeated inside the batch: the first copy is the event, the rest duplicates.
  const firstIndex = new Map<string, number>();
  events.forEach((e, i) => {
    if (!firstIndex.has(e.EventID)) firstIndex.set(e.EventID, i);
  });
  const unique = [...firstIndex.values()].map((i) => events[i]!);

  // One read of everything the batch depends on: markers, the state items, and the
  // journeys' activity times (so a batch of duplicates writes nothing at all).
  const journeyIds = [...new Set(unique.map((e) => e.JourneyID))];
  const timeKeys = journeyIds.flatMap((jid) => [keys.journeyLifetime(userId, jid), keys.journeyEnrollment(userId, jid)]);
  const readKeys = [...unique.map((e) => markerKey(userId, e)), ...unique.flatMap((e) => stateKeys(userId, e)), ...timeKeys];
  const found = await batchGet(readKeys);
  const states: States = new Map();
  for (const e of unique) for (const k of stateKeys(userId, e)) states.set(keyId(k), found.get(keyId(k)));

  const markerTime = new Map<string, string>();
  const fresh: IngestEvent[] = [];
  for (const e of unique) {
    const marker = found.get(keyId(markerKey(userId, e)));
    if (marker) {
      if (typeof marker["OccurredAt"] === "string") markerTime.set(e.EventID, marker["OccurredAt"]);
    } else fresh.push(e);
  }

  const lanes = new Map<string, IngestEvent[]>();
  for (const e of fresh) (lanes.get(laneOf(e)) ?? lanes.set(laneOf(e), []).get(laneOf(e))!).push(e);
  const ctx: SignalContext = { userId, at: productEpoch(), thresholds: await revenueThresholds(userId, fresh, states) };
  const chunks = pack(ctx, [...lanes.values()], states);

  // Chunks of one journey share its rollups, so they run one after the other;
  // chunks of other journeys run beside them.
  const done = new Set<IngestEvent>();
  const tails = new Map<number, Promise<unknown>>();
  let active = 0;
  const waiting: (() => void)[] = [];
  const run = async (chunk: IngestEvent[]) => {
    if (active >= CHUNK_CONCURRENCY) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      for (const e of await applyChunk(ctx, chunk, states, now)) done.add(e);
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
  const all = chunks.map((chunk) => {
    const jids = [...new Set(chunk.map((e) => e.JourneyID))];
    const before = jids.flatMap((j) => tails.get(j) ?? []);
    const p = Promise.all(before).then(() => run(chunk));
    for (const j of jids) tails.set(j, p);
    return p;
  });
  const settled = await Promise.allSettled(all);
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");

  // Applied events, and duplicates whose original time is known, advance the
  // journeys' latest times, even when a chunk failed (what committed is final).
  const timed: IngestEvent[] = [];
  events.forEach((e, i) => {
    const original = firstIndex.get(e.EventID) === i;
    if (original && done.has(e)) {
      applied[i] = true;
      timed.push(e);
    } else if (markerTime.has(e.EventID)) timed.push({ ...e, OccurredAt: markerTime.get(e.EventID)! });
    else if (explicitTime?.[i]) timed.push(e);
  });
  await advanceJourneyTimes(userId, timed, found);
  if (failure) throw failure.reason;
  return { applied };
}

/**
 * LastActivityAt and LastTriggeredAt are maxima, kept outside the chunk
 * transactions: as a guard inside them they would fail whenever two chunks of a
 * busy journey overlap. A max is idempotent, so it is advanced once per journey
 * per batch, and only when the value read is older.
 */
async function advanceJourneyTimes(userId: number, events: IngestEvent[], read: Map<string, Item>): Promise<void> {
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
    const stored = read.get(keyId(key))?.[attribute];
    if (typeof stored === "string" && stored >= at) return;
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
