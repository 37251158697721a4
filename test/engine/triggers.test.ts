import { randomUUID } from "node:crypto";
import { inject } from "vitest";
import { describe, expect, it } from "vitest";
import { createUser, type TestUser } from "../support/api.js";
import { enrolmentsOf, expectCounts, ok, settled, triggerJourney } from "../support/enrolments.js";

/**
 * Every trigger type (ENGINE §4.1, §12 "Every trigger type") on the suite's shared
 * stack, black-box: a trigger has fired when the subscriber is enrolled into an
 * Enabled journey listening for it. These tests never move the clock.
 */
type Json = Record<string, any>;

async function refs(user: TestUser) {
  const list = Number((await ok(() => user.post("/api/v1/list", { SubscriberListName: "Main" }))).body["ListID"]);
  const tag = Number((await ok(() => user.post("/api/v1/subscriber.tags", { ListID: list, TagName: "vip" }))).body["TagID"]);
  const field = Number((await ok(() => user.post("/api/v1/customfield", { SubscriberListID: list, FieldName: "City" }))).body["CustomFieldID"]);
  const email = Number((await ok(() => user.post("/api/v1/email", { EmailName: "E", Subject: "S" }))).body["EmailID"]);
  return { list, tag, field, email };
}

/** A journey (left Disabled: ingest needs none) with SendEmail actions sending `emailIds`; their ActionIDs. */
async function mailJourney(user: TestUser, emailIds: number[]): Promise<{ journeyId: number; actionIds: number[] }> {
  const journeyId = Number((await ok(() => user.post("/api/v1/journey", { Name: "Mail" }))).body["JourneyID"]);
  const tree = await ok(() =>
    user.patch("/api/v1/journey.actions", { JourneyID: journeyId, Actions: emailIds.map((EmailID) => ({ Action: "SendEmail", EmailID, Published: true })) }),
  );
  return { journeyId, actionIds: (tree.body["Actions"] as Json[]).map((a) => Number(a["ActionID"])) };
}

async function subscribe(user: TestUser, list: number, email: string): Promise<number> {
  return Number((await ok(() => user.post("/api/v1/subscriber", { ListID: list, EmailAddress: email }))).body["SubscriberID"]);
}

/** Ingests one event, asserting it was accepted (or, with `duplicate`, that it was a duplicate). */
async function ingest(user: TestUser, event: Json, duplicate = false): Promise<void> {
  const res = await ok(() => user.post("/api/v1/journey.events", { Events: [{ EventID: `ev-${randomUUID()}`, EmailAddress: "x@example.com", ...event }] }));
  expect(res.body, JSON.stringify(res.body)).toMatchObject(duplicate ? { Accepted: 0, Duplicates: 1, Rejected: [] } : { Accepted: 1, Rejected: [] });
}

async function domain() {
  Object.assign(process.env, inject("stackEnv"));
  const { batchGet, keyId } = await import("../../shared/domain/owned.js");
  const { keys } = await import("../../shared/keys.js");
  return { batchGet, keyId, keys };
}

/** The email state item `M#<ActionID>` as stored (in-process: the API does not show its outbox). */
async function emailState(userId: number, sub: number, actionId: number) {
  const d = await domain();
  const key = d.keys.emailState(userId, sub, actionId);
  return (await d.batchGet([key], { consistent: true })).get(d.keyId(key));
}

