import { isIP } from "node:net";
import { classifyAddress } from "../../delivery/ssrf.js";
import { toEnum, toNonNegativeInt, toPositiveInt, toText } from "../../params.js";
import { validateCriteria } from "./criteria.js";
import { isEmailAddress } from "../email-address.js";

/**
 * Parsing and validation of the action tree that `journey.actions.update` takes
 * (reference/journey-actions.md, CONTRACT §8 "Actions", §11 "IDs inside actions").
 *
 * Pure: no I/O. The caller checks the returned `refs` for ownership and the
 * returned `actionIds` for membership of the journey.
 *
 * Conventions:
 * - Keys inside action objects (and inside From, ReplyTo, CC/BCC items,
 *   delivery_window and the Actions branch object) match case-insensitively and
 *   come back in their canonical spelling: PascalCase, snake_case for SendSMS.
 * - `undefined` and `null` mean "not given" for every optional field; for
 *   booleans and integers the empty string does too.
 * - Every failure names the offending path, and its message starts with it.
 */

export const ACTION_TYPES = [
  "Wait",
  "SendEmail",
  "SendSMS",
  "Decision",
  "YesNo",
  "UpdateCustomFieldValue",
  "Subscribe",
  "Unsubscribe",
  "AddTag",
  "RemoveTag",
  "StartJourney",
  "ExitJourney",
  "ExitThisJourney",
  "ExitAllOtherJourneys",
  "ExitAllJourneys",
  "DeleteSubscriber",
  "Webhook",
  "Debug",
] as const;
export type ActionType = (typeof ACTION_TYPES)[number];

export type BranchName = "True" | "False" | "Yes" | "No";

export interface ActionNode {
  ActionID: number | null;
  Action: ActionType;
  ActionParameters: Record<string, unknown>;
  Published: boolean;
  Notes: string;
  Branches?: Partial<Record<BranchName, ActionNode[]>>;
}

export interface ActionRef {
  kind: "email" | "list" | "tag" | "customField" | "journey";
  id: number;
  path: string;
}

export const MAX_ACTIONS = 500;
export const MAX_DEPTH = 20;

export type ParseResult =
  | { ok: true; actions: ActionNode[]; refs: ActionRef[]; count: number; actionIds: number[] }
  | { ok: false; path: string; message: string };

/* ------------------------------------------------------------------------------------------------
 * Limits and vocabularies
 * --------------------------------------------------------------------------------------------- */

export const MAX_NOTES = 2000;
export const MAX_WAIT_AMOUNT = 1_000_000;
export const MAX_NAME = 200;
export const MAX_RECIPIENTS = 50;
export const MAX_SMS_MESSAGE = 1600;
export const MAX_SENDER_ID = 32;
export const MAX_RETRY_ATTEMPTS = 10;
export const MAX_URL = 2048;
export const MAX_LINK_EXPIRY_HOURS = 8760;
export const MAX_UTM = 200;
export const MAX_CRITERIA_RIGHT = 1000;
export const MAX_CRITERIA_RIGHT_ITEMS = 100;
export const MAX_CUSTOM_FIELD_VALUE = 1000;
export const MAX_EXIT_JOURNEYS = 100;
export const MAX_SLEEP_SECONDS = 3600;
export const MAX_DEBUG_MESSAGE = 1000;

export const WAIT_UNITS = ["seconds", "minutes", "hours", "days"] as const;
export const WEEK_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
export const SMS_PRIORITIES = ["normal", "high"] as const;
export const DECISION_OPERATORS = ["and", "or"] as const;
export const YESNO_LEFT = [
  "SubscriberID",
  "EmailAddress",
  "BounceType",
  "SubscriptionStatus",
  "SubscriptionDate",
  "SubscriptionIP",
  "OptInDate",
  "Opens",
  "Clicks",
] as const;
export const YESNO_OPERATORS = [
  "Contains",
  "Does not contain",
  "Begins with",
  "Ends with",
  "Equals to",
  "Is greater than",
  "Is smaller than",
  "Is before",
  "Is after",
  "Is set",
  "Is not set",
  "Is",
  "Is not",
  "At most",
  "At least",
  "Only",
] as const;
export const YESNO_OPTIONS = ["", "any", "all"] as const;

