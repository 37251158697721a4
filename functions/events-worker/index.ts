import type { SQSEvent, SQSRecord } from "aws-lambda";
import { loadConfig } from "../../shared/config.js";
import { parseEventMessage } from "../../shared/domain/ingest/event-messages.js";
import { ingestEvents } from "../../shared/domain/ingest/ingest.js";
import { countIngest, faultOf, logger } from "../../shared/observability.js";
import { sqsWorker } from "../../shared/sqs-worker.js";

// Fail fast at cold start when the environment is incomplete.
loadConfig();

interface Member {
  record: SQSRecord;
  events: unknown[];
  /** Index of the message's first event in its user's combined call. */
  offset: number;
}

/**
 * Defaults such as a missing OccurredAt must not depend on which delivery finally
 * applied the event, so an event's "now" is when its message was sent.
 */
function sentAt(record: SQSRecord): Date {
  const sent = Number(record.attributes?.SentTimestamp);
  return Number.isFinite(sent) && sent > 0 ? new Date(sent) : new Date();
}

/**
 * One ingest call for all of a user's messages in the batch, in batch order: the
 * core applies each (journey, subscriber)'s events in that order, as consecutive
 * HTTP calls would, and packs the whole batch into full chunk transactions
 * (ten 10-event messages are one chunk, not ten).
 */
async function ingestUser(userId: number, members: Member[]): Promise<void> {
  const events = members.flatMap((m) => m.events);
  const times = members.flatMap((m) => m.events.map(() => sentAt(m.record)));
  const result = await ingestEvents(userId, events, new Date(), (i) => times[i]!);
  countIngest(result);
  if (result.Rejected.length > 0) {
    // Redelivery could not fix a rejected event, so its message still succeeds.
    const of = (index: number) => members.find((m) => index >= m.offset && index < m.offset + m.events.length)!;
    logger().warn("events rejected", {
      userId,
      messages: members.length,
      accepted: result.Accepted,
      duplicates: result.Duplicates,
      rejected: result.Rejected.map((r) => ({ ...r, messageId: of(r.Index).record.messageId, Index: r.Index - of(r.Index).offset })),
    });
  }
}

/**
 * The events queue's consumer (CONTRACT §7). A poison message fails alone
 * (partial batch response) and reaches the DLQ after its retries; the others
 * are ingested together, one call per user.
 */
export const handler = sqsWorker((event: SQSEvent) => {
  const messages = new Map(event.Records.map((r) => [r.messageId, parseEventMessage(r)]));
  const byUser = new Map<number, Member[]>();
  for (const record of event.Records) {
    const message = messages.get(record.messageId)!;
    if (!message.ok) continue;
    const members = byUser.get(message.userId) ?? byUser.set(message.userId, []).get(message.userId)!;
    const last = members[members.length - 1];
    members.push({ record, events: message.events, offset: last ? last.offset + last.events.length : 0 });
  }
  const outcome = new Map<string, Promise<void>>();
  for (const [userId, members] of byUser) {
    const together = ingestUser(userId, members);
    // When the call together fails (a fault that outlasted the retries), each message is
    // tried again alone, in batch order, so that only the ones that still fail are
    // redelivered; what the first call applied comes back as duplicates, for reads only.
    const alone = together.then(
      () => members.map(() => Promise.resolve()),
      async (err: unknown) => {
        logger().warn("event messages failed together; trying them one by one", { userId, messages: members.length, error: faultOf(err) });
        const results: Promise<void>[] = [];
        for (const m of members) {
          const one = ingestUser(userId, [{ ...m, offset: 0 }]);
          await one.catch((e: unknown) => logger().error("event message failed", { messageId: m.record.messageId, error: faultOf(e) }));
          results.push(one);
        }
        return results;
      },
    );
    members.forEach((m, i) => outcome.set(m.record.messageId, alone.then((r) => r[i])));
  }
  return async (record) => {
    const message = messages.get(record.messageId)!;
    if (!message.ok) {
      // Only the reason: the body is the producer's and may hold anything.
      logger().error("poison event message", { messageId: record.messageId, receiveCount: record.attributes?.ApproximateReceiveCount, reason: message.reason });
      throw new Error(`poison event message: ${message.reason}`);
    }
    await outcome.get(record.messageId);
  };
});
