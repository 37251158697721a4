import { QueryCommand } from "@aws-sdk/lib-dynamodb";
import { ddb, tableName } from "../aws.js";
import { isAwsError } from "../errors.js";
import { keys, type Key } from "../keys.js";
import { logger } from "../observability.js";
import type { Journey } from "../domain/journeys/journeys.js";
import type { Item } from "../domain/owned.js";
import { productEpoch } from "../clock.js";
import { DUE_REMOVE, dueFields } from "./due.js";
import { sendToSteps } from "./outbox.js";
import { dayStart, hourStart, notBefore, room, type RateCounts, type RateLimits } from "./rate-window.js";
import { getConsistent, Tx, updateItem, versionIs, type TransactItem } from "./store.js";

/**
 * Rate limits (ENGINE §4.5). A limited journey has one rate item holding this
 * hour's and this day's admissions and its backlog size; it is also the drain.
 * - Admission adds 1 to both counts in the enrolment's own transaction, conditioned
 *   on the Version read, which covers "within the limits" and "the backlog is empty"
 *   (while a backlog exists, new arrivals queue behind it: FIFO).
 * - Deferral writes a backlog row keyed by (the signal's At, SignalID), so a copy of
 *   the signal adds nothing, with the backlog size + 1, in one transaction.
 * - The drain, due as soon as a window has room, admits rows in key order.
 */
export const limitsOf = (j: Pick<Journey, "Rate_Limit_Per_Hour" | "Rate_Limit_Per_Day">): RateLimits => ({
  perHour: Number(j.Rate_Limit_Per_Hour ?? 0),
  perDay: Number(j.Rate_Limit_Per_Day ?? 0),
});

export const isLimited = (l: RateLimits): boolean => l.perHour > 0 || l.perDay > 0;

export function countsOf(rate: Item | undefined): RateCounts {
  return {
    hour: Number(rate?.["HourCount"] ?? 0),
    day: Number(rate?.["DayCount"] ?? 0),
    hourStart: Number(rate?.["HourStart"] ?? 0),
    dayStart: Number(rate?.["DayStart"] ?? 0),
  };
}

/** The counts after one more admission at `now`. */
function admitted(now: number, c: RateCounts): Record<string, number> {
  const h = hourStart(now);
  const d = dayStart(now);
  return {
    HourStart: h,
    HourCount: (c.hourStart === h ? c.hour : 0) + 1,
    DayStart: d,
    DayCount: (c.dayStart === d ? c.day : 0) + 1,
  };
}

/** When a window next has room (the drain's due time): the next hour, or the next day when only a day limit is set. */
function nextRoom(now: number, limits: RateLimits, counts: RateCounts): number {
  if (room(now, limits, counts) > 0) return now;
  return notBefore(now, limits, counts, 0);
}

export type RateDecision =
  | { kind: "admit"; item: TransactItem }
  | { kind: "defer"; items: TransactItem[]; notBefore: number; drainKey: Key; drainAt: number };

/** What the deferred row must hold to be admitted later, by the drain. */
export interface BacklogRow {
  SubscriberID: number;
  SignalID: string;
  At: number;
  Depth: number;
  Source: string;
  Bypass: boolean;
  Deterministic: boolean;
  RevenueHit: boolean;
}

/**
 * Admission or deferral for one enrolment of a limited journey, as transaction
 * items to add to the enrolment's (admission) or to write instead (deferral).
 */
export function decideRate(userId: number, journeyId: number, limits: RateLimits, rate: Item | undefined, row: BacklogRow, now: number): RateDecision {
  const key = keys.journeyRate(userId, journeyId);
  const counts = countsOf(rate);
  const backlog = Number(rate?.["Backlog"] ?? 0);
  const version = rate?.["Version"];
  const next = typeof version === "number" ? version + 1 : 1;
  const base = { UserID: userId, JourneyID: journeyId, Version: next };
  if (backlog === 0 && room(now, limits, counts) > 0) {
    return { kind: "admit", item: updateItem(key, { ...base, ...admitted(now, counts) }, [], versionIs(version)) };
  }
  const rowKey = keys.backlogRow(userId, journeyId, row.At, row.SignalID);
  const drainAt = Math.max(now, nextRoom(now, limits, counts));
  const drain = rate?.["Parked"] === true ? {} : { DrainAt: drainAt, ...dueFields(key, drainAt, "Drain", false, now) };
  return {
    kind: "defer",
    notBefore: notBefore(now, limits, counts, backlog),
    drainKey: key,
    drainAt,
    items: [
      { Put: { TableName: tableName(), Item: { ...rowKey, ...row }, ConditionExpression: "attribute_not_exists(PK)" } },
      updateItem(key, { ...base, Backlog: backlog + 1, ...drain }, [], versionIs(version)),
    ],
  };
}

