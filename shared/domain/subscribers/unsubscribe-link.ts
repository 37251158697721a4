import { isIP } from "node:net";
import { loadConfig } from "../../config.js";
import { verifyUnsubscribeToken, type UnsubscribeClaims } from "../../delivery/unsubscribe-token.js";
import { formatDateTime } from "../../time.js";
import { sendMessage } from "../sqs-send.js";
import { changeSubscribers, getSubscriber } from "./subscribers.js";

/**
 * What the one-click unsubscribe link does (ENGINE §8.4), free of HTTP: the handler
 * (functions/unsubscribe) only turns these answers into pages.
 *
 * A link is valid while its token verifies and its subscriber still exists; the
 * subscriber's key holds the token's UserID, so a token naming another user's
 * subscriber finds nothing, exactly as a deleted subscriber does.
 */

/** Thrown inside the read-decide-write when the subscriber went away meanwhile. */
class Gone extends Error {}

/** The claims of a valid link, or undefined ("Link not valid."). Reads, never writes. */
export async function validLink(token: string): Promise<UnsubscribeClaims | undefined> {
  const claims = await verifyUnsubscribeToken(token);
  if (!claims) return undefined;
  return (await getSubscriber(claims.userId, claims.subscriberId)) ? claims : undefined;
}

/**
 * Unsubscribes the link's subscriber: true when done (or already done), false for a
 * link that is not valid. Safe to repeat: the second time nothing changes, nothing
 * fires, and the Unsubscribed event is a duplicate of the first.
 *
 * 1. The status change goes through the same read-decide-write as
 *    `subscriber.unsubscribe` (shared/domain/subscribers/subscribers.ts), so ListUnsubscription
 *    fires from the subscriber's outbox exactly when the status really changes.
 * 2. Then the Unsubscribed event (EventID `unsub:<SubscriberID>:<ActionID>`) goes to
 *    the events queue, whose worker runs the ingest core: it counts UnsubscribeCount
 *    once per (action, subscriber) and sets SuppressedBy (ENGINE §3.1), or rejects the
 *    event silently when the journey or the action is gone. The queue rather than an
 *    in-process ingest: a mail provider's one-click POST is sent once, so the event is
 *    handed to something that retries. It is sent even when the status was already
 *    Unsubscribed: a first POST that failed after its write is completed by the next.
 */
export async function unsubscribeByLink(token: string, sourceIp: string | undefined, now: Date): Promise<boolean> {
  const claims = await verifyUnsubscribeToken(token);
  if (!claims) return false;
  const { userId, subscriberId, journeyId, actionId } = claims;
  const ip = sourceIp && isIP(sourceIp) ? sourceIp : undefined;
  let email: unknown;
  try {
    await changeSubscribers(
      userId,
      [subscriberId],
      (items) => {
        const item = items.get(subscriberId);
        if (!item) throw new Gone();
        email = item["EmailAddress"];
        if (item["SubscriptionStatus"] === "Unsubscribed") return new Map();
        const set = { SubscriptionStatus: "Unsubscribed", UnsubscriptionDate: formatDateTime(now), UnsubscriptionIP: ip };
        return new Map([[subscriberId, { set, fire: [{ Trigger: "ListUnsubscription" as const, Value: Number(item["ListID"]) }] }]]);
      },
      now,
    );
  } catch (err) {
    if (err instanceof Gone) return false;
    throw err;
  }
  const queueUrl = loadConfig().EVENTS_QUEUE_URL;
  if (!queueUrl) throw new Error("Invalid configuration: EVENTS_QUEUE_URL must be set for unsubscribe links");
  const event = {
    EventID: `unsub:${subscriberId}:${actionId}`,
    Type: "Unsubscribed",
    JourneyID: journeyId,
    ActionID: actionId,
    SubscriberID: subscriberId,
    EmailAddress: email,
    OccurredAt: formatDateTime(now),
  };
  await sendMessage(queueUrl, JSON.stringify({ UserID: userId, Events: [event] }));
  return true;
}
