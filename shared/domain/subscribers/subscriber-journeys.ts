import { keys } from "../../keys.js";
import { formatDateTime } from "../../time.js";
import { JourneyTree, progress } from "../../engine/tree.js";
import type { Cursor, StepRecord } from "../../engine/model.js";
import { getJourneys, type Journey } from "../journeys/journeys.js";
import { batchGet, queryByPrefix } from "../owned.js";
import { chunkKeys, decodeTree, type StoredAction } from "../trees/tree-store.js";

/**
 * What subscriber.get and subscriber.get.activity read of a subscriber's
 * enrolments (ENGINE §3.2, §5.5): its cursors, in its own partition, of journeys
 * that still exist (a deleted journey vanishes from every reader at once, §5.4).
 */

const COMPLETED_WINDOW_SECONDS = 30 * 86400;
export const ACTIVITY_LIMIT = 1000;

const at = (epoch: number | undefined): string | null => (typeof epoch === "number" ? formatDateTime(new Date(epoch * 1000)) : null);
const isEnded = (c: Cursor) => c.State === "Completed" || c.State === "Exited";

/** The subscriber's cursors (memberships left out), with their journeys; cursors of gone journeys are dropped. */
async function cursorsOf(userId: number, subscriberId: number, journeyId?: number): Promise<{ cursors: Cursor[]; journeys: Map<number, Journey> }> {
  const { PK, prefix } = keys.enginePrefix(userId, subscriberId, journeyId);
  const items = await queryByPrefix(PK, prefix);
  const all = items
    .filter((i) => keys.parseEngineSk(String(i["SK"])).entryId !== "")
    .map((i) => ({ ...(i as unknown as Cursor), JourneyID: keys.parseEngineSk(String(i["SK"])).journeyId }));
  const journeys = all.length > 0 ? await getJourneys(userId, [...new Set(all.map((c) => c.JourneyID))]) : new Map<number, Journey>();
  return { cursors: all.filter((c) => journeys.has(c.JourneyID)), journeys };
}

/** The current trees of some journeys, in one BatchGet of their chunks. */
async function treesOf(userId: number, journeys: Journey[]): Promise<Map<number, StoredAction[]>> {
  const found = await batchGet(journeys.flatMap((j) => chunkKeys(userId, j.JourneyID, j.Tree)));
  return new Map(journeys.map((j) => [j.JourneyID, decodeTree(userId, j.JourneyID, j.Tree, found)]));
}

const newestFirst = (a: Cursor, b: Cursor) => b.EnrolledAt - a.EnrolledAt || (a.EntryID < b.EntryID ? 1 : a.EntryID > b.EntryID ? -1 : 0);

/**
 * CurrentStep and TotalSteps of a live enrolment (§3.2). TotalSteps never reads below
 * CurrentStep: a cursor parked in an action since unpublished or deleted still is on
 * a step of its own.
 */
function inProgress(tree: JourneyTree, passed: number, actionId: number) {
  const p = progress(tree, passed, actionId, false);
  return { CurrentStep: p.CurrentStep, TotalSteps: Math.max(p.TotalSteps, p.CurrentStep) };
}

