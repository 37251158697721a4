import type { ErrorShape } from "../command.js";
import { CommandError, HARD, type ErrorKind } from "../errors.js";

/** The HTTP status of each failure kind on v1 routes (CONTRACT §3). */
const V1_STATUS: Record<ErrorKind, number> = {
  validation: 422,
  notFound: 404,
  conflict: 409,
  auth: 401,
  permission: 403,
  rateLimit: 429,
  failure: 500,
  // The request was fine but asks for more than one response can carry.
  tooLarge: 413,
  hard: 400,
};

export type Mode = "v1" | "legacy";

export function statusFor(err: CommandError, mode: Mode): number {
  if (err.kind === "hard") {
    // Only 100000, 100001 and 100003 are the caller's fault; any other hard code is a 500.
    const clientCodes: number[] = [HARD.invalidJson, HARD.invalidMethod, HARD.unknownCommand];
    return clientCodes.includes(err.code) ? 400 : 500;
  }
  if (mode === "legacy" && err.kind !== "rateLimit") return 200; // Octeth's legacy contract
  return V1_STATUS[err.kind];
}

export function errorBody(err: CommandError, shape: ErrorShape = "default"): Record<string, unknown> {
  const body: Record<string, unknown> = { Success: false };
  if (err.kind === "hard") {
    // Hard failures carry Octeth's flat ErrorCode/ErrorText as well.
    body["ErrorCode"] = err.code;
    body["ErrorText"] = err.message;
  } else if (shape === "codeList") {
    body["ErrorCode"] = [err.code];
    body["ErrorText"] = [err.message];
  } else if (shape === "codeObjects") {
    body["ErrorCode"] = [{ Code: err.code, Message: err.message }];
  }
  body["Errors"] = [{ Code: err.code, Message: err.message }];
  return { ...body, ...err.extra };
}

export const internalError = () => new CommandError(HARD.internal, "Internal error", "hard");

export const JSON_TYPE = "application/json; charset=utf-8";
