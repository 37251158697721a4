import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { loadConfig } from "./config.js";

/**
 * AWS clients, created once per module scope and only on first use: a cold start
 * pays for constructing a client only when the request path needs it. Endpoint
 * overrides come from config; that is how the local stack and the tests point
 * the very same code at DynamoDB Local and the SQS/S3 emulator.
 */
let doc: DynamoDBDocumentClient | undefined;

export function ddb(): DynamoDBDocumentClient {
  if (!doc) {
    const cfg = loadConfig();
    const base = new DynamoDBClient({
      region: cfg.AWS_REGION,
      ...(cfg.DYNAMODB_ENDPOINT
        ? { endpoint: cfg.DYNAMODB_ENDPOINT, credentials: { accessKeyId: "local", secretAccessKey: "local" } }
        : {}),
      maxAttempts: 5,
    });
    doc = DynamoDBDocumentClient.from(base, {
      marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
    });
  }
  return doc;
}

export function tableName(): string {
  return loadConfig().TABLE_NAME;
}

/** Tests swap configuration between suites in one process; clients must follow. */
export function resetClientsForTests(): void {
  doc = undefined;
}
