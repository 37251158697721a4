import { gzipSync } from "node:zlib";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy, { type MiddlewareObj, type Request } from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { RawReply, type Caller, type CommandDef, type CommandEntry, type Group, type GroupLoader } from "../command.js";
import { loadConfig } from "../config.js";
import { productNow } from "../clock.js";
import { AUTH, CommandError, HARD, responseTooLarge, unknownCommand } from "../errors.js";
import { consumeRateLimit, type RateState } from "../domain/users/rate-limit.js";
import { faultOf, flushMetrics, logger, logRequest } from "../observability.js";
import { sha256Hex } from "../domain/secrets.js";
import { authenticate, rateOwner } from "./auth.js";
import { errorBody, internalError, JSON_TYPE, statusFor, type Mode } from "./envelope.js";
import { LAMBDA_RESPONSE_LIMIT_BYTES, lambdaPayloadBytes } from "./payload-limit.js";
import { mergeParams, type HttpRequest } from "./request.js";
import { canonicalNames, validateParams } from "./validate.js";

/**
 * The one middy stack every HTTP Lambda runs. In order: turn the API Gateway v2
 * event into a transport-neutral request (merged, case-insensitive parameters),
 * pick the command, authenticate, rate limit, check permission, validate, call
 * the command, and shape the envelope and status. `mode` decides the status of
 * handler errors: real statuses on v1 routes, HTTP 200 on /api.php.
 */
type Event = APIGatewayProxyEventV2;
type Result = APIGatewayProxyStructuredResultV2;

interface State {
  req: HttpRequest;
  mode: Mode;
  def?: CommandDef;
  caller?: Caller;
  rate?: RateState;
  input?: unknown;
  now: Date;
  /** The contract error code answered, if any (for the request log line). */
  errorCode?: number;
}

const states = new WeakMap<object, State>();
const stateOf = (request: Request<Event, Result>): State => {
  const s = states.get(request.event);
  if (!s) throw new Error("request state missing");
  return s;
};

function toRequest(event: Event): HttpRequest {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.headers ?? {})) if (v !== undefined) headers[k.toLowerCase()] = v;
  const body = event.body
    ? event.isBase64Encoded
      ? Buffer.from(event.body, "base64").toString("utf8")
      : event.body
    : "";
  return {
    method: event.requestContext?.http?.method?.toUpperCase() ?? "GET",
    path: event.rawPath ?? "/",
    headers,
    params: mergeParams(event.rawQueryString ?? "", body, headers["content-type"] ?? ""),
  };
}

function rateHeaders(rate: RateState | undefined): Record<string, string> {
  if (!rate) return {};
  return {
    "X-RateLimit-Limit": String(rate.limit),
    "X-RateLimit-Remaining": String(rate.remaining),
    "X-RateLimit-Reset": String(rate.reset),
  };
}

function json(statusCode: number, body: unknown, headers: Record<string, string>): Result {
  return { statusCode, headers: { "Content-Type": JSON_TYPE, ...headers }, body: JSON.stringify(body) };
}

/**
 * Large bodies are gzipped for clients that accept it. Statistics are mostly
 * zero-filled series that compress 20-50×, and Lambda refuses a synchronous
 * response over 6 MB: journey.list with stats for 1,000 journeys is about 8 MB.
 */
const COMPRESS_FROM_BYTES = 16 * 1024;

function compress(result: Result): Result {
  const body = result.body ?? "";
  if (body.length < COMPRESS_FROM_BYTES) return result;
  return {
    ...result,
    headers: { ...result.headers, "Content-Encoding": "gzip", Vary: "Accept-Encoding" },
    body: gzipSync(body).toString("base64"),
    isBase64Encoded: true,
  };
}

/**
 * The last step of every successful answer, of every function: gzip when the
 * client accepts it, then check the result as Lambda will measure it. Past the
 * limit the runtime would fail the invocation and API Gateway would answer an
 * opaque 5xx; the caller gets the documented error, saying what to ask instead.
 */
function deliver(result: Result, acceptEncoding: string | undefined): Result {
  const gzip = /\bgzip\b/i.test(acceptEncoding ?? "");
  const out = gzip ? compress(result) : result;
  const bytes = lambdaPayloadBytes(out);
  if (bytes > LAMBDA_RESPONSE_LIMIT_BYTES) throw responseTooLarge(bytes, LAMBDA_RESPONSE_LIMIT_BYTES, out !== result);
  return out;
}

