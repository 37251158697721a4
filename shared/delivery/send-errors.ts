import type { SendResult } from "./model.js";

/** What a failed SDK call looks like: a ServiceException carries the answer's status and the error's name. */
interface SdkErrorShape {
  name?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

const clip = (s: string, n = 500): string => (s.length > n ? `${s.slice(0, n)}…` : s);

/**
 * Maps a provider call's error onto §8.2's rules, the same for SES and SMS:
 * - an error answer with a 4xx status is definite, nothing was sent: a throttling
 *   error (the provider's names, given by the caller) is `throttled`, anything else
 *   `refused`, its code the error's name;
 * - a 5xx, a timeout, a reset, or anything without an HTTP status is `noAnswer`: it may
 *   have been sent, so it is never retried. A "throttling" error with no 4xx answer is
 *   no definite answer either.
 */
export function classifySendError(err: unknown, throttling: readonly string[]): Exclude<SendResult, { kind: "accepted" }> {
  const e = (typeof err === "object" && err !== null ? err : {}) as SdkErrorShape;
  const name = typeof e.name === "string" && e.name !== "" ? e.name : "Error";
  const message = typeof e.message === "string" ? e.message : String(err);
  const status = typeof e.$metadata?.httpStatusCode === "number" ? e.$metadata.httpStatusCode : undefined;
  if (status !== undefined && status >= 400 && status < 500) {
    if (throttling.includes(name)) return { kind: "throttled", code: name };
    return { kind: "refused", code: name, ...(message !== "" ? { message: clip(message) } : {}) };
  }
  return { kind: "noAnswer", error: clip(status !== undefined ? `${name} (HTTP ${status}): ${message}` : `${name}: ${message}`) };
}
