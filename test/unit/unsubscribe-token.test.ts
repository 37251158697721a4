import { createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  ensureKeyFile,
  parseSigningKeys,
  signToken,
  verifyToken,
  type SigningKeys,
  type UnsubscribeClaims,
} from "../../shared/delivery/unsubscribe-token.js";
import { matchPublicRoute } from "../../shared/public-routes.js";

/** The unsubscribe link's token (ENGINE §8.4): its format, its signature check and key rotation. */

const keySet = (entries: Record<number, string>): SigningKeys => parseSigningKeys(JSON.stringify(entries), "test");
const freshKey = () => randomBytes(32).toString("base64url");
const claims: UnsubscribeClaims = { userId: 12, subscriberId: 456, journeyId: 7, actionId: 13 };

const parts = (token: string) => {
  const [payload, signature] = token.split(".");
  return { payload: Buffer.from(payload!, "base64url").toString("utf8"), signature: Buffer.from(signature!, "base64url") };
};
/** A token for `payload`, signed properly with `key`: only the payload's own rules can refuse it. */
const signedRaw = (payload: string, key: string) =>
  `${Buffer.from(payload).toString("base64url")}.${createHmac("sha256", Buffer.from(key)).update(payload).digest("base64url")}`;

describe("unsubscribe token", () => {
  const k1 = freshKey();
  const keys = keySet({ 1: k1 });

  it("round-trips: base64url(1.<kid>.<UserID>.<SubscriberID>.<JourneyID>.<ActionID>).base64url(HMAC-SHA256)", () => {
    const token = signToken(claims, keys);
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const { payload, signature } = parts(token);
    expect(payload).toBe("1.1.12.456.7.13");
    expect(signature).toEqual(createHmac("sha256", Buffer.from(k1)).update(payload).digest());
    expect(verifyToken(token, keys)).toEqual(claims);
  });

  it("refuses a tampered payload, a tampered signature, and a token cut or padded", () => {
    const token = signToken(claims, keys);
    const [payload, signature] = token.split(".") as [string, string];
    const otherPayload = Buffer.from("1.1.12.457.7.13").toString("base64url");
    expect(verifyToken(`${otherPayload}.${signature}`, keys)).toBeUndefined();
    const flipped = Buffer.from(signature, "base64url");
    flipped[0] = flipped[0]! ^ 1;
    expect(verifyToken(`${payload}.${flipped.toString("base64url")}`, keys)).toBeUndefined();
    expect(verifyToken(`${payload}.${signature.slice(0, -2)}`, keys)).toBeUndefined();
    expect(verifyToken(`${payload}.${signature}AA`, keys)).toBeUndefined();
    expect(verifyToken(`${payload}`, keys)).toBeUndefined();
    expect(verifyToken(`${payload}.${signature}.x`, keys)).toBeUndefined();
    expect(verifyToken("", keys)).toBeUndefined();
    // The same bytes in standard base64 (or with padding) are another spelling: refused.
    expect(verifyToken(`${payload}=.${signature}`, keys)).toBeUndefined();
    // A token signed with a key that is not ours.
    expect(verifyToken(signToken(claims, keySet({ 1: freshKey() })), keys)).toBeUndefined();
  });

  it("refuses an unknown kid, another version and malformed IDs even when properly signed", () => {
    expect(verifyToken(signedRaw("1.2.12.456.7.13", k1), keys)).toBeUndefined();
    expect(verifyToken(signedRaw("2.1.12.456.7.13", k1), keys)).toBeUndefined();
    expect(verifyToken(signedRaw("0.1.12.456.7.13", k1), keys)).toBeUndefined();
    for (const bad of ["1.1.012.456.7.13", "1.1.12.456.7", "1.1.12.456.7.13.9", "1.1.12.-456.7.13", "1.1.12.456.7.0", "1.1.12.4e2.7.13", "1.1.12.99999999999999999.7.13"]) {
      expect(verifyToken(signedRaw(bad, k1), keys), bad).toBeUndefined();
    }
    // The same construction with a valid payload passes, so the refusals above are the payload's.
    expect(verifyToken(signedRaw("1.1.12.456.7.13", k1), keys)).toEqual(claims);
  });

  it("keeps old links valid across a rotation: the newest kid signs, every listed kid verifies", () => {
    const old = signToken(claims, keys);
    const k2 = freshKey();
    const rotated = keySet({ 1: k1, 2: k2 });
    expect(verifyToken(old, rotated)).toEqual(claims);
    const fresh = signToken(claims, rotated);
    expect(parts(fresh).payload).toBe("1.2.12.456.7.13");
    expect(verifyToken(fresh, rotated)).toEqual(claims);
    // Before the rotation reached it, a verifier does not know kid 2; once kid 1 is retired, its links end.
    expect(verifyToken(fresh, keys)).toBeUndefined();
    expect(verifyToken(old, keySet({ 2: k2 }))).toBeUndefined();
    // "Newest" is the highest kid, whatever the JSON's order.
    expect(parts(signToken(claims, parseSigningKeys(JSON.stringify({ 10: freshKey(), 9: freshKey() }), "t"))).payload).toBe("1.10.12.456.7.13");
  });

  it("signs only positive integer IDs", () => {
    expect(() => signToken({ ...claims, actionId: 0 }, keys)).toThrow();
    expect(() => signToken({ ...claims, userId: 1.5 }, keys)).toThrow();
  });

  it("refuses a malformed key set, and never echoes it in the error", () => {
    const secret = freshKey();
    for (const bad of ["not json", "[]", "{}", JSON.stringify({ a: secret }), JSON.stringify({ 1: "short" }), JSON.stringify({ 1: 42 })]) {
      let message = "";
      try {
        parseSigningKeys(bad, "UNSUBSCRIBE_KEYS");
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message, bad).toMatch(/^UNSUBSCRIBE_KEYS: /);
      expect(message).not.toContain(secret);
    }
  });

  it("creates the local key file once, owner-only, and reads the same keys after a restart", () => {
    const path = join(mkdtempSync(join(tmpdir(), "unsub-keys-")), "nested", "unsubscribe-keys.json");
    const first = ensureKeyFile(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(ensureKeyFile(path)).toBe(first);
    expect(readFileSync(path, "utf8")).toBe(first);
    const keysFromFile = parseSigningKeys(first, "file");
    expect([...keysFromFile.keys()]).toEqual([1]);
    expect(verifyToken(signToken(claims, keysFromFile), parseSigningKeys(ensureKeyFile(path), "file"))).toEqual(claims);
  });
});

describe("public routes", () => {
  it("matches GET and POST /unsubscribe/{token} on one non-empty segment, with the pattern as routeKey", () => {
    expect(matchPublicRoute("GET", "/unsubscribe/abc.def")).toEqual({ target: "unsubscribe", routeKey: "GET /unsubscribe/{token}", pathParameters: { token: "abc.def" } });
    expect(matchPublicRoute("POST", "/unsubscribe/abc.def")?.routeKey).toBe("POST /unsubscribe/{token}");
    for (const [method, path] of [["PUT", "/unsubscribe/abc"], ["GET", "/unsubscribe/"], ["GET", "/unsubscribe"], ["GET", "/unsubscribe/a/b"], ["GET", "/unsubscribe/%E0%A4%A"]]) {
      expect(matchPublicRoute(method!, path!), `${method} ${path}`).toBeUndefined();
    }
  });
});
