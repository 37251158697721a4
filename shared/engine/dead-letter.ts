import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { ddb, tableName } from "../aws.js";
import { isAwsError } from "../errors.js";
import { keys } from "../keys.js";
import type { Item } from "../domain/owned.js";
import { logger } from "../observability.js";
import { cursorOf, isLive, record } from "./cursor.js";
import { endItems } from "./fanout.js";
import type { StepMessage } from "./model.js";
import { clearDelivered, sendOutboxEntries } from "./outbox.js";
import { cancellationCodes, getConsistent, loadJourney } from "./store.js";

/**
 * The steps DLQ's consumer (ENGINE §10). A message lands there after 5 failed
 * receives. Only one kind is acted on: a Step whose EntryID and Version still
 * match a live (Active or Paused) cursor, which would otherwise be re-handed by
 * recovery every 10 minutes and fail again forever. It is ended (Exited,
 * `StepFailed`) with a `Failed` step record, its end events going through its
 * outbox like every end. Anything else is logged and dropped:
 * - a stale Step: another delivery moved the cursor, so the work went on;
 * - a Signal, Job, Outbox or Drain message: its entry stays on its item, in the
 *   due index, so recovery hands it again; ending something for it would lose work;
 * - a body that is none of the engine's messages: nothing can act on it.
 */

/** What the step record says when no failure of this Version was noted (§10). */
export const UNKNOWN_ERROR = "redelivered 5 times";
/** A noted error is cut to this many characters (the step record's Detail stays small, §5.5). */
const ERROR_MAX = 500;

export type DeadLetterOutcome =
  | { outcome: "Ended"; reason: "StepFailed" | "JourneyDeleted"; entryId: string }
  | { outcome: "Dropped"; reason: "Stale" | "NotAStep" | "Poison"; kind?: string };

/** A steps-queue body as a Step, or why it is not one. */
function stepOf(body: string): StepMessage | { kind?: string } {
  let m: unknown;
  try {
    m = JSON.parse(body);
  } catch {
    return {};
  }
  if (!m || typeof m !== "object") return {};
  const s = m as Partial<StepMessage> & { Kind?: unknown };
  const kind = typeof s.Kind === "string" ? s.Kind : undefined;
  if (
    kind === "Step" &&
    Number.isInteger(s.UserID) &&
    Number.isInteger(s.SubscriberID) &&
    Number.isInteger(s.JourneyID) &&
    typeof s.EntryID === "string" &&
    Number.isInteger(s.Version)
  ) {
    return s as StepMessage;
  }
  return kind ? { kind } : {};
}

/** The last error the runner noted for this Version of the cursor, if any. */
function lastErrorOf(item: Item, version: number): string | undefined {
  const noted = item["LastError"] as { Version?: unknown; Error?: unknown } | undefined;
  return noted && noted.Version === version && typeof noted.Error === "string" ? noted.Error : undefined;
}

/**
 * Called by the runner when a Step message fails: notes the error on the cursor
 * (`LastError`, tagged with the Version the message named, which it leaves
 * unchanged), so that if the message ends in the DLQ its step record can say why.
 * Only if the cursor is still live at that Version; best effort, never throws:
 * the message is redelivered whatever happens here.
 */
export async function noteStepError(msg: StepMessage, err: unknown, at: number): Promise<void> {
  const text = (err instanceof Error ? `${err.name}: ${err.message}` : String(err)).slice(0, ERROR_MAX);
  try {
    await ddb().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: keys.cursor(msg.UserID, msg.SubscriberID, msg.JourneyID, msg.EntryID),
        UpdateExpression: "SET #le = :le",
        ConditionExpression: "#v = :v AND #s IN (:active, :paused)",
        ExpressionAttributeNames: { "#le": "LastError", "#v": "Version", "#s": "State" },
        ExpressionAttributeValues: { ":le": { Version: msg.Version, Error: text, At: at }, ":v": msg.Version, ":active": "Active", ":paused": "Paused" },
      }),
    );
  } catch (e) {
    if (!isAwsError(e, "ConditionalCheckFailedException")) logger().warn("could not note the step error", { error: (e as Error).name });
  }
}

/**
 * Handles one steps-DLQ body at product time `now`. Throws only when the end could
 * not be written (a throttle, a cursor that kept conflicting): the record is then
 * retried from the DLQ.
 */
export async function deadLetter(body: string, now: number): Promise<DeadLetterOutcome> {
  const step = stepOf(body);
  if (!("Kind" in step)) {
    return step.kind ? { outcome: "Dropped", reason: "NotAStep", kind: step.kind } : { outcome: "Dropped", reason: "Poison" };
  }
  const key = keys.cursor(step.UserID, step.SubscriberID, step.JourneyID, step.EntryID);
  for (let attempt = 0; attempt < 3; attempt++) {
    const item = await getConsistent(key);
    if (!item || Number(item["Version"]) !== step.Version || !isLive({ State: item["State"] as "Active" })) {
      return { outcome: "Dropped", reason: "Stale", kind: "Step" };
    }
    const c = cursorOf(item);
    const loaded = await loadJourney(c.UserID, c.JourneyID);
    // A journey deleted meanwhile ends its cursors with no event, as a step would (§5.4, §13.4).
    const reason = loaded ? "StepFailed" : "JourneyDeleted";
    c.Steps.push(record(now, c.ActionID, loaded?.tree.get(c.ActionID)?.Action ?? "", "Failed", "StepFailed", { Error: lastErrorOf(item, step.Version) ?? UNKNOWN_ERROR }));
    // The end as every end outside a chain writes it: conditioned on the Version
    // read, its events in its outbox, the membership released in the same write.
    const tx = endItems(c, reason, now);
    try {
      await tx.commit();
    } catch (err) {
      if (!isAwsError(err, "TransactionCanceledException")) throw err;
      // The cursor moved (its step went through after all: stale next time round), or the membership did.
      logger().warn("steps DLQ end conflicted; reading again", { entryId: step.EntryID, codes: cancellationCodes(err) });
      continue;
    }
    // Only the end's Events entries are sent from here: this function may send to the
    // events queue and nowhere else (§10). Anything else the outbox still holds (a
    // signal the failed step fired) stays indexed, and recovery hands it to the runner.
    const written: Item = { ...c, Outbox: c.Outbox ?? {}, Queued: true };
    const events = Object.values(c.Outbox ?? {}).filter((e) => e.Kind === "Events");
    if (events.length > 0) {
      await sendOutboxEntries(key, events);
      await clearDelivered(key, written, new Set(events.map((e) => e.Id)), now);
    }
    return { outcome: "Ended", reason, entryId: c.EntryID };
  }
  throw new Error("steps DLQ: the cursor's end kept conflicting; left for a retry");
}
