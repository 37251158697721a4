import { loadConfig } from "../config.js";
import { countBy, logger } from "../observability.js";
import { sendMessage } from "../domain/sqs-send.js";
import type { Item } from "../domain/owned.js";
import { formatDateTime } from "../time.js";
import { productEpoch } from "../clock.js";
import { prepareEmail, sendEmail } from "../delivery/email.js";
import type { SendResult } from "../delivery/model.js";
import { sesEventId } from "../delivery/ses-events.js";
import { unsubscribeUrl } from "../delivery/unsubscribe-token.js";
import { postWebhook, webhookBody, webhookDeliveryId } from "../delivery/webhook.js";
import { prepareSms, sendSms } from "../delivery/sms.js";
import { smsDueAt } from "./window.js";
import { record } from "./cursor.js";
import { InjectedFault, takeFault } from "./faults.js";
import { registerDeliverySteps } from "./intent.js";
import type { Cursor, StepRecord } from "./model.js";
import { passed, stepDone, sub, type ActionContext } from "./step-actions.js";

/**
 * The delivery steps (ENGINE §7, §8): SendEmail, SendSMS and Webhook are **at most
 * once**. A step first decides everything it can without sending (content, sender,
 * suppression); a skip or failure is recorded like any internal step. Otherwise it
 * records an intent and moves the cursor past the action, and the runner writes that
 * before it makes the one call. The call's answer is recorded in memory and folded
 * into the cursor's next write, so a send costs the cursor one write.
 */

/** Throttled re-parks of one action before it is `Failed Throttled` (§8.2). */
const MAX_THROTTLES = 5;

export type Channel = "email" | "sms" | "webhook";

/** Why a subscriber is not sendable (§3.1): the held reason, else its SubscriptionStatus; undefined when sendable. */
export function suppressedBy(s: Item): string | undefined {
  if (typeof s["SuppressedBy"] === "string" && s["SuppressedBy"] !== "") return s["SuppressedBy"];
  if (s["SubscriptionStatus"] !== "Subscribed") return String(s["SubscriptionStatus"] ?? "Unsubscribed");
  return undefined;
}

/** The message tags every send carries, read back by the SES events adapter (§8.1, §8.3). */
export const sendTags = (c: Cursor, actionId: number): Record<string, string> => ({
  UserID: String(c.UserID),
  JourneyID: String(c.JourneyID),
  ActionID: String(actionId),
  SubscriberID: String(c.SubscriberID),
  EntryID: c.EntryID,
});

/** Records the intent and moves past the action; the runner writes it, then calls. */
function intend(ctx: ActionContext, call: () => Promise<void>): void {
  const { chain, action } = ctx;
  const c = chain.c;
  c.Intent = { ActionID: action.ActionID, Action: action.Action, At: chain.now };
  c.Passed += 1;
  c.ActionID = chain.loaded.tree.next(action.ActionID);
  c.Started = false;
  chain.external = { ctx, call };
}

/** A step's result record, once its call has answered (the cursor is already past the action). */
function result(ctx: ActionContext, outcome: StepRecord["Outcome"], reason: string, detail: Record<string, unknown>): void {
  const { chain, action } = ctx;
  chain.c.Steps.push(record(chain.now, action.ActionID, action.Action, outcome, reason, detail));
  stepDone(ctx, outcome, reason);
}

/**
 * Records a channel's answer (§8.2): accepted is Done; a definite refusal releases
 * the intent as Failed; throttling re-parks the cursor on the action with
 * exponential back-off (60 s × 2^(n−1)), `Failed Throttled` after 5; no answer may
 * have sent, so it is Unconfirmed and never retried.
 */
function settle(ctx: ActionContext, channel: Channel, answer: SendResult, done: Record<string, unknown>): void {
  const { chain, action } = ctx;
  const c = chain.c;
  chain.now = Math.max(chain.now, productEpoch());
  delete c.Intent;
  const rejected = channel === "sms" ? "SmsRejected" : "SesRejected";
  switch (answer.kind) {
    case "accepted":
      delete c.Throttles;
      countBy({ Channel: channel }, "SendsAccepted", "Count", 1);
      return result(ctx, "Done", "", { MessageId: answer.messageId, ...done });
    case "refused":
      delete c.Throttles;
      countBy({ Channel: channel }, "SendsRefused", "Count", 1);
      return result(ctx, "Failed", rejected, { Code: answer.code, ...(answer.message ? { Message: answer.message } : {}) });
    case "noAnswer":
      delete c.Throttles;
      countBy({ Channel: channel }, "SendsUnconfirmed", "Count", 1);
      return result(ctx, "Unconfirmed", "NoAnswer", { Error: answer.error });
    case "throttled": {
      countBy({ Channel: channel }, "SendsThrottled", "Count", 1);
      const n = (c.Throttles ?? 0) + 1;
      if (n > MAX_THROTTLES) {
        delete c.Throttles;
        return result(ctx, "Failed", "Throttled", { Code: answer.code, Attempts: n });
      }
      // Back on the action: nothing was sent, so the next try is a fresh step with a fresh intent.
      c.ActionID = action.ActionID;
      c.Passed -= 1;
      c.Throttles = n;
      c.DueAt = chain.now + 60 * 2 ** (n - 1);
      chain.stop = true;
      return result(ctx, "Deferred", "Throttled", { Code: answer.code, Attempt: n, Until: formatDateTime(new Date(c.DueAt * 1000)) });
    }
  }
}

