import type { SQSEvent, SQSRecord } from "aws-lambda";
import { loadConfig } from "../../shared/config.js";
import { MAX_EVENTS } from "../../shared/domain/ingest/event-messages.js";
import { sendMessage } from "../../shared/domain/sqs-send.js";
import { countSesMapping, mapSesEvent, markFailed, type SesIngestEvent, type SesMapping } from "../../shared/delivery/ses-events.js";
import { logger } from "../../shared/observability.js";
import { sqsWorker } from "../../shared/sqs-worker.js";

// Fail fast at cold start: without these, every SES event would be dropped or lost.
const config = loadConfig();
if (!config.SES_CONFIGURATION_SET) throw new Error("Invalid configuration: SES_CONFIGURATION_SET must be set");
if (!config.EVENTS_QUEUE_URL) throw new Error("Invalid configuration: EVENTS_QUEUE_URL must be set");
const configurationSet = config.SES_CONFIGURATION_SET;
const eventsQueueUrl = config.EVENTS_QUEUE_URL;

/** The SQS body is the EventBridge event; anything else maps to a dropped `Malformed`. */
function mapRecord(record: SQSRecord): SesMapping {
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch {
    body = undefined;
  }
  return mapSesEvent(body, configurationSet);
}

/**
 * The SES events queue's consumer (ENGINE §8.3): maps each SES event and forwards the
 * ingest events to the events queue as `{"UserID", "Events"}`, one message per user and
 * 500 events, in batch order; a Reject or RenderingFailure marks its email state Failed.
 * A record whose message or write failed is reported alone and redelivered; what it
 * already sent comes back as duplicates, since its EventIDs are fixed.
 */
export const handler = sqsWorker((event: SQSEvent) => {
  const mapped = new Map(event.Records.map((r) => [r.messageId, mapRecord(r)]));
  const byUser = new Map<number, { messageId: string; event: SesIngestEvent }[]>();
  for (const record of event.Records) {
    const m = mapped.get(record.messageId)!;
    if (m.kind !== "ingest") continue;
    const members = byUser.get(m.userId) ?? byUser.set(m.userId, []).get(m.userId)!;
    members.push({ messageId: record.messageId, event: m.event });
  }
  const sent = new Map<string, Promise<unknown>>();
  for (const [userId, members] of byUser) {
    for (let i = 0; i < members.length; i += MAX_EVENTS) {
      const chunk = members.slice(i, i + MAX_EVENTS);
      const send = sendMessage(eventsQueueUrl, JSON.stringify({ UserID: userId, Events: chunk.map((c) => c.event) }));
      // Awaited by each record's handler below; this keeps a rejection from counting as unhandled meanwhile.
      send.catch(() => undefined);
      for (const c of chunk) sent.set(c.messageId, send);
    }
  }
  return async (record) => {
    const m = mapped.get(record.messageId)!;
    countSesMapping(m);
    if (m.kind === "dropped") {
      // No addresses or tags in the log: the reason and SES's MessageId are enough to look it up.
      const level = m.reason === "NotRecipient" ? "debug" : "warn";
      logger()[level]("SES event dropped", { type: m.type, reason: m.reason, sesMessageId: m.messageId });
      return;
    }
    if (m.kind === "failed") {
      if (!(await markFailed(m))) logger().info("SES failure for a journey that is gone", { type: m.type, sesMessageId: m.messageId });
      return;
    }
    await sent.get(record.messageId);
  };
});
