import { DeleteCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { ddb, tableName } from "../aws.js";
import { isAwsError } from "../errors.js";
import { JOURNEY_INDEX, keys, type Key } from "../keys.js";
import { logger } from "../observability.js";
import { batchPut, queryAll, type Item } from "../domain/owned.js";
import { productEpoch } from "../clock.js";
import { dueFields } from "./due.js";
import { cursorKey, cursorOf, cursorWrite, sendsOwnMessage } from "./cursor.js";
import { endItems } from "./fanout.js";
import type { Cursor, OutboxEntry } from "./model.js";
import { clearDelivered, deliverOutbox, sendToSteps } from "./outbox.js";
import { stepMessage } from "./runner.js";
import { getConsistent, loadJourney, Tx } from "./store.js";
import { waitWindow, windowDueAt } from "./window.js";

/**
 * Jobs (ENGINE §5.4–§5.5): long work recorded in an item's outbox in the same write
 * as the change that needs it, and cleared by the job itself when done.
 * - `Resume` (journey item, written by enable): re-activates the journey's Paused cursors.
 * - `Purge` (deletion marker, written by delete): ends the deleted journey's live cursors.
 * - `Redirects` (journey item, written by a tree edit that deletes actions): copies each
 *   deleted action's redirect into its own immutable item.
 * Resume and Purge find cursors through `JourneyIndex`, which lags the table, so
 * they repeat until a pass that starts 60 s or more after the job began finds nothing.
 */
export const JOB_SETTLE_SECONDS = 60;

/** How long a job waits between its passes: the sweep period locally, 15 s deployed. */
function recheckSeconds(): number {
  const local = Number(process.env["LOCAL_SWEEP_MS"] ?? 0);
  return local > 0 ? Math.max(1, Math.ceil(local / 1000)) : 15;
}

/** Re-checks pending locally, which `/_local/engine` leaves out of Idle (ENGINE §5.4, §9). */
const rechecks = ((globalThis as { __journeyRechecks?: { pending: number } }).__journeyRechecks ??= { pending: 0 });
export const localRechecksPending = (): number => rechecks.pending;

async function journeyCursors(userId: number, journeyId: number): Promise<Item[]> {
  return queryAll({
    TableName: tableName(),
    IndexName: JOURNEY_INDEX.name,
    KeyConditionExpression: "JourneyKey = :k",
    ExpressionAttributeValues: { ":k": keys.journeyIndexKey(userId, journeyId) },
  });
}

/** When a resumed cursor is due: the later of its DueAt and now, with a started Wait's window applied again. */
async function resumeDue(c: Cursor, now: number): Promise<number> {
  const base = Math.max(c.DueAt, now);
  if (!c.Started) return base;
  const loaded = await loadJourney(c.UserID, c.JourneyID);
  const action = loaded?.tree.get(c.ActionID);
  if (action?.Action !== "Wait") return base;
  const window = waitWindow(action.ActionParameters);
  return window ? windowDueAt(base, window) : base;
}

/** One resume pass; returns how many cursors it re-activated. */
async function resumePass(userId: number, journeyId: number, now: number): Promise<number> {
  let resumed = 0;
  for (const entry of await journeyCursors(userId, journeyId)) {
    if (entry["State"] !== "Paused") continue;
    const item = await getConsistent({ PK: String(entry["PK"]), SK: String(entry["SK"]) });
    if (!item || item["State"] !== "Paused") continue;
    const c = cursorOf(item);
    const read = c.Version;
    c.State = "Active";
    c.DueAt = await resumeDue(c, now);
    const tx = new Tx();
    tx.set(cursorKey(c), cursorWrite(c, read, now, { queued: sendsOwnMessage(c.DueAt, now) }));
    try {
      await tx.commit();
    } catch (err) {
      if (isAwsError(err, "TransactionCanceledException")) continue;
      throw err;
    }
    resumed += 1;
    if (sendsOwnMessage(c.DueAt, now)) await sendToSteps(stepMessage(c), Math.max(0, c.DueAt - now));
  }
  return resumed;
}

/** A drain parked while the journey was Disabled (§4.5) is scheduled again. */
async function resumeDrain(userId: number, journeyId: number, now: number): Promise<number> {
  const key = keys.journeyRate(userId, journeyId);
  const rate = await getConsistent(key);
  if (rate?.["Parked"] !== true) return 0;
  const v = rate["Version"];
  try {
    await ddb().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: key,
        UpdateExpression: "SET DrainAt = :now, DuePK = :pk, DueSK = :sk, #k = :k, #q = :q, #v = :next REMOVE Parked",
        ConditionExpression: "#v = :v",
        ExpressionAttributeNames: { "#k": "Kind", "#q": "Queued", "#v": "Version" },
        ExpressionAttributeValues: { ":now": now, ...prefixed(dueFields(key, now, "Drain", true, now)), ":next": Number(v) + 1, ":v": v },
      }),
    );
  } catch (err) {
    if (isAwsError(err, "ConditionalCheckFailedException")) return 0;
    throw err;
  }
  await sendToSteps({ Kind: "Drain", Key: key });
  return 1;
}