function errorResult(err: CommandError, mode: Mode, state: State | undefined): Result {
  return json(statusFor(err, mode), errorBody(err, state?.def?.errorShape), { ...rateHeaders(state?.rate), ...err.headers });
}

export interface Router {
  resolve(req: HttpRequest, mode: Mode, routeKey: string): Promise<CommandDef>;
}

/**
 * The lookup over a registry slice: by name on /api.php, by route on v1. `load`
 * turns an entry into its definition; for a group Lambda the entries are the
 * definitions themselves, for the /api.php dispatcher they come from the light
 * index and `load` imports the entry's group on first use.
 */
function routerOver<E extends CommandEntry>(entries: readonly E[], load: (entry: E) => CommandDef | Promise<CommandDef>): Router {
  const byRoute = new Map<string, E>();
  const byName = new Map<string, E>();
  const paths = new Set<string>();
  for (const c of entries) {
    byName.set(c.name.toLowerCase(), c);
    if (c.route) {
      byRoute.set(`${c.route.method} ${c.route.path}`, c);
      paths.add(c.route.path);
    }
  }
  return {
    async resolve(req, mode, routeKey) {
      const given = req.params.get("command");
      const name = typeof given === "string" ? given.trim() : "";
      if (mode === "legacy" && (req.path === "/api.php" || routeKey.endsWith(" /api.php"))) {
        const entry = byName.get(name.toLowerCase());
        if (!entry) throw unknownCommand(name);
        return load(entry);
      }
      const entry = byRoute.get(routeKey) ?? byRoute.get(`${req.method} ${req.path}`);
      if (!entry) {
        // A known path with another method is a wrong "connection method" (100001).
        if (paths.has(req.path)) {
          throw new CommandError(HARD.invalidMethod, `Unsupported method ${req.method} for ${req.path}`, "hard");
        }
        throw unknownCommand(name || `${req.method} ${req.path}`);
      }
      // On v1 the route picks the command; a Command naming another one is rejected.
      if (name !== "" && name.toLowerCase() !== entry.name.toLowerCase()) throw unknownCommand(name);
      return load(entry);
    },
  };
}

/** Builds the lookup from the registry slice a Lambda serves, every definition already loaded. */
export function makeRouter(commands: readonly CommandDef[]): Router {
  return routerOver(commands, (def) => def);
}

/**
 * The /api.php dispatcher's lookup: names and routes from the index, and a
 * group's definitions imported on the first call to one of its commands, so a
 * cold start loads the dispatcher and the one group it is asked for. A failed
 * import is not remembered: the next call tries again.
 */
export function lazyRouter(index: readonly CommandEntry[], groups: Record<Group, GroupLoader>): Router {
  const loaded = new Map<Group, Promise<Map<string, CommandDef>>>();
  const groupOf = (group: Group): Promise<Map<string, CommandDef>> => {
    let defs = loaded.get(group);
    if (!defs) {
      defs = groups[group]().then((list) => new Map(list.map((d) => [d.name.toLowerCase(), d])));
      defs.catch(() => loaded.delete(group));
      loaded.set(group, defs);
    }
    return defs;
  };
  return routerOver(index, async (entry) => {
    const def = (await groupOf(entry.group)).get(entry.name.toLowerCase());
    // Only a stale shared/command-index.ts could get here; a unit test keeps it current.
    if (!def) throw new Error(`command ${entry.name} is not in group ${entry.group}`);
    return def;
  });
}

