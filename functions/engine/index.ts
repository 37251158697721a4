import { loadConfig } from "../../shared/config.js";
import { dispatch, parseStepsMessage } from "../../shared/engine/dispatch.js";
import { logger } from "../../shared/observability.js";
import { sqsWorker } from "../../shared/sqs-worker.js";

// Fail fast at cold start when the environment is incomplete.
loadConfig();

/**
 * The step runner (ENGINE §5, §10): consumes the steps queue. A batch's records
 * run concurrently; a record whose handler throws is redelivered alone (partial
 * batch response), and after 5 receives lands in the steps DLQ.
 */
export const handler = sqsWorker(() => async (record) => {
  const message = parseStepsMessage(record.body);
  if (!message) {
    logger().error("poison steps message dropped", { messageId: record.messageId });
    return;
  }
  await dispatch(message);
});
