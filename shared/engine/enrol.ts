import { isAwsError } from "../errors.js";
import { keys, type Key } from "../keys.js";
import { countBy, logger, metrics } from "../observability.js";
import { batchGet, keyId, type Item } from "../domain/owned.js";
import { productEpoch, productNow } from "../clock.js";
import { addEntry, cursorKey, cursorWrite } from "./cursor.js";
import { triggerHolds } from "./criteria.js";
import { newUlid, signalEntryId } from "./entry-id.js";
import type { Cursor, Signal } from "./model.js";
import { sendOutboxEntries, sendToSteps } from "./outbox.js";
import { engineEvent, newChain, runChain, stepMessage, type Chain } from "./runner.js";
import { cancellationCodes, getConsistent, loadJourney, Tx, updateItem, versionIs, type LoadedJourney } from "./store.js";
import { decideRate, drain, isLimited, limitsOf } from "./rate.js";
import { sendsOwnMessage } from "./cursor.js";
import { indexedJourneys } from "./trigger-index.js";

/**
 * Enrolment (ENGINE §4.3): for each candidate journey, in order, (1) the journey
 * exists and is Enabled (BypassJourneyStatusCheck skips this), (2) the subscriber
 * exists, re-entry and the loop guard allow it, Trigger_Criteria hold, then
 * (4) one transaction puts the cursor (absent: a copy of the same signal finds it
 * and stops), takes the membership (absent ActiveEntryID, else AlreadyActive) and,
 * for RevenueHit, records the journey in RevenueHits. The cursor's outbox holds
 * its Enrolled event; the first step runs right after, in the same worker.
 */
export const MAX_DEPTH = 10;

export type SkipReason = "JourneyNotFound" | "JourneyDisabled" | "SubscriberNotFound" | "AlreadyActive" | "CriteriaNotMet" | "LoopGuard" | "AlreadyHit";
export type AdmitResult =
  | { status: "Enrolled"; entryId: string; enrolled?: Record<string, unknown> }
  | { status: "Skipped"; reason: SkipReason }
  | { status: "Deferred"; notBefore: number };

export interface AdmitRequest {
  userId: number;
  subscriberId: number;
  journeyId: number;
  signalId: string;
  /** The signal's time (epoch s); a deterministic EntryID is derived from it and the SignalID. */
  at: number;
  depth: number;
  /** The activity row's Reason: the Trigger, `Command` or `StartJourney`. */
  source: string;
  bypass: boolean;
  /** A deterministic EntryID (signals) or a fresh one (commands, StartJourney). */
  deterministic: boolean;
  revenueHit?: boolean;
}

interface Plan {
  status: "Planned";
  cursor: Cursor;
  tx: Tx;
  loaded: LoadedJourney;
  subscriber: Item;
}

/** Over a rate limit (§4.5): the backlog row and the rate item's update, to write instead of the enrolment. */
interface Deferral {
  status: "Deferred";
  notBefore: number;
  tx: Tx;
  drainKey: Key;
  drainAt: number;
}

