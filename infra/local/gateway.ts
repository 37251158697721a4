import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { randomUUID } from "node:crypto";
import type { Group } from "../../shared/command.js";
import { LAMBDA_RESPONSE_LIMIT_BYTES, lambdaPayloadBytes } from "../../shared/http/payload-limit.js";
import { matchPublicRoute, type PublicTarget } from "../../shared/public-routes.js";
import { commands, entryOf } from "../../shared/registry.js";
import { isWebPath } from "../../shared/web.js";

/**
 * The local stand-in for API Gateway (HTTP API). It serves exactly the routes the
 * CDK stack declares, from the same registry, and hands each request to the same
 * handler module as an API Gateway v2 event. Anything else goes where API
 * Gateway's $default route goes: the legacy dispatcher.
 */
type Handler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

const routes = new Map<string, Group>();
for (const c of commands) if (c.route) routes.set(`${c.route.method} ${c.route.path}`, c.group);

const handlers = new Map<string, Promise<Handler>>();
function handlerFor(target: Group | "legacy" | "web" | PublicTarget, root: string): Promise<Handler> {
  let h = handlers.get(target);
  if (!h) {
    const entry = target === "web" || target === "unsubscribe" ? `functions/${target}/index.ts` : entryOf(target);
    h = import(new URL(entry, root).href).then((m: { handler: Handler }) => m.handler);
    handlers.set(target, h);
  }
  return h;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** `timeoutMs`: the deployed function's timeout, so middy's early timeout fires when Lambda's would. */
export function lambdaContext(name: string, timeoutMs = 29_000): Context {
  const started = Date.now();
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: name,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${name}`,
    memoryLimitInMB: "512",
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: "local",
    getRemainingTimeInMillis: () => Math.max(0, started + timeoutMs - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** An API Gateway HTTP API (payload 2.0) event, as the real service would deliver it. */
export function buildEvent(r: {
  method: string;
  path: string;
  rawQuery?: string;
  headers?: Record<string, string>;
  body?: Buffer;
  routeKey: string;
  sourceIp?: string;
  /** A public route's `{name}` values (shared/public-routes.ts), as API Gateway passes them. */
  pathParameters?: Record<string, string>;
}): APIGatewayProxyEventV2 {
  const headers = r.headers ?? {};
  const body = r.body ?? Buffer.alloc(0);
  return {
    version: "2.0",
    routeKey: r.routeKey,
    rawPath: r.path,
    rawQueryString: r.rawQuery ?? "",
    headers,
    requestContext: {
      accountId: "000000000000",
      apiId: "local",
      domainName: headers["host"] ?? "localhost",
      domainPrefix: "local",
      http: {
        method: r.method,
        path: r.path,
        protocol: "HTTP/1.1",
        sourceIp: r.sourceIp ?? "127.0.0.1",
        userAgent: headers["user-agent"] ?? "",
      },
      requestId: randomUUID(),
      routeKey: r.routeKey,
      stage: "$default",
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
    },
    body: body.length ? body.toString("base64") : undefined,
    isBase64Encoded: body.length > 0,
    ...(r.pathParameters ? { pathParameters: r.pathParameters } : {}),
  };
}

/** A route outside the registry that the local stack serves itself (the engine's `/_local/*`); false: not its path. */
export type LocalRoutes = (req: IncomingMessage, res: ServerResponse, path: string) => Promise<boolean>;

async function handle(req: IncomingMessage, res: ServerResponse, root: string, local?: LocalRoutes): Promise<void> {
  const url = new URL(req.url ?? "/", "http://localhost");
  if (local && (await local(req, res, url.pathname))) return;
  const method = (req.method ?? "GET").toUpperCase();
  const routeKey = `${method} ${url.pathname}`;
  const legacy = url.pathname === "/api.php" && (method === "GET" || method === "POST");
  const group = routes.get(routeKey);
  // The pages and their assets (shared/web.ts): GET routes, as in the CDK stack.
  const web = !group && method === "GET" && isWebPath(url.pathname);
  // Public routes with path parameters (shared/public-routes.ts); their routeKey is the pattern, as API Gateway sends it.
  const pub = group || web ? undefined : matchPublicRoute(method, url.pathname);
  const target: Group | "legacy" | "web" | PublicTarget = group ?? (web ? "web" : (pub?.target ?? "legacy"));
  const body = await readBody(req);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(",") : v;
  const event = buildEvent({
    method,
    path: url.pathname,
    rawQuery: url.search.slice(1),
    headers,
    body,
    routeKey: pub ? pub.routeKey : group || legacy || web ? routeKey : "$default",
    sourceIp: req.socket.remoteAddress ?? "",
    ...(pub ? { pathParameters: pub.pathParameters } : {}),
  });
  const handler = await handlerFor(target, root);
  const reply = toHttp(await handler(event, lambdaContext(`journey-api-${target}`)));
  res.writeHead(reply.status, { ...reply.headers, "Content-Length": String(reply.body.length) });
  res.end(reply.body);
}

/**
 * What API Gateway sends for a function's result. Past Lambda's response limit
 * the invocation fails and an HTTP API answers a bare 500 in its own shape, not the
 * API's envelope; the local run fails the same way, so a handler that forgets the
 * limit is caught here rather than deployed.
 */
export function toHttp(result: APIGatewayProxyStructuredResultV2): { status: number; headers: Record<string, string>; body: Buffer } {
  if (lambdaPayloadBytes(result) > LAMBDA_RESPONSE_LIMIT_BYTES) {
    return {
      status: 500,
      headers: { "Content-Type": "application/json" },
      body: Buffer.from(JSON.stringify({ message: "Internal Server Error" })),
    };
  }
  return {
    status: result.statusCode ?? 200,
    headers: (result.headers ?? {}) as Record<string, string>,
    body: result.isBase64Encoded ? Buffer.from(result.body ?? "", "base64") : Buffer.from(result.body ?? ""),
  };
}

export async function startGateway(port: number, root: string, local?: LocalRoutes): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    handle(req, res, root, local).catch((err: unknown) => {
      console.error("local gateway fault", err);
      if (!res.headersSent) res.writeHead(500, { "Content-Type": "application/json; charset=utf-8" });
      res.end(JSON.stringify({ Success: false, Errors: [{ Code: 100005, Message: "Internal error" }] }));
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  const { port: actual } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${actual}` };
}
