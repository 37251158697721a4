import type * as z from "zod/mini";

/**
 * A command is a plain function from typed parameters and a caller to a result.
 * It knows nothing of API Gateway. Its declaration carries everything the three
 * readers of the registry need: the CDK stack (route, group), the local gateway
 * (route) and the /api.php dispatcher (name, group; through shared/command-index.ts).
 */
export type Permission = "Campaign.Create" | "Campaign.Delete";
export type Scope = "user" | "admin" | "none";
export type HttpMethod = "GET" | "POST" | "PATCH" | "DELETE";

/** One Lambda per endpoint group. `legacy` (the /api.php dispatcher) is not a group commands join. */
export const GROUPS = ["health", "auth", "admin", "reference", "journeys", "actions", "events", "stats", "exports"] as const;
export type Group = (typeof GROUPS)[number];

export type Caller =
  | { kind: "user"; userId: number; permissions: Permission[] }
  | { kind: "admin" }
  | { kind: "anonymous" };

export interface CallContext {
  caller: Caller;
  now: Date;
}

/** A user caller, which every `scope: "user"` command is guaranteed to have. */
export function userOf(ctx: CallContext): { userId: number; permissions: Permission[] } {
  if (ctx.caller.kind !== "user") throw new Error("user scope required");
  return ctx.caller;
}

/** A non-JSON answer (the CSV download's redirect). */
export class RawReply {
  constructor(
    readonly statusCode: number,
    readonly headers: Record<string, string>,
    readonly body = "",
  ) {}
}

export type Reply = Record<string, unknown> | RawReply;

/**
 * How errors are shaped for commands whose reference shows a legacy error body
 * (CONTRACT §3): `codeList` adds `ErrorCode: [n]`/`ErrorText: [s]`, `codeObjects`
 * adds `ErrorCode: [{Code, Message}]`.
 */
export type ErrorShape = "default" | "codeList" | "codeObjects";

// Params are declared as a zod object of unknown-input fields (see shared/params.ts).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ParamsSchema = z.ZodMiniObject<any>;

export interface CommandDef<S extends ParamsSchema = ParamsSchema> {
  name: string;
  /** The v1 route; absent for /api.php-only commands (journeys.delete). */
  route?: { method: HttpMethod; path: string };
  group: Group;
  scope: Scope;
  permission?: Permission;
  params: S;
  errorShape?: ErrorShape;
  /** Omit `"Success": true` from the success body (health answers `{"Status": "ok"}` exactly). */
  bareSuccess?: boolean;
  /** For unauthenticated commands: who the rate limit counts against (login counts per Username). */
  rateLimitKey?: (params: Map<string, unknown>) => string | undefined;
  run(input: z.infer<S>, ctx: CallContext): Promise<Reply>;
}

/**
 * What the /api.php dispatcher must know of a command before its group is loaded:
 * the name it is called by, the group whose module defines it, and its v1 route
 * (for the "wrong method" answer on API Gateway's $default route).
 */
export type CommandEntry = Pick<CommandDef, "name" | "group" | "route">;

/** A group's definitions, imported on first use (a chunk of its own in a split bundle). */
export type GroupLoader = () => Promise<readonly CommandDef[]>;

/** Identity function that keeps the schema's inferred type flowing into `run`. */
export function defineCommand<S extends ParamsSchema>(def: CommandDef<S>): CommandDef<S> {
  return def;
}
