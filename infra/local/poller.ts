import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
  type Message,
} from "@aws-sdk/client-sqs";
import { setTimeout as sleep } from "node:timers/promises";
import type { Context, SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord, SQSRecordAttributes } from "aws-lambda";
import { lambdaContext } from "./gateway.js";

/**
 * The local stand-in for Lambda's SQS event source mapping: it long-polls one
 * queue of the emulator, hands each batch to the same handler module CDK
 * deploys as a real `SQSEvent`, and then behaves as the mapping does with
 * `ReportBatchItemFailures`: records the handler did not report as failed are
 * deleted, failed ones are left to reappear after the visibility timeout (and
 * to reach the DLQ after maxReceiveCount), and a handler that throws or answers
 * with an unknown itemIdentifier fails the whole batch.
 */
type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

export interface PollerOptions {
  /** Names the function in logs and in the Lambda context. */
  name: string;
  queueUrl: string;
  /** A file URL (or anything `import()` resolves) of a module exporting `handler`. */
  handlerModule: string;
  /** Records per invocation, as the mapping's BatchSize (SQS returns at most 10 per receive). */
  batchSize: number;
  /** The emulator's endpoint. */
  endpoint: string;
  region: string;
  /** Long-poll wait; Lambda's pollers use 20 s. */
  waitTimeSeconds?: number;
  /** The deployed function's timeout (default 60 s, the runner's and the workers'). */
  timeoutMs?: number;
}

export interface Poller {
  /** Ends the loop after the batch in hand is finished; resolves when it has ended. */
  stop(): Promise<void>;
}

const log = (level: "warn" | "error", msg: string, extra: Record<string, unknown>) =>
  console[level](JSON.stringify({ level, msg, ...extra }));

const errorOf = (err: unknown) => (err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : String(err));

/** Lambda delivers message attributes in its own lower-camel shape, binaries base64-encoded. */
function lambdaAttributes(m: Message): SQSMessageAttributes {
  const out: SQSMessageAttributes = {};
  for (const [name, a] of Object.entries(m.MessageAttributes ?? {})) {
    out[name] = {
      dataType: a.DataType ?? "String",
      ...(a.StringValue !== undefined ? { stringValue: a.StringValue } : {}),
      ...(a.BinaryValue !== undefined ? { binaryValue: Buffer.from(a.BinaryValue).toString("base64") } : {}),
      stringListValues: a.StringListValues ?? [],
      binaryListValues: (a.BinaryListValues ?? []).map((b) => Buffer.from(b).toString("base64")),
    };
  }
  return out;
}

export function toRecord(m: Message, queueArn: string, region: string): SQSRecord {
  const attrs = m.Attributes ?? {};
  return {
    messageId: m.MessageId ?? "",
    receiptHandle: m.ReceiptHandle ?? "",
    body: m.Body ?? "",
    attributes: {
      ...attrs,
      ApproximateReceiveCount: attrs["ApproximateReceiveCount"] ?? "1",
      SentTimestamp: attrs["SentTimestamp"] ?? String(Date.now()),
      SenderId: attrs["SenderId"] ?? "000000000000",
      ApproximateFirstReceiveTimestamp: attrs["ApproximateFirstReceiveTimestamp"] ?? String(Date.now()),
    } as SQSRecordAttributes,
    messageAttributes: lambdaAttributes(m),
    md5OfBody: m.MD5OfBody ?? "",
    ...(m.MD5OfMessageAttributes ? { md5OfMessageAttributes: m.MD5OfMessageAttributes } : {}),
    eventSource: "aws:sqs",
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

/**
 * Which records may be deleted, by Lambda's rules for a partial batch response:
 * no response or an empty list means all succeeded; an itemIdentifier that is
 * empty or not in the batch makes the whole batch count as failed.
 */
export function succeededRecords(records: SQSRecord[], response: SQSBatchResponse | void): SQSRecord[] {
  const failures = response?.batchItemFailures ?? [];
  const ids = new Set(records.map((r) => r.messageId));
  if (failures.some((f) => !f?.itemIdentifier || !ids.has(f.itemIdentifier))) return [];
  const failed = new Set(failures.map((f) => f.itemIdentifier));
  return records.filter((r) => !failed.has(r.messageId));
}

export function startPoller(opts: PollerOptions): Poller {
  const client = new SQSClient({
    endpoint: opts.endpoint,
    region: opts.region,
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  const abort = new AbortController();
  const { signal } = abort;
  let handler: Promise<SqsHandler> | undefined;
  let queueArn: string | undefined;


  async function pollOnce(): Promise<void> {
    queueArn ??= (
      await client.send(new GetQueueAttributesCommand({ QueueUrl: opts.queueUrl, AttributeNames: ["QueueArn"] }), { abortSignal: signal })
    ).Attributes?.["QueueArn"];
    const received = await client.send(
      new ReceiveMessageCommand({
        QueueUrl: opts.queueUrl,
        MaxNumberOfMessages: Math.min(opts.batchSize, 10),
        WaitTimeSeconds: opts.waitTimeSeconds ?? 20,
        MessageAttributeNames: ["All"],
        MessageSystemAttributeNames: ["All"],
      }),
      { abortSignal: signal },
    );
    const messages = received.Messages ?? [];
    if (messages.length === 0) return;
    const records = messages.map((m) => toRecord(m, queueArn ?? "", opts.region));

    let response: SQSBatchResponse | void;
    try {
      handler ??= import(opts.handlerModule).then((m: { handler: SqsHandler }) => m.handler);
      response = await (await handler)({ Records: records }, lambdaContext(opts.name, opts.timeoutMs ?? 60_000));
    } catch (err) {
      // As on Lambda: a thrown error fails every record of the batch.
      log("error", "local poller: handler failed, whole batch left for redelivery", { function: opts.name, error: errorOf(err) });
      return;
    }

    const done = succeededRecords(records, response);
    if (done.length === 0) return;
    // Not aborted: a finished batch is deleted even while stopping, or it would be applied again.
    const deleted = await client.send(
      new DeleteMessageBatchCommand({
        QueueUrl: opts.queueUrl,
        Entries: done.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
      }),
    );
    if (deleted.Failed?.length) {
      log("warn", "local poller: some deletes failed; those records will be redelivered", { function: opts.name, failed: deleted.Failed });
    }
  }

  const loop = (async () => {
    while (!signal.aborted) {
      try {
        await pollOnce();
      } catch (err) {
        if (signal.aborted) break;
        log("error", "local poller: receive or delete failed", { function: opts.name, error: errorOf(err) });
        // A pause, so that an emulator that is down is not hammered; stop() cuts it short.
        await sleep(1000, undefined, { signal }).catch(() => undefined);
      }
    }
  })();

  return {
    async stop() {
      abort.abort();
      await loop;
      client.destroy();
    },
  };
}