/** The type's own fields, in canonical spelling and output order. */
const FIELDS: Record<ActionType, readonly string[]> = {
  Wait: ["WaitUnit", "WaitAmount", "TimeConstraintEnabled", "DontSendBefore", "DontSendAfter", "AllowedDays"],
  SendEmail: ["EmailID", "SenderDomainID", "From", "ReplyTo", "CC", "BCC"],
  SendSMS: [
    "message",
    "gateway_id",
    "sender_id",
    "skip_if_no_phone",
    "max_retry_attempts",
    "priority",
    "delivery_window_enabled",
    "delivery_window",
    "include_link",
    "link_url",
    "link_expiry_hours",
    "link_utm_source",
    "link_utm_medium",
    "link_utm_campaign",
  ],
  Decision: ["CriteriaOperator", "Criteria"],
  YesNo: ["CriteriaLeft", "CriteriaOperator", "CriteriaRight", "CriteriaOption"],
  UpdateCustomFieldValue: ["TargetCustomFieldID", "NewCustomFieldValue"],
  Subscribe: ["TargetListID"],
  Unsubscribe: ["TargetListID"],
  AddTag: ["TargetTagID"],
  RemoveTag: ["TargetTagID"],
  StartJourney: ["TargetJourneyID"],
  ExitJourney: ["TargetJourneyID"],
  ExitThisJourney: [],
  ExitAllOtherJourneys: [],
  ExitAllJourneys: [],
  DeleteSubscriber: [],
  Webhook: ["WebhookURL"],
  Debug: ["SleepSeconds", "DebugMessage"],
};

/** The branch names a branching type nests under `Actions`, in output order. */
const BRANCHES: Partial<Record<ActionType, readonly BranchName[]>> = {
  Decision: ["True", "False"],
  YesNo: ["Yes", "No"],
};

const COMMON_FIELDS = ["ActionID", "Action", "Published", "Notes"] as const;

/** Spellings accepted besides the case-insensitive canonical one. */
const ALIASES: Record<string, string> = { "reply-to": "ReplyTo" };

/* ------------------------------------------------------------------------------------------------
 * Errors and small readers
 * --------------------------------------------------------------------------------------------- */

/** Internal early exit; parseActions turns it into `{ok: false}`. */
class ActionError extends Error {
  constructor(
    readonly path: string,
    readonly text: string,
  ) {
    super(`${path} ${text}`);
  }
}
function fail(path: string, text: string): never {
  throw new ActionError(path, text);
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
};

/** Not given: the key is absent or null. */
const isNone = (v: unknown): boolean => v === undefined || v === null;
/** Not given, for scalars whose empty string carries no value (booleans, integers). */
const isBlank = (v: unknown): boolean => isNone(v) || v === "";

const TRUE_WORDS = ["true", "1", "yes", "on"];
const FALSE_WORDS = ["false", "0", "no", "off"];

/**
 * A strict boolean: true/false, 1/0, and the strings "true"/"false", "1"/"0",
 * "yes"/"no", "on"/"off" in any case. Unlike params.toBool, anything else is an error.
 */
export function toStrictBool(v: unknown): boolean | undefined {
  if (v === true || v === 1) return true;
  if (v === false || v === 0) return false;
  if (typeof v !== "string") return undefined;
  const s = v.trim().toLowerCase();
  if (TRUE_WORDS.includes(s)) return true;
  if (FALSE_WORDS.includes(s)) return false;
  return undefined;
}

function readBool(v: unknown, path: string, fallback: boolean): boolean {
  if (isBlank(v)) return fallback;
  return toStrictBool(v) ?? fail(path, "must be a boolean (true or false)");
}

