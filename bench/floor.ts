import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";

/**
 * The floor of the bundle benchmark: the least a Lambda of this service can be,
 * a DynamoDB document client and one read. Every function bundle is judged as a
 * ratio to this one, so that the SDK we cannot avoid is not counted against us.
 * It must stay this small: any import added here raises the bar for everyone.
 *
 * The client is built on first use, as shared/aws.ts does, so that load times
 * compare the code each bundle adds and not when its client is constructed (built
 * at module load, it costs the floor some 15–20 ms and would flatter every ratio).
 */
let doc: DynamoDBDocumentClient | undefined;

export const handler = async (event: { pathParameters?: Record<string, string | undefined> }) => {
  doc ??= DynamoDBDocumentClient.from(new DynamoDBClient({}));
  const out = await doc.send(
    new GetCommand({
      TableName: process.env["TABLE_NAME"],
      Key: { PK: event.pathParameters?.["id"] ?? "floor", SK: "PROFILE" },
    }),
  );
  return { statusCode: out.Item ? 200 : 404, body: JSON.stringify(out.Item ?? {}) };
};
