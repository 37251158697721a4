import { loadConfig } from "../../shared/config.js";
import { failExportJobFinally, parseExportMessage } from "../../shared/domain/exports/exports.js";
import { countExport, faultOf, logger } from "../../shared/observability.js";
import { sqsWorker } from "../../shared/sqs-worker.js";

loadConfig();

/**
 * The exports dead-letter queue's consumer: every delivery of this job failed,
 * possibly by crashing before it could mark the job, so the job is marked Failed
 * here. No job stays Pending or Processing forever. A record that cannot be
 * marked (a throttled write) is retried alone.
 */
export const handler = sqsWorker(() => async (record) => {
  const message = parseExportMessage(record.body);
  if (!message) return;
  try {
    await failExportJobFinally(message.userId, message.exportId, "The export failed after every retry; please submit it again", new Date());
    countExport("gave up");
  } catch (err) {
    logger().error("could not mark export failed", { messageId: record.messageId, error: faultOf(err) });
    throw err;
  }
});
