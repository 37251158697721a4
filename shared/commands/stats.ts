import * as z from "zod/mini";
import { document } from "../command-docs.js";
import { defineCommand, userOf } from "../command.js";
import { notFound, validation, type CommandError } from "../errors.js";
import { readJourneyWithTree } from "../domain/journeys/journey-tree.js";
import { getJourneyItem, getJourneyWithIndex, listJourneys } from "../domain/journeys/journeys.js";
import { batchGet, keyId, queryMailIndex, type Item } from "../domain/owned.js";
import { accountRollups, addInto, countersOf, ispDays, journeyDays } from "../domain/stats/stats-read.js";
import { actionStats, toCurrency, type Counters } from "../domain/stats/stats.js";
import { MAX_WINDOW_DAYS, resolveWindow, type Window } from "../domain/stats/window.js";
import { keys } from "../keys.js";
import { field, isAbsent, optionalDate, optionalId, parseField, raw, requiredId, toEnum, toJsonValue, toNonNegativeInt, toPositiveInt, type Coded } from "../params.js";
import { EMAIL_ID_INVALID, ISP_INVALID, parseIsp } from "./journey-fields.js";

/** journey.stats.byisp, journey.stats.byaction, account.journey.benchmark and journey.action.subscribers. */

const JOURNEY_ID = {
  missing: [1, "Missing JourneyID parameter"] as Coded,
  invalid: [2, "Invalid JourneyID parameter (must be a positive integer)"] as Coded,
};

/** Dates are checked after "Journey not found" (3), so they arrive raw and go through parseField. */
const windowDocs = {
  StartDate: raw({ type: "string", description: "YYYY-MM-DD range start (default: 30 days ago)" }),
  EndDate: raw({ type: "string", description: "YYYY-MM-DD range end (default: today)" }),
};

function windowOf(start: unknown, end: unknown, now: Date): Window {
  return resolveWindow(
    parseField(optionalDate([4, "Invalid StartDate format"]), start),
    parseField(optionalDate([5, "Invalid EndDate format"]), end),
    {
      order: validation(6, "StartDate must be before EndDate"),
      tooLong: validation(5, `Invalid EndDate format (the window may span at most ${MAX_WINDOW_DAYS} days)`),
    },
    now,
  );
}

/** What journeyScope and windowOf raise after the parameters' own checks (declared for /docs). */
const scopeErrors = (): CommandError[] => [
  notFound(3, "Journey not found"),
  validation(4, "Invalid StartDate format"),
  validation(5, "Invalid EndDate format"),
  validation(6, "StartDate must be before EndDate"),
  validation(...EMAIL_ID_INVALID),
];

/** The current SendEmail index entries of a journey, in tree order. */
function currentSendEmails(item: Item, entries: Item[]): Item[] {
  const version = String(item["TreeVersion"] ?? "");
  return entries
    .filter((e) => e["TreeVersion"] === version)
    .sort((a, b) => Number(a["Position"]) - Number(b["Position"]));
}

/**
 * The opening both per-journey stats reads share: the journey with its SendEmail
 * index in one call (3 if missing), the window (4-6), then EmailID (7).
 */
async function journeyScope(userId: number, journeyId: number, p: { StartDate: unknown; EndDate: unknown; EmailID: unknown }, now: Date) {
  const { item, sendEmails } = await getJourneyWithIndex(userId, journeyId);
  if (!item) throw notFound(3, "Journey not found");
  const window = windowOf(p.StartDate, p.EndDate, now);
  const actionId = parseField(optionalId(EMAIL_ID_INVALID), p.EmailID);
  const current = currentSendEmails(item, sendEmails);
  if (actionId !== undefined && !current.some((e) => Number(e["ActionID"]) === actionId)) throw validation(...EMAIL_ID_INVALID);
  return { window, actionId, current };
}

const ISP_ROW: [string, keyof Counters][] = [
  ["Sent", "SendCount"],
  ["Delivered", "DeliveryCount"],
  ["Opened", "OpenCount"],
  ["Clicked", "ClickCount"],
  ["Bounced", "BounceCount"],
  ["Unsubscribed", "UnsubscribeCount"],
  ["Complained", "SpamComplaintCount"],
];

