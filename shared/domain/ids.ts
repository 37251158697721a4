import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { ddb, tableName } from "../aws.js";
import { keys } from "../keys.js";

export type IdKind = "User" | "Journey" | "Action" | "List" | "Email" | "CustomField" | "Tag" | "Subscriber" | "Export";

/**
 * Integer IDs come from one atomic counter per kind, as Oempro's auto-increment
 * columns do. `count` reserves a block in one call (clone and tree writes need many).
 * Returns the first ID of the block.
 */
export async function nextIds(kind: IdKind, count = 1): Promise<number> {
  const out = await ddb().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: keys.counter(kind),
      UpdateExpression: "ADD #v :n",
      ExpressionAttributeNames: { "#v": "Value" },
      ExpressionAttributeValues: { ":n": count },
      ReturnValues: "UPDATED_NEW",
    }),
  );
  const last = Number(out.Attributes?.["Value"]);
  return last - count + 1;
}

export const nextId = (kind: IdKind): Promise<number> => nextIds(kind, 1);
