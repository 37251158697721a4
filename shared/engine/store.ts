import { GetCommand, TransactWriteCommand, type TransactWriteCommandInput } from "@aws-sdk/lib-dynamodb";
import { ddb, tableName } from "../aws.js";
import { keys, type Key } from "../keys.js";
import { fromItem, type Journey } from "../domain/journeys/journeys.js";
import { batchGet, type Item } from "../domain/owned.js";
import { chunkKeys, decodeTree } from "../domain/trees/tree-store.js";
import { JourneyTree } from "./tree.js";

/**
 * The engine's reads and its transaction builder. Trees are cached per
 * (JourneyID, TreeVersion): every change to actions or their Published flags
 * writes a new TreeVersion (tree-store.ts), so a cached version never changes.
 */
export type TransactItem = NonNullable<TransactWriteCommandInput["TransactItems"]>[number];

export async function getConsistent(key: Key): Promise<Item | undefined> {
  return (await ddb().send(new GetCommand({ TableName: tableName(), Key: key, ConsistentRead: true }))).Item;
}

const TREE_CACHE_LIMIT = 200;
const trees = new Map<string, JourneyTree>();

export interface LoadedJourney {
  journey: Journey;
  tree: JourneyTree;
  treeVersion: string;
}

/** A journey and its current tree: one consistent read, plus the tree's chunks on a cache miss. */
export async function loadJourney(userId: number, journeyId: number): Promise<LoadedJourney | undefined> {
  const item = await getConsistent(keys.journey(userId, journeyId));
  if (!item) return undefined;
  const journey = fromItem(item);
  const cacheKey = `${userId}#${journeyId}#${journey.Tree.version}`;
  let tree = trees.get(cacheKey);
  if (!tree) {
    const chunks = chunkKeys(userId, journeyId, journey.Tree);
    const found = chunks.length > 0 ? await batchGet(chunks, { consistent: true }) : new Map<string, Item>();
    tree = new JourneyTree(decodeTree(userId, journeyId, journey.Tree, found));
    if (trees.size >= TREE_CACHE_LIMIT) trees.delete(trees.keys().next().value!);
    trees.set(cacheKey, tree);
  }
  return { journey, tree, treeVersion: journey.Tree.version };
}

/**
 * One transaction's items, each key at most once (DynamoDB refuses two operations
 * on one item): `put` and `update` of a key already present replace it, so the
 * last action's view of an item is what is written.
 */
export class Tx {
  private readonly items = new Map<string, TransactItem>();
  /** Which item (by key) each position of the transaction is, for reading cancellation reasons. */
  order(): string[] {
    return [...this.items.keys()];
  }
  set(key: Key, item: TransactItem): void {
    this.items.set(`${key.PK}|${key.SK}`, item);
  }
  has(key: Key): boolean {
    return this.items.has(`${key.PK}|${key.SK}`);
  }
  get size(): number {
    return this.items.size;
  }
  /** Adds `other`'s items whose keys this one does not hold yet. */
  absorb(other: Tx): void {
    for (const [k, item] of other.items) if (!this.items.has(k)) this.items.set(k, item);
  }
  async commit(token?: string): Promise<void> {
    if (this.items.size === 0) return;
    await ddb().send(
      new TransactWriteCommand({
        TransactItems: [...this.items.values()],
        ...(token ? { ClientRequestToken: token } : {}),
      }),
    );
  }
}

/**
 * An UpdateItem of `set` attributes and `remove` names, conditioned by `condition`
 * (with its own names and values). Attribute names are always aliased.
 */
export function updateItem(
  key: Key,
  set: Record<string, unknown>,
  remove: readonly string[],
  condition?: { expression: string; names?: Record<string, string>; values?: Record<string, unknown> },
): TransactItem {
  const names: Record<string, string> = { ...(condition?.names ?? {}) };
  const values: Record<string, unknown> = { ...(condition?.values ?? {}) };
  const sets: string[] = [];
  let i = 0;
  for (const [name, value] of Object.entries(set)) {
    if (value === undefined) continue;
    names[`#u${i}`] = name;
    values[`:u${i}`] = value;
    sets.push(`#u${i} = :u${i}`);
    i++;
  }
  const removes = remove.filter((n) => !(n in set)).map((name) => {
    names[`#u${i}`] = name;
    return `#u${i++}`;
  });
  const expression = [sets.length ? `SET ${sets.join(", ")}` : "", removes.length ? `REMOVE ${removes.join(", ")}` : ""]
    .filter(Boolean)
    .join(" ");
  return {
    Update: {
      TableName: tableName(),
      Key: key,
      UpdateExpression: expression,
      ...(condition ? { ConditionExpression: condition.expression } : {}),
      ...(Object.keys(names).length ? { ExpressionAttributeNames: names } : {}),
      ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
      ReturnValuesOnConditionCheckFailure: "ALL_OLD",
    },
  };
}

/** The condition that an item's Version is still `v` (or absent, for items written before versions existed). */
export function versionIs(v: unknown): { expression: string; names: Record<string, string>; values?: Record<string, unknown> } {
  return typeof v === "number"
    ? { expression: "#cv = :cv", names: { "#cv": "Version" }, values: { ":cv": v } }
    : { expression: "attribute_not_exists(#cv)", names: { "#cv": "Version" } };
}

/** The cancellation reason codes of a failed transaction, by position. */
export function cancellationCodes(err: unknown): (string | undefined)[] {
  const reasons = (err as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
  return reasons.map((r) => (r.Code === "None" ? undefined : r.Code));
}