describe("every trigger fires from its named source, and only from it", () => {
  /** One journey per trigger type, each completing at once so that every firing counts one enrolment. */
  async function everyTrigger(user: TestUser, r: Awaited<ReturnType<typeof refs>>, mail: number) {
    // Created Disabled, then enabled in one call (the suite's rate limit is 100 calls a minute).
    const off = { enabled: false };
    const j = {
      ListSubscription: await triggerJourney(user, { Trigger: "ListSubscription", Trigger_ListID: r.list }, off),
      ListUnsubscription: await triggerJourney(user, { Trigger: "ListUnsubscription", Trigger_ListID: r.list }, off),
      Tag: await triggerJourney(user, { Trigger: "Tag", Trigger_Value: r.tag }, off),
      UnTag: await triggerJourney(user, { Trigger: "UnTag", Trigger_Value: r.tag }, off),
      CustomFieldValueChanged: await triggerJourney(user, { Trigger: "CustomFieldValueChanged", Trigger_Value: r.field }, off),
      EmailOpen: await triggerJourney(user, { Trigger: "EmailOpen", Trigger_EmailID: r.email }, off),
      EmailLinkClick: await triggerJourney(user, { Trigger: "EmailLinkClick", Trigger_EmailID: r.email }, off),
      EmailConversion: await triggerJourney(user, { Trigger: "EmailConversion", Trigger_EmailID: r.email }, off),
      RevenueHit: await triggerJourney(user, { Trigger: "RevenueHit", Trigger_Value: 1000 }, off),
      JourneyCompleted: await triggerJourney(user, { Trigger: "JourneyCompleted", Trigger_Value: mail }, off),
      WebsiteEvent_pageView: await triggerJourney(user, { Trigger: "WebsiteEvent_pageView", Trigger_Value: "/pricing" }, off),
      WebsiteEvent_customEvent: await triggerJourney(user, { Trigger: "WebsiteEvent_customEvent", Trigger_Value: "signup" }, off),
      Manual: await triggerJourney(user, { Trigger: "Manual" }, off),
    };
    const enabled = await ok(() => user.post("/api/v1/journeys.enable", { JourneyIDs: Object.values(j).join(",") }));
    expect(enabled.body["ProcessedJourneyIDs"]).toEqual(Object.values(j));
    return j;
  }

  it("subscriber commands: ListSubscription, ListUnsubscription, Tag, UnTag, CustomFieldValueChanged; Manual only by subscriber.journey.trigger", async () => {
    const user = await createUser();
    const r = await refs(user);
    const mail = await mailJourney(user, [r.email]);
    const j = await everyTrigger(user, r, mail.journeyId);
    const expected: Record<number, number> = {};
    const step = async (action: () => Promise<unknown>, fires: (keyof typeof j)[]) => {
      await action();
      for (const t of fires) expected[j[t]] = (expected[j[t]] ?? 0) + 1;
      await expectCounts(user, r.list, sub, expected, JSON.stringify({ fires, journeys: j }));
    };

    let sub = 0;
    await step(async () => (sub = await subscribe(user, r.list, "ann@example.com")), ["ListSubscription"]);
    // An existing address returned by subscriber.create fires nothing.
    await step(() => subscribe(user, r.list, "ANN@example.com"), []);
    const patch = (params: Json) => ok(() => user.patch("/api/v1/subscriber", { SubscriberID: sub, SubscriberListID: r.list, ...params }));
    await step(() => patch({ Fields: { [r.field]: "Rome" } }), ["CustomFieldValueChanged"]);
    await step(() => patch({ Fields: { [r.field]: "Rome" }, EmailAddress: "ann2@example.com" }), []);
    await step(() => ok(() => user.post("/api/v1/subscriber.tag", { TagID: r.tag, SubscriberListID: r.list, SubscriberID: sub })), ["Tag"]);
    await step(() => ok(() => user.post("/api/v1/subscriber.untag", { TagID: r.tag, SubscriberListID: r.list, SubscriberID: sub })), ["UnTag"]);
    await step(() => ok(() => user.post("/api/v1/subscriber.unsubscribe", { ListID: r.list, SubscriberID: sub })), ["ListUnsubscription"]);
    await step(() => patch({ SubscriptionStatus: "Subscribed" }), ["ListSubscription"]);
    await step(() => patch({ SubscriptionStatus: "Unsubscribed" }), ["ListUnsubscription"]);
    await step(() => patch({ SubscriptionStatus: "Subscribed", TriggerEvents: "off" }), []);
    await step(() => ok(() => user.post("/api/v1/subscriber.journey.trigger", { JourneyID: j.Manual, ListID: r.list, SubscriberID: sub })), ["Manual"]);
  }, 180_000);

  it("ingest: EmailOpen, EmailLinkClick and EmailConversion from the first Opened / Clicked / Converted of a SendEmail action sending that EmailID; JourneyCompleted from an outside Completed", async () => {
    const user = await createUser();
    const r = await refs(user);
    const otherEmail = Number((await ok(() => user.post("/api/v1/email", { EmailName: "Other", Subject: "S" }))).body["EmailID"]);
    const mail = await mailJourney(user, [r.email, otherEmail]);
    const [action, otherAction] = mail.actionIds as [number, number];
    const sub = await subscribe(user, r.list, "bea@example.com");
    // Its ListSubscription handled before any journey listens for it.
    await settled();
    const j = await everyTrigger(user, r, mail.journeyId);
    // The subscriber existed before the journeys: nothing so far.
    const expected: Record<number, number> = {};
    const step = async (event: Json, fires: (keyof typeof j)[]) => {
      await ingest(user, { JourneyID: mail.journeyId, SubscriberID: sub, ...event });
      for (const t of fires) expected[j[t]] = (expected[j[t]] ?? 0) + 1;
      await expectCounts(user, r.list, sub, expected, JSON.stringify({ event, journeys: j }));
    };
    // Events of an action sending another email fire nothing of this EmailID.
    await step({ Type: "Opened", ActionID: otherAction }, []);
    await step({ Type: "Sent", ActionID: action }, []);
    await step({ Type: "Delivered", ActionID: action }, []);
    await step({ Type: "Opened", ActionID: action }, ["EmailOpen"]);
    // Only the first of its kind fires.
    await step({ Type: "Opened", ActionID: action }, []);
    await step({ Type: "Clicked", ActionID: action }, ["EmailLinkClick"]);
    await step({ Type: "Clicked", ActionID: action }, []);
    await step({ Type: "Converted", ActionID: action, Amount: 500 }, ["EmailConversion"]);
    await step({ Type: "Converted", ActionID: action, Amount: 500 }, []);
    await step({ Type: "BrowserViewed", ActionID: action }, []);
    await step({ Type: "Forwarded", ActionID: action }, []);
    await step({ Type: "Completed" }, ["JourneyCompleted"]);
    // A Completed carrying an engine EventID is the engine's own: the engine fires those itself.
    await step({ Type: "Completed", EventID: `eng:${randomUUID()}:Completed` }, []);
    await step({ Type: "Enrolled" }, []);
    await step({ Type: "Exited" }, []);

    // The email state keeps its EmailID, its signals delivered and cleared, out of the due index.
    const state = await emailState(user.userId, sub, action);
    expect(state).toMatchObject({ EmailID: r.email, Opened: expect.any(String), Clicked: expect.any(String), Outbox: {} });
    expect(state?.["DuePK"]).toBeUndefined();
    // Events of an unknown subscriber fire nothing: no outbox at all.
    await ingest(user, { Type: "Opened", JourneyID: mail.journeyId, ActionID: action, SubscriberID: 987654321 });
    const unknown = await emailState(user.userId, 987654321, action);
    expect(unknown).toMatchObject({ EmailID: r.email, Opened: expect.any(String) });
    expect(unknown?.["Outbox"]).toBeUndefined();
  }, 180_000);
});

