import type { CommandDef } from "./command.js";
import { docsOf } from "./command-docs.js";
import { AUTH, CommandError, HARD, RESPONSE_TOO_LARGE } from "./errors.js";
import { statusFor } from "./http/envelope.js";
import { fieldDocs, type FieldDoc } from "./params.js";
import { SHARED_SCHEMAS, successShape } from "./responses.js";

/**
 * Builds an OpenAPI 3.1 document from the registry: one operation per v1 route,
 * its parameters from the command's zod schema (each field registers its doc in
 * `fieldDocs`, with the codes its check raises), its error codes, a curl example
 * and its response shape. /api.php is documented as one operation whose `Command`
 * enumerates every command. /docs renders this document; test/api/openapi-live
 * checks live answers against it, so a status or shape it does not declare fails.
 */
type Json = Record<string, unknown>;

function schemaFor(doc: FieldDoc | undefined): Json {
  switch (doc?.type) {
    case "integer":
      return { type: "integer", minimum: doc.minimum ?? 1, ...(doc.maximum !== undefined ? { maximum: doc.maximum } : {}) };
    case "boolean":
      return { type: "boolean", description: "1, true, yes or on (any case); anything else is false" };
    case "number":
      return { type: "number" };
    case "array":
      return { oneOf: [{ type: "array" }, { type: "string", description: "JSON text" }] };
    case "object":
      return { oneOf: [{ type: "object" }, { type: "string", description: "JSON text" }] };
    case "string|integer":
      return { oneOf: [{ type: "string" }, { type: "integer" }] };
    case "array|string":
      return { oneOf: [{ type: "array", items: { type: "integer" } }, { type: "string", description: "comma-separated" }] };
    default:
      return { type: "string" };
  }
}

interface ErrorRow {
  code: number;
  status: number;
  message: string;
  param?: string;
}

interface Param {
  name: string;
  required: boolean;
  schema: Json;
  description?: string;
  doc?: FieldDoc;
}

const validationError = (code: number, message: string) => new CommandError(code, message, "validation");

/** The codes each parameter's check raises, unique by code and text, in checking order. */
function paramCodes(p: Param): ErrorRow[] {
  const seen = new Set<string>();
  const rows: ErrorRow[] = [];
  for (const [code, message] of p.doc?.codes ?? []) {
    if (seen.has(`${code} ${message}`)) continue;
    seen.add(`${code} ${message}`);
    rows.push({ code, message, status: statusFor(validationError(code, message), "v1"), param: p.name });
  }
  return rows;
}

function parameters(def: CommandDef): Param[] {
  return Object.entries(def.params.def.shape).map(([name, schema]) => {
    const doc = fieldDocs.get(schema as never);
    const codes = (doc?.codes ?? []).map(([c, m]) => `${c} (${m})`);
    const text = doc?.description && !/[.)]$/.test(doc.description) ? `${doc.description}.` : doc?.description;
    const description = [text, codes.length ? `Errors: ${[...new Set(codes)].join("; ")}.` : undefined].filter(Boolean).join(" ");
    return { name, required: doc?.required ?? false, schema: schemaFor(doc), ...(description ? { description } : {}), ...(doc ? { doc } : {}) };
  });
}

