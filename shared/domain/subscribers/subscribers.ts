import { randomUUID } from "node:crypto";
import { GetCommand, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import { ddb, tableName } from "../../aws.js";
import { CommandError, isAwsError } from "../../errors.js";
import { keys, type Key } from "../../keys.js";
import { logger } from "../../observability.js";
import { epochSeconds, formatDateTime } from "../../time.js";
import { dueFields } from "../../engine/due.js";
import { deliverOutbox, overflowPut, placeEntries, type OverflowItem } from "../../engine/outbox.js";
import { InjectedFault, takeFault } from "../../engine/faults.js";
import type { Outbox, OutboxEntry, Signal } from "../../engine/model.js";
import type { Trigger } from "../journeys/trigger.js";
import { nextId } from "../ids.js";
import { batchGet, keyId, type Item } from "../owned.js";
import { sha256Hex } from "../secrets.js";

/**
 * A subscriber (ENGINE §3.1) is one address on one list. Its item lives in the
 * subscriber's own partition (`keys.subscriber`), beside its memberships, cursors
 * and email states, so an engine step touches one partition per subscriber.
 *
 * Every write of the item is a read-decide-write conditioned on `Version`, which
 * it moves by one: two concurrent changes (two tag calls, a tag call and an
 * ingested bounce) can never lose one another, and a change fires its signals
 * exactly when it really changes something. The signals travel in the item's
 * `Outbox` in that same write (ENGINE §4.2, §5.5) and are delivered once it commits.
 */

export type SubscriptionStatus = "Subscribed" | "Unsubscribed";
export type BounceType = "Not Bounced" | "Soft" | "Hard";
export type SuppressedBy = "Unsubscribed" | "HardBounce" | "SpamComplaint";

/** A reason never replaces a stronger one (ENGINE §3.1). */
const SUPPRESSION_RANK: Record<SuppressedBy, number> = { Unsubscribed: 1, HardBounce: 2, SpamComplaint: 3 };
export function strongerSuppression(current: unknown, next: SuppressedBy): boolean {
  const held = typeof current === "string" ? (SUPPRESSION_RANK[current as SuppressedBy] ?? 0) : 0;
  return SUPPRESSION_RANK[next] > held;
}

export const MAX_TAGS = 1000;
export const CUSTOM_FIELD_VALUE_MAX = 10_000;
export const CUSTOM_FIELDS_MAX_BYTES = 64 * 1024;

/** All IDs and values together, as UTF-8 (ENGINE §3.1's 64 KB). */
export const customFieldsBytes = (fields: Record<string, string>): number =>
  Object.entries(fields).reduce((n, [id, value]) => n + Buffer.byteLength(id) + Buffer.byteLength(value), 0);

export const isE164 = (v: string): boolean => /^\+[1-9]\d{1,14}$/.test(v);

/** What one change fires (ENGINE §3.3): trigger and its value. */
export interface Firing {
  Trigger: Trigger;
  Value: number;
}

const guardKey = (userId: number, listId: number, email: string) => keys.subscriberAddress(userId, listId, sha256Hex(email.toLowerCase()));

export async function getSubscriber(userId: number, subscriberId: number): Promise<Item | undefined> {
  const out = await ddb().send(new GetCommand({ TableName: tableName(), Key: keys.subscriber(userId, subscriberId), ConsistentRead: true }));
  return out.Item;
}

/** The SubscriberID of an address on a list, through its guard item. */
export async function findSubscriberId(userId: number, listId: number, email: string): Promise<number | undefined> {
  const out = await ddb().send(new GetCommand({ TableName: tableName(), Key: guardKey(userId, listId, email), ConsistentRead: true }));
  return out.Item ? Number(out.Item["SubscriberID"]) : undefined;
}

// ---- The outbox of a subscriber write ----

function signalEntries(userId: number, subscriberId: number, firings: Firing[], at: number): Outbox {
  const source = keys.subscriber(userId, subscriberId);
  const outbox: Outbox = {};
  for (const f of firings) {
    const signal: Signal = {
      Kind: "Signal",
      UserID: userId,
      SubscriberID: subscriberId,
      Trigger: f.Trigger,
      Value: f.Value,
      SignalID: randomUUID(),
      Depth: 0,
      At: at,
      Source: source,
    };
    const entry: OutboxEntry = { Id: randomUUID(), At: at, Kind: "Signal", Signal: signal };
    outbox[entry.Id] = entry;
  }
  return outbox;
}

/**
 * Hands a committed write's outbox to the steps queue and clears it, then its
 * overflow items' (§5.5), which are deleted. A failure here loses nothing: the
 * entries stay on the items, which the write put in the due index, and recovery
 * sends them again. So the command that wrote still succeeds.
 */
async function deliver(key: Key, written: Item, at: number, overflow: readonly OverflowItem[] = []): Promise<void> {
  if (Object.keys((written["Outbox"] ?? {}) as Outbox).length === 0 && overflow.length === 0) return;
  try {
    // Local fault point (ENGINE §9, `after-write`): the writer dies between its write and the delivery.
    if (takeFault("after-write")) throw new InjectedFault("after-write");
    await deliverOutbox(key, written, at);
    for (const o of overflow) await deliverOutbox(o.key, o.item, at);
  } catch (err) {
    logger().warn("outbox delivery left for recovery", { sk: key.SK, error: err instanceof Error ? err.message : String(err) });
  }
}

// ---- subscriber.create ----

export interface NewSubscriber {
  customFields?: Record<string, string>;
  phoneNumber?: string;
}

/**
 * Subscribes an address to a list, or returns the existing SubscriberID (which
 * then fires nothing and is left as it is). The guard item keyed by (list,
 * address digest) is written in the same transaction as the subscriber, so a
 * race cannot make two; the new subscriber's ListSubscription signal rides in
 * its outbox in that same transaction.
 */
export async function createSubscriber(
  userId: number,
  listId: number,
  email: string,
  extra: NewSubscriber,
  now: Date,
  fire = true,
): Promise<{ subscriberId: number; created: boolean }> {
  const guard = guardKey(userId, listId, email);
  const existing = await ddb().send(new GetCommand({ TableName: tableName(), Key: guard, ConsistentRead: true }));
  if (existing.Item) return { subscriberId: Number(existing.Item["SubscriberID"]), created: false };
  const subscriberId = await nextId("Subscriber");
  const key = keys.subscriber(userId, subscriberId);
  const at = epochSeconds(now);
  const outbox = fire ? signalEntries(userId, subscriberId, [{ Trigger: "ListSubscription", Value: listId }], at) : {};
  const customFields = Object.fromEntries(Object.entries(extra.customFields ?? {}).filter(([, v]) => v !== ""));
  const item: Item = {
    ...key,
    UserID: userId,
    SubscriberID: subscriberId,
    ListID: listId,
    EmailAddress: email,
    SubscriptionStatus: "Subscribed",
    SubscriptionDate: formatDateTime(now),
    CustomFields: customFields,
    Tags: [],
    ...(extra.phoneNumber ? { PhoneNumber: extra.phoneNumber } : {}),
    BounceType: "Not Bounced",
    Revenue: 0,
    RevenueHits: [],
    Version: 1,
    Outbox: outbox,
    ...(Object.keys(outbox).length > 0 ? dueFields(key, at, "Outbox", true, at) : {}),
  };
  try {
    await ddb().send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: tableName(), Item: { ...guard, SubscriberID: subscriberId }, ConditionExpression: "attribute_not_exists(PK)" } },
          { Put: { TableName: tableName(), Item: item, ConditionExpression: "attribute_not_exists(PK)" } },
        ],
      }),
    );
  } catch (err) {
    if (!isAwsError(err, "TransactionCanceledException")) throw err;
    const winner = await ddb().send(new GetCommand({ TableName: tableName(), Key: guard, ConsistentRead: true }));
    if (!winner.Item) throw err;
    return { subscriberId: Number(winner.Item["SubscriberID"]), created: false };
  }
  await deliver(key, item, at);
  return { subscriberId, created: true };
}

