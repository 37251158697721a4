import { GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { ddb, tableName } from "../aws.js";
import { isAwsError } from "../errors.js";
import { DUE_INDEX, keys, type Key } from "../keys.js";
import { logger } from "../observability.js";
import { queryAll, type Item } from "../domain/owned.js";
import { dueFields, dueOfSk, dueShards, keyOfDueSk, minuteOf } from "./due.js";
import type { StepsQueueMessage } from "./model.js";
import { sendToSteps } from "./outbox.js";

/**
 * The sweeper (ENGINE §6), run every minute. Per shard, its primary pass catches
 * up from its watermark on missed minutes and hands bucket m+1's entries that no
 * message is carrying yet (`Queued` unset) with the delay left to their due time;
 * its recovery pass walks buckets up to m−5, where anything still indexed was lost
 * (a dead worker, a dropped message): each entry is moved, conditional on its
 * Version, to now + 300 s with `Queued` set, and handed again at once. Normally
 * that is 2 × DUE_SHARDS queries a minute, however many enrolments wait.
 */
const MAX_MINUTES_PER_RUN = 30;
export const RECOVERY_LAG_MINUTES = 5;
export const RECOVERY_RETRY_SECONDS = 300;

export interface SweepResult {
  handed: number;
  recovered: number;
  /** How far the primary watermark trailed minute m + 1 before this run, in minutes. */
  lagMinutes: number;
}

const epochMinute = (epoch: number): number => Math.floor(epoch / 60);

/** Every index entry of one bucket (all pages). */
export async function bucketEntries(minute: number, shard: number): Promise<Item[]> {
  return queryAll({
    TableName: tableName(),
    IndexName: DUE_INDEX.name,
    KeyConditionExpression: "DuePK = :pk",
    ExpressionAttributeValues: { ":pk": keys.dueBucket(minuteOf(minute * 60), shard) },
  });
}

/** The message that hands an index entry to the steps queue. */
export function messageOf(entry: Item): StepsQueueMessage {
  const key = keyOfDueSk(String(entry["DueSK"]));
  if (entry["Kind"] === "Step") {
    const m = /^U#(\d+)#SUB#(\d+)$/.exec(key.PK);
    return {
      Kind: "Step",
      UserID: Number(m?.[1]),
      SubscriberID: Number(m?.[2]),
      JourneyID: Number(entry["JourneyID"]),
      EntryID: String(entry["EntryID"]),
      Version: Number(entry["Version"]),
    };
  }
  return { Kind: entry["Kind"] === "Drain" ? "Drain" : "Outbox", Key: key };
}

/** Hands one entry with the delay left to its due time. */
export async function hand(entry: Item, now: number): Promise<void> {
  await sendToSteps(messageOf(entry), Math.max(0, dueOfSk(String(entry["DueSK"])) - now));
}

/**
 * Moves a lost entry to now + 300 s, conditional on the Version the index showed,
 * and hands it at once. False when the item moved meanwhile (its worker is alive).
 */
export async function recover(entry: Item, now: number): Promise<boolean> {
  const key: Key = { PK: String(entry["PK"]), SK: String(entry["SK"]) };
  const fields = dueFields(key, now + RECOVERY_RETRY_SECONDS, (entry["Kind"] as "Step" | "Outbox" | "Drain") ?? "Outbox", true, now);
  const hasVersion = typeof entry["Version"] === "number";
  try {
    await ddb().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: key,
        UpdateExpression: "SET DuePK = :pk, DueSK = :sk, Queued = :q",
        ConditionExpression: hasVersion ? "#v = :v AND DueSK = :old" : "DueSK = :old",
        ExpressionAttributeNames: hasVersion ? { "#v": "Version" } : undefined,
        ExpressionAttributeValues: {
          ":pk": fields["DuePK"],
          ":sk": fields["DueSK"],
          ":q": true,
          ":old": entry["DueSK"],
          ...(hasVersion ? { ":v": entry["Version"] } : {}),
        },
      }),
    );
  } catch (err) {
    if (isAwsError(err, "ConditionalCheckFailedException")) return false;
    throw err;
  }
  await sendToSteps(messageOf(entry), 0);
  return true;
}

async function readMark(pass: "primary" | "recovery", shard: number): Promise<number | undefined> {
  const out = await ddb().send(new GetCommand({ TableName: tableName(), Key: keys.sweepMark(pass, shard), ConsistentRead: true }));
  return typeof out.Item?.["Minute"] === "number" ? out.Item["Minute"] : undefined;
}

export async function writeMark(pass: "primary" | "recovery", shard: number, minute: number): Promise<void> {
  await ddb().send(new PutCommand({ TableName: tableName(), Item: { ...keys.sweepMark(pass, shard), Minute: minute } }));
}

/** One run of the sweeper at product time `now` (epoch s). */
export async function sweep(now: number): Promise<SweepResult> {
  const m = epochMinute(now);
  const result: SweepResult = { handed: 0, recovered: 0, lagMinutes: 0 };
  await Promise.all(
    Array.from({ length: dueShards() }, async (_, shard) => {
      const primary = (await readMark("primary", shard)) ?? m;
      result.lagMinutes = Math.max(result.lagMinutes, m + 1 - primary - 1);
      const pTo = Math.min(m + 1, primary + MAX_MINUTES_PER_RUN);
      for (let b = primary + 1; b <= pTo; b++) {
        for (const entry of await bucketEntries(b, shard)) {
          if (entry["Queued"] === true) continue;
          await hand(entry, now);
          result.handed += 1;
        }
      }
      if (pTo > primary) await writeMark("primary", shard, pTo);

      const recovery = (await readMark("recovery", shard)) ?? m - RECOVERY_LAG_MINUTES - 1;
      const rTo = Math.min(m - RECOVERY_LAG_MINUTES, recovery + MAX_MINUTES_PER_RUN);
      for (let b = recovery + 1; b <= rTo; b++) {
        for (const entry of await bucketEntries(b, shard)) if (await recover(entry, now)) result.recovered += 1;
      }
      if (rTo > recovery) await writeMark("recovery", shard, rTo);
    }),
  );
  if (result.recovered > 0) logger().warn("sweeper recovered lost work", { recovered: result.recovered });
  return result;
}
