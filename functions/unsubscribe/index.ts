import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { productNow } from "../../shared/clock.js";
import { loadConfig } from "../../shared/config.js";
import { confirmPage, failedText, notValidText, unsubscribedText, type Page } from "../../shared/delivery/unsubscribe-page.js";
import { unsubscribeByLink, validLink } from "../../shared/domain/subscribers/unsubscribe-link.js";
import { faultOf, flushMetrics, logger, logRequest } from "../../shared/observability.js";

// Fail fast at cold start when the environment is incomplete.
loadConfig();

/**
 * The public one-click unsubscribe function (ENGINE §8.4): `GET` and
 * `POST /unsubscribe/{token}`, no credentials but the signed token. GET only shows
 * the confirmation page, since mail scanners prefetch links; POST (any body, the
 * RFC 8058 one-click POST included) unsubscribes.
 *
 * Logged: the route's pattern, the status and the duration; never the path, which
 * holds the token.
 */
export const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>()
  .use(injectLambdaContext(logger(), { resetKeys: true }))
  .use(flushMetrics())
  .handler(async (event) => {
    const started = performance.now();
    const method = event.requestContext?.http?.method?.toUpperCase() ?? "GET";
    const token = event.pathParameters?.["token"] ?? "";
    let page: Page;
    try {
      if (method === "POST") {
        const done = await unsubscribeByLink(token, event.requestContext?.http?.sourceIp, productNow());
        page = done ? unsubscribedText() : notValidText();
      } else {
        page = (await validLink(token)) ? confirmPage() : notValidText();
      }
    } catch (err) {
      logger().error("unsubscribe link failed", { method, error: faultOf(err) });
      page = failedText();
    }
    logRequest(
      { command: "unsubscribe", route: `${method} /unsubscribe/{token}`, status: page.statusCode, durationMs: Math.round(performance.now() - started) },
      loadConfig().LOG_FORMAT === "text",
    );
    return page;
  });
