import {
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
} from "@aws-sdk/lib-dynamodb";
import { indexDelete, indexPut } from "../../engine/trigger-index.js";
import { jobEntry, jobUpdate } from "../../engine/job-entry.js";
import { sendToSteps } from "../../engine/outbox.js";
import { productEpoch } from "../../clock.js";
import { logger } from "../../observability.js";
import { ddb, tableName } from "../../aws.js";
import { isAwsError } from "../../errors.js";
import { keys, type Key } from "../../keys.js";
import { formatDateTime } from "../../time.js";
import { nextId } from "../ids.js";
import { batchDelete, batchGet, listOwned, queryBetween, queryByPrefix, queryMailIndex, type Item } from "../owned.js";
import { sendEmailIndexKeys, treePointer, type TreePointer } from "../trees/tree-store.js";
import type { Trigger, TriggerParameters } from "./trigger.js";

export type Status = "Enabled" | "Disabled";

/** The stored journey (one item in its owner's partition). */
export interface Journey {
  JourneyID: number;
  JourneyName: string;
  Trigger: Trigger;
  TriggerParameters: TriggerParameters;
  Status: Status;
  Notes: string;
  CreatedAt: string;
  UpdatedAt: string;
  Trigger_Criteria: unknown[];
  Run_Criteria: unknown[];
  Run_Criteria_Operator: "and" | "or";
  Rate_Limit_Per_Hour: number;
  Rate_Limit_Per_Day: number;
  /** Which version of the action tree is current (see tree-store.ts). Not part of the wire shape. */
  Tree: TreePointer;
}

const FIELDS = [
  "JourneyID", "JourneyName", "Trigger", "TriggerParameters", "Status", "Notes", "CreatedAt", "UpdatedAt",
  "Trigger_Criteria", "Run_Criteria", "Run_Criteria_Operator", "Rate_Limit_Per_Hour", "Rate_Limit_Per_Day",
] as const;

export function fromItem(item: Item): Journey {
  const out: Record<string, unknown> = {};
  for (const f of FIELDS) out[f] = item[f];
  out["Tree"] = treePointer(item);
  return out as unknown as Journey;
}

/** The journey object of CONTRACT §8: JourneyID as a string, criteria and rate limits under their parameter names. */
export function journeyView(j: Journey): Record<string, unknown> {
  return {
    JourneyID: String(j.JourneyID),
    JourneyName: j.JourneyName,
    Trigger: j.Trigger,
    TriggerParameters: j.TriggerParameters,
    Status: j.Status,
    Notes: j.Notes,
    CreatedAt: j.CreatedAt,
    UpdatedAt: j.UpdatedAt,
    Trigger_Criteria: j.Trigger_Criteria,
    Run_Criteria: j.Run_Criteria,
    Run_Criteria_Operator: j.Run_Criteria_Operator,
    Rate_Limit_Per_Hour: j.Rate_Limit_Per_Hour,
    Rate_Limit_Per_Day: j.Rate_Limit_Per_Day,
  };
}

export type NewJourney = Omit<Journey, "JourneyID" | "CreatedAt" | "UpdatedAt" | "Status" | "Tree">;

export async function createJourney(userId: number, input: NewJourney, now: Date): Promise<Journey> {
  const journeyId = await nextId("Journey");
  const at = formatDateTime(now);
  const journey: Journey = { ...input, JourneyID: journeyId, Status: "Disabled", CreatedAt: at, UpdatedAt: at, Tree: { version: "", chunks: 0 } };
  await ddb().send(
    new PutCommand({
      TableName: tableName(),
      Item: { ...keys.journey(userId, journeyId), ...storable(journey) },
      ConditionExpression: "attribute_not_exists(PK)",
    }),
  );
  return journey;
}

/** The item as stored: the journey's fields plus its tree pointer attributes. */
export function storable(j: Journey): Item {
  const { Tree, ...fields } = j;
  return { ...fields, TreeVersion: Tree.version, TreeChunks: Tree.chunks };
}

export async function getJourneyItem(userId: number, journeyId: number, consistent = false): Promise<Item | undefined> {
  const out = await ddb().send(
    new GetCommand({ TableName: tableName(), Key: keys.journey(userId, journeyId), ...(consistent ? { ConsistentRead: true } : {}) }),
  );
  return out.Item;
}

