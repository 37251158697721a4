import * as z from "zod/mini";
import { document } from "../command-docs.js";
import { defineCommand, userOf } from "../command.js";
import { CommandError, notFound } from "../errors.js";
import { actionView, renumber } from "../domain/trees/action-tree.js";
import { discardStagedBodies, stageEmailCopies } from "../domain/emails.js";
import { nextId, nextIds } from "../domain/ids.js";
import { createJourneyWithTree, readJourneyWithTree } from "../domain/journeys/journey-tree.js";
import { getJourneyItem, getJourneys, journeyView, type Journey } from "../domain/journeys/journeys.js";
import { batchPut, type Item } from "../domain/owned.js";
import { getUser } from "../domain/users/users.js";
import type { StoredAction } from "../domain/trees/tree-store.js";
import { formatDateTime } from "../time.js";
import { field, fail, isAbsent, requiredId, toText } from "../params.js";
import { bulkJourneyIds, NAME_MAX } from "./journey-fields.js";

/** journey.clone, journeys.clone and journey.copytouser (CONTRACT §8 "Clones"). */

const cut = (name: string) => name.slice(0, NAME_MAX);

/**
 * Builds the copy of a journey: new JourneyID, a tree with new ActionIDs and the
 * same parent/branch/order structure, Disabled, no statistics (rollups are keyed
 * by the new IDs, so none exist).
 */
async function copyOf(source: Journey, tree: StoredAction[], changes: Partial<Journey>, now: Date) {
  const journeyId = await nextId("Journey");
  const first = tree.length > 0 ? await nextIds("Action", tree.length) : 0;
  const at = formatDateTime(now);
  const journey: Journey = { ...source, ...changes, JourneyID: journeyId, Status: "Disabled", CreatedAt: at, UpdatedAt: at };
  return { journey, tree: renumber(tree, first) };
}

const NEW_NAME = [
  [1, "Missing NewJourneyName parameter"],
  [1, `Invalid NewJourneyName parameter (at most ${NAME_MAX} characters)`],
] as const;
const cloneFailed = () => new CommandError(4, "Journey not cloned successfully", "failure");

export const journeyClone = defineCommand({
  name: "journey.clone",
  route: { method: "POST", path: "/api/v1/journey.clone" },
  group: "journeys",
  scope: "user",
  permission: "Campaign.Create",
  params: z.object({
    JourneyID: requiredId([2, "Missing JourneyID parameter"], [2, "Invalid JourneyID parameter"], "Journey to clone"),
    NewJourneyName: field({ type: "string", required: true, description: `Name of the clone (1 to ${NAME_MAX} characters)`, codes: NEW_NAME }, (v, ctx) => {
      const text = isAbsent(v) ? undefined : toText(v)?.trim();
      if (!text) return fail(ctx, v, NEW_NAME[0]);
      return text.length <= NAME_MAX ? text : fail(ctx, v, NEW_NAME[1]);
    }),
  }),
  async run(p, ctx) {
    const { userId } = userOf(ctx);
    const item = await getJourneyItem(userId, p.JourneyID);
    if (!item) throw notFound(3, "Journey not found");
    const source = await readJourneyWithTree(userId, p.JourneyID, item);
    const copy = await copyOf(
      source.journey,
      source.tree,
      { JourneyName: p.NewJourneyName, Notes: `Copy of journey ${source.journey.JourneyName}` },
      ctx.now,
    );
    if (!(await createJourneyWithTree(userId, copy.journey, copy.tree))) throw cloneFailed();
    return { Journey: journeyView(copy.journey), Actions: copy.tree.map(actionView) };
  },
});
DOCS: document(journeyClone, {
  summary: "Clone a journey with its whole action tree (starts Disabled, no statistics)",
  errors: [notFound(3, "Journey not found"), cloneFailed()],
});

export const journeysClone = defineCommand({
  name: "journeys.clone",
  route: { method: "POST", path: "/api/v1/journeys.clone" },
  group: "journeys",
  scope: "user",
  permission: "Campaign.Create",
  params: z.object({
    JourneyIDs: bulkJourneyIds("Comma-separated JourneyIDs to clone"),
    NameSuffix: field({ type: "string", description: 'Appended with a leading space (default "(copy)")' }, (v) => {
      const text = isAbsent(v) ? undefined : toText(v);
      return text === undefined ? "(copy)" : text.slice(0, NAME_MAX);
    }),
  }),
  async run(p, ctx) {
    const { userId } = userOf(ctx);
    const owned = await getJourneys(userId, p.JourneyIDs);
    const processed: number[] = [];
    const cloned: { SourceJourneyID: number; NewJourneyID: number }[] = [];
    for (const id of p.JourneyIDs) {
      const item = owned.get(id);
      if (!item) continue;
      // Read each tree just before copying it, so a clone is never of a stale tree.
      const fresh = await getJourneyItem(userId, id);
      if (!fresh) continue;
      const source = await readJourneyWithTree(userId, id, fresh);
      const copy = await copyOf(source.journey, source.tree, { JourneyName: cut(`${source.journey.JourneyName} ${p.NameSuffix}`) }, ctx.now);
      if (await createJourneyWithTree(userId, copy.journey, copy.tree)) {
        processed.push(id);
        cloned.push({ SourceJourneyID: id, NewJourneyID: copy.journey.JourneyID });
      }
    }
    return {
      ProcessedJourneyIDs: processed,
      FailedJourneyIDs: p.JourneyIDs.filter((id) => !processed.includes(id)),
      ClonedJourneys: cloned,
    };
  },
});
DOCS: document(journeysClone, {
  summary: "Clone several journeys; per-ID outcomes, partial success",
});

