import { inject } from "vitest";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { createJourney, createUser, firstError, outcome, type TestUser } from "../support/api.js";
import { countsOf, eventually, ok, settled } from "../support/enrolments.js";

/**
 * The subscriber commands (ENGINE §3.2) through the local stack's HTTP API, and
 * what they fire (§3.3). The engine runs on the local stack, so a firing is seen
 * through its effect: an enrolment into an Enabled journey with that trigger
 * (`Probe`). The subscriber item and the engine's cursors are read and written
 * in-process only where no command exists yet (cursors) or to see what the API
 * does not show (Version, Outbox, SuppressedBy).
 */

type Json = Record<string, any>;

// Each firing is awaited on the engine, which two test workers share: more than the suite's default 30 s.
vi.setConfig({ testTimeout: 120_000 });

async function domain() {
  Object.assign(process.env, inject("stackEnv"));
  const { getSubscriber } = await import("../../shared/domain/subscribers/subscribers.js");
  const { createOwned, batchPut } = await import("../../shared/domain/owned.js");
  const { keys } = await import("../../shared/keys.js");
  const { ddb, tableName } = await import("../../shared/aws.js");
  const { UpdateCommand } = await import("@aws-sdk/lib-dynamodb");
  return { getSubscriber, createOwned, batchPut, keys, ddb, tableName, UpdateCommand };
}
let d: Awaited<ReturnType<typeof domain>>;

// ---- What fired: enrolments into journeys listening for each (trigger, value) ----

type Firing = [string, number, number];
const sorted = (xs: Firing[]) => [...xs].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

/**
 * Enabled journeys with no published action, one per (trigger, value) a test
 * watches: each firing enrols the subscriber, and the enrolment completes at once,
 * so the next firing enrols again (§4.4) and every firing counts one enrolment.
 */
class Probe {
  private journeys = new Map<number, [string, number]>();
  private subs = new Set<number>();
  private seen = new Map<number, Record<number, number>>();
  constructor(private user: TestUser, private list: number) {}

  /** Watches these (trigger, value) pairs: the journeys are created, then enabled in one call. */
  async watch(pairs: [string, number][]): Promise<void> {
    const ids: number[] = [];
    for (const [trigger, value] of pairs) {
      const param = trigger.startsWith("List") ? { Trigger_ListID: value } : { Trigger_Value: value };
      const res = await ok(() => this.user.post("/api/v1/journey", { Name: `${trigger} ${value}`, Trigger: trigger, ...param }));
      const id = Number(res.body["JourneyID"]);
      this.journeys.set(id, [trigger, value]);
      ids.push(id);
    }
    const enabled = await ok(() => this.user.post("/api/v1/journeys.enable", { JourneyIDs: ids.join(",") }));
    expect(enabled.body["ProcessedJourneyIDs"]).toEqual(ids);
  }

  /** The firings seen since the last `expect`, on the subscribers watched. */
  private async since(): Promise<{ firings: Firing[]; counts: Map<number, Record<number, number>> }> {
    const firings: Firing[] = [];
    const counts = new Map<number, Record<number, number>>();
    for (const sub of this.subs) {
      const now = await countsOf(this.user, this.list, sub);
      counts.set(sub, now);
      const before = this.seen.get(sub) ?? {};
      for (const [id, n] of Object.entries(now)) {
        const what = this.journeys.get(Number(id));
        if (!what) continue;
        for (let i = before[Number(id)] ?? 0; i < n; i++) firings.push([what[0], what[1], sub]);
      }
    }
    return { firings: sorted(firings), counts };
  }

  /**
   * Asserts exactly these firings since the last call: waits for them, lets the
   * engine settle, and checks again, so a late extra one still fails. Subscribers
   * named in `expected` are watched from now on, as are those of `also`.
   */
  async expect(expected: Firing[], also: number[] = []): Promise<void> {
    for (const [, , sub] of expected) this.subs.add(sub);
    for (const sub of also) this.subs.add(sub);
    await eventually(async () => expect((await this.since()).firings).toEqual(sorted(expected)));
    await settled();
    const { firings, counts } = await this.since();
    expect(firings).toEqual(sorted(expected));
    for (const [sub, c] of counts) this.seen.set(sub, c);
  }
}

// ---- Fixtures ----

/**
 * A user with a list, a tag, a field and a subscriber. With `probe`, the list's,
 * tag's and field's triggers are watched from before the subscriber is created, and
 * its ListSubscription has been seen.
 */
async function setup(opts: { probe?: boolean } = {}) {
  const user = await createUser();
  const list = Number((await user.post("/api/v1/list", { SubscriberListName: "Main" })).body["ListID"]);
  const tag = Number((await user.post("/api/v1/subscriber.tags", { ListID: list, TagName: "vip" })).body["TagID"]);
  const field = Number((await user.post("/api/v1/customfield", { SubscriberListID: list, FieldName: "City" })).body["CustomFieldID"]);
  const probe = new Probe(user, list);
  if (opts.probe) {
    await probe.watch([
      ["ListSubscription", list],
      ["ListUnsubscription", list],
      ["Tag", tag],
      ["UnTag", tag],
      ["CustomFieldValueChanged", field],
    ]);
  }
  const sub = Number((await user.post("/api/v1/subscriber", { ListID: list, EmailAddress: "sam@example.com" })).body["SubscriberID"]);
  if (opts.probe) await probe.expect([["ListSubscription", list, sub]]);
  return { user, list, tag, field, sub, probe };
}

const item = (user: TestUser, sub: number) => d.getSubscriber(user.userId, sub);
const info = async (user: TestUser, list: number, sub: number) => (await user.get("/api/v1/subscriber", { ListID: list, SubscriberID: sub })).body as Json;