export async function getJourney(userId: number, journeyId: number): Promise<Journey | undefined> {
  const item = await getJourneyItem(userId, journeyId);
  return item ? fromItem(item) : undefined;
}

/**
 * All of a user's journeys in JourneyID order, and their SendEmail index entries
 * (which share the journeys' key prefix): one query, plus DynamoDB's 1 MB pages.
 */
export async function listJourneysWithIndex(userId: number): Promise<{ journeys: Journey[]; sendEmails: Item[] }> {
  const items = await listOwned("journey", userId);
  const journeys: Journey[] = [];
  const sendEmails: Item[] = [];
  for (const item of items) {
    if (keys.isJourneySk(String(item["SK"]))) journeys.push(fromItem(item));
    else sendEmails.push(item);
  }
  return { journeys, sendEmails };
}

/** Journeys only: their index entries are filtered out by DynamoDB rather than shipped and dropped. */
export async function listJourneys(userId: number): Promise<Journey[]> {
  const { PK, prefix } = keys.ownedPrefix("journey", userId);
  return (await queryByPrefix(PK, prefix, undefined, "JourneyName")).map(fromItem);
}

/** One journey and its SendEmail index entries, in one query. */
export async function getJourneyWithIndex(userId: number, journeyId: number): Promise<{ item?: Item; sendEmails: Item[] }> {
  const { PK, from, to } = keys.journeyRange(userId, journeyId);
  const items = await queryBetween(PK, from, to);
  return {
    item: items.find((i) => keys.isJourneySk(String(i["SK"]))),
    sendEmails: items.filter((i) => !keys.isJourneySk(String(i["SK"]))),
  };
}

/** Several journeys of one user by ID, in as few BatchGet calls as DynamoDB allows. */
export async function getJourneys(userId: number, journeyIds: number[]): Promise<Map<number, Journey>> {
  const found = await batchGet(journeyIds.map((id) => keys.journey(userId, id)));
  const out = new Map<number, Journey>();
  for (const item of found.values()) out.set(Number(item["JourneyID"]), fromItem(item));
  return out;
}

/**
 * Replaces the given fields; `undefined` when the journey no longer exists. The
 * write is conditioned on the status and trigger read, and an Enabled journey's
 * trigger index entry moves with a trigger change in the same transaction
 * (ENGINE §4.2); a concurrent enable or edit makes it read and decide again.
 */
export async function updateJourney(
  userId: number,
  journeyId: number,
  changes: Partial<Omit<Journey, "JourneyID" | "CreatedAt" | "Status" | "Tree">>,
): Promise<Journey | undefined> {
  const entries = Object.entries(changes).filter(([, val]) => val !== undefined);
  const names: Record<string, string> = { "#s": "Status", "#t": "Trigger" };
  const values: Record<string, unknown> = {};
  const sets = entries.map(([k, val], i) => {
    names[`#f${i}`] = k;
    values[`:v${i}`] = val;
    return `#f${i} = :v${i}`;
  });
  for (let attempt = 0; attempt < 5; attempt++) {
    const item = await getJourneyItem(userId, journeyId, true);
    if (!item) return undefined;
    const before = fromItem(item);
    const after: Journey = { ...before, ...(Object.fromEntries(entries) as Partial<Journey>) };
    const moved =
      before.Status === "Enabled" &&
      (before.Trigger !== after.Trigger || JSON.stringify(before.TriggerParameters) !== JSON.stringify(after.TriggerParameters));
    const put = moved ? indexPut(userId, after) : undefined;
    const del = moved ? indexDelete(userId, before) : undefined;
    // RevenueHit's entry keeps its key when only T changes: the put alone replaces it.
    const sameKey = put?.Put?.Item?.["SK"] !== undefined && put.Put.Item["SK"] === del?.Delete?.Key?.["SK"];
    const index = [sameKey ? undefined : del, put].filter((x) => x !== undefined);
    try {
      await ddb().send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: tableName(),
                Key: keys.journey(userId, journeyId),
                UpdateExpression: `SET ${sets.join(", ")}`,
                ConditionExpression: `attribute_exists(PK) AND #s = :status AND ${SAME_TRIGGER}`,
                ExpressionAttributeNames: names,
                ExpressionAttributeValues: {
                  ...values, ":status": before.Status, ":trigger": before.Trigger, ":tp": before.TriggerParameters,
                },
              },
            },
            ...index,
          ],
        }),
      );
      return after;
    } catch (err) {
      if (!isAwsError(err, "TransactionCanceledException")) throw err;
    }
  }
  return undefined;
}

