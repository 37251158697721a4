import * as z from "zod/mini";
import { document } from "../command-docs.js";
import { defineCommand, userOf, type CallContext } from "../command.js";
import { CommandError, conflict, notFound, validation } from "../errors.js";
import {
  changeStatus,
  createJourney,
  deleteJourney,
  deleteJourneys,
  getJourney,
  getJourneyItem,
  getJourneys,
  journeyView,
  listJourneys,
  updateJourney,
  type Journey,
  type Status,
} from "../domain/journeys/journeys.js";
import { actionView } from "../domain/trees/action-tree.js";
import { readJourneyWithTree } from "../domain/journeys/journey-tree.js";
import { actionStats, filteredEmailActions, journeyStats, type JourneyRollup } from "../domain/stats/stats.js";
import { accountRollups, countersOf, enrollmentOf, journeyDays, journeyLifetimeKeys } from "../domain/stats/stats-read.js";
import { keyId } from "../domain/owned.js";
import { keys } from "../keys.js";
import { resolveTrigger, triggerErrors, type Trigger } from "../domain/journeys/trigger.js";
import { MAX_WINDOW_DAYS, resolveWindow } from "../domain/stats/window.js";
import {
  fail,
  field,
  flag,
  isAbsent,
  optionalDate,
  optionalId,
  parseField,
  raw,
  requiredIdList,
  toNonNegativeInt,
  toPositiveInt,
  toText,
} from "../params.js";
import {
  bulkJourneyIds,
  checkRefs,
  criteriaField,
  EMAIL_ID_INVALID,
  ISP_INVALID,
  journeyId,
  NAME_MAX,
  notesField,
  parseIsp,
  RATE_LIMIT_ERRORS,
  rateLimits,
  runOperatorField,
  throwLowest,
  triggerField,
} from "./journey-fields.js";

const triggerValueDocs = {
  Trigger_ListID: raw({ type: "integer", description: "List ID for list-based triggers" }),
  Trigger_EmailID: raw({ type: "integer", description: "Email ID for email-based triggers" }),
  Trigger_Value: raw({ type: "string|integer", description: "Tag ID, custom field ID, revenue amount, journey ID or website-event value" }),
  Trigger_Criteria: criteriaField("Trigger_Criteria"),
  Run_Criteria: criteriaField("Run_Criteria"),
  Run_Criteria_Operator: runOperatorField,
  Rate_Limit_Per_Hour: raw({ type: "integer", description: "Hourly rate limit (0: none)" }),
  Rate_Limit_Per_Day: raw({ type: "integer", description: "Daily rate limit (0: none)" }),
  Notes: notesField,
};

/** Journey names: 1 to 255 characters after trimming. Missing is code 1; too long or not text is code 2. */
function parseName(v: unknown): string | undefined | "invalid" {
  if (isAbsent(v)) return undefined;
  const text = toText(v)?.trim();
  if (text === undefined) return "invalid";
  if (text === "") return undefined;
  return text.length <= NAME_MAX ? text : "invalid";
}
const nameDoc = { type: "string", description: `Journey name (1 to ${NAME_MAX} characters)` } as const;
const badName = [2, `Invalid Name parameter (text of at most ${NAME_MAX} characters)`] as const;
const missingName = [1, "Missing Name parameter"] as const;
const requiredName = field({ ...nameDoc, required: true, codes: [missingName, badName] }, (v, ctx): string => {
  const name = parseName(v);
  if (name === "invalid") return fail(ctx, v, badName);
  return name ?? fail(ctx, v, missingName);
});
const optionalName = field({ ...nameDoc, codes: [badName] }, (v, ctx): string | undefined => {
  const name = parseName(v);
  return name === "invalid" ? fail(ctx, v, badName) : name;
});