beforeAll(async () => {
  d = await domain();
});

describe("subscriber.create, extended", () => {
  it("stores CustomFields and PhoneNumber, fires ListSubscription once, and an existing address fires nothing", async () => {
    const { user, list, field, probe } = await setup({ probe: true });
    const res = await user.post("/api/v1/subscriber", { ListID: list, EmailAddress: "Ann@Example.com", CustomFields: { [field]: 42 }, PhoneNumber: "+14155550123" });
    expect(res.status).toBe(200);
    const sub = Number(res.body["SubscriberID"]);
    await probe.expect([["ListSubscription", list, sub]]);
    const again = await user.post("/api/v1/subscriber", { ListID: list, EmailAddress: "ann@example.com", CustomFields: { [field]: "changed" } });
    expect(again.body["SubscriberID"]).toBe(sub);
    await probe.expect([]);

    const body = await info(user, list, sub);
    expect(body["SubscriberInformation"]).toEqual({
      SubscriberID: sub,
      ListID: list,
      EmailAddress: "Ann@Example.com",
      SubscriptionStatus: "Subscribed",
      SubscriptionDate: expect.stringMatching(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/),
      UnsubscriptionDate: null,
      BounceType: "Not Bounced",
      PhoneNumber: "+14155550123",
      CustomFields: { [String(field)]: "42" },
    });
    expect(body).toMatchObject({ Success: true, ErrorCode: 0, Suppressed: false, SubscriberTags: [], TotalRevenue: 0 });
    // Its one enrolment: the ListSubscription journey watching the list, completed at once.
    expect(body["SubscriberJourneys"]).toEqual({
      InProgress: [],
      Completed: [expect.objectContaining({ JourneyName: `ListSubscription ${list}`, EndedBy: "Completed", EndReason: "Completed" })],
    });
    // The signal was delivered and cleared: the outbox is empty, the item out of the due index.
    const stored = await item(user, sub);
    expect(stored).toMatchObject({ UserID: user.userId, SubscriberID: sub, Version: 1, Outbox: {}, Tags: [], Revenue: 0 });
    expect(stored?.["DuePK"]).toBeUndefined();
  });

  it("answers code 2 for every invalid CustomFields or PhoneNumber, before the list lookup (3)", async () => {
    const { user, list, field } = await setup();
    const otherList = Number((await user.post("/api/v1/list", { SubscriberListName: "Other" })).body["ListID"]);
    const foreignField = Number((await user.post("/api/v1/customfield", { SubscriberListID: otherList, FieldName: "X" })).body["CustomFieldID"]);
    const post = (extra: Json, listId = list) => user.post("/api/v1/subscriber", { ListID: listId, EmailAddress: "x@example.com", ...extra });
    for (const extra of [
      { CustomFields: "not json" },
      { CustomFields: [1, 2] },
      { CustomFields: { abc: "x" } },
      { CustomFields: { [field]: true } },
      { CustomFields: { [field]: "x".repeat(10_001) } },
      { CustomFields: { 999999999: "x" } },
      { CustomFields: { [foreignField]: "x" } },
      { PhoneNumber: "555-1234" },
    ]) {
      expect(outcome(await post(extra)), JSON.stringify(extra).slice(0, 80)).toEqual([422, 2]);
    }
    // All values together over 64 KB, each under 10,000 characters.
    const fields: number[] = [];
    for (let i = 0; i < 7; i++) fields.push(Number((await user.post("/api/v1/customfield", { SubscriberListID: list, FieldName: `F${i}` })).body["CustomFieldID"]));
    const big = Object.fromEntries(fields.map((id) => [id, "x".repeat(9_999)]));
    expect(outcome(await post({ CustomFields: big }))).toEqual([422, 2]);
    expect(outcome(await post({ CustomFields: Object.fromEntries(fields.slice(0, 6).map((id) => [id, "x".repeat(9_999)])) }))).toEqual([200, undefined]);
    expect(outcome(await post({ CustomFields: JSON.stringify({ [`CustomField${field}`]: "Paris" }) }, 987654321))).toEqual([422, 2]);
    expect(outcome(await post({ PhoneNumber: "+442071234567" }, 987654321))).toEqual([422, 3]);
  });
});

describe("subscriber.get", () => {
  it.each([
    [{ ListID: 1 }, 422, 1],
    [{}, 422, 1],
    [{ SubscriberID: 1 }, 422, 2],
    [{ ListID: "x", SubscriberID: 1 }, 422, 4],
    [{ ListID: 1, SubscriberID: "y" }, 422, 5],
  ])("%j answers %i / code %i", async (params, status, code) => {
    const user = await createUser();
    expect(outcome(await user.get("/api/v1/subscriber", params))).toEqual([status, code]);
  });

  it("answers 404 / 4 for a list not the caller's and 404 / 3 for a subscriber not found, another user's, or on another list", async () => {
    const { user, list, sub } = await setup();
    const other = await setup();
    const otherList = Number((await user.post("/api/v1/list", { SubscriberListName: "Other" })).body["ListID"]);
    expect(outcome(await user.get("/api/v1/subscriber", { ListID: other.list, SubscriberID: other.sub }))).toEqual([404, 4]);
    expect(outcome(await user.get("/api/v1/subscriber", { ListID: list, SubscriberID: other.sub }))).toEqual([404, 3]);
    expect(outcome(await user.get("/api/v1/subscriber", { ListID: list, SubscriberID: 999999999 }))).toEqual([404, 3]);
    expect(outcome(await user.get("/api/v1/subscriber", { ListID: otherList, SubscriberID: sub }))).toEqual([404, 3]);
    expect(outcome(await user.get("/api/v1/subscriber", { ListID: list, EmailAddress: "nobody@example.com" }))).toEqual([404, 3]);
    expect(outcome(await user.legacy({ Command: "subscriber.get", ListID: list, SubscriberID: 999999999 }, "GET"))).toEqual([200, 3]);
    const byEmail = await user.get("/api/v1/subscriber", { ListID: list, EmailAddress: "SAM@example.com" });
    expect((byEmail.body["SubscriberInformation"] as Json)["SubscriberID"]).toBe(sub);
  });
});

