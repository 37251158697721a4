import { randomUUID } from "node:crypto";
import { inject } from "vitest";

/** A thin HTTP client for the local stack: every test talks to the API the way a user does. */
export const baseUrl = () => inject("baseUrl");
export const adminKey = () => inject("adminKey");

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

type Params = Record<string, unknown>;

async function send(method: string, path: string, init: { query?: Params; json?: unknown; form?: Params; headers?: Record<string, string>; raw?: string }) {
  const url = new URL(path, baseUrl());
  for (const [k, v] of Object.entries(init.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  let body: string | undefined;
  if (init.json !== undefined) {
    headers["content-type"] ??= "application/json";
    body = JSON.stringify(init.json);
  } else if (init.form) {
    headers["content-type"] = "application/x-www-form-urlencoded";
    const pairs = Object.entries(init.form).map(([k, v]): [string, string] => [k, typeof v === "string" ? v : JSON.stringify(v)]);
    body = new URLSearchParams(pairs).toString();
  } else if (init.raw !== undefined) {
    body = init.raw;
  }
  const res = await fetch(url, { method, headers, body, redirect: "manual" });
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed as Record<string, unknown>, text } satisfies ApiResponse;
}

export const http = {
  get: (path: string, query: Params = {}, headers: Record<string, string> = {}) => send("GET", path, { query, headers }),
  post: (path: string, json: unknown, headers: Record<string, string> = {}) => send("POST", path, { json, headers }),
  patch: (path: string, json: unknown, headers: Record<string, string> = {}) => send("PATCH", path, { json, headers }),
  form: (method: string, path: string, form: Params, headers: Record<string, string> = {}) => send(method, path, { form, headers }),
  raw: (method: string, path: string, raw: string, headers: Record<string, string> = {}) => send(method, path, { raw, headers }),
  /** The legacy entry point: everything in one bag, dispatched on Command. */
  legacy: (params: Params, method: "GET" | "POST" = "POST") =>
    method === "GET" ? send("GET", "/api.php", { query: params }) : send("POST", "/api.php", { form: params }),
};

export interface TestUser {
  userId: number;
  apiKey: string;
  username: string;
  email: string;
  password: string;
  /** Calls a v1 route as this user (APIKey header). */
  get(path: string, query?: Params): Promise<ApiResponse>;
  post(path: string, json?: Params): Promise<ApiResponse>;
  patch(path: string, json?: Params): Promise<ApiResponse>;
  legacy(params: Params, method?: "GET" | "POST"): Promise<ApiResponse>;
}

/**
 * Creates a user and returns a client bound to its API key. Users are seeded
 * straight into the local DynamoDB through the same domain function user.create
 * runs: the suite needs hundreds of users, and the admin key is itself rate
 * limited (100 a minute). user.create over HTTP has its own tests.
 */
export async function createUser(permissions?: string): Promise<TestUser> {
  Object.assign(process.env, inject("stackEnv"));
  const { createUser: seedUser } = await import("../../shared/domain/users/users.js");
  const tag = randomUUID().slice(0, 12);
  const username = `user-${tag}`;
  const email = `${tag}@example.com`;
  const password = `pw-${tag}`;
  const granted = (permissions ?? "Campaign.Create,Campaign.Delete").split(",").filter(Boolean) as ("Campaign.Create" | "Campaign.Delete")[];
  const { userId, apiKey } = await seedUser({ username, password, email, permissions: granted, now: new Date() });
  const auth = { APIKey: apiKey };
  return {
    userId,
    apiKey,
    username,
    email,
    password,
    get: (path, query = {}) => http.get(path, query, auth),
    post: (path, json = {}) => http.post(path, json, auth),
    patch: (path, json = {}) => http.patch(path, json, auth),
    legacy: (params, method = "POST") => http.legacy({ ...params, APIKey: apiKey }, method),
  };
}

/** The first error of an error envelope. */
export function firstError(res: ApiResponse): { Code: number; Message: string } | undefined {
  const errors = res.body?.["Errors"] as { Code: number; Message: string }[] | undefined;
  return errors?.[0];
}

/** Asserts nothing: returns `[status, code]` so tests can compare both in one expect. */
export const outcome = (res: ApiResponse): [number, number | undefined] => [res.status, firstError(res)?.Code];

/** Creates the reference records a journey can point at. */
export async function seedReferences(user: TestUser) {
  const list = Number((await user.post("/api/v1/list", { SubscriberListName: "Main list" })).body["ListID"]);
  const email = Number((await user.post("/api/v1/email", { EmailName: "Welcome", Subject: "Hello" })).body["EmailID"]);
  const tag = Number((await user.post("/api/v1/subscriber.tags", { ListID: list, TagName: "vip" })).body["TagID"]);
  const field = Number((await user.post("/api/v1/customfield", { SubscriberListID: list, FieldName: "City" })).body["CustomFieldID"]);
  return { list, email, tag, field };
}

export async function createJourney(user: TestUser, params: Params = {}): Promise<number> {
  const res = await user.post("/api/v1/journey", { Name: `Journey ${randomUUID().slice(0, 6)}`, ...params });
  if (res.status !== 200) throw new Error(`journey.create failed: ${res.status} ${res.text}`);
  return Number(res.body["JourneyID"]);
}

/** journey.get's Actions without the per-SendEmail statistics, to compare with a tree as saved. */
export function treeOf(body: Record<string, unknown>): Record<string, unknown>[] {
  return ((body["Actions"] as Record<string, unknown>[]) ?? []).map(({ Stats: _s, DailyStats: _d, Revenue: _r, DaysRevenue: _dr, ...action }) => action);
}
