import type { CommandDef } from "./command.js";
import { fieldDocs, type FieldDoc } from "./params.js";

/**
 * Builds an OpenAPI 3.1 document from the registry: one operation per v1 route,
 * its parameters from the command's zod schema (each field registers its doc in
 * `fieldDocs`), and the error envelope. /api.php is documented as one operation
 * whose `Command` enumerates every command.
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

function parameters(def: CommandDef): { name: string; required: boolean; schema: Json; description?: string }[] {
  return Object.entries(def.params.def.shape).map(([name, schema]) => {
    const doc = fieldDocs.get(schema as never);
    return { name, required: doc?.required ?? false, schema: schemaFor(doc), ...(doc?.description ? { description: doc.description } : {}) };
  });
}

const security = (def: CommandDef): Json[] =>
  def.scope === "admin" ? [{ AdminAPIKey: [] }] : def.scope === "user" ? [{ APIKey: [] }, { SessionID: [] }] : [];

const errorResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
});

export function buildOpenApi(commands: readonly CommandDef[], version: string): Json {
  const paths: Record<string, Json> = {};
  for (const def of commands) {
    if (!def.route) continue;
    const params = parameters(def);
    const operation: Json = {
      operationId: def.name,
      summary: def.summary,
      tags: [def.group],
      security: security(def),
      "x-permission": def.permission ?? null,
      responses: {
        "200": { description: "Success", content: { "application/json": { schema: { type: "object" } } } },
        "400": errorResponse("Hard failure: 100000 invalid JSON, 100001 wrong method, 100003 unknown command"),
        "401": errorResponse("99998 invalid key or session, 99999 session expired"),
        "403": errorResponse("403 permission denied"),
        "404": errorResponse("The addressed record does not exist for this caller"),
        "409": errorResponse("State conflict"),
        "422": errorResponse("Validation failure: the command's documented code"),
        "413": errorResponse(
          "99997 response too large: the answer exceeds Lambda's 6,291,556-byte response limit (even gzipped, or the client did not send Accept-Encoding: gzip); " +
            "send Accept-Encoding: gzip, page (journey.list RecordsPerRequest/RecordsFrom), narrow the statistics window or pass SkipStats=1",
        ),
        "429": errorResponse("Rate limit exceeded; see Retry-After"),
        "500": errorResponse("100005 internal error"),
      },
    };
    if (def.route.method === "GET") {
      operation["parameters"] = params.map((p) => ({ in: "query", ...p }));
    } else {
      const properties = Object.fromEntries(params.map((p) => [p.name, { ...p.schema, ...(p.description ? { description: p.description } : {}) }]));
      const required = params.filter((p) => p.required).map((p) => p.name);
      const schema = { type: "object", properties, ...(required.length ? { required } : {}) };
      operation["requestBody"] = {
        content: { "application/json": { schema }, "application/x-www-form-urlencoded": { schema } },
      };
    }
    const path = (paths[def.route.path] ??= {});
    path[def.route.method.toLowerCase()] = operation;
  }
  paths["/api.php"] = {
    post: {
      operationId: "legacy",
      summary: "Legacy entry point: dispatches on Command; handler errors answer HTTP 200",
      requestBody: {
        content: {
          "application/x-www-form-urlencoded": {
            schema: {
              type: "object",
              required: ["Command"],
              properties: { Command: { type: "string", enum: commands.map((c) => c.name) } },
              additionalProperties: true,
            },
          },
        },
      },
      responses: {
        "200": { description: "Success or handler error (see Success), including 99997 response too large" },
        "400": errorResponse("Hard failure"),
      },
    },
  };
  return {
    openapi: "3.1.0",
    info: { title: "Journey API", version, description: "Octeth/Oempro journey module on AWS. See docs/api.md for the wire contract." },
    paths,
    components: {
      securitySchemes: {
        APIKey: { type: "apiKey", in: "header", name: "APIKey" },
        SessionID: { type: "apiKey", in: "query", name: "SessionID" },
        AdminAPIKey: { type: "apiKey", in: "header", name: "AdminAPIKey" },
      },
      schemas: {
        Error: {
          type: "object",
          required: ["Success", "Errors"],
          properties: {
            Success: { const: false },
            Errors: {
              type: "array",
              items: { type: "object", properties: { Code: { type: "integer" }, Message: { type: "string" } } },
            },
          },
        },
      },
    },
  };
}
