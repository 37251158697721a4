import type { Item } from "../domain/owned.js";
import { formatDateTime, isCalendarDate, parseDateTime } from "../time.js";

/**
 * Criteria evaluation (ENGINE §4.6, §13.2), pure: Trigger_Criteria, Run_Criteria,
 * Decision and YesNo over one subscriber's data, loaded by `criteria-load.ts`.
 *
 * Nothing here throws on a rule: criteria were validated when saved, but a stored
 * rule can still be one this code cannot evaluate (an older shape, a hand-written
 * item). Such a rule is false and named in `unsupportedRules`; a rule over data the
 * product does not hold (segments, website events, campaigns) is false and named in
 * `noDataRules`. Both end up in the step's `Detail`.
 */

export interface CriteriaData {
  /** The subscriber item (`keys.subscriber`); `{}` when it does not exist. */
  subscriber: Item;
  /** Memberships (`keys.membership`) by JourneyID, of the journeys the rules name. */
  memberships: Map<number, Item>;
  /** Email states (`keys.emailState`) by ActionID: those the rules name, or all of them when queried. */
  emailStates: Map<number, Item>;
  /** Every email state of the subscriber: only loaded when the rules need EmailIDs or counts. */
  allEmailStates?: Item[];
  /** The JourneyIDs named by the rules whose journey item still exists (a deleted journey's is gone first). */
  liveJourneys: ReadonlySet<number>;
  /** The product clock, epoch seconds. */
  now: number;
  /** Read by YesNo `SubscriberID` when the subscriber item does not carry its own `SubscriberID`. */
  subscriberId?: number;
}

export interface CriteriaOutcome {
  result: boolean;
  noDataRules: string[];
  unsupportedRules: string[];
}

export interface CriteriaNeeds {
  /** Journeys whose membership and journey item the rules read. */
  journeyIds: number[];
  /** SendEmail actions whose email state the rules read by ActionID. */
  actionIds: number[];
  /** Some rule reads EmailIDs or counts: query all of the subscriber's email states. */
  queryEmailStates: boolean;
}

/** YesNo's stored parameters (shared/domain/trees/actions.ts `parseYesNo`). */
export interface YesNoParams {
  CriteriaLeft: unknown;
  CriteriaOperator: unknown;
  CriteriaRight: unknown;
  CriteriaOption?: unknown;
}

/**
 * Email-state attributes: the ingest core writes the unique kinds (`Opened`,
 * `Clicked`, `Unsubscribed`, `SpamComplaint`) as their first day, `Sent` and
 * `Bounced` as `true`; `Delivered`, `Failed` and `EmailID` are written by the runner
 * and the delivery adapter. A flag is held when it is `true`, a non-empty string,
 * a non-zero number or an object; its time is its value when that is a date.
 */
const JOURNEY_EMAIL_OPS: Record<string, string> = {
  opened: "Opened",
  clicked: "Clicked",
  unsubscribed: "Unsubscribed",
  complained: "SpamComplaint",
  bounced: "Bounced",
};
const CAMPAIGN_OPS: Record<string, string> = {
  ...JOURNEY_EMAIL_OPS,
  delivered: "Delivered",
  "queued-recipients": "Sent",
  failed: "Failed",
};
/** Kinds the reference excludes from `time_filter` and `aggregation` (criteria-syntax.md, "Important Notes"). */
const NO_FILTER_KINDS = new Set(["Delivered", "Sent", "Failed"]);
const JOURNEY_MEMBERSHIP_OPS = new Set(["in journey", "not in journey", "completed journey"]);
const NO_DATA_TYPES = new Set(["segments", "website-events"]);

type Verdict = boolean | { noData: true } | { unsupported: string };
const NO_DATA: Verdict = { noData: true };
const unsupported = (why: string): Verdict => ({ unsupported: why });

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const norm = (v: unknown): string => (typeof v === "string" ? v.trim().toLowerCase() : "");
/** A stored scalar as text; anything else (absent, objects) reads as empty. */
const text = (v: unknown): string => (typeof v === "string" ? v : typeof v === "number" || typeof v === "bigint" ? String(v) : "");
const lower = (s: string) => s.toLowerCase();

