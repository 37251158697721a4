import { CommandError, validation } from "../errors.js";
import { validateCriteria } from "../domain/trees/criteria.js";
import { keys } from "../keys.js";
import { batchGet, keyId } from "../domain/owned.js";
import type { RefCheck } from "../domain/journeys/trigger.js";
import { field, fail, isAbsent, optionalEnum, requiredId, requiredIdList, toJsonValue, toNonNegativeInt, toText, type Coded } from "../params.js";
import { parseTriggerName, TRIGGERS } from "../domain/journeys/trigger.js";

/** Parameters shared by the journey commands, with the reference's codes. */

export const journeyId = (missing: Coded = [1, "Missing JourneyID parameter"], invalid: Coded = [2, "Invalid JourneyID parameter"]) =>
  requiredId(missing, invalid, "ID of the journey");

export const NAME_MAX = 255;
/** Oempro keeps notes in a TEXT column; longer notes are cut to that size rather than refused. */
export const NOTES_MAX = 65535;

export const triggerField = field(
  { type: "string", description: `Trigger type. One of: ${TRIGGERS.join(", ")}` },
  (v, ctx) => {
    if (isAbsent(v)) return undefined;
    return parseTriggerName(v) ?? fail(ctx, v, [3, "Invalid trigger"]);
  },
);

/** Criteria (RulesJson) arrive as JSON or as a string holding JSON. Any structural fault is code 3. */
export const criteriaField = (param: string) =>
  field({ type: "array", description: "RulesJson: an OR of AND-groups of rule objects" }, (v, ctx): unknown[][] | undefined => {
    if (isAbsent(v)) return undefined;
    const parsed = toJsonValue(v);
    if (!parsed.ok) return fail(ctx, v, [3, `Invalid ${param} parameter (invalid JSON)`]);
    const result = validateCriteria(parsed.value);
    return result.ok ? result.value : fail(ctx, v, [3, `Invalid ${param} parameter: ${result.message}`]);
  });

export const runOperatorField = optionalEnum(["and", "or"] as const, [3, "Invalid Run_Criteria_Operator parameter"]);

/** The JourneyIDs of the bulk commands (journeys.enable, journeys.disable, journeys.clone). */
export const bulkJourneyIds = (description: string) =>
  requiredIdList(
    [1, "Missing JourneyIDs parameter"],
    [2, "Invalid JourneyIDs parameter (no positive integers after parsing)"],
    description,
  );

/** Free text with no code of its own: a wrong type (object, array) is code 2, Octeth's "invalid field format". */
export const notesField = field({ type: "string", description: `Journey notes (longer than ${NOTES_MAX} characters are cut)` }, (v, ctx) => {
  if (v === undefined || v === null) return undefined;
  const text = toText(v);
  return text === undefined ? fail(ctx, v, [2, "Invalid Notes parameter"]) : text.slice(0, NOTES_MAX);
});

/** The codes rateLimits raises (in run, after the trigger's), for the reference's error tables. */
export const RATE_LIMIT_ERRORS = [
  validation(18, "Invalid rate_limit_per_hour parameter"),
  validation(19, "Invalid rate_limit_per_day parameter"),
] as const;

/** Rate limits: a non-negative integer (0 means no limit). Checked last, after the trigger's records. */
export function rateLimits(
  hour: unknown,
  day: unknown,
): { Rate_Limit_Per_Hour?: number; Rate_Limit_Per_Day?: number } {
  const out: { Rate_Limit_Per_Hour?: number; Rate_Limit_Per_Day?: number } = {};
  if (!isAbsent(hour)) {
    out.Rate_Limit_Per_Hour = toNonNegativeInt(hour);
    if (out.Rate_Limit_Per_Hour === undefined) throw RATE_LIMIT_ERRORS[0];
  }
  if (!isAbsent(day)) {
    out.Rate_Limit_Per_Day = toNonNegativeInt(day);
    if (out.Rate_Limit_Per_Day === undefined) throw RATE_LIMIT_ERRORS[1];
  }
  return out;
}

/** Checks that every referenced record is the caller's, in one BatchGet; throws the lowest-coded miss. */
export async function checkRefs(userId: number, refs: RefCheck[]): Promise<void> {
  if (refs.length === 0) return;
  const found = await batchGet(refs.map((r) => keys.owned(r.kind, userId, r.id)));
  const missing = refs
    .filter((r) => !found.has(keyId(keys.owned(r.kind, userId, r.id))))
    .sort((a, b) => a.error.code - b.error.code);
  if (missing[0]) throw missing[0].error;
}

/** Throws the lowest-coded of several independent failures, if any. */
export function throwLowest(errors: (CommandError | undefined)[]): void {
  const sorted = errors.filter((e): e is CommandError => e !== undefined).sort((a, b) => a.code - b.code);
  if (sorted[0]) throw sorted[0];
}

/** Texts shared by journey.get and the stats reads, as the reference writes them. */
export const EMAIL_ID_INVALID: Coded = [7, "Invalid EmailID parameter (not a positive integer, or not a SendEmail action on this journey)"];
export const ISP_INVALID: Coded = [8, "Invalid ISP parameter (must match /^[a-zA-Z0-9.-]+$/)"];
export const ISP_RE = /^[a-zA-Z0-9.-]{1,253}$/;

/** An ISP filter: undefined when absent, the lower-cased domain, or null when malformed. */
export function parseIsp(v: unknown): string | undefined | null {
  if (isAbsent(v)) return undefined;
  return typeof v === "string" && ISP_RE.test(v) ? v.toLowerCase() : null;
}
