import { createHash } from "node:crypto";
import { TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import { ddb, tableName } from "../aws.js";
import { isAwsError } from "../errors.js";
import { keys } from "../keys.js";
import { countBy } from "../observability.js";
import { formatDateTime } from "../time.js";
import { addressOf, CONFIGURATION_SET_TAG, SES_EVENT_TYPES, type SesEventType } from "./ses-shape.js";

/**
 * SES events into statistics (ENGINE §8.3): one EventBridge SES event, as the rule on
 * the default bus delivers it to the SES events queue, becomes at most one ingest event
 * (CONTRACT §7), or a `Failed` mark on the email state, or nothing (dropped, counted).
 *
 * | SES event | Ingest Type | EventID |
 * |---|---|---|
 * | Send | Sent | `ses:<MessageId>:Send` |
 * | Delivery | Delivered (recipient rule) | `ses:<MessageId>:Delivery` |
 * | Open | Opened | `ses:<MessageId>:Open` |
 * | Click | Clicked | `ses:<MessageId>:Click:<first 16 hex of SHA-256(link)>` |
 * | Bounce | Bounced Hard (Permanent) or Soft (recipient rule) | `ses:<MessageId>:Bounce` |
 * | Complaint | SpamComplaint (recipient rule) | `ses:<MessageId>:Complaint` |
 * | Reject, RenderingFailure | none: the (action, subscriber) email state is marked `Failed` | – |
 *
 * The EventID depends only on the SES event, never on when or how often it arrives, so
 * a redelivered event is an ingest duplicate. The runner sends the Sent event itself
 * after SES accepts (§8.2) under the same `sesEventId(messageId, "Send")`, so a send
 * counts once whichever arrives first.
 *
 * The mapping is pure; `markFailed` is the one write, and `countSesMapping` the metrics.
 */

/** Why an event was dropped (logged; the metric is by Type only). */
export type DropReason =
  /** Not an SES event, or one without `detail.mail.messageId`. */
  | "Malformed"
  /** A kind this product does not map (DeliveryDelay, Subscription). */
  | "UnknownType"
  /** Sent with another configuration set than `SES_CONFIGURATION_SET`. */
  | "OtherConfigurationSet"
  /** Without UserID, JourneyID, ActionID or SubscriberID tags: not sent by the runner. */
  | "MissingTags"
  /** `mail.commonHeaders.to` is not exactly one address. */
  | "NoToAddress"
  /** Delivery, Bounce or Complaint for a CC or BCC recipient only. */
  | "NotRecipient";

/** The ingest event objects the events queue takes (CONTRACT §7), as this adapter fills them. */
export interface SesIngestEvent {
  EventID: string;
  Type: "Sent" | "Delivered" | "Opened" | "Clicked" | "Bounced" | "SpamComplaint";
  JourneyID: number;
  ActionID: number;
  SubscriberID: number;
  EmailAddress: string;
  /** `YYYY-MM-DD HH:MM:SS` UTC; absent only when the event carries no usable time (ingest then uses the send time). */
  OccurredAt?: string;
  BounceType?: "Hard" | "Soft";
}

export interface SesTags {
  UserID: number;
  JourneyID: number;
  ActionID: number;
  SubscriberID: number;
}

export type SesMapping =
  | { kind: "ingest"; type: SesEventType; messageId: string; userId: number; event: SesIngestEvent }
  | { kind: "failed"; type: "Reject" | "RenderingFailure"; messageId: string; tags: SesTags; emailAddress?: string; occurredAt: string }
  | { kind: "dropped"; type: SesEventType | "Unknown"; messageId?: string; reason: DropReason };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const objectAt = (o: Record<string, unknown>, name: string): Record<string, unknown> => (isObject(o[name]) ? o[name] : {});
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);

/** The EventID of an SES event (§8.3). The runner's own Sent uses `sesEventId(id, "Send")`. */
export function sesEventId(messageId: string, type: "Send" | "Delivery" | "Open" | "Bounce" | "Complaint"): string;
export function sesEventId(messageId: string, type: "Click", link: string): string;
export function sesEventId(messageId: string, type: string, link?: string): string {
  if (type === "Click") return `ses:${messageId}:Click:${createHash("sha256").update(link ?? "", "utf8").digest("hex").slice(0, 16)}`;
  return `ses:${messageId}:${type}`;
}

