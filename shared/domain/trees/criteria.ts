/**
 * Structural validation of RulesJson criteria (reference/criteria-syntax.md): an
 * OR of AND-groups, each group an array of rule objects whose `type` is known and
 * whose operator belongs to that type. Returns the canonical value, or a message
 * naming the offending path.
 */
const OPERATORS: Record<string, readonly string[]> = {
  segments: ["belongs to", "does not belong to"],
  tags: ["has this tag", "does not have this tag", "has any of these tags", "has all of these tags", "has no tags"],
  journeys: [
    "in journey", "completed journey", "not in journey", "opened", "not opened", "clicked", "not clicked",
    "unsubscribed", "complained", "not complained", "bounced", "not bounced",
  ],
  fields: [
    "is", "is not", "contains", "does not contain", "ends with", "begins with", "is less than",
    "is less than or equal to", "is greater than", "is greater than or equal to", "is set", "is not set",
  ],
  suppressions: ["exist", "not exist"],
  "website-events": [
    "happened", "did happen", "did not happen", "happened in the last X days", "did not happen in the last X days",
    "equals", "does not equal", "contains", "does not contain", "matches regex", "does not match regex",
    "greater than", "less than", "is set", "is not set",
  ],
  "campaign-events": [
    "opened", "not opened", "clicked", "not clicked", "unsubscribed", "not unsubscribed", "complained",
    "not complained", "bounced", "not bounced", "delivered", "not delivered", "queued-recipients",
    "not queued-recipients", "failed", "not failed",
  ],
};

/** Keys a rule of each type must carry besides type and operator. */
const REQUIRED: Record<string, readonly string[]> = { fields: ["field_id"], "website-events": ["event"] };

const MAX_GROUPS = 50;
const MAX_RULES_PER_GROUP = 50;
const MAX_SERIALIZED = 64 * 1024;

export type CriteriaResult = { ok: true; value: unknown[][] } | { ok: false; message: string };

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Scalars, or flat arrays of scalars (tag lists, campaign IDs), or the small objects campaign-events uses. */
function isRuleValue(v: unknown, depth = 0): boolean {
  if (v === null || ["string", "number", "boolean"].includes(typeof v)) return true;
  if (depth >= 3) return false;
  if (Array.isArray(v)) return v.every((x) => isRuleValue(x, depth + 1));
  return isPlainObject(v) && Object.values(v).every((x) => isRuleValue(x, depth + 1));
}

export function validateCriteria(value: unknown): CriteriaResult {
  if (!Array.isArray(value)) return { ok: false, message: "must be an array of rule groups" };
  if (value.length > MAX_GROUPS) return { ok: false, message: `at most ${MAX_GROUPS} groups` };
  if (JSON.stringify(value).length > MAX_SERIALIZED) return { ok: false, message: `at most ${MAX_SERIALIZED} bytes` };
  const groups: unknown[][] = [];
  for (const [g, group] of value.entries()) {
    if (!Array.isArray(group) || group.length === 0) return { ok: false, message: `[${g}] must be a non-empty array of rules` };
    if (group.length > MAX_RULES_PER_GROUP) return { ok: false, message: `[${g}] has more than ${MAX_RULES_PER_GROUP} rules` };
    const rules: unknown[] = [];
    for (const [r, rule] of group.entries()) {
      const at = `[${g}][${r}]`;
      if (!isPlainObject(rule)) return { ok: false, message: `${at} must be a rule object` };
      const type = typeof rule["type"] === "string" ? rule["type"].trim().toLowerCase() : undefined;
      const operators = type !== undefined ? OPERATORS[type] : undefined;
      if (!type || !operators) return { ok: false, message: `${at}.type is not a known criteria type` };
      const given = typeof rule["operator"] === "string" ? rule["operator"].trim().toLowerCase() : undefined;
      const operator = operators.find((o) => o.toLowerCase() === given);
      if (!operator) return { ok: false, message: `${at}.operator is not valid for type ${type}` };
      for (const key of REQUIRED[type] ?? []) {
        if (typeof rule[key] !== "string" && typeof rule[key] !== "number") {
          return { ok: false, message: `${at}.${key} is required for type ${type}` };
        }
      }
      for (const [k, v] of Object.entries(rule)) {
        if (!isRuleValue(v)) return { ok: false, message: `${at}.${k} has an unsupported value` };
      }
      rules.push({ ...rule, type, operator });
    }
    groups.push(rules);
  }
  return { ok: true, value: groups };
}
