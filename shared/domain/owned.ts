import { BatchGetCommand, BatchWriteCommand, GetCommand, PutCommand, QueryCommand, type QueryCommandInput } from "@aws-sdk/lib-dynamodb";
import { ddb, tableName } from "../aws.js";
import { keys, MAIL_INDEX, type Key, type OwnedKind } from "../keys.js";
import { nextId, type IdKind } from "./ids.js";

/**
 * The reference-data registry (CONTRACT §6): lists, emails, custom fields, tags and
 * subscribers, each owned by one user. Every read goes through the owner's
 * partition, so another user's ID simply does not exist here.
 */
const ID_KIND: Record<OwnedKind, IdKind> = {
  journey: "Journey",
  list: "List",
  email: "Email",
  customField: "CustomField",
  tag: "Tag",
  subscriber: "Subscriber",
  export: "Export",
};

export type Item = Record<string, unknown>;

export async function createOwned(kind: OwnedKind, userId: number, attrs: Item): Promise<number> {
  const id = await nextId(ID_KIND[kind]);
  await ddb().send(
    new PutCommand({
      TableName: tableName(),
      Item: { ...keys.owned(kind, userId, id), ...attrs },
      ConditionExpression: "attribute_not_exists(PK)",
    }),
  );
  return id;
}

export async function getOwned(kind: OwnedKind, userId: number, id: number): Promise<Item | undefined> {
  const out = await ddb().send(new GetCommand({ TableName: tableName(), Key: keys.owned(kind, userId, id) }));
  return out.Item;
}

/** Every item of one kind a user owns, in ID order. */
export async function listOwned(kind: OwnedKind, userId: number): Promise<Item[]> {
  const { PK, prefix } = keys.ownedPrefix(kind, userId);
  return queryByPrefix(PK, prefix);
}

/**
 * A filter on non-key attributes: DynamoDB still reads the items it drops, but does
 * not ship them. Placeholders must not be `:pk`, `:a` or `:b`.
 */
export interface QueryFilter {
  expression: string;
  names: Record<string, string>;
  values: Record<string, unknown>;
}

/** The pages of a key-range query, one at a time: for readers whose memory must not grow with the data. */
export async function* queryPages(pk: string, from: string, to: string, filter?: QueryFilter): AsyncGenerator<Item[]> {
  let start: Record<string, unknown> | undefined;
  do {
    const out = await ddb().send(
      new QueryCommand({
        TableName: tableName(),
        KeyConditionExpression: "PK = :pk AND SK BETWEEN :a AND :b",
        ExpressionAttributeValues: { ":pk": pk, ":a": from, ":b": to, ...filter?.values },
        ...(filter ? { FilterExpression: filter.expression, ExpressionAttributeNames: filter.names } : {}),
        ExclusiveStartKey: start,
      }),
    );
    yield out.Items ?? [];
    start = out.LastEvaluatedKey;
  } while (start);
}

/** Every item of a partition whose sort key lies in [from, to]. */
export async function queryBetween(pk: string, from: string, to: string, filter?: QueryFilter): Promise<Item[]> {
  const items: Item[] = [];
  for await (const page of queryPages(pk, from, to, filter)) items.push(...page);
  return items;
}

/**
 * Every item of a partition whose sort key begins with `prefix`, paging through
 * DynamoDB's 1 MB limit. `onlyWith` keeps just the items that have that attribute
 * (a filter: DynamoDB still reads the others, but does not ship them).
 */
export async function queryByPrefix(pk: string, prefix: string, projection?: string[], onlyWith?: string): Promise<Item[]> {
  return queryAll({
    TableName: tableName(),
    KeyConditionExpression: "PK = :pk AND begins_with(SK, :p)",
    ExpressionAttributeValues: { ":pk": pk, ":p": prefix },
    ...(onlyWith ? { FilterExpression: "attribute_exists(#only)" } : {}),
    ...(projection || onlyWith
      ? {
          ...(projection ? { ProjectionExpression: projection.map((_, i) => `#p${i}`).join(", ") } : {}),
          ExpressionAttributeNames: {
            ...Object.fromEntries((projection ?? []).map((p, i) => [`#p${i}`, p])),
            ...(onlyWith ? { "#only": onlyWith } : {}),
          },
        }
      : {}),
  });
}

