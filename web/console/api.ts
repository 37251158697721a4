/**
 * The console's one way to the API: same origin, v1 routes, the user's own
 * credentials. Credentials live in sessionStorage (gone with the tab) and travel
 * only in headers: never in a URL, where logs, history and Referer would keep them.
 */
export type Credentials = { kind: "key"; apiKey: string } | { kind: "session"; sessionId: string; username: string };

const STORE = "journey-console.credentials";

export function loadCredentials(): Credentials | null {
  try {
    const raw = sessionStorage.getItem(STORE);
    return raw ? (JSON.parse(raw) as Credentials) : null;
  } catch {
    return null;
  }
}

export function saveCredentials(c: Credentials): void {
  sessionStorage.setItem(STORE, JSON.stringify(c));
}

export function clearCredentials(): void {
  sessionStorage.removeItem(STORE);
}

/** The API's own answer to a failed call: shown to the user as code and text. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number | undefined,
    message: string,
  ) {
    super(message);
  }
  override toString(): string {
    return this.code === undefined ? `HTTP ${this.status}: ${this.message}` : `Error ${this.code}: ${this.message} (HTTP ${this.status})`;
  }
}

export type Params = Record<string, string | number | boolean | undefined>;
// The API answers loosely shaped JSON; each view reads the fields it shows.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

function authHeaders(c: Credentials | null): Record<string, string> {
  if (!c) return {};
  return c.kind === "key" ? { APIKey: c.apiKey } : { SessionID: c.sessionId };
}

export async function call(c: Credentials | null, method: "GET" | "POST", path: string, params: Params = {}): Promise<Json> {
  const defined = Object.entries(params).filter((e): e is [string, string | number | boolean] => e[1] !== undefined && e[1] !== "");
  let url = `/api/v1/${path}`;
  const init: RequestInit = { method, headers: { ...authHeaders(c), Accept: "application/json" }, credentials: "omit" };
  if (method === "GET") {
    if (defined.length) url += `?${new URLSearchParams(defined.map(([k, v]) => [k, String(v)])).toString()}`;
  } else {
    (init.headers as Record<string, string>)["Content-Type"] = "application/json";
    init.body = JSON.stringify(Object.fromEntries(defined));
  }
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (err) {
    throw new ApiError(0, undefined, `The API could not be reached (${String(err)})`);
  }
  let body: Json;
  try {
    body = await res.json();
  } catch {
    throw new ApiError(res.status, undefined, `Unexpected answer (${res.headers.get("content-type") ?? "no content type"})`);
  }
  if (!res.ok || body?.Success === false) {
    const first = Array.isArray(body?.Errors) ? body.Errors[0] : undefined;
    throw new ApiError(res.status, first?.Code, String(first?.Message ?? res.statusText));
  }
  return body;
}
