import { formatDateTime } from "../time.js";

/**
 * The local sender's outbox (ENGINE §9): under `DELIVERY_MODE=local` every email and
 * SMS lands here instead of SES or SMS, and `/_local/outbox` reads it. In memory,
 * the last 50,000 messages, empty after a restart. Process-wide (as shared/clock.ts
 * is) because the local routes and the handlers may load separate module instances.
 */
export interface OutboxMessage {
  Seq: number;
  Channel: "email" | "sms";
  MessageId: string;
  At: string;
  From: string;
  /** Email: `[subscriber]`; SMS: `[phone number]`. */
  To: string[];
  Tags: Record<string, string>;
  // Email only.
  ReplyTo?: string[];
  CC?: string[];
  BCC?: string[];
  Subject?: string;
  HTMLBody?: string;
  TextBody?: string;
  Headers?: Record<string, string>;
  // SMS only.
  Body?: string;
  MessageType?: string;
}

export const OUTBOX_KEPT = 50_000;

interface Store {
  seq: number;
  messages: OutboxMessage[];
}

const store = ((globalThis as { __journeyOutbox?: Store }).__journeyOutbox ??= { seq: 0, messages: [] });

/** Appends a message, numbering it; the oldest fall off past 50,000. */
export function appendOutbox(message: Omit<OutboxMessage, "Seq" | "At">, at: number): OutboxMessage {
  const stored: OutboxMessage = { Seq: ++store.seq, At: formatDateTime(new Date(at * 1000)), ...message };
  store.messages.push(stored);
  if (store.messages.length > OUTBOX_KEPT) store.messages.splice(0, store.messages.length - OUTBOX_KEPT);
  return stored;
}

export interface OutboxQuery {
  Channel?: "email" | "sms";
  To?: string;
  JourneyID?: number;
  SubscriberID?: number;
  AfterSeq?: number;
}

/** The messages matching every given filter, in ascending Seq. */
export function readOutbox(q: OutboxQuery = {}): { Messages: OutboxMessage[]; LastSeq: number } {
  const to = q.To?.toLowerCase();
  const messages = store.messages.filter(
    (m) =>
      (q.Channel === undefined || m.Channel === q.Channel) &&
      (to === undefined || m.To.some((t) => t.toLowerCase() === to)) &&
      (q.JourneyID === undefined || m.Tags["JourneyID"] === String(q.JourneyID)) &&
      (q.SubscriberID === undefined || m.Tags["SubscriberID"] === String(q.SubscriberID)) &&
      (q.AfterSeq === undefined || m.Seq > q.AfterSeq),
  );
  return { Messages: messages, LastSeq: store.seq };
}

/** The message SES would know by this MessageId (the local `/_local/ses/events` route injects events for it). */
export function outboxMessage(messageId: string): OutboxMessage | undefined {
  for (let i = store.messages.length - 1; i >= 0; i--) if (store.messages[i]!.MessageId === messageId) return store.messages[i];
  return undefined;
}

/** Empties the outbox; Seq keeps counting, so `AfterSeq` stays meaningful. */
export function clearOutbox(): number {
  const n = store.messages.length;
  store.messages.length = 0;
  return n;
}
