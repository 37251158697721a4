import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { keys } from "../shared/keys.js";
import type { BenchContext } from "./stack-context.js";

/**
 * The bench's own document client against the stack's DynamoDB Local: the
 * GetItem floor of the list section and the "is every event counted yet" probe
 * of the ingest section. Kept apart from shared/aws.ts's client so that the
 * bench's reads never share a connection pool or middleware with the handlers.
 */
export function benchDocClient(ctx: BenchContext): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(
    new DynamoDBClient({
      region: ctx.env["AWS_REGION"] ?? "us-east-1",
      endpoint: ctx.env["DYNAMODB_ENDPOINT"],
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    }),
  );
}

/** The counters each delivery event type adds one to (at most once per subscriber and action for the unique kinds). */
const COUNTED = ["SendCount", "DeliveryCount", "OpenCount", "ClickCount", "ConversionCount"] as const;

/**
 * Events counted so far for a user: the sum of the delivery counters over every
 * journey's lifetime rollup, read with one range query (the same rollups
 * journey.get and journey.list report). Exact for an event set in which every
 * event is the first of its kind for its subscriber and action.
 */
export async function countedEvents(doc: DynamoDBDocumentClient, table: string, userId: number): Promise<number> {
  let total = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const out = await doc.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: "PK = :pk AND SK BETWEEN :a AND :b",
        ExpressionAttributeValues: { ":pk": keys.userStats(userId), ":a": "JL#", ":b": "JL#~" },
        ExclusiveStartKey: start,
        ConsistentRead: true,
      }),
    );
    for (const item of out.Items ?? []) {
      if (!String(item["SK"]).endsWith("#C")) continue;
      for (const k of COUNTED) total += Number(item[k] ?? 0);
    }
    start = out.LastEvaluatedKey;
  } while (start);
  return total;
}
