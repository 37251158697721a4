import { randomUUID } from "node:crypto";
import { tableName } from "../aws.js";
import { isAwsError } from "../errors.js";
import { keys, type Key } from "../keys.js";
import type { Item } from "../domain/owned.js";
import { formatDateTime } from "../time.js";
import { productEpoch } from "../clock.js";
import { clearDelivered, deliverOutbox, sendOutboxEntries, sendToSteps } from "./outbox.js";
import { InjectedFault, takeFault } from "./faults.js";
import type { Cursor, OutboxEntry, Signal, StepMessage } from "./model.js";
import { addEntry, cursorKey, cursorOf, cursorWrite, record, sendsOwnMessage } from "./cursor.js";
import { cancellationCodes, getConsistent, loadJourney, Tx, updateItem, versionIs, type LoadedJourney } from "./store.js";
import { runAction, type ActionContext } from "./step-actions.js";
import { runCriteriaHold } from "./criteria.js";
import { recoverIntent, runExternal, type External } from "./intent.js";

/**
 * The step runner (ENGINE §5.2): a Step message names a cursor and the Version it
 * expects. The cursor is read consistently; a copy of the message, or one that
 * another worker has overtaken, finds another Version and is acknowledged. Then
 * actions run back to back in memory, each applied with one transaction whose
 * cursor update is conditioned on the Version read, so every step is applied once
 * however many copies of the message arrive.
 */

/** Chaining bounds (§5.2): hand off after this many actions or this long. */
const CHAIN_ACTIONS = 25;
const CHAIN_MS = 20_000;
/** A moved subscriber or membership is re-read and the step decided again this often, then left to redelivery. */
const STEP_RETRIES = 3;

const REDIRECT_PENDING = -1;

/** What a chain holds in memory between its writes. */
export interface Chain {
  c: Cursor;
  loaded: LoadedJourney;
  subscriber: Item;
  /** Subscriber attributes changed since the last write (merged into one update per write). */
  subscriberSet: Record<string, unknown>;
  subscriberRemove: Set<string>;
  /** Other items this step writes (other subscribers, memberships, other cursors, a new cursor). */
  extra: Tx;
  /** Outbox entries already delivered, dropped by the next cursor write. */
  delivered: Set<string>;
  /** Set by actions that end or park the cursor or leave the chain. */
  stop: boolean;
  now: number;
  /** A delivery call to make once this step's intent write commits (§8.2). */
  external?: External;
}

/** A chain about to run cursor `c`, with nothing pending. */
export function newChain(c: Cursor, loaded: LoadedJourney, subscriber: Item, now: number): Chain {
  return { c, loaded, subscriber, subscriberSet: {}, subscriberRemove: new Set(), extra: new Tx(), delivered: new Set(), stop: false, now };
}

export const engineEvent = (c: Cursor, type: "Enrolled" | "Completed" | "Exited", at: number, suffix = "") => ({
  EventID: `eng:${c.EntryID}:${type}${suffix}`,
  Type: type,
  JourneyID: c.JourneyID,
  SubscriberID: c.SubscriberID,
  EmailAddress: c.EmailAddress,
  OccurredAt: formatDateTime(new Date(at * 1000)),
});

/** A signal fired by this enrolment's step (Depth + 1), kept in the cursor's outbox until it is on the queue. */
export function fireFromCursor(chain: Chain, trigger: Signal["Trigger"], value: Signal["Value"], subscriberId = chain.c.SubscriberID): void {
  const c = chain.c;
  const signal: Signal = {
    Kind: "Signal",
    UserID: c.UserID,
    SubscriberID: subscriberId,
    Trigger: trigger,
    Value: value,
    SignalID: randomUUID(),
    Depth: c.Depth + 1,
    At: chain.now,
    Source: cursorKey(c),
  };
  addEntry(c, { Id: signal.SignalID, At: chain.now, Kind: "Signal", Signal: signal });
}

/**
 * Ends the cursor in memory (§5.5): its end travels as one message
 * `[Enrolled, extras, Completed | Exited]`, so it never counts before its Enrolled;
 * the membership is released in the same write. JourneyDeleted ends emit nothing
 * (the journey's statistics are gone, §13.4).
 */