describe("subscriber.update", () => {
  it.each([
    [{ SubscriberListID: 1 }, 1],
    [{ SubscriberID: 1 }, 2],
    [{ SubscriberID: 1, SubscriberListID: 1, EmailAddress: "" }, 3],
    [{ SubscriberID: 1, SubscriberListID: 1, EmailAddress: "nope" }, 4],
    [{ SubscriberID: 1, SubscriberListID: "x" }, 5],
    [{ SubscriberID: 1, SubscriberListID: 1, Fields: { 1: { a: 1 } } }, 10],
    [{ SubscriberID: 1, SubscriberListID: 1, Fields: "[" }, 10],
    [{ SubscriberID: 1, SubscriberListID: 1, SubscriptionStatus: "Gone" }, 12],
    [{ SubscriberID: 1, SubscriberListID: 1, PhoneNumber: "12345" }, 13],
    [{ SubscriberID: "abc", SubscriberListID: 1 }, 14],
    [{ SubscriberID: "abc", SubscriberListID: 1, EmailAddress: "nope" }, 4],
  ])("%j answers 422 / code %i", async (params, code) => {
    const user = await createUser();
    expect(outcome(await user.patch("/api/v1/subscriber", params))).toEqual([422, code]);
  });

  it("looks up the list (5), the subscriber (6), the fields (11) and the address (7, 409), in that order", async () => {
    const { user, list, sub, field, probe } = await setup({ probe: true });
    const other = await setup();
    const second = Number((await user.post("/api/v1/subscriber", { ListID: list, EmailAddress: "kim@example.com" })).body["SubscriberID"]);
    const patch = (params: Json) => user.patch("/api/v1/subscriber", { SubscriberID: sub, SubscriberListID: list, ...params });
    expect(outcome(await patch({ SubscriberListID: other.list }))).toEqual([404, 5]);
    expect(outcome(await patch({ SubscriberID: other.sub, Fields: { 999999999: "x" } }))).toEqual([404, 6]);
    expect(outcome(await patch({ SubscriberID: 999999999 }))).toEqual([404, 6]);
    const unknown = await patch({ Fields: { [`customfield${field}`]: "Rome", 999999999: "x", other: "y", [other.field]: "z" }, EmailAddress: "kim@example.com" });
    expect(outcome(unknown)).toEqual([422, 11]);
    expect(unknown.body["ErrorCustomFieldIDs"]).toEqual(expect.arrayContaining(["999999999", "other", String(other.field)]));
    expect((unknown.body["ErrorCustomFieldIDs"] as unknown[]).length).toBe(3);
    expect(outcome(await patch({ EmailAddress: "KIM@example.com", Fields: { [field]: "Rome" } }))).toEqual([409, 7]);
    // Nothing of a refused call was applied.
    expect((await info(user, list, sub))["SubscriberInformation"]).toMatchObject({ EmailAddress: "sam@example.com", CustomFields: {} });
    await probe.expect([["ListSubscription", list, second]], [sub]);
  });

  it("moves the address guard with the address: the old address is free, the new one finds the subscriber", async () => {
    const { user, list, sub, probe } = await setup({ probe: true });
    expect(outcome(await user.patch("/api/v1/subscriber", { SubscriberID: sub, SubscriberListID: list, EmailAddress: "new@example.com" }))).toEqual([200, undefined]);
    await probe.expect([], [sub]);
    expect((await user.post("/api/v1/subscriber", { ListID: list, EmailAddress: "NEW@example.com" })).body["SubscriberID"]).toBe(sub);
    const fresh = Number((await user.post("/api/v1/subscriber", { ListID: list, EmailAddress: "sam@example.com" })).body["SubscriberID"]);
    expect(fresh).not.toBe(sub);
    await probe.expect([["ListSubscription", list, fresh]]);
    // A change of case keeps the guard and is stored as given.
    expect(outcome(await user.patch("/api/v1/subscriber", { SubscriberID: sub, SubscriberListID: list, EmailAddress: "New@Example.com" }))).toEqual([200, undefined]);
    expect((await info(user, list, sub))["SubscriberInformation"]["EmailAddress"]).toBe("New@Example.com");
  });

  it("fires once per real change: status both ways, each changed field, nothing on a no-op or with TriggerEvents off", async () => {
    const { user, list, sub, field, probe } = await setup({ probe: true });
    const field2 = Number((await user.post("/api/v1/customfield", { SubscriberListID: list, FieldName: "Zip" })).body["CustomFieldID"]);
    await probe.watch([["CustomFieldValueChanged", field2]]);
    const patch = (params: Json) => user.patch("/api/v1/subscriber", { SubscriberID: sub, SubscriberListID: list, ...params });
    const changed = await patch({ Fields: { [`CustomField${field}`]: "Rome", [field2]: 10115 }, PhoneNumber: "+4930123456" });
    expect(changed.body).toEqual({ Success: true, ErrorCode: 0, ErrorText: "" });
    await probe.expect([
      ["CustomFieldValueChanged", field, sub],
      ["CustomFieldValueChanged", field2, sub],
    ]);
    // The same values again: no write, no signal.
    const version = (await item(user, sub))?.["Version"];
    await patch({ Fields: { [field]: "Rome", [field2]: "10115" }, SubscriptionStatus: "subscribed", PhoneNumber: "+4930123456" });
    await probe.expect([]);
    expect((await item(user, sub))?.["Version"]).toBe(version);

    await patch({ SubscriptionStatus: "Unsubscribed" });
    await patch({ SubscriptionStatus: "Unsubscribed" });
    await probe.expect([["ListUnsubscription", list, sub]]);
    await patch({ SubscriptionStatus: "Subscribed", Fields: { [field]: "" } });
    await probe.expect([
      ["CustomFieldValueChanged", field, sub],
      ["ListSubscription", list, sub],
    ]);
    for (const off of ["0", "false", "NO", "off", false]) {
      await patch({ Fields: { [field2]: `v-${String(off)}` }, TriggerEvents: off });
    }
    await patch({ SubscriptionStatus: "Unsubscribed", TriggerEvents: "off" });
    await probe.expect([]);
    await patch({ Fields: { [field2]: "last" }, TriggerEvents: "yes" });
    await probe.expect([["CustomFieldValueChanged", field2, sub]]);

    const body = await info(user, list, sub);
    expect(body["SubscriberInformation"]).toMatchObject({ SubscriptionStatus: "Unsubscribed", PhoneNumber: "+4930123456", CustomFields: { [String(field2)]: "last" } });
    expect(body["SubscriberInformation"]["UnsubscriptionDate"]).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    const stored = await item(user, sub);
    expect(stored?.["Outbox"]).toEqual({});
    // Nine writes since: the two no-ops wrote nothing.
    expect(stored?.["Version"]).toBe(Number(version) + 9);
    // An empty PhoneNumber clears it.
    await patch({ PhoneNumber: "" });
    expect((await info(user, list, sub))["SubscriberInformation"]["PhoneNumber"]).toBeNull();
  });

  it("answers code 10 when the fields together would pass 64 KB once applied, and changes nothing", async () => {
    const { user, list, sub, probe } = await setup({ probe: true });
    const fields: number[] = [];
    for (let i = 0; i < 7; i++) fields.push(Number((await user.post("/api/v1/customfield", { SubscriberListID: list, FieldName: `F${i}` })).body["CustomFieldID"]));
    await probe.watch(fields.map((f): [string, number] => ["CustomFieldValueChanged", f]));
    const patch = (f: Json) => user.patch("/api/v1/subscriber", { SubscriberID: sub, SubscriberListID: list, Fields: f });
    expect(outcome(await patch(Object.fromEntries(fields.slice(0, 6).map((id) => [id, "x".repeat(9_999)]))))).toEqual([200, undefined]);
    await probe.expect(fields.slice(0, 6).map((f): Firing => ["CustomFieldValueChanged", f, sub]));
    expect(outcome(await patch({ [fields[6]!]: "y".repeat(9_999) }))).toEqual([422, 10]);
    expect(outcome(await patch({ [fields[6]!]: "y".repeat(10_001) }))).toEqual([422, 10]);
    await probe.expect([]);
    expect(Object.keys((await info(user, list, sub))["SubscriberInformation"]["CustomFields"])).toHaveLength(6);
  });
});