/** A non-negative integer within [min, max]; `123` or `"123"`. */
function readInt(v: unknown, path: string, fallback: number, min: number, max: number): number {
  if (isBlank(v)) return fallback;
  const n = toNonNegativeInt(v);
  if (n === undefined || n < min || n > max) return fail(path, `must be an integer from ${min} to ${max}`);
  return n;
}

/** A reference ID: 0 means "not configured" (CONTRACT §11). */
function readRefId(v: unknown, path: string): number {
  if (isBlank(v)) return 0;
  return toNonNegativeInt(v) ?? fail(path, "must be a non-negative integer (0 means not configured)");
}

/** Text: strings, or numbers as their decimal text. */
function readText(v: unknown, path: string, fallback: string, max: number): string {
  if (isNone(v)) return fallback;
  const s = toText(v);
  if (s === undefined) return fail(path, "must be a string");
  if (s.length > max) return fail(path, `must be at most ${max} characters`);
  return s;
}

function readEnum<T extends string>(v: unknown, path: string, values: readonly T[], fallback: T): T {
  if (isBlank(v)) return fallback;
  return toEnum(values, v) ?? fail(path, `must be one of ${values.join(", ")}`);
}

const TIME_RE = /^([01]\d|2[0-3]):[0-5]\d$/;
function readTime(v: unknown, path: string, fallback: string | undefined): string {
  if (isBlank(v)) return fallback ?? fail(path, "is required");
  if (typeof v !== "string" || !TIME_RE.test(v)) return fail(path, "must be a time of day in HH:MM format (00:00 to 23:59)");
  return v;
}

/** Day abbreviations: case-insensitive, de-duplicated, in week order, at least one. */
function readDays(v: unknown, path: string): string[] {
  if (isNone(v)) return [...WEEK_DAYS];
  if (!Array.isArray(v)) return fail(path, `must be an array of days (${WEEK_DAYS.join(", ")})`);
  const given = new Set<string>();
  for (const [k, d] of v.entries()) {
    const day = toEnum(WEEK_DAYS, d) ?? fail(`${path}[${k}]`, `must be one of ${WEEK_DAYS.join(", ")}`);
    given.add(day);
  }
  if (given.size === 0) return fail(path, "must contain at least one day");
  return WEEK_DAYS.filter((d) => given.has(d));
}

/** An http(s) URL with a host, no whitespace, at most 2048 characters. */
function isWebUrl(s: string, protocols: readonly string[]): boolean {
  if (s.length > MAX_URL || /\s/.test(s) || !/^[a-z][a-z0-9+.-]*:\/\/[^/?#]/i.test(s)) return false;
  try {
    const url = new URL(s);
    return protocols.includes(url.protocol) && url.hostname !== "";
  } catch {
    return false;
  }
}

/** An IANA zone name the runtime knows. Offsets such as "+01:00" are not IANA names. */
function isTimeZone(s: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(s)) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: s });
    return true;
  } catch {
    return false;
  }
}

/**
 * Maps an object's keys to canonical names, case-insensitively. Unknown keys and
 * a name given twice (in two spellings) are errors.
 */
function canonicalEntries(
  obj: Record<string, unknown>,
  allowed: readonly string[],
  path: string,
  what: string,
): Map<string, unknown> {
  const lookup = new Map<string, string>();
  for (const name of allowed) lookup.set(name.toLowerCase(), name);
  for (const [alias, name] of Object.entries(ALIASES)) if (allowed.includes(name)) lookup.set(alias, name);
  const out = new Map<string, unknown>();
  for (const [key, value] of Object.entries(obj)) {
    const name = lookup.get(key.toLowerCase());
    if (name === undefined) return fail(`${path}.${key}`, `is not a known field of ${what}`);
    if (out.has(name)) return fail(`${path}.${name}`, "is given more than once (keys are case-insensitive)");
    out.set(name, value);
  }
  return out;
}

/* ------------------------------------------------------------------------------------------------
 * Per-type fields
 * --------------------------------------------------------------------------------------------- */

interface Ctx {
  journeyId: number;
  refs: ActionRef[];
}
type Fields = Map<string, unknown>;
type Params = Record<string, unknown>;

