import { TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import { ddb, tableName } from "../../aws.js";
import { keys } from "../../keys.js";
import { formatDateTime } from "../../time.js";
import { fromItem, storable, type Journey } from "./journeys.js";
import { batchGet, type Item } from "../owned.js";
import { chunkKeys, decodeTree, discardTreeVersion, flipTree, writeTreeVersion, type ExtraUpdate, type StoredAction } from "../trees/tree-store.js";
import { logger } from "../../observability.js";

/** A journey with its current action tree, read in two calls (GetItem-equivalent + chunks). */
export interface JourneyWithTree {
  journey: Journey;
  tree: StoredAction[];
}

/**
 * Reads a journey and its tree. `extraKeys` ride along in the same BatchGet (the
 * records a command must also check), so the whole read stays at two calls.
 */
export async function readJourneyWithTree(
  userId: number,
  journeyId: number,
  journeyItem: Item,
  extraKeys: { PK: string; SK: string }[] = [],
): Promise<{ journey: Journey; tree: StoredAction[]; extra: Map<string, Item> }> {
  const journey = fromItem(journeyItem);
  const treeKeys = chunkKeys(userId, journeyId, journey.Tree);
  const found = treeKeys.length + extraKeys.length > 0 ? await batchGet([...treeKeys, ...extraKeys]) : new Map<string, Item>();
  return { journey, tree: decodeTree(userId, journeyId, journey.Tree, found), extra: found };
}

export type ReplaceOutcome = { ok: true; journey: Journey; tree: StoredAction[] } | { ok: false };

/**
 * Replaces a journey's tree atomically: write the new version, flip the pointer
 * if nobody else did in between, then drop the old version. Returns ok:false when
 * the pointer moved (a concurrent writer, or the journey was deleted): the caller
 * re-reads and decides again.
 */
export async function replaceTree(
  userId: number,
  journey: Journey,
  tree: StoredAction[],
  now: Date,
  extra?: ExtraUpdate,
): Promise<ReplaceOutcome> {
  const written = await writeTreeVersion(userId, journey.JourneyID, tree);
  const flipped = await flipTree(userId, journey.JourneyID, journey.Tree, written.pointer, formatDateTime(now), extra);
  if (!flipped) {
    await discardTreeVersion(userId, journey.JourneyID, written.pointer);
    return { ok: false };
  }
  await discardTreeVersion(userId, journey.JourneyID, journey.Tree);
  return { ok: true, journey: fromItem(flipped), tree };
}

/**
 * Creates a journey together with its tree and any extra items (copied emails):
 * the tree is written first under its own version (invisible without a journey
 * pointing at it), then the journey item and the extras go in one transaction.
 * A failure leaves nothing visible. Returns false when the transaction failed.
 */
export async function createJourneyWithTree(
  userId: number,
  journey: Journey,
  tree: StoredAction[],
  extras: Item[] = [],
): Promise<boolean> {
  const written = await writeTreeVersion(userId, journey.JourneyID, tree);
  const withTree: Journey = { ...journey, Tree: written.pointer };
  try {
    await ddb().send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: tableName(),
              Item: { ...keys.journey(userId, journey.JourneyID), ...storable(withTree) },
              ConditionExpression: "attribute_not_exists(PK)",
            },
          },
          ...extras.map((Item) => ({ Put: { TableName: tableName(), Item, ConditionExpression: "attribute_not_exists(PK)" } })),
        ],
      }),
    );
    return true;
  } catch (err) {
    logger().error("journey create with tree failed", { error: (err as Error).name });
    await discardTreeVersion(userId, journey.JourneyID, written.pointer);
    return false;
  }
}
