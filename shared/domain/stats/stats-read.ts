import { keys, type Key } from "../../keys.js";
import { EMAIL_ACTION_KEYS, type Counters, type EnrollmentCounters, type JourneyRollup } from "./stats.js";
import { queryBetween, type Item } from "../owned.js";
import type { Window } from "./window.js";

/**
 * Statistics reads. Every read is a key lookup or one key-range query over rollups
 * kept current at ingest time (shared/domain/ingest/ingest.ts), so the number of calls
 * never grows with the number of journeys, actions, days or ISPs.
 */

export function countersOf(item: Item | undefined): Counters {
  const out: Counters = {};
  if (!item) return out;
  for (const k of EMAIL_ACTION_KEYS) {
    const v = item[k];
    if (typeof v === "number" && v !== 0) out[k] = v;
  }
  return out;
}

export function enrollmentOf(counters: Item | undefined, enrollment: Item | undefined): EnrollmentCounters {
  return {
    ActiveSubscribers: Number(enrollment?.["ActiveSubscribers"] ?? 0),
    TotalSubscribers: Number(enrollment?.["TotalSubscribers"] ?? 0),
    TotalEnrolledLifetime: Number(enrollment?.["TotalEnrolledLifetime"] ?? 0),
    LastTriggeredAt: typeof enrollment?.["LastTriggeredAt"] === "string" ? enrollment["LastTriggeredAt"] : null,
    LastActivityAt: typeof counters?.["LastActivityAt"] === "string" ? counters["LastActivityAt"] : null,
  };
}

/** Adds counters into `into`. */
export function addInto(into: Counters, more: Counters): Counters {
  for (const [k, v] of Object.entries(more) as [keyof Counters, number][]) into[k] = (into[k] ?? 0) + v;
  return into;
}

/** The keys journey.get reads alongside the tree chunks (one BatchGet for all of them). */
export function journeyLifetimeKeys(userId: number, journeyId: number): Key[] {
  return [keys.journeyLifetime(userId, journeyId), keys.journeyEnrollment(userId, journeyId)];
}

/**
 * Per-day rows of one journey and of its actions over a window: one query of the
 * journey's partition, `D#<start>` to `D#<end>#~`. Every counted event names a
 * SendEmail action, so a journey's day is the sum of its actions' days (kept
 * even for actions deleted since), and ingest stores only those.
 */
export async function journeyDays(
  userId: number,
  journeyId: number,
  window: Window,
): Promise<{ journey: Map<string, Counters>; actions: Map<number, Map<string, Counters>> }> {
  const items = await queryBetween(keys.journeyPartition(userId, journeyId), `D#${window.start}`, `D#${window.end}#~`);
  const journey = new Map<string, Counters>();
  const actions = new Map<number, Map<string, Counters>>();
  for (const item of items) {
    const date = String(item["Date"]);
    const counters = countersOf(item);
    journey.set(date, addInto(journey.get(date) ?? {}, counters));
    const aid = Number(item["ActionID"]);
    (actions.get(aid) ?? actions.set(aid, new Map()).get(aid)!).set(date, counters);
  }
  return { journey, actions };
}

/**
 * Per-ISP daily rows over a window, one range query of the action × ISP rows (of
 * one action, or of all; a journey's ISP day is the sum of its actions').
 */
export async function ispDays(userId: number, journeyId: number, window: Window, actionId?: number): Promise<Item[]> {
  const items = await queryBetween(keys.journeyPartition(userId, journeyId), `IA#${window.start}`, `IA#${window.end}#~`);
  return actionId === undefined ? items : items.filter((i) => Number(i["ActionID"]) === actionId);
}

/**
 * Every journey's lifetime and enrollment rollups, and every journey's days in a
 * window, for a whole account: two range queries of the user's stats partition,
 * whatever the number of journeys.
 *
 * With `ids` (a journey.list page), only the rollups of JourneyIDs `fromId`..`toId`:
 * the lifetime query narrows its key range to them; the days are stored date first,
 * so that query keeps the window's key range and a filter drops the other journeys'
 * days before they are shipped. Still two queries, wherever the page starts.
 */
export async function accountRollups(
  userId: number,
  window: Window | undefined,
  ids?: { fromId: number; toId: number },
): Promise<Map<number, JourneyRollup>> {
  const life = keys.journeyLifetimes(userId, ids);
  const days = window ? keys.journeyDaysByUser(userId, window.start, window.end) : undefined;
  const onlyPage = ids
    ? { expression: "#jid BETWEEN :lo AND :hi", names: { "#jid": "JourneyID" }, values: { ":lo": ids.fromId, ":hi": ids.toId } }
    : undefined;
  const [lifetimes, dayItems] = await Promise.all([
    queryBetween(life.PK, life.from, life.to),
    days ? queryBetween(days.PK, days.from, days.to, onlyPage) : Promise.resolve([] as Item[]),
  ]);
  const out = new Map<number, JourneyRollup>();
  const rollup = (jid: number) => {
    let r = out.get(jid);
    if (!r) out.set(jid, (r = { lifetime: {}, daily: new Map(), enrollment: enrollmentOf(undefined, undefined) }));
    return r;
  };
  const counterItems = new Map<number, Item>();
  const enrollmentItems = new Map<number, Item>();
  for (const item of lifetimes) {
    const jid = Number(item["JourneyID"]);
    if (String(item["SK"]).endsWith("#C")) counterItems.set(jid, item);
    else enrollmentItems.set(jid, item);
  }
  for (const jid of new Set([...counterItems.keys(), ...enrollmentItems.keys()])) {
    const r = rollup(jid);
    r.lifetime = countersOf(counterItems.get(jid));
    r.enrollment = enrollmentOf(counterItems.get(jid), enrollmentItems.get(jid));
  }
  for (const item of dayItems) rollup(Number(item["JourneyID"])).daily.set(String(item["Date"]), countersOf(item));
  return out;
}