function positiveInt(v: unknown): number | undefined {
  const n = typeof v === "number" ? v : typeof v === "string" && /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}
function wholeNumber(v: unknown): number | undefined {
  const n = typeof v === "number" ? v : typeof v === "string" && /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** A list of positive IDs from a number, a comma list or an array; undefined when any entry is not one. */
function idList(v: unknown): number[] | undefined {
  if (v === undefined || v === null) return [];
  const parts = Array.isArray(v) ? v : typeof v === "number" ? [v] : typeof v === "string" ? v.split(",").filter((s) => s.trim() !== "") : undefined;
  if (!parts) return undefined;
  const ids: number[] = [];
  for (const p of parts) {
    const id = positiveInt(p);
    if (id === undefined) return undefined;
    ids.push(id);
  }
  return ids;
}

// ---- Comparisons shared by `fields` and YesNo ----

const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/;

/** A `YYYY-MM-DD` or `YYYY-MM-DD HH:MM:SS` value, or undefined. */
function asTime(v: string): string | undefined {
  const s = v.trim();
  if (s.length === 10) return isCalendarDate(s) ? s : undefined;
  return s.length === 19 && parseDateTime(s) ? s : undefined;
}

/** Dates compare as days when either side is a bare date, else to the second (fixed-width text orders like time). */
function compareTimes(a: string, b: string): number {
  const [x, y] = a.length === 10 || b.length === 10 ? [a.slice(0, 10), b.slice(0, 10)] : [a, b];
  return x < y ? -1 : x > y ? 1 : 0;
}

/** As numbers when both are decimal, else as dates when both are dates, else not comparable. */
function compareOrdered(a: string, b: string): number | undefined {
  const [x, y] = [a.trim(), b.trim()];
  if (DECIMAL.test(x) && DECIMAL.test(y)) return Math.sign(Number(x) - Number(y));
  return compareDates(x, y);
}
function compareDates(a: string, b: string): number | undefined {
  const [x, y] = [asTime(a), asTime(b)];
  return x !== undefined && y !== undefined ? compareTimes(x, y) : undefined;
}

// ---- Rule types ----

function fieldValue(sub: Item, fieldId: unknown): string | undefined {
  const id = typeof fieldId === "number" ? String(fieldId) : typeof fieldId === "string" ? fieldId.trim() : "";
  if (/^(emailaddress|email)$/i.test(id)) return text(sub["EmailAddress"]);
  const cf = positiveInt(id);
  if (cf === undefined) return undefined;
  const fields = isObject(sub["CustomFields"]) ? sub["CustomFields"] : {};
  return text(fields[String(cf)]);
}

function fieldsRule(rule: Record<string, unknown>, op: string, data: CriteriaData): Verdict {
  const held = fieldValue(data.subscriber, rule["field_id"]);
  if (held === undefined) return unsupported("field_id is neither a CustomFieldID nor EmailAddress");
  if (op === "is set") return held !== "";
  if (op === "is not set") return held === "";
  const raw = rule["value"];
  if (raw !== undefined && raw !== null && typeof raw !== "string" && typeof raw !== "number") return unsupported("value is not text");
  const [a, b] = [lower(held), lower(text(raw))];
  switch (op) {
    case "is": return a === b;
    case "is not": return a !== b;
    case "contains": return a.includes(b);
    case "does not contain": return !a.includes(b);
    case "begins with": return a.startsWith(b);
    case "ends with": return a.endsWith(b);
  }
  const c = compareOrdered(held, text(raw));
  switch (op) {
    case "is less than": return c !== undefined && c < 0;
    case "is less than or equal to": return c !== undefined && c <= 0;
    case "is greater than": return c !== undefined && c > 0;
    case "is greater than or equal to": return c !== undefined && c >= 0;
  }
  return unsupported("unknown operator");
}

function subscriberTags(sub: Item): Set<number> {
  const t = sub["Tags"];
  // The document client reads a number set as a Set; the subscriber commands write a list.
  const list = Array.isArray(t) ? t : t instanceof Set ? [...t] : [];
  return new Set(list.map(Number).filter((n) => Number.isFinite(n)));
}

function tagsRule(rule: Record<string, unknown>, op: string, data: CriteriaData): Verdict {
  const held = subscriberTags(data.subscriber);
  if (op === "has no tags") return held.size === 0;
  const ids = idList(rule["value"]);
  if (!ids || ids.length === 0) return unsupported("value is not a comma list of TagIDs");
  const hasAll = ids.every((id) => held.has(id));
  switch (op) {
    // "this tag" names one tag; given several, it needs every one, and its negation is the complement.
    case "has this tag": return hasAll;
    case "does not have this tag": return !hasAll;
    case "has any of these tags": return ids.some((id) => held.has(id));
    case "has all of these tags": return hasAll;
  }
  return unsupported("unknown operator");
}

/** Whether an email-state flag is held, and when (its value, if that is a date). */
function flag(state: Item | undefined, attr: string): { held: boolean; at?: string } {
  const v = state?.[attr];
  if (v === undefined || v === null || v === false || v === "" || v === 0) return { held: false };
  const at = typeof v === "string" ? asTime(v) : undefined;
  return at ? { held: true, at } : { held: true };
}

function journeysRule(rule: Record<string, unknown>, op: string, data: CriteriaData): Verdict {
  const id = positiveInt(rule["value"]);
  if (id === undefined) return unsupported("value is not an ID");
  if (JOURNEY_MEMBERSHIP_OPS.has(op)) {
    // A journey that is gone leaves its memberships behind until purged: they read as neither.
    const m = data.liveJourneys.has(id) ? data.memberships.get(id) : undefined;
    const active = typeof m?.["ActiveEntryID"] === "string" && m["ActiveEntryID"] !== "";
    if (op === "in journey") return active;
    if (op === "not in journey") return !active;
    return m?.["CompletedEver"] === true;
  }
  const negated = op.startsWith("not ");
  const attr = JOURNEY_EMAIL_OPS[negated ? op.slice(4) : op];
  if (!attr) return unsupported("unknown operator");
  const held = flag(data.emailStates.get(id), attr).held;
  return negated ? !held : held;
}

function suppressed(sub: Item): boolean {
  const reason = sub["SuppressedBy"];
  return sub["SubscriptionStatus"] !== "Subscribed" || (typeof reason === "string" && reason !== "");
}

function suppressionsRule(op: string, data: CriteriaData): Verdict {
  if (op === "exist") return suppressed(data.subscriber);
  if (op === "not exist") return !suppressed(data.subscriber);
  return unsupported("unknown operator");
}

/** A time_filter as a test of one event time: null when absent, a reason when malformed. */
function timeFilter(tf: unknown, now: number): ((at: string) => boolean) | null | string {
  if (tf === undefined || tf === null || tf === "") return null;
  if (!isObject(tf)) return "time_filter is not an object";
  const type = norm(tf["type"]);
  if (type === "") return null;
  const v = tf["value"];
  switch (type) {
    case "in_last_x_days":
    case "not_in_last_x_days": {
      const days = wholeNumber(v);
      if (days === undefined) return "time_filter.value is not a number of days";
      const cutoff = formatDateTime(new Date((now - days * 86_400) * 1000));
      const inside = (at: string) => compareTimes(at, cutoff) >= 0;
      return type === "in_last_x_days" ? inside : (at) => !inside(at);
    }
    case "between":
    case "not_between": {
      const start = isObject(v) ? asTime(text(v["start"])) : undefined;
      const end = isObject(v) ? asTime(text(v["end"])) : undefined;
      if (!start || !end) return "time_filter.value needs start and end dates";
      const inside = (at: string) => compareTimes(at, start) >= 0 && compareTimes(at, end) <= 0;
      return type === "between" ? inside : (at) => !inside(at);
    }
    case "after":
    case "before": {
      const d = asTime(text(v));
      if (!d) return "time_filter.value is not a date";
      return type === "after" ? (at) => compareTimes(at, d) > 0 : (at) => compareTimes(at, d) < 0;
    }
  }
  return "time_filter.type is unknown";
}

/** An aggregation as a test of a count: null when absent, a reason when malformed. */
function aggregation(agg: unknown): ((count: number) => boolean) | null | string {
  if (agg === undefined || agg === null || agg === "") return null;
  if (!isObject(agg)) return "aggregation is not an object";
  const op = norm(agg["operator"]);
  if (op === "") return null;
  const n = wholeNumber(agg["count"]);
  if (n === undefined) return "aggregation.count is not a whole number";
  if (op === "at_least") return (c) => c >= n;
  if (op === "at_most") return (c) => c <= n;
  if (op === "exactly") return (c) => c === n;
  return "aggregation.operator is unknown";
}

/** Distinct SendEmail actions among email states (one state per action, but a caller may pass copies). */
function byAction(states: Item[]): Item[] {
  const seen = new Map<string, Item>();
  for (const s of states) {
    const id = s["ActionID"] !== undefined ? `A${text(s["ActionID"])}` : `K${text(s["SK"])}`;
    if (!seen.has(id)) seen.set(id, s);
  }
  return [...seen.values()];
}

function campaignEventsRule(rule: Record<string, unknown>, op: string, data: CriteriaData): Verdict {
  const negated = op.startsWith("not ");
  const attr = CAMPAIGN_OPS[negated ? op.slice(4) : op];
  if (!attr) return unsupported("unknown operator");
  const emailIds = idList(rule["value"] === "" ? [] : rule["value"]);
  if (!emailIds) return unsupported("value is not an EmailID, an array of them or empty");
  const narrowRaw = rule["email-id"];
  const narrow = narrowRaw === undefined || narrowRaw === null || narrowRaw === "" ? undefined : positiveInt(narrowRaw);
  if (narrow === undefined && !(narrowRaw === undefined || narrowRaw === null || narrowRaw === "")) return unsupported("email-id is not an EmailID");
  const within = timeFilter(rule["time_filter"], data.now);
  if (typeof within === "string") return unsupported(within);
  const count = aggregation(rule["aggregation"]);
  if (typeof count === "string") return unsupported(count);
  if (NO_FILTER_KINDS.has(attr) && (within || count)) return unsupported(`time_filter and aggregation do not apply to ${op}`);
  if (!data.allEmailStates) return unsupported("the subscriber's email states were not loaded");

  const states = byAction(data.allEmailStates).filter((s) => {
    const emailId = positiveInt(s["EmailID"]);
    if (emailIds.length > 0 && (emailId === undefined || !emailIds.includes(emailId))) return false;
    return narrow === undefined || emailId === narrow;
  });
  const matching = states.filter((s) => {
    const f = flag(s, attr);
    // An event without a stored time (a `true` flag) cannot be placed in a window.
    return f.held && (!within || (f.at !== undefined && within(f.at)));
  }).length;
  const holds = count ? count(matching) : matching > 0;
  return negated ? !holds : holds;
}

function evaluateRule(rule: unknown, data: CriteriaData): Verdict {
  if (!isObject(rule)) return unsupported("not a rule object");
  const type = norm(rule["type"]);
  if (NO_DATA_TYPES.has(type)) return NO_DATA;
  const op = norm(rule["operator"]);
  switch (type) {
    case "fields": return fieldsRule(rule, op, data);
    case "tags": return tagsRule(rule, op, data);
    case "journeys": return journeysRule(rule, op, data);
    case "suppressions": return suppressionsRule(op, data);
    case "campaign-events": return campaignEventsRule(rule, op, data);
  }
  return unsupported("unknown type");
}

const ruleLabel = (g: number, r: number, rule: unknown) =>
  `[${g}][${r}] ${isObject(rule) ? `${text(rule["type"]) || "?"} ${text(rule["operator"]) || "?"}` : "?"}`;

/**
 * RulesJson groups joined by `operator` (§13.2): `or` holds when any group holds,
 * `and` when every group does; the rules inside a group are always ANDed, and empty
 * criteria hold. Trigger_Criteria passes `or` (criteria-syntax.md's reading), Run_Criteria
 * its `Run_Criteria_Operator`, Decision its `CriteriaOperator`. Every rule is evaluated,
 * so the lists name every rule without data or support, not just the first.
 */
export function evaluateRules(groups: unknown[][], operator: "and" | "or", data: CriteriaData): CriteriaOutcome {
  const noDataRules: string[] = [];
  const unsupportedRules: string[] = [];
  if (groups === undefined || groups === null || (Array.isArray(groups) && groups.length === 0)) {
    return { result: true, noDataRules, unsupportedRules };
  }
  if (!Array.isArray(groups)) return { result: false, noDataRules, unsupportedRules: ["criteria is not an array of groups"] };
  const results = groups.map((group, g) => {
    if (!Array.isArray(group)) {
      unsupportedRules.push(`[${g}] not an array of rules`);
      return false;
    }
    let all = true;
    group.forEach((rule, r) => {
      const v = evaluateRule(rule, data);
      if (typeof v === "boolean") all &&= v;
      else {
        all = false;
        if ("noData" in v) noDataRules.push(ruleLabel(g, r, rule));
        else unsupportedRules.push(`${ruleLabel(g, r, rule)}: ${v.unsupported}`);
      }
    });
    return all;
  });
  const result = norm(operator) === "or" ? results.some(Boolean) : results.every(Boolean);
  return { result, noDataRules, unsupportedRules };
}

// ---- YesNo ----

const CAMPAIGN_ID = /^[ca]\d+$/i;
const CAMPAIGN_LIST = /^\s*[ca]\d+(?:\s*,\s*[ca]\d+)*\s*$/i;
const YESNO_TEXT_LEFT = new Set(["emailaddress", "subscriberid", "subscriptionip"]);

/** `CriteriaRight` names campaign or autoresponder IDs (an array of them; for Opens/Clicks also a comma list). */
function namesCampaigns(right: unknown, left: string): boolean {
  if (Array.isArray(right)) return right.length > 0 && right.every((x) => typeof x === "string" && CAMPAIGN_ID.test(x.trim()));
  return (left === "opens" || left === "clicks") && typeof right === "string" && CAMPAIGN_LIST.test(right);
}

function yesNoText(held: string, op: string, right: string): Verdict {
  const [a, b] = [lower(held), lower(right)];
  switch (op) {
    case "equals to":
    case "is": return a === b;
    case "is not": return a !== b;
    case "contains": return a.includes(b);
    case "does not contain": return !a.includes(b);
    case "begins with": return a.startsWith(b);
    case "ends with": return a.endsWith(b);
    case "is set": return held !== "";
    case "is not set": return held === "";
  }
  const ordered = op === "is greater than" || op === "is smaller than" ? compareOrdered(held, right) : compareDates(held, right);
  switch (op) {
    case "is greater than":
    case "is after": return ordered !== undefined && ordered > 0;
    case "is smaller than":
    case "is before": return ordered !== undefined && ordered < 0;
  }
  return unsupported("operator does not apply");
}

function yesNoVerdict(p: Record<string, unknown>, data: CriteriaData): Verdict {
  const left = norm(p["CriteriaLeft"]);
  const op = norm(p["CriteriaOperator"]);
  const rightRaw = p["CriteriaRight"];
  if (namesCampaigns(rightRaw, left)) return NO_DATA;
  if (rightRaw !== undefined && rightRaw !== null && typeof rightRaw !== "string" && typeof rightRaw !== "number") {
    return unsupported("CriteriaRight is not a value");
  }
  const right = text(rightRaw);
  const sub = data.subscriber;

  const cf = /^customfield:\s*(\d+)$/.exec(left);
  if (cf || YESNO_TEXT_LEFT.has(left)) {
    const held = cf
      ? text((isObject(sub["CustomFields"]) ? sub["CustomFields"] : {})[String(Number(cf[1]))])
      : left === "emailaddress"
        ? text(sub["EmailAddress"])
        : left === "subscriberid"
          ? text(sub["SubscriberID"] ?? data.subscriberId)
          : ""; // SubscriptionIP is never held.
    return yesNoText(held, op, right);
  }
  if (left === "bouncetype" || left === "subscriptionstatus") {
    // A subscriber item written before BounceType existed has never bounced.
    const held = left === "bouncetype" ? text(sub["BounceType"]) || "Not Bounced" : text(sub["SubscriptionStatus"]);
    if (op === "is" || op === "equals to") return lower(held) === lower(right.trim());
    if (op === "is not") return lower(held) !== lower(right.trim());
    return unsupported("operator does not apply");
  }
  if (left === "subscriptiondate" || left === "optindate") {
    const held = text(sub["SubscriptionDate"]);
    if (op === "is set") return held !== "";
    if (op === "is not set") return held === "";
    if (op === "is before" || op === "is after") {
      const c = compareDates(held, right);
      return c !== undefined && (op === "is before" ? c < 0 : c > 0);
    }
    return unsupported("operator does not apply");
  }
  if (left === "opens" || left === "clicks") {
    const n = wholeNumber(rightRaw);
    if (n === undefined) return unsupported("CriteriaRight is not a whole number");
    if (!["at least", "at most", "only", "equals to"].includes(op)) return unsupported("operator does not apply");
    if (!data.allEmailStates) return unsupported("the subscriber's email states were not loaded");
    const attr = left === "opens" ? "Opened" : "Clicked";
    const c = byAction(data.allEmailStates).filter((s) => flag(s, attr).held).length;
    return op === "at least" ? c >= n : op === "at most" ? c <= n : c === n;
  }
  return unsupported("unknown CriteriaLeft");
}

/** YesNo's one comparison (§4.6's YesNo table); any other pairing is false and named in `unsupportedRules`. */
export function evaluateYesNo(params: YesNoParams | unknown, data: CriteriaData): CriteriaOutcome {
  const p = isObject(params) ? params : {};
  const v = yesNoVerdict(p, data);
  const label = `${text(p["CriteriaLeft"]) || "?"} ${text(p["CriteriaOperator"]) || "?"}`;
  if (typeof v === "boolean") return { result: v, noDataRules: [], unsupportedRules: [] };
  if ("noData" in v) return { result: false, noDataRules: [label], unsupportedRules: [] };
  return { result: false, noDataRules: [], unsupportedRules: [`${label}: ${v.unsupported}`] };
}

// ---- What the rules need loaded ----

/**
 * What a set of criteria sources needs loaded, so one BatchGet covers the subscriber,
 * memberships, journey items and named email states, and one Query runs only when a
 * rule reads EmailIDs or counts. A source is a RulesJson array, YesNo parameters,
 * Decision parameters (`Criteria`) or a journey (`Trigger_Criteria`, `Run_Criteria`);
 * anything else needs nothing.
 */
export function needsOf(...sources: unknown[]): CriteriaNeeds {
  const journeyIds = new Set<number>();
  const actionIds = new Set<number>();
  let queryEmailStates = false;
  const walk = (groups: unknown) => {
    if (!Array.isArray(groups)) return;
    for (const group of groups) {
      if (!Array.isArray(group)) continue;
      for (const rule of group) {
        if (!isObject(rule)) continue;
        const type = norm(rule["type"]);
        if (type === "campaign-events") queryEmailStates = true;
        if (type !== "journeys") continue;
        const id = positiveInt(rule["value"]);
        if (id === undefined) continue;
        if (JOURNEY_MEMBERSHIP_OPS.has(norm(rule["operator"]))) journeyIds.add(id);
        else actionIds.add(id);
      }
    }
  };
  for (const s of sources) {
    if (Array.isArray(s)) walk(s);
    else if (isObject(s)) {
      if ("CriteriaLeft" in s) {
        const left = norm(s["CriteriaLeft"]);
        if ((left === "opens" || left === "clicks") && wholeNumber(s["CriteriaRight"]) !== undefined) queryEmailStates = true;
      }
      walk(s["Criteria"]);
      walk(s["Trigger_Criteria"]);
      walk(s["Run_Criteria"]);
    }
  }
  const sorted = (x: Set<number>) => [...x].sort((a, b) => a - b);
  return { journeyIds: sorted(journeyIds), actionIds: sorted(actionIds), queryEmailStates };
}
