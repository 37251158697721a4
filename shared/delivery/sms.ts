import { randomUUID } from "node:crypto";
import type { PinpointSMSVoiceV2Client, SendTextMessageCommandInput } from "@aws-sdk/client-pinpoint-sms-voice-v2";
import { productEpoch } from "../clock.js";
import { cjsExports } from "../cjs-exports.js";
import type { Item } from "../domain/owned.js";
import { appendOutbox } from "./local-outbox.js";
import type { SendResult, SmsMessage } from "./model.js";
import { classifySendError } from "./send-errors.js";
import { personalise, valuesOf } from "./personalise.js";
import { parseSmsGateways, type SmsGateways } from "./sms-gateways.js";

/**
 * SendSMS through AWS End User Messaging SMS (ENGINE §8.5), in two halves the runner
 * calls around its intent write (§8.2):
 * - `prepareSms` decides, with no I/O, whether and what to send: the phone number, the
 *   gateway and sender, the body. Sendability (§3.1) and the delivery window (§6) are
 *   the runner's, since both need the item's state and the clock.
 * - `sendSms` makes the call (or, under `DELIVERY_MODE=local`, writes the local outbox)
 *   and maps the answer onto `SendResult`.
 */

/**
 * The gateways, parsed once when the module loads: a malformed `SMS_GATEWAYS` throws
 * here, so the runner fails at cold start instead of failing every SendSMS step.
 */
export const SMS_GATEWAYS: SmsGateways = parseSmsGateways(process.env["SMS_GATEWAYS"]);
/** Name or ARN; unset sends without a configuration set. */
const CONFIGURATION_SET = process.env["SMS_CONFIGURATION_SET"]?.trim() || undefined;

/** `max_retry_attempts`: in-step retries of a throttled call (§8.5). */
export const SMS_MAX_RETRIES = 3;
export const SMS_DEFAULT_RETRIES = 2;
/** The waits before each in-step retry: 1 s, 2 s, 4 s. */
export const SMS_RETRY_DELAYS_MS = [1000, 2000, 4000] as const;
/** §8.2: one attempt per call, and no call outlives 10 s. */
export const SMS_REQUEST_TIMEOUT_MS = 10_000;

export type SmsDecision =
  | { kind: "skip" | "fail"; reason: string; detail?: Record<string, unknown> }
  | { kind: "send"; message: SmsMessage; maxRetries: number };

export interface PrepareSmsInput {
  userId: number;
  /** The SendSMS action's stored ActionParameters. */
  params: Record<string, unknown>;
  /** The subscriber item as stored (EmailAddress, SubscriberID, CustomFields, PhoneNumber). */
  subscriber: Item;
  /** UserID, JourneyID, ActionID, SubscriberID, EntryID: the call's Context and the outbox's Tags. */
  tags: Record<string, string>;
}

/** A parameter by name; stored parameters are canonical, but trees copied from older code may differ in case. */
function param(params: Record<string, unknown>, name: string): unknown {
  if (name in params) return params[name];
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(params)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

function toBool(v: unknown, fallback: boolean): boolean {
  if (v === undefined || v === null || v === "") return fallback;
  if (v === true || v === 1) return true;
  return typeof v === "string" && ["1", "true", "yes", "on"].includes(v.trim().toLowerCase());
}

const text = (v: unknown): string => (typeof v === "string" ? v : typeof v === "number" ? String(v) : "");

/** `max_retry_attempts`, clamped to 0–3; absent or unreadable, 2. */
function retriesOf(v: unknown): number {
  const n = typeof v === "number" ? v : typeof v === "string" && /^\s*\d+\s*$/.test(v) ? Number(v) : undefined;
  if (n === undefined || !Number.isInteger(n) || n < 0) return SMS_DEFAULT_RETRIES;
  return Math.min(n, SMS_MAX_RETRIES);
}

/**
 * `link_url` with the action's non-empty `utm_source`, `utm_medium` and `utm_campaign`.
 * String surgery rather than `URL`, so that the rest of the link stays byte for byte what
 * the journey's author wrote (URL would re-encode the existing query and normalise the
 * path): a UTM key already in the query is replaced, the others kept, the fragment last.
 */
export function linkWithUtm(url: string, utm: Record<string, string>): string {
  const set = Object.entries(utm).filter(([, v]) => v !== "");
  if (set.length === 0) return url;
  const hashAt = url.indexOf("#");
  const fragment = hashAt === -1 ? "" : url.slice(hashAt);
  const beforeHash = hashAt === -1 ? url : url.slice(0, hashAt);
  const queryAt = beforeHash.indexOf("?");
  const base = queryAt === -1 ? beforeHash : beforeHash.slice(0, queryAt);
  const existing = queryAt === -1 ? [] : beforeHash.slice(queryAt + 1).split("&").filter((p) => p !== "");
  const replaced = new Set(set.map(([k]) => k));
  const keyOf = (pair: string): string => {
    const raw = pair.split("=", 1)[0]!;
    try {
      return decodeURIComponent(raw.replace(/\+/g, " "));
    } catch {
      return raw;
    }
  };
  const kept = existing.filter((p) => !replaced.has(keyOf(p)));
  const added = set.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
  return `${base}?${[...kept, ...added].join("&")}${fragment}`;
}

/** The message body: `message` with its tags filled in, then the link when `include_link` asks for one. */
function bodyOf(params: Record<string, unknown>, subscriber: Item): string {
  let body = personalise(text(param(params, "message")), valuesOf(subscriber), { sms: true });
  const link = text(param(params, "link_url")).trim();
  if (toBool(param(params, "include_link"), false) && link !== "") {
    const url = linkWithUtm(link, {
      utm_source: text(param(params, "link_utm_source")).trim(),
      utm_medium: text(param(params, "link_utm_medium")).trim(),
      utm_campaign: text(param(params, "link_utm_campaign")).trim(),
    });
    // One space between text and link, none when the text is empty or already ends in white space.
    body = body === "" || /\s$/.test(body) ? `${body}${url}` : `${body} ${url}`;
  }
  return body;
}

/** Context values must be 1–800 characters with no white space at either end (SendTextMessage's rule). */
function contextOf(tags: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(tags)) {
    const value = String(v).trim().slice(0, 800).trim();
    if (k.trim() !== "" && value !== "") out[k] = value;
  }
  return out;
}

