import * as z from "zod/mini";
import { document } from "../command-docs.js";
import { defineCommand, userOf } from "../command.js";
import { CommandError, notFound, validation } from "../errors.js";
import { parseActions, type ActionRef } from "../domain/trees/actions.js";
import { actionIdPaths, actionView, countNew, toStored } from "../domain/trees/action-tree.js";
import { emailHeads } from "../domain/emails.js";
import { nextIds } from "../domain/ids.js";
import { fromItem as journeyFrom, getJourneyItem, getJourneyWithIndex, listJourneysWithIndex } from "../domain/journeys/journeys.js";
import { readJourneyWithTree, replaceTree } from "../domain/journeys/journey-tree.js";
import { keyId, type Item } from "../domain/owned.js";
import type { StoredAction } from "../domain/trees/tree-store.js";
import { keys } from "../keys.js";
import { computeRedirects } from "../engine/tree.js";
import { jobUpdate } from "../engine/job-entry.js";
import { runJob } from "../engine/jobs.js";
import { field, fail, flag, optionalId, requiredId, toBool, toJsonValue, toPositiveInt, type Coded } from "../params.js";

/** journey.actions.update, journey.actions.published and journey.sendemailactions. */

const MISSING_ID: Coded = [1, "Missing JourneyID parameter"];
const INVALID_ID: Coded = [3, "Invalid JourneyID parameter"];

/** `Actions` of both commands: an array, or a string holding one. Missing is code 2; anything else is code 4. */
const ACTIONS_CODES = [
  [2, "Missing Actions parameter"],
  [4, "Invalid JourneyID parameter (Actions must be array)"],
] as const;
const actionsArray = field({ type: "array", required: true, description: "Array of action objects", codes: ACTIONS_CODES }, (v, ctx): unknown[] => {
  if (v === undefined || v === null || v === "") return fail(ctx, v, ACTIONS_CODES[0]);
  const parsed = toJsonValue(v);
  if (!parsed.ok || !Array.isArray(parsed.value)) return fail(ctx, v, ACTIONS_CODES[1]);
  return parsed.value;
});

const invalidAction = (message: string) => validation(6, message);

/** onCurrentTree's codes, declared for /docs: the journey is not the caller's, or other writers kept moving its tree. */
const treeErrors = (): CommandError[] => [
  notFound(5, "Journey not found"),
  new CommandError(6, "Invalid action type or Journey not found: the journey kept changing, try again", "conflict"),
];

/** Concurrent writers are resolved by re-reading and re-deciding; this bounds the loop. */
const ATTEMPTS = 5;

/**
 * Runs `step` on the journey as it is now (404/5 when it is not the caller's),
 * again whenever the step reports that another writer moved the tree first.
 */
async function onCurrentTree<T>(userId: number, journeyId: number, step: (item: Item) => Promise<T | undefined>): Promise<T | undefined> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const item = await getJourneyItem(userId, journeyId);
    if (!item) throw notFound(5, "Journey not found");
    const done = await step(item);
    if (done !== undefined) return done;
  }
  return undefined;
}

async function checkRefs(userId: number, refs: ActionRef[], found: Map<string, Item>): Promise<void> {
  for (const ref of refs) {
    if (!found.has(keyId(keys.owned(ref.kind, userId, ref.id)))) {
      throw invalidAction(`${ref.path}: ${ref.kind === "customField" ? "custom field" : ref.kind} ${ref.id} not found`);
    }
  }
}