/** subscriber.get's SubscriberJourneys: enrolments in progress, and those ended in the last 30 days. */
export async function subscriberJourneys(userId: number, subscriberId: number, now: Date) {
  const { cursors, journeys } = await cursorsOf(userId, subscriberId);
  const nowEpoch = Math.floor(now.getTime() / 1000);
  const live = cursors.filter((c) => c.State === "Active" || c.State === "Paused").sort(newestFirst);
  const ended = cursors
    .filter((c) => isEnded(c) && typeof c.EndedAt === "number" && c.EndedAt >= nowEpoch - COMPLETED_WINDOW_SECONDS)
    .sort((a, b) => (b.EndedAt ?? 0) - (a.EndedAt ?? 0) || newestFirst(a, b));
  const trees = await treesOf(userId, [...new Set(live.map((c) => c.JourneyID))].map((id) => journeys.get(id)!));
  const name = (c: Cursor) => journeys.get(c.JourneyID)!.JourneyName;
  return {
    InProgress: live.map((c) => ({
      JourneyID: c.JourneyID,
      JourneyName: name(c),
      EntryID: c.EntryID,
      State: c.State,
      RelActionID: c.ActionID,
      // Parked in a started Wait, Debug sleep, SMS window or throttled send: the time it wakes.
      SnoozedUntil: c.Started ? at(c.DueAt) : null,
      EnrolledAt: at(c.EnrolledAt),
      ...inProgress(new JourneyTree(trees.get(c.JourneyID) ?? []), Number(c.Passed ?? 0), c.ActionID),
    })),
    Completed: ended.map((c) => ({
      JourneyID: c.JourneyID,
      JourneyName: name(c),
      EntryID: c.EntryID,
      EndedBy: c.EndedBy ?? c.State,
      EndReason: c.EndReason ?? "",
      RelActionID: 0,
      EnrolledAt: at(c.EnrolledAt),
      CompletedAt: at(c.EndedAt),
      // An end fixes both (ENGINE §3.2).
      CurrentStep: Number(c.Passed ?? 0),
      TotalSteps: Number(c.Passed ?? 0),
    })),
  };
}

export interface ActivityRow {
  ActivityType: "JourneyEnrolled" | "JourneyStep" | "JourneyEnded";
  JourneyID: number;
  EntryID: string;
  ActionID: number;
  Action: string;
  Outcome: string;
  Reason: string;
  Detail: Record<string, unknown>;
  ActivityDate: string;
}

/**
 * subscriber.get.activity (ENGINE §5.5 "Activity"): for each cursor held, its
 * enrolment, its step records and its end. Order: ActivityDate descending, then
 * EntryID descending, then an enrolment's rows last written first; 1,000 rows at most.
 */
export async function subscriberActivity(userId: number, subscriberId: number, journeyId?: number): Promise<ActivityRow[]> {
  const { cursors } = await cursorsOf(userId, subscriberId, journeyId);
  // Each row with its place in its enrolment's writing order (enrolled first, ended last).
  const rows: { row: ActivityRow; seq: number }[] = [];
  for (const c of cursors) {
    const base = { JourneyID: c.JourneyID, EntryID: c.EntryID };
    rows.push({
      seq: 0,
      row: {
        ActivityType: "JourneyEnrolled",
        ...base,
        ActionID: 0,
        Action: "",
        Outcome: "Done",
        Reason: String(c.Source ?? ""),
        Detail: { Depth: Number(c.Depth ?? 0), EnteredBy: c.EnteredBy ?? "" },
        ActivityDate: at(c.EnrolledAt) ?? "",
      },
    });
    ((c.Steps ?? []) as StepRecord[]).forEach((s, i) => {
      rows.push({
        seq: i + 1,
        row: { ActivityType: "JourneyStep", ...base, ActionID: s.ActionID, Action: s.Action, Outcome: s.Outcome, Reason: s.Reason, Detail: s.Detail ?? {}, ActivityDate: s.At },
      });
    });
    if (isEnded(c)) {
      rows.push({
        seq: Number.MAX_SAFE_INTEGER,
        row: {
          ActivityType: "JourneyEnded",
          ...base,
          ActionID: 0,
          Action: "",
          Outcome: "Done",
          Reason: c.EndReason ?? "",
          Detail: { EndedBy: c.EndedBy ?? c.State },
          ActivityDate: at(c.EndedAt) ?? "",
        },
      });
    }
  }
  const cmp = (x: string, y: string) => (x < y ? 1 : x > y ? -1 : 0);
  rows.sort((a, b) => cmp(a.row.ActivityDate, b.row.ActivityDate) || cmp(a.row.EntryID, b.row.EntryID) || b.seq - a.seq);
  return rows.slice(0, ACTIVITY_LIMIT).map((r) => r.row);
}