/**
 * §8.5's decision, in its order: the phone number, the gateway (0 or absent selects
 * entry "0", §13.12), the user, the sender ID, then the body. Skips and failures carry
 * the step record's Reason and Detail.
 */
export function prepareSms(input: PrepareSmsInput, gateways: SmsGateways = SMS_GATEWAYS): SmsDecision {
  const { params, subscriber, userId } = input;

  const phone = text(subscriber["PhoneNumber"]).trim();
  if (phone === "") {
    return toBool(param(params, "skip_if_no_phone"), true) ? { kind: "skip", reason: "NoPhone" } : { kind: "fail", reason: "NoPhone" };
  }

  const rawId = param(params, "gateway_id");
  const idText = rawId === undefined || rawId === null || rawId === "" ? "0" : text(rawId).trim();
  const gatewayId = /^\d+$/.test(idText) ? String(Number(idText)) : idText;
  const gateway = Object.hasOwn(gateways, gatewayId) ? gateways[gatewayId] : undefined;
  if (!gateway) {
    return gatewayId === "0"
      ? { kind: "skip", reason: "NotConfigured", detail: { GatewayID: 0 } }
      : { kind: "fail", reason: "GatewayUnknown", detail: { GatewayID: /^\d+$/.test(gatewayId) ? Number(gatewayId) : gatewayId } };
  }
  // A user not listed is told the same as for a gateway that does not exist: another
  // user's gateway is not theirs to learn about.
  if (gateway.Users && !gateway.Users.includes(userId)) {
    return { kind: "fail", reason: "GatewayUnknown", detail: { GatewayID: Number(gatewayId) } };
  }

  let from = gateway.OriginationIdentity;
  const senderId = text(param(params, "sender_id")).trim();
  if (senderId !== "") {
    if (!Object.hasOwn(gateway.SenderIds, senderId)) {
      return { kind: "fail", reason: "SenderNotAllowed", detail: { GatewayID: Number(gatewayId), SenderID: senderId } };
    }
    from = gateway.SenderIds[senderId]!;
  }

  const body = bodyOf(params, subscriber);
  // SendTextMessage would refuse an empty body (ValidationException); said here, as
  // SendEmail's EmptyContent (§8.1), the step record names the cause without a call.
  if (body.trim() === "") return { kind: "fail", reason: "EmptyContent" };

  const priority = text(param(params, "priority")).trim().toLowerCase();
  const message: SmsMessage = {
    From: from,
    To: phone,
    Body: body,
    MessageType: priority === "high" ? "TRANSACTIONAL" : "PROMOTIONAL",
    ...(CONFIGURATION_SET ? { ConfigurationSet: CONFIGURATION_SET } : {}),
    Tags: contextOf(input.tags),
  };
  return { kind: "send", message, maxRetries: retriesOf(param(params, "max_retry_attempts")) };
}

/* ------------------------------------------------------------------------------------------------
 * Sending
 * --------------------------------------------------------------------------------------------- */

