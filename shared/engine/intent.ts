import { countBy, logger } from "../observability.js";
import { formatDateTime } from "../time.js";
import { record } from "./cursor.js";
import { InjectedFault, takeFault } from "./faults.js";
import type { Chain } from "./runner.js";
import type { ActionContext } from "./step-actions.js";

/**
 * The runner's side of at-most-once delivery (ENGINE §8.2), without the delivery
 * code itself: the intent's recovery and the call after the intent write. The
 * steps (SendEmail, SendSMS, Webhook) live in deliver-step.ts, which only the
 * runner's handler imports; it registers them here. Every other function that
 * imports the engine (enrolment commands, the events worker) never runs a delivery
 * step, so its bundle carries neither the SES nor the SMS client.
 */

export type DeliveryStep = (ctx: ActionContext) => Promise<void>;

// Process-wide (see shared/clock.ts): vitest may load the handler and the runner as separate module instances.
const registry = ((globalThis as { __journeyDeliverySteps?: Map<string, DeliveryStep> }).__journeyDeliverySteps ??= new Map<string, DeliveryStep>());

export function registerDeliverySteps(steps: Record<string, DeliveryStep>): void {
  for (const [action, step] of Object.entries(steps)) registry.set(action, step);
}

/** The registered step for a delivery action; a chain outside the runner has none, which is a wiring bug. */
export function deliveryStep(action: string): DeliveryStep {
  const step = registry.get(action);
  if (!step) throw new Error(`${action} steps run only in the runner (functions/engine), which registers them`);
  return step;
}

/** A call the runner makes once the intent is written. */
export interface External {
  ctx: ActionContext;
  call(): Promise<void>;
}

/** A younger intent's worker may still be in its call (§8.2): its step waits until then. */
export const INTENT_STALE_SECONDS = 120;
/** The call after the intent write; the local fault `after-intent` kills the worker just before it. */
export async function runExternal(external: External): Promise<void> {
  if (takeFault("after-intent")) throw new InjectedFault("after-intent");
  await external.call();
}

/**
 * A recovered cursor holding an intent with no result (§8.2): its worker died
 * around the call. Older than INTENT_STALE_SECONDS, it is recorded `Unconfirmed
 * IntentWithoutResult` and the journey goes on without sending; younger, the
 * worker may still be in the call, so the step waits (the seconds returned).
 */
export function recoverIntent(chain: Chain): number {
  const c = chain.c;
  const intent = c.Intent;
  if (!intent) return 0;
  const age = chain.now - intent.At;
  if (age < INTENT_STALE_SECONDS) return INTENT_STALE_SECONDS - age;
  c.Steps.push(record(chain.now, intent.ActionID, intent.Action, "Unconfirmed", "IntentWithoutResult", { IntentAt: formatDateTime(new Date(intent.At * 1000)) }));
  delete c.Intent;
  countBy({ Channel: intent.Action === "SendSMS" ? "sms" : intent.Action === "Webhook" ? "webhook" : "email" }, "SendsUnconfirmed", "Count", 1);
  logger().warn("intent without result", { entryId: c.EntryID, actionId: intent.ActionID, action: intent.Action });
  return 0;
}
