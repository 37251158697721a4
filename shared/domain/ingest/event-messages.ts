import type { SQSRecord } from "aws-lambda";
import { toPositiveInt } from "../../params.js";

/** Events per message here and per journey.events.ingest call: one limit for both doors. */
export const MAX_EVENTS = 500;

/**
 * The events queue's message format (CONTRACT §7): the same event objects
 * `journey.events.ingest` takes, so that either door gives the same result.
 *
 * Body (JSON), one of:
 * - a single event object: `{"EventID": "e1", "Type": "Sent", ...}`;
 * - an array of 1 to 500 event objects: `[{...}, {...}]`;
 * - a wrapper: `{"UserID": 42, "Events": [{...}, ...]}` (`Events` may also be a
 *   single event object).
 *
 * The owning user is the `UserID` message attribute (`String` or `Number` data
 * type, custom suffixes such as `Number.int` allowed) or the wrapper's `UserID`,
 * a positive integer either way. When both are given they must agree: a message
 * that names two users is never guessed at. Keys are matched case-insensitively,
 * as the HTTP command matches its parameters.
 *
 * A message that can never be ingested, however often it is redelivered, is
 * *poison*: unparseable JSON, no valid user, or a body that is not 1 to 500
 * event objects (the HTTP command's whole-call errors 1 and 2). Everything
 * inside an event is left to the ingest core, which rejects bad events one by
 * one without failing the message.
 */
export type EventMessage = { ok: true; userId: number; events: unknown[] } | { ok: false; reason: string };

export type EventMessageInput = Pick<SQSRecord, "body"> & { messageAttributes?: SQSRecord["messageAttributes"] };

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function fieldOf(o: Record<string, unknown>, name: string): { present: boolean; value: unknown } {
  const key = Object.keys(o).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? { present: false, value: undefined } : { present: true, value: o[key] };
}

/** undefined: no attribute; null: an attribute that does not name a user. */
function userFromAttributes(attributes: EventMessageInput["messageAttributes"]): number | null | undefined {
  const name = Object.keys(attributes ?? {}).find((k) => k.toLowerCase() === "userid");
  if (name === undefined) return undefined;
  const attr = attributes![name];
  const baseType = typeof attr?.dataType === "string" ? attr.dataType.split(".")[0] : undefined;
  if ((baseType !== "String" && baseType !== "Number") || typeof attr?.stringValue !== "string") return null;
  return toPositiveInt(attr.stringValue.trim()) ?? null;
}

export function parseEventMessage(record: EventMessageInput): EventMessage {
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch {
    return { ok: false, reason: "body is not JSON" };
  }

  let events: unknown[];
  let wrapperUser: number | null | undefined;
  const wrapped = isPlainObject(body) ? fieldOf(body, "Events") : { present: false, value: undefined };
  if (isPlainObject(body) && wrapped.present) {
    const user = fieldOf(body, "UserID");
    wrapperUser = user.present ? (toPositiveInt(user.value) ?? null) : undefined;
    events = Array.isArray(wrapped.value) ? wrapped.value : isPlainObject(wrapped.value) ? [wrapped.value] : [];
  } else if (Array.isArray(body)) {
    events = body;
  } else if (isPlainObject(body)) {
    events = [body];
  } else {
    return { ok: false, reason: "body is neither an event, an array of events nor an Events wrapper" };
  }
  if (events.length < 1 || events.length > MAX_EVENTS) {
    return { ok: false, reason: `a message must hold 1 to ${MAX_EVENTS} events` };
  }

  const attributeUser = userFromAttributes(record.messageAttributes);
  if (attributeUser === null) return { ok: false, reason: "the UserID attribute is not a positive integer" };
  if (wrapperUser === null) return { ok: false, reason: "the wrapper's UserID is not a positive integer" };
  if (attributeUser !== undefined && wrapperUser !== undefined && attributeUser !== wrapperUser) {
    return { ok: false, reason: "the UserID attribute and the wrapper's UserID disagree" };
  }
  const userId = attributeUser ?? wrapperUser;
  if (userId === undefined) return { ok: false, reason: "no UserID attribute and no wrapper UserID" };
  return { ok: true, userId, events };
}
