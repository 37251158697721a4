import type { SESv2Client } from "@aws-sdk/client-sesv2";
import type { Item } from "../domain/owned.js";
import { getEmail } from "../domain/emails.js";
import { productEpoch } from "../clock.js";
import { cjsExports } from "../cjs-exports.js";
import { localSendEmail } from "./local-ses.js";
import type { EmailMessage, SendResult } from "./model.js";
import { personalise, valuesOf } from "./personalise.js";
import { classifySendError } from "./send-errors.js";

/**
 * SendEmail through Amazon SES v2 (ENGINE §8.1): what the step decides before its
 * intent write (content, sender, the message itself), and the one SES call.
 */

export interface SenderDomain {
  Domain: string;
  /** Users allowed to send from it; absent means every user. */
  Users?: number[];
}

/** `SENDER_DOMAINS` (stack context → environment), parsed once: a malformed value fails at cold start. */
let domains: Record<string, SenderDomain> | undefined;
export function senderDomains(): Record<string, SenderDomain> {
  if (domains) return domains;
  const raw = process.env["SENDER_DOMAINS"];
  const parsed = raw ? (JSON.parse(raw) as unknown) : {};
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("SENDER_DOMAINS must be a JSON object");
  for (const [id, d] of Object.entries(parsed as Record<string, SenderDomain>)) {
    if (typeof d?.Domain !== "string" || d.Domain === "") throw new Error(`SENDER_DOMAINS["${id}"].Domain must be a domain name`);
    if (d.Users !== undefined && (!Array.isArray(d.Users) || !d.Users.every((u) => Number.isInteger(u)))) {
      throw new Error(`SENDER_DOMAINS["${id}"].Users must be a list of UserIDs`);
    }
  }
  domains = parsed as Record<string, SenderDomain>;
  return domains;
}

/** Tests change the environment between stacks of one process. */
export function resetSenderDomainsForTests(): void {
  domains = undefined;
}

export type Decision =
  | { kind: "skip" | "fail"; reason: string; detail?: Record<string, unknown> }
  | { kind: "send"; message: EmailMessage; emailId: number };

interface Address {
  Name?: unknown;
  Email?: unknown;
}

const addressOf = (v: unknown): Address | undefined => (v && typeof v === "object" && !Array.isArray(v) ? (v as Address) : undefined);
const emailOf = (a: Address | undefined): string => (typeof a?.Email === "string" ? a.Email.trim() : "");

/**
 * `"Name <email>"`: an ASCII name is quoted as RFC 5322 asks when it holds specials;
 * any other is an RFC 2047 encoded word, so SES never mangles it.
 */