/** SES's `eventType` ("Rendering Failure" has a space) in this product's spelling, or undefined. */
function typeOf(eventType: unknown): SesEventType | undefined {
  if (typeof eventType !== "string") return undefined;
  const compact = eventType.replace(/\s+/g, "");
  return SES_EVENT_TYPES.find((t) => t.toLowerCase() === compact.toLowerCase());
}

/** A tag's value (SES gives each tag as an array of values) as a positive integer. */
function tagId(tags: Record<string, unknown>, name: string): number | undefined {
  const value = strings(tags[name])[0] ?? (typeof tags[name] === "string" ? (tags[name] as string) : undefined);
  if (value === undefined || !/^\d{1,15}$/.test(value.trim())) return undefined;
  const n = Number(value.trim());
  return n > 0 ? n : undefined;
}

/** An ISO timestamp as the ingest core's `YYYY-MM-DD HH:MM:SS` UTC, or undefined. */
function wireTime(v: unknown): string | undefined {
  if (typeof v !== "string" || v === "") return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : formatDateTime(d);
}

/** The kind's object in `detail` (SES names RenderingFailure's `failure`). */
const KIND_FIELD: Record<SesEventType, string> = {
  Send: "send",
  Delivery: "delivery",
  Open: "open",
  Click: "click",
  Bounce: "bounce",
  Complaint: "complaint",
  Reject: "reject",
  RenderingFailure: "failure",
};

/** The addresses a Delivery, Bounce or Complaint concerns; undefined for kinds that name none. */
function recipientsOf(type: SesEventType, kind: Record<string, unknown>): string[] | undefined {
  switch (type) {
    case "Delivery":
      return strings(kind["recipients"]);
    case "Bounce":
      return (Array.isArray(kind["bouncedRecipients"]) ? kind["bouncedRecipients"] : []).map((r) => (isObject(r) && typeof r["emailAddress"] === "string" ? r["emailAddress"] : ""));
    case "Complaint":
      return (Array.isArray(kind["complainedRecipients"]) ? kind["complainedRecipients"] : []).map((r) => (isObject(r) && typeof r["emailAddress"] === "string" ? r["emailAddress"] : ""));
    default:
      return undefined;
  }
}

const sameAddress = (a: string, b: string) => addressOf(a).toLowerCase() === addressOf(b).toLowerCase();

/**
 * Maps one EventBridge SES event. `configurationSet` is `SES_CONFIGURATION_SET`: an event
 * from any other set is dropped, as is one without the runner's tags.
 */
export function mapSesEvent(raw: unknown, configurationSet: string): SesMapping {
  if (!isObject(raw) || !isObject(raw["detail"])) return { kind: "dropped", type: "Unknown", reason: "Malformed" };
  if (raw["source"] !== undefined && raw["source"] !== "aws.ses") return { kind: "dropped", type: "Unknown", reason: "Malformed" };
  const detail = raw["detail"];
  const mail = objectAt(detail, "mail");
  const messageId = typeof mail["messageId"] === "string" && mail["messageId"] !== "" ? mail["messageId"] : undefined;
  const type = typeOf(detail["eventType"]);
  if (!type) return { kind: "dropped", type: "Unknown", ...(messageId ? { messageId } : {}), reason: "UnknownType" };
  if (!messageId) return { kind: "dropped", type, reason: "Malformed" };
  const drop = (reason: DropReason): SesMapping => ({ kind: "dropped", type, messageId, reason });

  const tags = objectAt(mail, "tags");
  if (strings(tags[CONFIGURATION_SET_TAG])[0] !== configurationSet) return drop("OtherConfigurationSet");
  const userId = tagId(tags, "UserID");
  const journeyId = tagId(tags, "JourneyID");
  const actionId = tagId(tags, "ActionID");
  const subscriberId = tagId(tags, "SubscriberID");
  if (!userId || !journeyId || !actionId || !subscriberId) return drop("MissingTags");

  // The subscriber is the one To (§8.1); `mail.destination` also lists CC and BCC.
  const to = strings(objectAt(mail, "commonHeaders")["to"]);
  const emailAddress = to.length === 1 ? addressOf(to[0]!) : undefined;
  const kind = objectAt(detail, KIND_FIELD[type]);
  const occurredAt = wireTime(kind["timestamp"]) ?? wireTime(mail["timestamp"]) ?? wireTime(raw["time"]);

  if (type === "Reject" || type === "RenderingFailure") {
    return {
      kind: "failed",
      type,
      messageId,
      tags: { UserID: userId, JourneyID: journeyId, ActionID: actionId, SubscriberID: subscriberId },
      ...(emailAddress ? { emailAddress } : {}),
      occurredAt: occurredAt ?? formatDateTime(new Date()),
    };
  }
  if (!emailAddress) return drop("NoToAddress");
  // The recipient rule: a CC's or BCC's delivery, bounce or complaint is not the subscriber's.
  const recipients = recipientsOf(type, kind);
  if (recipients && !recipients.some((r) => sameAddress(r, emailAddress))) return drop("NotRecipient");

  const base = { JourneyID: journeyId, ActionID: actionId, SubscriberID: subscriberId, EmailAddress: emailAddress, ...(occurredAt ? { OccurredAt: occurredAt } : {}) };
  let event: SesIngestEvent;
  switch (type) {
    case "Send":
      event = { EventID: sesEventId(messageId, "Send"), Type: "Sent", ...base };
      break;
    case "Delivery":
      event = { EventID: sesEventId(messageId, "Delivery"), Type: "Delivered", ...base };
      break;
    case "Open":
      event = { EventID: sesEventId(messageId, "Open"), Type: "Opened", ...base };
      break;
    case "Click":
      event = { EventID: sesEventId(messageId, "Click", typeof kind["link"] === "string" ? kind["link"] : ""), Type: "Clicked", ...base };
      break;
    case "Bounce":
      event = { EventID: sesEventId(messageId, "Bounce"), Type: "Bounced", ...base, BounceType: kind["bounceType"] === "Permanent" ? "Hard" : "Soft" };
      break;
    case "Complaint":
      event = { EventID: sesEventId(messageId, "Complaint"), Type: "SpamComplaint", ...base };
      break;
  }
  return { kind: "ingest", type, messageId, userId, event };
}