function refId(ctx: Ctx, kind: ActionRef["kind"], v: unknown, path: string): number {
  const id = readRefId(v, path);
  if (id > 0) ctx.refs.push({ kind, id, path });
  return id;
}

function parseWait(f: Fields, p: string): Params {
  const unitRaw = f.get("WaitUnit");
  if (isBlank(unitRaw)) fail(`${p}.WaitUnit`, "is required");
  const WaitUnit = readEnum(unitRaw, `${p}.WaitUnit`, WAIT_UNITS, "days");
  const amountRaw = f.get("WaitAmount");
  if (isBlank(amountRaw)) fail(`${p}.WaitAmount`, "is required");
  // 0 is allowed (ENGINE §6): a Wait of no time that still applies its window.
  const WaitAmount = toNonNegativeInt(amountRaw);
  if (WaitAmount === undefined || WaitAmount > MAX_WAIT_AMOUNT) {
    fail(`${p}.WaitAmount`, `must be a whole number from 0 to ${MAX_WAIT_AMOUNT}`);
  }
  const TimeConstraintEnabled = readBool(f.get("TimeConstraintEnabled"), `${p}.TimeConstraintEnabled`, false);
  const DontSendBefore = readTime(f.get("DontSendBefore"), `${p}.DontSendBefore`, "09:00");
  const DontSendAfter = readTime(f.get("DontSendAfter"), `${p}.DontSendAfter`, "19:00");
  if (DontSendAfter <= DontSendBefore) fail(`${p}.DontSendAfter`, `must be later than DontSendBefore (${DontSendBefore})`);
  const AllowedDays = readDays(f.get("AllowedDays"), `${p}.AllowedDays`);
  return { WaitUnit, WaitAmount, TimeConstraintEnabled, DontSendBefore, DontSendAfter, AllowedDays };
}

function readAddress(v: unknown, path: string): { Name: string; Email: string } {
  if (!isPlainObject(v)) return fail(path, "must be an object with Name and Email");
  const f = canonicalEntries(v, ["Name", "Email"], path, "an address");
  const Name = readText(f.get("Name"), `${path}.Name`, "", MAX_NAME);
  const email = f.get("Email");
  if (isBlank(email)) return fail(`${path}.Email`, "is required");
  if (!isEmailAddress(email)) return fail(`${path}.Email`, "must be a valid email address");
  return { Name, Email: email };
}

function readAddressList(v: unknown, path: string): { Name: string; Email: string }[] {
  if (!Array.isArray(v)) return fail(path, "must be an array of {Name, Email} objects");
  if (v.length > MAX_RECIPIENTS) return fail(path, `must have at most ${MAX_RECIPIENTS} entries`);
  return v.map((item, k) => readAddress(item, `${path}[${k}]`));
}

function parseSendEmail(f: Fields, p: string, ctx: Ctx): Params {
  const out: Params = {
    EmailID: refId(ctx, "email", f.get("EmailID"), `${p}.EmailID`),
    SenderDomainID: readRefId(f.get("SenderDomainID"), `${p}.SenderDomainID`),
  };
  for (const name of ["From", "ReplyTo"]) {
    const v = f.get(name);
    if (!isNone(v)) out[name] = readAddress(v, `${p}.${name}`);
  }
  for (const name of ["CC", "BCC"]) {
    const v = f.get(name);
    if (!isNone(v)) out[name] = readAddressList(v, `${p}.${name}`);
  }
  return out;
}

function readDeliveryWindow(v: unknown, path: string): Params {
  if (!isPlainObject(v)) return fail(path, "must be an object with timezone, start_time, end_time and days");
  const f = canonicalEntries(v, ["timezone", "start_time", "end_time", "days"], path, "delivery_window");
  const tzRaw = f.get("timezone");
  let timezone = "UTC";
  if (!isBlank(tzRaw)) {
    if (typeof tzRaw !== "string" || !isTimeZone(tzRaw)) fail(`${path}.timezone`, "must be a valid IANA time zone name");
    timezone = tzRaw;
  }
  const start_time = readTime(f.get("start_time"), `${path}.start_time`, undefined);
  const end_time = readTime(f.get("end_time"), `${path}.end_time`, undefined);
  if (end_time <= start_time) fail(`${path}.end_time`, `must be later than start_time (${start_time})`);
  const days = readDays(f.get("days"), `${path}.days`);
  return { timezone, start_time, end_time, days };
}

