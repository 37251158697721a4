/**
 * The product clock (ENGINE §2): real UTC plus an offset that only the local stack
 * moves (`POST /_local/clock`), so a test can cross a three-day Wait in a second.
 * Deployed, the offset is always 0. Commands, ingest defaults and the engine read
 * `productNow()`; session expiry and API rate-limit windows keep `new Date()`.
 */
// Process-wide, not module-wide: a test runner may load this module more than once
// (the gateway's handlers, the pollers and the local routes), and all must share one clock.
const state = ((globalThis as { __journeyClock?: { offsetSeconds: number } }).__journeyClock ??= { offsetSeconds: 0 });

export function productNow(): Date {
  return state.offsetSeconds === 0 ? new Date() : new Date(Date.now() + state.offsetSeconds * 1000);
}

/** Whole seconds, rounded down: every engine time (DueAt, At, EnrolledAt, EndedAt) is one. */
export const productEpoch = (): number => Math.floor(productNow().getTime() / 1000);

export const clockOffsetSeconds = (): number => state.offsetSeconds;

/** Local stack only. The offset never moves backwards (ENGINE §9). */
export function setClockOffsetSeconds(seconds: number): void {
  if (!Number.isInteger(seconds) || seconds < state.offsetSeconds) throw new Error("the product clock only moves forward");
  state.offsetSeconds = seconds;
}
