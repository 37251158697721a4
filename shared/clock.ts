/**
 * The product clock (ENGINE §2): real UTC plus an offset that only the local stack
 * moves (`POST /_local/clock`), so a test can cross a three-day Wait in a second.
 * Deployed, the offset is always 0. Commands, ingest defaults and the engine read
 * `productNow()`; session expiry and API rate-limit windows keep `new Date()`.
 */
let offsetSeconds = 0;

export function productNow(): Date {
  return offsetSeconds === 0 ? new Date() : new Date(Date.now() + offsetSeconds * 1000);
}

/** Whole seconds, rounded down: every engine time (DueAt, At, EnrolledAt, EndedAt) is one. */
export const productEpoch = (): number => Math.floor(productNow().getTime() / 1000);

export const clockOffsetSeconds = (): number => offsetSeconds;

/** Local stack only. The offset never moves backwards (ENGINE §9). */
export function setClockOffsetSeconds(seconds: number): void {
  if (!Number.isInteger(seconds) || seconds < offsetSeconds) throw new Error("the product clock only moves forward");
  offsetSeconds = seconds;
}
