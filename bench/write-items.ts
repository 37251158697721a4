import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

/**
 * Counts the items in every write request a DynamoDB client sends, as a
 * middleware: what DynamoDB bills as write request units (a transactional item
 * costs two, an item up to 1 KB one). The rate-limit counter (`RATE#…`) is
 * left out: it is per request, not per event. Cancelled transactions count too,
 * since DynamoDB bills them.
 */
export interface WriteCounts {
  /** Items in TransactWriteItems requests (committed or cancelled). */
  transactional: number;
  /** Items in PutItem, UpdateItem, DeleteItem and BatchWriteItem requests. */
  standard: number;
  /** Write requests sent. */
  requests: number;
  /** Of the transactional items, email states (`…#SUB#…`, `M#…`): each also propagates to MailIndex, billed apart. */
  indexed: number;
}

export interface WriteCounter {
  reset(): void;
  counts(): WriteCounts;
  /** Total write items, and write request units on AWS (≤ 1 KB items; transactional items count twice). */
  items(): number;
  units(): number;
  stop(): void;
}

/** A key's PK, marshalled ({S: "…"}) or not, depending on where in the stack the input is seen. */
const pkOf = (key: unknown): string => {
  const raw = (key as { PK?: unknown } | undefined)?.PK;
  const pk = typeof raw === "object" && raw !== null ? (raw as { S?: unknown }).S : raw;
  return typeof pk === "string" ? pk : "";
};
const isRateLimit = (key: unknown): boolean => pkOf(key).startsWith("RATE#");

let installs = 0;

export function countWrites(client: DynamoDBDocumentClient): WriteCounter {
  const name = `count-write-items-${++installs}`;
  let c: WriteCounts = { transactional: 0, standard: 0, requests: 0, indexed: 0 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as Record<string, unknown>;
      // The document client's commands run as the low-level ones (TransactWriteItemsCommand, …).
      const command = String(context.commandName).replace(/Command$/, "");
      if (command === "TransactWrite" || command === "TransactWriteItems") {
        const items = input["TransactItems"] as Record<string, { Key?: unknown }>[];
        c.transactional += items.length;
        c.indexed += items.filter((i) => pkOf(i["Update"]?.Key).includes("#SUB#")).length;
        c.requests++;
      } else if (command === "BatchWrite" || command === "BatchWriteItem") {
        for (const reqs of Object.values(input["RequestItems"] as Record<string, unknown[]>)) c.standard += reqs.length;
        c.requests++;
      } else if (/^(Put|Update|Delete)(Item)?$/.test(command) && !isRateLimit(input["Key"] ?? input["Item"])) {
        c.standard++;
        c.requests++;
      }
      return next(args);
    },
    { step: "initialize", name },
  );
  return {
    reset: () => void (c = { transactional: 0, standard: 0, requests: 0, indexed: 0 }),
    counts: () => ({ ...c }),
    items: () => c.transactional + c.standard,
    units: () => 2 * c.transactional + c.standard,
    stop: () => void client.middlewareStack.remove(name),
  };
}