/**
 * After SES accepts, the runner records Sent itself, under the EventID the SES
 * events adapter derives from SES's own Send event (§8.3), so it counts once
 * whichever arrives first. A failed send here is left to SES's Send event.
 */
async function sendSent(c: Cursor, actionId: number, messageId: string, at: number): Promise<void> {
  const url = loadConfig().EVENTS_QUEUE_URL;
  if (!url) return;
  const event = {
    EventID: sesEventId(messageId, "Send"),
    Type: "Sent",
    JourneyID: c.JourneyID,
    ActionID: actionId,
    SubscriberID: c.SubscriberID,
    EmailAddress: c.EmailAddress,
    OccurredAt: formatDateTime(new Date(at * 1000)),
  };
  try {
    await sendMessage(url, JSON.stringify({ UserID: c.UserID, Events: [event] }));
  } catch (err) {
    logger().warn("Sent event left to SES's Send event", { entryId: c.EntryID, actionId, error: (err as Error).name });
  }
}

/** SendEmail (§8.1–§8.2). */
export async function sendEmailStep(ctx: ActionContext): Promise<void> {
  const { chain, action } = ctx;
  const c = chain.c;
  const subscriber = sub(chain);
  const decision = await prepareEmail({
    userId: c.UserID,
    params: action.ActionParameters,
    subscriber,
    tags: sendTags(c, action.ActionID),
    unsubscribeUrl: () => unsubscribeUrl(c.UserID, c.SubscriberID, c.JourneyID, action.ActionID),
  });
  if (decision.kind !== "send") return passed(ctx, decision.kind === "skip" ? "Skipped" : "Failed", decision.reason, decision.detail);
  const held = suppressedBy(subscriber);
  if (held) {
    countBy({ Channel: "email" }, "SendsSuppressed", "Count", 1);
    return passed(ctx, "Skipped", "Suppressed", { SuppressedBy: held });
  }
  intend(ctx, async () => {
    const answer = await sendEmail(decision.message);
    if (answer.kind === "accepted") {
      if (takeFault("after-send")) throw new InjectedFault("after-send");
      await sendSent(c, action.ActionID, answer.messageId, productEpoch());
    }
    settle(ctx, "email", answer, { EmailID: decision.emailId });
  });
}

/**
 * SendSMS (§8.5): like SendEmail, plus its delivery window in its own time zone:
 * outside it the cursor stays on the action until the window opens (`Deferred
 * OutsideWindow`), and the step is decided afresh then.
 */
export async function sendSmsStep(ctx: ActionContext): Promise<void> {
  const { chain, action } = ctx;
  const c = chain.c;
  const subscriber = sub(chain);
  const decision = prepareSms({ userId: c.UserID, params: action.ActionParameters, subscriber, tags: sendTags(c, action.ActionID) });
  if (decision.kind !== "send") return passed(ctx, decision.kind === "skip" ? "Skipped" : "Failed", decision.reason, decision.detail);
  const held = suppressedBy(subscriber);
  if (held) {
    countBy({ Channel: "sms" }, "SendsSuppressed", "Count", 1);
    return passed(ctx, "Skipped", "Suppressed", { SuppressedBy: held });
  }
  const { dueAt } = smsDueAt(chain.now, action.ActionParameters);
  if (dueAt > chain.now) {
    c.DueAt = dueAt;
    c.Started = false;
    chain.stop = true;
    return result(ctx, "Deferred", "OutsideWindow", { Until: formatDateTime(new Date(dueAt * 1000)) });
  }
  intend(ctx, async () => {
    const answer = await sendSms(decision.message, decision.maxRetries);
    if (answer.kind === "accepted" && takeFault("after-send")) throw new InjectedFault("after-send");
    settle(ctx, "sms", answer, {});
  });
}

/**
 * Webhook (§8.6): the intent is written before the first attempt; the client's own
 * retries (a timeout, a reset, 429, 5xx) are the only way a receiver sees one
 * DeliveryID twice. The journey goes on either way.
 */
export async function webhookStep(ctx: ActionContext): Promise<void> {
  const { chain, action } = ctx;
  const c = chain.c;
  const url = String(action.ActionParameters["WebhookURL"] ?? "").trim();
  if (!url) return passed(ctx, "Skipped", "NotConfigured");
  const subscriber = sub(chain);
  intend(ctx, async () => {
    const body = webhookBody({
      userId: c.UserID,
      journeyId: c.JourneyID,
      journeyName: chain.loaded.journey.JourneyName,
      actionId: action.ActionID,
      entryId: c.EntryID,
      subscriber,
      occurredAt: new Date(productEpoch() * 1000),
    });
    const answer = await postWebhook(url, body, webhookDeliveryId(c.EntryID, action.ActionID));
    chain.now = Math.max(chain.now, productEpoch());
    if (answer.reason === "SsrfRefused" || answer.reason === "SchemeRefused") countBy({ Reason: answer.reason }, "WebhookRefused", "Count", 1);
    else if (answer.detail.Status !== undefined) countBy({ StatusClass: `${Math.floor(answer.detail.Status / 100)}xx` }, "WebhookCalls", "Count", 1);
    else countBy({ StatusClass: answer.reason }, "WebhookCalls", "Count", 1);
    delete c.Intent;
    result(ctx, answer.outcome, answer.outcome === "Done" ? "" : answer.reason, { ...answer.detail });
  });
}

// Delivery runs only in the runner: its handler imports this module, which registers the
// three steps, so no API function bundles the SES and SMS clients (step-actions.ts).
registerDeliverySteps({ SendEmail: sendEmailStep, SendSMS: sendSmsStep, Webhook: webhookStep });