export const journeyCreate = defineCommand({
  name: "journey.create",
  route: { method: "POST", path: "/api/v1/journey" },
  group: "journeys",
  scope: "user",
  permission: "Campaign.Create",
  params: z.object({ Name: requiredName, Trigger: triggerField, ...triggerValueDocs }),
  async run(p, ctx) {
    const { userId } = userOf(ctx);
    const trigger: Trigger = p.Trigger ?? "Manual";
    const resolved = resolveTrigger(trigger, p);
    if (resolved instanceof CommandError) throw resolved;
    await checkRefs(userId, resolved.refs);
    const limits = rateLimits(p.Rate_Limit_Per_Hour, p.Rate_Limit_Per_Day);
    const journey = await createJourney(
      userId,
      {
        JourneyName: p.Name,
        Trigger: trigger,
        TriggerParameters: resolved.params,
        Notes: p.Notes ?? "",
        Trigger_Criteria: p.Trigger_Criteria ?? [],
        Run_Criteria: p.Run_Criteria ?? [],
        Run_Criteria_Operator: p.Run_Criteria_Operator ?? "and",
        Rate_Limit_Per_Hour: limits.Rate_Limit_Per_Hour ?? 0,
        Rate_Limit_Per_Day: limits.Rate_Limit_Per_Day ?? 0,
      },
      ctx.now,
    );
    return { JourneyID: journey.JourneyID, Journey: journeyView(journey) };
  },
});
DOCS: document(journeyCreate, {
  summary: "Create a journey (starts Disabled)",
  errors: [...triggerErrors(), ...RATE_LIMIT_ERRORS],
});

export const journeyUpdate = defineCommand({
  name: "journey.update",
  route: { method: "PATCH", path: "/api/v1/journey" },
  group: "journeys",
  scope: "user",
  permission: "Campaign.Create",
  params: z.object({ JourneyID: journeyId(), Name: optionalName, Trigger: triggerField, ...triggerValueDocs }),
  async run(p, ctx) {
    const { userId } = userOf(ctx);
    const current = await getJourney(userId, p.JourneyID);
    const touchesTrigger =
      p.Trigger !== undefined || !isAbsent(p.Trigger_ListID) || !isAbsent(p.Trigger_EmailID) || !isAbsent(p.Trigger_Value);

    let trigger: Trigger | undefined;
    let resolved: ReturnType<typeof resolveTrigger> | undefined;
    if (touchesTrigger) {
      trigger = p.Trigger ?? current?.Trigger ?? "Manual";
      // Unchanged trigger: omitted values keep what is stored.
      const previous = current && current.Trigger === trigger ? current.TriggerParameters : {};
      resolved = resolveTrigger(trigger, p, previous);
      if (!(resolved instanceof CommandError) && trigger === "JourneyCompleted" && resolved.params["JourneyID"] === p.JourneyID) {
        resolved = validation(16, "Invalid Trigger_Value parameter (JourneyCompleted)");
      }
    }
    // Codes run in ascending order: the trigger's own checks (4-9) come before "Journey not found" (10).
    throwLowest([
      resolved instanceof CommandError ? resolved : undefined,
      current ? undefined : notFound(10, "Journey not found"),
    ]);
    if (resolved && !(resolved instanceof CommandError)) await checkRefs(userId, resolved.refs);
    const limits = rateLimits(p.Rate_Limit_Per_Hour, p.Rate_Limit_Per_Day);

    const updated = await updateJourney(userId, p.JourneyID, {
      JourneyName: p.Name,
      Notes: p.Notes,
      Trigger: trigger,
      TriggerParameters: resolved && !(resolved instanceof CommandError) ? resolved.params : undefined,
      Trigger_Criteria: p.Trigger_Criteria,
      Run_Criteria: p.Run_Criteria,
      Run_Criteria_Operator: p.Run_Criteria_Operator,
      ...limits,
      UpdatedAt: formatNow(ctx),
    });
    if (!updated) throw notFound(10, "Journey not found");
    return { Journey: journeyView(updated) };
  },
});
DOCS: document(journeyUpdate, {
  summary: "Update a journey's name, notes, trigger, criteria or rate limits",
  errors: [...triggerErrors(), notFound(10, "Journey not found"), ...RATE_LIMIT_ERRORS],
});

const formatNow = (ctx: CallContext) => ctx.now.toISOString().slice(0, 19).replace("T", " ");