// ---- Changes of existing subscribers ----

type Tx = NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]["TransactItems"]>[number];

/** What one subscriber's write does. `set` values of `undefined` remove the attribute. */
export interface Change {
  set: Record<string, unknown>;
  fire: Firing[];
  /**
   * Items that must change in the same transaction (the address guard moves with
   * EmailAddress), each with the error to answer when its condition fails (the new
   * address is taken: 409), or none to read again and decide again.
   */
  also?: { tx: Tx; conflict?: CommandError }[];
}

/**
 * Decides the writes from the subscribers as read (a missing one is absent from
 * the map). Throws a CommandError to answer the call without writing anything;
 * returns no Change for a subscriber that does not change.
 */
export type Decide = (items: Map<number, Item>) => Map<number, Change>;

/** DynamoDB's cap on one transaction's items; the commands that batch stay under it (≤ 100 subscribers). */
const MAX_TX_ITEMS = 100;
/** Transactions carry at most 4 MB; this leaves room for the request's own overhead. */
const MAX_TX_BYTES = 3.5 * 1024 * 1024;
/** Read-decide-write rounds before a contended write gives up (each re-reads only what moved). */
const MAX_ROUNDS = 12;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One subscriber's conditional update, and the item as it will be once it commits;
 * `overflow`: the outbox overflow items (§5.5) that must be put in the same
 * transaction (none unless the outbox would pass 64 KB: a tag call giving
 * hundreds of tags, or entries still held from an earlier write).
 */
