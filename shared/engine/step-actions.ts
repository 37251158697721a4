import { tableName } from "../aws.js";
import { keys } from "../keys.js";
import { countBy, logger, metrics } from "../observability.js";
import { getOwned, type Item } from "../domain/owned.js";
import { nextId } from "../domain/ids.js";
import { sha256Hex } from "../domain/secrets.js";
import type { BranchName } from "../domain/trees/actions.js";
import type { StoredAction } from "../domain/trees/tree-store.js";
import { formatDateTime } from "../time.js";
import { record } from "./cursor.js";
import type { StepRecord } from "./model.js";
import { endCursor, fireFromCursor, type Chain } from "./runner.js";
import { debugDueAt, waitDueAt } from "./window.js";
import { decide } from "./criteria.js";
import { endOthers } from "./fanout.js";
import { admitInChain } from "./enrol.js";
import { getConsistent, updateItem, versionIs } from "./store.js";
import { deliveryStep } from "./intent.js";

/**
 * The actions without delivery (ENGINE §7). Each one records its step and leaves
 * the cursor at its next action, parked in a Wait, or ended; its changes to the
 * subscriber and other items are collected in the chain and written with the
 * cursor in one transaction. A reference ID of 0 is `Skipped NotConfigured`, a
 * referenced record that is gone `Skipped MissingRecord`; the journey goes on.
 */
export interface ActionContext {
  chain: Chain;
  action: StoredAction;
  /** Where a Wait starts: the cursor's DueAt when the step was handed for it, else now (§6). */
  startAt: number;
}

export const MAX_TAGS = 1000;
const MAX_FIELD_VALUE = 10_000;
const MAX_FIELDS_BYTES = 64 * 1024;

const param = (a: StoredAction, name: string): unknown => a.ActionParameters[name];
const idParam = (a: StoredAction, name: string): number => {
  const n = Number(param(a, name) ?? 0);
  return Number.isInteger(n) && n > 0 ? n : 0;
};

/** Records the step and moves past the action (to `branch`'s first action for a Decision or YesNo). */
export function passed(ctx: ActionContext, outcome: StepRecord["Outcome"], reason = "", detail: Record<string, unknown> = {}, branch?: BranchName): void {
  const { chain, action } = ctx;
  const c = chain.c;
  c.Steps.push(record(chain.now, action.ActionID, action.Action, outcome, reason, detail));
  c.Passed += 1;
  c.ActionID = chain.loaded.tree.next(action.ActionID, branch);
  c.Started = false;
  stepDone(ctx, outcome, reason);
}

/** The step's log line and metrics (ENGINE §5.5, §10): StepsExecuted by Action and Outcome, and StepLateness. */
export function stepDone(ctx: ActionContext, outcome: StepRecord["Outcome"], reason: string): void {
  const { chain, action } = ctx;
  logger().info("step", { entryId: chain.c.EntryID, actionId: action.ActionID, action: action.Action, outcome, reason });
  countBy({ Action: action.Action, Outcome: outcome }, "StepsExecuted", "Count", 1);
  // How late the action started against the time it was due (the chain's DueAt when handed for it).
  metrics().addMetric("StepLateness", "Milliseconds", Math.max(0, chain.now - ctx.startAt) * 1000);
}

/** Parks the cursor in a started Wait (or Debug sleep) until `due`. */
function waitUntil(ctx: ActionContext, due: number, detail: Record<string, unknown>): void {
  const { chain, action } = ctx;
  const c = chain.c;
  c.Steps.push(record(chain.now, action.ActionID, action.Action, "Waiting", "", detail));
  c.Started = true;
  c.DueAt = due;
  chain.stop = true;
  stepDone(ctx, "Waiting", "");
}

/** The subscriber as the chain sees it, with this step's pending changes. */
export const sub = (chain: Chain): Item => ({ ...chain.subscriber, ...chain.subscriberSet });

function setSub(chain: Chain, attrs: Record<string, unknown>): void {
  Object.assign(chain.subscriberSet, attrs);
  for (const k of Object.keys(attrs)) chain.subscriberRemove.delete(k);
}

