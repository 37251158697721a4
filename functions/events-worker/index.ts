import type { SQSRecord } from "aws-lambda";
import { loadConfig } from "../../shared/config.js";
import { parseEventMessage, type EventMessage } from "../../shared/domain/event-messages.js";
import { ingestEvents } from "../../shared/domain/ingest.js";
import { countIngest, faultOf, logger } from "../../shared/observability.js";
import { toPositiveInt } from "../../shared/params.js";
import { sqsWorker } from "../../shared/sqs-worker.js";

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

/** Returns when the record is done and may be deleted; throws to leave it for redelivery (and, in the end, the DLQ). */
async function processRecord(record: SQSRecord, message: EventMessage): Promise<void> {
  const receiveCount = record.attributes?.ApproximateReceiveCount;
  if (!message.ok) {
    // Only the reason: the body is the producer's and may hold anything.
    logger().error("poison event message", { messageId: record.messageId, receiveCount, reason: message.reason });
    throw new Error(`poison event message: ${message.reason}`);
  }
  try {
    // Defaults such as a missing OccurredAt must not depend on which delivery
    // finally applied the event, so "now" is when the message was sent.
    const sent = Number(record.attributes?.SentTimestamp);
    const now = Number.isFinite(sent) && sent > 0 ? new Date(sent) : new Date();
    const result = await ingestEvents(message.userId, message.events, now);
    countIngest(result);
    if (result.Rejected.length > 0) {
      // Redelivery could not fix a rejected event, so the record still succeeds.
      logger().warn("events rejected", {
        messageId: record.messageId,
        userId: message.userId,
        accepted: result.Accepted,
        duplicates: result.Duplicates,
        rejected: result.Rejected,
      });
    }
  } catch (err) {
    logger().error("event message failed", { messageId: record.messageId, receiveCount, error: faultOf(err) });
    throw err;
  }
}

/**
 * The events queue's consumer (CONTRACT §7). Failed records are redelivered
 * alone (partial batch response), so one bad record does not drag the whole
 * batch, and its already applied records, back through the queue.
 */
export const handler = sqsWorker(() => {
  const limit = limiter(RECORD_CONCURRENCY);
  const tails = new Map<string, Promise<unknown>>();
  // The batch processor starts the record handlers in batch order, so each
  // record chains behind the records before it on the same lanes.
  return (record) => {
    const message = parseEventMessage(record);
    const lanes = lanesOf(message);
    const before = lanes.flatMap((l) => tails.get(l) ?? []);
    const done = Promise.allSettled(before).then(() => limit(() => processRecord(record, message)));
    for (const l of lanes) tails.set(l, done);
    return done;
  };
});