describe("suppression: ingest and resubscribe", () => {
  async function withJourney() {
    const s = await setup({ probe: true });
    const emailId = Number((await s.user.post("/api/v1/email", { EmailName: "E", Subject: "S" })).body["EmailID"]);
    const journeyId = await createJourney(s.user);
    const tree = await s.user.patch("/api/v1/journey.actions", { JourneyID: journeyId, Actions: [{ Action: "SendEmail", EmailID: emailId, Published: true }] });
    const actionId = Number((tree.body["Actions"] as Json[])[0]!["ActionID"]);
    let n = 0;
    const ingest = async (sub: number, Type: string, extra: Json = {}) => {
      const res = await s.user.post("/api/v1/journey.events", {
        Events: [{ EventID: `ev-${sub}-${++n}`, Type, JourneyID: journeyId, ActionID: actionId, SubscriberID: sub, EmailAddress: "sam@example.com", ...extra }],
      });
      expect(res.body["Accepted"], JSON.stringify(res.body)).toBe(1);
    };
    return { ...s, ingest };
  }

  it("a hard bounce sets BounceType Hard and SuppressedBy HardBounce, which a resubscribe does not clear", async () => {
    const { user, list, sub, ingest, probe } = await withJourney();
    await ingest(sub, "Bounced", { BounceType: "Soft" });
    expect(await item(user, sub)).toMatchObject({ BounceType: "Soft" });
    expect((await item(user, sub))?.["SuppressedBy"]).toBeUndefined();
    await ingest(sub, "Bounced", { BounceType: "Hard" });
    await ingest(sub, "Bounced", { BounceType: "Soft" });
    await ingest(sub, "Unsubscribed");
    expect(await item(user, sub)).toMatchObject({ BounceType: "Hard", SuppressedBy: "HardBounce" });
    await user.patch("/api/v1/subscriber", { SubscriberID: sub, SubscriberListID: list, SubscriptionStatus: "Subscribed" });
    expect(await item(user, sub)).toMatchObject({ SuppressedBy: "HardBounce" });
    expect((await info(user, list, sub))["Suppressed"]).toBe(true);
    await ingest(sub, "SpamComplaint");
    expect(await item(user, sub)).toMatchObject({ SuppressedBy: "SpamComplaint", BounceType: "Hard" });
    // Ingest writes fire nothing of §3.3 and keep the outbox empty.
    await probe.expect([], [sub]);
    expect((await item(user, sub))?.["Outbox"]).toEqual({});
  });

  it("an Unsubscribed event sets SuppressedBy Unsubscribed, which a resubscribe clears", async () => {
    const { user, list, sub, ingest, probe } = await withJourney();
    await ingest(sub, "Unsubscribed");
    expect(await item(user, sub)).toMatchObject({ SuppressedBy: "Unsubscribed", SubscriptionStatus: "Subscribed" });
    expect((await info(user, list, sub))["Suppressed"]).toBe(true);
    await user.patch("/api/v1/subscriber", { SubscriberID: sub, SubscriberListID: list, SubscriptionStatus: "Subscribed" });
    expect((await item(user, sub))?.["SuppressedBy"]).toBeUndefined();
    expect((await info(user, list, sub))["Suppressed"]).toBe(false);
    // Already Subscribed: clearing the suppression is a write, but no status change fires.
    await probe.expect([], [sub]);
  });
});