export function endCursor(chain: Chain, endedBy: "Completed" | "Exited", reason: string): void {
  const c = chain.c;
  c.State = endedBy;
  c.EndedBy = endedBy;
  c.EndReason = reason;
  c.EndedAt = chain.now;
  c.ActionID = 0;
  c.Started = false;
  if (reason !== "JourneyDeleted") {
    const events = [
      engineEvent(c, "Enrolled", c.EnrolledAt),
      ...c.Extra.map((s) => engineEvent(c, "Enrolled", c.EnrolledAt, `:${s}`)),
      engineEvent(c, endedBy, chain.now),
    ];
    addEntry(c, { Id: `end-${c.EntryID}`, At: chain.now, Kind: "Events", UserID: c.UserID, Events: events });
  }
  if (endedBy === "Completed") fireFromCursor(chain, "JourneyCompleted", c.JourneyID);
  const membership = keys.membership(c.UserID, c.SubscriberID, c.JourneyID);
  chain.extra.set(
    membership,
    updateItem(membership, endedBy === "Completed" ? { CompletedEver: true } : {}, ["ActiveEntryID"], {
      expression: "#ae = :e",
      names: { "#ae": "ActiveEntryID" },
      values: { ":e": c.EntryID },
    }),
  );
  chain.stop = true;
}

/** The write of one step: the cursor, the subscriber if changed, and the step's other items, in one transaction. */
async function flush(chain: Chain, queued: boolean): Promise<"ok" | "overtaken" | "retry"> {
  const c = chain.c;
  const read = c.Version;
  const tx = new Tx();
  tx.set(cursorKey(c), cursorWrite(c, read, chain.now, { queued, cleared: chain.delivered }));
  const subKey = keys.subscriber(c.UserID, c.SubscriberID);
  const subChanged = Object.keys(chain.subscriberSet).length > 0 || chain.subscriberRemove.size > 0;
  const subVersion = chain.subscriber["Version"];
  if (subChanged) {
    const next = typeof subVersion === "number" ? subVersion + 1 : 1;
    tx.set(subKey, updateItem(subKey, { ...chain.subscriberSet, Version: next }, [...chain.subscriberRemove], versionIs(subVersion)));
  }
  tx.absorb(chain.extra);
  try {
    await tx.commit();
  } catch (err) {
    c.Version = read;
    if (!isAwsError(err, "TransactionCanceledException")) throw err;
    const codes = cancellationCodes(err);
    if (codes[0] === "ConditionalCheckFailed") return "overtaken";
    return "retry";
  }
  chain.delivered.clear();
  if (subChanged) {
    Object.assign(chain.subscriber, chain.subscriberSet, { Version: typeof subVersion === "number" ? subVersion + 1 : 1 });
    for (const name of chain.subscriberRemove) delete chain.subscriber[name];
  }
  chain.subscriberSet = {};
  chain.subscriberRemove = new Set();
  chain.extra = new Tx();
  if (takeFault("after-write")) throw new InjectedFault("after-write");
  await deliverNew(chain);
  return "ok";
}

/** Sends the outbox entries this write recorded; the next write (or a clearing write) drops them. */
async function deliverNew(chain: Chain): Promise<void> {
  const entries = Object.values(chain.c.Outbox ?? {}).filter((e) => !chain.delivered.has(e.Id));
  if (entries.length === 0) return;
  await sendEntries(cursorKey(chain.c), entries);
  for (const e of entries) if (e.Kind !== "Job") chain.delivered.add(e.Id);
}

async function sendEntries(key: Key, entries: OutboxEntry[]): Promise<void> {
  // Only the send half of delivery: the clear rides on the cursor's next write.
  await sendOutboxEntries(key, entries);
}

/** Re-reads what a failed step relied on besides its own cursor: the subscriber and the journey. */
async function reload(chain: Chain): Promise<boolean> {
  const sub = await getConsistent(keys.subscriber(chain.c.UserID, chain.c.SubscriberID));
  const loaded = await loadJourney(chain.c.UserID, chain.c.JourneyID);
  if (!sub || !loaded) return false;
  chain.subscriber = sub;
  chain.loaded = loaded;
  chain.subscriberSet = {};
  chain.subscriberRemove = new Set();
  chain.extra = new Tx();
  return true;
}

