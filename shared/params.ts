import * as z from "zod/mini";
import { CommandError } from "./errors.js";
import { isCalendarDate } from "./time.js";

/**
 * Field schemas for request parameters, built on zod. Each failure carries the
 * reference's error code in `params.code`; the plumbing reports the lowest code
 * among all failures, which is "checks run in ascending code order, first
 * failure wins" (CONTRACT §3) without hand-ordering every command.
 *
 * Every field takes `unknown`: parameters arrive as strings (query, form) or as
 * any JSON value, and hostile input (objects where scalars belong) must map to
 * the field's documented code rather than a crash.
 */
export type Coded = readonly [code: number, message: string];

type Ctx = { issues: unknown[] };
function fail(ctx: Ctx, input: unknown, [code, message]: Coded): never {
  (ctx.issues as z.core.$ZodRawIssue[]).push({ code: "custom", message, input, params: { code } });
  return z.NEVER as never;
}

/** Describe a field for the OpenAPI document. */
export interface FieldDoc {
  type: "integer" | "string" | "boolean" | "number" | "array" | "object" | "string|integer" | "array|string";
  description?: string;
  required?: boolean;
  /** Bounds of an integer field, for the OpenAPI document (integers default to a minimum of 1). */
  minimum?: number;
  maximum?: number;
  /** The codes this field's own check can raise, in the order it checks; the reference (/docs) lists them. */
  codes?: readonly Coded[];
}
export const fieldDocs = z.registry<FieldDoc>();

function field<T>(doc: FieldDoc, parse: (v: unknown, ctx: Ctx) => T) {
  // optional() input: an absent key must still reach the parser, which owns the "missing" code.
  const schema = z.pipe(z.optional(z.unknown()), z.transform((v, ctx) => parse(v, ctx)));
  fieldDocs.add(schema, doc);
  return schema;
}

export const isAbsent = (v: unknown): boolean => v === undefined || v === null || v === "";

const POS_INT_RE = /^[1-9]\d{0,14}$/;
/** `123` or `"123"` and nothing else: 12abc, 1.5, -3, 0 and 1e3 are all invalid (CONTRACT §1). */
export function toPositiveInt(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isSafeInteger(v) && v > 0 ? v : undefined;
  if (typeof v === "string" && POS_INT_RE.test(v)) return Number(v);
  return undefined;
}

const NON_NEG_INT_RE = /^(0|[1-9]\d{0,14})$/;
export function toNonNegativeInt(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  if (typeof v === "string" && NON_NEG_INT_RE.test(v)) return Number(v);
  return undefined;
}

/** A required positive integer. */
export const requiredId = (missing: Coded, invalid: Coded, description?: string) =>
  field({ type: "integer", required: true, description, codes: [missing, invalid] }, (v, ctx) => {
    if (isAbsent(v)) return fail(ctx, v, missing);
    return toPositiveInt(v) ?? fail(ctx, v, invalid);
  });

/** An optional positive integer: absent (or empty) is undefined. */
export const optionalId = (invalid: Coded, description?: string) =>
  field({ type: "integer", description, codes: [invalid] }, (v, ctx): number | undefined => {
    if (isAbsent(v)) return undefined;
    return toPositiveInt(v) ?? fail(ctx, v, invalid);
  });

/** Booleans: 1, true, yes, on (any case) are true; anything else counts as absent. */
export function toBool(v: unknown): boolean {
  if (v === true || v === 1) return true;
  return typeof v === "string" && ["1", "true", "yes", "on"].includes(v.trim().toLowerCase());
}
export const flag = (description?: string) => field({ type: "boolean", description }, (v) => toBool(v));

/** A string parameter. Numbers are accepted as their decimal text; objects are invalid. */
export function toText(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  return undefined;
}

export const requiredText = (missing: Coded, opts: { invalid?: Coded; max?: number; description?: string } = {}) =>
  field({ type: "string", required: true, description: opts.description, codes: opts.invalid ? [missing, opts.invalid] : [missing] }, (v, ctx) => {
    if (isAbsent(v)) return fail(ctx, v, missing);
    const s = toText(v);
    if (s === undefined || s.trim() === "") return fail(ctx, v, opts.invalid ?? missing);
    if (opts.max !== undefined && s.length > opts.max) return fail(ctx, v, opts.invalid ?? missing);
    return s;
  });

