import { keys } from "../../keys.js";
import { csvRow } from "./csv.js";
import type { ExportOptions } from "./exports.js";
import { fromItem, type Journey } from "../journeys/journeys.js";
import { batchGet, keyId, queryPages, type Item } from "../owned.js";
import { enrollmentOf, journeyDays } from "../stats/stats-read.js";
import { sumWindow, toCurrency, type Counters } from "../stats/stats.js";
import type { Window } from "../stats/window.js";

/**
 * The CSV of CONTRACT §9, produced as a stream of lines. Journeys are read a
 * DynamoDB page at a time (their SendEmail index entries come in the same pages),
 * and each journey's window figures come from the same rollups the stats commands
 * read, so memory stays flat however many journeys the account has.
 */
const COLUMNS = [
  "JourneyID", "JourneyName", "Status", "Trigger", "CreatedAt", "ActiveSubscribers", "TotalSubscribers",
  "SendCount", "DeliveryCount", "OpenCount", "ClickCount", "BounceCount", "UnsubscribeCount",
  "SpamComplaintCount", "ConversionCount", "TotalRevenue", "OpenRate", "ClickRate",
];

export const exportHeader = (includeActions: boolean): string =>
  csvRow(includeActions ? ["RowType", ...COLUMNS, "ActionID", "EmailID", "EmailName"] : COLUMNS);

const rate = (n: number | undefined, d: number | undefined) => ((d ?? 0) > 0 ? (n ?? 0) / d! : 0).toFixed(4);

function statCells(c: Counters): (string | number)[] {
  return [
    c.SendCount ?? 0, c.DeliveryCount ?? 0, c.OpenCount ?? 0, c.ClickCount ?? 0, c.BounceCount ?? 0,
    c.UnsubscribeCount ?? 0, c.SpamComplaintCount ?? 0, c.ConversionCount ?? 0,
    toCurrency(c.TotalRevenue ?? 0).toFixed(2), rate(c.OpenCount, c.SendCount), rate(c.ClickCount, c.SendCount),
  ];
}

const identity = (j: Journey) => [j.JourneyID, j.JourneyName, j.Status, j.Trigger, j.CreatedAt];

/** Runs `fn` over items with bounded concurrency, returning results in input order. */
async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

const SLICE = 100;

export async function* exportLines(userId: number, options: ExportOptions, window: Window): AsyncGenerator<string> {
  yield exportHeader(options.IncludeActions);
  const emailNames = new Map<number, string>();
  const { PK } = keys.ownedPrefix("journey", userId);
  // A journey's index entries follow it, and may spill into the next page.
  let pending: { journey: Journey; sends: Item[] } | undefined;
  for await (const page of queryPages(PK, "J#", "J#~")) {
    const ready: { journey: Journey; sends: Item[] }[] = [];
    for (const item of page) {
      if (keys.isJourneySk(String(item["SK"]))) {
        if (pending) ready.push(pending);
        pending = { journey: fromItem(item), sends: [] };
      } else if (pending) {
        pending.sends.push(item);
      }
    }
    // A page can hold thousands of journeys; their figures are read (and held) a slice at a time.
    for (let i = 0; i < ready.length; i += SLICE) {
      for await (const line of linesFor(userId, ready.slice(i, i + SLICE), options, window, emailNames)) yield line;
    }
  }
  if (pending) for await (const line of linesFor(userId, [pending], options, window, emailNames)) yield line;
}

async function* linesFor(
  userId: number,
  group: { journey: Journey; sends: Item[] }[],
  options: ExportOptions,
  window: Window,
  emailNames: Map<number, string>,
): AsyncGenerator<string> {
  const chosen = group.filter(({ journey }) => options.Status === "all" || journey.Status === options.Status);
  if (chosen.length === 0) return;
  const enrollmentKeys = chosen.map(({ journey }) => keys.journeyEnrollment(userId, journey.JourneyID));
  const sendsOf = (g: { journey: Journey; sends: Item[] }) =>
    g.sends
      .filter((e) => e["TreeVersion"] === g.journey.Tree.version)
      .sort((a, b) => Number(a["Position"]) - Number(b["Position"]));
  const missingEmails = options.IncludeActions
    ? [...new Set(chosen.flatMap((g) => sendsOf(g).map((e) => Number(e["EmailID"]))))].filter((id) => id > 0 && !emailNames.has(id))
    : [];
  const [enrollments, heads, days] = await Promise.all([
    batchGet(enrollmentKeys),
    batchGet(missingEmails.map((id) => keys.owned("email", userId, id))),
    mapLimited(chosen, 8, ({ journey }) => journeyDays(userId, journey.JourneyID, window)),
  ]);
  for (const id of missingEmails) emailNames.set(id, String(heads.get(keyId(keys.owned("email", userId, id)))?.["EmailName"] ?? ""));
  // The names cache is bounded by the account's emails, not its journeys; keep it from growing without limit.
  if (emailNames.size > 50_000) emailNames.clear();

  for (const [i, g] of chosen.entries()) {
    const e = enrollmentOf(undefined, enrollments.get(keyId(enrollmentKeys[i]!)));
    const journeyRow = [...identity(g.journey), e.ActiveSubscribers, e.TotalSubscribers, ...statCells(sumWindow(days[i]!.journey, window))];
    if (!options.IncludeActions) {
      yield csvRow(journeyRow);
      continue;
    }
    yield csvRow(["Journey", ...journeyRow, "", "", ""]);
    for (const send of sendsOf(g)) {
      const aid = Number(send["ActionID"]);
      const emailId = Number(send["EmailID"]);
      yield csvRow([
        "Action", ...identity(g.journey), "", "",
        ...statCells(sumWindow(days[i]!.actions.get(aid), window)),
        aid, emailId, emailNames.get(emailId) ?? "",
      ]);
    }
  }
}