/**
 * Parks a cursor of a Disabled journey (§5.4): out of the due index, DueAt kept,
 * until enable resumes it; in one transaction with a check that the journey is
 * still Disabled, so a park racing an enable fails, and the step goes on.
 */
function park(chain: Chain): void {
  chain.c.State = "Paused";
  chain.stop = true;
  const key = keys.journey(chain.c.UserID, chain.c.JourneyID);
  chain.extra.set(key, {
    ConditionCheck: {
      TableName: tableName(),
      Key: key,
      ConditionExpression: "#s = :disabled",
      ExpressionAttributeNames: { "#s": "Status" },
      ExpressionAttributeValues: { ":disabled": "Disabled" },
    },
  });
}

/**
 * Runs a cursor's chain from its current action, writing each step, until it
 * waits, ends, parks or hands off. `handedForAction`: the step message was for the
 * cursor's current action (a Wait then starts from the cursor's DueAt, §6).
 */
export async function runChain(chain: Chain, handedForAction: boolean): Promise<void> {
  const started = Date.now();
  let actions = 0;
  let fromDue = handedForAction;
  let retries = 0;
  for (;;) {
    const c = chain.c;
    const snapshot = structuredClone(c);
    // Set when a delivery's answer re-parked the cursor on its action: that only needs writing.
    const stopped = chain.stop;
    const { journey, tree } = chain.loaded;
    chain.now = Math.max(chain.now, productEpoch());
    if (stopped) {
      // Nothing to run: the write below records the re-park.
    } else if (actions > 0 && (actions >= CHAIN_ACTIONS || Date.now() - started >= CHAIN_MS)) {
      // A delivery's answer is still only in memory: write it with the handoff rather than run on.
      await handOff(chain);
      break;
    } else if (journey.Status !== "Enabled") {
      // Disabled (or enrolled with BypassJourneyStatusCheck into a Disabled journey, §4.3): park until enabled.
      park(chain);
    } else {
      if (c.Started) {
        // The parked Wait (or Debug sleep) is over: it counts as passed, and the chain goes on. A Wait
        // deleted meanwhile continues at its redirect, below.
        c.Passed += 1;
        if (tree.get(c.ActionID)) c.ActionID = tree.next(c.ActionID);
        c.Started = false;
        fromDue = false;
      }
      const actionId = await resolveAction(chain, c.ActionID);
      if (actionId === REDIRECT_PENDING) {
        // The edit that deleted the action has not copied its redirect yet: look again in 60 s (§5.4).
        await sendToSteps(stepMessage(c), 60);
        return;
      }
      if (actionId === 0) {
        endCursor(chain, "Completed", "Completed");
      } else {
        c.ActionID = actionId;
        const action = tree.get(actionId)!;
        const hold = await runCriteriaHold(chain, journey);
        if (!hold.result) {
          // The action did not run: recorded as skipped, never as Done (the end row carries EndReason RunCriteria).
          c.Steps.push(record(chain.now, actionId, action.Action, "Skipped", "RunCriteria", hold.detail));
          endCursor(chain, "Exited", "RunCriteria");
        } else {
          const ctx: ActionContext = { chain, action, startAt: fromDue ? c.DueAt : chain.now };
          await runAction(ctx);
        }
      }
    }
    actions += 1;
    const external = chain.external;
    chain.external = undefined;
    // A pending call is made before any handoff: its intent is about to be written.
    const handoff = !chain.stop && !external && (actions >= CHAIN_ACTIONS || Date.now() - started >= CHAIN_MS);
    if (!chain.stop) c.DueAt = chain.now;
    // Parked in a Wait, or back on a delivery action until a later time (a throttled re-park, an SMS window).
    const waiting = c.State === "Active" && (c.Started || c.DueAt > chain.now);
    const queued = c.State === "Active" && (!waiting || sendsOwnMessage(c.DueAt, chain.now));
    const outcome = await flush(chain, queued);
    if (outcome === "overtaken") return;
    if (outcome === "retry") {
      // Another writer moved the subscriber, a membership or another cursor: read again, decide again.
      if (++retries > STEP_RETRIES || !(await reload(chain))) throw new Error("step transaction kept failing; left to redelivery");
      chain.c = snapshot;
      chain.stop = stopped;
      actions -= 1;
      continue;
    }
    if (external) {
      // The intent is written: make the one call. Its answer is in memory now, written with the next step.
      await runExternal(external);
      fromDue = false;
      continue;
    }
    if (c.State !== "Active") break;
    if (waiting) {
      if (sendsOwnMessage(c.DueAt, chain.now)) await sendToSteps(stepMessage(c), Math.max(0, c.DueAt - chain.now));
      break;
    }
    if (handoff) {
      await sendToSteps(stepMessage(c), 0);
      break;
    }
    fromDue = false;
  }
  if (chain.delivered.size > 0) {
    await clearDelivered(cursorKey(chain.c), { ...cursorItem(chain.c) }, chain.delivered, chain.now);
    chain.delivered.clear();
  }
}