function buildUpdate(userId: number, subscriberId: number, item: Item, change: Change, at: number, fire: boolean): { tx: Tx; written: Item; overflow: OverflowItem[] } {
  const key = keys.subscriber(userId, subscriberId);
  const names: Record<string, string> = { "#ver": "Version" };
  const values: Record<string, unknown> = {};
  const sets: string[] = [];
  const removes: string[] = [];
  const written: Item = { ...item };
  let n = 0;
  const setAttr = (name: string, value: unknown) => {
    const i = n++;
    names[`#n${i}`] = name;
    values[`:v${i}`] = value;
    sets.push(`#n${i} = :v${i}`);
    written[name] = value;
  };
  for (const [name, value] of Object.entries(change.set)) {
    if (value === undefined) {
      if (item[name] === undefined) continue;
      const i = n++;
      names[`#n${i}`] = name;
      removes.push(`#n${i}`);
      delete written[name];
    } else setAttr(name, value);
  }
  const version = typeof item["Version"] === "number" ? item["Version"] : undefined;
  setAttr("Version", (version ?? 0) + 1);
  const fired = fire && change.fire.length > 0 ? signalEntries(userId, subscriberId, change.fire, at) : {};
  const held = (item["Outbox"] ?? undefined) as Outbox | undefined;
  const { kept: entries, overflow } = placeEntries(key, held, fired, at);
  if (Object.keys(entries).length > 0) {
    if (held === undefined) setAttr("Outbox", entries);
    else {
      // Entry by entry: a concurrent clearing write (which leaves Version alone) may
      // remove delivered entries meanwhile, and must not have them put back.
      names["#ob"] = "Outbox";
      for (const [id, entry] of Object.entries(entries)) {
        const i = n++;
        names[`#n${i}`] = id;
        values[`:v${i}`] = entry;
        sets.push(`#ob.#n${i} = :v${i}`);
      }
      written["Outbox"] = { ...held, ...entries };
    }
    for (const [name, value] of Object.entries(dueFields(key, at, "Outbox", true, at))) setAttr(name, value);
  }
  if (version !== undefined) values[":ver"] = version;
  const tx: Tx = {
    Update: {
      TableName: tableName(),
      Key: key,
      UpdateExpression: `SET ${sets.join(", ")}${removes.length ? ` REMOVE ${removes.join(", ")}` : ""}`,
      ConditionExpression: version !== undefined ? "#ver = :ver" : "attribute_exists(PK) AND attribute_not_exists(#ver)",
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    },
  };
  return { tx, written, overflow };
}

const txBytes = (items: Tx[]) => Buffer.byteLength(JSON.stringify(items));

/**
 * Reads the subscribers, lets `decide` say what changes, and writes every change
 * (with its signals in the subscriber's outbox, unless `fire` is false) in one
 * transaction conditioned on each item's `Version`. When another writer moved a
 * subscriber in between, that one is read again and the whole call decided again,
 * so what commits always follows from what it was decided on. After the commit the
 * outboxes are delivered.
 *
 * A call whose writes do not fit one transaction (over 100 items or ~4 MB: only a
 * tag call giving up to 100 subscribers hundreds of new tags each) is written in
 * consecutive transactions after the same decision; each still conditioned on the
 * Versions read, so a concurrent change makes the rest be decided again.
 */