describe("subscriber.tag and subscriber.untag", () => {
  it.each([
    ["subscriber.tag", { SubscriberListID: 1, SubscriberID: 1 }, 1],
    ["subscriber.tag", { TagID: 1, SubscriberID: 1 }, 2],
    ["subscriber.untag", { TagID: 1, SubscriberListID: 1 }, 3],
    ["subscriber.tag", { TagID: 1, SubscriberListID: "x", SubscriberID: 1 }, 4],
    ["subscriber.untag", { TagID: 1, SubscriberListID: 1, SubscriberID: "a,b" }, 5],
    ["subscriber.tag", { TagID: 1, SubscriberListID: 1, SubscriberID: Array.from({ length: 101 }, (_, i) => i + 1) }, 5],
    ["subscriber.tag", { TagID: "x", SubscriberListID: 1, SubscriberID: 1 }, 6],
  ])("%s %j answers 422 / code %i", async (command, params, code) => {
    const user = await createUser();
    expect(outcome(await user.post(`/api/v1/${command}`, params))).toEqual([422, code]);
  });

  it("looks up the list (4), the tags (6) and the subscribers (9); 9 changes nothing", async () => {
    const { user, list, tag, sub, probe } = await setup({ probe: true });
    const other = await setup();
    const otherList = Number((await user.post("/api/v1/list", { SubscriberListName: "Other" })).body["ListID"]);
    const otherTag = Number((await user.post("/api/v1/subscriber.tags", { ListID: otherList, TagName: "x" })).body["TagID"]);
    const tagCall = (params: Json) => user.post("/api/v1/subscriber.tag", { TagID: tag, SubscriberListID: list, SubscriberID: sub, ...params });
    expect(outcome(await tagCall({ SubscriberListID: other.list }))).toEqual([404, 4]);
    expect(outcome(await tagCall({ TagID: `${tag},${otherTag}` }))).toEqual([422, 6]);
    expect(outcome(await tagCall({ TagID: other.tag }))).toEqual([422, 6]);
    expect(outcome(await tagCall({ TagID: 999999999 }))).toEqual([422, 6]);
    expect(outcome(await tagCall({ SubscriberID: [sub, other.sub] }))).toEqual([404, 9]);
    expect(outcome(await tagCall({ SubscriberID: `${sub},999999999` }))).toEqual([404, 9]);
    expect(outcome(await user.post("/api/v1/subscriber.untag", { TagID: tag, SubscriberListID: list, SubscriberID: [sub, other.sub] }))).toEqual([404, 9]);
    expect((await info(user, list, sub))["SubscriberTags"]).toEqual([]);
    await probe.expect([], [sub]);
  });

  it("tags and untags many subscribers in one call, firing once per (subscriber, tag) really changed", async () => {
    const { user, list, tag, sub, probe } = await setup({ probe: true });
    const tag2 = Number((await user.post("/api/v1/subscriber.tags", { ListID: list, TagName: "new" })).body["TagID"]);
    await probe.watch([
      ["Tag", tag2],
      ["UnTag", tag2],
    ]);
    const sub2 = Number((await user.post("/api/v1/subscriber", { ListID: list, EmailAddress: "kim@example.com" })).body["SubscriberID"]);
    await probe.expect([["ListSubscription", list, sub2]]);
    expect((await user.post("/api/v1/subscriber.tag", { TagID: tag, SubscriberListID: list, SubscriberID: sub })).body).toEqual({ Success: true, ErrorCode: 0 });
    await probe.expect([["Tag", tag, sub]]);
    await user.post("/api/v1/subscriber.tag", { TagID: `${tag},${tag2}`, SubscriberListID: list, SubscriberID: `${sub},${sub2}` });
    await probe.expect([
      ["Tag", tag, sub2],
      ["Tag", tag2, sub],
      ["Tag", tag2, sub2],
    ]);
    await user.post("/api/v1/subscriber.tag", { TagID: [tag, tag2], SubscriberListID: list, SubscriberID: [sub, sub2] });
    await probe.expect([], [sub]);
    expect((await info(user, list, sub))["SubscriberTags"]).toEqual([
      { TagID: tag, TagName: "vip" },
      { TagID: tag2, TagName: "new" },
    ]);
    expect((await user.post("/api/v1/subscriber.untag", { TagID: tag, SubscriberListID: list, SubscriberID: [sub, sub2] })).body).toEqual({ Success: true, ErrorCode: 0 });
    await user.post("/api/v1/subscriber.untag", { TagID: tag, SubscriberListID: list, SubscriberID: [sub, sub2] });
    await probe.expect([
      ["UnTag", tag, sub],
      ["UnTag", tag, sub2],
    ]);
    expect((await info(user, list, sub2))["SubscriberTags"]).toEqual([{ TagID: tag2, TagName: "new" }]);
    for (const s of [sub, sub2]) expect((await item(user, s))?.["Outbox"]).toEqual({});
  }, 120_000);

  it("refuses the 1,001st tag with code 10 and changes nothing, for any subscriber of the call", async () => {
    const { user, list, tag, sub, probe } = await setup({ probe: true });
    const sub2 = Number((await user.post("/api/v1/subscriber", { ListID: list, EmailAddress: "kim@example.com" })).body["SubscriberID"]);
    await probe.expect([["ListSubscription", list, sub2]], [sub]);
    // 1,000 tags of the list, seeded straight into the table (1,000 calls would pass the rate limit).
    const held: number[] = [];
    for (let i = 0; i < 1000; i++) held.push(await d.createOwned("tag", user.userId, { ListID: list, TagName: `t${i}` }));
    await probe.watch([
      ["Tag", held[0]!],
      ["UnTag", held[0]!],
    ]);
    await d.ddb().send(
      new d.UpdateCommand({
        TableName: d.tableName(),
        Key: d.keys.subscriber(user.userId, sub),
        UpdateExpression: "SET Tags = :t, Version = Version + :one",
        ExpressionAttributeValues: { ":t": held, ":one": 1 },
      }),
    );
    // A tag already held is no change, so it fits.
    expect(outcome(await user.post("/api/v1/subscriber.tag", { TagID: held[0], SubscriberListID: list, SubscriberID: sub }))).toEqual([200, undefined]);
    const res = await user.post("/api/v1/subscriber.tag", { TagID: tag, SubscriberListID: list, SubscriberID: [sub2, sub] });
    expect(outcome(res)).toEqual([422, 10]);
    expect(firstError(res)?.Message).toBe("Too many tags");
    expect((await item(user, sub))?.["Tags"]).toHaveLength(1000);
    expect((await item(user, sub2))?.["Tags"]).toEqual([]);
    await probe.expect([]);
    // Untagging one makes room.
    await user.post("/api/v1/subscriber.untag", { TagID: held[0], SubscriberListID: list, SubscriberID: sub });
    expect(outcome(await user.post("/api/v1/subscriber.tag", { TagID: tag, SubscriberListID: list, SubscriberID: [sub2, sub] }))).toEqual([200, undefined]);
    await probe.expect([
      ["Tag", tag, sub],
      ["Tag", tag, sub2],
      ["UnTag", held[0]!, sub],
    ]);
  }, 120_000);

  it("loses nothing to concurrent tag calls on one subscriber", async () => {
    const { user, list, sub, probe } = await setup({ probe: true });
    const tags: number[] = [];
    for (let i = 0; i < 12; i++) tags.push(await d.createOwned("tag", user.userId, { ListID: list, TagName: `c${i}` }));
    await probe.watch(tags.flatMap((t): [string, number][] => [["Tag", t], ["UnTag", t]]));
    const before = Number((await item(user, sub))?.["Version"]);
    const results = await Promise.all(tags.map((t) => user.post("/api/v1/subscriber.tag", { TagID: t, SubscriberListID: list, SubscriberID: sub })));
    expect(results.map((r) => r.status)).toEqual(tags.map(() => 200));
    const stored = await item(user, sub);
    expect([...(stored?.["Tags"] as number[])].sort((a, b) => a - b)).toEqual(tags);
    expect(stored?.["Version"]).toBe(before + tags.length);
    await probe.expect(tags.map((t): Firing => ["Tag", t, sub]));
    // Concurrent untags too.
    await Promise.all(tags.map((t) => user.post("/api/v1/subscriber.untag", { TagID: t, SubscriberListID: list, SubscriberID: sub })));
    expect((await item(user, sub))?.["Tags"]).toEqual([]);
    await probe.expect(tags.map((t): Firing => ["UnTag", t, sub]));
  }, 120_000);
});