/**
 * §8.2's classification of a failed `SendTextMessage`, pure so that it can be tested on
 * constructed errors:
 * - an error answer with a 4xx status is definite: nothing was sent. `ThrottlingException`
 *   is `throttled`; anything else `refused`, its code the error's name;
 * - a 5xx, a timeout, a reset, or anything without an HTTP status is `noAnswer`: the
 *   message may have gone out, so it must never be sent again.
 */
export function classifySmsError(err: unknown): Exclude<SendResult, { kind: "accepted" }> {
  return classifySendError(err, ["ThrottlingException"]);
}

/** The one call sendSms makes; a client's `send`, or a test's stand-in. */
export type SendTextMessage = (input: SendTextMessageCommandInput) => Promise<{ MessageId?: string | undefined }>;
export type Sleep = (ms: number) => Promise<void>;

export interface SmsClientOptions {
  /** A test's local server; unset on AWS. */
  endpoint?: string;
  requestTimeoutMs?: number;
}

/**
 * A client as §8.2 wants it: one attempt (an SDK retry after a lost answer would send
 * again) and a 10 s limit on the whole request. `throwOnRequestTimeout` makes that limit
 * an error; without it the Node handler only logs a warning and keeps waiting.
 */
export async function buildSmsClient(opts: SmsClientOptions = {}): Promise<PinpointSMSVoiceV2Client> {
  // Imported on the first send, not at cold start: most runner invocations never send an SMS.
  const { PinpointSMSVoiceV2Client } = cjsExports(await import("@aws-sdk/client-pinpoint-sms-voice-v2"));
  const timeout = opts.requestTimeoutMs ?? SMS_REQUEST_TIMEOUT_MS;
  return new PinpointSMSVoiceV2Client({
    ...(process.env["AWS_REGION"] ? { region: process.env["AWS_REGION"] } : {}),
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    maxAttempts: 1,
    requestHandler: { requestTimeout: timeout, connectionTimeout: Math.min(timeout, 3000), throwOnRequestTimeout: true },
  });
}

let client: Promise<PinpointSMSVoiceV2Client> | undefined;
const defaultSend: SendTextMessage = async (input) => {
  const { SendTextMessageCommand } = cjsExports(await import("@aws-sdk/client-pinpoint-sms-voice-v2"));
  // SMS_ENDPOINT exists for tests only (an SMS double, as SES_ENDPOINT for SES); unset on AWS.
  const endpoint = process.env["SMS_ENDPOINT"];
  return (await (client ??= buildSmsClient(endpoint ? { endpoint } : {}))).send(new SendTextMessageCommand(input));
};
const defaultSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The local sender (ENGINE §9): the message lands in the local outbox, at product time. */
function localSendSms(msg: SmsMessage): SendResult {
  const messageId = `local-${randomUUID()}`;
  appendOutbox(
    { Channel: "sms", MessageId: messageId, From: msg.From, To: [msg.To], Body: msg.Body, MessageType: msg.MessageType, Tags: msg.Tags },
    productEpoch(),
  );
  return { kind: "accepted", messageId };
}

/**
 * Sends one prepared SMS. A throttled call is tried again in-step after 1 s, 2 s and 4 s,
 * up to `maxRetries` times (throttling sent nothing, so a retry cannot duplicate); still
 * throttled, the answer is `throttled` and the runner re-parks (§8.2). Every other
 * answer is final. `deps` lets tests put a fault-injecting call and a recording sleep
 * in place of the SDK client and the timer.
 */
export async function sendSms(message: SmsMessage, maxRetries: number, deps: { send?: SendTextMessage; sleep?: Sleep } = {}): Promise<SendResult> {
  if (process.env["DELIVERY_MODE"] === "local" && !deps.send) return localSendSms(message);
  const send = deps.send ?? defaultSend;
  const sleep = deps.sleep ?? defaultSleep;
  const input: SendTextMessageCommandInput = {
    DestinationPhoneNumber: message.To,
    OriginationIdentity: message.From,
    MessageBody: message.Body,
    MessageType: message.MessageType,
    ...(message.ConfigurationSet ? { ConfigurationSetName: message.ConfigurationSet } : {}),
    ...(Object.keys(message.Tags).length > 0 ? { Context: message.Tags } : {}),
  };
  const retries = Math.max(0, Math.min(Math.trunc(maxRetries), SMS_MAX_RETRIES));
  for (let attempt = 0; ; attempt++) {
    let result: SendResult;
    try {
      const out = await send(input);
      // An answer without a MessageId is malformed, not a refusal: it may have been sent.
      result = out.MessageId ? { kind: "accepted", messageId: out.MessageId } : { kind: "noAnswer", error: "SendTextMessage answered without a MessageId" };
    } catch (err) {
      result = classifySmsError(err);
    }
    if (result.kind !== "throttled" || attempt >= retries) return result;
    await sleep(SMS_RETRY_DELAYS_MS[attempt]!);
  }
}