function parseSendSms(f: Fields, p: string): Params {
  const out: Params = {
    message: readText(f.get("message"), `${p}.message`, "", MAX_SMS_MESSAGE),
    gateway_id: readRefId(f.get("gateway_id"), `${p}.gateway_id`),
    sender_id: readText(f.get("sender_id"), `${p}.sender_id`, "", MAX_SENDER_ID),
    skip_if_no_phone: readBool(f.get("skip_if_no_phone"), `${p}.skip_if_no_phone`, true),
    max_retry_attempts: readInt(f.get("max_retry_attempts"), `${p}.max_retry_attempts`, 3, 0, MAX_RETRY_ATTEMPTS),
    priority: readEnum(f.get("priority"), `${p}.priority`, SMS_PRIORITIES, "normal"),
    delivery_window_enabled: readBool(f.get("delivery_window_enabled"), `${p}.delivery_window_enabled`, false),
  };
  const window = f.get("delivery_window");
  if (!isNone(window)) out["delivery_window"] = readDeliveryWindow(window, `${p}.delivery_window`);
  const include_link = readBool(f.get("include_link"), `${p}.include_link`, false);
  const linkUrlRaw = f.get("link_url");
  const link_url = isNone(linkUrlRaw) ? "" : toText(linkUrlRaw);
  if (typeof link_url !== "string" || (link_url !== "" && !isWebUrl(link_url, ["http:", "https:"]))) {
    fail(`${p}.link_url`, `must be empty or an http(s) URL of at most ${MAX_URL} characters`);
  }
  if (include_link && link_url === "") fail(`${p}.link_url`, "is required when include_link is true");
  return {
    ...out,
    include_link,
    link_url,
    link_expiry_hours: readInt(f.get("link_expiry_hours"), `${p}.link_expiry_hours`, 72, 1, MAX_LINK_EXPIRY_HOURS),
    link_utm_source: readText(f.get("link_utm_source"), `${p}.link_utm_source`, "", MAX_UTM),
    link_utm_medium: readText(f.get("link_utm_medium"), `${p}.link_utm_medium`, "", MAX_UTM),
    link_utm_campaign: readText(f.get("link_utm_campaign"), `${p}.link_utm_campaign`, "", MAX_UTM),
  };
}

function parseDecision(f: Fields, p: string): Params {
  const CriteriaOperator = readEnum(f.get("CriteriaOperator"), `${p}.CriteriaOperator`, DECISION_OPERATORS, "and");
  let raw = f.get("Criteria");
  const path = `${p}.Criteria`;
  if (isBlank(raw)) raw = [];
  if (typeof raw === "string") {
    try {
      raw = JSON.parse(raw) as unknown;
    } catch {
      fail(path, "must be a criteria array or a string holding one as JSON");
    }
  }
  const result = validateCriteria(raw);
  if (!result.ok) {
    // validateCriteria's messages start with the sub-path when they have one: "[0][1].type is not …".
    const m = /^(\[\d+\](?:\[\d+\])?(?:\.[^\s]+)?) (.*)$/s.exec(result.message);
    return m ? fail(path + m[1], m[2]!) : fail(path, result.message);
  }
  return { CriteriaOperator, Criteria: result.value };
}