export type StatusChange = { ok: true; journey: Journey } | { ok: false; reason: "notFound" | "conflict" };

/** The condition that the journey's trigger is still the one read, so the index entry written with it is right. */
const SAME_TRIGGER = "#t = :trigger AND TriggerParameters = :tp";

/**
 * Flips the status with a conditional write: of any number of concurrent
 * enables, exactly one sees the journey Disabled and wins; the rest conflict.
 * The trigger index entry is put or deleted in the same transaction (ENGINE §4.2).
 */
export async function changeStatus(userId: number, journeyId: number, to: Status, now: Date): Promise<StatusChange> {
  const from: Status = to === "Enabled" ? "Disabled" : "Enabled";
  for (let attempt = 0; attempt < 5; attempt++) {
    const item = await getJourneyItem(userId, journeyId, true);
    if (!item) return { ok: false, reason: "notFound" };
    const journey = fromItem(item);
    if (journey.Status !== from) return { ok: false, reason: "conflict" };
    const at = formatDateTime(now);
    const index = to === "Enabled" ? indexPut(userId, journey) : indexDelete(userId, journey);
    const key = keys.journey(userId, journeyId);
    // Enabling records a resume job for the cursors a disable parked (ENGINE §5.4).
    const job = to === "Enabled" ? jobUpdate(item, key, "Resume", { UserID: userId, JourneyID: journeyId }, Math.floor(now.getTime() / 1000)) : undefined;
    try {
      await ddb().send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: tableName(),
                Key: key,
                UpdateExpression: `SET #s = :to, UpdatedAt = :at${job ? `, ${job.set}` : ""}`,
                ConditionExpression: `attribute_exists(PK) AND #s = :from AND ${SAME_TRIGGER}${job ? ` AND ${job.condition}` : ""}`,
                ExpressionAttributeNames: { "#s": "Status", "#t": "Trigger", ...(job?.names ?? {}) },
                ExpressionAttributeValues: {
                  ":to": to, ":from": from, ":at": at, ":trigger": journey.Trigger, ":tp": journey.TriggerParameters,
                  ...(job?.values ?? {}),
                },
              },
            },
            ...(index ? [index] : []),
          ],
        }),
      );
      if (job) await startJob(key, job.entry.Id);
      return { ok: true, journey: { ...journey, Status: to, UpdatedAt: at } };
    } catch (err) {
      // Someone moved the journey between the read and the write: read again and decide.
      if (!isAwsError(err, "TransactionCanceledException")) throw err;
    }
  }
  return { ok: false, reason: "conflict" };
}

/**
 * Deletes a journey. The journey item goes first, in one conditional write with
 * its trigger index entry, so the journey vanishes from every command and every
 * trigger at once; its partition (actions, rollups, enrollments) is then purged.
 */
export async function deleteJourney(userId: number, journeyId: number): Promise<boolean> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const item = await getJourneyItem(userId, journeyId, true);
    if (!item) return false;
    if (await deleteWithIndex(userId, fromItem(item))) {
      await purgeJourneyPartition(userId, journeyId);
      return true;
    }
  }
  return false;
}