/** Writes the chain's state due now and sends the cursor's next Step message (§5.2's handoff). */
async function handOff(chain: Chain): Promise<void> {
  chain.c.DueAt = chain.now;
  if ((await flush(chain, true)) !== "ok") return;
  await sendToSteps(stepMessage(chain.c), 0);
  if (chain.delivered.size > 0) {
    await clearDelivered(cursorKey(chain.c), { ...cursorItem(chain.c) }, chain.delivered, chain.now);
    chain.delivered.clear();
  }
}

/** The attributes clearDelivered needs to recompute the cursor's due time. */
function cursorItem(c: Cursor): Item {
  return { ...c, Outbox: c.Outbox ?? {}, Queued: true };
}

export const stepMessage = (c: Cursor): StepMessage => ({
  Kind: "Step",
  UserID: c.UserID,
  SubscriberID: c.SubscriberID,
  JourneyID: c.JourneyID,
  EntryID: c.EntryID,
  Version: c.Version,
});

/**
 * The action a cursor runs next: its own if it still exists (unpublished ones are
 * passed over), else the redirect its deletion left (§5.4), followed through
 * later deletions; 0 completes.
 */
async function resolveAction(chain: Chain, actionId: number): Promise<number> {
  const { tree } = chain.loaded;
  let id = actionId;
  for (let hops = 0; hops < 100; hops++) {
    if (id === 0) return 0;
    if (tree.get(id)) return tree.resolve(id);
    const redirect = await getConsistent(keys.redirect(chain.c.UserID, chain.c.JourneyID, id));
    if (!redirect) return REDIRECT_PENDING;
    id = Number(redirect["Target"] ?? 0);
  }
  return 0;
}

/** Handles one Step message (§5.2 steps 1–2), then runs the chain. */
export async function handleStep(msg: StepMessage): Promise<void> {
  const key = keys.cursor(msg.UserID, msg.SubscriberID, msg.JourneyID, msg.EntryID);
  const item = await getConsistent(key);
  if (!item || Number(item["Version"]) !== msg.Version) return;
  const now = productEpoch();
  const c = cursorOf(item);
  if (Object.keys(c.Outbox ?? {}).length > 0) {
    await deliverOutbox(key, item, now);
    c.Outbox = Object.fromEntries(Object.entries(c.Outbox ?? {}).filter(([, e]) => e.Kind === "Job"));
  }
  if (c.State !== "Active") return;
  if (c.DueAt > now + 1) {
    if (sendsOwnMessage(c.DueAt, now)) await sendToSteps(msg, c.DueAt - now);
    return;
  }
  const subscriber = await getConsistent(keys.subscriber(msg.UserID, msg.SubscriberID));
  const loaded = await loadJourney(msg.UserID, msg.JourneyID);
  const chain = newChain(c, loaded ?? (undefined as unknown as LoadedJourney), subscriber ?? {}, now);
  const wait = recoverIntent(chain);
  if (wait > 0) {
    // Its worker may still be in the call: look again once the intent is stale.
    await sendToSteps(msg, wait);
    return;
  }
  if (!loaded || !subscriber) {
    // A journey that is gone ends its cursors with no event; a deleted subscriber's end is counted.
    endCursor(chain, "Exited", loaded ? "SubscriberDeleted" : "JourneyDeleted");
    const outcome = await flush(chain, true);
    if (outcome === "ok" && chain.delivered.size > 0) await clearDelivered(key, cursorItem(chain.c), chain.delivered, chain.now);
    return;
  }
  c.TreeVersion = loaded.treeVersion;
  await runChain(chain, true);
}
