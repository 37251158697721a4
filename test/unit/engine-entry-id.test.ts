import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { isUlid, newUlid, signalEntryId, ulidTimeMs } from "../../shared/engine/entry-id.js";

const CROCKFORD = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** An independent encoder: the bit string of time (48) + random (80), cut into 26 groups of 5. */
function reference(timeMs: number, random: Buffer): string {
  const bits = timeMs.toString(2).padStart(48, "0") + [...random.subarray(0, 10)].map((b) => b.toString(2).padStart(8, "0")).join("");
  const padded = "00" + bits; // 130 bits: the first character carries 3 bits of time
  let out = "";
  for (let i = 0; i < 130; i += 5) out += "0123456789ABCDEFGHJKMNPQRSTVWXYZ"[parseInt(padded.slice(i, i + 5), 2)];
  return out;
}

describe("signalEntryId (§5.1)", () => {
  const at = 1_767_614_400; // 2026-01-05 12:00:00 UTC
  it("is 26 characters of Crockford base32", () => {
    const id = signalEntryId(at, "sig-1", 7);
    expect(id).toHaveLength(26);
    expect(id).toMatch(CROCKFORD);
    expect(isUlid(id)).toBe(true);
  });
  it("is deterministic per (At, SignalID, JourneyID)", () => {
    expect(signalEntryId(at, "sig-1", 7)).toBe(signalEntryId(at, "sig-1", 7));
    expect(signalEntryId(at, "sig-1", 8)).not.toBe(signalEntryId(at, "sig-1", 7));
    expect(signalEntryId(at, "sig-2", 7)).not.toBe(signalEntryId(at, "sig-1", 7));
  });
  it("its time is At × 1000 ms and its random part the first 80 bits of SHA-256(<SignalID>:<JourneyID>)", () => {
    const id = signalEntryId(at, "sig-1", 7);
    expect(ulidTimeMs(id)).toBe(at * 1000);
    const digest = createHash("sha256").update("sig-1:7").digest();
    expect(id).toBe(reference(at * 1000, digest));
  });
  it("the time part is the ULID spec's own example", () => {
    // ulid's README: ulid(1469918176385) starts with 01ARYZ6S41.
    expect(newUlid(1469918176385).slice(0, 10)).toBe("01ARYZ6S41");
  });
  it("sorts by time, whatever the signal", () => {
    const ids = [signalEntryId(at, "zzz", 1), signalEntryId(at + 1, "aaa", 1), signalEntryId(at + 3600, "mmm", 99)];
    expect([...ids].sort()).toEqual(ids);
  });
  it("rejects times a ULID cannot hold", () => {
    expect(() => signalEntryId(-1, "s", 1)).toThrow(RangeError);
    expect(() => signalEntryId(2 ** 48, "s", 1)).toThrow(RangeError);
  });
});

describe("newUlid", () => {
  it("is 26 characters of Crockford base32, with a fresh random part", () => {
    const a = newUlid();
    const b = newUlid();
    expect(a).toMatch(CROCKFORD);
    expect(a).not.toBe(b);
  });
  it("carries the given time and sorts by it", () => {
    const ids = [0, 1, 999, 1_000_000, Date.now(), 2 ** 48 - 1].map((ms) => newUlid(ms));
    expect(ids.map(ulidTimeMs)).toEqual([0, 1, 999, 1_000_000, ulidTimeMs(ids[4]!), 2 ** 48 - 1]);
    expect([...ids].sort()).toEqual(ids);
    expect(ids[0]!.slice(0, 10)).toBe("0000000000");
    expect(ids[5]!.slice(0, 10)).toBe("7ZZZZZZZZZ");
  });
  it("defaults to now", () => {
    const before = Date.now();
    const ms = ulidTimeMs(newUlid());
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(Date.now());
  });
  it("isUlid refuses other shapes", () => {
    expect(isUlid("01ARYZ6S41TSV4RRFFQ69G5FA")).toBe(false);
    expect(isUlid("01ARYZ6S41TSV4RRFFQ69G5FAI")).toBe(false);
    expect(isUlid("81ARYZ6S41TSV4RRFFQ69G5FAV")).toBe(false);
    expect(isUlid("01ARYZ6S41TSV4RRFFQ69G5FAV")).toBe(true);
  });
});
