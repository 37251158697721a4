import { randomUUID } from "node:crypto";
import { appendOutbox } from "./local-outbox.js";
import type { EmailMessage, SendResult } from "./model.js";

/**
 * The local sender for email (ENGINE §9, `DELIVERY_MODE=local`): the message goes to
 * the local outbox, and SES-shaped events follow through the same adapter as on AWS.
 */
export async function localSendEmail(msg: EmailMessage, at: number): Promise<SendResult> {
  const messageId = `local-${randomUUID()}`;
  appendOutbox(
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
  return { kind: "accepted", messageId };
}
