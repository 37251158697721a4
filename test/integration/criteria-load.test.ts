import { inject } from "vitest";
import { beforeAll, describe, expect, it } from "vitest";
import type { Item } from "../../shared/domain/owned.js";
import { evaluateRules, evaluateYesNo, needsOf } from "../../shared/engine/criteria-eval.js";
import { countingCalls } from "../support/in-process.js";

/**
 * Criteria's loader against the same DynamoDB Local as the HTTP tests: items are
 * written with the engine's keys, loaded, and the DynamoDB calls counted with a
 * middleware on the document client (ENGINE §4.6: ≤ 2 round trips per subscriber).
 */
async function domain() {
  Object.assign(process.env, inject("stackEnv"));
  const { loadCriteriaData } = await import("../../shared/engine/criteria-load.js");
  const { batchPut } = await import("../../shared/domain/owned.js");
  const { keys } = await import("../../shared/keys.js");
  const { ddb } = await import("../../shared/aws.js");
  return { loadCriteriaData, batchPut, keys, ddb };
}

const NOW = Date.UTC(2026, 2, 10, 12, 0, 0) / 1000;
const S = 4242;

describe("loadCriteriaData", () => {
  let d: Awaited<ReturnType<typeof domain>>;
  let counter: Awaited<ReturnType<typeof countingCalls>>;
  /** What each counted call asked for: its name and whether it read consistently. */
  const seen: { name: string; consistent: boolean }[] = [];
  let userId: number;

  beforeAll(async () => {
    d = await domain();
    counter = await countingCalls();
    d.ddb().middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { ConsistentRead?: boolean; RequestItems?: Record<string, { ConsistentRead?: boolean }> };
        const consistent = input.ConsistentRead === true || Object.values(input.RequestItems ?? {}).some((r) => r.ConsistentRead === true);
        seen.push({ name: String(context.commandName), consistent });
        return next(args);
      },
      { step: "initialize", name: "criteria-load-inputs" },
    );

    // A user of its own, so nothing another test writes can be read here.
    userId = 800_000_000 + Math.floor(Math.random() * 100_000_000);
    const k = d.keys;
    const items: Item[] = [
      { ...k.subscriber(userId, S), SubscriberID: S, EmailAddress: "ada@example.com", ListID: 1, SubscriptionStatus: "Subscribed", SubscriptionDate: "2026-01-15 08:30:00", BounceType: "Not Bounced", CustomFields: { "11": "Gold" }, Tags: [1, 2] },
      // Journey 7 exists and the subscriber is in it; journey 9's item is gone but its membership is left.
      { ...k.journey(userId, 7), JourneyID: 7, Name: "Live" },
      { ...k.membership(userId, S, 7), ActiveEntryID: "01HZACTIVE", Version: 1 },
      { ...k.membership(userId, S, 9), ActiveEntryID: "01HZGONE", CompletedEver: true, Version: 4 },
      { ...k.journey(userId, 8), JourneyID: 8, Name: "Done" },
      { ...k.membership(userId, S, 8), CompletedEver: true, Version: 2 },
      // A cursor in the same partition: neither a membership nor an email state.
      { ...k.cursor(userId, S, 7, "01HZACTIVE"), EntryID: "01HZACTIVE", JourneyID: 7, State: "Active" },
      // Email states as the ingest core writes them, with the EmailID the runner adds.
      { ...k.emailState(userId, S, 101), ...k.mailIndex(userId, 7, 101, S), SubscriberID: S, ActionID: 101, JourneyID: 7, EmailID: 5, EmailAddress: "ada@example.com", Sent: true, Opened: "2026-03-08" },
      { ...k.emailState(userId, S, 102), ...k.mailIndex(userId, 7, 102, S), SubscriberID: S, ActionID: 102, JourneyID: 7, EmailID: 6, EmailAddress: "ada@example.com", Sent: true, Opened: "2026-01-20", Clicked: "2026-01-20" },
      { ...k.emailState(userId, S, 103), ...k.mailIndex(userId, 8, 103, S), SubscriberID: S, ActionID: 103, JourneyID: 8, EmailID: 5, EmailAddress: "ada@example.com", Sent: true, Bounced: true, HardBounced: true },
      // Another subscriber's state: never read for S.
      { ...k.emailState(userId, S + 1, 101), SubscriberID: S + 1, ActionID: 101, JourneyID: 7, EmailID: 5, Sent: true, Opened: "2026-03-09" },
    ];
    await d.batchPut(items);
  });

  const measure = async <T>(run: () => Promise<T>) => {
    counter.reset();
    seen.splice(0);
    const out = await run();
    return { out, calls: counter.names(), inputs: [...seen] };
  };

  it("reads subscriber, memberships, journey items and named email states in one consistent BatchGetItem", async () => {
    const journeys = [[{ type: "journeys", operator: "in journey", value: 7 }, { type: "journeys", operator: "opened", value: 101 }]];
    const others = [[{ type: "journeys", operator: "completed journey", value: 9 }], [{ type: "journeys", operator: "not bounced", value: 999 }], [{ type: "journeys", operator: "completed journey", value: 8 }]];
    const needs = needsOf(journeys, others);
    expect(needs).toEqual({ journeyIds: [7, 8, 9], actionIds: [101, 999], queryEmailStates: false });

    const { out, calls, inputs } = await measure(() => d.loadCriteriaData(userId, S, needs, NOW));
    expect(calls).toEqual(["BatchGetItemCommand"]);
    expect(inputs.every((i) => i.consistent)).toBe(true);
    expect(out.roundTrips).toBe(1);

    expect(out.subscriberFound).toBe(true);
    expect(out.subscriber).toMatchObject({ EmailAddress: "ada@example.com", Tags: [1, 2], CustomFields: { "11": "Gold" } });
    expect(out.subscriberId).toBe(S);
    expect(out.now).toBe(NOW);
    expect([...out.memberships.keys()].sort()).toEqual([7, 8, 9]);
    expect(out.memberships.get(7)).toMatchObject({ ActiveEntryID: "01HZACTIVE" });
    expect([...out.liveJourneys].sort()).toEqual([7, 8]);
    expect([...out.emailStates.keys()]).toEqual([101]);
    expect(out.emailStates.get(101)).toMatchObject({ Opened: "2026-03-08", Sent: true, EmailID: 5, JourneyID: 7 });
    expect(out.allEmailStates).toBeUndefined();

    // And what the rules make of it: journey 9 is gone, so its CompletedEver does not count.
    expect(evaluateRules(journeys, "and", out).result).toBe(true);
    expect(evaluateRules([[{ type: "journeys", operator: "completed journey", value: 9 }]], "and", out).result).toBe(false);
    expect(evaluateRules([[{ type: "journeys", operator: "completed journey", value: 8 }]], "and", out).result).toBe(true);
    expect(evaluateRules([[{ type: "journeys", operator: "not bounced", value: 999 }]], "and", out).result).toBe(true);
  });

  it("adds one consistent Query of the email states only for rules over EmailIDs or counts: two round trips", async () => {
    const rules = [
      [{ type: "campaign-events", operator: "opened", value: [5], time_filter: { type: "in_last_x_days", value: 7 } }],
      [{ type: "journeys", operator: "in journey", value: 7 }, { type: "journeys", operator: "clicked", value: 102 }],
    ];
    const needs = needsOf(rules, { CriteriaLeft: "Opens", CriteriaOperator: "At least", CriteriaRight: "2" });
    expect(needs.queryEmailStates).toBe(true);

    const { out, calls, inputs } = await measure(() => d.loadCriteriaData(userId, S, needs, NOW));
    expect([...calls].sort()).toEqual(["BatchGetItemCommand", "QueryCommand"]);
    expect(inputs.every((i) => i.consistent)).toBe(true);
    expect(out.roundTrips).toBe(2);

    // Only this subscriber's email states: not its cursor, memberships or subscriber item, nor another's states.
    const all = out.allEmailStates ?? [];
    expect(all.map((s) => s["ActionID"]).sort()).toEqual([101, 102, 103]);
    expect(all.every((s) => String(s["SK"]).startsWith("M#"))).toBe(true);
    // The query supplies the named states too, with the flags the evaluator reads.
    expect([...out.emailStates.keys()].sort()).toEqual([101, 102, 103]);
    expect(out.emailStates.get(102)).toMatchObject({ Clicked: "2026-01-20", EmailID: 6 });
    expect(out.emailStates.get(103)).toMatchObject({ Bounced: true });

    expect(evaluateRules(rules, "and", out).result).toBe(true);
    expect(evaluateYesNo({ CriteriaLeft: "Opens", CriteriaOperator: "At least", CriteriaRight: "2" }, out).result).toBe(true);
    expect(evaluateYesNo({ CriteriaLeft: "Clicks", CriteriaOperator: "Equals to", CriteriaRight: "1" }, out).result).toBe(true);
  });

  it("reads nothing it is given: a held subscriber item and no journeys or counts make no call", async () => {
    const held = { EmailAddress: "held@example.com", SubscriptionStatus: "Subscribed" };
    const needs = needsOf([[{ type: "fields", field_id: "email", operator: "is set" }, { type: "suppressions", operator: "not exist" }]]);
    const { out, calls } = await measure(() => d.loadCriteriaData(userId, S, needs, NOW, { subscriber: held }));
    expect(calls).toEqual([]);
    expect(out.roundTrips).toBe(0);
    expect(out.subscriber).toBe(held);
    expect(evaluateRules([[{ type: "fields", field_id: "email", operator: "is set" }]], "and", out).result).toBe(true);

    // With only a count to read, the query is the one call.
    const counts = needsOf({ CriteriaLeft: "Clicks", CriteriaOperator: "At least", CriteriaRight: 1 });
    const q = await measure(() => d.loadCriteriaData(userId, S, counts, NOW, { subscriber: held }));
    expect(q.calls).toEqual(["QueryCommand"]);
    expect(q.out.roundTrips).toBe(1);
  });

  it("a subscriber that does not exist reads as an empty item", async () => {
    const { out, calls } = await measure(() => d.loadCriteriaData(userId, S + 7, needsOf([]), NOW));
    expect(calls).toEqual(["BatchGetItemCommand"]);
    expect(out).toMatchObject({ subscriber: {}, subscriberFound: false, roundTrips: 1 });
    expect(evaluateRules([[{ type: "suppressions", operator: "exist" }]], "and", out).result).toBe(true);
  });

  it("counts honestly past BatchGetItem's 100 keys: each slice is a round trip", async () => {
    // 60 journeys: 120 keys plus the subscriber's, so two slices of at most 100.
    const journeyIds = Array.from({ length: 60 }, (_, i) => 1000 + i);
    const { out, calls } = await measure(() => d.loadCriteriaData(userId, S, { journeyIds, actionIds: [], queryEmailStates: false }, NOW));
    expect(calls).toEqual(["BatchGetItemCommand", "BatchGetItemCommand"]);
    expect(out.roundTrips).toBe(2);
    expect(out.subscriberFound).toBe(true);
  });
});
