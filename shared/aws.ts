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

/**
 * A process-wide observer of every DynamoDB call, for tests and the bench that count
 * calls (ENGINE §11). It lives on globalThis, not in this module, because vitest can
 * load this module twice (the test's import and the handlers' dynamic import), each
 * with its own client; a middleware added to one would miss the other's calls. Unset
 * (everywhere but those tests), it costs one property read per call.
 */
export type DdbObserver = (command: string, input: Record<string, unknown>, output: Record<string, unknown> | undefined) => void;
const observed = globalThis as { __journeyDdbObserver?: DdbObserver };

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
    doc.middlewareStack.add(
      (next, context) => async (args) => {
        let output: Record<string, unknown> | undefined;
        try {
          const out = await next(args);
          output = out.output as Record<string, unknown>;
          return out;
        } finally {
          // Failed calls (a cancelled transaction, a failed condition) count too: DynamoDB bills them.
          observed.__journeyDdbObserver?.(String(context.commandName), args.input as Record<string, unknown>, output);
        }
      },
      { step: "initialize", name: "journey-ddb-observer" },
    );
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
