import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { loadConfig } from "../../shared/config.js";
import { failExportJobFinally, parseExportMessage } from "../../shared/domain/exports.js";

loadConfig();

/**
 * The exports dead-letter queue's consumer: every delivery of this job failed,
 * possibly by crashing before it could mark the job, so the job is marked Failed
 * here. No job stays Pending or Processing forever. A record that cannot be
 * marked (a throttled write) is retried alone.
 */
export async function handler(event: SQSEvent): Promise<SQSBatchResponse> {
  const failures: { itemIdentifier: string }[] = [];
  for (const record of event.Records) {
    const message = parseExportMessage(record.body);
    if (!message) continue;
    try {
      await failExportJobFinally(message.userId, message.exportId, "The export failed after every retry; please submit it again", new Date());
    } catch (err) {
      console.error(JSON.stringify({ level: "error", msg: "could not mark export failed", messageId: record.messageId, error: String(err) }));
      failures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures: failures };
}
