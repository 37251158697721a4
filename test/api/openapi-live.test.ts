import { readFileSync } from "node:fs";
import { Validator } from "@cfworker/json-schema";
import { beforeAll, describe, expect, it } from "vitest";
import { commands } from "../../shared/registry.js";
import { SHAPED_COMMANDS } from "../../shared/responses.js";
import { adminKey, baseUrl, createUser, type TestUser } from "../support/api.js";
import { DAYS, eventSet, statsJourney, type Fixture } from "../support/event-set.js";

/**
 * The committed OpenAPI document (docs/openapi.json, which a unit test keeps equal
 * to the registry) checked against live answers, as an outside validator proxying
 * real traffic would: every status must be declared for its operation, and every
 * JSON body must match the declared schema. Each operation is called at least once.
 */
type Json = Record<string, any>;
const doc = JSON.parse(readFileSync(new URL("../../docs/openapi.json", import.meta.url), "utf8")) as Json;

/** Inlines `#/components/...` references so each response schema stands alone. */
function deref(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(deref);
  if (node && typeof node === "object") {
    const ref = (node as Json)["$ref"];
    if (typeof ref === "string") return deref(ref.slice(2).split("/").reduce((o: Json, k) => o[k], doc));
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, deref(v)]));
  }
  return node;
}

const exercised = new Set<string>();
const answered = new Set<string>();

async function check(method: string, path: string, init: { query?: Json; body?: unknown; form?: Json; headers?: Record<string, string> } = {}) {
  const url = new URL(path, baseUrl());
  for (const [k, v] of Object.entries(init.query ?? {})) url.searchParams.set(k, String(v));
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  let body: string | undefined;
  if (init.form) {
    headers["content-type"] = "application/x-www-form-urlencoded";
    body = new URLSearchParams(init.form).toString();
  } else if (init.body !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(init.body);
  }
  const res = await fetch(url, { method, headers, body, redirect: "manual" });
  const text = await res.text();
  const op = doc["paths"]?.[path]?.[method.toLowerCase()];
  const where = `${method} ${path} → ${res.status} ${text.slice(0, 200)}`;
  expect(op, `${method} ${path} is not in the document`).toBeDefined();
  exercised.add(op.operationId);
  const declared = op.responses[String(res.status)];
  expect(declared, `undeclared answer: ${where}`).toBeDefined();
  answered.add(`${op.operationId} ${res.status}`);
  const schema = declared.content?.["application/json"]?.schema;
  if (schema) {
    expect(res.headers.get("content-type"), where).toMatch(/^application\/json/);
    const result = new Validator(deref(schema) as object, "2020-12", false).validate(JSON.parse(text));
    expect(result.errors.map((e) => `${e.instanceLocation}: ${e.error}`), where).toEqual([]);
  }
  // Every error code answered is one the operation lists (x-error-codes, the table /docs shows).
  const code = res.status >= 400 && text.startsWith("{") ? (JSON.parse(text) as Json)["Errors"]?.[0]?.["Code"] : undefined;
  if (op["x-error-codes"] && code !== undefined) {
    expect.soft((op["x-error-codes"] as { code: number }[]).map((c) => c.code), `undeclared error code ${code}: ${where}`).toContain(code);
  }
  for (const h of Object.keys(declared.headers ?? {})) {
    if (h === "Location" || h === "Retry-After") expect(res.headers.get(h), `${where}: header ${h}`).toBeTruthy();
  }
  return { status: res.status, body: text ? (JSON.parse(res.headers.get("content-type")?.startsWith("application/json") ? text : "null") as Json) : null, headers: res.headers };
}

let user: TestUser;
let other: TestUser;
let f: Fixture;
const WINDOW = { StartDate: DAYS[0], EndDate: DAYS[2] };

beforeAll(async () => {
  [user, other] = await Promise.all([createUser(), createUser()]);
  f = await statsJourney(user, "Validated");
  expect((await user.post("/api/v1/journey.events", { Events: eventSet(f, "oas") })).status).toBe(200);
}, 60_000);