/** Steps 1–2 and the write of step 4, without committing; a skip says why. */
async function plan(
  req: AdmitRequest,
  now: number,
  known?: { subscriber?: Item; drained?: boolean },
): Promise<Plan | Deferral | { status: "Skipped"; reason: SkipReason }> {
  const loaded = await loadJourney(req.userId, req.journeyId);
  if (!loaded) return { status: "Skipped", reason: "JourneyNotFound" };
  if (loaded.journey.Status !== "Enabled" && !req.bypass) return { status: "Skipped", reason: "JourneyDisabled" };
  if (req.depth > MAX_DEPTH) return { status: "Skipped", reason: "LoopGuard" };
  const subKey = keys.subscriber(req.userId, req.subscriberId);
  const memKey = keys.membership(req.userId, req.subscriberId, req.journeyId);
  // A row the drain admits has its rate item's update from the drain itself.
  const limits = limitsOf(loaded.journey);
  const rateKey = isLimited(limits) && !known?.drained ? keys.journeyRate(req.userId, req.journeyId) : undefined;
  const found = await batchGet([...(known?.subscriber ? [] : [subKey]), memKey, ...(rateKey ? [rateKey] : [])], { consistent: true });
  const subscriber = known?.subscriber ?? found.get(keyId(subKey));
  if (!subscriber) return { status: "Skipped", reason: "SubscriberNotFound" };
  if (found.get(keyId(memKey))?.["ActiveEntryID"]) return { status: "Skipped", reason: "AlreadyActive" };
  if (req.revenueHit && ((subscriber["RevenueHits"] as number[] | undefined) ?? []).includes(req.journeyId)) {
    return { status: "Skipped", reason: "AlreadyHit" };
  }
  if (!(await triggerHolds(req.userId, subscriber, loaded.journey, now))) return { status: "Skipped", reason: "CriteriaNotMet" };
  const rate = rateKey
    ? decideRate(req.userId, req.journeyId, limits, found.get(keyId(rateKey)), {
        SubscriberID: req.subscriberId,
        SignalID: req.signalId,
        At: req.at,
        Depth: req.depth,
        Source: req.source,
        Bypass: req.bypass,
        Deterministic: req.deterministic,
        RevenueHit: req.revenueHit === true,
      }, now)
    : undefined;
  if (rate?.kind === "defer") {
    const tx = new Tx();
    rate.items.forEach((item, i) => tx.set({ PK: `defer#${i}`, SK: "" }, item));
    return { status: "Deferred", notBefore: rate.notBefore, tx, drainKey: rate.drainKey, drainAt: rate.drainAt };
  }

  const entryId = req.deterministic ? signalEntryId(req.at, req.signalId, req.journeyId) : newUlid(Math.max(now * 1000, productNow().getTime()));
  const cursor: Cursor = {
    UserID: req.userId,
    SubscriberID: req.subscriberId,
    JourneyID: req.journeyId,
    EntryID: entryId,
    State: "Active",
    ActionID: loaded.tree.first(),
    Started: false,
    DueAt: now,
    Version: 0,
    TreeVersion: loaded.treeVersion,
    EnteredBy: req.signalId,
    Source: req.bypass && loaded.journey.Status !== "Enabled" ? "Bypass" : req.source,
    Depth: req.depth,
    EnrolledAt: now,
    EmailAddress: String(subscriber["EmailAddress"] ?? ""),
    Extra: [],
    Passed: 0,
    Outbox: {},
    Steps: [],
  };
  addEntry(cursor, { Id: `enrolled-${entryId}`, At: now, Kind: "Events", UserID: req.userId, Events: [engineEvent(cursor, "Enrolled", now)] });
  const tx = new Tx();
  tx.set(cursorKey(cursor), cursorWrite(cursor, 0, now, { queued: true }));
  tx.set(
    memKey,
    updateItem(memKey, { ActiveEntryID: entryId, JourneyID: req.journeyId }, [], {
      expression: "attribute_not_exists(#ae)",
      names: { "#ae": "ActiveEntryID" },
    }),
  );
  if (rate?.kind === "admit" && rateKey) tx.set(rateKey, rate.item);
  if (req.revenueHit) {
    const hits = [...((subscriber["RevenueHits"] as number[] | undefined) ?? []), req.journeyId];
    const v = subscriber["Version"];
    tx.set(subKey, updateItem(subKey, { RevenueHits: hits, Version: typeof v === "number" ? v + 1 : 1 }, [], versionIs(v)));
  }
  return { status: "Planned", cursor, tx, loaded, subscriber };
}

/**
 * Admits and runs one enrolment now: the transaction, its Enrolled event, then the
 * first steps in this worker (the cursor is indexed as due now and `Queued`, so a
 * crash here leaves it to the sweeper's recovery pass).
 */
export async function admitNow(req: AdmitRequest, now = productEpoch(), inline = true): Promise<AdmitResult> {
  const result = await admit(req, now, inline);
  countAdmission(result);
  return result;
}

