import type { Caller, Scope } from "../command.js";
import { loadConfig } from "../config.js";
import { AUTH } from "../errors.js";
import { principalByApiKey, sessionById, type Principal } from "../domain/users/users.js";
import { secretsEqual, sha256Hex } from "../domain/secrets.js";
import { epochSeconds } from "../time.js";
import type { HttpRequest } from "./request.js";

/**
 * Authentication (CONTRACT §2). User commands take APIKey (parameter or header)
 * or SessionID (parameter or header); admin commands take AdminAPIKey (parameter
 * or header) only. The SessionID header is an addition to the contract: it lets a
 * browser (the /console) keep its session out of every URL.
 */

const text = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

function credential(req: HttpRequest, name: string, header: boolean): string | undefined {
  return text(req.params.get(name.toLowerCase())) ?? (header ? text(req.headers[name.toLowerCase()]) : undefined);
}

// A short in-memory cache of verified credentials: the lookup is constant per
// request anyway, but a warm Lambda need not repeat it for every call.
type Cached = { principal: Principal; expiresAt?: number; until: number };
const cache = new Map<string, Cached>();
const CACHE_MAX = 1000;

async function lookup(kind: "key" | "session", secret: string, now: Date): Promise<Cached | undefined> {
  const cacheKey = `${kind}:${sha256Hex(secret)}`;
  const hit = cache.get(cacheKey);
  if (hit && hit.until > now.getTime()) return hit;
  const found =
    kind === "key"
      ? await principalByApiKey(secret).then((p) => p && { principal: p })
      : await sessionById(secret).then((s) => s && { principal: s, expiresAt: s.ExpiresAt });
  if (!found) {
    cache.delete(cacheKey);
    return undefined;
  }
  const entry: Cached = { ...found, until: now.getTime() + loadConfig().CREDENTIAL_CACHE_MS };
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string);
  cache.set(cacheKey, entry);
  return entry;
}

let adminKey: Promise<string> | undefined;

/** The admin key: ADMIN_API_KEY locally, Secrets Manager when deployed (fetched once per container). */
function loadAdminKey(): Promise<string> {
  const cfg = loadConfig();
  if (cfg.ADMIN_API_KEY) return Promise.resolve(cfg.ADMIN_API_KEY);
  adminKey ??= (async () => {
    // The SDK client for Secrets Manager is provided by the Lambda runtime and kept
    // out of the bundle: only admin calls need it, so no cold start pays for it.
    const sm = await import("@aws-sdk/client-secrets-manager");
    const client = new sm.SecretsManagerClient({ region: cfg.AWS_REGION });
    const out = await client.send(new sm.GetSecretValueCommand({ SecretId: cfg.ADMIN_API_KEY_SECRET_ARN }));
    if (!out.SecretString) throw new Error("admin key secret is empty");
    return out.SecretString;
  })().catch((err: unknown) => {
    adminKey = undefined;
    throw err;
  });
  return adminKey;
}

export async function authenticate(req: HttpRequest, scope: Scope, now: Date): Promise<Caller> {
  if (scope === "none") return { kind: "anonymous" };
  if (scope === "admin") {
    const given = credential(req, "AdminAPIKey", true);
    if (!given || !secretsEqual(given, await loadAdminKey())) throw AUTH.invalid();
    return { kind: "admin" };
  }
  const apiKey = credential(req, "APIKey", true);
  const sessionId = credential(req, "SessionID", true);
  if (apiKey) {
    const found = await lookup("key", apiKey, now);
    if (!found) throw AUTH.invalid();
    return { kind: "user", userId: found.principal.UserID, permissions: found.principal.Permissions };
  }
  if (sessionId) {
    const found = await lookup("session", sessionId, now);
    if (!found) throw AUTH.invalid();
    if (found.expiresAt !== undefined && found.expiresAt <= epochSeconds(now)) throw AUTH.expired();
    return { kind: "user", userId: found.principal.UserID, permissions: found.principal.Permissions };
  }
  throw AUTH.invalid();
}

/** Who the rate limit counts against: the user, or the admin key. */
export function rateOwner(caller: Caller): string | undefined {
  if (caller.kind === "user") return `U#${caller.userId}`;
  if (caller.kind === "admin") return "ADMIN";
  return undefined;
}