const fieldsBytes = (fields: Record<string, string>): number =>
  Object.entries(fields).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);

/**
 * The subscriber with the same address on another list, through the address guard (§7).
 * `guarded`: the guard exists, even where no engine subscriber item does (a subscriber
 * made before subscriber.create wrote one): the address is taken on that list.
 */
async function sameAddressOn(chain: Chain, listId: number): Promise<{ item?: Item; guarded: boolean }> {
  const email = String(chain.subscriber["EmailAddress"] ?? "").toLowerCase();
  const guard = await getConsistent(keys.subscriberAddress(chain.c.UserID, listId, sha256Hex(email)));
  if (!guard) return { guarded: false };
  return { item: await getConsistent(keys.subscriber(chain.c.UserID, Number(guard["SubscriberID"]))), guarded: true };
}

export async function runAction(ctx: ActionContext): Promise<void> {
  const { chain, action } = ctx;
  const c = chain.c;
  const userId = c.UserID;
  switch (action.Action) {
    case "Wait": {
      const { dueAt, heldByWindow } = waitDueAt(ctx.startAt, action.ActionParameters);
      return waitUntil(ctx, dueAt, { Until: formatDateTime(new Date(dueAt * 1000)), HeldByWindow: heldByWindow });
    }
    case "Debug": {
      const message = String(param(action, "DebugMessage") ?? "");
      logger().info("journey debug", { entryId: c.EntryID, actionId: action.ActionID, debugMessage: message });
      const due = debugDueAt(chain.now, action.ActionParameters);
      if (due !== undefined) return waitUntil(ctx, due, { Until: formatDateTime(new Date(due * 1000)) });
      return passed(ctx, "Done", "", { DebugMessage: message });
    }
    case "SendEmail":
    case "SendSMS":
    case "Webhook":
      // Registered by the runner's handler (intent.ts says why).
      return deliveryStep(action.Action)(ctx);
    case "UpdateCustomFieldValue": {
      const fieldId = idParam(action, "TargetCustomFieldID");
      if (!fieldId) return passed(ctx, "Skipped", "NotConfigured");
      const field = await getOwned("customField", userId, fieldId);
      if (!field) return passed(ctx, "Skipped", "MissingRecord");
      const s = sub(chain);
      if (Number(field["ListID"]) !== Number(s["ListID"])) return passed(ctx, "Skipped", "NotOnList");
      const value = String(param(action, "NewCustomFieldValue") ?? "");
      const fields = { ...((s["CustomFields"] as Record<string, string> | undefined) ?? {}) };
      const before = fields[String(fieldId)] ?? "";
      if (value === "") delete fields[String(fieldId)];
      else fields[String(fieldId)] = value;
      if (value.length > MAX_FIELD_VALUE || fieldsBytes(fields) > MAX_FIELDS_BYTES) return passed(ctx, "Skipped", "TooLarge");
      const changed = before !== value;
      if (changed) {
        setSub(chain, { CustomFields: fields });
        fireFromCursor(chain, "CustomFieldValueChanged", fieldId);
      }
      return passed(ctx, "Done", "", { Changed: changed });
    }
    case "AddTag":
    case "RemoveTag": {
      const tagId = idParam(action, "TargetTagID");
      if (!tagId) return passed(ctx, "Skipped", "NotConfigured");
      const tag = await getOwned("tag", userId, tagId);
      if (!tag) return passed(ctx, "Skipped", "MissingRecord");
      const s = sub(chain);
      if (Number(tag["ListID"]) !== Number(s["ListID"])) return passed(ctx, "Skipped", "NotOnList");
      const tags = ((s["Tags"] as number[] | undefined) ?? []).map(Number);
      const has = tags.includes(tagId);
      if (action.Action === "AddTag") {
        if (has) return passed(ctx, "Done", "", { Changed: false });
        if (tags.length >= MAX_TAGS) return passed(ctx, "Skipped", "TooManyTags");
        setSub(chain, { Tags: [...tags, tagId].sort((a, b) => a - b) });
        fireFromCursor(chain, "Tag", tagId);
        return passed(ctx, "Done", "", { Changed: true });
      }
      if (!has) return passed(ctx, "Done", "", { Changed: false });
      setSub(chain, { Tags: tags.filter((t) => t !== tagId) });
      fireFromCursor(chain, "UnTag", tagId);
      return passed(ctx, "Done", "", { Changed: true });
    }
    case "Unsubscribe": {
      const listId = idParam(action, "TargetListID");
      if (!listId) return passed(ctx, "Skipped", "NotConfigured");
      if (!(await getOwned("list", userId, listId))) return passed(ctx, "Skipped", "MissingRecord");
      const own = Number(sub(chain)["ListID"]) === listId;
      const target = own ? sub(chain) : (await sameAddressOn(chain, listId)).item;
      if (!target) return passed(ctx, "Skipped", "NotOnList");
      if (target["SubscriptionStatus"] === "Unsubscribed") return passed(ctx, "Done", "", { Changed: false });
      const changes: Record<string, unknown> = {
        SubscriptionStatus: "Unsubscribed",
        UnsubscriptionDate: formatDateTime(new Date(chain.now * 1000)),
        ...(target["SuppressedBy"] ? {} : { SuppressedBy: "Unsubscribed" }),
      };
      const targetId = Number(target["SubscriberID"]);
      if (own) setSub(chain, changes);
      else {
        const key = keys.subscriber(userId, targetId);
        const v = target["Version"];
        chain.extra.set(key, updateItem(key, { ...changes, Version: typeof v === "number" ? v + 1 : 1 }, [], versionIs(v)));
      }
      fireFromCursor(chain, "ListUnsubscription", listId, targetId);
      return passed(ctx, "Done", "", { Changed: true });
    }
    case "Subscribe": {
      const listId = idParam(action, "TargetListID");
      if (!listId) return passed(ctx, "Skipped", "NotConfigured");
      if (!(await getOwned("list", userId, listId))) return passed(ctx, "Skipped", "MissingRecord");
      const s = sub(chain);
      const there = Number(s["ListID"]) === listId ? { item: s, guarded: true } : await sameAddressOn(chain, listId);
      // A guard without a subscriber item still holds the address: creating another would fail
      // its condition on every retry, so it counts as subscribed there.
      if (there.guarded && !there.item) return passed(ctx, "Done", "", { Existing: true });
      const existing = there.item;
      if (existing) {
        if (existing["SubscriptionStatus"] === "Unsubscribed") return passed(ctx, "Skipped", "PreviouslyUnsubscribed");
        return passed(ctx, "Done", "", { Existing: true });
      }
      const email = String(s["EmailAddress"]);
      const newId = await nextId("Subscriber");
      const guard = keys.subscriberAddress(userId, listId, sha256Hex(email.toLowerCase()));
      const subKey = keys.subscriber(userId, newId);
      const created = newSubscriberItem(userId, newId, listId, email, chain.now);
      chain.extra.set(guard, { Put: { TableName: tableName(), Item: { ...guard, SubscriberID: newId }, ConditionExpression: "attribute_not_exists(PK)" } });
      chain.extra.set(subKey, { Put: { TableName: tableName(), Item: { ...subKey, ...created }, ConditionExpression: "attribute_not_exists(PK)" } });
      fireFromCursor(chain, "ListSubscription", listId, newId);
      return passed(ctx, "Done", "", { Existing: false, SubscriberID: newId });
    }
    case "YesNo":
    case "Decision": {
      const outcome = await decide(chain, action);
      const branch: BranchName = action.Action === "YesNo" ? (outcome.result ? "Yes" : "No") : outcome.result ? "True" : "False";
      return passed(ctx, "Done", "", { Branch: branch, ...outcome.detail }, branch);
    }
    case "ExitThisJourney":
      c.Steps.push(record(chain.now, action.ActionID, action.Action, "Done"));
      c.Passed += 1;
      return endCursor(chain, "Exited", "ExitThisJourney");
    case "ExitJourney": {
      const raw = param(action, "TargetJourneyID");
      const targets = [...new Set((Array.isArray(raw) ? raw : [raw]).map(Number).filter((n) => Number.isInteger(n) && n > 0))];
      // Entries of 0 are ignored; with nothing else named, the step is not configured (§7).
      if (targets.length === 0) return passed(ctx, "Skipped", "NotConfigured");
      // One journey named, and it is gone: the referenced record is missing (§7). In the
      // array form a gone journey simply has no enrolment left to end.
      if (!Array.isArray(raw) && !(await getOwned("journey", userId, targets[0]!))) return passed(ctx, "Skipped", "MissingRecord");
      const others = targets.filter((j) => j !== c.JourneyID);
      const exited = await endOthers(chain, (cur) => others.includes(cur.JourneyID), "ExitJourney");
      const self = targets.includes(c.JourneyID);
      c.Steps.push(record(chain.now, action.ActionID, action.Action, "Done", "", { Exited: self ? [...exited, c.JourneyID] : exited }));
      c.Passed += 1;
      if (self) return endCursor(chain, "Exited", "ExitJourney");
      c.ActionID = chain.loaded.tree.next(action.ActionID);
      return;
    }
    case "ExitAllOtherJourneys":
    case "ExitAllJourneys": {
      const reason = action.Action;
      const exited = await endOthers(chain, () => true, reason);
      c.Steps.push(record(chain.now, action.ActionID, action.Action, "Done", "", { Exited: exited }));
      c.Passed += 1;
      if (action.Action === "ExitAllJourneys") return endCursor(chain, "Exited", reason);
      c.ActionID = chain.loaded.tree.next(action.ActionID);
      return;
    }
    case "DeleteSubscriber": {
      await endOthers(chain, () => true, "SubscriberDeleted");
      const s = sub(chain);
      const subKey = keys.subscriber(userId, c.SubscriberID);
      const guard = keys.subscriberAddress(userId, Number(s["ListID"]), sha256Hex(String(s["EmailAddress"]).toLowerCase()));
      chain.subscriberSet = {};
      chain.subscriberRemove = new Set();
      chain.extra.set(subKey, { Delete: { TableName: tableName(), Key: subKey, ...conditionOf(versionIs(chain.subscriber["Version"])) } });
      chain.extra.set(guard, { Delete: { TableName: tableName(), Key: guard } });
      c.Steps.push(record(chain.now, action.ActionID, action.Action, "Done"));
      c.Passed += 1;
      return endCursor(chain, "Exited", "SubscriberDeleted");
    }
    case "StartJourney": {
      const target = idParam(action, "TargetJourneyID");
      if (!target) return passed(ctx, "Skipped", "NotConfigured");
      const result = await admitInChain(chain, target);
      if (result.status === "Enrolled") return passed(ctx, "Done", "", { EntryID: result.entryId });
      if (result.status === "Deferred") return passed(ctx, "Done", "", { Deferred: true });
      // A target journey that is gone is a referenced record gone (§7), not one of StartJourney's own Reasons.
      return passed(ctx, "Skipped", result.reason === "JourneyNotFound" ? "MissingRecord" : result.reason);
    }
  }
}

function conditionOf(cond: { expression: string; names: Record<string, string>; values?: Record<string, unknown> }) {
  return {
    ConditionExpression: cond.expression,
    ExpressionAttributeNames: cond.names,
    ...(cond.values ? { ExpressionAttributeValues: cond.values } : {}),
  };
}

/** A new subscriber's item (ENGINE §3.1), as the Subscribe action creates it. */
export function newSubscriberItem(userId: number, subscriberId: number, listId: number, email: string, at: number): Item {
  return {
    UserID: userId,
    SubscriberID: subscriberId,
    ListID: listId,
    EmailAddress: email,
    SubscriptionStatus: "Subscribed",
    SubscriptionDate: formatDateTime(new Date(at * 1000)),
    BounceType: "Not Bounced",
    CustomFields: {},
    Tags: [],
    Revenue: 0,
    RevenueHits: [],
    Version: 1,
  };
}