/** Enrolments{Created,Deferred,Skipped} (by Reason) and LoopGuard (ENGINE §10). */
function countAdmission(result: AdmitResult): void {
  if (result.status === "Enrolled") metrics().addMetric("EnrolmentsCreated", "Count", 1);
  else if (result.status === "Deferred") metrics().addMetric("EnrolmentsDeferred", "Count", 1);
  else {
    countBy({ Reason: result.reason }, "EnrolmentsSkipped", "Count", 1);
    if (result.reason === "LoopGuard") metrics().addMetric("LoopGuard", "Count", 1);
  }
}

async function admit(req: AdmitRequest, now: number, inline: boolean): Promise<AdmitResult> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const p = await plan(req, now);
    if (p.status === "Deferred") return commitDeferral(p, now);
    if (!("cursor" in p)) return p;
    try {
      await p.tx.commit();
    } catch (err) {
      if (!isAwsError(err, "TransactionCanceledException")) throw err;
      // The cursor exists: a copy of this signal made it, and its worker runs it.
      if (cancellationCodes(err)[0] === "ConditionalCheckFailed") return { status: "Enrolled", entryId: p.cursor.EntryID };
      // The membership is taken or RevenueHits moved: decide again.
      continue;
    }
    const enrolled = engineEvent(p.cursor, "Enrolled", p.cursor.EnrolledAt);
    if (!inline) {
      // A command answers without running the journey: the first Step message follows (its step delivers the outbox).
      await sendToSteps(stepMessage(p.cursor), 0);
      return { status: "Enrolled", entryId: p.cursor.EntryID, enrolled };
    }
    await runAdmitted(p, now);
    return { status: "Enrolled", entryId: p.cursor.EntryID, enrolled };
  }
  return { status: "Skipped", reason: "AlreadyActive" };
}

/**
 * Writes a deferral: the backlog row (a copy of the signal finds it and adds
 * nothing) and the rate item's backlog size, then hands the drain if it is due
 * within the long-wait threshold (else its minute in the due index does).
 */
async function commitDeferral(d: Deferral, now: number): Promise<AdmitResult> {
  try {
    await d.tx.commit();
  } catch (err) {
    if (!isAwsError(err, "TransactionCanceledException")) throw err;
    // The row exists (a copy of this signal) or the rate item moved: either way the caller may retry.
    if (cancellationCodes(err)[0] !== "ConditionalCheckFailed") throw err;
  }
  if (sendsOwnMessage(d.drainAt, now)) await sendToSteps({ Kind: "Drain", Key: d.drainKey }, Math.max(0, d.drainAt - now));
  return { status: "Deferred", notBefore: d.notBefore };
}

/**
 * Runs a drain (§4.5): each row re-runs steps 1–2 and is admitted in one
 * transaction with its row's delete and the rate item's count; the enrolment's
 * first steps run right after, in this worker.
 */
export async function drainJourney(key: Key): Promise<void> {
  const rate = await getConsistent(key);
  if (!rate) return;
  const userId = Number(rate["UserID"]);
  const journeyId = Number(rate["JourneyID"]);
  const loaded = await loadJourney(userId, journeyId);
  if (!loaded) return;
  await drain(key, limitsOf(loaded.journey), async (row, extra) => {
    const now = productEpoch();
    const req: AdmitRequest = {
      userId,
      subscriberId: Number(row.SubscriberID),
      journeyId,
      signalId: String(row.SignalID),
      at: Number(row.At),
      depth: Number(row.Depth),
      source: String(row.Source),
      bypass: row.Bypass === true,
      deterministic: row.Deterministic === true,
      revenueHit: row.RevenueHit === true,
    };
    const p = await plan(req, now, { drained: true });
    if (p.status === "Skipped") {
      if (p.reason === "JourneyDisabled") return "parked";
      logger().info("deferred enrolment left the backlog", { journeyId, reason: p.reason });
      return "skipped";
    }
    if (!("cursor" in p)) return "skipped";
    extra.forEach((item, i) => p.tx.set({ PK: `drain#${i}`, SK: "" }, item));
    try {
      await p.tx.commit();
    } catch (err) {
      if (isAwsError(err, "TransactionCanceledException")) return "conflict";
      throw err;
    }
    await runAdmitted(p, now);
    return "admitted";
  });
}

