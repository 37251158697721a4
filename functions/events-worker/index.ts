import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { loadConfig } from "../../shared/config.js";
import { parseEventMessage, type EventMessage } from "../../shared/domain/event-messages.js";
import { ingestEvents } from "../../shared/domain/ingest.js";
import { toPositiveInt } from "../../shared/params.js";

// Fail fast at cold start when the environment is incomplete.
loadConfig();

/**
 * Records in flight at once. Each record's ingest already runs up to 8
 * transactions in parallel, so a few records are enough to keep a batch of 10
 * well inside the function's timeout without flooding the table.
 */
const RECORD_CONCURRENCY = 4;

function limiter(max: number) {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= max) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      return await task();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

/**
 * The (user, journey, subscriber) lanes a message touches. The ingest core
 * counts the *first* unique event of a subscriber and ends only entries that
 * exist, so two records touching the same lane must be applied in batch order,
 * as consecutive HTTP calls would be; records on other lanes run in parallel.
 */
function lanesOf(message: EventMessage): string[] {
  if (!message.ok) return [];
  const lanes = new Set<string>();
  for (const e of message.events) {
    if (typeof e !== "object" || e === null) continue;
    const f = new Map(Object.entries(e).map(([k, v]) => [k.toLowerCase(), v]));
    const journey = toPositiveInt(f.get("journeyid"));
    const subscriber = toPositiveInt(f.get("subscriberid"));
    if (journey !== undefined && subscriber !== undefined) lanes.add(`${message.userId}#${journey}#${subscriber}`);
  }
  return [...lanes];
}

/** true when the record is done and may be deleted; false to leave it for redelivery (and, in the end, the DLQ). */
async function processRecord(record: SQSRecord, message: EventMessage): Promise<boolean> {
  const receiveCount = record.attributes?.ApproximateReceiveCount;
  if (!message.ok) {
    // Only the reason: the body is the producer's and may hold anything.
    console.error(JSON.stringify({ level: "error", msg: "poison event message", messageId: record.messageId, receiveCount, reason: message.reason }));
    return false;
  }
  try {
    // Defaults such as a missing OccurredAt must not depend on which delivery
    // finally applied the event, so "now" is when the message was sent.
    const sent = Number(record.attributes?.SentTimestamp);
    const now = Number.isFinite(sent) && sent > 0 ? new Date(sent) : new Date();
    const result = await ingestEvents(message.userId, message.events, now);
    if (result.Rejected.length > 0) {
      // Redelivery could not fix a rejected event, so the record still succeeds.
      console.warn(
        JSON.stringify({
          level: "warn",
          msg: "events rejected",
          messageId: record.messageId,
          userId: message.userId,
          accepted: result.Accepted,
          duplicates: result.Duplicates,
          rejected: result.Rejected,
        }),
      );
    }
    return true;
  } catch (err) {
    console.error(
      JSON.stringify({
        level: "error",
        msg: "event message failed",
        messageId: record.messageId,
        receiveCount,
        error: err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : String(err),
      }),
    );
    return false;
  }
}

/**
 * The events queue's consumer (CONTRACT §7). It answers with a partial batch
 * response, so one failing record is redelivered alone instead of dragging the
 * whole batch (and its already applied records) back through the queue.
 */
export async function handler(event: SQSEvent): Promise<SQSBatchResponse> {
  const limit = limiter(RECORD_CONCURRENCY);
  const tails = new Map<string, Promise<unknown>>();
  const failed = new Set<string>();
  await Promise.all(
    event.Records.map((record) => {
      const message = parseEventMessage(record);
      const lanes = lanesOf(message);
      const before = lanes.flatMap((l) => tails.get(l) ?? []);
      const done = Promise.allSettled(before)
        .then(() => limit(() => processRecord(record, message)))
        .then((ok) => {
          if (!ok) failed.add(record.messageId);
        });
      for (const l of lanes) tails.set(l, done);
      return done;
    }),
  );
  return {
    batchItemFailures: event.Records.filter((r) => failed.has(r.messageId)).map((r) => ({ itemIdentifier: r.messageId })),
  };
}