/** One journey's delete transaction; false when the journey changed (or went) since it was read. */
async function deleteWithIndex(userId: number, journey: Journey): Promise<boolean> {
  const index = journey.Status === "Enabled" ? indexDelete(userId, journey) : undefined;
  // The deletion marker carries the purge job that ends the journey's live cursors (ENGINE §5.4).
  const marker = keys.journeyTombstone(userId, journey.JourneyID);
  const now = productEpoch();
  const { entry, index: due } = jobEntry(marker, "Purge", { UserID: userId, JourneyID: journey.JourneyID }, now);
  try {
    await ddb().send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Delete: {
              TableName: tableName(),
              Key: keys.journey(userId, journey.JourneyID),
              ConditionExpression: `attribute_exists(PK) AND #s = :s AND ${SAME_TRIGGER}`,
              ExpressionAttributeNames: { "#s": "Status", "#t": "Trigger" },
              ExpressionAttributeValues: { ":s": journey.Status, ":trigger": journey.Trigger, ":tp": journey.TriggerParameters },
            },
          },
          ...(index ? [index] : []),
          { Put: { TableName: tableName(), Item: { ...marker, ...due, UserID: userId, JourneyID: journey.JourneyID, Version: 1, Outbox: { [entry.Id]: entry } } } },
        ],
      }),
    );
  } catch (err) {
    if (isAwsError(err, "TransactionCanceledException")) return false;
    throw err;
  }
  await startJob(marker, entry.Id);
  return true;
}

/**
 * Hands a job recorded in a write to the steps queue. Without a steps queue (tools,
 * the export worker) the entry waits in the due index for the sweeper.
 */
async function startJob(key: Key, entryId: string): Promise<void> {
  if (!process.env["STEPS_QUEUE_URL"]) return;
  try {
    await sendToSteps({ Kind: "Job", Key: key, EntryId: entryId });
  } catch (err) {
    // The entry stays indexed; the sweeper's recovery pass starts the job.
    logger().warn("job hand-off failed; left to recovery", { error: (err as Error).name });
  }
}

/** Deletes the caller's journeys among `journeyIds`; others' IDs address nothing. Returns the IDs deleted. */
export async function deleteJourneys(userId: number, journeyIds: number[]): Promise<number[]> {
  const existing = await getJourneys(userId, journeyIds);
  const deleted: number[] = [];
  for (const id of journeyIds) {
    const journey = existing.get(id);
    if (!journey) continue;
    if (await deleteWithIndex(userId, journey)) {
      await purgeJourneyPartition(userId, id);
      deleted.push(id);
    } else if (await deleteJourney(userId, id)) {
      // It changed since the batch read: deleteJourney reads it again (and purges).
      deleted.push(id);
    }
  }
  return deleted;
}

/**
 * Removes everything a deleted journey owned: its partition (tree, rollups,
 * entries), its SendEmail index entries, and the copies kept in the user's
 * partitions for account-wide reads, found from the partition's own items.
 */
async function purgeJourneyPartition(userId: number, journeyId: number): Promise<void> {
  await batchDelete(await sendEmailIndexKeys(userId, journeyId));
  await batchDelete([keys.journeyLifetime(userId, journeyId), keys.journeyEnrollment(userId, journeyId)]);
  const pk = keys.journeyPartition(userId, journeyId);
  let start: Record<string, unknown> | undefined;
  do {
    const out = await ddb().send(
      new QueryCommand({
        TableName: tableName(),
        KeyConditionExpression: "PK = :pk",
        ExpressionAttributeValues: { ":pk": pk },
        ProjectionExpression: "PK, SK",
        ExclusiveStartKey: start,
      }),
    );
    const page = (out.Items ?? []) as Key[];
    const mirrors = new Map<string, Key>();
    for (const { SK } of page) {
      // Each action day has the journey's day in the account-wide series beside it.
      const day = /^D#(\d{4}-\d{2}-\d{2})#/.exec(SK);
      if (day) mirrors.set(day[1]!, keys.journeyDayByUser(userId, day[1]!, journeyId));
      const entry = /^EN#(\d+)$/.exec(SK);
      if (entry) mirrors.set(SK, keys.subscriberJourney(userId, Number(entry[1]), journeyId));
    }
    await batchDelete([...mirrors.values(), ...page]);
    start = out.LastEvaluatedKey;
  } while (start);
  // The subscribers' email states of this journey's actions, in their own partitions.
  const { MailPK } = keys.mailIndexPrefix(userId, journeyId);
  const states = await queryMailIndex(MailPK, "", ["PK", "SK"]);
  await batchDelete(states.map((s) => ({ PK: String(s["PK"]), SK: String(s["SK"]) })));
}
