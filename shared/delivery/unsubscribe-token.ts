import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { loadConfig } from "../config.js";

/**
 * One-click unsubscribe links (ENGINE §8.4, RFC 8058).
 *
 * A token is `base64url(payload).base64url(HMAC-SHA256(key, payload))` with payload
 * `1.<kid>.<UserID>.<SubscriberID>.<JourneyID>.<ActionID>`. It names its key (`kid`)
 * so that keys can be added without invalidating links already in inboxes: the
 * newest (highest) kid signs, every kid still listed verifies.
 *
 * The keys are one JSON object `{"<kid>": "<secret>", ...}`, read from (first match):
 * - `UNSUBSCRIBE_KEYS`: the object itself (the local stack without a data directory:
 *   the test runner's processes must all verify what any of them signs);
 * - `UNSUBSCRIBE_KEYS_FILE`: a file holding it, generated on first use (`npm start`,
 *   under DATA_DIR, so links survive a restart);
 * - `UNSUBSCRIBE_KEYS_SECRET_ARN`: a Secrets Manager secret (AWS), read once per
 *   container and read again when a token names a kid the container does not know yet.
 *
 * Neither a token nor a key is ever logged: this module logs nothing, and its errors
 * name the variable at fault, never its value.
 */

export interface UnsubscribeClaims {
  userId: number;
  subscriberId: number;
  journeyId: number;
  actionId: number;
}

/** kid → key bytes. */
export type SigningKeys = ReadonlyMap<number, Buffer>;

const VERSION = "1";
/** HMAC-SHA256's output, and so the only signature length accepted. */
const SIGNATURE_BYTES = 32;
/** Far above any real token (six integers, ~130 characters): bounds the work a junk URL can cause. */
const MAX_TOKEN_LENGTH = 512;
/** A key shorter than this is a configuration mistake, not a key. */
const MIN_KEY_LENGTH = 32;
/** How soon after a read the secret may be read again for an unknown kid: a flood of forged kids costs one call a minute. */
const REFRESH_INTERVAL_MS = 60_000;

