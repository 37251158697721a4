import { productEpoch } from "../../shared/clock.js";
import { loadConfig } from "../../shared/config.js";
import { deadLetter } from "../../shared/engine/dead-letter.js";
import { faultOf, logger, metrics } from "../../shared/observability.js";
import { sqsWorker } from "../../shared/sqs-worker.js";

// Fail fast at cold start when the environment is incomplete.
loadConfig();

/**
 * The steps dead-letter queue's consumer (ENGINE §10): a Step that failed 5 times
 * on a cursor still at its Version ends that enrolment (Exited, StepFailed), so it
 * is not re-handed by recovery forever; anything else is logged and dropped
 * (shared/engine/dead-letter.ts says why each is safe to drop). A record whose end
 * could not be written is retried alone.
 */
export const handler = sqsWorker(() => async (record) => {
  try {
    const result = await deadLetter(record.body, productEpoch());
    if (result.outcome === "Ended") {
      metrics().addMetric("StepsDeadLettered", "Count", 1);
      logger().error("enrolment ended: its step failed every delivery", { messageId: record.messageId, ...result });
    } else {
      metrics().addMetric("StepsDeadLetterDropped", "Count", 1);
      logger().warn("steps DLQ message dropped", { messageId: record.messageId, ...result });
    }
  } catch (err) {
    metrics().addMetric("StepsDeadLetterFailed", "Count", 1);
    logger().error("steps DLQ message could not be handled; it will be retried", { messageId: record.messageId, error: faultOf(err) });
    throw err;
  }
});