export async function changeSubscribers(userId: number, ids: number[], decide: Decide, now: Date, fire = true): Promise<void> {
  const at = epochSeconds(now);
  const subscriberKeys = new Map(ids.map((id) => [id, keys.subscriber(userId, id)]));
  let found = await batchGet([...subscriberKeys.values()], { consistent: true });
  let pending = new Set(ids);
  for (let round = 0; ; round++) {
    const items = new Map<number, Item>();
    for (const id of ids) {
      const item = found.get(keyId(subscriberKeys.get(id)!));
      if (item) items.set(id, item);
    }
    const changes = [...decide(items)].filter(([id]) => pending.has(id));
    if (changes.length === 0) return;

    const writes = changes.map(([id, change]) => ({ id, change, ...buildUpdate(userId, id, items.get(id)!, change, at, fire) }));
    // Pack whole subscribers (with their `also` items) into transactions.
    const batches: (typeof writes)[] = [];
    let current: typeof writes = [];
    let size = 0;
    let bytes = 0;
    for (const w of writes) {
      const wItems = 1 + (w.change.also?.length ?? 0) + w.overflow.length;
      const wBytes = txBytes([w.tx, ...(w.change.also ?? []).map((a) => a.tx), ...w.overflow.map(overflowPut)]);
      if (current.length > 0 && (size + wItems > MAX_TX_ITEMS || bytes + wBytes > MAX_TX_BYTES)) {
        batches.push(current);
        current = [];
        size = 0;
        bytes = 0;
      }
      current.push(w);
      size += wItems;
      bytes += wBytes;
    }
    if (current.length) batches.push(current);

    let stale: number[] = [];
    let contended = false;
    for (const batch of batches) {
      const txItems: Tx[] = [];
      const owners: { id: number; conflict?: CommandError }[] = [];
      for (const w of batch) {
        txItems.push(w.tx);
        owners.push({ id: w.id });
        for (const a of w.change.also ?? []) {
          txItems.push(a.tx);
          owners.push({ id: w.id, conflict: a.conflict });
        }
        for (const o of w.overflow) {
          txItems.push(overflowPut(o));
          owners.push({ id: w.id });
        }
      }
      try {
        await ddb().send(new TransactWriteCommand({ TransactItems: txItems, ClientRequestToken: randomUUID() }));
      } catch (err) {
        if (!isAwsError(err, "TransactionCanceledException")) throw err;
        const reasons = (err as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
        reasons.forEach((r, i) => {
          const owner = owners[i];
          if (!owner || !r.Code || r.Code === "None") return;
          if (r.Code === "ConditionalCheckFailed") {
            if (owner.conflict) throw owner.conflict;
            stale.push(owner.id);
          } else contended = true;
        });
        if (stale.length === 0 && !contended) throw err;
        break;
      }
      for (const w of batch) {
        pending.delete(w.id);
        found.set(keyId(subscriberKeys.get(w.id)!), w.written);
      }
      await Promise.all(batch.map((w) => deliver(subscriberKeys.get(w.id)!, w.written, at, w.overflow)));
    }
    if (pending.size === 0 || (stale.length === 0 && !contended)) return;
    if (round + 1 >= MAX_ROUNDS) throw new Error("subscriber write kept conflicting");
    if (stale.length > 0) {
      const fresh = await batchGet(stale.map((id) => subscriberKeys.get(id)!), { consistent: true });
      for (const id of stale) {
        const k = keyId(subscriberKeys.get(id)!);
        const item = fresh.get(k);
        if (item) found.set(k, item);
        else found.delete(k);
      }
    }
    // Back off with jitter, so that racing callers interleave rather than collide again.
    await sleep(Math.min(200, 5 * 2 ** round) * (0.5 + Math.random()));
    stale = [];
    pending = new Set(pending);
  }
}

/** Moves the address guard with an EmailAddress change: the old one goes, the new one must be free (else 409). */
export function moveAddressGuard(
  userId: number,
  listId: number,
  subscriberId: number,
  from: string,
  to: string,
  taken: CommandError,
): NonNullable<Change["also"]> {
  const old = guardKey(userId, listId, from);
  const next = guardKey(userId, listId, to);
  if (keyId(old) === keyId(next)) return [];
  return [
    {
      tx: {
        Delete: {
          TableName: tableName(),
          Key: old,
          ConditionExpression: "SubscriberID = :s",
          ExpressionAttributeValues: { ":s": subscriberId },
        },
      },
    },
    {
      tx: { Put: { TableName: tableName(), Item: { ...next, SubscriberID: subscriberId }, ConditionExpression: "attribute_not_exists(PK)" } },
      conflict: taken,
    },
  ];
}