const DECIMAL_ID = /^[1-9]\d{0,15}$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** A positive integer written canonically (no sign, no leading zero), or undefined. */
function idOf(s: string | undefined): number | undefined {
  if (s === undefined || !DECIMAL_ID.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Decodes base64url only in its canonical form, so one token has exactly one spelling. */
function fromBase64url(s: string): Buffer | undefined {
  if (!BASE64URL.test(s)) return undefined;
  const bytes = Buffer.from(s, "base64url");
  return bytes.toString("base64url") === s ? bytes : undefined;
}

const mac = (key: Buffer, payload: string): Buffer => createHmac("sha256", key).update(payload, "utf8").digest();

/** Parses the keys' JSON object; throws, without echoing it, when it is not one. */
export function parseSigningKeys(json: string, source: string): SigningKeys {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new Error(`${source}: the unsubscribe keys are not JSON`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new Error(`${source}: the unsubscribe keys must be a JSON object {"<kid>": "<key>"}`);
  const keys = new Map<number, Buffer>();
  for (const [kid, value] of Object.entries(raw as Record<string, unknown>)) {
    const id = idOf(kid);
    if (id === undefined) throw new Error(`${source}: unsubscribe key IDs must be positive integers`);
    if (typeof value !== "string" || value.length < MIN_KEY_LENGTH) throw new Error(`${source}: unsubscribe key ${kid} must be a string of at least ${MIN_KEY_LENGTH} characters`);
    keys.set(id, Buffer.from(value, "utf8"));
  }
  if (keys.size === 0) throw new Error(`${source}: no unsubscribe key`);
  return keys;
}

/** A fresh key set of one key (kid 1), as JSON: what a new local stack starts with. */
export function newSigningKeysJson(): string {
  return JSON.stringify({ "1": randomBytes(32).toString("base64url") });
}

/** Signs with the newest (highest) kid. */
export function signToken(claims: UnsubscribeClaims, keys: SigningKeys): string {
  if (keys.size === 0) throw new Error("no unsubscribe key to sign with");
  const kid = Math.max(...keys.keys());
  for (const v of [claims.userId, claims.subscriberId, claims.journeyId, claims.actionId]) {
    if (!Number.isSafeInteger(v) || v < 1) throw new Error("unsubscribe link IDs must be positive integers");
  }
  const payload = [VERSION, kid, claims.userId, claims.subscriberId, claims.journeyId, claims.actionId].join(".");
  return `${Buffer.from(payload, "utf8").toString("base64url")}.${mac(keys.get(kid)!, payload).toString("base64url")}`;
}

interface Decoded {
  payload: string;
  kid: number;
  claims: UnsubscribeClaims;
  signature: Buffer;
}

/** The token's parts, if it is shaped like a version-1 token at all; says nothing of its signature. */
function decode(token: string): Decoded | undefined {
  if (typeof token !== "string" || token.length > MAX_TOKEN_LENGTH) return undefined;
  const parts = token.split(".");
  if (parts.length !== 2) return undefined;
  const payloadBytes = fromBase64url(parts[0]!);
  const signature = fromBase64url(parts[1]!);
  if (!payloadBytes || !signature || signature.length !== SIGNATURE_BYTES) return undefined;
  const payload = payloadBytes.toString("utf8");
  const fields = payload.split(".");
  if (fields.length !== 6 || fields[0] !== VERSION) return undefined;
  const [kid, userId, subscriberId, journeyId, actionId] = fields.slice(1).map(idOf);
  if (kid === undefined || userId === undefined || subscriberId === undefined || journeyId === undefined || actionId === undefined) return undefined;
  return { payload, kid, claims: { userId, subscriberId, journeyId, actionId }, signature };
}

/** The signature check, in constant time (both sides are 32 bytes by now). */
const signedBy = (d: Decoded, key: Buffer): boolean => timingSafeEqual(mac(key, d.payload), d.signature);

/** The claims of a token signed by one of `keys`; undefined for anything else. */
export function verifyToken(token: string, keys: SigningKeys): UnsubscribeClaims | undefined {
  const d = decode(token);
  const key = d && keys.get(d.kid);
  return d && key && signedBy(d, key) ? d.claims : undefined;
}

// ---- Where the keys come from ----

/** Reads the key file, creating it (kid 1, owner-only) when absent; a concurrent creator's file wins. */
export function ensureKeyFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  mkdirSync(dirname(path), { recursive: true });
  try {
    writeFileSync(path, newSigningKeysJson(), { flag: "wx", mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  return readFileSync(path, "utf8");
}

let cached: { source: string; keys: Promise<SigningKeys>; at: number } | undefined;

async function readSecret(arn: string, region: string): Promise<SigningKeys> {
  // Provided by the Lambda runtime and kept out of the bundles (infra/bundling.ts),
  // as for the admin key: only a cold container or a rotation pays for loading it.
  const sm = await import("@aws-sdk/client-secrets-manager");
  const client = new sm.SecretsManagerClient({ region });
  const out = await client.send(new sm.GetSecretValueCommand({ SecretId: arn }));
  if (!out.SecretString) throw new Error("UNSUBSCRIBE_KEYS_SECRET_ARN: the secret is empty");
  return parseSigningKeys(out.SecretString, "UNSUBSCRIBE_KEYS_SECRET_ARN");
}

function load(fresh: boolean): Promise<SigningKeys> {
  const cfg = loadConfig();
  const inline = process.env["UNSUBSCRIBE_KEYS"];
  // The cache notices a changed source; an inline key set is known by its digest only.
  const source = inline ? `inline:${createHash("sha256").update(inline).digest("hex")}` : cfg.UNSUBSCRIBE_KEYS_FILE ? `file:${cfg.UNSUBSCRIBE_KEYS_FILE}` : cfg.UNSUBSCRIBE_KEYS_SECRET_ARN ? `secret:${cfg.UNSUBSCRIBE_KEYS_SECRET_ARN}` : "";
  if (!source) throw new Error("Invalid configuration: UNSUBSCRIBE_KEYS_SECRET_ARN (or locally UNSUBSCRIBE_KEYS_FILE or UNSUBSCRIBE_KEYS) must be set");
  if (cached && cached.source === source && !fresh) return cached.keys;
  const keys = inline
    ? Promise.resolve(parseSigningKeys(inline, "UNSUBSCRIBE_KEYS"))
    : cfg.UNSUBSCRIBE_KEYS_FILE
      ? Promise.resolve(parseSigningKeys(ensureKeyFile(cfg.UNSUBSCRIBE_KEYS_FILE), "UNSUBSCRIBE_KEYS_FILE"))
      : readSecret(cfg.UNSUBSCRIBE_KEYS_SECRET_ARN!, cfg.AWS_REGION);
  const entry = { source, keys, at: Date.now() };
  cached = entry;
  // A failed read is not kept: the next call tries again.
  keys.catch(() => {
    if (cached === entry) cached = undefined;
  });
  return keys;
}

/**
 * The claims of a genuine token, or undefined (forged, malformed, unknown kid). A kid
 * this container has not seen makes it re-read the keys, at most once a minute: a
 * key added after the container started must verify the links signed with it.
 */
export async function verifyUnsubscribeToken(token: string): Promise<UnsubscribeClaims | undefined> {
  const d = decode(token);
  if (!d) return undefined;
  let key = (await load(false)).get(d.kid);
  if (!key && cached && Date.now() - cached.at >= REFRESH_INTERVAL_MS) key = (await load(true)).get(d.kid);
  return key && signedBy(d, key) ? d.claims : undefined;
}

/** A token for this (user, subscriber, journey, SendEmail action), signed with the newest key. */
export async function unsubscribeToken(userId: number, subscriberId: number, journeyId: number, actionId: number): Promise<string> {
  return signToken({ userId, subscriberId, journeyId, actionId }, await load(false));
}

/**
 * The link for `%Link:Unsubscribe%` and the List-Unsubscribe header:
 * `${PUBLIC_BASE_URL}/unsubscribe/${token}`.
 */
export async function unsubscribeUrl(userId: number, subscriberId: number, journeyId: number, actionId: number): Promise<string> {
  const base = loadConfig().PUBLIC_BASE_URL;
  if (!base) throw new Error("Invalid configuration: PUBLIC_BASE_URL must be set to sign unsubscribe links");
  return `${base.replace(/\/+$/, "")}/unsubscribe/${await unsubscribeToken(userId, subscriberId, journeyId, actionId)}`;
}