describe("subscriber.unsubscribe", () => {
  it.each([
    [{ SubscriberID: 1 }, 1],
    [{ ListID: 1 }, 3],
    [{ ListID: 1, EmailAddress: "nope" }, 6],
    [{ ListID: "x", SubscriberID: 1 }, 4],
  ])("%j answers 422 / code %i", async (params, code) => {
    const user = await createUser();
    expect(outcome(await user.post("/api/v1/subscriber.unsubscribe", params))).toEqual([422, code]);
  });

  it("looks up the list (4) and the subscriber (7); unsubscribes once (then 409 / 9), keeping an IP literal only", async () => {
    const { user, list, sub, probe } = await setup({ probe: true });
    const other = await setup();
    const sub2 = Number((await user.post("/api/v1/subscriber", { ListID: list, EmailAddress: "kim@example.com" })).body["SubscriberID"]);
    await probe.expect([["ListSubscription", list, sub2]]);
    const unsub = (params: Json) => user.post("/api/v1/subscriber.unsubscribe", { ListID: list, ...params });
    expect(outcome(await unsub({ ListID: other.list, SubscriberID: other.sub }))).toEqual([404, 4]);
    expect(outcome(await unsub({ SubscriberID: other.sub }))).toEqual([404, 7]);
    expect(outcome(await unsub({ SubscriberID: "abc" }))).toEqual([404, 7]);
    expect(outcome(await unsub({ EmailAddress: "nobody@example.com" }))).toEqual([404, 7]);

    expect((await unsub({ SubscriberID: sub, IPAddress: "203.0.113.7" })).body).toEqual({ Success: true, ErrorCode: 0 });
    expect((await unsub({ EmailAddress: "KIM@example.com", IPAddress: "not an ip" })).body).toEqual({ Success: true, ErrorCode: 0 });
    expect(outcome(await unsub({ SubscriberID: sub }))).toEqual([409, 9]);
    await probe.expect([
      ["ListUnsubscription", list, sub],
      ["ListUnsubscription", list, sub2],
    ]);
    expect(await item(user, sub)).toMatchObject({ SubscriptionStatus: "Unsubscribed", UnsubscriptionIP: "203.0.113.7", Outbox: {} });
    expect((await item(user, sub2))?.["UnsubscriptionIP"]).toBeUndefined();
    // Unsubscribing is a status, not a suppression reason: a resubscribe makes it sendable again.
    expect((await item(user, sub))?.["SuppressedBy"]).toBeUndefined();
    const body = await info(user, list, sub);
    expect(body["SubscriberInformation"]["SubscriptionStatus"]).toBe("Unsubscribed");
  });
});