/** `SesEventsMapped` or `SesEventsDropped`, by Type (ENGINE §10); a Failed mark counts as mapped. */
export function countSesMapping(m: SesMapping): void {
  countBy({ Type: m.type }, m.kind === "dropped" ? "SesEventsDropped" : "SesEventsMapped", "Count", 1);
}

/**
 * Marks the (action, subscriber) email state `Failed` for a Reject or RenderingFailure
 * (§8.3): C§7 has no type for them, and `campaign-events failed` reads this flag. The
 * first failure's time and kind are kept. A state the ingest core has not written yet
 * gets the identity it would write (IDs, MailIndex keys), so `journey.action.subscribers`
 * and a journey's purge find it; and the write only happens while the journey exists,
 * so a failure arriving after `journey.delete` leaves nothing behind. False when the
 * journey is gone.
 */
export async function markFailed(m: Extract<SesMapping, { kind: "failed" }>): Promise<boolean> {
  const { UserID: userId, JourneyID: journeyId, ActionID: actionId, SubscriberID: subscriberId } = m.tags;
  const index = keys.mailIndex(userId, journeyId, actionId, subscriberId);
  const keep = (name: string) => `#${name} = if_not_exists(#${name}, :${name})`;
  const values: Record<string, unknown> = {
    Failed: m.occurredAt,
    FailedBy: m.type,
    SubscriberID: subscriberId,
    ActionID: actionId,
    JourneyID: journeyId,
    ...index,
    ...(m.emailAddress ? { EmailAddress: m.emailAddress } : {}),
  };
  const names = Object.keys(values);
  try {
    await ddb().send(
      new TransactWriteCommand({
        TransactItems: [
          { ConditionCheck: { TableName: tableName(), Key: keys.journey(userId, journeyId), ConditionExpression: "attribute_exists(PK)" } },
          {
            Update: {
              TableName: tableName(),
              Key: keys.emailState(userId, subscriberId, actionId),
              UpdateExpression: `SET ${names.map(keep).join(", ")}`,
              ExpressionAttributeNames: Object.fromEntries(names.map((n) => [`#${n}`, n])),
              ExpressionAttributeValues: Object.fromEntries(names.map((n) => [`:${n}`, values[n]])),
            },
          },
        ],
      }),
    );
    return true;
  } catch (err) {
    if (isAwsError(err, "TransactionCanceledException")) {
      const reasons = (err as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
      if (reasons[0]?.Code === "ConditionalCheckFailed") return false;
    }
    throw err;
  }
}
