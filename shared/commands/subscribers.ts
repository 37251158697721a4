import { isIP } from "node:net";
import * as z from "zod/mini";
import { defineCommand, userOf } from "../command.js";
import { document } from "../command-docs.js";
import { CommandError, conflict, notFound, validation } from "../errors.js";
import { isEmailAddress } from "../domain/email-address.js";
import { batchGet, getOwned, listOwned, type Item } from "../domain/owned.js";
import {
  changeSubscribers,
  createSubscriber,
  CUSTOM_FIELD_VALUE_MAX,
  CUSTOM_FIELDS_MAX_BYTES,
  customFieldsBytes,
  findSubscriberId,
  getSubscriber,
  isE164,
  MAX_TAGS,
  moveAddressGuard,
  type Change,
  type Firing,
} from "../domain/subscribers/subscribers.js";
import { subscriberActivity, subscriberJourneys } from "../domain/subscribers/subscriber-journeys.js";
import { keys } from "../keys.js";
import { formatDateTime } from "../time.js";
import {
  field,
  fail,
  isAbsent,
  oneOf,
  requiredId,
  requiredIdList,
  toEnum,
  toJsonValue,
  toPositiveInt,
  toText,
  type Coded,
} from "../params.js";

/**
 * The subscriber commands (ENGINE §3.2): create (CONTRACT §6, extended), get,
 * update, tag, untag, unsubscribe and get.activity. Handlers parse, look up in the
 * order the table gives, and hand a decision to the domain's read-decide-write
 * (shared/domain/subscribers/subscribers.ts), which also fires what a real change fires (§3.3).
 */

// ---- Parameter helpers ----

/** `<ID>` or `CustomField<ID>`, any case: the custom field a key names, or undefined. */
const CUSTOM_FIELD_KEY = /^(?:customfield)?([1-9]\d{0,14})$/i;
const fieldIdOf = (key: string): number | undefined => {
  const m = CUSTOM_FIELD_KEY.exec(key.trim());
  return m ? Number(m[1]) : undefined;
};

/** A custom field value: a string, or a number kept as its decimal text, ≤ 10,000 characters. */
function fieldValue(v: unknown): string | undefined {
  const s = typeof v === "string" ? v : typeof v === "number" && Number.isFinite(v) ? String(v) : undefined;
  return s !== undefined && s.length <= CUSTOM_FIELD_VALUE_MAX ? s : undefined;
}

