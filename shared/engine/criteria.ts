import type { Journey } from "../domain/journeys/journeys.js";
import type { Item } from "../domain/owned.js";
import type { StoredAction } from "../domain/trees/tree-store.js";
import { evaluateRules, evaluateYesNo, needsOf, type CriteriaOutcome } from "./criteria-eval.js";
import { loadCriteriaData } from "./criteria-load.js";
import type { Chain } from "./runner.js";

/**
 * Where the engine evaluates criteria (ENGINE §4.6): Trigger_Criteria at admission,
 * Run_Criteria before every action starts, and Decision / YesNo. The data is
 * loaded in at most two round trips (criteria-load.ts), and only what the rules
 * name; empty criteria hold without a read.
 */
const isEmpty = (rules: unknown): boolean => !Array.isArray(rules) || rules.length === 0;

/** What a step record shows of an evaluation. */
export function detailOf(o: CriteriaOutcome): Record<string, unknown> {
  return {
    ...(o.noDataRules.length ? { NoDataRules: o.noDataRules } : {}),
    ...(o.unsupportedRules.length ? { UnsupportedRules: o.unsupportedRules } : {}),
  };
}

async function evaluate(userId: number, subscriberId: number, subscriber: Item, now: number, source: unknown, run: (data: Awaited<ReturnType<typeof loadCriteriaData>>) => CriteriaOutcome) {
  const data = await loadCriteriaData(userId, subscriberId, needsOf(source), now, { subscriber });
  return run({ ...data, subscriberId });
}

/** Trigger_Criteria: an OR of AND-groups, as criteria-syntax.md reads it. */
export async function triggerHolds(userId: number, subscriber: Item, journey: Journey, now: number): Promise<boolean> {
  if (isEmpty(journey.Trigger_Criteria)) return true;
  const subscriberId = Number(subscriber["SubscriberID"] ?? 0);
  const o = await evaluate(userId, subscriberId, subscriber, now, journey.Trigger_Criteria, (d) =>
    evaluateRules(journey.Trigger_Criteria as unknown[][], "or", d),
  );
  return o.result;
}

const view = (chain: Chain): Item => ({ ...chain.subscriber, ...chain.subscriberSet });

/** Run_Criteria before an action starts; its groups joined by Run_Criteria_Operator. */
export async function runCriteriaHold(chain: Chain, journey: Journey): Promise<{ result: boolean; detail: Record<string, unknown> }> {
  if (isEmpty(journey.Run_Criteria)) return { result: true, detail: {} };
  const c = chain.c;
  const o = await evaluate(c.UserID, c.SubscriberID, view(chain), chain.now, journey.Run_Criteria, (d) =>
    evaluateRules(journey.Run_Criteria as unknown[][], journey.Run_Criteria_Operator === "or" ? "or" : "and", d),
  );
  return { result: o.result, detail: detailOf(o) };
}

/** A Decision's Criteria under CriteriaOperator, or a YesNo's one comparison. */
export async function decide(chain: Chain, action: StoredAction): Promise<{ result: boolean; detail: Record<string, unknown> }> {
  const c = chain.c;
  const params = action.ActionParameters;
  const o =
    action.Action === "YesNo"
      ? await evaluate(c.UserID, c.SubscriberID, view(chain), chain.now, params, (d) => evaluateYesNo(params, d))
      : isEmpty(params["Criteria"])
        ? { result: true, noDataRules: [], unsupportedRules: [] }
        : await evaluate(c.UserID, c.SubscriberID, view(chain), chain.now, params, (d) =>
            evaluateRules(params["Criteria"] as unknown[][], params["CriteriaOperator"] === "or" ? "or" : "and", d),
          );
  return { result: o.result, detail: detailOf(o) };
}
