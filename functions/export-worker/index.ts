import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { loadConfig } from "../../shared/config.js";
import { runExport } from "../../shared/domain/export-job-run.js";
import { parseExportMessage } from "../../shared/domain/exports.js";

// Fail fast at cold start when the environment is incomplete.
loadConfig();

/**
 * The export worker, driven by the exports queue with partial batch responses.
 * Exports are large, so the event source hands over one message at a time; the
 * loop still handles any batch size.
 */
export async function handler(event: SQSEvent): Promise<SQSBatchResponse> {
  const failures: { itemIdentifier: string }[] = [];
  for (const record of event.Records) {
    const message = parseExportMessage(record.body);
    const receiveCount = Number(record.attributes?.ApproximateReceiveCount ?? 1);
    if (!message) {
      console.error(JSON.stringify({ level: "error", msg: "poison export message", messageId: record.messageId, receiveCount }));
      failures.push({ itemIdentifier: record.messageId });
      continue;
    }
    try {
      if (!(await runExport(message, receiveCount))) failures.push({ itemIdentifier: record.messageId });
    } catch (err) {
      console.error(JSON.stringify({ level: "error", msg: "export worker fault", messageId: record.messageId, error: String(err) }));
      failures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures: failures };
}
