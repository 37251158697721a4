import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";

/**
 * Lambda's limit on a synchronous invocation's response, shared by the HTTP stack
 * (which answers a documented error instead of crossing it) and the local gateway
 * (which fails past it as API Gateway does, so a local run breaks where AWS would).
 *
 * What is measured is the payload the runtime hands back to Lambda: the proxy
 * result object serialised with JSON.stringify, in UTF-8 bytes. That is the
 * statusCode, headers, isBase64Encoded and the body as a JSON string, so every `"`
 * and `\` of a JSON body counts twice, and a gzipped body counts in base64
 * (4/3 of its bytes). Lambda refuses more than 6 MiB + 100 bytes: its error reads
 * "Response payload size exceeded maximum allowed payload size (6291556 bytes)".
 */
export const LAMBDA_RESPONSE_LIMIT_BYTES = 6 * 1024 * 1024 + 100;

/** The size of a proxy result as Lambda counts it. */
export function lambdaPayloadBytes(result: APIGatewayProxyStructuredResultV2): number {
  return Buffer.byteLength(JSON.stringify(result), "utf8");
}
