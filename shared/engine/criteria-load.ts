import { BatchGetCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { ddb, tableName } from "../aws.js";
import type { Item } from "../domain/owned.js";
import { keys, type Key } from "../keys.js";
import type { CriteriaData, CriteriaNeeds } from "./criteria-eval.js";

/**
 * Loads what criteria read for one subscriber (ENGINE §4.6's budget): one consistent
 * BatchGetItem of the subscriber item (unless the caller holds it), the memberships and
 * journey items of `journeys` rules and the email states they name, and, only when a
 * rule reads EmailIDs or counts, one consistent Query of the subscriber's email states,
 * which then also supplies the named ones. The two calls run side by side.
 *
 * Not `owned.batchGet`: the budget has to be counted, so this counts each call it
 * makes. Beyond 100 keys (DynamoDB's BatchGetItem limit), or when DynamoDB leaves keys
 * unprocessed or the query pages past 1 MB, more calls are made and `roundTrips` says so.
 */

/** What the Query ships of each email state: the evaluator's flags, not pending signals. */
export const EMAIL_STATE_PROJECTION = [
  "PK", "SK", "ActionID", "JourneyID", "EmailID",
  "Sent", "Delivered", "Opened", "Clicked", "Unsubscribed", "SpamComplaint", "Bounced", "Failed",
] as const;

const BATCH_LIMIT = 100;
const MAX_UNPROCESSED_RETRIES = 8;

const id = (k: { PK: unknown; SK: unknown }) => `${String(k.PK)}|${String(k.SK)}`;
const actionIdOf = (sk: string) => Number(sk.slice(sk.indexOf("#") + 1));

export async function loadCriteriaData(
  userId: number,
  subscriberId: number,
  needs: CriteriaNeeds,
  now: number,
  opts: { subscriber?: Item } = {},
): Promise<CriteriaData & { roundTrips: number; subscriberFound: boolean }> {
  let roundTrips = 0;
  const subscriberKey = keys.subscriber(userId, subscriberId);
  const wanted: Key[] = [];
  if (!opts.subscriber) wanted.push(subscriberKey);
  for (const j of needs.journeyIds) wanted.push(keys.membership(userId, subscriberId, j), keys.journey(userId, j));
  // The query returns every email state, so the named ones are read by it instead.
  if (!needs.queryEmailStates) for (const a of needs.actionIds) wanted.push(keys.emailState(userId, subscriberId, a));

  const found = new Map<string, Item>();
  const getSlice = async (slice: Key[]) => {
    let pending = slice;
    for (let attempt = 0; pending.length > 0; attempt++) {
      roundTrips++;
      const out = await ddb().send(
        new BatchGetCommand({ RequestItems: { [tableName()]: { Keys: pending, ConsistentRead: true } } }),
      );
      for (const item of out.Responses?.[tableName()] ?? []) found.set(id(item as Key), item);
      pending = (out.UnprocessedKeys?.[tableName()]?.Keys ?? []) as Key[];
      if (pending.length > 0) {
        if (attempt >= MAX_UNPROCESSED_RETRIES) throw new Error("BatchGet: unprocessed keys after retries");
        await new Promise((r) => setTimeout(r, 20 * 2 ** attempt));
      }
    }
  };
  const unique = [...new Map(wanted.map((k) => [id(k), k])).values()];
  const slices: Key[][] = [];
  for (let i = 0; i < unique.length; i += BATCH_LIMIT) slices.push(unique.slice(i, i + BATCH_LIMIT));

  const queryStates = async (): Promise<Item[]> => {
    const items: Item[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      roundTrips++;
      const out = await ddb().send(
        new QueryCommand({
          TableName: tableName(),
          ConsistentRead: true,
          KeyConditionExpression: "PK = :pk AND begins_with(SK, :p)",
          ExpressionAttributeValues: { ":pk": keys.subscriberPartition(userId, subscriberId), ":p": "M#" },
          ProjectionExpression: EMAIL_STATE_PROJECTION.map((_, i) => `#p${i}`).join(", "),
          ExpressionAttributeNames: Object.fromEntries(EMAIL_STATE_PROJECTION.map((p, i) => [`#p${i}`, p])),
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
    return items;
  };

  const [, allEmailStates] = await Promise.all([
    Promise.all(slices.map(getSlice)),
    needs.queryEmailStates ? queryStates() : Promise.resolve(undefined),
  ]);

  const stored = opts.subscriber ?? found.get(id(subscriberKey));
  const memberships = new Map<number, Item>();
  const liveJourneys = new Set<number>();
  for (const j of needs.journeyIds) {
    const m = found.get(id(keys.membership(userId, subscriberId, j)));
    if (m) memberships.set(j, m);
    if (found.has(id(keys.journey(userId, j)))) liveJourneys.add(j);
  }
  const emailStates = new Map<number, Item>();
  if (allEmailStates) {
    for (const s of allEmailStates) emailStates.set(actionIdOf(String(s["SK"])), s);
  } else {
    for (const a of needs.actionIds) {
      const s = found.get(id(keys.emailState(userId, subscriberId, a)));
      if (s) emailStates.set(a, s);
    }
  }
  return {
    subscriber: stored ?? {},
    subscriberFound: stored !== undefined,
    subscriberId,
    memberships,
    emailStates,
    ...(allEmailStates ? { allEmailStates } : {}),
    liveJourneys,
    now,
    roundTrips,
  };
}