/** Every code a command can answer with: its parameters', then authentication, permission, rate limit and the hard failures. */
export function errorCodes(def: CommandDef): ErrorRow[] {
  const row = (e: CommandError): ErrorRow => ({ code: e.code, message: e.message, status: statusFor(e, "v1") });
  const rows = parameters(def).flatMap(paramCodes);
  for (const e of docsOf(def).errors ?? []) if (!rows.some((r) => r.code === e.code && r.message === e.message)) rows.push(row(e));
  if (def.scope !== "none") rows.push(row(AUTH.invalid()));
  if (def.scope === "user") rows.push(row(AUTH.expired()));
  if (def.permission) rows.push(row(AUTH.permission()));
  if (def.scope !== "none" || def.rateLimitKey) rows.push(row(new CommandError(429, "Rate limit exceeded", "rateLimit")));
  rows.push(
    row(new CommandError(HARD.invalidJson, "Invalid JSON body", "hard")),
    row(new CommandError(HARD.invalidMethod, "Unsupported method for this route", "hard")),
    row(new CommandError(HARD.unknownCommand, "Invalid API command: \"{Command}\" not found.", "hard")),
    row(new CommandError(HARD.internal, "Internal error", "hard")),
    // Any answer past Lambda's 6 MB response limit, whatever the command.
    row(new CommandError(RESPONSE_TOO_LARGE, "Response too large: send Accept-Encoding: gzip, page, narrow the window or pass SkipStats=1", "tooLarge")),
  );
  return rows;
}

const security = (def: CommandDef): Json[] =>
  def.scope === "admin"
    ? [{ AdminAPIKey: [] }, { AdminAPIKeyParam: [] }]
    : def.scope === "user"
      ? [{ APIKey: [] }, { APIKeyParam: [] }, { SessionIDHeader: [] }, { SessionID: [] }]
      : [];

function exampleValue(p: Param): unknown {
  if (/YYYY-MM-DD/.test(p.description ?? "")) return "2026-01-31";
  switch (p.doc?.type) {
    case "integer":
    case "boolean":
      return 1;
    case "array|string":
      return "1,2";
    case "array":
      return [];
    case "object":
      return {};
    default:
      return p.name.toLowerCase().includes("name") ? "Welcome series" : "text";
  }
}

function curlExamples(def: CommandDef, params: Param[]): string {
  const route = def.route!;
  const required = params.filter((p) => p.required);
  const auth = def.scope === "admin" ? ` -H "AdminAPIKey: $ADMIN"` : def.scope === "user" ? ` -H "APIKey: $KEY"` : "";
  const url = `$API${route.path}`;
  const v1 =
    route.method === "GET"
      ? `curl -s "${url}${required.length ? "?" + required.map((p) => `${p.name}=${encodeURIComponent(String(exampleValue(p)))}`).join("&") : ""}"${auth}`
      : `curl -s -X ${route.method} "${url}"${auth} -H 'Content-Type: application/json' -d '${JSON.stringify(Object.fromEntries(required.map((p) => [p.name, exampleValue(p)])))}'`;
  const legacyAuth = def.scope === "admin" ? "&AdminAPIKey=$ADMIN" : def.scope === "user" ? "&APIKey=$KEY" : "";
  const legacyParams = required.map((p) => `&${p.name}=${encodeURIComponent(typeof exampleValue(p) === "string" ? String(exampleValue(p)) : JSON.stringify(exampleValue(p)))}`).join("");
  return `${v1}\n# the same command on the legacy entry point\ncurl -s -X POST "$API/api.php" -d "Command=${def.name}${legacyAuth}${legacyParams}"`;
}

function describe(def: CommandDef, params: Param[]): string {
  const route = def.route!;
  const who =
    def.scope === "admin" ? "AdminAPIKey (header or parameter)" : def.scope === "user" ? "APIKey (header or parameter) or SessionID (header or parameter)" : "none";
  const table = errorCodes(def)
    .map((e) => `| ${e.code} | ${e.status} | ${e.message.replace(/\|/g, "\\|")} | ${e.param ?? ""} |`)
    .join("\n");
  return [
    `**Command** \`${def.name}\` · **v1** \`${route.method} ${route.path}\` · **/api.php** \`POST /api.php\` (or GET) with \`Command=${def.name}\``,
    "",
    `**Auth** ${who}${def.permission ? ` · **permission** ${def.permission}` : ""}`,
    "",
    "Parameters may come from the query string or the body (JSON or form), merged; names match case-insensitively.",
    "",
    "**Error codes** (on /api.php handler errors answer HTTP 200 with the same body)",
    "",
    "| Code | HTTP (v1) | Message | Parameter |",
    "|---|---|---|---|",
    table,
    "",
    "**Example** (`API=http://localhost:3000`)",
    "",
    "```sh",
    curlExamples(def, params),
    "```",
  ].join("\n");
}