function parseYesNo(f: Fields, p: string, ctx: Ctx): Params {
  const leftPath = `${p}.CriteriaLeft`;
  const leftRaw = f.get("CriteriaLeft");
  if (isBlank(leftRaw)) fail(leftPath, "is required");
  let CriteriaLeft: string | undefined = toEnum(YESNO_LEFT, leftRaw);
  if (CriteriaLeft === undefined && typeof leftRaw === "string") {
    const m = /^customfield:(\d+)$/i.exec(leftRaw.trim());
    const id = m ? toPositiveInt(m[1]) : undefined;
    if (id !== undefined) {
      CriteriaLeft = `CustomField:${id}`;
      ctx.refs.push({ kind: "customField", id, path: leftPath });
    }
  }
  if (CriteriaLeft === undefined) fail(leftPath, `must be one of ${YESNO_LEFT.join(", ")} or CustomField:<ID>`);

  const opRaw = f.get("CriteriaOperator");
  if (isBlank(opRaw)) fail(`${p}.CriteriaOperator`, "is required");
  const CriteriaOperator = readEnum(opRaw, `${p}.CriteriaOperator`, YESNO_OPERATORS, "Contains");

  const rightPath = `${p}.CriteriaRight`;
  const rightRaw = f.get("CriteriaRight");
  let CriteriaRight: string | (string | number)[];
  if (Array.isArray(rightRaw)) {
    if (rightRaw.length > MAX_CRITERIA_RIGHT_ITEMS) fail(rightPath, `must have at most ${MAX_CRITERIA_RIGHT_ITEMS} items`);
    CriteriaRight = rightRaw.map((item: unknown, k) => {
      if (typeof item === "number" && Number.isFinite(item)) return item;
      if (typeof item === "string" && item.length <= MAX_CRITERIA_RIGHT) return item;
      return fail(`${rightPath}[${k}]`, `must be a number or a string of at most ${MAX_CRITERIA_RIGHT} characters`);
    });
  } else {
    CriteriaRight = readText(rightRaw, rightPath, "", MAX_CRITERIA_RIGHT);
  }

  const optRaw = f.get("CriteriaOption");
  const CriteriaOption = isNone(optRaw)
    ? ""
    : (toEnum(YESNO_OPTIONS, optRaw) ?? fail(`${p}.CriteriaOption`, 'must be "any", "all" or empty'));
  return { CriteriaLeft, CriteriaOperator, CriteriaRight, CriteriaOption };
}

function parseExitJourney(f: Fields, p: string, ctx: Ctx): Params {
  const path = `${p}.TargetJourneyID`;
  const raw = f.get("TargetJourneyID");
  if (!Array.isArray(raw)) return { TargetJourneyID: refId(ctx, "journey", raw, path) };
  if (raw.length === 0 || raw.length > MAX_EXIT_JOURNEYS) {
    fail(path, `must be an ID or an array of 1 to ${MAX_EXIT_JOURNEYS} journey IDs`);
  }
  const ids: number[] = [];
  for (const [k, item] of raw.entries()) {
    // 0 means "not configured" (C§11; what journey.copytouser leaves), and the engine ignores such entries (ENGINE §7).
    const id = toNonNegativeInt(item) ?? fail(`${path}[${k}]`, "must be a non-negative integer (0 means not configured)");
    if (ids.includes(id)) continue;
    ids.push(id);
    if (id > 0) ctx.refs.push({ kind: "journey", id, path: `${path}[${k}]` });
  }
  return { TargetJourneyID: ids };
}

