import { CommandError } from "../../errors.js";
import type { OwnedKind } from "../../keys.js";
import { isAbsent, toEnum, toPositiveInt, toText } from "../../params.js";

/** Journey triggers and their parameters (reference + CONTRACT §8). */
export const TRIGGERS = [
  "Manual",
  "ListSubscription",
  "ListUnsubscription",
  "EmailOpen",
  "EmailConversion",
  "EmailLinkClick",
  "Tag",
  "UnTag",
  "CustomFieldValueChanged",
  "RevenueHit",
  "JourneyCompleted",
  "WebsiteEvent_pageView",
  "WebsiteEvent_identify",
  "WebsiteEvent_customEvent",
  "WebsiteEvent_conversion",
] as const;
export type Trigger = (typeof TRIGGERS)[number];

export const parseTriggerName = (v: unknown): Trigger | undefined => toEnum(TRIGGERS, v);

export type TriggerParameters = Record<string, string | number>;

/** A record the trigger points at, which must exist among the caller's own records. */
export interface RefCheck {
  kind: OwnedKind;
  id: number;
  error: CommandError;
}

export interface TriggerInput {
  Trigger_ListID?: unknown;
  Trigger_EmailID?: unknown;
  Trigger_Value?: unknown;
}

const v = (code: number, message: string) => new CommandError(code, message, "validation");

/**
 * Every code `resolveTrigger` and its record checks can raise, for the reference's error
 * tables. A function, so that a bundle without the docs (shared/command-docs.ts) drops it.
 */
export const triggerErrors = (): readonly CommandError[] => [
  v(4, "Missing Trigger_ListID parameter"),
  v(5, "Invalid Trigger_ListID parameter"),
  v(6, "Trigger_ListID matching record not found"),
  v(7, "Missing Trigger_EmailID parameter"),
  v(8, "Invalid Trigger_EmailID parameter"),
  v(9, "Trigger_EmailID matching record not found"),
  v(10, "Invalid Trigger_Value parameter"),
  v(11, "Trigger_Value matching record not found"),
  v(12, "Invalid Trigger_Value parameter (CustomFieldValueChanged)"),
  v(13, "Trigger_Value matching record not found (CustomFieldValueChanged)"),
  v(14, "Invalid Trigger_Value parameter (RevenueHit)"),
  v(15, "Missing Trigger_Value parameter (RevenueHit)"),
  v(16, "Invalid Trigger_Value parameter (JourneyCompleted)"),
  v(17, "Trigger_Value matching record not found (JourneyCompleted)"),
];

/** Reads a positive-integer trigger parameter, falling back to the stored value when absent. */
function idParam(
  raw: unknown,
  fallback: number | string | undefined,
  missing: CommandError,
  invalid: CommandError,
): number | CommandError {
  if (isAbsent(raw)) {
    const kept = toPositiveInt(fallback);
    return kept ?? missing;
  }
  return toPositiveInt(raw) ?? invalid;
}

/**
 * Resolves the trigger's parameters. `previous` holds the stored parameters when
 * the trigger is unchanged on update, so that omitted values are kept. Returns
 * the parameters plus the records that must be checked for ownership, or the
 * lowest-coded failure among the checks that need no database.
 */
export function resolveTrigger(
  trigger: Trigger,
  input: TriggerInput,
  previous: TriggerParameters = {},
): { params: TriggerParameters; refs: RefCheck[] } | CommandError {
  switch (trigger) {
    case "Manual":
      return { params: {}, refs: [] };
    case "ListSubscription":
    case "ListUnsubscription": {
      const id = idParam(
        input.Trigger_ListID,
        previous["ListID"],
        v(4, "Missing Trigger_ListID parameter"),
        v(5, "Invalid Trigger_ListID parameter"),
      );
      if (id instanceof CommandError) return id;
      return { params: { ListID: id }, refs: [{ kind: "list", id, error: v(6, "Trigger_ListID matching record not found") }] };
    }
    case "EmailOpen":
    case "EmailConversion":
    case "EmailLinkClick": {
      const id = idParam(
        input.Trigger_EmailID,
        previous["EmailID"],
        v(7, "Missing Trigger_EmailID parameter"),
        v(8, "Invalid Trigger_EmailID parameter"),
      );
      if (id instanceof CommandError) return id;
      return { params: { EmailID: id }, refs: [{ kind: "email", id, error: v(9, "Trigger_EmailID matching record not found") }] };
    }
    case "Tag":
    case "UnTag": {
      const bad = v(10, "Invalid Trigger_Value parameter");
      const id = idParam(input.Trigger_Value, previous["TagID"], bad, bad);
      if (id instanceof CommandError) return id;
      return { params: { TagID: id }, refs: [{ kind: "tag", id, error: v(11, "Trigger_Value matching record not found") }] };
    }
    case "CustomFieldValueChanged": {
      const bad = v(12, "Invalid Trigger_Value parameter (CustomFieldValueChanged)");
      const id = idParam(input.Trigger_Value, previous["CustomFieldID"], bad, bad);
      if (id instanceof CommandError) return id;
      return {
        params: { CustomFieldID: id },
        refs: [{ kind: "customField", id, error: v(13, "Trigger_Value matching record not found (CustomFieldValueChanged)") }],
      };
    }
    case "RevenueHit": {
      const raw = isAbsent(input.Trigger_Value) ? previous["Amount"] : input.Trigger_Value;
      if (isAbsent(raw)) return v(15, "Missing Trigger_Value parameter (RevenueHit)");
      const amount = toPositiveAmount(raw);
      if (amount === undefined) return v(14, "Invalid Trigger_Value parameter (RevenueHit)");
      return { params: { Amount: amount }, refs: [] };
    }
    case "JourneyCompleted": {
      const bad = v(16, "Invalid Trigger_Value parameter (JourneyCompleted)");
      const id = idParam(input.Trigger_Value, previous["JourneyID"], bad, bad);
      if (id instanceof CommandError) return id;
      return {
        params: { JourneyID: id },
        refs: [{ kind: "journey", id, error: v(17, "Trigger_Value matching record not found (JourneyCompleted)") }],
      };
    }
    default: {
      // WebsiteEvent_*: a free-form value (event name, URL pattern, ...).
      const raw = isAbsent(input.Trigger_Value) ? (previous["Value"] ?? "") : input.Trigger_Value;
      const text = toText(raw);
      if (text === undefined || text.length > 1024) return v(10, "Invalid Trigger_Value parameter");
      return { params: { Value: text }, refs: [] };
    }
  }
}

/** A positive amount: a finite number above zero, given as a number or decimal text. */
function toPositiveAmount(raw: unknown): number | undefined {
  let n: number | undefined;
  if (typeof raw === "number") n = raw;
  else if (typeof raw === "string" && /^\d{1,12}(\.\d{1,4})?$/.test(raw.trim())) n = Number(raw.trim());
  return n !== undefined && Number.isFinite(n) && n > 0 && n < 1e12 ? n : undefined;
}