/** The backlog rows in arrival order, at most `limit`. */
async function headRows(userId: number, journeyId: number, limit: number): Promise<Item[]> {
  const { PK, prefix } = keys.backlogPrefix(userId, journeyId);
  const out = await ddb().send(
    new QueryCommand({
      TableName: tableName(),
      KeyConditionExpression: "PK = :pk AND begins_with(SK, :p)",
      ExpressionAttributeValues: { ":pk": PK, ":p": prefix },
      ConsistentRead: true,
      Limit: limit,
    }),
  );
  return out.Items ?? [];
}

/** How long one drain invocation may run before it re-sends itself (§4.5); its deleted rows are its checkpoint. */
const DRAIN_MS = 20_000;

export type Admit = (row: BacklogRow, extra: TransactItem[]) => Promise<"admitted" | "skipped" | "parked" | "conflict">;

/**
 * One drain of a journey's backlog. `admit` re-runs enrolment steps 1–2 for a row
 * and commits it with `extra` (the row's delete and the rate item's update) in the
 * enrolment's transaction; it answers "parked" for a non-Bypass row while the
 * journey is Disabled, which parks the drain until enable.
 */
export async function drain(key: Key, limits: RateLimits, admit: Admit): Promise<void> {
  const started = Date.now();
  for (;;) {
    const rate = await getConsistent(key);
    if (!rate) return;
    const userId = Number(rate["UserID"]);
    const journeyId = Number(rate["JourneyID"]);
    const now = productEpoch();
    const counts = countsOf(rate);
    const backlog = Number(rate["Backlog"] ?? 0);
    const version = rate["Version"];
    if (backlog <= 0) {
      await settle(key, rate, {}, [...DUE_REMOVE, "DrainAt"]);
      return;
    }
    const space = room(now, limits, counts);
    if (space <= 0) {
      const at = nextRoom(now, limits, counts);
      await settle(key, rate, { DrainAt: at, ...dueFields(key, at, "Drain", false, now) }, []);
      return;
    }
    const [head] = await headRows(userId, journeyId, 1);
    if (!head) {
      // The size says rows wait but none is left (a crash between a row's delete and the count): trust the rows.
      await settle(key, rate, { Backlog: 0 }, [...DUE_REMOVE, "DrainAt"]);
      return;
    }
    const row = head as unknown as BacklogRow;
    const rowKey = { PK: String(head["PK"]), SK: String(head["SK"]) };
    const next = typeof version === "number" ? version + 1 : 1;
    const remaining = backlog - 1;
    const rateUpdate = (admittedNow: boolean) =>
      updateItem(
        key,
        {
          Version: next,
          Backlog: remaining,
          ...(admittedNow ? admitted(now, counts) : {}),
          ...(remaining > 0 ? { DrainAt: now, ...dueFields(key, now, "Drain", true, now) } : {}),
        },
        remaining > 0 ? [] : [...DUE_REMOVE, "DrainAt"],
        versionIs(version),
      );
    const extra = [{ Delete: { TableName: tableName(), Key: rowKey } } as TransactItem, rateUpdate(true)];
    const outcome = await admit(row, extra);
    if (outcome === "parked") {
      await settle(key, rate, { Parked: true }, [...DUE_REMOVE, "DrainAt"]);
      return;
    }
    if (outcome === "skipped") {
      // The row fails §4.3's steps 1–2 now: it leaves the backlog, its reason logged by `admit`.
      const tx = new Tx();
      tx.set(rowKey, { Delete: { TableName: tableName(), Key: rowKey } });
      tx.set(key, rateUpdate(false));
      await tx.commit().catch((err: unknown) => {
        if (!isAwsError(err, "TransactionCanceledException")) throw err;
      });
    }
    if (Date.now() - started > DRAIN_MS) {
      await sendToSteps({ Kind: "Drain", Key: key });
      return;
    }
  }
}

/** A write of the rate item on the Version read; a lost race is left to whoever moved it. */
async function settle(key: Key, rate: Item, set: Record<string, unknown>, remove: string[]): Promise<void> {
  const v = rate["Version"];
  const tx = new Tx();
  tx.set(key, updateItem(key, { ...set, Version: typeof v === "number" ? v + 1 : 1 }, remove, versionIs(v)));
  await tx.commit().catch((err: unknown) => {
    if (!isAwsError(err, "TransactionCanceledException")) throw err;
    logger().info("drain settled by another writer");
  });
}