const errorResponse = (description: string, headers?: Json) => ({
  description,
  ...(headers ? { headers } : {}),
  content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
});

const RATE_HEADERS = {
  "X-RateLimit-Limit": { schema: { type: "integer" } },
  "X-RateLimit-Remaining": { schema: { type: "integer" } },
  "X-RateLimit-Reset": { schema: { type: "integer" }, description: "Epoch seconds" },
};

const STATUS_TEXT: Record<number, string> = {
  400: "Hard failure",
  401: "Authentication failed",
  403: "Permission denied",
  404: "Not found for this caller",
  409: "State conflict",
  413: "Response too large for Lambda's 6 MB limit",
  422: "Validation failure",
  429: "Rate limit exceeded",
  500: "Internal error, or a documented write failure",
};

/** The success body: the envelope's `Success: true` (unless bare) around the command's own shape. */
function successSchema(def: CommandDef): Json {
  const shape = successShape(def.name);
  if (def.bareSuccess) return shape;
  const properties = { Success: { const: true }, ...((shape["properties"] as Json | undefined) ?? {}) };
  const required = ["Success", ...((shape["required"] as string[] | undefined) ?? [])];
  return { ...shape, type: "object", required, properties };
}

function responses(def: CommandDef): Json {
  const out: Json = {
    "200": { description: "Success", content: { "application/json": { schema: successSchema(def) } } },
  };
  for (const r of docsOf(def).rawReplies ?? []) {
    out[String(r.status)] = {
      description: r.description,
      headers: Object.fromEntries(r.headers.map((h) => [h, { schema: { type: "string" } }])),
    };
  }
  // Each status of the command's error codes, with the codes that answer it.
  const rows = errorCodes(def);
  const statuses = new Set(rows.map((r) => r.status));
  // Not every command lists the codes its `run` raises yet (their DOCS: statements), so any
  // authenticated command declares the not-found and conflict statuses besides.
  if (def.scope !== "none") statuses.add(404).add(409);
  // Likewise fields that check themselves (journey.events' Events) do not all list their codes.
  if (Object.keys(def.params.def.shape).length > 0) statuses.add(422);
  for (const status of [...statuses].sort((a, b) => a - b)) {
    const codes = rows.filter((r) => r.status === status).map((r) => r.code);
    const text = `${STATUS_TEXT[status] ?? "Error"}${codes.length ? `: ${[...new Set(codes)].join(", ")}` : ""}`;
    out[String(status)] =
      status === 429
        ? errorResponse(text, { "Retry-After": { schema: { type: "integer" }, description: "Seconds" }, ...RATE_HEADERS })
        : errorResponse(text);
  }
  return out;
}

function commandIndex(commands: readonly CommandDef[]): string {
  const rows = commands.map((c) => `| \`${c.name}\` | ${c.route ? `\`${c.route.method} ${c.route.path}\`` : "(none: /api.php only)"} | \`Command=${c.name}\` | ${docsOf(c).summary.replace(/\|/g, "\\|")} |`);
  return [
    "Octeth/Oempro journey module on AWS. Every command answers on its v1 route and on the legacy `/api.php` entry point.",
    "",
    "**Authentication**: user commands take `APIKey` (header or parameter) or `SessionID` (header or parameter, from `user.login`); admin commands take `AdminAPIKey` (header or parameter). Use **Authorize** to try commands against this server.",
    "",
    "**Errors**: `{\"Success\": false, \"Errors\": [{\"Code\", \"Message\"}]}`. v1 routes answer the real HTTP status; `/api.php` answers 200 for handler errors.",
    "",
    "| Command | v1 route | /api.php | Summary |",
    "|---|---|---|---|",
    ...rows,
  ].join("\n");
}