function parseParams(type: ActionType, f: Fields, p: string, ctx: Ctx): Params {
  switch (type) {
    case "Wait":
      return parseWait(f, p);
    case "SendEmail":
      return parseSendEmail(f, p, ctx);
    case "SendSMS":
      return parseSendSms(f, p);
    case "Decision":
      return parseDecision(f, p);
    case "YesNo":
      return parseYesNo(f, p, ctx);
    case "UpdateCustomFieldValue":
      return {
        TargetCustomFieldID: refId(ctx, "customField", f.get("TargetCustomFieldID"), `${p}.TargetCustomFieldID`),
        NewCustomFieldValue: readText(f.get("NewCustomFieldValue"), `${p}.NewCustomFieldValue`, "", MAX_CUSTOM_FIELD_VALUE),
      };
    case "Subscribe":
    case "Unsubscribe":
      return { TargetListID: refId(ctx, "list", f.get("TargetListID"), `${p}.TargetListID`) };
    case "AddTag":
    case "RemoveTag":
      return { TargetTagID: refId(ctx, "tag", f.get("TargetTagID"), `${p}.TargetTagID`) };
    case "StartJourney": {
      const path = `${p}.TargetJourneyID`;
      const id = readRefId(f.get("TargetJourneyID"), path);
      if (id > 0 && id === ctx.journeyId) fail(path, "may not name this journey: a journey may not start its own journey");
      if (id > 0) ctx.refs.push({ kind: "journey", id, path });
      return { TargetJourneyID: id };
    }
    case "ExitJourney":
      return parseExitJourney(f, p, ctx);
    case "ExitThisJourney":
    case "ExitAllOtherJourneys":
    case "ExitAllJourneys":
    case "DeleteSubscriber":
      return {};
    case "Webhook": {
      // https only; the local-only WEBHOOK_ALLOW_LOOPBACK also admits http to loopback, as the guard does (ENGINE §8.6).
      const path = `${p}.WebhookURL`;
      const raw = f.get("WebhookURL");
      if (isNone(raw)) return { WebhookURL: "" };
      if (typeof raw !== "string" || (raw !== "" && !isWebUrl(raw, ["https:"]) && !localLoopbackUrl(raw))) {
        fail(path, `must be empty or an https URL of at most ${MAX_URL} characters`);
      }
      return { WebhookURL: raw };
    }
    case "Debug":
      return {
        SleepSeconds: readInt(f.get("SleepSeconds"), `${p}.SleepSeconds`, 0, 0, MAX_SLEEP_SECONDS),
        DebugMessage: readText(f.get("DebugMessage"), `${p}.DebugMessage`, "", MAX_DEBUG_MESSAGE),
      };
  }
}

/* ------------------------------------------------------------------------------------------------
 * The tree walk
 * --------------------------------------------------------------------------------------------- */

class Walker {
  /** Actions known to exist so far: every array's length is added on entry, so a wide array fails at once. */
  private reserved = 0;
  private readonly seenIds = new Set<number>();
  readonly actionIds: number[] = [];
  readonly ctx: Ctx;

  constructor(journeyId: number) {
    this.ctx = { journeyId, refs: [] };
  }

  get count(): number {
    return this.reserved;
  }

  list(items: unknown[], pathOf: (i: number) => string, depth: number): ActionNode[] {
    this.reserved += items.length;
    if (this.reserved > MAX_ACTIONS) fail("Actions", `must hold at most ${MAX_ACTIONS} actions in the whole tree`);
    if (items.length > 0 && depth > MAX_DEPTH) fail(pathOf(0), `is nested deeper than ${MAX_DEPTH} levels (at most ${MAX_DEPTH})`);
    return items.map((item, i) => this.node(item, pathOf(i), depth));
  }

  private node(raw: unknown, p: string, depth: number): ActionNode {
    if (!isPlainObject(raw)) return fail(p, "must be an action object");

    const actionKeys = Object.keys(raw).filter((k) => k.toLowerCase() === "action");
    if (actionKeys.length > 1) fail(`${p}.Action`, "is given more than once (keys are case-insensitive)");
    const typeRaw = actionKeys.length === 1 ? raw[actionKeys[0]!] : undefined;
    if (isBlank(typeRaw)) fail(`${p}.Action`, "is required");
    const type = toEnum(ACTION_TYPES, typeRaw) ?? fail(`${p}.Action`, `must be one of ${ACTION_TYPES.join(", ")}`);

    const branchNames = BRANCHES[type];
    const allowed = [...COMMON_FIELDS, ...FIELDS[type], ...(branchNames ? ["Actions"] : [])];
    const f = canonicalEntries(raw, allowed, p, `a ${type} action`);

    const ActionID = this.actionId(f.get("ActionID"), `${p}.ActionID`);
    const Published = readBool(f.get("Published"), `${p}.Published`, false);
    const Notes = readText(f.get("Notes"), `${p}.Notes`, "", MAX_NOTES);
    const ActionParameters = parseParams(type, f, p, this.ctx);

    const node: ActionNode = { ActionID, Action: type, ActionParameters, Published, Notes };
    if (branchNames) node.Branches = this.branches(f.get("Actions"), branchNames, p, depth);
    return node;
  }

