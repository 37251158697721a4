import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import { productEpoch } from "../../shared/clock.js";
import { loadConfig } from "../../shared/config.js";
import { sweep } from "../../shared/engine/sweeper.js";
import { flushMetrics, logger, metrics } from "../../shared/observability.js";

loadConfig();

/**
 * The minute sweeper (ENGINE §6), invoked by an EventBridge Scheduler schedule
 * every minute (reserved concurrency 1, no retries: the next minute catches up).
 * Its three metrics feed §10's alarms: `SweeperLagMinutes` (missed minutes it had
 * to catch up on: the schedule or the function falling behind) and
 * `SweeperRecovered` (lost handoffs or failing workers).
 */
export const handler = middy()
  .use(injectLambdaContext(logger(), { resetKeys: true }))
  .use(flushMetrics())
  .handler(async () => {
    const result = await sweep(productEpoch());
    metrics().addMetric("SweeperHanded", "Count", result.handed);
    metrics().addMetric("SweeperRecovered", "Count", result.recovered);
    metrics().addMetric("SweeperLagMinutes", "Count", result.lagMinutes);
    // A quiet minute logs at DEBUG: locally the sweeper runs every LOCAL_SWEEP_MS and would flood the terminal.
    if (result.handed + result.recovered + result.lagMinutes > 0) logger().info("sweep", { ...result });
    else logger().debug("sweep", { ...result });
    return result;
  });
