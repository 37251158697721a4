/**
 * The one error type commands throw. `kind` decides the HTTP status (see
 * shared/http/envelope.ts); `code` and `message` are the reference's.
 */
export type ErrorKind =
  | "validation"
  | "notFound"
  | "conflict"
  | "auth"
  | "permission"
  | "rateLimit"
  /** A documented code for a write that did not happen ("Journey not cloned successfully"): 500 on v1. */
  | "failure"
  /** The answer would exceed Lambda's response limit (RESPONSE_TOO_LARGE): 413 on v1. */
  | "tooLarge"
  /** 100000 / 100001 / 100003: the request never reached a working command. */
  | "hard";

export class CommandError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly kind: ErrorKind = "validation",
    /** Extra response headers, e.g. Retry-After on 429. */
    readonly headers: Record<string, string> = {},
    /** Extra body fields some references show on errors (SkippedJourneys). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "CommandError";
  }
}

export const validation = (code: number, message: string) => new CommandError(code, message, "validation");
export const notFound = (code: number, message: string) => new CommandError(code, message, "notFound");
export const conflict = (code: number, message: string) => new CommandError(code, message, "conflict");

export const HARD = {
  invalidJson: 100000,
  invalidMethod: 100001,
  unknownCommand: 100003,
  internal: 100005,
} as const;

export const unknownCommand = (name: string) =>
  new CommandError(HARD.unknownCommand, `Invalid API command: "${name}" not found.`, "hard");

export const AUTH = {
  invalid: () => new CommandError(99998, "Invalid API key or session", "auth"),
  expired: () => new CommandError(99999, "Session expired", "auth"),
  permission: () => new CommandError(403, "Permission denied", "permission"),
};

/** Type guard for AWS SDK errors, which carry their exception name in `name`. */
export function isAwsError(err: unknown, name: string): boolean {
  return err instanceof Error && err.name === name;
}

/**
 * Any command's answer that does not fit Lambda's response limit. One code for every
 * command, beside the other command-independent codes (99998, 99999), and a handler
 * error: /api.php answers it with HTTP 200.
 */
export const RESPONSE_TOO_LARGE = 99997;
export const responseTooLarge = (bytes: number, limit: number, gzipped: boolean) =>
  new CommandError(
    RESPONSE_TOO_LARGE,
    `Response too large: ${bytes} bytes${gzipped ? " even gzipped" : ""}, over the ${limit}-byte limit. ` +
      `${gzipped ? "" : "Send Accept-Encoding: gzip, or "}ask for less: page with RecordsPerRequest and RecordsFrom, ` +
      "narrow StatsStartDate/StatsEndDate, or pass SkipStats=1.",
    "tooLarge",
  );
