import type { ParamsSchema } from "../command.js";
import { CommandError } from "../errors.js";

/** Canonical parameter names of a schema, keyed by their lower-case spelling. */
export function canonicalNames(schema: ParamsSchema): Map<string, string> {
  return new Map(Object.keys(schema.def.shape).map((k) => [k.toLowerCase(), k]));
}

/**
 * Validates merged parameters against a command's schema. Names are matched
 * case-insensitively; of all failures, the lowest code is reported (CONTRACT §3:
 * checks run in ascending code order and the first failure is reported).
 */
export function validateParams(schema: ParamsSchema, names: Map<string, string>, params: Map<string, unknown>): unknown {
  const input: Record<string, unknown> = {};
  for (const [lower, canonical] of names) {
    if (params.has(lower)) input[canonical] = params.get(lower);
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  let first: { code: number; message: string } | undefined;
  for (const issue of result.error.issues) {
    const code = Number((issue as { params?: { code?: number } }).params?.code);
    if (!Number.isFinite(code)) continue;
    if (!first || code < first.code) first = { code, message: issue.message };
  }
  // Every field schema codes its failures; an uncoded issue is a programming error.
  if (!first) throw new Error(`uncoded validation issue: ${result.error.issues[0]?.message}`);
  throw new CommandError(first.code, first.message, "validation");
}