function plumbing(router: Router, mode: Mode): MiddlewareObj<Event, Result> {
  return {
    name: "journey-api-plumbing",
    before: async (request) => {
      const now = new Date();
      const state: State = { req: undefined as unknown as HttpRequest, mode, now };
      states.set(request.event, state);
      state.req = toRequest(request.event);
      const def = await router.resolve(state.req, mode, request.event.routeKey ?? "");
      state.def = def;
      state.caller = await authenticate(state.req, def.scope, now);

      const owner = rateOwner(state.caller) ?? def.rateLimitKey?.(state.req.params);
      if (owner) {
        // Owners derived from user input are hashed: any length fits a DynamoDB key.
        const key = state.caller.kind === "anonymous" ? `ANON#${sha256Hex(owner)}` : owner;
        state.rate = await consumeRateLimit(key, loadConfig().RATE_LIMIT_PER_MINUTE, now);
        if (!state.rate.allowed) {
          throw new CommandError(429, "Rate limit exceeded", "rateLimit", {
            "Retry-After": String(Math.max(1, state.rate.reset - Math.floor(now.getTime() / 1000))),
          });
        }
      }
      if (def.permission && state.caller.kind === "user" && !state.caller.permissions.includes(def.permission)) {
        throw AUTH.permission();
      }
      state.input = validateParams(def.params, namesFor(def), state.req.params);
    },
    after: (request) => {
      const state = stateOf(request);
      const reply = request.response as unknown;
      const result =
        reply instanceof RawReply
          ? { statusCode: reply.statusCode, headers: { ...rateHeaders(state.rate), ...reply.headers }, body: reply.body }
          : json(200, state.def?.bareSuccess ? reply : { Success: true, ...(reply as object) }, rateHeaders(state.rate));
      try {
        request.response = deliver(result, state.req.headers["accept-encoding"]);
      } catch (err) {
        if (!(err instanceof CommandError)) throw err;
        // Logged so operators see which commands reach the limit and how often.
        logger().warn("response too large", { command: state.def?.name, error: err.message });
        state.errorCode = err.code;
        request.response = errorResult(err, mode, state);
      }
    },
    onError: (request) => {
      const state = states.get(request.event);
      const err = request.error;
      let known: CommandError;
      if (err instanceof CommandError) {
        known = err;
      } else {
        // Internals go to the log only. The event is never logged: it carries credentials.
        logger().error("unhandled fault", { command: state?.def?.name, error: faultOf(err) });
        known = internalError();
      }
      if (state) state.errorCode = known.code;
      request.response = errorResult(known, mode, state);
    },
  };
}

/**
 * One log line (and the request metrics) per request, written after the plumbing
 * shaped the response. Only named fields: never the event, the parameters or the
 * headers, which carry credentials.
 */
function requestLog(): MiddlewareObj<Event, Result> {
  const started = new WeakMap<object, number>();
  const write = (request: Request<Event, Result>) => {
    const state = states.get(request.event);
    const caller = state?.caller;
    logRequest(
      {
        command: state?.def?.name,
        route: request.event.routeKey ?? "",
        status: request.response?.statusCode ?? 500,
        ...(state?.errorCode !== undefined ? { errorCode: state.errorCode } : {}),
        durationMs: Math.round(performance.now() - (started.get(request.event) ?? performance.now())),
        ...(caller?.kind === "user" ? { userId: caller.userId } : {}),
      },
      loadConfig().LOG_FORMAT === "text",
    );
  };
  return {
    name: "journey-api-request-log",
    before: (request) => {
      started.set(request.event, performance.now());
      // API Gateway's request id ties this line to the access log; Lambda's is added by injectLambdaContext.
      logger().setCorrelationId(request.event.requestContext?.requestId);
    },
    after: write,
    onError: write,
  };
}

const namesCache = new WeakMap<CommandDef, Map<string, string>>();
function namesFor(def: CommandDef): Map<string, string> {
  let names = namesCache.get(def);
  if (!names) namesCache.set(def, (names = canonicalNames(def.params)));
  return names;
}

/**
 * The Lambda handler for a group of commands, or for all of them behind /api.php
 * (given a lazyRouter, which loads each group on first use).
 */
export function httpHandler(served: readonly CommandDef[] | Router, mode: Mode) {
  const router = "resolve" in served ? served : makeRouter(served);
  return middy<Event, Result, Error, Context>()
    .use(injectLambdaContext(logger(), { resetKeys: true }))
    .use(flushMetrics())
    .use(requestLog())
    .use(plumbing(router, mode))
    .handler(async (event: Event) => {
      const state = states.get(event);
      if (!state?.def || !state.caller) throw new Error("plumbing did not run");
      // Commands run on the product clock (ENGINE §2); auth and rate windows above keep the real one.
      return (await state.def.run(state.input as never, { caller: state.caller, now: productNow() })) as unknown as Result;
    });
}