// ---- Journeys and activity: cursors written as the runner will write them ----

async function putCursor(user: TestUser, sub: number, journeyId: number, entryId: string, attrs: Json) {
  await d.batchPut([
    {
      ...d.keys.cursor(user.userId, sub, journeyId, entryId),
      UserID: user.userId,
      SubscriberID: sub,
      JourneyID: journeyId,
      EntryID: entryId,
      State: "Active",
      ActionID: 0,
      Started: false,
      DueAt: 0,
      Version: 1,
      TreeVersion: "",
      EnteredBy: `sig-${entryId}`,
      Source: "ListSubscription",
      Depth: 0,
      EnrolledAt: 0,
      EmailAddress: "sam@example.com",
      Extra: [],
      Passed: 0,
      Steps: [],
      ...attrs,
    },
    { ...d.keys.membership(user.userId, sub, journeyId), Version: 1 },
  ]);
}

const epoch = (s: string) => Date.parse(`${s.replace(" ", "T")}Z`) / 1000;
const DAY = 86400;
const nowEpoch = () => Math.floor(Date.now() / 1000);
const fmt = (e: number) => new Date(e * 1000).toISOString().slice(0, 19).replace("T", " ");

describe("subscriber.get's SubscriberJourneys", () => {
  it("lists enrolments in progress and those ended in the last 30 days, leaving out journeys that are gone", async () => {
    const { user, list, sub } = await setup();
    const [a, b, gone] = [await createJourney(user, { Name: "A" }), await createJourney(user, { Name: "B" }), await createJourney(user, { Name: "Gone" })];
    const now = nowEpoch();
    await putCursor(user, sub, a, "01AAAAAAAAAAAAAAAAAAAAAAA1", { State: "Active", ActionID: 7, Started: true, DueAt: now + 3600, EnrolledAt: now - 100, Passed: 2 });
    await putCursor(user, sub, b, "01AAAAAAAAAAAAAAAAAAAAAAA2", { State: "Paused", ActionID: 9, Started: false, DueAt: now, EnrolledAt: now - 50, Passed: 0 });
    await putCursor(user, sub, a, "01AAAAAAAAAAAAAAAAAAAAAAA0", {
      State: "Completed", ActionID: 0, EnrolledAt: now - 5 * DAY, EndedAt: now - 4 * DAY, EndedBy: "Completed", EndReason: "Completed", Passed: 3,
    });
    await putCursor(user, sub, b, "01AAAAAAAAAAAAAAAAAAAAAAA3", {
      State: "Exited", ActionID: 0, EnrolledAt: now - 40 * DAY, EndedAt: now - 31 * DAY, EndedBy: "Exited", EndReason: "Command", Passed: 1,
    });
    await putCursor(user, sub, gone, "01AAAAAAAAAAAAAAAAAAAAAAA4", { State: "Active", EnrolledAt: now });
    await user.post("/api/v1/journey.delete", { JourneyID: gone });

    const journeys = (await info(user, list, sub))["SubscriberJourneys"];
    expect(journeys).toEqual({
      InProgress: [
        { JourneyID: b, JourneyName: "B", EntryID: "01AAAAAAAAAAAAAAAAAAAAAAA2", State: "Paused", RelActionID: 9, SnoozedUntil: null, EnrolledAt: fmt(now - 50), CurrentStep: 1, TotalSteps: 1 },
        { JourneyID: a, JourneyName: "A", EntryID: "01AAAAAAAAAAAAAAAAAAAAAAA1", State: "Active", RelActionID: 7, SnoozedUntil: fmt(now + 3600), EnrolledAt: fmt(now - 100), CurrentStep: 3, TotalSteps: 3 },
      ],
      Completed: [
        {
          JourneyID: a, JourneyName: "A", EntryID: "01AAAAAAAAAAAAAAAAAAAAAAA0", EndedBy: "Completed", EndReason: "Completed", RelActionID: 0,
          EnrolledAt: fmt(now - 5 * DAY), CompletedAt: fmt(now - 4 * DAY), CurrentStep: 3, TotalSteps: 3,
        },
      ],
    });
  });
});