export const journeyGet = defineCommand({
  name: "journey.get",
  route: { method: "GET", path: "/api/v1/journey" },
  group: "journeys",
  scope: "user",
  permission: "Campaign.Create",
  params: z.object({
    JourneyID: journeyId(),
    // Checked in run(): "Journey not found" (3) is reported before any of these (4-8).
    StartDate: raw({ type: "string", description: "YYYY-MM-DD start of the stats window (default: 30 days ago)" }),
    EndDate: raw({ type: "string", description: "YYYY-MM-DD end of the stats window (default: today)" }),
    IncludeActivityCounters: flag("Add LastTriggeredAt, LastActivityAt and TotalEnrolledLifetime"),
    EmailID: raw({ type: "integer", description: "ActionID of a SendEmail action of this journey" }),
    ISP: raw({ type: "string", description: "An ISP domain, /^[a-zA-Z0-9.-]+$/" }),
  }),
  async run(p, ctx) {
    const { userId } = userOf(ctx);
    const item = await getJourneyItem(userId, p.JourneyID);
    if (!item) throw notFound(3, "Journey not found");
    const window = resolveWindow(
      parseField(optionalDate([4, "Invalid StartDate format"]), p.StartDate),
      parseField(optionalDate([5, "Invalid EndDate format"]), p.EndDate),
      {
        order: validation(6, "StartDate must be before EndDate"),
        tooLong: validation(5, `Invalid EndDate format (the window may span at most ${MAX_WINDOW_DAYS} days)`),
      },
      ctx.now,
    );
    const emailActionId = parseField(optionalId(EMAIL_ID_INVALID), p.EmailID);
    const isp = parseIsp(p.ISP);
    // Two more calls, in parallel: one BatchGet for the tree, the lifetime rollups and
    // the filtered rollup if any; one range query for the window's days.
    const lifetimeKeys = journeyLifetimeKeys(userId, p.JourneyID);
    const filterKey =
      emailActionId !== undefined && isp
        ? keys.actionIspLifetime(userId, p.JourneyID, emailActionId, isp)
        : emailActionId !== undefined
          ? keys.actionLifetime(userId, p.JourneyID, emailActionId)
          : isp
            ? keys.journeyIspLifetime(userId, p.JourneyID, isp)
            : undefined;
    const [{ journey, tree, extra }, days] = await Promise.all([
      readJourneyWithTree(userId, p.JourneyID, item, filterKey ? [...lifetimeKeys, filterKey] : lifetimeKeys),
      journeyDays(userId, p.JourneyID, window),
    ]);
    if (emailActionId !== undefined && !tree.some((a) => a.ActionID === emailActionId && a.Action === "SendEmail")) {
      throw validation(...EMAIL_ID_INVALID);
    }
    if (isp === null) throw validation(...ISP_INVALID);

    const [counterItem, enrollmentItem] = lifetimeKeys.map((k) => extra.get(keyId(k)));
    const stats = journeyStats(
      { lifetime: countersOf(counterItem), daily: days.journey, enrollment: enrollmentOf(counterItem, enrollmentItem) },
      window,
      { includeActivityCounters: p.IncludeActivityCounters },
    );
    if (filterKey) stats["AggregatedEmailActions"] = filteredEmailActions(countersOf(extra.get(keyId(filterKey))));
    return {
      ...journeyView(journey),
      Actions: tree.map((a) =>
        a.Action === "SendEmail" ? { ...actionView(a), ...actionStats(days.actions.get(a.ActionID), window) } : actionView(a),
      ),
      JourneyStats: stats,
    };
  },
});
DOCS: document(journeyGet, {
  summary: "Get a journey with its actions and statistics",
  errors: [
    notFound(3, "Journey not found"),
    validation(4, "Invalid StartDate format"),
    validation(5, "Invalid EndDate format"),
    validation(6, "StartDate must be before EndDate"),
    validation(...EMAIL_ID_INVALID),
    validation(...ISP_INVALID),
  ],
});

/** The paging extension of journey.list (docs/api.md), named as the newer edition names them. */
const PAGE_SIZE_MAX = 1000;
const PAGE_SIZE_DEFAULT = 25;
const RECORDS_PER_REQUEST_INVALID: [number, string] = [7, `Invalid RecordsPerRequest (an integer from 1 to ${PAGE_SIZE_MAX})`];
const RECORDS_FROM_INVALID: [number, string] = [8, "Invalid RecordsFrom (an integer of 0 or more)"];
const recordsPerRequest = field({ type: "integer", minimum: 1, maximum: PAGE_SIZE_MAX }, (v, ctx): number | undefined => {
  if (isAbsent(v)) return undefined;
  const n = toPositiveInt(v);
  return n !== undefined && n <= PAGE_SIZE_MAX ? n : fail(ctx, v, RECORDS_PER_REQUEST_INVALID);
});
const recordsFrom = field({ type: "integer", minimum: 0 }, (v, ctx): number | undefined => {
  if (isAbsent(v)) return undefined;
  return toNonNegativeInt(v) ?? fail(ctx, v, RECORDS_FROM_INVALID);
});