export const optionalText = (invalid: Coded, opts: { max?: number; description?: string } = {}) =>
  field({ type: "string", description: opts.description, codes: [invalid] }, (v, ctx): string | undefined => {
    if (v === undefined || v === null) return undefined;
    const s = toText(v);
    if (s === undefined) return fail(ctx, v, invalid);
    if (opts.max !== undefined && s.length > opts.max) return fail(ctx, v, invalid);
    return s;
  });

/** A YYYY-MM-DD date that must be a real calendar date. */
export const optionalDate = (invalid: Coded, description?: string) =>
  field({ type: "string", description: description ?? "YYYY-MM-DD (UTC)", codes: [invalid] }, (v, ctx): string | undefined => {
    if (isAbsent(v)) return undefined;
    return typeof v === "string" && isCalendarDate(v) ? v : fail(ctx, v, invalid);
  });

/** Enum values match case-insensitively and come back canonical (CONTRACT §11). */
export function toEnum<T extends string>(values: readonly T[], v: unknown): T | undefined {
  if (typeof v !== "string") return undefined;
  const lower = v.trim().toLowerCase();
  return values.find((x) => x.toLowerCase() === lower);
}
export const optionalEnum = <T extends string>(values: readonly T[], invalid: Coded, description?: string) =>
  field({ type: "string", description: description ?? `One of: ${values.join(", ")}`, codes: [invalid] }, (v, ctx): T | undefined => {
    if (isAbsent(v)) return undefined;
    return toEnum(values, v) ?? fail(ctx, v, invalid);
  });

/**
 * Comma lists of IDs (CONTRACT §1): positive integers are kept, other tokens are
 * dropped, duplicates collapse, order is kept. Arrays are accepted too.
 */
export function toIdList(v: unknown): number[] {
  const tokens: unknown[] = Array.isArray(v) ? v : typeof v === "string" ? v.split(",").map((t) => t.trim()) : [v];
  const seen = new Set<number>();
  for (const t of tokens) {
    const id = toPositiveInt(t);
    if (id !== undefined) seen.add(id);
  }
  return [...seen];
}
export const requiredIdList = (missing: Coded, invalid: Coded, description?: string) =>
  field({ type: "array|string", required: true, description, codes: [missing, invalid] }, (v, ctx) => {
    if (isAbsent(v) || (Array.isArray(v) && v.length === 0)) return fail(ctx, v, missing);
    const ids = toIdList(v);
    return ids.length > 0 ? ids : fail(ctx, v, invalid);
  });

/** Array/object parameters may arrive as JSON values or as strings holding JSON (CONTRACT §1). */
export function toJsonValue(v: unknown): { ok: true; value: unknown } | { ok: false } {
  if (typeof v !== "string") return { ok: true, value: v };
  try {
    return { ok: true, value: JSON.parse(v) };
  } catch {
    return { ok: false };
  }
}

/** Untyped passthrough, for parameters a command validates itself (because its checks need the database). */
export const raw = (doc: FieldDoc) => field(doc, (v) => v);

/**
 * Runs one field schema on one value and throws its coded failure. Commands use it
 * for parameters whose checks must run after a database lookup with a lower code
 * (journey.get reports "Journey not found" (3) before "Invalid StartDate" (4)).
 */
export function parseField<T>(schema: z.ZodMiniType<T, unknown>, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0] as { message: string; params?: { code?: number } } | undefined;
  throw new CommandError(Number(issue?.params?.code ?? 2), issue?.message ?? "Invalid parameter", "validation");
}

export { field, fail };

/**
 * An object-level check that one of several optional parameters is given. It runs
 * even when other fields failed (a failed field is not `undefined`, so it counts as
 * given), which puts its code in its place among the ascending validation codes.
 */
export const oneOf = (names: readonly string[], [code, message]: Coded) =>
  z.refine((v: unknown) => names.some((n) => (v as Record<string, unknown>)[n] !== undefined), {
    when: () => true,
    message,
    params: { code },
  } as Parameters<typeof z.refine>[1]);