describe("the OpenAPI document against live answers", () => {
  it("declares the answers of every operation without credentials and without parameters", async () => {
    const routed = commands.filter((c) => c.route);
    for (const c of routed) {
      const { method, path } = c.route!;
      // Without credentials: 401 for user and admin commands, the command's own answer otherwise.
      await check(method, path, method === "GET" ? {} : { body: {} });
      // With credentials and no parameters: a validation code, or success for commands that need none.
      const auth: Record<string, string> = c.scope === "admin" ? { AdminAPIKey: adminKey() } : { APIKey: other.apiKey };
      if (c.scope !== "none" && c.name !== "user.create") await check(method, path, method === "GET" ? { headers: auth } : { body: {}, headers: auth });
    }
    // A wrong method on a v1 path (100001) and a malformed JSON body (100000).
    const res = await fetch(new URL("/api/v1/journey", baseUrl()), { method: "POST", headers: { APIKey: other.apiKey, "content-type": "application/json" }, body: "{" });
    expect(res.status).toBe(400);
    expect(doc["paths"]["/api/v1/journey"]["post"]["responses"]["400"]).toBeDefined();
    expect(exercised.size).toBe(routed.length);
  }, 60_000);

  it("declares the success shapes of the console's commands, with real statistics", async () => {
    const auth = { APIKey: user.apiKey };
    const id = { JourneyID: f.journeyId };
    await check("GET", "/health");
    await check("POST", "/api/v1/user.login", { body: { Username: user.username, Password: user.password } });
    const created = await check("POST", "/api/v1/journey", { body: { Name: "Second" }, headers: auth });
    expect(created.status).toBe(200);
    await check("PATCH", "/api/v1/journey", { body: { JourneyID: created.body?.["JourneyID"], Name: "Second, renamed" }, headers: auth });
    await check("GET", "/api/v1/journey", { query: { ...id, ...WINDOW, IncludeActivityCounters: 1 }, headers: auth });
    await check("GET", "/api/v1/journeys", { query: { StatsStartDate: WINDOW.StartDate, StatsEndDate: WINDOW.EndDate }, headers: auth });
    await check("GET", "/api/v1/journeys", { query: { SkipStats: 1 }, headers: auth });
    await check("GET", "/api/v1/journey.enable", { query: id, headers: auth });
    expect((await check("GET", "/api/v1/journey.enable", { query: id, headers: auth })).status).toBe(409);
    await check("GET", "/api/v1/journey.disable", { query: id, headers: auth });
    await check("GET", "/api/v1/journey.stats.byisp", { query: { ...id, ...WINDOW }, headers: auth });
    await check("GET", "/api/v1/journey.stats.byaction", { query: { ...id, ...WINDOW }, headers: auth });
    await check("GET", "/api/v1/account.journey.benchmark", { query: WINDOW, headers: auth });
    await check("GET", "/api/v1/journey.action.subscribers", { query: { ...id, ActionID: f.a1, FilterJSON: '["opened"]' }, headers: auth });
    expect((await check("GET", "/api/v1/journey", { query: { JourneyID: 999999 }, headers: auth })).status).toBe(404);
  }, 60_000);

  it("declares the success shapes of the other commands", async () => {
    const auth = { APIKey: user.apiKey };
    const ok = async (method: string, path: string, init: Parameters<typeof check>[2]) => {
      const res = await check(method, path, { headers: auth, ...init });
      expect(res.status, `${method} ${path} ${JSON.stringify(res.body)}`).toBe(200);
      return res.body as Json;
    };
    const list = (await ok("POST", "/api/v1/list", { body: { SubscriberListName: "Shapes" } }))["ListID"];
    const email = (await ok("POST", "/api/v1/email", { body: { EmailName: "E", Subject: "S" } }))["EmailID"];
    await ok("POST", "/api/v1/customfield", { body: { SubscriberListID: list, FieldName: "City" } });
    await ok("POST", "/api/v1/subscriber.tags", { body: { ListID: list, TagName: "vip" } });
    const subscriber = (await ok("POST", "/api/v1/subscriber", { body: { ListID: list, EmailAddress: "shape@example.com" } }))["SubscriberID"];
    const tagId = (await ok("POST", "/api/v1/subscriber.tags", { body: { ListID: list, TagName: "shape" } }))["TagID"];
    const sub = { SubscriberListID: list, SubscriberID: subscriber };
    await ok("POST", "/api/v1/subscriber.tag", { body: { ...sub, TagID: tagId } });
    await ok("PATCH", "/api/v1/subscriber", { body: { ...sub, PhoneNumber: "+14155550123" } });
    await ok("GET", "/api/v1/subscriber", { query: { ListID: list, SubscriberID: subscriber } });
    await ok("GET", "/api/v1/subscriber.activity", { query: sub });
    await ok("POST", "/api/v1/subscriber.untag", { body: { ...sub, TagID: tagId } });
    await ok("POST", "/api/v1/subscriber.unsubscribe", { body: { ListID: list, SubscriberID: subscriber } });
    expect((await check("POST", "/api/v1/subscriber.unsubscribe", { body: { ListID: list, SubscriberID: subscriber }, headers: auth })).status).toBe(409);
    const unknown = await check("PATCH", "/api/v1/subscriber", { body: { ...sub, Fields: { 999999: "x" } }, headers: auth });
    expect([unknown.status, unknown.body?.["ErrorCustomFieldIDs"]]).toEqual([422, ["999999"]]);
    for (const path of ["/api/v1/lists", "/api/v1/emails", "/api/v1/customfields", "/api/v1/subscriber.tags", "/api/v1/journey.sendemailactions"]) await ok("GET", path, {});
    await ok("GET", "/api/v1/email", { query: { EmailID: email } });
    const j = (await ok("POST", "/api/v1/journey", { body: { Name: "Shapes", Trigger: "ListSubscription", Trigger_ListID: list } }))["JourneyID"];
    await ok("PATCH", "/api/v1/journey.actions", { body: { JourneyID: j, Actions: [{ Action: "SendEmail", EmailID: email }] } });
    await ok("PATCH", "/api/v1/journey.actions.published", { body: { JourneyID: j, Actions: [] } });
    const picked = await ok("GET", "/api/v1/journey.sendemailactions", { query: { JourneyID: j, IncludeDisabled: 1, IncludeUnpublished: 1 } });
    expect(picked["Actions"]).toHaveLength(1);
    await ok("POST", "/api/v1/journeys.enable", { body: { JourneyIDs: String(j) } });
    await ok("POST", "/api/v1/journeys.disable", { body: { JourneyIDs: String(j) } });
    await ok("GET", "/api/v1/journey.enable", { query: { JourneyID: j } });
    const member = { ListID: list, SubscriberID: subscriber };
    await ok("POST", "/api/v1/subscriber.journey.trigger", { body: { JourneyID: j, ...member } });
    await ok("POST", "/api/v1/subscriber.journey.list", { body: member });
    await ok("POST", "/api/v1/subscriber.journey.exit", { body: { JourneyID: j, ...member } });
    await ok("POST", "/api/v1/subscriber.journey.remove", { body: { JourneyID: j, ...member } });
    await ok("POST", "/api/v1/journey.clone", { body: { JourneyID: j, NewJourneyName: "Shapes copy" } });
    await ok("POST", "/api/v1/journeys.clone", { body: { JourneyIDs: String(j) } });
    await ok("POST", "/api/v1/journey.copytouser", { body: { JourneyID: j, SourceUserID: user.userId, TargetUserID: other.userId }, headers: { AdminAPIKey: adminKey() } });
    await ok("POST", "/api/v1/journey.events", { body: { Events: [{ EventID: "shape-1", Type: "Enrolled", JourneyID: j, SubscriberID: 9, EmailAddress: "s@example.com" }] } });
    const tag = Math.random().toString(36).slice(2, 10);
    await ok("POST", "/api/v1/user", { body: { Username: `shape-${tag}`, Password: "pw", EmailAddress: `${tag}@example.com` }, headers: { AdminAPIKey: adminKey() } });
    await ok("POST", "/api/v1/email.delete", { body: { EmailID: email } });
    await ok("POST", "/api/v1/journey.delete", { body: { JourneyID: j } });
  }, 60_000);

  it("lists every error code the commands answer with, past their parameters' own checks", async () => {
    const auth = { APIKey: user.apiKey };
    const id = { JourneyID: f.journeyId };
    const code = async (method: string, path: string, init: Parameters<typeof check>[2]) => {
      const res = await check(method, path, init);
      return [res.status, res.body?.["Errors"]?.[0]?.["Code"]];
    };
    expect(await code("GET", "/api/v1/journey", { query: { ...id, StartDate: "2026-02-30" }, headers: auth })).toEqual([422, 4]);
    expect(await code("GET", "/api/v1/journey", { query: { ...id, ...WINDOW, EmailID: 999999 }, headers: auth })).toEqual([422, 7]);
    expect(await code("GET", "/api/v1/journey.stats.byaction", { query: { ...id, StartDate: DAYS[2], EndDate: DAYS[0] }, headers: auth })).toEqual([422, 6]);
    expect(await code("GET", "/api/v1/journey.stats.byaction", { query: { ...id, ISP: "not an isp!" }, headers: auth })).toEqual([422, 8]);
    expect(await code("GET", "/api/v1/journey.stats.byisp", { query: { JourneyID: 999999 }, headers: auth })).toEqual([404, 3]);
    expect(await code("GET", "/api/v1/account.journey.benchmark", { query: { StartDate: DAYS[2], EndDate: DAYS[0] }, headers: auth })).toEqual([422, 3]);
    expect(await code("GET", "/api/v1/journey.action.subscribers", { query: { ...id, ActionID: 999999 }, headers: auth })).toEqual([404, 6]);
    expect(await code("GET", "/api/v1/journey.action.subscribers", { query: { ...id, ActionID: f.a1, FilterJSON: "[" }, headers: auth })).toEqual([422, 5]);
    expect(await code("GET", "/api/v1/journey.export", { query: { ExportID: 999999 }, headers: auth })).toEqual([404, 3]);
    expect(await code("GET", "/api/v1/journey.disable", { query: id, headers: auth })).toEqual([409, 4]);
    expect(await code("POST", "/api/v1/journey.delete", { body: { JourneyID: 999999 }, headers: auth })).toEqual([404, 3]);
    expect(await code("GET", "/api/v1/email", { query: { EmailID: 999999 }, headers: auth })).toEqual([404, 3]);
    expect(await code("POST", "/api/v1/user.login", { body: { Username: user.username, Password: "wrong" } })).toEqual([401, 3]);
  }, 60_000);

  it("declares the export download's 302, on v1 and on /api.php", async () => {
    const auth = { APIKey: user.apiKey };
    const submitted = await check("POST", "/api/v1/journey.export", { body: { IncludeActions: 1 }, headers: auth });
    const exportId = submitted.body?.["ExportID"];
    expect((await check("GET", "/api/v1/journey.export", { query: { ExportID: exportId, download: 1 }, headers: auth })).status).toBeOneOf([409, 302]);
    let status = "";
    for (let i = 0; i < 60 && status !== "Completed"; i++) {
      status = (await check("GET", "/api/v1/journey.export", { query: { ExportID: exportId }, headers: auth })).body?.["ExportJob"]?.["Status"];
      if (status !== "Completed") await new Promise((r) => setTimeout(r, 500));
    }
    expect(status).toBe("Completed");
    const v1 = await check("GET", "/api/v1/journey.export", { query: { ExportID: exportId, download: 1 }, headers: auth });
    expect(v1.status).toBe(302);
    const legacy = await check("POST", "/api.php", { form: { Command: "journey.export.get", ExportID: String(exportId), download: "1", APIKey: user.apiKey } });
    expect(legacy.status).toBe(302);
    // /api.php's other answers: a handler error is a 200 envelope, an unknown command a 400.
    expect((await check("GET", "/api.php", { query: { Command: "journey.get", APIKey: user.apiKey } })).status).toBe(200);
    expect((await check("POST", "/api.php", { form: { Command: "no.such.command" } })).status).toBe(400);
  }, 60_000);

  it("checked every declared success shape against a live success", () => {
    for (const name of SHAPED_COMMANDS) expect(answered.has(`${name} 200`), name).toBe(true);
    // Every routed command has a declared shape.
    for (const c of commands.filter((x) => x.route)) expect(SHAPED_COMMANDS, c.name).toContain(c.name);
  });

  it("rejects a body that does not match, so the checks above can fail", () => {
    const schema = deref(doc["paths"]["/api/v1/journey.stats.byisp"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]) as object;
    const ok = { Success: true, ByISP: [{ Domain: "a.com", Sent: 1, Delivered: 1, Opened: 0, Clicked: 0, Bounced: 0, Unsubscribed: 0, Complained: 0 }] };
    expect(new Validator(schema, "2020-12").validate(ok).valid).toBe(true);
    expect(new Validator(schema, "2020-12").validate({ ...ok, ByISP: [{ Domain: "a.com", Sent: "1" }] }).valid).toBe(false);
    expect(doc["paths"]["/api/v1/journey.export"]["get"]["responses"]["302"]).toBeDefined();
  });
});