/** Fields holding another user's records, reset to 0 when a journey changes hands (CONTRACT §8). */
const USER_SPECIFIC = ["TargetListID", "TargetTagID", "TargetCustomFieldID", "TargetJourneyID", "SenderDomainID", "gateway_id"];

/** Rewrites a tree for another user: emails to their copies, user-specific IDs to 0. */
function rehome(tree: StoredAction[], emailMap: Map<number, number>): { tree: StoredAction[]; reset: string[] } {
  const reset: string[] = [];
  const note = (name: string) => {
    if (!reset.includes(name)) reset.push(name);
  };
  const out = tree.map((a) => {
    const params = { ...a.ActionParameters };
    for (const name of USER_SPECIFIC) {
      const value = params[name];
      if (value === undefined) continue;
      const set = Array.isArray(value) ? value.length > 0 : Number(value) !== 0;
      if (set) note(name);
      params[name] = 0;
    }
    if (a.Action === "SendEmail") {
      const emailId = Number(params["EmailID"] ?? 0);
      if (emailId !== 0) {
        const copied = emailMap.get(emailId);
        // An email deleted from the source account cannot be copied; the step is left unconfigured.
        if (copied === undefined) note("EmailID");
        params["EmailID"] = copied ?? 0;
      }
    }
    return { ...a, ActionParameters: params };
  });
  return { tree: out, reset };
}

/** A transaction holds at most 100 items: the journey plus up to 99 copied emails. */
const EMAILS_IN_TRANSACTION = 99;

export const journeyCopyToUser = defineCommand({
  name: "journey.copytouser",
  route: { method: "POST", path: "/api/v1/journey.copytouser" },
  group: "admin",
  scope: "admin",
  params: z.object({
    JourneyID: requiredId([1, "Missing JourneyID parameter"], [4, "Invalid JourneyID (non-numeric)"], "Source journey"),
    SourceUserID: requiredId([2, "Missing SourceUserID parameter"], [5, "Invalid SourceUserID (non-numeric)"], "Owner of the source journey"),
    TargetUserID: requiredId([3, "Missing TargetUserID parameter"], [6, "Invalid TargetUserID (non-numeric)"], "User to copy to"),
    NewJourneyName: field({ type: "string", description: 'Defaults to "Copy of {original name}"' }, (v) => {
      const text = isAbsent(v) ? undefined : toText(v)?.trim();
      return text ? cut(text) : undefined;
    }),
  }),
  async run(p, ctx) {
    const [sourceUser, targetUser] = await Promise.all([getUser(p.SourceUserID), getUser(p.TargetUserID)]);
    if (!sourceUser) throw notFound(7, "Source user not found");
    if (!targetUser) throw notFound(8, "Target user not found");
    const item = await getJourneyItem(p.SourceUserID, p.JourneyID);
    if (!item) throw notFound(9, "Journey not found for source user");
    const source = await readJourneyWithTree(p.SourceUserID, p.JourneyID, item);

    const emailIds = [
      ...new Set(source.tree.filter((a) => a.Action === "SendEmail").map((a) => Number(a.ActionParameters["EmailID"] ?? 0))),
    ].filter((id) => id > 0);
    const staged = await stageEmailCopies(p.SourceUserID, p.TargetUserID, emailIds);
    const { tree, reset } = rehome(source.tree, staged.mapping);
    const copy = await copyOf(
      source.journey,
      tree,
      {
        JourneyName: p.NewJourneyName ?? cut(`Copy of ${source.journey.JourneyName}`),
        Trigger: "Manual",
        TriggerParameters: {},
      },
      ctx.now,
    );
    // Copied emails become visible in the same transaction as the journey; past
    // the transaction limit the rest are written just before it.
    const inTransaction: Item[] = staged.heads.slice(0, EMAILS_IN_TRANSACTION);
    await batchPut(staged.heads.slice(EMAILS_IN_TRANSACTION));
    if (!(await createJourneyWithTree(p.TargetUserID, copy.journey, copy.tree, inTransaction))) {
      await discardStagedBodies(p.TargetUserID, staged.mapping);
      throw new CommandError(10, "Failed to create journey", "failure");
    }
    return {
      JourneyID: copy.journey.JourneyID,
      EmailsCopied: [...staged.mapping].map(([SourceEmailID, NewEmailID]) => ({ SourceEmailID, NewEmailID })),
      ResourcesReset: reset,
    };
  },
});
DOCS: document(journeyCopyToUser, {
  summary: "Copy a journey to another user, copying its emails and resetting user-specific IDs (admin)",
  errors: [
    notFound(7, "Source user not found"),
    notFound(8, "Target user not found"),
    notFound(9, "Journey not found for source user"),
    new CommandError(10, "Failed to create journey", "failure"),
  ],
});

export const cloneCommands = [journeyClone, journeysClone];