describe("RevenueHit", () => {
  it("fires on the crossing only (Before < T ≤ After), once per subscriber per journey, and never for revenue already at T when enabled", async () => {
    const user = await createUser();
    const r = await refs(user);
    const mail = await mailJourney(user, [r.email]);
    const [action] = mail.actionIds as [number];
    const [early, late] = [await subscribe(user, r.list, "early@example.com"), await subscribe(user, r.list, "late@example.com")];
    const convert = (sub: number, cents: number) => ingest(user, { Type: "Converted", JourneyID: mail.journeyId, ActionID: action, SubscriberID: sub, Amount: cents });
    // `early` is at T = 1000 cents before the journey is enabled.
    await convert(early, 1000);
    const journey = await triggerJourney(user, { Trigger: "RevenueHit", Trigger_Value: "10.00" });

    await convert(early, 100);
    await convert(late, 600);
    await expectCounts(user, r.list, early, {});
    await expectCounts(user, r.list, late, {});
    // 600 + 400 reaches T exactly: Before < T ≤ After.
    await convert(late, 400);
    await expectCounts(user, r.list, late, { [journey]: 1 });
    await convert(late, 5000);
    await expectCounts(user, r.list, late, { [journey]: 1 });
    // Raising the value later does not re-arm it for a subscriber it fired for.
    await ok(() => user.patch("/api/v1/journey", { JourneyID: journey, Trigger: "RevenueHit", Trigger_Value: 100 }));
    await convert(late, 10_000);
    await expectCounts(user, r.list, late, { [journey]: 1 });
    // A subscriber it never fired for crosses the new T (1,100 → 11,100 cents, T = 10,000).
    await convert(early, 10_000);
    await expectCounts(user, r.list, early, { [journey]: 1 });
  }, 120_000);
});

describe("JourneyCompleted", () => {
  it("fires from an engine completion and an outside Completed, never into the completed journey itself", async () => {
    const user = await createUser();
    const r = await refs(user);
    const sub = await subscribe(user, r.list, "cy@example.com");
    // `done` completes at once; `next` follows it and waits; `after` follows `next`.
    const done = await triggerJourney(user, { Trigger: "Manual" });
    const next = await triggerJourney(user, { Trigger: "JourneyCompleted", Trigger_Value: done }, { tree: "wait" });
    const after = await triggerJourney(user, { Trigger: "JourneyCompleted", Trigger_Value: next });
    // A journey cannot follow itself: the trigger value naming it is refused.
    const selfie = await user.patch("/api/v1/journey", { JourneyID: next, Trigger: "JourneyCompleted", Trigger_Value: next });
    expect([selfie.status, (selfie.body["Errors"] as Json[] | undefined)?.[0]?.["Code"]]).toEqual([422, 16]);

    // The engine's completion of `done` enrols into `next` (Depth 1).
    await ok(() => user.post("/api/v1/subscriber.journey.trigger", { JourneyID: done, ListID: r.list, SubscriberID: sub }));
    await expectCounts(user, r.list, sub, { [done]: 1, [next]: 1 });
    // An outside Completed of `next` (whose own enrolment is still waiting) enrols into `after`,
    // and an outside Completed of `done` finds `next` active: no second enrolment there.
    await ingest(user, { Type: "Completed", JourneyID: next, SubscriberID: sub });
    await ingest(user, { Type: "Completed", JourneyID: done, SubscriberID: sub });
    await expectCounts(user, r.list, sub, { [done]: 1, [next]: 1, [after]: 1 });
    // `after` completed at once; its completion enrols nowhere, least of all into `after`.
    expect((await enrolmentsOf(user, r.list, sub)).filter((e) => e.JourneyID === after)).toEqual([expect.objectContaining({ EndedBy: "Completed" })]);
  }, 120_000);
});

