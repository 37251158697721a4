import { tableName } from "../aws.js";
import { isAwsError } from "../errors.js";
import { keys } from "../keys.js";
import { batchGet, keyId, queryAll, type Item } from "../domain/owned.js";
import { deliverOutbox } from "./outbox.js";
import { cursorKey, cursorOf, cursorWrite, isLive } from "./cursor.js";
import { engineEvent, type Chain } from "./runner.js";
import type { Cursor } from "./model.js";
import { Tx, updateItem } from "./store.js";

/**
 * Ending a subscriber's other enrolments (ExitJourney, ExitAll*, DeleteSubscriber;
 * ENGINE §7). Each end is conditioned on the cursor's Version and on it being live,
 * so an end raced by its own worker or by another fan-out happens once. The ends
 * are written in transactions of at most 90 items before the acting step's own
 * write: if the worker dies in between, the redelivered step reads the cursors
 * again and ends only those still live, so the fan-out is idempotent without a job.
 */
const MAX_TX_ITEMS = 90;

/** Every membership and cursor of a subscriber, read consistently (one Query, paged). */
export async function engineItemsOf(userId: number, subscriberId: number): Promise<Item[]> {
  const { PK, prefix } = keys.enginePrefix(userId, subscriberId);
  return queryAll({
    TableName: tableName(),
    KeyConditionExpression: "PK = :pk AND begins_with(SK, :p)",
    ExpressionAttributeValues: { ":pk": PK, ":p": prefix },
    ConsistentRead: true,
  });
}

/** A subscriber's Active and Paused cursors. */
export async function liveCursorsOf(userId: number, subscriberId: number): Promise<Cursor[]> {
  return (await engineItemsOf(userId, subscriberId))
    .filter((i) => typeof i["EntryID"] === "string" && isLive({ State: i["State"] as Cursor["State"] }))
    .map(cursorOf);
}

/**
 * The cursors whose journey still exists: every reader, fan-outs included, ignores
 * cursors of a journey that is gone (§5.4); the journey's purge ends them (JourneyDeleted).
 */
async function ofLiveJourneys(userId: number, cursors: Cursor[]): Promise<Cursor[]> {
  if (cursors.length === 0) return cursors;
  const ids = [...new Set(cursors.map((c) => c.JourneyID))];
  const found = await batchGet(ids.map((id) => keys.journey(userId, id)), { consistent: true });
  return cursors.filter((c) => found.has(keyId(keys.journey(userId, c.JourneyID))));
}

/** Ends `other` (in memory) with its end events in its outbox; returns its write items. */
export function endItems(other: Cursor, reason: string, now: number): Tx {
  const read = other.Version;
  other.State = "Exited";
  other.EndedBy = "Exited";
  other.EndReason = reason;
  other.EndedAt = now;
  other.ActionID = 0;
  other.Started = false;
  if (reason !== "JourneyDeleted") {
    other.Outbox = {
      ...(other.Outbox ?? {}),
      [`end-${other.EntryID}`]: {
        Id: `end-${other.EntryID}`,
        At: now,
        Kind: "Events",
        UserID: other.UserID,
        Events: [
          engineEvent(other, "Enrolled", other.EnrolledAt),
          ...other.Extra.map((s) => engineEvent(other, "Enrolled", other.EnrolledAt, `:${s}`)),
          engineEvent(other, "Exited", now),
        ],
      },
    };
  }
  const tx = new Tx();
  tx.set(cursorKey(other), cursorWrite(other, read, now, { queued: true }));
  const membership = keys.membership(other.UserID, other.SubscriberID, other.JourneyID);
  tx.set(
    membership,
    updateItem(membership, {}, ["ActiveEntryID"], { expression: "#ae = :e", names: { "#ae": "ActiveEntryID" }, values: { ":e": other.EntryID } }),
  );
  return tx;
}

/**
 * Ends the subscriber's live enrolments other than the chain's own that `pick`
 * selects. Returns the JourneyIDs ended (by this call or a racing one).
 */
export async function endOthers(chain: Chain, pick: (c: Cursor) => boolean, reason: string): Promise<number[]> {
  const ended = new Set<number>();
  for (let pass = 0; pass < 5; pass++) {
    const picked = (await liveCursorsOf(chain.c.UserID, chain.c.SubscriberID)).filter((o) => o.EntryID !== chain.c.EntryID && pick(o));
    const targets = await ofLiveJourneys(chain.c.UserID, picked);
    if (targets.length === 0) break;
    let failed = false;
    for (let i = 0; i < targets.length; i += MAX_TX_ITEMS / 2) {
      const batch = targets.slice(i, i + MAX_TX_ITEMS / 2);
      const tx = new Tx();
      for (const o of batch) tx.absorb(endItems(o, reason, chain.now));
      try {
        await tx.commit();
      } catch (err) {
        if (!isAwsError(err, "TransactionCanceledException")) throw err;
        failed = true;
        continue;
      }
      for (const o of batch) {
        ended.add(o.JourneyID);
        await deliverOutbox(cursorKey(o), { ...o, Queued: true }, chain.now);
      }
    }
    if (!failed) break;
  }
  return [...ended].sort((a, b) => a - b);
}

/**
 * Ends one live enrolment from outside a chain (subscriber.journey.exit / remove,
 * the DLQ consumer, a purge): conditioned on its Version and liveness, with its end
 * events in its outbox, delivered right after. Returns the cursor as ended, or
 * undefined when no enrolment of that journey was live.
 */
export async function endEnrolment(userId: number, subscriberId: number, journeyId: number, reason: string, now: number): Promise<Cursor | undefined> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const live = (await liveCursorsOf(userId, subscriberId)).find((c) => c.JourneyID === journeyId);
    if (!live) return undefined;
    try {
      await endItems(live, reason, now).commit();
    } catch (err) {
      if (isAwsError(err, "TransactionCanceledException")) continue;
      throw err;
    }
    await deliverOutbox(cursorKey(live), { ...live, Queued: true }, now);
    return live;
  }
  throw new Error("enrolment end kept conflicting");
}