const prefixed = (f: Record<string, unknown>) => ({ ":pk": f["DuePK"], ":sk": f["DueSK"], ":k": f["Kind"], ":q": f["Queued"] });

/** One purge pass; returns how many cursors it ended. */
async function purgePass(userId: number, journeyId: number, now: number): Promise<number> {
  let ended = 0;
  for (const entry of await journeyCursors(userId, journeyId)) {
    const item = await getConsistent({ PK: String(entry["PK"]), SK: String(entry["SK"]) });
    if (!item || (item["State"] !== "Active" && item["State"] !== "Paused")) continue;
    const c = cursorOf(item);
    try {
      await endItems(c, "JourneyDeleted", now).commit();
    } catch (err) {
      if (isAwsError(err, "TransactionCanceledException")) continue;
      throw err;
    }
    ended += 1;
    await deliverOutbox(cursorKey(c), { ...c, Queued: true }, now);
  }
  return ended;
}

/** Runs the job `entryId` of the item at `key` (a Job message, or recovery). */
export async function runJob(key: Key, entryId: string | undefined): Promise<void> {
  if (entryId?.startsWith("recheck:")) rechecks.pending = Math.max(0, rechecks.pending - 1);
  const id = entryId?.replace(/^recheck:/, "");
  const item = await getConsistent(key);
  const entry = id ? ((item?.["Outbox"] ?? {}) as Record<string, OutboxEntry>)[id] : undefined;
  if (!item || !entry || entry.Kind !== "Job") return;
  const now = productEpoch();
  const userId = Number(entry.Params["UserID"]);
  const journeyId = Number(entry.Params["JourneyID"]);
  let done = true;
  switch (entry.Job) {
    case "Resume": {
      // Disabled again: the next enable records its own job.
      if (item["Status"] !== "Enabled") break;
      const resumed = (await resumePass(userId, journeyId, now)) + (await resumeDrain(userId, journeyId, now));
      done = resumed === 0 && now >= entry.At + JOB_SETTLE_SECONDS;
      break;
    }
    case "Purge": {
      const ended = await purgePass(userId, journeyId, now);
      done = ended === 0 && now >= entry.At + JOB_SETTLE_SECONDS;
      break;
    }
    case "Redirects": {
      const pairs = (entry.Params["Redirects"] as [number, number][] | undefined) ?? [];
      await batchPut(pairs.map(([from, to]) => ({ ...keys.redirect(userId, journeyId, from), Target: to })));
      break;
    }
    default:
      logger().warn("unknown job dropped", { job: entry.Job });
  }
  if (done) {
    // A deletion marker has no other use: the purge removes it (§5.4).
    if (entry.Job === "Purge") await ddb().send(new DeleteCommand({ TableName: tableName(), Key: key }));
    else await clearDelivered(key, item, new Set([entry.Id]), now);
    return;
  }
  // The item stays indexed past the settling time, as a safety net for a lost re-check
  // message; until then the re-checks travel as delayed messages.
  const due = Math.max(now, entry.At + JOB_SETTLE_SECONDS) + recheckSeconds();
  const index = dueFields(key, due, "Outbox", true, now);
  await ddb().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: key,
      UpdateExpression: "SET DuePK = :pk, DueSK = :sk, Queued = :q",
      ConditionExpression: "attribute_exists(Outbox.#id)",
      ExpressionAttributeNames: { "#id": entry.Id },
      ExpressionAttributeValues: { ":pk": index["DuePK"], ":sk": index["DueSK"], ":q": true },
    }),
  ).catch((err: unknown) => {
    if (!isAwsError(err, "ConditionalCheckFailedException")) throw err;
  });
  rechecks.pending += 1;
  await sendToSteps({ Kind: "Job", Key: key, EntryId: `recheck:${entry.Id}` }, recheckSeconds());
}
