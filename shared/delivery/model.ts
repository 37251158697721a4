/**
 * Delivery's shared vocabulary (ENGINE §8): what a channel is asked to send, and
 * what it answers. Every channel (SES, SMS, the local sender) maps its own answer
 * onto `SendResult`, so the runner's at-most-once rules (§8.2) are written once.
 */

/** One email as SES v2's `SendEmail` takes it (one To, always: the subscriber). */
export interface EmailMessage {
  /** `"Name <email>"`, the name RFC 2047-encoded where it is not ASCII. */
  From: string;
  ReplyTo: string[];
  To: string;
  CC: string[];
  BCC: string[];
  Subject: string;
  HTMLBody?: string;
  TextBody?: string;
  /** List-Unsubscribe and List-Unsubscribe-Post (§8.4). */
  Headers: Record<string, string>;
  /** UserID, JourneyID, ActionID, SubscriberID, EntryID: SES message tags, read back by the adapter (§8.3). */
  Tags: Record<string, string>;
}

/** One SMS as `SendTextMessage` takes it (§8.5). */
export interface SmsMessage {
  /** The origination identity: a phone number, a pool ARN or a sender ID ARN. */
  From: string;
  To: string;
  Body: string;
  MessageType: "TRANSACTIONAL" | "PROMOTIONAL";
  ConfigurationSet?: string;
  /** UserID, JourneyID, ActionID, SubscriberID, EntryID. */
  Tags: Record<string, string>;
}

/**
 * A channel's answer to one attempt (§8.2):
 * - `accepted`: the provider took the message;
 * - `refused`: a definite refusal (an error answer other than 5xx or throttling); nothing was sent;
 * - `throttled`: the provider asked us to slow down; nothing was sent;
 * - `noAnswer`: a timeout, a reset or a 5xx; it may have been sent, so it is never retried.
 */
export type SendResult =
  | { kind: "accepted"; messageId: string }
  | { kind: "refused"; code: string; message?: string }
  | { kind: "throttled"; code: string }
  | { kind: "noAnswer"; error: string };