describe("journey status and criteria", () => {
  it("a Disabled journey enrols only with BypassJourneyStatusCheck; WebsiteEvent_* never enrols by itself", async () => {
    const user = await createUser();
    const r = await refs(user);
    const disabled = await triggerJourney(user, { Trigger: "Tag", Trigger_Value: r.tag }, { tree: "wait", enabled: false });
    const website = await triggerJourney(user, { Trigger: "WebsiteEvent_identify", Trigger_Value: "x" }, { tree: "wait" });
    const sub = await subscribe(user, r.list, "dee@example.com");
    await ok(() => user.post("/api/v1/subscriber.tag", { TagID: r.tag, SubscriberListID: r.list, SubscriberID: sub }));
    await expectCounts(user, r.list, sub, {});
    const refused = await user.post("/api/v1/subscriber.journey.trigger", { JourneyID: disabled, ListID: r.list, SubscriberID: sub });
    expect(refused.status).toBe(404);
    expect(refused.body["SkippedJourneys"]).toEqual([{ JourneyID: disabled, Reason: "Journey is disabled" }]);
    await ok(() => user.post("/api/v1/subscriber.journey.trigger", { JourneyID: disabled, ListID: r.list, SubscriberID: sub, BypassJourneyStatusCheck: 1 }));
    await expectCounts(user, r.list, sub, { [disabled]: 1 });
    // A website-event journey enrols only by command, as any trigger may.
    await ok(() => user.post("/api/v1/subscriber.journey.trigger", { JourneyID: website, ListID: r.list, SubscriberID: sub }));
    await expectCounts(user, r.list, sub, { [disabled]: 1, [website]: 1 });
  }, 120_000);

  it("Trigger_Criteria filter: a Tag journey on the address, an EmailOpen journey on `opened` of one action", async () => {
    const user = await createUser();
    const r = await refs(user);
    const mail = await mailJourney(user, [r.email, r.email]);
    const [first, second] = mail.actionIds as [number, number];
    const tagged = await triggerJourney(user, { Trigger: "Tag", Trigger_Value: r.tag }, { tree: "wait", criteria: [[{ type: "fields", field_id: "EmailAddress", operator: "ends with", value: "@vip.com" }]] });
    const opened = await triggerJourney(user, { Trigger: "EmailOpen", Trigger_EmailID: r.email }, { tree: "wait", criteria: [[{ type: "journeys", operator: "opened", value: String(first) }]] });
    const [vip, plain] = [await subscribe(user, r.list, "eve@vip.com"), await subscribe(user, r.list, "fay@example.com")];

    await ok(() => user.post("/api/v1/subscriber.tag", { TagID: r.tag, SubscriberListID: r.list, SubscriberID: [vip, plain] }));
    // Both open the second action (EmailOpen fires for both, on the same EmailID); only `vip` opens the first.
    await ingest(user, { Type: "Opened", JourneyID: mail.journeyId, ActionID: second, SubscriberID: plain });
    await ingest(user, { Type: "Opened", JourneyID: mail.journeyId, ActionID: first, SubscriberID: vip });
    await expectCounts(user, r.list, vip, { [tagged]: 1, [opened]: 1 });
    await expectCounts(user, r.list, plain, {});
  }, 120_000);

  it("an Opened event ingested twice enrols once", async () => {
    const user = await createUser();
    const r = await refs(user);
    const mail = await mailJourney(user, [r.email]);
    const [action] = mail.actionIds as [number];
    const journey = await triggerJourney(user, { Trigger: "EmailOpen", Trigger_EmailID: r.email });
    const sub = await subscribe(user, r.list, "gil@example.com");
    const event = { EventID: `open-${randomUUID()}`, Type: "Opened", JourneyID: mail.journeyId, ActionID: action, SubscriberID: sub };
    await ingest(user, event);
    await ingest(user, event, true);
    await expectCounts(user, r.list, sub, { [journey]: 1 });
    const [entry] = await enrolmentsOf(user, r.list, sub);
    expect(entry).toMatchObject({ JourneyID: journey, EndedBy: "Completed" });
  }, 60_000);
});
