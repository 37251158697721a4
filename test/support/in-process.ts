import { gunzipSync } from "node:zlib";
import { inject } from "vitest";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { buildEvent, lambdaContext } from "../../infra/local/gateway.js";

/**
 * Runs a group's real handler module inside the test process, against the same
 * DynamoDB Local as the HTTP tests, and counts the DynamoDB calls a command makes.
 * Authentication and the rate-limit counter are left out of the count: DESIGN.md's
 * round-trip budget covers the command's own data access.
 */
export type Handler = (e: APIGatewayProxyEventV2, c: Context) => Promise<APIGatewayProxyStructuredResultV2>;

/** `env` overrides the stack's environment for this test file's modules (e.g. a log level). */
export async function loadHandler(group: string, env: Record<string, string> = {}): Promise<Handler> {
  Object.assign(process.env, inject("stackEnv"), env);
  const mod = (await import(`../../functions/${group}/index.ts`)) as { handler: Handler };
  return mod.handler;
}

const isPlumbing = (input: Record<string, unknown>): boolean => {
  const key = input["Key"] as { PK?: unknown } | undefined;
  const pk = typeof key?.PK === "object" && key.PK !== null ? (key.PK as { S?: string }).S : key?.PK;
  return typeof pk === "string" && /^(APIKEY|SESSION|RATE)#/.test(pk);
};

let installed = false;
const calls: string[] = [];

/** Installs the counting middleware once per test file. */
export async function countingCalls(): Promise<{ reset(): void; count(): number; names(): string[] }> {
  Object.assign(process.env, inject("stackEnv"));
  const { ddb } = await import("../../shared/aws.js");
  if (!installed) {
    installed = true;
    ddb().middlewareStack.add(
      (next, context) => async (args) => {
        if (!isPlumbing(args.input as Record<string, unknown>)) calls.push(String(context.commandName));
        return next(args);
      },
      { step: "initialize", name: "count-round-trips" },
    );
  }
  return { reset: () => void calls.splice(0), count: () => calls.length, names: () => [...calls] };
}

/**
 * Calls a handler as a client that accepts gzip (as browsers and most HTTP clients
 * do): the large accounts' answers are over Lambda's 6 MB limit uncompressed.
 */
export async function invoke(handler: Handler, apiKey: string, method: string, path: string, query: Record<string, string | number> = {}) {
  const rawQuery = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)])).toString();
  const res = await handler(
    buildEvent({ method, path, rawQuery, routeKey: `${method} ${path}`, headers: { apikey: apiKey, "accept-encoding": "gzip" } }),
    lambdaContext("in-process"),
  );
  const text = res.isBase64Encoded ? gunzipSync(Buffer.from(res.body ?? "", "base64")).toString("utf8") : (res.body ?? "{}");
  return { status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> };
}
