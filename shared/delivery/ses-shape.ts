import { randomUUID } from "node:crypto";

/**
 * SES's sending events as Amazon EventBridge delivers them from a configuration set's
 * event destination (ENGINE §8.3): `source` "aws.ses", a `detail-type` per kind, and a
 * `detail` holding SES's event record (`eventType`, `mail`, and the kind's own object).
 *
 * Built here, once, for everything that has to speak SES without SES: the local sender
 * (`DELIVERY_MODE=local`, shared/delivery/local-ses.ts), the local route that injects
 * engagement (`POST /_local/ses/events`) and the tests. The adapter
 * (shared/delivery/ses-events.ts) reads these fields and no others, so a field added
 * here must be one SES itself fills.
 */

/** The kinds the configuration set publishes (§10), in this product's spelling. */
export const SES_EVENT_TYPES = ["Send", "Delivery", "Open", "Click", "Bounce", "Complaint", "Reject", "RenderingFailure"] as const;
export type SesEventType = (typeof SES_EVENT_TYPES)[number];

/** EventBridge's `detail-type` for each kind. */
export const SES_DETAIL_TYPES: Record<SesEventType, string> = {
  Send: "Email Sent",
  Delivery: "Email Delivered",
  Open: "Email Opened",
  Click: "Email Clicked",
  Bounce: "Email Bounced",
  Complaint: "Email Complaint Received",
  Reject: "Email Rejected",
  RenderingFailure: "Email Rendering Failed",
};

/** SES's own `eventType` values: only the rendering failure is spelt differently (with a space). */
export const SES_EVENT_TYPE_NAMES: Record<SesEventType, string> = {
  Send: "Send",
  Delivery: "Delivery",
  Open: "Open",
  Click: "Click",
  Bounce: "Bounce",
  Complaint: "Complaint",
  Reject: "Reject",
  RenderingFailure: "Rendering Failure",
};

/** The message-tag name SES adds to every message sent with a configuration set. */
export const CONFIGURATION_SET_TAG = "ses:configuration-set";

export type BounceType = "Permanent" | "Transient" | "Undetermined";

/** One message, as SES knows it once `SendEmail` was accepted. */
export interface SesMail {
  messageId: string;
  /** When SES accepted it: `mail.timestamp`, and the Send event's own time. */
  sentAt: Date;
  /** `"Name <email>"` or a bare address. */
  from: string;
  /** The To header: always exactly the subscriber here (§8.1). */
  to: string[];
  cc?: string[];
  bcc?: string[];
  subject: string;
  /** The message tags given to SendEmail (UserID, JourneyID, ActionID, SubscriberID, EntryID). */
  tags: Record<string, string>;
  configurationSet: string;
  region?: string;
  account?: string;
}

export interface SesEventDetailInput {
  type: SesEventType;
  /** The event's own time; Send uses `mail.sentAt`. */
  at?: Date;
  /** Delivery, Bounce, Complaint: who it concerns (default: the To addresses). */
  recipients?: string[];
  /** Bounce only (default Permanent). */
  bounceType?: BounceType;
  /** Bounce only: SES's sub-type, e.g. `OnAccountSuppressionList` (default: General, or Undetermined). */
  bounceSubType?: string;
  /** Click only. */
  link?: string;
  /** EventBridge's event id; random by default. A redelivery carries the same whole event. */
  id?: string;
}

export interface SesEventBridgeEvent {
  version: "0";
  id: string;
  "detail-type": string;
  source: "aws.ses";
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, unknown>;
}

/** The bare address of `"Name <a@b>"` (or the value itself). */
export function addressOf(value: string): string {
  const m = /<([^<>]*)>\s*$/.exec(value);
  return (m ? m[1]! : value).trim();
}

const iso = (d: Date) => d.toISOString();

