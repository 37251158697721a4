import { CommandError, HARD } from "../errors.js";

/**
 * The transport-neutral request that the plumbing works from. The API Gateway v2
 * event is reduced to this once, so nothing past this file sees API Gateway types.
 */
export interface HttpRequest {
  method: string;
  path: string;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  /** Parameters from the query string and the body, keyed by lower-cased name. */
  params: Map<string, unknown>;
}

/** Parameter names are case-insensitive: `journeyid` is `JourneyID`. Last one wins within a source. */
function addAll(target: Map<string, unknown>, entries: Iterable<[string, unknown]>) {
  for (const [k, v] of entries) target.set(k.toLowerCase(), v);
}

export function parseBody(rawBody: string, contentType: string): Iterable<[string, unknown]> {
  const type = contentType.split(";")[0]!.trim().toLowerCase();
  if (rawBody.trim() === "") return [];
  if (type === "application/json" || type.endsWith("+json")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(rawBody);
    } catch {
      throw new CommandError(HARD.invalidJson, "Invalid JSON in request body", "hard");
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new CommandError(HARD.invalidJson, "Request body must be a JSON object", "hard");
    }
    return Object.entries(parsed as Record<string, unknown>);
  }
  if (type === "application/x-www-form-urlencoded") return new URLSearchParams(rawBody).entries();
  // A body of another declared type carries no parameters; an undeclared body that
  // looks like JSON is taken as JSON, since curl -d without -H is common.
  if (type === "" && /^\s*\{/.test(rawBody)) return parseBody(rawBody, "application/json");
  if (type === "") return new URLSearchParams(rawBody).entries();
  return [];
}

/** Query string first, then the body: when both carry a name, the body wins. */
export function mergeParams(rawQuery: string, rawBody: string, contentType: string): Map<string, unknown> {
  const params = new Map<string, unknown>();
  addAll(params, new URLSearchParams(rawQuery).entries());
  addAll(params, parseBody(rawBody, contentType));
  return params;
}
