import { randomBytes } from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";
import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { ddb, tableName } from "../../aws.js";
import { isAwsError } from "../../errors.js";
import { keys, type Key } from "../../keys.js";
import type { ActionType, BranchName } from "./actions.js";
import { batchDelete, batchGet, batchPut, queryByPrefix, type Item } from "../owned.js";

/**
 * How a journey's action tree is stored and replaced.
 *
 * The tree is kept as one gzipped JSON document, split into chunks under
 * `TREE#<version>#<n>` in the journey's partition, plus one index entry per
 * SendEmail action in the user's partition (for journey.sendemailactions). A
 * replacement writes everything under a fresh version, then flips `TreeVersion`
 * on the journey item with a conditional update: readers see the old tree or the
 * new one, never a mix, at any size (a transaction would cap at 100 items). The
 * previous version's items are deleted after the flip; if that cleanup fails
 * they are invisible garbage, because every read goes through `TreeVersion`.
 */
export interface StoredAction {
  ActionID: number;
  Action: ActionType;
  ActionParameters: Record<string, unknown>;
  Published: boolean;
  Notes: string;
  ParentActionID: number;
  Branch: "" | BranchName;
  OrderNo: number;
}

/** More to set on the journey item in the same conditional write as a tree flip (a job in its outbox). */
export interface ExtraUpdate {
  set: string;
  condition: string;
  names: Record<string, string>;
  values: Record<string, unknown>;
}

export interface TreePointer {
  version: string;
  chunks: number;
}

const CHUNK_BYTES = 300 * 1024;

export const treePointer = (journeyItem: Item): TreePointer => ({
  version: typeof journeyItem["TreeVersion"] === "string" ? journeyItem["TreeVersion"] : "",
  chunks: Number(journeyItem["TreeChunks"] ?? 0),
});

export function chunkKeys(userId: number, journeyId: number, pointer: TreePointer): Key[] {
  return Array.from({ length: pointer.chunks }, (_, i) => keys.treeChunk(userId, journeyId, pointer.version, i));
}

/** Decodes a tree from its chunk items (as returned by a BatchGet of `chunkKeys`). */
export function decodeTree(userId: number, journeyId: number, pointer: TreePointer, items: Map<string, Item>): StoredAction[] {
  if (pointer.chunks === 0) return [];
  const parts = chunkKeys(userId, journeyId, pointer).map((k) => {
    const item = items.get(`${k.PK}|${k.SK}`);
    if (!item) throw new Error(`action tree chunk missing: ${k.SK}`);
    return Buffer.from(item["Data"] as Uint8Array);
  });
  return JSON.parse(gunzipSync(Buffer.concat(parts)).toString("utf8")) as StoredAction[];
}

/** Reads the current tree of a journey whose item is already in hand: one BatchGet. */
export async function readTree(userId: number, journeyId: number, journeyItem: Item): Promise<StoredAction[]> {
  const pointer = treePointer(journeyItem);
  if (pointer.chunks === 0) return [];
  return decodeTree(userId, journeyId, pointer, await batchGet(chunkKeys(userId, journeyId, pointer)));
}

function sendEmailEntries(userId: number, journeyId: number, version: string, tree: StoredAction[]): Item[] {
  return tree.flatMap((a, position) =>
    a.Action !== "SendEmail"
      ? []
      : [
          {
            ...keys.sendEmail(userId, journeyId, version, a.ActionID),
            JourneyID: journeyId,
            ActionID: a.ActionID,
            EmailID: Number(a.ActionParameters["EmailID"] ?? 0),
            OrderNo: a.OrderNo,
            // Pre-order position, so the picker lists a journey's actions in tree order.
            Position: position,
            Published: a.Published,
            TreeVersion: version,
          },
        ],
  );
}

/** Writes a tree under a new version without making it current. Returns its pointer and the items written. */
export async function writeTreeVersion(
  userId: number,
  journeyId: number,
  tree: StoredAction[],
): Promise<{ pointer: TreePointer; items: Item[] }> {
  const version = randomBytes(8).toString("hex");
  const packed = gzipSync(Buffer.from(JSON.stringify(tree), "utf8"));
  const items: Item[] = [];
  if (tree.length > 0) {
    for (let i = 0, n = 0; i < packed.length; i += CHUNK_BYTES, n++) {
      items.push({ ...keys.treeChunk(userId, journeyId, version, n), Data: packed.subarray(i, i + CHUNK_BYTES) });
    }
  }
  const chunks = items.length;
  items.push(...sendEmailEntries(userId, journeyId, version, tree));
  await batchPut(items);
  return { pointer: { version: tree.length > 0 ? version : "", chunks }, items };
}

/**
 * Makes `next` the journey's current tree if the journey still points at `expected`.
 * Returns false when another writer got there first (or the journey is gone); the
 * caller then discards its version and retries against the new state.
 */
export async function flipTree(
  userId: number,
  journeyId: number,
  expected: TreePointer,
  next: TreePointer,
  updatedAt: string,
  extra?: ExtraUpdate,
): Promise<Item | undefined> {
  const unchanged = expected.version === "" ? "(attribute_not_exists(TreeVersion) OR TreeVersion = :old)" : "TreeVersion = :old";
  try {
    const out = await ddb().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: keys.journey(userId, journeyId),
        UpdateExpression: `SET TreeVersion = :new, TreeChunks = :chunks, UpdatedAt = :at${extra ? `, ${extra.set}` : ""}`,
        ConditionExpression: `attribute_exists(PK) AND ${unchanged}${extra ? ` AND ${extra.condition}` : ""}`,
        ...(extra ? { ExpressionAttributeNames: extra.names } : {}),
        ExpressionAttributeValues: { ":new": next.version, ":chunks": next.chunks, ":old": expected.version, ":at": updatedAt, ...(extra?.values ?? {}) },
        ReturnValues: "ALL_NEW",
      }),
    );
    return out.Attributes;
  } catch (err) {
    if (isAwsError(err, "ConditionalCheckFailedException")) return undefined;
    throw err;
  }
}

/** Deletes every item of one tree version (its chunks and its SendEmail index entries). */
export async function discardTreeVersion(userId: number, journeyId: number, pointer: TreePointer): Promise<void> {
  if (pointer.version === "") return;
  const stale = chunkKeys(userId, journeyId, pointer);
  const { PK, prefix } = keys.sendEmailPrefix(userId, journeyId);
  stale.push(...(await queryKeys(PK, `${prefix}${pointer.version}#`)));
  await batchDelete(stale);
}

/** Every SendEmail index entry of a journey, all versions: for purging a deleted journey. */
export async function sendEmailIndexKeys(userId: number, journeyId: number): Promise<Key[]> {
  const { PK, prefix } = keys.sendEmailPrefix(userId, journeyId);
  return queryKeys(PK, prefix);
}

async function queryKeys(pk: string, prefix: string): Promise<Key[]> {
  return (await queryByPrefix(pk, prefix, ["PK", "SK"])) as Key[];
}