describe("subscriber.get.activity", () => {
  it.each([
    [{ SubscriberListID: 1 }, 422, 1],
    [{ SubscriberID: 1 }, 422, 2],
    [{ SubscriberID: "x", SubscriberListID: 1 }, 404, 3],
  ])("%j answers %i / code %i", async (params, status, code) => {
    const user = await createUser();
    expect(outcome(await user.get("/api/v1/subscriber.activity", params))).toEqual([status, code]);
  });

  it("answers 404 / 3 for a list not the caller's, a malformed list or another user's subscriber", async () => {
    const { user, list, sub } = await setup();
    const other = await setup();
    expect(outcome(await user.get("/api/v1/subscriber.activity", { SubscriberID: other.sub, SubscriberListID: other.list }))).toEqual([404, 3]);
    expect(outcome(await user.get("/api/v1/subscriber.activity", { SubscriberID: other.sub, SubscriberListID: list }))).toEqual([404, 3]);
    expect(outcome(await user.get("/api/v1/subscriber.activity", { SubscriberID: sub, SubscriberListID: "abc" }))).toEqual([404, 3]);
    expect((await user.get("/api/v1/subscriber.activity", { SubscriberID: sub, SubscriberListID: list })).body).toEqual({ Success: true, ErrorCode: 0, Activity: [] });
  });

  it("lists enrolments, steps and ends, newest first, then EntryID, then last written first", async () => {
    const { user, list, sub } = await setup();
    const [a, b, gone] = [await createJourney(user), await createJourney(user), await createJourney(user)];
    const t = epoch("2026-03-01 10:00:00");
    const step = (at: number, actionId: number, outcome: string, reason: string, detail: Json = {}) => ({ At: fmt(at), ActionID: actionId, Action: "Wait", Outcome: outcome, Reason: reason, Detail: detail });
    await putCursor(user, sub, a, "01B00000000000000000000001", {
      State: "Completed", EnrolledAt: t, EndedAt: t + 60, EndedBy: "Completed", EndReason: "Completed", Source: "Tag", Depth: 1,
      Steps: [step(t, 11, "Waiting", "Wait"), step(t + 60, 11, "Done", "Waited")],
    });
    await putCursor(user, sub, b, "01B00000000000000000000002", { State: "Active", EnrolledAt: t, Source: "Command", Steps: [step(t, 21, "Done", "Sent", { MessageId: "m" })] });
    await putCursor(user, sub, gone, "01B00000000000000000000003", { State: "Active", EnrolledAt: t + 999 });
    await user.post("/api/v1/journey.delete", { JourneyID: gone });

    const res = await user.get("/api/v1/subscriber.activity", { SubscriberID: sub, SubscriberListID: list });
    const rows = (res.body["Activity"] as Json[]).map((r) => [r["ActivityType"], r["EntryID"].slice(-1), r["ActionID"], r["Outcome"], r["Reason"], r["ActivityDate"]]);
    expect(rows).toEqual([
      ["JourneyEnded", "1", 0, "Done", "Completed", fmt(t + 60)],
      ["JourneyStep", "1", 11, "Done", "Waited", fmt(t + 60)],
      ["JourneyStep", "2", 21, "Done", "Sent", fmt(t)],
      ["JourneyEnrolled", "2", 0, "Done", "Command", fmt(t)],
      ["JourneyStep", "1", 11, "Waiting", "Wait", fmt(t)],
      ["JourneyEnrolled", "1", 0, "Done", "Tag", fmt(t)],
    ]);
    const activity = res.body["Activity"] as Json[];
    expect(activity[0]).toEqual({
      ActivityType: "JourneyEnded", JourneyID: a, EntryID: "01B00000000000000000000001", ActionID: 0, Action: "", Outcome: "Done",
      Reason: "Completed", Detail: { EndedBy: "Completed" }, ActivityDate: fmt(t + 60),
    });
    expect(activity[5]).toMatchObject({ Action: "", Detail: { Depth: 1, EnteredBy: "sig-01B00000000000000000000001" } });
    expect(activity[2]).toMatchObject({ JourneyID: b, Action: "Wait", Detail: { MessageId: "m" } });

    const onlyB = await user.get("/api/v1/subscriber.activity", { SubscriberID: sub, SubscriberListID: list, JourneyID: b });
    expect((onlyB.body["Activity"] as Json[]).map((r) => r["JourneyID"])).toEqual([b, b]);
    expect((await user.get("/api/v1/subscriber.activity", { SubscriberID: sub, SubscriberListID: list, JourneyID: "x" })).body["Activity"]).toEqual([]);
  });

  it("answers the first 1,000 rows at most", async () => {
    const { user, list, sub } = await setup();
    const journeyId = await createJourney(user);
    const t = epoch("2026-03-01 00:00:00");
    // 60 enrolments of 20 steps each, plus enrolled and ended rows: 1,320 rows.
    for (let e = 0; e < 60; e++) {
      const entry = `01C${String(e).padStart(23, "0")}`;
      const steps = Array.from({ length: 20 }, (_, i) => ({ At: fmt(t + e * 100 + i), ActionID: i + 1, Action: "Wait", Outcome: "Done", Reason: "Waited", Detail: {} }));
      await putCursor(user, sub, journeyId, entry, { State: "Exited", EnrolledAt: t + e * 100, EndedAt: t + e * 100 + 50, EndedBy: "Exited", EndReason: "Command", Steps: steps });
    }
    const rows = (await user.get("/api/v1/subscriber.activity", { SubscriberID: sub, SubscriberListID: list })).body["Activity"] as Json[];
    expect(rows).toHaveLength(1000);
    expect(rows[0]).toMatchObject({ ActivityType: "JourneyEnded", EntryID: `01C${String(59).padStart(23, "0")}` });
    const dates = rows.map((r) => r["ActivityDate"] as string);
    expect([...dates].sort().reverse()).toEqual(dates);
  }, 60_000);
});
