import { randomUUID } from "node:crypto";
import { inject } from "vitest";
import { beforeAll, describe, expect, it } from "vitest";
import { countWrites } from "../../bench/write-items.js";
import { createUser } from "../support/api.js";
import { expectCounts, ok, triggerJourney } from "../support/enrolments.js";

/**
 * The ingest core's signals across a crash (ENGINE §4.2, §5.5), in-process against
 * the shared stack's DynamoDB: with the steps queue out of reach after the chunk
 * commits, the signals stay in the outboxes of the items the chunk wrote (the email
 * state, the event's marker), indexed as due; the sweeper's recovery pass then hands
 * them, and the stack's runner enrols from them.
 */
async function domain() {
  Object.assign(process.env, inject("stackEnv"));
  const { ingestEvents } = await import("../../shared/domain/ingest/ingest.js");
  const { batchGet, keyId } = await import("../../shared/domain/owned.js");
  const { sha256Hex } = await import("../../shared/domain/secrets.js");
  const { keys } = await import("../../shared/keys.js");
  const { ddb } = await import("../../shared/aws.js");
  const { recover } = await import("../../shared/engine/sweeper.js");
  const { productEpoch } = await import("../../shared/clock.js");
  return { ingestEvents, batchGet, keyId, sha256Hex, keys, ddb, recover, productEpoch };
}
let d: Awaited<ReturnType<typeof domain>>;
beforeAll(async () => {
  d = await domain();
});

describe("ingest signals survive a lost delivery", () => {
  it("keeps them in the email state's and the markers' outboxes, indexed, at no extra write item; recovery delivers them once", async () => {
    const user = await createUser();
    const list = Number((await ok(() => user.post("/api/v1/list", { SubscriberListName: "Main" }))).body["ListID"]);
    const email = Number((await ok(() => user.post("/api/v1/email", { EmailName: "E", Subject: "S" }))).body["EmailID"]);
    const mail = Number((await ok(() => user.post("/api/v1/journey", { Name: "Mail" }))).body["JourneyID"]);
    const tree = await ok(() => user.patch("/api/v1/journey.actions", { JourneyID: mail, Actions: [{ Action: "SendEmail", EmailID: email, Published: true }] }));
    const action = Number((tree.body["Actions"] as Record<string, unknown>[])[0]!["ActionID"]);
    const opens = await triggerJourney(user, { Trigger: "EmailOpen", Trigger_EmailID: email });
    const revenue = await triggerJourney(user, { Trigger: "RevenueHit", Trigger_Value: 10 });
    const follows = await triggerJourney(user, { Trigger: "JourneyCompleted", Trigger_Value: mail });
    const sub = Number((await ok(() => user.post("/api/v1/subscriber", { ListID: list, EmailAddress: "hal@example.com" }))).body["SubscriberID"]);

    const ids = { open: `o-${randomUUID()}`, convert: `c-${randomUUID()}`, done: `d-${randomUUID()}` };
    const base = { JourneyID: mail, SubscriberID: sub, EmailAddress: "hal@example.com" };
    const events = [
      { ...base, EventID: ids.open, Type: "Opened", ActionID: action },
      { ...base, EventID: ids.convert, Type: "Converted", ActionID: action, Amount: 1500 },
      { ...base, EventID: ids.done, Type: "Completed" },
    ];
    // The steps queue out of reach: the chunk commits, its delivery fails.
    const queue = process.env["STEPS_QUEUE_URL"];
    delete process.env["STEPS_QUEUE_URL"];
    const counter = countWrites(d.ddb());
    try {
      expect(await d.ingestEvents(user.userId, events)).toMatchObject({ Accepted: 3, Rejected: [] });
      // Signals ride on items the chunk writes anyway: one transaction of the items it writes
      // without them (3 markers, the email state, the subscriber's revenue, 7 rollups), the
      // journey's LastActivityAt beside it, and no clearing write.
      expect(counter.counts()).toMatchObject({ transactional: 12, standard: 1 });
    } finally {
      counter.stop();
      process.env["STEPS_QUEUE_URL"] = queue;
    }

    const stateKey = d.keys.emailState(user.userId, sub, action);
    const marker = (id: string) => d.keys.eventMarker(user.userId, d.sha256Hex(id));
    const read = async () => {
      const found = await d.batchGet([stateKey, marker(ids.convert), marker(ids.done), marker(ids.open)], { consistent: true });
      return [stateKey, marker(ids.convert), marker(ids.done), marker(ids.open)].map((k) => found.get(d.keyId(k)));
    };
    const [state, converted, done, opened] = await read();
    const signals = (item: Record<string, unknown> | undefined) => Object.values((item?.["Outbox"] ?? {}) as Record<string, { Kind: string; Signal: Record<string, unknown> }>);
    // The first Opened and the first Converted of the action: EmailOpen and EmailConversion, on the email state.
    expect(signals(state).map((e) => e.Signal["Trigger"]).sort()).toEqual(["EmailConversion", "EmailOpen"]);
    for (const e of signals(state)) expect(e).toMatchObject({ Kind: "Signal", Signal: { Value: email, SubscriberID: sub, Depth: 0, Source: stateKey } });
    expect(signals(converted)).toEqual([
      expect.objectContaining({ Signal: expect.objectContaining({ Trigger: "RevenueHit", Value: { Before: 0, After: 1500 }, Source: marker(ids.convert) }) }),
    ]);
    expect(signals(done)).toEqual([expect.objectContaining({ Signal: expect.objectContaining({ Trigger: "JourneyCompleted", Value: mail }) })]);
    expect(opened?.["Outbox"]).toBeUndefined();
    for (const item of [state, converted, done]) expect(item).toMatchObject({ DuePK: expect.any(String), DueSK: expect.any(String), Kind: "Outbox", Queued: true });
    expect(state?.["EmailID"]).toBe(email);

    // The sweeper's recovery pass finds them in the index and hands them; the runner enrols once.
    const now = d.productEpoch();
    for (const item of [state, converted, done]) expect(await d.recover(item!, now)).toBe(true);
    await expectCounts(user, list, sub, { [opens]: 1, [revenue]: 1, [follows]: 1 });
    const [stateAfter, convertedAfter, doneAfter] = await read();
    for (const item of [stateAfter, convertedAfter, doneAfter]) {
      expect(item?.["Outbox"]).toEqual({});
      expect(item?.["DuePK"]).toBeUndefined();
    }
  }, 90_000);
});