export const actionsUpdate = defineCommand({
  name: "journey.actions.update",
  route: { method: "PATCH", path: "/api/v1/journey.actions" },
  group: "actions",
  scope: "user",
  permission: "Campaign.Create",
  params: z.object({ JourneyID: requiredId(MISSING_ID, INVALID_ID, "ID of the journey"), Actions: actionsArray }),
  async run(p, ctx) {
    const { userId } = userOf(ctx);
    const reply = await onCurrentTree(userId, p.JourneyID, async (item) => {
      const parsed = parseActions(p.Actions, { journeyId: p.JourneyID });
      if (!parsed.ok) throw invalidAction(parsed.message);
      // The current tree and every referenced record come back in one BatchGet.
      const refKeys = parsed.refs.map((r) => keys.owned(r.kind, userId, r.id));
      const { journey, tree, extra } = await readJourneyWithTree(userId, p.JourneyID, item, refKeys);
      const existing = new Set(tree.map((a) => a.ActionID));
      for (const [id, path] of actionIdPaths(parsed.actions)) {
        if (!existing.has(id)) throw invalidAction(`${path}: action ${id} is not an action of this journey`);
      }
      await checkRefs(userId, parsed.refs, extra);

      const fresh = countNew(parsed.actions);
      let next = fresh > 0 ? await nextIds("Action", fresh) : 0;
      const stored = toStored(parsed.actions, () => next++);
      // Cursors in a deleted action continue at its redirect (ENGINE §5.4): the edit's
      // redirects ride in the flip's own write as a job, run before the call answers.
      const redirects = computeRedirects(tree, stored);
      const key = keys.journey(userId, p.JourneyID);
      const nowEpoch = Math.floor(ctx.now.getTime() / 1000);
      const job = redirects.size > 0
        ? jobUpdate(item, key, "Redirects", { UserID: userId, JourneyID: p.JourneyID, Redirects: [...redirects] }, nowEpoch)
        : undefined;
      const outcome = await replaceTree(userId, journey, stored, ctx.now, job && { set: job.set, condition: job.condition, names: job.names, values: job.values });
      if (outcome.ok && job) await runJob(key, job.entry.Id);
      return outcome.ok
        ? { JourneyID: String(journey.JourneyID), JourneyName: journey.JourneyName, Actions: stored.map(actionView) }
        : undefined;
    });
    if (reply) return reply;
    throw new CommandError(6, "Invalid action type or Journey not found: the journey kept changing, try again", "conflict");
  },
});
DOCS: document(actionsUpdate, {
  summary: "Replace a journey's whole action tree (atomic; kept ActionIDs keep their statistics)",
  errors: [...treeErrors(), invalidAction("Invalid action: the message starts with the offending path (Actions[0].EmailID …)")],
});

/** Reads `{actionid, published}` pairs with case-insensitive keys; any malformed entry is "Action not found". */
function publishedChanges(entries: unknown[]): Map<number, boolean> {
  const out = new Map<number, boolean>();
  entries.forEach((entry, i) => {
    const lower = new Map(
      typeof entry === "object" && entry !== null && !Array.isArray(entry)
        ? Object.entries(entry).map(([k, v]) => [k.toLowerCase(), v] as const)
        : [],
    );
    const id = toPositiveInt(lower.get("actionid"));
    if (id === undefined) throw validation(6, `Action not found: Actions[${i}].ActionID`);
    const raw = lower.get("published");
    const text = typeof raw === "string" ? raw.trim().toLowerCase() : raw;
    if (!(typeof raw === "boolean" || [1, 0, "1", "0", "true", "false", "yes", "no", "on", "off"].includes(text as never))) {
      throw validation(6, `Action not found: Actions[${i}].Published must be true or false`);
    }
    out.set(id, toBool(raw));
  });
  return out;
}