/** Every item a query matches, paging through DynamoDB's 1 MB limit. */
export async function queryAll(input: Omit<QueryCommandInput, "ExclusiveStartKey">): Promise<Item[]> {
  const items: Item[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await ddb().send(new QueryCommand({ ...input, ExclusiveStartKey: start }));
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}

/**
 * Every email state of one journey in MailIndex (optionally one action's: the
 * `prefix` of `keys.mailIndexPrefix`), paging through DynamoDB's 1 MB limit.
 * The index is eventually consistent: a state written a moment ago may be missing.
 */
export async function queryMailIndex(mailPk: string, prefix: string, projection?: string[]): Promise<Item[]> {
  return queryAll({
    TableName: tableName(),
    IndexName: MAIL_INDEX.name,
    KeyConditionExpression: prefix ? "#pk = :pk AND begins_with(#sk, :p)" : "#pk = :pk",
    ExpressionAttributeNames: {
      "#pk": MAIL_INDEX.partitionKey,
      ...(prefix ? { "#sk": MAIL_INDEX.sortKey } : {}),
      ...Object.fromEntries((projection ?? []).map((p, i) => [`#p${i}`, p])),
    },
    ExpressionAttributeValues: { ":pk": mailPk, ...(prefix ? { ":p": prefix } : {}) },
    ...(projection ? { ProjectionExpression: projection.map((_, i) => `#p${i}`).join(", ") } : {}),
  });
}

/**
 * Fetches many items by key in as few calls as DynamoDB allows (100 keys per call,
 * up to 8 calls in flight), retrying unprocessed keys. Returns a map from `PK|SK` to
 * item. `consistent` reads what the last write left (for re-reads after a failed
 * condition).
 */
export async function batchGet(keyList: Key[], opts: { consistent?: boolean } = {}): Promise<Map<string, Item>> {
  const found = new Map<string, Item>();
  const unique = [...new Map(keyList.map((k) => [`${k.PK}|${k.SK}`, k])).values()];
  const slices: Key[][] = [];
  for (let i = 0; i < unique.length; i += 100) slices.push(unique.slice(i, i + 100));
  const fetchSlice = async (slice: Key[]) => {
    let pending = slice;
    for (let attempt = 0; pending.length > 0; attempt++) {
      const out = await ddb().send(
        new BatchGetCommand({ RequestItems: { [tableName()]: { Keys: pending, ...(opts.consistent ? { ConsistentRead: true } : {}) } } }),
      );
      for (const item of out.Responses?.[tableName()] ?? []) found.set(`${item["PK"]}|${item["SK"]}`, item);
      pending = (out.UnprocessedKeys?.[tableName()]?.Keys ?? []) as Key[];
      if (pending.length > 0) {
        if (attempt >= 8) throw new Error("BatchGet: unprocessed keys after retries");
        await new Promise((r) => setTimeout(r, 20 * 2 ** attempt));
      }
    }
  };
  for (let i = 0; i < slices.length; i += 8) await Promise.all(slices.slice(i, i + 8).map(fetchSlice));
  return found;
}

export const keyId = (k: Key): string => `${k.PK}|${k.SK}`;

/** BatchWriteItem in slices of 25, retrying unprocessed items with backoff. */
async function batchWrite(requests: Record<string, unknown>[]): Promise<void> {
  for (let i = 0; i < requests.length; i += 25) {
    let pending = requests.slice(i, i + 25);
    for (let attempt = 0; pending.length > 0; attempt++) {
      const out = await ddb().send(new BatchWriteCommand({ RequestItems: { [tableName()]: pending as never } }));
      pending = (out.UnprocessedItems?.[tableName()] ?? []) as Record<string, unknown>[];
      if (pending.length > 0) {
        if (attempt >= 8) throw new Error("BatchWrite: unprocessed items after retries");
        await new Promise((r) => setTimeout(r, 20 * 2 ** attempt));
      }
    }
  }
}

export const batchPut = (items: Item[]) => batchWrite(items.map((Item) => ({ PutRequest: { Item } })));
export const batchDelete = (keyList: Key[]) => batchWrite(keyList.map((Key) => ({ DeleteRequest: { Key } })));
