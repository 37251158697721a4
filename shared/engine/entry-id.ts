import { createHash, randomBytes } from "node:crypto";

/**
 * EntryIDs (ENGINE §5.1): ULIDs, 26 characters of Crockford base32, the first 10
 * a 48-bit millisecond time and the last 16 an 80-bit random part. Being
 * time-first, a journey's cursors sort by enrolment time (keys.ts relies on it).
 *
 * Hand-written rather than the `ulid` package: it is twenty lines, and a
 * signal's EntryID needs a chosen random part, which the package does not take.
 */

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const MAX_TIME_MS = 2 ** 48 - 1;

function encode(timeMs: number, random: Uint8Array): string {
  if (!Number.isInteger(timeMs) || timeMs < 0 || timeMs > MAX_TIME_MS) throw new RangeError(`ULID time out of range: ${timeMs}`);
  let time = "";
  // 48 bits in 10 characters of 5 bits: the first carries the top 3 bits only.
  for (let i = 0, t = timeMs; i < 10; i++, t = Math.floor(t / 32)) time = ALPHABET[t % 32]! + time;
  let value = 0n;
  for (let i = 0; i < 10; i++) value = (value << 8n) | BigInt(random[i]!);
  let rand = "";
  for (let i = 0; i < 16; i++, value >>= 5n) rand = ALPHABET[Number(value & 31n)]! + rand;
  return time + rand;
}

/**
 * The EntryID of a signal's enrolment: time `At` × 1000 ms, random part the first
 * 80 bits of SHA-256(`<SignalID>:<JourneyID>`), so every copy of one signal names
 * the same cursor and the conditional put makes enrolment idempotent.
 */
export function signalEntryId(atEpochSeconds: number, signalId: string, journeyId: number): string {
  const digest = createHash("sha256").update(`${signalId}:${journeyId}`, "utf8").digest();
  return encode(atEpochSeconds * 1000, digest.subarray(0, 10));
}

/** A fresh ULID (the random part from crypto), for every EntryID that is not a signal's. */
export function newUlid(nowMs: number = Date.now()): string {
  return encode(Math.floor(nowMs), randomBytes(10));
}

/** True for a 26-character Crockford base32 ULID (upper case, the form this module writes). */
export function isUlid(s: string): boolean {
  return /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/.test(s);
}

/** The millisecond time of a ULID. */
export function ulidTimeMs(id: string): number {
  if (!isUlid(id)) throw new RangeError(`not a ULID: ${id}`);
  let t = 0;
  for (let i = 0; i < 10; i++) t = t * 32 + ALPHABET.indexOf(id[i]!);
  return t;
}