export const statsByIsp = defineCommand({
  name: "journey.stats.byisp",
  route: { method: "GET", path: "/api/v1/journey.stats.byisp" },
  group: "stats",
  scope: "user",
  permission: "Campaign.Create",
  params: z.object({
    JourneyID: requiredId(JOURNEY_ID.missing, JOURNEY_ID.invalid, "Journey, owned by the caller"),
    ...windowDocs,
    EmailID: raw({ type: "integer", description: "ActionID of a SendEmail action of this journey" }),
  }),
  async run(p, ctx) {
    const { userId } = userOf(ctx);
    // Call 1: the journey with its SendEmail index (to check EmailID); call 2: one range of ISP days.
    const { window, actionId } = await journeyScope(userId, p.JourneyID, p, ctx.now);
    const rows = new Map<string, Counters>();
    for (const day of await ispDays(userId, p.JourneyID, window, actionId)) {
      const domain = String(day["Domain"]);
      rows.set(domain, addInto(rows.get(domain) ?? {}, countersOf(day)));
    }
    const byIsp = [...rows]
      .sort(([da, a], [db, b]) => (b.SendCount ?? 0) - (a.SendCount ?? 0) || da.localeCompare(db))
      .map(([Domain, c]) => ({ Domain, ...Object.fromEntries(ISP_ROW.map(([name, k]) => [name, c[k] ?? 0])) }));
    return { ByISP: byIsp };
  },
});
DOCS: document(statsByIsp, {
  summary: "Per-ISP engagement of a journey (or one SendEmail action) over a window",
  errors: scopeErrors(),
});

export const statsByAction = defineCommand({
  name: "journey.stats.byaction",
  route: { method: "GET", path: "/api/v1/journey.stats.byaction" },
  group: "stats",
  scope: "user",
  permission: "Campaign.Create",
  params: z.object({
    JourneyID: requiredId(JOURNEY_ID.missing, JOURNEY_ID.invalid, "Journey, owned by the caller"),
    ...windowDocs,
    EmailID: raw({ type: "integer", description: "ActionID of a SendEmail action of this journey" }),
    ISP: raw({ type: "string", description: "An ISP domain, /^[a-zA-Z0-9.-]+$/" }),
  }),
  async run(p, ctx) {
    const { userId } = userOf(ctx);
    const { window, actionId, current } = await journeyScope(userId, p.JourneyID, p, ctx.now);
    const isp = parseIsp(p.ISP);
    if (isp === null) throw validation(...ISP_INVALID);

    const chosen = current
      .filter((e) => actionId === undefined || Number(e["ActionID"]) === actionId)
      .sort((a, b) => Number(a["OrderNo"]) - Number(b["OrderNo"]) || Number(a["Position"]) - Number(b["Position"]));
    // Calls 2 and 3 in parallel: the window's days (journey-wide or per ISP), and the email names.
    const emailIds = [...new Set(chosen.map((e) => Number(e["EmailID"])).filter((id) => id > 0))];
    const [daily, heads] = await Promise.all([
      isp === undefined
        ? journeyDays(userId, p.JourneyID, window).then((d) => d.actions)
        : perActionIsp(userId, p.JourneyID, window, isp),
      batchGet(emailIds.map((id) => keys.owned("email", userId, id))),
    ]);
    return {
      Actions: chosen.map((e) => {
        const aid = Number(e["ActionID"]);
        const emailId = Number(e["EmailID"]);
        const { Stats, DailyStats } = actionStats(daily.get(aid), window);
        return {
          ActionID: aid,
          Action: "SendEmail",
          EmailID: emailId,
          EmailName: String(heads.get(keyId(keys.owned("email", userId, emailId)))?.["EmailName"] ?? ""),
          OrderNo: Number(e["OrderNo"]),
          Stats,
          DailyStats,
        };
      }),
    };
  },
});
DOCS: document(statsByAction, {
  summary: "Per-SendEmail-action engagement of a journey over a window, optionally for one action and/or ISP",
  errors: [...scopeErrors(), validation(...ISP_INVALID)],
});

