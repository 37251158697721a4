import type { SendResult } from "./model.js";

/**
 * Maps a provider call's error onto §8.2's rules, the same for SES and SMS:
 * - a throttling error (the provider's names, given by the caller) → `throttled`: nothing was sent;
 * - any other error answer below 500 → `refused`: a definite no, nothing was sent;
 * - a 5xx, a timeout, a reset, or anything without an answer → `noAnswer`: it may
 *   have been sent, so it is never retried.
 */
export function classifySendError(err: unknown, throttling: readonly string[]): SendResult {
  const e = (err ?? {}) as { name?: unknown; message?: unknown; $metadata?: { httpStatusCode?: unknown } };
  const name = typeof e.name === "string" ? e.name : "Error";
  const status = typeof e.$metadata?.httpStatusCode === "number" ? e.$metadata.httpStatusCode : undefined;
  const message = typeof e.message === "string" ? e.message.slice(0, 300) : "";
  if (throttling.includes(name) && (status === undefined || status < 500)) return { kind: "throttled", code: name };
  if (status !== undefined && status >= 400 && status < 500) return { kind: "refused", code: name, ...(message ? { message } : {}) };
  return { kind: "noAnswer", error: status !== undefined ? `${name} (HTTP ${status})` : `${name}${message ? `: ${message}` : ""}` };
}