export const journeyList = defineCommand({
  name: "journey.list",
  route: { method: "GET", path: "/api/v1/journeys" },
  group: "journeys",
  scope: "user",
  permission: "Campaign.Create",
  params: z.object({
    StatsStartDate: optionalDate([4, "Invalid StatsStartDate format"]),
    StatsEndDate: optionalDate([5, "Invalid StatsEndDate format"]),
    SkipStats: flag("Omit the JourneyStats block entirely"),
    IncludeActivityCounters: flag("Add LastTriggeredAt, LastActivityAt and TotalEnrolledLifetime to each row"),
    // Checked in run, after the window's order (code 6), so the lowest code still wins.
    RecordsPerRequest: raw({
      type: "integer",
      minimum: 1,
      maximum: PAGE_SIZE_MAX,
      description: `Extension: page size, 1 to ${PAGE_SIZE_MAX} (default ${PAGE_SIZE_DEFAULT} when RecordsFrom is given). With either paging parameter the answer is one page in JourneyID order, plus TotalJourneys; invalid: code 7`,
    }),
    RecordsFrom: raw({
      type: "integer",
      minimum: 0,
      description: "Extension: offset of the page's first journey in JourneyID order (default 0 when RecordsPerRequest is given); invalid: code 8",
    }),
  }),
  async run(p, ctx) {
    const { userId } = userOf(ctx);
    // Dates are validated even with SkipStats (reference).
    const window = resolveWindow(
      p.StatsStartDate,
      p.StatsEndDate,
      {
        order: validation(6, "StatsStartDate must be before StatsEndDate"),
        tooLong: validation(5, `Invalid StatsEndDate format (the window may span at most ${MAX_WINDOW_DAYS} days)`),
      },
      ctx.now,
    );
    const perRequest = parseField(recordsPerRequest, p.RecordsPerRequest);
    const from = parseField(recordsFrom, p.RecordsFrom);
    const stats = (rollups: Map<number, JourneyRollup> | undefined) => (j: Journey) =>
      rollups
        ? { ...journeyView(j), JourneyStats: journeyStats(rollups.get(j.JourneyID), window, { includeActivityCounters: p.IncludeActivityCounters }) }
        : journeyView(j);

    if (perRequest === undefined && from === undefined) {
      // Three reads for any number of journeys: the journeys, and (unless SkipStats)
      // every journey's lifetime rollups and every journey's days in the window.
      const [journeys, rollups] = await Promise.all([
        listJourneys(userId),
        p.SkipStats ? Promise.resolve(undefined) : accountRollups(userId, window),
      ]);
      return { Journeys: journeys.map(stats(rollups)) };
    }

    // A page: the journeys first (they fix the page's JourneyID range), then only that
    // range's rollups. Still three reads, whatever RecordsFrom is; DynamoDB cannot skip
    // to an offset, but the journey items are the smallest part of the read.
    const journeys = await listJourneys(userId);
    const start = from ?? 0;
    const page = journeys.slice(start, start + (perRequest ?? PAGE_SIZE_DEFAULT));
    const rollups = p.SkipStats
      ? undefined
      : page.length === 0
        ? new Map<number, JourneyRollup>()
        : await accountRollups(userId, window, { fromId: page[0]!.JourneyID, toId: page[page.length - 1]!.JourneyID });
    return { Journeys: page.map(stats(rollups)), TotalJourneys: journeys.length };
  },
});
DOCS: document(journeyList, {
  summary: "List the caller's journeys, with statistics unless SkipStats; one page of them with RecordsPerRequest/RecordsFrom",
  errors: [
    validation(6, "StatsStartDate must be before StatsEndDate"),
    validation(...RECORDS_PER_REQUEST_INVALID),
    validation(...RECORDS_FROM_INVALID),
  ],
});

