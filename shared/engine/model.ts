import type { Trigger } from "../domain/journeys/trigger.js";
import type { Key } from "../keys.js";

/**
 * The engine's shared vocabulary (ENGINE §4–§6): the messages on the steps queue,
 * the outbox entries that carry them across a crash, and the items they act on.
 * Engine times are whole epoch seconds unless a field says otherwise.
 */

/** What a firing trigger carries (§4.2). `Value` is the trigger's ID; RevenueHit's is `{Before, After}` in cents. */
export interface Signal {
  Kind: "Signal";
  UserID: number;
  SubscriberID: number;
  Trigger: Trigger;
  Value: number | { Before: number; After: number };
  SignalID: string;
  /** 0 from a command or an outside event; the parent's Depth + 1 from an engine step (§4.4). */
  Depth: number;
  /** Firing time, epoch seconds. */
  At: number;
  /** The item whose outbox held the signal. */
  Source: Key;
}

/** One step of one cursor (§5.2); rebuilt from the due index by the sweeper. */
export interface StepMessage {
  Kind: "Step";
  UserID: number;
  SubscriberID: number;
  JourneyID: number;
  EntryID: string;
  Version: number;
}

/** Work whose handler reads the item named by `Key` (§6). A Job also names its outbox entry. */
export interface ItemMessage {
  Kind: "Outbox" | "Drain" | "Job";
  Key: Key;
  EntryId?: string;
}

export type StepsQueueMessage = Signal | StepMessage | ItemMessage;

/**
 * An outbox entry (§5.5), kept in the item's `Outbox` map under its `Id`, so a
 * clearing write removes exactly the entries it delivered (`REMOVE Outbox.#id`).
 * - `Signal`: a signal for the steps queue.
 * - `Events`: engine events for the events queue, in order (an end travels as
 *   `[Enrolled, extras, Completed | Exited]`).
 * - `Step`: a handoff of this cursor to the steps queue.
 * - `Job`: long work (resume, purge, fan-out, redirect copy) whose `Progress` the job keeps.
 */
export type OutboxEntry =
  | { Id: string; At: number; Kind: "Signal"; Signal: Signal }
  | { Id: string; At: number; Kind: "Events"; UserID: number; Events: Record<string, unknown>[] }
  | { Id: string; At: number; Kind: "Step"; Step: StepMessage; DelaySeconds?: number }
  | { Id: string; At: number; Kind: "Job"; Job: string; Params: Record<string, unknown>; Progress?: unknown };

export type Outbox = Record<string, OutboxEntry>;

export type StepOutcome = "Done" | "Waiting" | "Deferred" | "Skipped" | "Failed" | "Unconfirmed";

/** One executed step, appended to the cursor's `Steps` (the last 20) in the write that applies it (§5.5). */
export interface StepRecord {
  /** `YYYY-MM-DD HH:MM:SS`. */
  At: string;
  ActionID: number;
  Action: string;
  Outcome: StepOutcome;
  Reason: string;
  Detail: Record<string, unknown>;
}

export type CursorState = "Active" | "Paused" | "Completed" | "Exited";

/** The cursor item's attributes (§5.1), as the runner reads them. */
export interface Cursor {
  UserID: number;
  SubscriberID: number;
  JourneyID: number;
  EntryID: string;
  State: CursorState;
  /** The action to run, or the one the cursor is parked in; 0 once ended. */
  ActionID: number;
  /** That action has started (a Wait that has computed its DueAt). */
  Started: boolean;
  DueAt: number;
  Version: number;
  TreeVersion: string;
  EnteredBy: string;
  /** How it was enrolled: the Trigger, `Command` or `StartJourney` (the activity row's Reason). */
  Source: string;
  Depth: number;
  EnrolledAt: number;
  EmailAddress: string;
  /** SignalIDs of `subscriber.journey.trigger` calls on this active enrolment (§4.4). */
  Extra: string[];
  Passed: number;
  Outbox?: Outbox;
  Steps: StepRecord[];
  /**
   * A delivery step's intent (§8.2): written, with the cursor moved past the action,
   * before the SES, SMS or HTTP call; cleared by the write that records its result.
   * Found on a recovered cursor, it means the worker died around the call.
   */
  Intent?: Intent;
  /** Throttled re-parks of the action the cursor is on (§8.2); cleared once it moves on. */
  Throttles?: number;
  EndedBy?: "Completed" | "Exited";
  EndReason?: string;
  EndedAt?: number;
}

export interface Intent {
  ActionID: number;
  Action: string;
  /** When it was written, epoch seconds. */
  At: number;
}

/** Membership of a subscriber in a journey (§5.1). */
export interface Membership {
  ActiveEntryID?: string;
  CompletedEver?: boolean;
  Version: number;
}
