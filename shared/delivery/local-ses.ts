import { randomUUID } from "node:crypto";
import { loadConfig } from "../config.js";
import { sendMessage } from "../domain/sqs-send.js";
import { faultOf, logger } from "../observability.js";
import { parseDateTime } from "../time.js";
import { appendOutbox, type OutboxMessage } from "./local-outbox.js";
import type { EmailMessage, SendResult } from "./model.js";
import { addressOf, sesEvent, type SesEventBridgeEvent, type SesEventDetailInput, type SesMail } from "./ses-shape.js";

/** The configuration set the local stack names when the environment names none (ENGINE §9). */
export const LOCAL_CONFIGURATION_SET = "journey-local";

/**
 * SES's mailbox simulator (as SES acts on it): `bounce@` and `suppressionlist@` hard-bounce
 * with no delivery, `complaint@` is delivered and then complained about. A `+label` is
 * allowed, as SES allows it.
 */
export type SimulatorOutcome = "deliver" | "bounce" | "suppressed" | "complaint";

export function simulatorOutcome(to: string): SimulatorOutcome {
  const m = /^([a-z]+)(?:\+[^@]*)?@simulator\.amazonses\.com$/.exec(addressOf(to).toLowerCase());
  switch (m?.[1]) {
    case "bounce":
      return "bounce";
    case "suppressionlist":
      return "suppressed";
    case "complaint":
      return "complaint";
    default:
      return "deliver";
  }
}

/** The message as SES knows it, from its outbox entry (`/_local/ses/events` builds on this). */
export function sesMailOf(message: OutboxMessage): SesMail {
  const sentAt = parseDateTime(message.At) ?? new Date();
  return {
    messageId: message.MessageId,
    sentAt,
    from: message.From,
    to: [...message.To],
    cc: [...(message.CC ?? [])],
    bcc: [...(message.BCC ?? [])],
    subject: message.Subject ?? "",
    tags: { ...message.Tags },
    configurationSet: loadConfig().SES_CONFIGURATION_SET ?? LOCAL_CONFIGURATION_SET,
    region: loadConfig().AWS_REGION,
  };
}

/** Puts SES events on the SES events queue one message each, in order, as the EventBridge rule's target does. */
export async function putLocalSesEvents(events: readonly SesEventBridgeEvent[]): Promise<void> {
  const url = loadConfig().SES_EVENTS_QUEUE_URL;
  if (!url) throw new Error("SES_EVENTS_QUEUE_URL is not set");
  for (const e of events) await sendMessage(url, JSON.stringify(e));
}

/** What SES publishes after accepting a message: Send, then Delivery, or the simulator's outcome. */
export function eventsAfterSend(mail: SesMail, at: Date): SesEventBridgeEvent[] {
  const outcome = simulatorOutcome(mail.to[0] ?? "");
  const after: SesEventDetailInput[] =
    outcome === "bounce"
      ? [{ type: "Bounce", at, bounceType: "Permanent" }]
      : outcome === "suppressed"
        ? [{ type: "Bounce", at, bounceType: "Permanent", bounceSubType: "OnAccountSuppressionList" }]
        : outcome === "complaint"
          ? [{ type: "Delivery", at }, { type: "Complaint", at }]
          : [{ type: "Delivery", at }];
  return [sesEvent(mail, { type: "Send" }), ...after.map((e) => sesEvent(mail, e))];
}

/**
 * The local sender for email (ENGINE §9, `DELIVERY_MODE=local`): the message goes to
 * the local outbox, and SES-shaped events follow through the same adapter as on AWS.
 * `at` is the product clock's epoch second: the events carry product time, so a test
 * that moved the clock sees its statistics on the day it moved to.
 */
export async function localSendEmail(msg: EmailMessage, at: number): Promise<SendResult> {
  const messageId = `local-${randomUUID()}`;
  const stored = appendOutbox(
    {
      Channel: "email",
      MessageId: messageId,
      From: msg.From,
      ReplyTo: msg.ReplyTo,
      To: [msg.To],
      CC: msg.CC,
      BCC: msg.BCC,
      Subject: msg.Subject,
      HTMLBody: msg.HTMLBody ?? "",
      TextBody: msg.TextBody ?? "",
      Headers: msg.Headers,
      Tags: msg.Tags,
    },
    at,
  );
  try {
    await putLocalSesEvents(eventsAfterSend(sesMailOf(stored), new Date(at * 1000)));
  } catch (err) {
    // SES had accepted the message by now; a lost event is SES's publishing failing, not the send.
    logger().error("local SES events not queued", { sesMessageId: messageId, error: faultOf(err) });
  }
  return { kind: "accepted", messageId };
}