  private actionId(v: unknown, path: string): number | null {
    if (isBlank(v) || v === 0 || v === "0") return null;
    const id = toPositiveInt(v) ?? fail(path, "must be a positive integer, or null to create a new action");
    if (this.seenIds.has(id)) fail(path, `repeats ${id}: an ActionID may appear only once in the tree`);
    this.seenIds.add(id);
    this.actionIds.push(id);
    return id;
  }

  private branches(v: unknown, names: readonly BranchName[], p: string, depth: number): Partial<Record<BranchName, ActionNode[]>> {
    const path = `${p}.Actions`;
    const given = new Map<string, unknown>();
    if (!isNone(v)) {
      if (!isPlainObject(v)) return fail(path, `must be an object with ${names.join(" and ")} arrays`);
      for (const [name, value] of canonicalEntries(v, names, path, `the branches (${names.join(", ")})`)) given.set(name, value);
    }
    const out: Partial<Record<BranchName, ActionNode[]>> = {};
    for (const name of names) {
      const items = given.get(name);
      const branchPath = `${path}.${name}`;
      if (isNone(items)) {
        out[name] = [];
        continue;
      }
      if (!Array.isArray(items)) fail(branchPath, "must be an array of actions");
      out[name] = this.list(items as unknown[], (j) => `${branchPath}[${j}]`, depth + 1);
    }
    return out;
  }
}

/**
 * Parses and validates the `Actions` parameter of journey.actions.update (already
 * JSON-decoded). On success the tree comes back canonical, with defaults filled in,
 * plus every owned record it refers to and every ActionID it names.
 */
export function parseActions(input: unknown, opts: { journeyId: number }): ParseResult {
  if (!Array.isArray(input)) return { ok: false, path: "Actions", message: "Actions must be an array of action objects" };
  const walker = new Walker(opts.journeyId);
  try {
    const actions = walker.list(input, (i) => `Actions[${i}]`, 1);
    return { ok: true, actions, refs: walker.ctx.refs, count: walker.count, actionIds: walker.actionIds };
  } catch (e) {
    if (e instanceof ActionError) return { ok: false, path: e.path, message: e.message };
    throw e;
  }
}

export interface FlatAction {
  node: ActionNode;
  parentIndex: number | null;
  branch: "" | BranchName;
  orderNo: number;
}

/**
 * The tree in pre-order: a parent before its children, True before False, Yes
 * before No. `orderNo` is 1-based within its branch; `parentIndex` is the
 * parent's index in the returned array (null at the top level).
 */
export function flatten(actions: ActionNode[]): FlatAction[] {
  const out: FlatAction[] = [];
  const walk = (list: ActionNode[], parentIndex: number | null, branch: "" | BranchName) => {
    list.forEach((node, i) => {
      const index = out.length;
      out.push({ node, parentIndex, branch, orderNo: i + 1 });
      if (!node.Branches) return;
      for (const name of ["True", "False", "Yes", "No"] as const) {
        const children = node.Branches[name];
        if (children) walk(children, index, name);
      }
    });
  };
  walk(actions, null, "");
  return out;
}

/** `http://` to 127.0.0.0/8 or ::1, only under the local-only WEBHOOK_ALLOW_LOOPBACK=1 (never set on a deployed function). */
function localLoopbackUrl(raw: string): boolean {
  if (process.env["WEBHOOK_ALLOW_LOOPBACK"] !== "1" || raw.length > MAX_URL) return false;
  try {
    const u = new URL(raw);
    const host = u.hostname.replace(/^\[|\]$/g, "");
    return u.protocol === "http:" && isIP(host) !== 0 && classifyAddress(host) === "loopback";
  } catch {
    return false;
  }
}