export const journeyDelete = defineCommand({
  name: "journey.delete",
  route: { method: "POST", path: "/api/v1/journey.delete" },
  group: "journeys",
  scope: "user",
  permission: "Campaign.Create",
  params: z.object({ JourneyID: journeyId() }),
  async run(p, ctx) {
    if (!(await deleteJourney(userOf(ctx).userId, p.JourneyID))) throw notFound(3, "Journey not found");
    return { JourneyID: p.JourneyID };
  },
});
DOCS: document(journeyDelete, {
  summary: "Delete a journey with its actions, statistics and enrollments",
  errors: [notFound(3, "Journey not found")],
});

export const journeysDelete = defineCommand({
  name: "journeys.delete",
  group: "journeys",
  scope: "user",
  permission: "Campaign.Delete",
  errorShape: "codeList",
  params: z.object({
    Journeys: requiredIdList([1, "Missing Journeys parameter"], [1, "Missing Journeys parameter"], "Comma-separated journey IDs"),
  }),
  async run(p, ctx) {
    await deleteJourneys(userOf(ctx).userId, p.Journeys);
    return { ErrorCode: 0, ErrorText: "" };
  },
});
DOCS: document(journeysDelete, {
  summary: "Delete several journeys (/api.php only); IDs the caller does not own are ignored",
});

function statusCommand(to: Status) {
  const verb = to === "Enabled" ? "enable" : "disable";
  const def = defineCommand({
    name: `journey.${verb}`,
    route: { method: "GET", path: `/api/v1/journey.${verb}` },
    group: "journeys",
    scope: "user",
    permission: "Campaign.Create",
    params: z.object({ JourneyID: journeyId() }),
    async run(p, ctx) {
      const result = await changeStatus(userOf(ctx).userId, p.JourneyID, to, ctx.now);
      if (!result.ok) {
        throw result.reason === "notFound" ? notFound(3, "Journey not found") : conflict(4, `Journey is already ${verb}d`);
      }
      return { Journey: journeyView(result.journey) };
    },
  });
  DOCS: document(def, {
    summary: `${to === "Enabled" ? "Enable" : "Disable"} a journey`,
    errors: [notFound(3, "Journey not found"), conflict(4, `Journey is already ${verb}d`)],
  });
  return def;
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(workers);
}

function bulkStatusCommand(to: Status) {
  const verb = to === "Enabled" ? "enable" : "disable";
  const def = defineCommand({
    name: `journeys.${verb}`,
    route: { method: "POST", path: `/api/v1/journeys.${verb}` },
    group: "journeys",
    scope: "user",
    permission: "Campaign.Create",
    params: z.object({
      JourneyIDs: bulkJourneyIds("Comma-separated positive JourneyIDs"),
    }),
    async run(p, ctx) {
      const { userId } = userOf(ctx);
      // One BatchGet drops unknown and foreign IDs before any write is attempted.
      const owned: Map<number, Journey> = await getJourneys(userId, p.JourneyIDs);
      const processed = new Set<number>();
      const candidates = p.JourneyIDs.filter((id) => owned.get(id)?.Status !== undefined && owned.get(id)?.Status !== to);
      await eachLimited(candidates, 10, async (id) => {
        if ((await changeStatus(userId, id, to, ctx.now)).ok) processed.add(id);
      });
      return {
        ProcessedJourneyIDs: p.JourneyIDs.filter((id) => processed.has(id)),
        FailedJourneyIDs: p.JourneyIDs.filter((id) => !processed.has(id)),
      };
    },
  });
  DOCS: document(def, {
    summary: `${to === "Enabled" ? "Enable" : "Disable"} several journeys; per-ID outcomes, partial success`,
  });
  return def;
}

export const journeyEnable = statusCommand("Enabled");
export const journeyDisable = statusCommand("Disabled");
export const journeysEnable = bulkStatusCommand("Enabled");
export const journeysDisable = bulkStatusCommand("Disabled");

export const journeyCommands = [
  journeyCreate,
  journeyGet,
  journeyList,
  journeyUpdate,
  journeyDelete,
  journeysDelete,
  journeyEnable,
  journeyDisable,
  journeysEnable,
  journeysDisable,
];
