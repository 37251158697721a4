import { GetCommand, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import { ddb, tableName } from "../aws.js";
import { isAwsError } from "../errors.js";
import { keys } from "../keys.js";
import { nextId } from "./ids.js";
import { sha256Hex } from "./secrets.js";

/**
 * A subscriber is one address on one list. Subscribing an address twice returns
 * the existing SubscriberID: a guard item keyed by (list, address digest) is
 * written in the same transaction as the subscriber, so a race cannot make two.
 */
export async function createSubscriber(userId: number, listId: number, email: string): Promise<number> {
  const guardKey = keys.subscriberAddress(userId, listId, sha256Hex(email.toLowerCase()));
  const existing = await ddb().send(new GetCommand({ TableName: tableName(), Key: guardKey, ConsistentRead: true }));
  if (existing.Item) return Number(existing.Item["SubscriberID"]);
  const subscriberId = await nextId("Subscriber");
  try {
    await ddb().send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: tableName(),
              Item: { ...guardKey, SubscriberID: subscriberId },
              ConditionExpression: "attribute_not_exists(PK)",
            },
          },
          {
            Put: {
              TableName: tableName(),
              Item: { ...keys.owned("subscriber", userId, subscriberId), ListID: listId, EmailAddress: email },
              ConditionExpression: "attribute_not_exists(PK)",
            },
          },
        ],
      }),
    );
    return subscriberId;
  } catch (err) {
    if (!isAwsError(err, "TransactionCanceledException")) throw err;
    const winner = await ddb().send(new GetCommand({ TableName: tableName(), Key: guardKey, ConsistentRead: true }));
    if (!winner.Item) throw err;
    return Number(winner.Item["SubscriberID"]);
  }
}