/** Every action's days for one ISP, from the action × ISP daily rollups (one range query). */
async function perActionIsp(userId: number, journeyId: number, window: Window, isp: string) {
  const out = new Map<number, Map<string, Counters>>();
  for (const i of await ispDays(userId, journeyId, window)) {
    if (i["Domain"] !== isp) continue;
    const aid = Number(i["ActionID"]);
    const days = out.get(aid) ?? out.set(aid, new Map()).get(aid)!;
    days.set(String(i["Date"]), addInto(days.get(String(i["Date"])) ?? {}, countersOf(i)));
  }
  return out;
}

const round = (n: number, places: number) => Number(n.toFixed(places));
const rate = (num: number, den: number) => (den > 0 ? round(num / den, 4) : 0);

export const benchmark = defineCommand({
  name: "account.journey.benchmark",
  route: { method: "GET", path: "/api/v1/account.journey.benchmark" },
  group: "stats",
  scope: "user",
  permission: "Campaign.Create",
  params: z.object({
    StartDate: optionalDate([1, "Invalid StartDate format"], "YYYY-MM-DD range start (default: 30 days ago)"),
    EndDate: optionalDate([2, "Invalid EndDate format"], "YYYY-MM-DD range end (default: today)"),
  }),
  async run(p, ctx) {
    const { userId } = userOf(ctx);
    const window = resolveWindow(p.StartDate, p.EndDate, {
      order: validation(3, "StartDate must not be after EndDate"),
      tooLong: validation(2, `Invalid EndDate format (the window may span at most ${MAX_WINDOW_DAYS} days)`),
    }, ctx.now);
    // Two reads: the live journeys (a deleted journey's rollups must not count) and every journey's days.
    const [journeys, rollups] = await Promise.all([listJourneys(userId), accountRollups(userId, window)]);
    const total: Counters = {};
    let journeyCount = 0;
    for (const j of journeys) {
      const r = rollups.get(j.JourneyID);
      const sum: Counters = {};
      for (const c of r?.daily.values() ?? []) addInto(sum, c);
      // Sent-weighted: a journey contributes only through its sends, so one without sends adds nothing.
      if ((sum.SendCount ?? 0) === 0) continue;
      journeyCount++;
      addInto(total, sum);
    }
    const sent = total.SendCount ?? 0;
    return {
      StartDate: window.start,
      EndDate: window.end,
      Benchmark: {
        OpenRate: rate(total.OpenCount ?? 0, sent),
        ClickRate: rate(total.ClickCount ?? 0, sent),
        ClickToOpenRate: sent > 0 ? rate(total.ClickCount ?? 0, total.OpenCount ?? 0) : 0,
        BounceRate: rate(total.BounceCount ?? 0, sent),
        UnsubscribeRate: rate(total.UnsubscribeCount ?? 0, sent),
        ComplaintRate: rate(total.SpamComplaintCount ?? 0, sent),
        RevenuePerSubscriber: sent > 0 ? round(toCurrency(total.TotalRevenue ?? 0) / sent, 2) : 0,
        JourneyCount: journeyCount,
        TotalSent: sent,
      },
    };
  },
});
DOCS: document(benchmark, {
  summary: "Sent-weighted engagement averages across the caller's journeys over a window",
  errors: [validation(3, "StartDate must not be after EndDate")],
});

const FILTERS: Record<string, string> = {
  opened: "Opened",
  clicked: "Clicked",
  converted: "Converted",
  browser_viewed: "BrowserViewed",
  forwarded: "Forwarded",
  unsubscribed: "Unsubscribed",
  bounced: "Bounced",
  spam_complaint: "SpamComplaint",
};

const filterField = field({ type: "array", description: `JSON array of: ${Object.keys(FILTERS).join(", ")}` }, (v, ctx): string[] => {
  if (isAbsent(v)) return [];
  const parsed = toJsonValue(v);
  if (!parsed.ok || !Array.isArray(parsed.value)) {
    ctx.issues.push({ code: "custom", message: "Invalid FilterJSON parameter (invalid JSON)", input: v, params: { code: 5 } });
    return [];
  }
  const out: string[] = [];
  for (const item of parsed.value) {
    const name = typeof item === "string" ? FILTERS[item.trim().toLowerCase()] : undefined;
    if (!name) {
      ctx.issues.push({ code: "custom", message: "Invalid FilterJSON value (unrecognized filter item)", input: v, params: { code: 6 } });
      return [];
    }
    out.push(name);
  }
  return out;
});

