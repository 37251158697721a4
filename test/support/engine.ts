import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { startLocalStack, type LocalStack } from "../../infra/local/stack.js";

/**
 * A local stack of the test file's own, for engine tests: they move the product
 * clock (`/_local/clock`), which only ever goes forward, so they must not share
 * the suite's stack, whose other tests read "today". It is exactly `npm start`'s
 * stack, in memory, and the tests reach it only through HTTP.
 */
type Params = Record<string, unknown>;

export interface Reply {
  status: number;
  body: Record<string, unknown>;
  text: string;
}

export interface EngineUser {
  userId: number;
  apiKey: string;
  get(path: string, query?: Params): Promise<Reply>;
  post(path: string, json?: Params): Promise<Reply>;
  patch(path: string, json?: Params): Promise<Reply>;
}

export interface EngineStack {
  url: string;
  adminKey: string;
  stack: LocalStack;
  user(): Promise<EngineUser>;
  /** A `/_local/*` route with the admin key. */
  local(method: string, path: string, json?: unknown): Promise<Reply>;
  /** Polls `/_local/engine` until Idle (the steps and events queues empty, nothing due). */
  idle(timeoutMs?: number): Promise<void>;
  /** Moves the product clock forward and waits for the engine to settle. */
  advance(seconds: number): Promise<Reply>;
  stop(): Promise<void>;
}

async function call(url: string, method: string, path: string, opts: { query?: Params; json?: unknown; headers?: Record<string, string> }): Promise<Reply> {
  const u = new URL(path, url);
  for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) u.searchParams.set(k, typeof v === "string" ? v : JSON.stringify(v));
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  let body: string | undefined;
  if (opts.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(opts.json);
  }
  const res = await fetch(u, { method, headers, body });
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Not JSON: the test reads `text`.
  }
  return { status: res.status, body: parsed, text };
}

export async function startEngineStack(
  env: Record<string, string> = {},
  opts: { rateLimitPerMinute?: number; handlerModules?: Record<string, string> } = {},
): Promise<EngineStack> {
  Object.assign(process.env, { LOCAL_SWEEP_MS: "500", ...env });
  const adminKey = `engine-admin-${randomUUID()}`;
  // The bench's engine section raises the limit further: 10,000 calls in well under a minute.
  // Its own web directory: another file's stack may be rebuilding the shared one at this moment.
  const webDir = fileURLToPath(new URL(`../../.build/web-engine-${process.pid}`, import.meta.url));
  const stack = await startLocalStack({ port: 0, adminKey, rateLimitPerMinute: opts.rateLimitPerMinute ?? 100_000, logLevel: "WARN", webDir,
    ...(opts.handlerModules ? { handlerModules: opts.handlerModules } : {}),
  });
  const url = stack.url;
  const local = (method: string, path: string, json?: unknown) => call(url, method, path, { json, headers: { AdminAPIKey: adminKey } });
  const idle = async (timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    let last: Reply | undefined;
    // Two Idle answers in a row: a step in flight may still be about to write its next message.
    let streak = 0;
    while (Date.now() < deadline) {
      last = await local("GET", "/_local/engine");
      streak = last.body["Idle"] === true ? streak + 1 : 0;
      if (streak >= 2) return;
      await new Promise((r) => setTimeout(r, 150));
    }
    throw new Error(`engine not idle after ${timeoutMs} ms: ${last?.text}`);
  };
  return {
    url,
    adminKey,
    stack,
    local,
    idle,
    async advance(seconds: number) {
      const r = await local("POST", "/_local/clock", { AdvanceSeconds: seconds });
      await idle();
      return r;
    },
    async user() {
      const { createUser } = await import("../../shared/domain/users/users.js");
      const tag = randomUUID().slice(0, 12);
      const { userId, apiKey } = await createUser({
        username: `eng-${tag}`,
        password: `pw-${tag}`,
        email: `${tag}@example.com`,
        permissions: ["Campaign.Create", "Campaign.Delete"],
        now: new Date(),
      });
      const headers = { APIKey: apiKey };
      return {
        userId,
        apiKey,
        get: (path, query = {}) => call(url, "GET", path, { query, headers }),
        post: (path, json = {}) => call(url, "POST", path, { json, headers }),
        patch: (path, json = {}) => call(url, "PATCH", path, { json, headers }),
      };
    },
    stop: async () => {
      await stack.stop();
      rmSync(webDir, { recursive: true, force: true });
    },
  };
}

/**
 * A subscriber, written as the engine's subscriber item (until subscriber.create
 * writes it itself). `attrs` (Tags, CustomFields, SubscriptionStatus, …) are
 * merged into the item, as a test's starting state.
 */
export async function subscriber(user: EngineUser, list: number, email: string, attrs: Record<string, unknown> = {}): Promise<number> {
  const res = await user.post("/api/v1/subscriber", { ListID: list, EmailAddress: email });
  if (res.status !== 200) throw new Error(`subscriber.create: ${res.text}`);
  const id = Number(res.body["SubscriberID"]);
  const { keys } = await import("../../shared/keys.js");
  const { batchPut, batchGet, keyId } = await import("../../shared/domain/owned.js");
  const key = keys.subscriber(user.userId, id);
  const found = (await batchGet([key], { consistent: true })).get(keyId(key));
  if (!found || Object.keys(attrs).length > 0) {
    const base = found ?? { UserID: user.userId, SubscriberID: id, ListID: list, EmailAddress: email, SubscriptionStatus: "Subscribed", Tags: [], CustomFields: {}, Version: 0 };
    await batchPut([{ ...base, ...attrs, ...key, Version: Number(base["Version"] ?? 0) + 1 }]);
  }
  return id;
}

/** The engine's subscriber item, read consistently (undefined once deleted). */
export async function subscriberItem(userId: number, subscriberId: number): Promise<Record<string, unknown> | undefined> {
  const { keys } = await import("../../shared/keys.js");
  const { getConsistent } = await import("../../shared/engine/store.js");
  return getConsistent(keys.subscriber(userId, subscriberId));
}

/** A subscriber's cursors (every enrolment, ended ones included), oldest EntryID first per journey. */
export async function cursorsOf(userId: number, subscriberId: number): Promise<Record<string, unknown>[]> {
  const { engineItemsOf } = await import("../../shared/engine/fanout.js");
  return (await engineItemsOf(userId, subscriberId)).filter((i) => typeof i["EntryID"] === "string");
}

/** A subscriber's memberships (one per journey ever entered). */
export async function membershipsOf(userId: number, subscriberId: number): Promise<Record<string, unknown>[]> {
  const { engineItemsOf } = await import("../../shared/engine/fanout.js");
  return (await engineItemsOf(userId, subscriberId)).filter((i) => typeof i["EntryID"] !== "string");
}
