import { loadConfig } from "../../shared/config.js";
import { runExport } from "../../shared/domain/exports/export-job-run.js";
import { parseExportMessage } from "../../shared/domain/exports/exports.js";
import { logger } from "../../shared/observability.js";
import { sqsWorker } from "../../shared/sqs-worker.js";

// Fail fast at cold start when the environment is incomplete.
loadConfig();

/**
 * The export worker, driven by the exports queue with partial batch responses.
 * Exports are large, so the event source hands over one message at a time; the
 * handler still serves any batch size. A record that throws is delivered again.
 */
export const handler = sqsWorker(() => async (record) => {
  const message = parseExportMessage(record.body);
  const receiveCount = Number(record.attributes?.ApproximateReceiveCount ?? 1);
  if (!message) {
    logger().error("poison export message", { messageId: record.messageId, receiveCount });
    throw new Error("poison export message");
  }
  if (!(await runExport(message, receiveCount))) throw new Error(`export ${message.exportId} to be retried`);
});
