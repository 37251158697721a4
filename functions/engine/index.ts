import { productEpoch } from "../../shared/clock.js";
import { loadConfig } from "../../shared/config.js";
import { noteStepError } from "../../shared/engine/dead-letter.js";
import { dispatch, parseStepsMessage } from "../../shared/engine/dispatch.js";
import { logger } from "../../shared/observability.js";
import { sqsWorker } from "../../shared/sqs-worker.js";
// SendEmail, SendSMS and Webhook run here and only here: importing the module registers them
// (shared/engine/intent.ts), so the API functions' bundles carry no SES or SMS client.
import "../../shared/engine/deliver-step.js";

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
  try {
    await dispatch(message);
  } catch (err) {
    // Noted on the cursor (at this Version only), so that if the message reaches the
    // DLQ its StepFailed record can name the last error (§10).
    if (message.Kind === "Step") await noteStepError(message, err, productEpoch());
    throw err;
  }
});