export function mailbox(a: Address | undefined): string {
  const email = emailOf(a);
  const name = typeof a?.Name === "string" ? a.Name.replace(/[\r\n]+/g, " ").trim() : "";
  if (!name) return email;
  // eslint-disable-next-line no-control-regex
  if (!/^[\x20-\x7e]*$/.test(name)) return `=?UTF-8?B?${Buffer.from(name, "utf8").toString("base64")}?= <${email}>`;
  if (/^[A-Za-z0-9 !#$%&'*+\-/=?^_`{|}~]*$/.test(name)) return `${name} <${email}>`;
  return `"${name.replace(/["\\]/g, (ch) => `\\${ch}`)}" <${email}>`;
}

const addressList = (v: unknown): string[] =>
  (Array.isArray(v) ? v : v ? [v] : []).map(addressOf).filter((a) => emailOf(a) !== "").map(mailbox);

/** The link every `<a>` to the unsubscribe page carries `ses:no-track` on, so a scanner's prefetch is no Click (§8.1). */
function noTrackUnsubscribe(html: string, url: string): string {
  const escaped = url.replace(/&/g, "&amp;");
  return html.replace(/<a\b([^>]*)>/gi, (tag, attrs: string) => {
    const href = /\bhref\s*=\s*("([^"]*)"|'([^']*)')/i.exec(attrs);
    const value = href?.[2] ?? href?.[3];
    if (value === undefined || (value !== url && value !== escaped) || /\bses:no-track\b/i.test(attrs)) return tag;
    return `<a${attrs} ses:no-track>`;
  });
}

export interface EmailInput {
  userId: number;
  params: Record<string, unknown>;
  subscriber: Item;
  /** UserID, JourneyID, ActionID, SubscriberID, EntryID. */
  tags: Record<string, string>;
  /** Builds the one-click unsubscribe URL (§8.4). */
  unsubscribeUrl: () => Promise<string>;
}

const positiveId = (v: unknown): number => {
  const n = Number(v ?? 0);
  return Number.isInteger(n) && n > 0 ? n : 0;
};

/**
 * Everything SendEmail decides before its intent write, in §8.1's order: the
 * email, its content, the sender; then the message. Suppression is the runner's,
 * on the subscriber it holds, immediately before the intent.
 */
export async function prepareEmail(input: EmailInput): Promise<Decision> {
  const { params, userId } = input;
  const emailId = positiveId(params["EmailID"]);
  if (!emailId) return { kind: "skip", reason: "NotConfigured" };
  const email = await getEmail(userId, emailId);
  if (!email) return { kind: "skip", reason: "MissingRecord", detail: { EmailID: emailId } };
  if (!email.Subject || (!email.HTMLContent && !email.PlainContent)) return { kind: "fail", reason: "EmptyContent", detail: { EmailID: emailId } };

  const domainId = positiveId(params["SenderDomainID"]);
  const domain = senderDomains()[String(domainId)];
  if (!domain) return domainId === 0 ? { kind: "skip", reason: "NotConfigured" } : { kind: "fail", reason: "SenderDomainUnknown", detail: { SenderDomainID: domainId } };
  if (domain.Users && !domain.Users.includes(userId)) return { kind: "fail", reason: "SenderDomainUnknown", detail: { SenderDomainID: domainId } };
  const from = addressOf(params["From"]);
  const fromEmail = emailOf(from);
  if (!fromEmail) return { kind: "skip", reason: "NotConfigured" };
  if (fromEmail.slice(fromEmail.lastIndexOf("@") + 1).toLowerCase() !== domain.Domain.toLowerCase()) {
    return { kind: "fail", reason: "SenderNotAllowed", detail: { From: fromEmail, Domain: domain.Domain } };
  }

  const url = await input.unsubscribeUrl();
  const values = valuesOf(input.subscriber, url);
  const html = email.HTMLContent ? noTrackUnsubscribe(personalise(email.HTMLContent, values, { html: true }), url) : undefined;
  const text = email.PlainContent ? personalise(email.PlainContent, values) : undefined;
  return {
    kind: "send",
    emailId,
    message: {
      From: mailbox(from),
      ReplyTo: addressList(params["ReplyTo"]),
      To: values.EmailAddress,
      CC: addressList(params["CC"]),
      BCC: addressList(params["BCC"]),
      // A subject is one header line: a value must not smuggle a second one.
      Subject: personalise(email.Subject, values).replace(/[\r\n]+/g, " "),
      ...(html !== undefined ? { HTMLBody: html } : {}),
      ...(text !== undefined ? { TextBody: text } : {}),
      Headers: { "List-Unsubscribe": `<${url}>`, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click" },
      Tags: input.tags,
    },
  };
}

let ses: Promise<{ client: SESv2Client; SendEmailCommand: typeof import("@aws-sdk/client-sesv2").SendEmailCommand }> | undefined;
/**
 * One attempt a call (SDK retries would resend) with a 10 s request timeout (§8.2).
 * Imported on the first send, not at cold start: a runner that only waits and tags
 * never evaluates the SES client.
 */
function sesClient() {
  ses ??= import("@aws-sdk/client-sesv2").then(cjsExports).then(({ SESv2Client, SendEmailCommand }) => {
    // SES_ENDPOINT exists for the fault tests only (an SES double that throttles, refuses or hangs); unset on AWS.
    const endpoint = process.env["SES_ENDPOINT"];
    const client = new SESv2Client({
      maxAttempts: 1,
      // throwOnRequestTimeout: without it the Node handler only warns at 10 s and keeps waiting.
      requestHandler: { requestTimeout: 10_000, connectionTimeout: 5_000, throwOnRequestTimeout: true },
      ...(endpoint ? { endpoint, credentials: { accessKeyId: "local", secretAccessKey: "local" } } : {}),
    });
    return { client, SendEmailCommand };
  });
  return ses;
}

/** The one SES call of a step (or the local sender under `DELIVERY_MODE=local`, ENGINE §9). */
export async function sendEmail(msg: EmailMessage): Promise<SendResult> {
  if (process.env["DELIVERY_MODE"] === "local") return localSendEmail(msg, productEpoch());
  const configurationSet = process.env["SES_CONFIGURATION_SET"];
  try {
    const { client, SendEmailCommand } = await sesClient();
    const out = await client.send(
      new SendEmailCommand({
        FromEmailAddress: msg.From,
        Destination: { ToAddresses: [msg.To], CcAddresses: msg.CC, BccAddresses: msg.BCC },
        ReplyToAddresses: msg.ReplyTo,
        Content: {
          Simple: {
            Subject: { Data: msg.Subject, Charset: "UTF-8" },
            Body: {
              ...(msg.HTMLBody !== undefined ? { Html: { Data: msg.HTMLBody, Charset: "UTF-8" } } : {}),
              ...(msg.TextBody !== undefined ? { Text: { Data: msg.TextBody, Charset: "UTF-8" } } : {}),
            },
            Headers: Object.entries(msg.Headers).map(([Name, Value]) => ({ Name, Value })),
          },
        },
        ...(configurationSet ? { ConfigurationSetName: configurationSet } : {}),
        EmailTags: Object.entries(msg.Tags).map(([Name, Value]) => ({ Name, Value })),
      }),
    );
    return out.MessageId ? { kind: "accepted", messageId: out.MessageId } : { kind: "noAnswer", error: "no MessageId in the answer" };
  } catch (err) {
    return classifySendError(err, ["TooManyRequestsException", "LimitExceededException"]);
  }
}