export const actionSubscribers = defineCommand({
  name: "journey.action.subscribers",
  route: { method: "GET", path: "/api/v1/journey.action.subscribers" },
  group: "stats",
  scope: "user",
  permission: "Campaign.Create",
  errorShape: "codeObjects",
  params: z.object({
    JourneyID: requiredId([1, "Missing JourneyID parameter"], [3, "Invalid JourneyID parameter"]),
    ActionID: requiredId([2, "Missing ActionID parameter"], [4, "Invalid ActionID parameter"]),
    FilterJSON: filterField,
    Operator: field({ type: "string", description: "AND (default) or OR" }, (v, ctx): "AND" | "OR" => {
      if (isAbsent(v)) return "AND";
      const op = toEnum(["AND", "OR"] as const, v);
      if (op) return op;
      ctx.issues.push({ code: "custom", message: "Invalid Operator value", input: v, params: { code: 7 } });
      return "AND";
    }),
    RecordsPerRequest: field({ type: "integer", description: "Page size, 1 to 1000 (default 25)" }, (v) => Math.min(toPositiveInt(v) ?? 25, 1000)),
    RecordsFrom: field({ type: "integer", description: "Offset (default 0)" }, (v) => toNonNegativeInt(v) ?? 0),
    OrderField: field({ type: "string", description: "EmailAddress (default) or SubscriberID" }, (v) => toEnum(["EmailAddress", "SubscriberID"] as const, v) ?? "EmailAddress"),
    OrderType: field({ type: "string", description: "ASC (default) or DESC" }, (v) => toEnum(["ASC", "DESC"] as const, v) ?? "ASC"),
  }),
  async run(p, ctx) {
    const { userId } = userOf(ctx);
    const item = await getJourneyItem(userId, p.JourneyID);
    if (!item) throw notFound(5, "Journey not found");
    const { tree } = await readJourneyWithTree(userId, p.JourneyID, item);
    if (!tree.some((a) => a.ActionID === p.ActionID)) throw notFound(6, "Action not found");
    const { MailPK, prefix } = keys.mailIndexPrefix(userId, p.JourneyID, p.ActionID);
    const states = (await queryMailIndex(MailPK, prefix)).filter((s) => s["Sent"] === true);
    const matching = states.filter((s) =>
      p.FilterJSON.length === 0
        ? true
        : p.Operator === "AND"
          ? p.FilterJSON.every((f) => s[f] !== undefined && s[f] !== false)
          : p.FilterJSON.some((f) => s[f] !== undefined && s[f] !== false),
    );
    const dir = p.OrderType === "ASC" ? 1 : -1;
    matching.sort((a, b) =>
      p.OrderField === "SubscriberID"
        ? dir * (Number(a["SubscriberID"]) - Number(b["SubscriberID"]))
        : dir * String(a["EmailAddress"]).toLowerCase().localeCompare(String(b["EmailAddress"]).toLowerCase()) ||
          Number(a["SubscriberID"]) - Number(b["SubscriberID"]),
    );
    const page = matching.slice(p.RecordsFrom, p.RecordsFrom + p.RecordsPerRequest);
    const suppressed = await batchGet(page.map((s) => keys.suppression(userId, Number(s["SubscriberID"]))));
    return {
      ErrorCode: 0,
      ErrorText: "",
      Subscribers: page.map((s) => ({
        SubscriberID: String(s["SubscriberID"]),
        EmailAddress: String(s["EmailAddress"]),
        Suppressed: suppressed.get(keyId(keys.suppression(userId, Number(s["SubscriberID"]))))?.["Suppressed"] === true,
      })),
      TotalSubscribers: matching.length,
    };
  },
});
DOCS: document(actionSubscribers, {
  summary: "Subscribers sent a SendEmail action, with engagement filters and paging",
  errors: [
    validation(5, "Invalid FilterJSON parameter (invalid JSON)"),
    validation(6, "Invalid FilterJSON value (unrecognized filter item)"),
    validation(7, "Invalid Operator value"),
    notFound(5, "Journey not found"),
    notFound(6, "Action not found"),
  ],
});

export const statsCommands = [statsByIsp, statsByAction, benchmark, actionSubscribers];