export const actionsPublished = defineCommand({
  name: "journey.actions.published",
  route: { method: "PATCH", path: "/api/v1/journey.actions.published" },
  group: "actions",
  scope: "user",
  permission: "Campaign.Create",
  params: z.object({ JourneyID: requiredId(MISSING_ID, INVALID_ID, "ID of the journey"), Actions: actionsArray }),
  async run(p, ctx) {
    const { userId } = userOf(ctx);
    const reply = await onCurrentTree(userId, p.JourneyID, async (item) => {
      const changes = publishedChanges(p.Actions);
      const { journey, tree } = await readJourneyWithTree(userId, p.JourneyID, item);
      const ids = new Set(tree.map((a) => a.ActionID));
      for (const id of changes.keys()) if (!ids.has(id)) throw notFound(6, "Action not found");
      const next: StoredAction[] = tree.map((a) => (changes.has(a.ActionID) ? { ...a, Published: changes.get(a.ActionID)! } : a));
      const outcome = await replaceTree(userId, journey, next, ctx.now);
      if (outcome.ok) {
        return {
          JourneyID: String(journey.JourneyID),
          JourneyName: journey.JourneyName,
          // The reference answers Published as the strings "true" / "false".
          Actions: [...changes].map(([id, published]) => ({ ActionID: String(id), Published: published ? "true" : "false" })),
        };
      }
      if (!(await getJourneyItem(userId, p.JourneyID))) throw notFound(7, "Journey not found after update");
      return undefined;
    });
    if (reply) return reply;
    throw new CommandError(7, "Journey not found after update", "conflict");
  },
});
DOCS: document(actionsPublished, {
  summary: "Set the Published flag of some actions (all or nothing)",
  errors: [
    ...treeErrors(),
    validation(6, "Action not found: Actions[i].ActionID (or Published is not true or false)"),
    notFound(6, "Action not found"),
    notFound(7, "Journey not found after update"),
  ],
});

export const sendEmailActions = defineCommand({
  name: "journey.sendemailactions",
  route: { method: "GET", path: "/api/v1/journey.sendemailactions" },
  group: "actions",
  scope: "user",
  permission: "Campaign.Create",
  params: z.object({
    JourneyID: optionalId([1, "Invalid JourneyID parameter"], "Narrow to one journey; another user's gives Actions: []"),
    IncludeDisabled: flag("Include actions of Disabled journeys"),
    IncludeUnpublished: flag("Include actions whose own Published flag is false"),
  }),
  async run(p, ctx) {
    const { userId } = userOf(ctx);
    // Two reads, whatever the number of journeys and actions: the journeys with
    // their SendEmail index entries (one key range), and the email names.
    const [{ journeys, entries }, emails] = await Promise.all([
      p.JourneyID === undefined
        ? listJourneysWithIndex(userId).then((r) => ({ journeys: r.journeys, entries: r.sendEmails }))
        : getJourneyWithIndex(userId, p.JourneyID).then((r) => ({ journeys: r.item ? [journeyFrom(r.item)] : [], entries: r.sendEmails })),
      emailHeads(userId),
    ]);
    const byId = new Map(journeys.map((j) => [j.JourneyID, j]));
    const rows = entries
      .filter((e) => {
        const j = byId.get(Number(e["JourneyID"]));
        // Only entries of the journey's current tree version are real.
        if (!j || j.Tree.version !== e["TreeVersion"]) return false;
        if (!p.IncludeDisabled && j.Status !== "Enabled") return false;
        return p.IncludeUnpublished || e["Published"] === true;
      })
      .sort((a, b) => Number(a["JourneyID"]) - Number(b["JourneyID"]) || Number(a["Position"]) - Number(b["Position"]));
    return {
      Actions: rows.map((e) => {
        const email = emails.get(Number(e["EmailID"]));
        return {
          ActionID: Number(e["ActionID"]),
          JourneyID: Number(e["JourneyID"]),
          JourneyName: byId.get(Number(e["JourneyID"]))!.JourneyName,
          EmailName: email?.EmailName ?? "",
          Subject: email?.Subject ?? "",
          OrderNo: Number(e["OrderNo"]),
          Published: e["Published"] === true,
        };
      }),
    };
  },
});
DOCS: document(sendEmailActions, {
  summary: "Every SendEmail action of the caller's journeys, for segment pickers (two DynamoDB reads)",
});

export const actionCommands = [actionsUpdate, actionsPublished, sendEmailActions];
