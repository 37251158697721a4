import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import { productEpoch } from "../../shared/clock.js";
import { loadConfig } from "../../shared/config.js";
import { sweep } from "../../shared/engine/sweeper.js";
import { logger } from "../../shared/observability.js";

loadConfig();

/**
 * The minute sweeper (ENGINE §6), invoked by an EventBridge Scheduler schedule
 * every minute (reserved concurrency 1, no retries: the next minute catches up).
 */
export const handler = middy()
  .use(injectLambdaContext(logger(), { resetKeys: true }))
  .handler(async () => {
    const result = await sweep(productEpoch());
    logger().info("sweep", { ...result });
    return result;
  });