/** An object parameter, given as JSON or as a string holding JSON (CONTRACT §1). */
function objectOf(v: unknown): Record<string, unknown> | undefined {
  const parsed = toJsonValue(v);
  if (!parsed.ok) return undefined;
  const value = parsed.value;
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

interface FieldValues {
  /** CustomFieldID → value ("" clears). */
  values: Map<number, string>;
  /** Keys that name no custom field at all (reported with code 11 on update). */
  badKeys: string[];
}

function parseFieldValues(raw: Record<string, unknown>): FieldValues | undefined {
  const values = new Map<number, string>();
  const badKeys: string[] = [];
  for (const [key, v] of Object.entries(raw)) {
    const value = fieldValue(v);
    if (value === undefined) return undefined;
    const id = fieldIdOf(key);
    if (id === undefined) badKeys.push(key);
    else values.set(id, value);
  }
  return { values, badKeys };
}

const nonEmpty = (values: Map<number, string>): Record<string, string> =>
  Object.fromEntries([...values].filter(([, v]) => v !== "").map(([id, v]) => [String(id), v]));

const phone = (invalid: Coded) =>
  field({ type: "string", description: "E.164, e.g. +14155550123; empty clears", codes: [invalid] }, (v, ctx): string | undefined => {
    if (v === undefined || v === null) return undefined;
    const s = toText(v);
    if (s === undefined || (s !== "" && !isE164(s))) return fail(ctx, v, invalid);
    return s;
  });

/** An ID whose malformed form is answered by the lookup (as not found), not by validation. */
const lookupId = (missing: Coded | undefined, description: string, codes: readonly Coded[] = []) =>
  field({ type: "integer", required: missing !== undefined, description, codes: missing ? [missing, ...codes] : codes }, (v, ctx): number | null | undefined => {
    if (isAbsent(v)) return missing ? fail(ctx, v, missing) : undefined;
    return toPositiveInt(v) ?? null;
  });

/** The caller's custom fields of one list, by ID. */
async function fieldsOfList(userId: number, listId: number): Promise<Set<number>> {
  const items = await listOwned("customField", userId);
  return new Set(items.filter((i) => i["ListID"] === listId).map((i) => keys.idFromSk(String(i["SK"]))));
}

const ownsList = async (userId: number, listId: number) => (await getOwned("list", userId, listId)) !== undefined;

/** The subscriber, if it is the caller's and on that list. */
async function subscriberOnList(userId: number, listId: number, subscriberId: number | null | undefined): Promise<Item | undefined> {
  if (!subscriberId) return undefined;
  const item = await getSubscriber(userId, subscriberId);
  return item && item["ListID"] === listId ? item : undefined;
}

const statusOf = (item: Item): string => (typeof item["SubscriptionStatus"] === "string" ? item["SubscriptionStatus"] : "Subscribed");
const customFieldsOf = (item: Item): Record<string, string> => ({ ...((item["CustomFields"] ?? {}) as Record<string, string>) });
const tagsOf = (item: Item): number[] => ((item["Tags"] ?? []) as unknown[]).map(Number);

// ---- subscriber.create ----

const CREATE_MISSING = (name: string): Coded => [1, `Missing ${name} parameter`];
const CREATE_INVALID = (name: string): Coded => [2, `Invalid ${name} parameter`];

export const subscriberCreate = defineCommand({
  name: "subscriber.create",
  route: { method: "POST", path: "/api/v1/subscriber" },
  group: "reference",
  scope: "user",
  params: z.object({
    ListID: requiredId(CREATE_MISSING("ListID"), CREATE_INVALID("ListID")),
    EmailAddress: field({ type: "string", required: true, codes: [CREATE_MISSING("EmailAddress"), CREATE_INVALID("EmailAddress")] }, (v, ctx) => {
      if (isAbsent(v)) return fail(ctx, v, CREATE_MISSING("EmailAddress"));
      return isEmailAddress(v) ? v : fail(ctx, v, CREATE_INVALID("EmailAddress"));
    }),
    CustomFields: field(
      { type: "object", description: "CustomFieldID → value (string or number, ≤ 10,000 characters; ≤ 64 KB together), fields of this list", codes: [CREATE_INVALID("CustomFields")] },
      (v, ctx): Record<string, string> | undefined => {
        if (isAbsent(v)) return undefined;
        const raw = objectOf(v);
        const parsed = raw && parseFieldValues(raw);
        if (!parsed || parsed.badKeys.length > 0) return fail(ctx, v, CREATE_INVALID("CustomFields"));
        const values = nonEmpty(parsed.values);
        if (customFieldsBytes(values) > CUSTOM_FIELDS_MAX_BYTES) return fail(ctx, v, CREATE_INVALID("CustomFields"));
        return values;
      },
    ),
    PhoneNumber: phone(CREATE_INVALID("PhoneNumber")),
  }),
  async run(p, ctx) {
    const { userId } = userOf(ctx);
    // Code 2 (a field of another list, or none) is validation, so it precedes the list lookup (3).
    const ids = Object.keys(p.CustomFields ?? {}).map(Number);
    if (ids.length > 0) {
      const fields = await fieldsOfList(userId, p.ListID);
      if (ids.some((id) => !fields.has(id))) throw validation(2, "Invalid CustomFields parameter");
    }
    if (!(await ownsList(userId, p.ListID))) throw validation(3, "ListID matching record not found");
    const { subscriberId } = await createSubscriber(
      userId,
      p.ListID,
      p.EmailAddress,
      { customFields: p.CustomFields, phoneNumber: p.PhoneNumber || undefined },
      ctx.now,
    );
    return { ErrorCode: 0, SubscriberID: subscriberId };
  },
});
DOCS: document(subscriberCreate, {
  summary: "Subscribe an email address to a list (idempotent per list and address; an existing subscriber is returned unchanged)",
  errors: [validation(2, "Invalid CustomFields parameter"), validation(3, "ListID matching record not found")],
});

// ---- subscriber.get ----

const GET_ERRORS = [notFound(4, "Invalid ListID"), notFound(3, "Subscriber not found")];

export const subscriberGet = defineCommand({
  name: "subscriber.get",
  route: { method: "GET", path: "/api/v1/subscriber" },
  group: "reference",
  scope: "user",
  params: z
    .object({
      ListID: requiredId([2, "Missing ListID parameter"], [4, "Invalid ListID"]),
      SubscriberID: field(
        { type: "integer", description: "The subscriber (or give EmailAddress)", codes: [[1, "Missing EmailAddress/SubscriberID parameter"], [5, "Invalid SubscriberID parameter"]] },
        (v, ctx): number | undefined => (isAbsent(v) ? undefined : (toPositiveInt(v) ?? fail(ctx, v, [5, "Invalid SubscriberID parameter"]))),
      ),
      EmailAddress: field({ type: "string", description: "The subscriber's address (or give SubscriberID)" }, (v): string | undefined =>
        isAbsent(v) ? undefined : (toText(v) ?? ""),
      ),
    })
    .check(oneOf(["SubscriberID", "EmailAddress"], [1, "Missing EmailAddress/SubscriberID parameter"])),
  async run(p, ctx) {
    const { userId } = userOf(ctx);
    if (!(await ownsList(userId, p.ListID))) throw GET_ERRORS[0]!;
    const id = p.SubscriberID ?? (isEmailAddress(p.EmailAddress) ? await findSubscriberId(userId, p.ListID, p.EmailAddress) : undefined);
    const item = await subscriberOnList(userId, p.ListID, id);
    if (!item) throw GET_ERRORS[1]!;
    const subscriberId = Number(item["SubscriberID"]);
    const tagIds = tagsOf(item);
    const [tags, journeys] = await Promise.all([
      batchGet(tagIds.map((t) => keys.owned("tag", userId, t))),
      subscriberJourneys(userId, subscriberId, ctx.now),
    ]);
    return {
      ErrorCode: 0,
      SubscriberInformation: {
        SubscriberID: subscriberId,
        ListID: p.ListID,
        EmailAddress: item["EmailAddress"],
        SubscriptionStatus: statusOf(item),
        SubscriptionDate: item["SubscriptionDate"] ?? null,
        UnsubscriptionDate: item["UnsubscriptionDate"] ?? null,
        BounceType: item["BounceType"] ?? "Not Bounced",
        PhoneNumber: item["PhoneNumber"] ?? null,
        CustomFields: customFieldsOf(item),
      },
      Suppressed: typeof item["SuppressedBy"] === "string",
      SubscriberTags: tagIds.flatMap((t) => {
        const tag = tags.get(`${keys.owned("tag", userId, t).PK}|${keys.owned("tag", userId, t).SK}`);
        return tag ? [{ TagID: t, TagName: String(tag["TagName"]) }] : [];
      }),
      TotalRevenue: Number(item["Revenue"] ?? 0) / 100,
      SubscriberJourneys: journeys,
    };
  },
});
DOCS: document(subscriberGet, {
  summary: "A subscriber with its tags, revenue and journeys",
  errors: GET_ERRORS,
});

// ---- subscriber.update ----

const UPDATE = {
  listNotFound: notFound(5, "Invalid ListID"),
  notFound: notFound(6, "Subscriber not found"),
  duplicate: conflict(7, "Duplicate EmailAddress"),
  invalidValue: validation(10, "Invalid custom field value"),
  unknownFields: (ids: string[]) => new CommandError(11, "Unknown custom field ID(s)", "validation", {}, { ErrorCustomFieldIDs: ids }),
};

/** §13.1: default true, and `0`, `false`, `no` and `off` turn it off. */
const triggerEvents = field({ type: "boolean", description: "Fire triggers (default true; 0, false, no, off turn it off)" }, (v): boolean => {
  if (v === false || v === 0) return false;
  return !(typeof v === "string" && ["0", "false", "no", "off"].includes(v.trim().toLowerCase()));
});

export const subscriberUpdate = defineCommand({
  name: "subscriber.update",
  route: { method: "PATCH", path: "/api/v1/subscriber" },
  group: "reference",
  scope: "user",
  params: z.object({
    SubscriberID: requiredId([1, "Missing SubscriberID parameter"], [14, "Invalid SubscriberID parameter"]),
    SubscriberListID: requiredId([2, "Missing SubscriberListID parameter"], [5, "Invalid ListID"]),
    EmailAddress: field({ type: "string", codes: [[3, "Missing EmailAddress parameter"], [4, "Invalid EmailAddress"]] }, (v, ctx): string | undefined => {
      if (v === undefined || v === null) return undefined;
      if (v === "") return fail(ctx, v, [3, "Missing EmailAddress parameter"]);
      return isEmailAddress(v) ? v : fail(ctx, v, [4, "Invalid EmailAddress"]);
    }),
    SubscriptionStatus: field({ type: "string", description: "Subscribed or Unsubscribed", codes: [[12, "Invalid SubscriptionStatus parameter"]] }, (v, ctx) => {
      if (isAbsent(v)) return undefined;
      return toEnum(["Subscribed", "Unsubscribed"] as const, v) ?? fail(ctx, v, [12, "Invalid SubscriptionStatus parameter"]);
    }),
    Fields: field(
      { type: "object", description: "Keys CustomField<ID> or <ID> (any case) → value; \"\" clears", codes: [[10, "Invalid custom field value"]] },
      (v, ctx): FieldValues | undefined => {
        if (isAbsent(v)) return undefined;
        const raw = objectOf(v);
        return (raw && parseFieldValues(raw)) ?? fail(ctx, v, [10, "Invalid custom field value"]);
      },
    ),
    PhoneNumber: phone([13, "Invalid PhoneNumber parameter"]),
    TriggerEvents: triggerEvents,
  }),
  async run(p, ctx) {
    const { userId } = userOf(ctx);
    const listId = p.SubscriberListID;
    const [owned, fields] = await Promise.all([ownsList(userId, listId), fieldsOfList(userId, listId)]);
    if (!owned) throw UPDATE.listNotFound;
    const now = formatDateTime(ctx.now);
    await changeSubscribers(
      userId,
      [p.SubscriberID],
      (items) => {
        const item = items.get(p.SubscriberID);
        if (!item || item["ListID"] !== listId) throw UPDATE.notFound;
        const unknown = [...(p.Fields?.badKeys ?? []), ...[...(p.Fields?.values.keys() ?? [])].filter((id) => !fields.has(id)).map(String)];
        if (unknown.length > 0) throw UPDATE.unknownFields(unknown);

        const set: Record<string, unknown> = {};
        const fire: Firing[] = [];
        let also: Change["also"];
        // An address change fires nothing (§3.3); its guard moves in the same transaction.
        if (p.EmailAddress !== undefined && p.EmailAddress !== item["EmailAddress"]) {
          set["EmailAddress"] = p.EmailAddress;
          also = moveAddressGuard(userId, listId, p.SubscriberID, String(item["EmailAddress"]), p.EmailAddress, UPDATE.duplicate);
        }
        if (p.SubscriptionStatus === "Subscribed") {
          if (statusOf(item) === "Unsubscribed") {
            Object.assign(set, { SubscriptionStatus: "Subscribed", SubscriptionDate: now, UnsubscriptionDate: undefined, UnsubscriptionIP: undefined });
            fire.push({ Trigger: "ListSubscription", Value: listId });
          }
          // An explicit resubscribe clears Unsubscribed; a hard bounce or complaint stays (§13.13).
          if (item["SuppressedBy"] === "Unsubscribed") set["SuppressedBy"] = undefined;
        } else if (p.SubscriptionStatus === "Unsubscribed" && statusOf(item) !== "Unsubscribed") {
          Object.assign(set, { SubscriptionStatus: "Unsubscribed", UnsubscriptionDate: now });
          fire.push({ Trigger: "ListUnsubscription", Value: listId });
        }
        if (p.Fields && p.Fields.values.size > 0) {
          const stored = customFieldsOf(item);
          let changed = false;
          for (const [id, value] of p.Fields.values) {
            const key = String(id);
            if ((stored[key] ?? "") === value) continue;
            if (value === "") delete stored[key];
            else stored[key] = value;
            changed = true;
            fire.push({ Trigger: "CustomFieldValueChanged", Value: id });
          }
          if (changed) {
            if (customFieldsBytes(stored) > CUSTOM_FIELDS_MAX_BYTES) throw UPDATE.invalidValue;
            set["CustomFields"] = stored;
          }
        }
        if (p.PhoneNumber !== undefined && p.PhoneNumber !== (item["PhoneNumber"] ?? "")) {
          set["PhoneNumber"] = p.PhoneNumber === "" ? undefined : p.PhoneNumber;
        }
        if (Object.keys(set).length === 0) return new Map();
        return new Map([[p.SubscriberID, { set, fire, also }]]);
      },
      ctx.now,
      p.TriggerEvents,
    );
    return { ErrorCode: 0, ErrorText: "" };
  },
});
DOCS: document(subscriberUpdate, {
  summary: "Change a subscriber's address, status, custom fields or phone number",
  errors: [UPDATE.listNotFound, UPDATE.notFound, UPDATE.invalidValue, UPDATE.unknownFields([]), UPDATE.duplicate],
});

// ---- subscriber.tag / subscriber.untag ----

const TAG = {
  listNotFound: notFound(4, "Invalid SubscriberListID"),
  invalidTag: validation(6, "Invalid TagID"),
  notFound: notFound(9, "Subscriber not found"),
  tooMany: validation(10, "Too many tags"),
};
const MAX_SUBSCRIBERS = 100;

const tagParams = z.object({
  TagID: requiredIdList([1, "Missing TagID parameter"], [6, "Invalid TagID"], "A TagID, a comma list or an array of them"),
  SubscriberListID: requiredId([2, "Missing SubscriberListID parameter"], [4, "Invalid SubscriberListID"]),
  SubscriberID: field(
    { type: "array|string", required: true, description: "A SubscriberID, a comma list or an array of them (at most 100)", codes: [[3, "Missing SubscriberID parameter"], [5, "Invalid SubscriberID parameter"]] },
    (v, ctx): number[] => {
      if (isAbsent(v) || (Array.isArray(v) && v.length === 0)) return fail(ctx, v, [3, "Missing SubscriberID parameter"]);
      const ids = toIdListStrict(v);
      return ids && ids.length <= MAX_SUBSCRIBERS ? ids : fail(ctx, v, [5, "Invalid SubscriberID parameter"]);
    },
  ),
});

/** CONTRACT §1's comma lists (positive integers kept, other tokens dropped, duplicates collapsed); undefined when none is left. */
function toIdListStrict(v: unknown): number[] | undefined {
  const tokens: unknown[] = Array.isArray(v) ? v : typeof v === "string" ? v.split(",").map((t) => t.trim()) : [v];
  const ids = [...new Set(tokens.map(toPositiveInt).filter((id): id is number => id !== undefined))];
  return ids.length > 0 ? ids : undefined;
}

/**
 * Tag and untag share their checks: the list (4), every tag on it (6), every
 * subscriber on it (9); then `change` decides each subscriber's new tags, and the
 * whole call is one transaction, so 9 and 10 change nothing.
 */
async function retag(
  userId: number,
  p: z.infer<typeof tagParams>,
  now: Date,
  change: (tags: number[]) => { tags: number[]; fire: Firing[] },
  limit: boolean,
): Promise<void> {
  const listId = p.SubscriberListID;
  const [owned, tagItems] = await Promise.all([ownsList(userId, listId), batchGet(p.TagID.map((t) => keys.owned("tag", userId, t)))]);
  if (!owned) throw TAG.listNotFound;
  const tagOk = (t: number) => {
    const k = keys.owned("tag", userId, t);
    return tagItems.get(`${k.PK}|${k.SK}`)?.["ListID"] === listId;
  };
  if (!p.TagID.every(tagOk)) throw TAG.invalidTag;
  await changeSubscribers(
    userId,
    p.SubscriberID,
    (items) => {
      if (p.SubscriberID.some((id) => items.get(id)?.["ListID"] !== listId)) throw TAG.notFound;
      const out = new Map<number, Change>();
      for (const id of p.SubscriberID) {
        const before = tagsOf(items.get(id)!);
        const next = change(before);
        if (limit && next.tags.length > MAX_TAGS) throw TAG.tooMany;
        if (next.fire.length > 0) out.set(id, { set: { Tags: next.tags }, fire: next.fire });
      }
      return out;
    },
    now,
  );
}

export const subscriberTag = defineCommand({
  name: "subscriber.tag",
  route: { method: "POST", path: "/api/v1/subscriber.tag" },
  group: "reference",
  scope: "user",
  params: tagParams,
  async run(p, ctx) {
    await retag(
      userOf(ctx).userId,
      p,
      ctx.now,
      (tags) => {
        const added = p.TagID.filter((t) => !tags.includes(t));
        return { tags: [...tags, ...added], fire: added.map((t) => ({ Trigger: "Tag", Value: t })) };
      },
      true,
    );
    return { ErrorCode: 0 };
  },
});
DOCS: document(subscriberTag, {
  summary: "Assign tags to subscribers of a list (all or nothing)",
  errors: Object.values(TAG),
});

export const subscriberUntag = defineCommand({
  name: "subscriber.untag",
  route: { method: "POST", path: "/api/v1/subscriber.untag" },
  group: "reference",
  scope: "user",
  params: tagParams,
  async run(p, ctx) {
    await retag(
      userOf(ctx).userId,
      p,
      ctx.now,
      (tags) => {
        const removed = p.TagID.filter((t) => tags.includes(t));
        return { tags: tags.filter((t) => !removed.includes(t)), fire: removed.map((t) => ({ Trigger: "UnTag", Value: t })) };
      },
      false,
    );
    return { ErrorCode: 0 };
  },
});
DOCS: document(subscriberUntag, {
  summary: "Remove tags from subscribers of a list (all or nothing)",
  errors: [TAG.listNotFound, TAG.invalidTag, TAG.notFound],
});

// ---- subscriber.unsubscribe ----

const UNSUB = {
  listNotFound: notFound(4, "Invalid ListID"),
  notFound: notFound(7, "Subscriber not found"),
  already: conflict(9, "Subscriber already unsubscribed"),
};

export const subscriberUnsubscribe = defineCommand({
  name: "subscriber.unsubscribe",
  route: { method: "POST", path: "/api/v1/subscriber.unsubscribe" },
  group: "reference",
  scope: "user",
  params: z
    .object({
      ListID: requiredId([1, "Missing ListID parameter"], [4, "Invalid ListID"]),
      SubscriberID: lookupId(undefined, "The subscriber (or give EmailAddress); one that is not the caller's is not found", [
        [3, "Missing EmailAddress/SubscriberID parameter"],
      ]),
      EmailAddress: field({ type: "string", description: "The subscriber's address (or give SubscriberID)", codes: [[6, "Invalid EmailAddress"]] }, (v, ctx) => {
        if (isAbsent(v)) return undefined;
        return isEmailAddress(v) ? v : fail(ctx, v, [6, "Invalid EmailAddress"]);
      }),
      IPAddress: field({ type: "string", description: "Kept when it is an IPv4 or IPv6 literal" }, (v): string | undefined => {
        const s = toText(v)?.trim();
        return s && isIP(s) ? s : undefined;
      }),
    })
    .check(oneOf(["SubscriberID", "EmailAddress"], [3, "Missing EmailAddress/SubscriberID parameter"])),
  async run(p, ctx) {
    const { userId } = userOf(ctx);
    if (!(await ownsList(userId, p.ListID))) throw UNSUB.listNotFound;
    const id = p.SubscriberID !== undefined ? p.SubscriberID : await findSubscriberId(userId, p.ListID, p.EmailAddress!);
    if (!id) throw UNSUB.notFound;
    await changeSubscribers(
      userId,
      [id],
      (items) => {
        const item = items.get(id);
        if (!item || item["ListID"] !== p.ListID) throw UNSUB.notFound;
        if (statusOf(item) === "Unsubscribed") throw UNSUB.already;
        const set = { SubscriptionStatus: "Unsubscribed", UnsubscriptionDate: formatDateTime(ctx.now), UnsubscriptionIP: p.IPAddress };
        return new Map([[id, { set, fire: [{ Trigger: "ListUnsubscription", Value: p.ListID }] }]]);
      },
      ctx.now,
    );
    return { ErrorCode: 0 };
  },
});
DOCS: document(subscriberUnsubscribe, {
  summary: "Unsubscribe a subscriber from its list",
  errors: Object.values(UNSUB),
});

// ---- subscriber.get.activity ----

const ACTIVITY_NOT_FOUND = notFound(3, "Subscriber not found");

export const subscriberGetActivity = defineCommand({
  name: "subscriber.get.activity",
  route: { method: "GET", path: "/api/v1/subscriber.activity" },
  group: "reference",
  scope: "user",
  params: z.object({
    SubscriberID: lookupId([1, "Missing SubscriberID parameter"], "The subscriber; a malformed one is not found (3)"),
    SubscriberListID: lookupId([2, "Missing SubscriberListID parameter"], "The subscriber's list; a malformed one is not found (3)"),
    JourneyID: field({ type: "integer", description: "Only this journey's activity" }, (v): number | null | undefined =>
      isAbsent(v) ? undefined : (toPositiveInt(v) ?? null),
    ),
  }),
  async run(p, ctx) {
    const { userId } = userOf(ctx);
    const listId = p.SubscriberListID;
    if (!listId || !(await ownsList(userId, listId))) throw ACTIVITY_NOT_FOUND;
    if (!(await subscriberOnList(userId, listId, p.SubscriberID))) throw ACTIVITY_NOT_FOUND;
    // A malformed JourneyID names no journey: nothing matches it.
    const rows = p.JourneyID === null ? [] : await subscriberActivity(userId, p.SubscriberID!, p.JourneyID);
    return { ErrorCode: 0, Activity: rows };
  },
});
DOCS: document(subscriberGetActivity, {
  summary: "A subscriber's journey activity: enrolments, steps and ends, newest first (1,000 rows at most)",
  errors: [ACTIVITY_NOT_FOUND],
});

export const subscriberCommands = [
  subscriberCreate,
  subscriberGet,
  subscriberUpdate,
  subscriberTag,
  subscriberUntag,
  subscriberUnsubscribe,
  subscriberGetActivity,
];