export function buildOpenApi(commands: readonly CommandDef[], version: string): Json {
  const paths: Record<string, Json> = {};
  for (const def of commands) {
    if (!def.route) continue;
    const params = parameters(def);
    const plain = params.map(({ doc: _d, ...p }) => p);
    const operation: Json = {
      operationId: def.name,
      summary: docsOf(def).summary,
      description: describe(def, params),
      tags: [def.group],
      security: security(def),
      "x-permission": def.permission ?? null,
      "x-error-codes": errorCodes(def),
      responses: responses(def),
    };
    if (def.route.method === "GET") {
      operation["parameters"] = plain.map((p) => ({ in: "query", ...p }));
    } else {
      const properties = Object.fromEntries(plain.map((p) => [p.name, { ...p.schema, ...(p.description ? { description: p.description } : {}) }]));
      const required = plain.filter((p) => p.required).map((p) => p.name);
      const schema = { type: "object", properties, ...(required.length ? { required } : {}) };
      operation["requestBody"] = {
        content: { "application/json": { schema }, "application/x-www-form-urlencoded": { schema } },
      };
    }
    const path = (paths[def.route.path] ??= {});
    path[def.route.method.toLowerCase()] = operation;
  }
  const legacyResponses = {
    "200": { description: "Success, or a handler error in the error envelope (`Success: false`)", content: { "application/json": { schema: { type: "object", required: ["Success"] } } } },
    "302": { description: "journey.export.get with download=1 on a Completed job: redirect to the CSV", headers: { Location: { schema: { type: "string" } } } },
    "400": errorResponse("Hard failure: 100000 invalid JSON, 100001 wrong method, 100003 unknown command"),
    "429": errorResponse("Rate limit exceeded", { "Retry-After": { schema: { type: "integer" } } }),
    "500": errorResponse("100005 internal error"),
  };
  const command = { type: "string", enum: commands.map((c) => c.name) };
  paths["/api.php"] = {
    post: {
      operationId: "legacy",
      summary: "Legacy entry point: dispatches on Command; handler errors answer HTTP 200",
      description: "Every command of the index above, by name. Its other parameters (and APIKey, SessionID or AdminAPIKey) travel beside Command.",
      tags: ["legacy"],
      requestBody: {
        content: {
          "application/x-www-form-urlencoded": {
            schema: { type: "object", required: ["Command"], properties: { Command: command }, additionalProperties: true },
          },
        },
      },
      responses: legacyResponses,
    },
    get: {
      operationId: "legacy.get",
      summary: "Legacy entry point with the parameters in the query string",
      tags: ["legacy"],
      parameters: [{ in: "query", name: "Command", required: true, schema: command }],
      responses: legacyResponses,
    },
  };
  return {
    openapi: "3.1.0",
    info: { title: "Journey API", version, description: commandIndex(commands) },
    paths,
    components: {
      securitySchemes: {
        APIKey: { type: "apiKey", in: "header", name: "APIKey" },
        APIKeyParam: { type: "apiKey", in: "query", name: "APIKey" },
        SessionIDHeader: { type: "apiKey", in: "header", name: "SessionID" },
        SessionID: { type: "apiKey", in: "query", name: "SessionID" },
        AdminAPIKey: { type: "apiKey", in: "header", name: "AdminAPIKey" },
        AdminAPIKeyParam: { type: "apiKey", in: "query", name: "AdminAPIKey" },
      },
      schemas: {
        ...SHARED_SCHEMAS,
        Error: {
          type: "object",
          required: ["Success", "Errors"],
          properties: {
            Success: { const: false },
            Errors: {
              type: "array",
              minItems: 1,
              items: { type: "object", required: ["Code", "Message"], properties: { Code: { type: "integer" }, Message: { type: "string" } } },
            },
          },
        },
      },
    },
  };
}
