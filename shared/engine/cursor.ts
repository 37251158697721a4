import { keys, type Key } from "../keys.js";
import type { Item } from "../domain/owned.js";
import { formatDateTime } from "../time.js";
import { DUE_REMOVE, dueFields, longWaitThreshold } from "./due.js";
import type { Cursor, Intent, Outbox, OutboxEntry, StepRecord } from "./model.js";
import { updateItem, versionIs, type TransactItem } from "./store.js";

/**
 * A cursor in memory and the one write that stores it (ENGINE §5.1, §5.2): every
 * step write is an update conditioned on the Version read, setting Version + 1, so
 * of two workers holding one message only one applies the step.
 */
export const STEPS_KEPT = 20;
const DETAIL_MAX = 2048;

export const cursorKey = (c: Pick<Cursor, "UserID" | "SubscriberID" | "JourneyID" | "EntryID">): Key =>
  keys.cursor(c.UserID, c.SubscriberID, c.JourneyID, c.EntryID);

export function cursorOf(item: Item): Cursor {
  return {
    UserID: Number(item["UserID"]),
    SubscriberID: Number(item["SubscriberID"]),
    JourneyID: Number(item["JourneyID"]),
    EntryID: String(item["EntryID"]),
    State: item["State"] as Cursor["State"],
    ActionID: Number(item["ActionID"] ?? 0),
    Started: item["Started"] === true,
    DueAt: Number(item["DueAt"] ?? 0),
    Version: Number(item["Version"] ?? 0),
    TreeVersion: String(item["TreeVersion"] ?? ""),
    EnteredBy: String(item["EnteredBy"] ?? ""),
    Source: String(item["Source"] ?? ""),
    Depth: Number(item["Depth"] ?? 0),
    EnrolledAt: Number(item["EnrolledAt"] ?? 0),
    EmailAddress: String(item["EmailAddress"] ?? ""),
    Extra: (item["Extra"] as string[] | undefined) ?? [],
    Passed: Number(item["Passed"] ?? 0),
    Outbox: (item["Outbox"] as Outbox | undefined) ?? {},
    Steps: (item["Steps"] as StepRecord[] | undefined) ?? [],
    ...(item["Intent"] ? { Intent: item["Intent"] as Intent } : {}),
    ...(item["Throttles"] ? { Throttles: Number(item["Throttles"]) } : {}),
    ...(item["EndedBy"] ? { EndedBy: item["EndedBy"] as Cursor["EndedBy"] } : {}),
    ...(item["EndReason"] ? { EndReason: String(item["EndReason"]) } : {}),
    ...(item["EndedAt"] !== undefined ? { EndedAt: Number(item["EndedAt"]) } : {}),
  };
}

/** Cuts long strings in a step record's Detail so the record stays within 2 KB (§5.5). */
export function boundedDetail(detail: Record<string, unknown>): Record<string, unknown> {
  let text = JSON.stringify(detail);
  if (text.length <= DETAIL_MAX) return detail;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(detail)) out[k] = typeof v === "string" ? v.slice(0, 256) : v;
  text = JSON.stringify(out);
  return text.length <= DETAIL_MAX ? out : { Truncated: text.slice(0, DETAIL_MAX - 32) };
}

export function record(at: number, actionId: number, action: string, outcome: StepRecord["Outcome"], reason = "", detail: Record<string, unknown> = {}): StepRecord {
  return { At: formatDateTime(new Date(at * 1000)), ActionID: actionId, Action: action, Outcome: outcome, Reason: reason, Detail: boundedDetail(detail) };
}

export const isLive = (c: Pick<Cursor, "State">) => c.State === "Active" || c.State === "Paused";

/**
 * The cursor's update for one write: the whole mutable state (a few hundred bytes
 * plus the last 20 step records), Version + 1, and its place in the due index:
 * - Active: due at `DueAt` (`Queued` when a message is on its way or this worker goes on);
 * - Paused: out of the index, unless its outbox still holds entries;
 * - ended: indexed as an outbox until its events are delivered and cleared.
 * `cleared`: outbox entries already on their queues, dropped by this write.
 */
export function cursorWrite(c: Cursor, readVersion: number, now: number, opts: { queued: boolean; cleared?: ReadonlySet<string> }): TransactItem {
  const outbox: Outbox = {};
  for (const [id, e] of Object.entries(c.Outbox ?? {})) if (!opts.cleared?.has(id)) outbox[id] = e;
  c.Outbox = outbox;
  const key = cursorKey(c);
  const set: Record<string, unknown> = {
    UserID: c.UserID,
    SubscriberID: c.SubscriberID,
    JourneyID: c.JourneyID,
    EntryID: c.EntryID,
    State: c.State,
    ActionID: c.ActionID,
    Started: c.Started,
    DueAt: c.DueAt,
    Version: readVersion + 1,
    TreeVersion: c.TreeVersion,
    EnteredBy: c.EnteredBy,
    Source: c.Source,
    Depth: c.Depth,
    EnrolledAt: c.EnrolledAt,
    EmailAddress: c.EmailAddress,
    Extra: c.Extra,
    Passed: c.Passed,
    Outbox: outbox,
    Steps: c.Steps.slice(-STEPS_KEPT),
  };
  const remove: string[] = [];
  // Absent on almost every write: REMOVE of a missing attribute is free, and keeps the common write unchanged.
  if (c.Intent) set["Intent"] = c.Intent;
  else remove.push("Intent");
  if (c.Throttles) set["Throttles"] = c.Throttles;
  else remove.push("Throttles");
  const oldest = Object.values(outbox).reduce<number | undefined>((m, e) => (m === undefined || e.At < m ? e.At : m), undefined);
  if (c.State === "Active") {
    Object.assign(set, dueFields(key, oldest === undefined ? c.DueAt : Math.min(oldest, c.DueAt), "Step", opts.queued, now));
    set["JourneyKey"] = keys.journeyIndexKey(c.UserID, c.JourneyID);
  } else {
    if (oldest !== undefined) Object.assign(set, dueFields(key, oldest, "Outbox", true, now));
    else remove.push(...DUE_REMOVE);
    if (c.State === "Paused") set["JourneyKey"] = keys.journeyIndexKey(c.UserID, c.JourneyID);
    else remove.push("JourneyKey");
  }
  if (c.EndedBy) Object.assign(set, { EndedBy: c.EndedBy, EndReason: c.EndReason, EndedAt: c.EndedAt });
  c.Version = readVersion + 1;
  return updateItem(key, set, remove, readVersion === 0 ? { expression: "attribute_not_exists(PK)" } : versionIs(readVersion));
}

/** Whether a cursor due at `due` gets its own delayed message (else its minute in the index hands it, §6). */
export const sendsOwnMessage = (due: number, now: number): boolean => due - now <= longWaitThreshold();

/** Adds an outbox entry to an in-memory cursor. */
export function addEntry(c: Cursor, entry: OutboxEntry): void {
  c.Outbox = { ...(c.Outbox ?? {}), [entry.Id]: entry };
}
