import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { ddb, tableName } from "../../aws.js";
import { keys } from "../../keys.js";

export interface RateState {
  limit: number;
  remaining: number;
  /** Epoch seconds at which the current window ends. */
  reset: number;
  allowed: boolean;
}

const WINDOW_SECONDS = 60;

/**
 * Fixed 60-second windows counted with one atomic `ADD` per request. The counter
 * value returned by the update is this request's exact position in the window,
 * so the limit holds exactly however many requests race. The item expires by TTL.
 */
export async function consumeRateLimit(owner: string, limit: number, now = new Date()): Promise<RateState> {
  const nowSec = Math.floor(now.getTime() / 1000);
  const windowStart = nowSec - (nowSec % WINDOW_SECONDS);
  const reset = windowStart + WINDOW_SECONDS;
  const out = await ddb().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: keys.rateWindow(owner, windowStart),
      UpdateExpression: "ADD #c :one SET #ttl = if_not_exists(#ttl, :ttl)",
      ExpressionAttributeNames: { "#c": "Count", "#ttl": "ttl" },
      ExpressionAttributeValues: { ":one": 1, ":ttl": reset + WINDOW_SECONDS },
      ReturnValues: "UPDATED_NEW",
    }),
  );
  const count = Number(out.Attributes?.["Count"]);
  return { limit, remaining: Math.max(0, limit - count), reset, allowed: count <= limit };
}
