import { DeleteCommand, GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { ddb, tableName } from "../aws.js";
import { loadConfig } from "../config.js";
import { isAwsError } from "../errors.js";
import { keys, type Key } from "../keys.js";
import { logger } from "../observability.js";
import { sendMessage } from "../domain/sqs-send.js";
import { DUE_REMOVE, dueFields, type DueKind } from "./due.js";
import { takeFault } from "./faults.js";
import { newUlid } from "./entry-id.js";
import type { Outbox, OutboxEntry, StepsQueueMessage } from "./model.js";
import type { TransactItem } from "./store.js";
import type { Item } from "../domain/owned.js";

/**
 * The outbox rule (ENGINE §5.5): a follow-up of a write (a signal, engine events, a
 * handoff, a job) is recorded as an entry of the item's `Outbox` map in that same
 * write; once the write commits, the writer delivers the entries and clears them.
 * A crash in between leaves them in the item, which the write also indexed in the
 * due index at the entry's time, so the sweeper's recovery pass hands them again:
 * follow-ups are at least once, and their effects exactly once (SignalIDs and
 * EventIDs are fixed, so a copy is a no-op).
 */

/** The steps queue's URL; unset only where no engine runs (the export worker, tools). */
const stepsQueueUrl = (): string | undefined => process.env["STEPS_QUEUE_URL"];

/**
 * Sends one message to the steps queue. The local fault point `drop-handoff` makes
 * it vanish, as a lost message would; recovery must find the work in the index.
 */
export async function sendToSteps(message: StepsQueueMessage, delaySeconds = 0): Promise<void> {
  const url = stepsQueueUrl();
  if (!url) throw new Error("STEPS_QUEUE_URL is not set");
  if (takeFault("drop-handoff")) {
    logger().warn("fault: handoff dropped", { kind: message.Kind });
    return;
  }
  await sendMessage(url, JSON.stringify(message), { delaySeconds });
}

/** Sends one message entry to its queue; a Job is started by handing its item to the steps queue. */
async function sendEntry(key: Key, entry: OutboxEntry): Promise<void> {
  switch (entry.Kind) {
    case "Signal":
      return sendToSteps(entry.Signal);
    case "Step":
      return sendToSteps(entry.Step, entry.DelaySeconds ?? 0);
    case "Job":
      return sendToSteps({ Kind: "Job", Key: key, EntryId: entry.Id });
    case "Events": {
      const url = loadConfig().EVENTS_QUEUE_URL;
      if (!url) throw new Error("EVENTS_QUEUE_URL is not set");
      await sendMessage(url, JSON.stringify({ UserID: entry.UserID, Events: entry.Events }));
      return;
    }
  }
}

/** Sends entries in their order; the caller clears them (with its next write of the item, or `clearDelivered`). */
export async function sendOutboxEntries(key: Key, entries: readonly OutboxEntry[]): Promise<void> {
  for (const entry of [...entries].sort((a, b) => a.At - b.At || a.Id.localeCompare(b.Id))) await sendEntry(key, entry);
}

/**
 * What is still pending on an item once `cleared` entries are gone: its due time
 * and index kind, or undefined. A live cursor is due at its `DueAt` (the step
 * handler delivers what its outbox holds first); a drain at `DrainAt`; anything
 * else at its oldest remaining entry.
 */
export function pendingOf(item: Item, cleared: ReadonlySet<string> = new Set()): { due: number; kind: DueKind } | undefined {
  const rest = Object.values((item["Outbox"] ?? {}) as Outbox).filter((e) => !cleared.has(e.Id));
  const oldest = rest.length > 0 ? Math.min(...rest.map((e) => e.At)) : undefined;
  if (item["State"] === "Active" && typeof item["DueAt"] === "number") {
    return { due: oldest === undefined ? item["DueAt"] : Math.min(oldest, item["DueAt"]), kind: "Step" };
  }
  if (typeof item["DrainAt"] === "number") {
    return { due: oldest === undefined ? item["DrainAt"] : Math.min(oldest, item["DrainAt"]), kind: "Drain" };
  }
  return oldest === undefined ? undefined : { due: oldest, kind: "Outbox" };
}

// ---- Overflow items (§5.5: "entries that would take an outbox past 64 KB") ----

/** The most an item's `Outbox` map holds; later entries of the same write go into `OB#<ULID>` items. */
export const OUTBOX_MAX_BYTES = 64 * 1024;

/**
 * An entry's share of its map: its key and its value as JSON, which is never
 * smaller than DynamoDB's own size of these shapes (names, strings and digits
 * count the same; JSON adds quotes and separators), so a map measured at 64 KB
 * here is at most that in the table.
 */
const entryBytes = (e: OutboxEntry): number => Buffer.byteLength(e.Id) + Buffer.byteLength(JSON.stringify(e));
const outboxBytes = (o: Outbox | undefined): number => Object.values(o ?? {}).reduce((n, e) => n + entryBytes(e), 0);

/** One overflow item: put in the owner's write, delivered and deleted after it. */
export interface OverflowItem {
  key: Key;
  item: Item;
}

/**
 * Where a write's new entries go (§5.5). While the item's outbox (what it `held`
 * when read, plus `added`) stays within 64 KB, every entry stays on the item: the
 * common case, and the write is exactly what it would be without this rule. Past
 * that, the oldest entries fill the item up to 64 KB and the rest go, in order,
 * into overflow items of at most 64 KB each (an entry bigger than that on its
 * own goes alone), each indexed at its oldest entry's time as an `Outbox`, so
 * recovery finds it like any outbox. Job entries always stay on the item: a job
 * keeps its progress there.
 */
export function placeEntries(owner: Key, held: Outbox | undefined, added: Outbox, now: number): { kept: Outbox; overflow: OverflowItem[] } {
  const heldBytes = outboxBytes(held);
  if (heldBytes + outboxBytes(added) <= OUTBOX_MAX_BYTES) return { kept: added, overflow: [] };
  const kept: Outbox = {};
  const rest: OutboxEntry[] = [];
  let size = heldBytes;
  for (const e of Object.values(added).sort((a, b) => a.At - b.At || a.Id.localeCompare(b.Id))) {
    const bytes = entryBytes(e);
    if (e.Kind === "Job" || (rest.length === 0 && size + bytes <= OUTBOX_MAX_BYTES)) {
      kept[e.Id] = e;
      size += bytes;
    } else rest.push(e);
  }
  const chunks: Outbox[] = [];
  let chunk: Outbox = {};
  size = 0;
  for (const e of rest) {
    const bytes = entryBytes(e);
    if (size > 0 && size + bytes > OUTBOX_MAX_BYTES) {
      chunks.push(chunk);
      chunk = {};
      size = 0;
    }
    chunk[e.Id] = e;
    size += bytes;
  }
  if (size > 0) chunks.push(chunk);
  const overflow = chunks.map((entries) => {
    const key = keys.outboxOverflow(owner, newUlid());
    const oldest = Math.min(...Object.values(entries).map((e) => e.At));
    // Queued: the writer sends these entries itself right after its commit; only recovery re-hands them.
    return { key, item: { ...key, Owner: owner.SK, Outbox: entries, ...dueFields(key, oldest, "Outbox", true, now) } };
  });
  return { kept, overflow };
}

/** An overflow item's Put, in its owner's transaction; its ULID is new, so it never replaces one. */
export function overflowPut(o: OverflowItem): TransactItem {
  return { Put: { TableName: tableName(), Item: o.item, ConditionExpression: "attribute_not_exists(PK)" } };
}

/**
 * Sends an overflow item's entries, then deletes it. The delete needs no
 * condition: the item is written once and never gains an entry (only recovery
 * moves its place in the index, conditioned on that place, which fails once the
 * item is gone), so once its entries are on their queues nothing on it is pending.
 */
async function deliverOverflow(key: Key, entries: readonly OutboxEntry[]): Promise<void> {
  await sendOutboxEntries(key, entries);
  await ddb().send(new DeleteCommand({ TableName: tableName(), Key: key }));
}

/** An ended cursor's record is kept this long after its end (§5.1). */
const ENDED_TTL_SECONDS = 30 * 86400;

/**
 * Delivers an item's message entries (Jobs are started, not cleared: the job clears
 * its own entry when done), then clears the delivered ones with a write
 * conditioned on the item's `Version`, which it leaves unchanged. If another writer
 * moved the item in between, the item is read again and cleared on that version
 * (up to 3 times); after that the entries stay for recovery, whose copies are no-ops.
 *
 * `item` is the item as last written (attributes including `Outbox` and `Version`).
 * An overflow item (`OB#`) is deleted instead of cleared. Returns the IDs delivered.
 */
export async function deliverOutbox(key: Key, item: Item, now: number): Promise<string[]> {
  const entries = Object.values((item["Outbox"] ?? {}) as Outbox).sort((a, b) => a.At - b.At || a.Id.localeCompare(b.Id));
  if (keys.isOutboxOverflow(key)) {
    await deliverOverflow(key, entries);
    return entries.map((e) => e.Id);
  }
  if (entries.length === 0) return [];
  for (const entry of entries) await sendEntry(key, entry);
  const delivered = new Set(entries.filter((e) => e.Kind !== "Job").map((e) => e.Id));
  if (delivered.size === 0) return [];
  await clearDelivered(key, item, delivered, now);
  return [...delivered];
}

const CLEAR_ATTEMPTS = 8;

/**
 * The clearing write of entries already on their queues (§5.5), conditioned on the
 * item's Version and leaving it unchanged; re-read and retried if another writer
 * moved the item (up to 8 times), then left for recovery (whose copies are no-ops).
 */
export async function clearDelivered(key: Key, item: Item, ids: ReadonlySet<string>, now: number): Promise<void> {
  let current: Item | undefined = item;
  // A busy item (a subscriber many commands write at once) may move several times; back off with
  // jitter so the clear lands, since an entry left behind keeps the item due until recovery.
  for (let attempt = 0; attempt < CLEAR_ATTEMPTS && current; attempt++) {
    if (await clearEntries(key, current, ids, now)) return;
    await new Promise((r) => setTimeout(r, Math.random() * 20 * (attempt + 1)));
    current = (await ddb().send(new GetCommand({ TableName: tableName(), Key: key, ConsistentRead: true }))).Item;
  }
  logger().warn("outbox clear left for recovery", { sk: key.SK });
}

/** One clearing write; false when the item's Version moved. */
async function clearEntries(key: Key, item: Item, ids: ReadonlySet<string>, now: number): Promise<boolean> {
  const present = Object.keys((item["Outbox"] ?? {}) as Outbox).filter((id) => ids.has(id));
  if (present.length === 0) return true;
  // Items without a Version (a journey item) are cleared on the entries alone.
  const versioned = typeof item["Version"] === "number";
  const names: Record<string, string> = { "#ob": "Outbox", "#v": "Version" };
  const values: Record<string, unknown> = versioned ? { ":v": item["Version"] } : {};
  const remove = present.map((id, i) => {
    names[`#e${i}`] = id;
    return `#ob.#e${i}`;
  });
  const set: string[] = [];
  const pending = pendingOf(item, new Set(present));
  if (pending) {
    for (const [name, value] of Object.entries(dueFields(key, pending.due, pending.kind, item["Queued"] === true, now))) {
      names[`#${name}`] = name;
      values[`:${name}`] = value;
      set.push(`#${name} = :${name}`);
    }
  } else {
    for (const name of DUE_REMOVE) {
      names[`#${name}`] = name;
      remove.push(`#${name}`);
    }
    if (item["State"] === "Completed" || item["State"] === "Exited") {
      names["#ttl"] = "ttl";
      values[":ttl"] = Number(item["EndedAt"] ?? now) + ENDED_TTL_SECONDS;
      set.push("#ttl = :ttl");
    }
  }
  try {
    await ddb().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: key,
        UpdateExpression: `${set.length ? `SET ${set.join(", ")} ` : ""}REMOVE ${remove.join(", ")}`,
        ConditionExpression: versioned ? "#v = :v" : "attribute_not_exists(#v)",
        ExpressionAttributeNames: names,
        ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
      }),
    );
    return true;
  } catch (err) {
    if (isAwsError(err, "ConditionalCheckFailedException")) return false;
    throw err;
  }
}
