import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { flushMetrics, logger } from "./observability.js";

/**
 * An SQS consumer Lambda: Powertools' batch processor builds the partial batch
 * response (a record whose handler throws is reported and redelivered alone),
 * with the same logger context and metrics flush as the HTTP functions.
 *
 * A batch in which every record failed is answered, not thrown: each record was
 * handled (a failed export attempt is an expected outcome with its own metric and
 * retry budget) and must not count as a Lambda error, which pages.
 *
 * `prepare` runs once per batch before any record and returns that batch's record
 * handler; the processor starts the handlers in batch order, in parallel.
 */
export function sqsWorker(
  prepare: (event: SQSEvent) => (record: SQSRecord) => Promise<void>,
): (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> {
  return middy<SQSEvent, SQSBatchResponse, Error, Context>()
    .use(injectLambdaContext(logger(), { resetKeys: true }))
    .use(flushMetrics())
    .handler((event, context) =>
      processPartialResponse(event, prepare(event), new BatchProcessor(EventType.SQS), { context, throwOnFullBatchFailure: false }),
    );
}