/**
 * After an admission commits: its Enrolled on the events queue, then its first
 * steps. The enrolment is committed and its cursor indexed (Queued, due now), so a
 * failed first chain is the recovery pass's to finish (§5.2 step 5), not a failed admission.
 */
async function runAdmitted(p: Plan, now: number): Promise<void> {
  const chain = newChain(p.cursor, p.loaded, p.subscriber, now);
  const entries = Object.values(p.cursor.Outbox ?? {});
  try {
    await sendOutboxEntries(cursorKey(p.cursor), entries);
    for (const e of entries) chain.delivered.add(e.Id);
    await runChain(chain, true);
  } catch (err) {
    logger().warn("first chain left to recovery", { entryId: p.cursor.EntryID, error: err instanceof Error ? err.message : String(err) });
  }
}

/**
 * StartJourney (§7): admits into `journeyId` at the chain's Depth + 1 in the same
 * transaction as the step. The new cursor's first Step message is a follow-up in
 * the acting cursor's outbox, so it is sent once the step commits.
 */
export async function admitInChain(chain: Chain, journeyId: number): Promise<AdmitResult> {
  const c = chain.c;
  if (journeyId === c.JourneyID) return { status: "Skipped", reason: "AlreadyActive" };
  const p = await plan(
    {
      userId: c.UserID,
      subscriberId: c.SubscriberID,
      journeyId,
      signalId: newUlid(),
      at: chain.now,
      depth: c.Depth + 1,
      source: "StartJourney",
      bypass: false,
      deterministic: false,
    },
    chain.now,
    { subscriber: { ...chain.subscriber, ...chain.subscriberSet } },
  );
  if (p.status === "Deferred") {
    // The backlog row and the rate item ride in the step's transaction; the drain is handed by its due time.
    chain.extra.absorb(p.tx);
    return { status: "Deferred", notBefore: p.notBefore };
  }
  if (!("cursor" in p)) return p;
  chain.extra.absorb(p.tx);
  p.cursor.Version = 1;
  addEntry(c, { Id: `start-${p.cursor.EntryID}`, At: chain.now, Kind: "Step", Step: stepMessage(p.cursor) });
  return { status: "Enrolled", entryId: p.cursor.EntryID };
}

/** The journeys a signal enrols into (§4.1), from the trigger index. */
async function candidates(signal: Signal): Promise<number[]> {
  if (signal.Trigger === "RevenueHit") {
    const v = signal.Value as { Before: number; After: number };
    const entries = await indexedJourneys(signal.UserID, "RevenueHit", "");
    return entries.filter((e) => e.threshold !== undefined && v.Before < e.threshold && e.threshold <= v.After).map((e) => e.journeyId);
  }
  const ids = (await indexedJourneys(signal.UserID, signal.Trigger, Number(signal.Value))).map((e) => e.journeyId);
  // A completion never enrols into the journey that completed (§4.1).
  return signal.Trigger === "JourneyCompleted" ? ids.filter((id) => id !== Number(signal.Value)) : ids;
}

/** Handles one Signal message: every Enabled journey its trigger names, in JourneyID order. */
export async function enrolFromSignal(signal: Signal): Promise<void> {
  for (const journeyId of await candidates(signal)) {
    const result = await admitNow({
      userId: signal.UserID,
      subscriberId: signal.SubscriberID,
      journeyId,
      signalId: signal.SignalID,
      at: signal.At,
      depth: signal.Depth,
      source: signal.Trigger,
      bypass: false,
      deterministic: true,
      revenueHit: signal.Trigger === "RevenueHit",
    });
    if (result.status !== "Enrolled") logger().info("enrolment skipped", { journeyId, reason: "reason" in result ? result.reason : result.status });
  }
}