/** SES's `mail` object: headers as sent, `commonHeaders`, destination (To, CC and BCC) and tags as value arrays. */
function mailObject(mail: SesMail, account: string): Record<string, unknown> {
  const cc = mail.cc ?? [];
  const bcc = mail.bcc ?? [];
  const fromAddress = addressOf(mail.from);
  const tags: Record<string, string[]> = {
    [CONFIGURATION_SET_TAG]: [mail.configurationSet],
    "ses:source-ip": ["127.0.0.1"],
    "ses:from-domain": [fromAddress.slice(fromAddress.lastIndexOf("@") + 1)],
    "ses:caller-identity": ["journey-api"],
  };
  for (const [name, value] of Object.entries(mail.tags)) tags[name] = [value];
  const headers = [
    { name: "From", value: mail.from },
    { name: "To", value: mail.to.join(", ") },
    ...(cc.length > 0 ? [{ name: "Cc", value: cc.join(", ") }] : []),
    { name: "Subject", value: mail.subject },
    { name: "MIME-Version", value: "1.0" },
  ];
  return {
    timestamp: iso(mail.sentAt),
    source: mail.from,
    sendingAccountId: account,
    messageId: mail.messageId,
    // SES lists every envelope recipient here: To, CC and BCC alike.
    destination: [...mail.to, ...cc, ...bcc],
    headersTruncated: false,
    headers,
    commonHeaders: {
      from: [mail.from],
      to: [...mail.to],
      ...(cc.length > 0 ? { cc: [...cc] } : {}),
      messageId: mail.messageId,
      subject: mail.subject,
    },
    tags,
  };
}

/** The kind's own object, as SES fills it (the fields the adapter reads, and a few more for realism). */
function kindObject(mail: SesMail, e: SesEventDetailInput, at: Date): [string, Record<string, unknown>] {
  const recipients = e.recipients ?? mail.to.map(addressOf);
  switch (e.type) {
    case "Send":
      return ["send", {}];
    case "Delivery":
      return [
        "delivery",
        {
          timestamp: iso(at),
          processingTimeMillis: Math.max(0, at.getTime() - mail.sentAt.getTime()),
          recipients,
          smtpResponse: "250 2.6.0 Message received",
          reportingMTA: "local.journey-api",
        },
      ];
    case "Open":
      return ["open", { timestamp: iso(at), ipAddress: "127.0.0.1", userAgent: "journey-api-local" }];
    case "Click":
      return ["click", { timestamp: iso(at), ipAddress: "127.0.0.1", userAgent: "journey-api-local", link: e.link ?? "", linkTags: {} }];
    case "Bounce": {
      const bounceType = e.bounceType ?? "Permanent";
      return [
        "bounce",
        {
          bounceType,
          bounceSubType: e.bounceSubType ?? (bounceType === "Undetermined" ? "Undetermined" : "General"),
          bouncedRecipients: recipients.map((emailAddress) => ({
            emailAddress,
            action: "failed",
            status: bounceType === "Permanent" ? "5.1.1" : "4.4.7",
            diagnosticCode: bounceType === "Permanent" ? "smtp; 550 5.1.1 user unknown" : "smtp; 421 4.4.7 try again later",
          })),
          timestamp: iso(at),
          feedbackId: `${mail.messageId}-bounce`,
          reportingMTA: "dns; local.journey-api",
        },
      ];
    }
    case "Complaint":
      return [
        "complaint",
        {
          complainedRecipients: recipients.map((emailAddress) => ({ emailAddress })),
          timestamp: iso(at),
          feedbackId: `${mail.messageId}-complaint`,
          complaintFeedbackType: "abuse",
          arrivalDate: iso(at),
        },
      ];
    case "Reject":
      return ["reject", { reason: "Bad content" }];
    case "RenderingFailure":
      return ["failure", { errorMessage: "Rendering failed", templateName: "" }];
  }
}

/** One SES event for `mail`, wrapped as EventBridge delivers it from the default bus. */
export function sesEvent(mail: SesMail, e: SesEventDetailInput): SesEventBridgeEvent {
  const account = mail.account ?? "000000000000";
  const region = mail.region ?? "us-east-1";
  // Reject and RenderingFailure carry no time of their own; EventBridge's `time` is then when SES published.
  const at = e.type === "Send" ? mail.sentAt : (e.at ?? new Date());
  const [field, body] = kindObject(mail, e, at);
  return {
    version: "0",
    id: e.id ?? randomUUID(),
    "detail-type": SES_DETAIL_TYPES[e.type],
    source: "aws.ses",
    account,
    time: iso(at),
    region,
    resources: [`arn:aws:ses:${region}:${account}:configuration-set/${mail.configurationSet}`],
    detail: { eventType: SES_EVENT_TYPE_NAMES[e.type], mail: mailObject(mail, account), [field]: body },
  };
}
