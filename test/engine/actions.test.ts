import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cursorsOf, membershipsOf, startEngineStack, subscriber, subscriberItem, type EngineStack, type EngineUser } from "../support/engine.js";
import { formatDateTime, parseDateTime } from "../../shared/time.js";

/**
 * Every non-delivery action of ENGINE §7, black-box on this file's own local
 * stack: each test builds journeys through the API, enrols with
 * subscriber.journey.trigger, lets the engine settle (`engine.idle()`) and reads
 * the effect and the step record (Outcome, Reason, Detail) back. Statistics come
 * from journey.get; the engine's items from the table through the engine's own
 * readers, as no subscriber read command exists yet on this branch.
 *
 * One stack for the file and a product clock that only moves forward: enrolments
 * meant to stay live wait 30 days, so the minutes other tests advance never move
 * them. Timed parks here are longer than LONG_WAIT_THRESHOLD_SECONDS (900): a
 * shorter one has its own delayed SQS message, timed in real seconds, which keeps
 * `/_local/engine` from answering Idle until it is due, however far the clock moves.
 * For the same reason no test advances the clock to within 60 s before a DueAt.
 */
let engine: EngineStack;

beforeAll(async () => {
  engine = await startEngineStack();
}, 120_000);
afterAll(async () => engine?.stop());

type Step = { At: string; ActionID: number; Action: string; Outcome: string; Reason: string; Detail: Record<string, unknown> };
type Params = Record<string, unknown>;

/** Tests that move the clock wait for the engine several times; two stacks share two cores when test/engine/ runs. */
const CLOCK_TEST_MS = 120_000;
const HOLD = { Action: "Wait", WaitUnit: "days", WaitAmount: 30, Published: true };
const pub = (a: Params): Params => ({ Published: true, ...a });

async function list(user: EngineUser, name = "Main"): Promise<number> {
  const res = await user.post("/api/v1/list", { SubscriberListName: name });
  expect(res.status, res.text).toBe(200);
  return Number(res.body["ListID"]);
}
async function tag(user: EngineUser, listId: number, name = "t"): Promise<number> {
  const res = await user.post("/api/v1/subscriber.tags", { ListID: listId, TagName: name });
  expect(res.status, res.text).toBe(200);
  return Number(res.body["TagID"]);
}
async function customField(user: EngineUser, listId: number, name = "f"): Promise<number> {
  const res = await user.post("/api/v1/customfield", { SubscriberListID: listId, FieldName: name });
  expect(res.status, res.text).toBe(200);
  return Number(res.body["CustomFieldID"]);
}

/** A Manual journey with `actions`, enabled unless `enabled` is false. */
async function journey(user: EngineUser, actions: Params[], opts: { enabled?: boolean; create?: Params } = {}): Promise<number> {
  const created = await user.post("/api/v1/journey", { Name: `J-${Math.random().toString(36).slice(2, 8)}`, ...opts.create });
  expect(created.status, created.text).toBe(200);
  const id = Number(created.body["JourneyID"]);
  if (actions.length > 0) {
    const upd = await user.patch("/api/v1/journey.actions", { JourneyID: id, Actions: actions });
    expect(upd.status, upd.text).toBe(200);
  }
  if (opts.enabled !== false) expect((await user.get("/api/v1/journey.enable", { JourneyID: id })).status).toBe(200);
  return id;
}

async function trigger(user: EngineUser, listId: number, subscriberId: number, journeyIds: number | number[]) {
  const res = await user.post("/api/v1/subscriber.journey.trigger", { JourneyID: journeyIds, ListID: listId, SubscriberID: subscriberId });
  expect(res.status, res.text).toBe(200);
  return res;
}

/** The subscriber's cursors in one journey, oldest first. */
async function cursorsIn(user: EngineUser, subscriberId: number, journeyId: number) {
  return (await cursorsOf(user.userId, subscriberId)).filter((c) => Number(c["JourneyID"]) === journeyId).sort((a, b) => String(a["EntryID"]).localeCompare(String(b["EntryID"])));
}
async function only(user: EngineUser, subscriberId: number, journeyId: number) {
  const found = await cursorsIn(user, subscriberId, journeyId);
  expect(found, `cursors of journey ${journeyId}`).toHaveLength(1);
  return found[0]!;
}
const stepsOf = (c: Record<string, unknown>): Step[] => c["Steps"] as Step[];
const brief = (c: Record<string, unknown>) => stepsOf(c).map((s) => `${s.Action}:${s.Outcome}${s.Reason ? `:${s.Reason}` : ""}`);

async function enrolmentStats(user: EngineUser, journeyId: number) {
  const res = await user.get("/api/v1/journey", { JourneyID: journeyId });
  expect(res.status, res.text).toBe(200);
  const s = res.body["JourneyStats"] as Record<string, unknown>;
  return { Active: s["ActiveSubscribers"], Total: s["TotalSubscribers"] };
}

async function guardOf(userId: number, listId: number, email: string) {
  const { keys } = await import("../../shared/keys.js");
  const { sha256Hex } = await import("../../shared/domain/secrets.js");
  const { getConsistent } = await import("../../shared/engine/store.js");
  return getConsistent(keys.subscriberAddress(userId, listId, sha256Hex(email.toLowerCase())));
}

const at = (epoch: number) => formatDateTime(new Date(epoch * 1000));
const epochOf = (text: string) => Math.floor(parseDateTime(text)!.getTime() / 1000);

describe("Wait", () => {
  it("parks the cursor until its DueAt (Waiting {Until, HeldByWindow}) and goes on after it", { timeout: CLOCK_TEST_MS }, async () => {
    const user = await engine.user();
    const l = await list(user);
    const t = await tag(user, l);
    const j = await journey(user, [pub({ Action: "Wait", WaitUnit: "minutes", WaitAmount: 20 }), pub({ Action: "AddTag", TargetTagID: t })]);
    const sid = await subscriber(user, l, "wait@example.com");
    await trigger(user, l, sid, j);
    await engine.idle();

    let c = await only(user, sid, j);
    expect(c["State"]).toBe("Active");
    expect(c["Started"]).toBe(true);
    const [wait] = stepsOf(c);
    expect(wait).toMatchObject({ Action: "Wait", Outcome: "Waiting", Reason: "", Detail: { Until: at(Number(c["EnrolledAt"]) + 1200), HeldByWindow: false } });
    expect(c["DueAt"]).toBe(Number(c["EnrolledAt"]) + 1200);

    // Not to within 10 minutes of DueAt: the clock route (60 s ahead) and the sweeper's primary
    // pass (the next minute's bucket) hand an entry with a delay of real seconds, and Idle waits for it.
    await engine.advance(1200 - 600);
    expect((await only(user, sid, j))["State"]).toBe("Active");
    await engine.advance(601);
    c = await only(user, sid, j);
    expect(c["State"]).toBe("Completed");
    expect(brief(c)).toEqual(["Wait:Waiting", "AddTag:Done"]);
    expect((await subscriberItem(user.userId, sid))?.["Tags"]).toEqual([t]);
  });

  it("records HeldByWindow when its window moves DueAt past the base wait", { timeout: CLOCK_TEST_MS }, async () => {
    const user = await engine.user();
    const l = await list(user);
    const clock = await engine.local("GET", "/_local/clock");
    const now = epochOf(String(clock.body["Now"]));
    // A day two days ahead: the base (now + 1 s) is on a day that is not allowed.
    const dayAfterNext = new Date((now + 2 * 86_400) * 1000);
    const name = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"][dayAfterNext.getUTCDay()]!;
    const j = await journey(user, [
      pub({ Action: "Wait", WaitUnit: "seconds", WaitAmount: 1, TimeConstraintEnabled: true, DontSendBefore: "09:00", DontSendAfter: "19:00", AllowedDays: [name] }),
    ]);
    const sid = await subscriber(user, l, "window@example.com");
    await trigger(user, l, sid, j);
    await engine.idle();

    const c = await only(user, sid, j);
    const expected = `${dayAfterNext.toISOString().slice(0, 10)} 09:00:00`;
    expect(stepsOf(c)[0]).toMatchObject({ Action: "Wait", Outcome: "Waiting", Detail: { Until: expected, HeldByWindow: true } });
    expect(c["DueAt"]).toBe(epochOf(expected));
  });
});

describe("UpdateCustomFieldValue", () => {
  it("sets (Changed), skips another list's field (NotOnList) and a value past 64 KB (TooLarge), and clears with \"\"", async () => {
    const user = await engine.user();
    const l = await list(user);
    const other = await list(user, "Other");
    const city = await customField(user, l, "City");
    const old = await customField(user, l, "Old");
    const foreign = await customField(user, other, "Foreign");
    // Existing values close to the 64 KB bound: 6 × 10,000 + 4,200 characters.
    const filler: Record<string, string> = {};
    for (let i = 0; i < 6; i++) filler[String(900_000 + i)] = "x".repeat(10_000);
    filler["900006"] = "y".repeat(4_200);
    const sid = await subscriber(user, l, "fields@example.com", { CustomFields: { ...filler, [String(old)]: "before" } });
    const j = await journey(user, [
      pub({ Action: "UpdateCustomFieldValue", TargetCustomFieldID: city, NewCustomFieldValue: "Paris" }),
      pub({ Action: "UpdateCustomFieldValue", TargetCustomFieldID: city, NewCustomFieldValue: "Paris" }),
      pub({ Action: "UpdateCustomFieldValue", TargetCustomFieldID: foreign, NewCustomFieldValue: "x" }),
      // 1,000 two-byte characters: 2,000 bytes more than the subscriber has room for.
      pub({ Action: "UpdateCustomFieldValue", TargetCustomFieldID: city, NewCustomFieldValue: "é".repeat(1000) }),
      pub({ Action: "UpdateCustomFieldValue", TargetCustomFieldID: old, NewCustomFieldValue: "" }),
    ]);
    await trigger(user, l, sid, j);
    await engine.idle();

    const c = await only(user, sid, j);
    expect(c["State"]).toBe("Completed");
    expect(stepsOf(c).map((s) => [s.Outcome, s.Reason, s.Detail])).toEqual([
      ["Done", "", { Changed: true }],
      ["Done", "", { Changed: false }],
      ["Skipped", "NotOnList", {}],
      ["Skipped", "TooLarge", {}],
      ["Done", "", { Changed: true }],
    ]);
    const fields = (await subscriberItem(user.userId, sid))?.["CustomFields"] as Record<string, string>;
    expect(fields[String(city)]).toBe("Paris");
    expect(fields).not.toHaveProperty(String(old));
    expect(fields).not.toHaveProperty(String(foreign));
    expect(fields["900006"]).toBe(filler["900006"]);
  });
});

describe("Unsubscribe", () => {
  it("unsubscribes on its own list and the same address on another list; NotOnList elsewhere; the journey goes on", async () => {
    const user = await engine.user();
    const own = await list(user, "Own");
    const second = await list(user, "Second");
    const absent = await list(user, "Absent");
    const t = await tag(user, own);
    const sid = await subscriber(user, own, "Unsub@Example.com");
    const twin = await subscriber(user, second, "unsub@example.com");
    const j = await journey(user, [
      pub({ Action: "Unsubscribe", TargetListID: second }),
      pub({ Action: "Unsubscribe", TargetListID: own }),
      pub({ Action: "Unsubscribe", TargetListID: absent }),
      pub({ Action: "Unsubscribe", TargetListID: own }),
      pub({ Action: "AddTag", TargetTagID: t }),
    ]);
    await trigger(user, own, sid, j);
    await engine.idle();

    const c = await only(user, sid, j);
    expect(c["State"]).toBe("Completed");
    expect(stepsOf(c).map((s) => [s.Action, s.Outcome, s.Reason, s.Detail])).toEqual([
      ["Unsubscribe", "Done", "", { Changed: true }],
      ["Unsubscribe", "Done", "", { Changed: true }],
      ["Unsubscribe", "Skipped", "NotOnList", {}],
      ["Unsubscribe", "Done", "", { Changed: false }],
      ["AddTag", "Done", "", { Changed: true }],
    ]);
    for (const id of [sid, twin]) {
      const s = await subscriberItem(user.userId, id);
      expect(s?.["SubscriptionStatus"], `subscriber ${id}`).toBe("Unsubscribed");
      expect(s?.["SuppressedBy"]).toBe("Unsubscribed");
      expect(String(s?.["UnsubscriptionDate"])).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    }
  });
});

/** `n` journeys that hold an enrolment (a 30-day Wait), all entered by `sid` in one trigger call. */
async function heldEnrolments(user: EngineUser, listId: number, sid: number, n: number): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) ids.push(await journey(user, [HOLD]));
  await trigger(user, listId, sid, ids);
  await engine.idle();
  return ids;
}

describe("DeleteSubscriber", () => {
  it("ends 60 other enrolments and its own (SubscriberDeleted), and deletes the subscriber item and its address guard", { timeout: 180_000 }, async () => {
    const user = await engine.user();
    const l = await list(user);
    const t = await tag(user, l);
    const sid = await subscriber(user, l, "delete@example.com");
    const others = await heldEnrolments(user, l, sid, 60);
    expect(await cursorsOf(user.userId, sid)).toHaveLength(60);
    expect(await guardOf(user.userId, l, "delete@example.com")).toBeDefined();

    const j = await journey(user, [pub({ Action: "DeleteSubscriber" }), pub({ Action: "AddTag", TargetTagID: t })]);
    await trigger(user, l, sid, j);
    await engine.idle();

    const own = await only(user, sid, j);
    expect(own).toMatchObject({ State: "Exited", EndedBy: "Exited", EndReason: "SubscriberDeleted" });
    expect(stepsOf(own).map((s) => [s.Action, s.Outcome, s.Reason])).toEqual([["DeleteSubscriber", "Done", ""]]);
    const all = await cursorsOf(user.userId, sid);
    expect(all).toHaveLength(61);
    for (const c of all) expect(c, `journey ${c["JourneyID"]}`).toMatchObject({ State: "Exited", EndedBy: "Exited", EndReason: "SubscriberDeleted" });
    for (const m of await membershipsOf(user.userId, sid)) expect(m["ActiveEntryID"]).toBeUndefined();
    expect(await subscriberItem(user.userId, sid)).toBeUndefined();
    expect(await guardOf(user.userId, l, "delete@example.com")).toBeUndefined();
    // Statistics stay: each enrolment counted once, none still active.
    for (const id of [...others.slice(0, 3), others[59]!, j]) expect(await enrolmentStats(user, id), `journey ${id}`).toEqual({ Active: 0, Total: 1 });
  });
});

describe("ExitJourney", () => {
  it("array form listing its own journey: the others end first, itself last; 0 entries are ignored", async () => {
    const user = await engine.user();
    const l = await list(user);
    const t = await tag(user, l);
    const sid = await subscriber(user, l, "exitjourney@example.com");
    const [a, b, untouched] = await heldEnrolments(user, l, sid, 3);
    const j = await journey(user, []);
    const upd = await user.patch("/api/v1/journey.actions", {
      JourneyID: j,
      Actions: [pub({ Action: "ExitJourney", TargetJourneyID: [b, 0, j, a] }), pub({ Action: "AddTag", TargetTagID: t })],
    });
    expect(upd.status, upd.text).toBe(200);
    await trigger(user, l, sid, j);
    await engine.idle();

    const own = await only(user, sid, j);
    expect(own).toMatchObject({ State: "Exited", EndReason: "ExitJourney" });
    expect(stepsOf(own).map((s) => [s.Action, s.Outcome, s.Reason, s.Detail])).toEqual([["ExitJourney", "Done", "", { Exited: [a, b, j] }]]);
    for (const id of [a!, b!]) {
      const c = await only(user, sid, id);
      expect(c).toMatchObject({ State: "Exited", EndedBy: "Exited", EndReason: "ExitJourney" });
      expect(Number(c["EndedAt"])).toBeLessThanOrEqual(Number(own["EndedAt"]));
    }
    expect((await only(user, sid, untouched!))["State"]).toBe("Active");
    expect((await subscriberItem(user.userId, sid))?.["Tags"]).toEqual([]);
    for (const id of [a!, b!, j]) expect(await enrolmentStats(user, id)).toEqual({ Active: 0, Total: 1 });
    expect(await enrolmentStats(user, untouched!)).toEqual({ Active: 1, Total: 1 });
  });
});

describe("ExitThisJourney", () => {
  it("ends this enrolment (Exited, ExitThisJourney); nothing after it runs", async () => {
    const user = await engine.user();
    const l = await list(user);
    const t = await tag(user, l);
    const sid = await subscriber(user, l, "exitthis@example.com");
    const [other] = await heldEnrolments(user, l, sid, 1);
    const j = await journey(user, [pub({ Action: "ExitThisJourney" }), pub({ Action: "AddTag", TargetTagID: t })]);
    await trigger(user, l, sid, j);
    await engine.idle();

    const c = await only(user, sid, j);
    expect(c).toMatchObject({ State: "Exited", EndedBy: "Exited", EndReason: "ExitThisJourney" });
    expect(stepsOf(c).map((s) => [s.Action, s.Outcome, s.Reason, s.Detail])).toEqual([["ExitThisJourney", "Done", "", {}]]);
    expect((await only(user, sid, other!))["State"]).toBe("Active");
    expect((await subscriberItem(user.userId, sid))?.["Tags"]).toEqual([]);
    expect(await enrolmentStats(user, j)).toEqual({ Active: 0, Total: 1 });
  });
});

describe("ExitAllOtherJourneys", () => {
  it("ends every other live enrolment and goes on (Done {Exited})", async () => {
    const user = await engine.user();
    const l = await list(user);
    const t = await tag(user, l);
    const sid = await subscriber(user, l, "exitothers@example.com");
    const others = await heldEnrolments(user, l, sid, 3);
    const j = await journey(user, [pub({ Action: "ExitAllOtherJourneys" }), pub({ Action: "AddTag", TargetTagID: t })]);
    await trigger(user, l, sid, j);
    await engine.idle();

    const c = await only(user, sid, j);
    expect(c).toMatchObject({ State: "Completed", EndReason: "Completed" });
    expect(stepsOf(c).map((s) => [s.Action, s.Outcome, s.Reason, s.Detail])).toEqual([
      ["ExitAllOtherJourneys", "Done", "", { Exited: others }],
      ["AddTag", "Done", "", { Changed: true }],
    ]);
    for (const id of others) {
      expect(await only(user, sid, id)).toMatchObject({ State: "Exited", EndReason: "ExitAllOtherJourneys" });
      expect(await enrolmentStats(user, id)).toEqual({ Active: 0, Total: 1 });
    }
  });
});

describe("Fan-outs and deleted journeys", () => {
  it("ExitAllOtherJourneys leaves a deleted journey's enrolment alone (§5.4: fan-outs ignore journeys that are gone)", async () => {
    const user = await engine.user();
    const l = await list(user);
    const sid = await subscriber(user, l, "gone@example.com");
    const [kept, gone] = await heldEnrolments(user, l, sid, 2);
    expect((await user.post("/api/v1/journey.delete", { JourneyID: gone })).status).toBe(200);
    const j = await journey(user, [pub({ Action: "ExitAllOtherJourneys" })]);
    await trigger(user, l, sid, j);
    await engine.idle();

    const c = await only(user, sid, j);
    expect(stepsOf(c)[0]).toMatchObject({ Action: "ExitAllOtherJourneys", Outcome: "Done", Detail: { Exited: [kept] } });
    expect(await only(user, sid, kept!)).toMatchObject({ State: "Exited", EndReason: "ExitAllOtherJourneys" });
    // Not ended as ExitAllOtherJourneys, with an Exited event ingest would reject: its own purge ends it (JourneyDeleted).
    expect((await only(user, sid, gone!))["EndReason"]).not.toBe("ExitAllOtherJourneys");
  });
});

describe("ExitAllJourneys", () => {
  it("ends 60 other enrolments, then its own; every ended journey shows ActiveSubscribers 0", { timeout: 180_000 }, async () => {
    const user = await engine.user();
    const l = await list(user);
    const t = await tag(user, l);
    const sid = await subscriber(user, l, "exitall@example.com");
    const others = await heldEnrolments(user, l, sid, 60);
    expect(await enrolmentStats(user, others[0]!)).toEqual({ Active: 1, Total: 1 });
    const j = await journey(user, [pub({ Action: "ExitAllJourneys" }), pub({ Action: "AddTag", TargetTagID: t })]);
    await trigger(user, l, sid, j);
    await engine.idle();

    const own = await only(user, sid, j);
    expect(own).toMatchObject({ State: "Exited", EndedBy: "Exited", EndReason: "ExitAllJourneys" });
    expect(stepsOf(own).map((s) => [s.Action, s.Outcome, s.Reason, s.Detail])).toEqual([["ExitAllJourneys", "Done", "", { Exited: others }]]);
    const all = await cursorsOf(user.userId, sid);
    expect(all).toHaveLength(61);
    for (const c of all) expect(c, `journey ${c["JourneyID"]}`).toMatchObject({ State: "Exited", EndReason: "ExitAllJourneys" });
    for (const m of await membershipsOf(user.userId, sid)) expect(m["ActiveEntryID"]).toBeUndefined();
    expect((await subscriberItem(user.userId, sid))?.["Tags"]).toEqual([]);
    for (const id of [...others, j]) expect(await enrolmentStats(user, id), `journey ${id}`).toEqual({ Active: 0, Total: 1 });
  });
});

describe("StartJourney", () => {
  it("enrols into the target (Done {EntryID}); AlreadyActive into an active one; JourneyDisabled; CriteriaNotMet", async () => {
    const user = await engine.user();
    const l = await list(user);
    const sid = await subscriber(user, l, "start@example.com");
    const target = await journey(user, [HOLD]);
    const disabled = await journey(user, [HOLD], { enabled: false });
    const vip = await tag(user, l, "vip");
    const picky = await journey(user, [HOLD], { create: { Trigger_Criteria: [[{ type: "tags", operator: "has this tag", value: String(vip) }]] } });
    const j = await journey(user, [
      pub({ Action: "StartJourney", TargetJourneyID: target }),
      pub({ Action: "StartJourney", TargetJourneyID: target }),
      pub({ Action: "StartJourney", TargetJourneyID: disabled }),
      pub({ Action: "StartJourney", TargetJourneyID: picky }),
    ]);
    await trigger(user, l, sid, j);
    await engine.idle();

    const c = await only(user, sid, j);
    expect(c["State"]).toBe("Completed");
    const started = await only(user, sid, target);
    expect(started).toMatchObject({ State: "Active", Source: "StartJourney", Depth: 1, Started: true });
    expect(stepsOf(started).map((s) => `${s.Action}:${s.Outcome}`)).toEqual(["Wait:Waiting"]);
    expect(stepsOf(c).map((s) => [s.Outcome, s.Reason, s.Detail])).toEqual([
      ["Done", "", { EntryID: started["EntryID"] }],
      ["Skipped", "AlreadyActive", {}],
      ["Skipped", "JourneyDisabled", {}],
      ["Skipped", "CriteriaNotMet", {}],
    ]);
    expect(await cursorsIn(user, sid, disabled)).toHaveLength(0);
    expect(await cursorsIn(user, sid, picky)).toHaveLength(0);
    expect(await enrolmentStats(user, target)).toEqual({ Active: 1, Total: 1 });
  });

  it("refuses an enrolment deeper than 10 (LoopGuard)", async () => {
    const user = await engine.user();
    const l = await list(user);
    const sid = await subscriber(user, l, "loop@example.com");
    // J1 → J2 → … → J12: J1 enrols at Depth 0, so J11 is at Depth 10 and J12 would be 11.
    const ids: number[] = [await journey(user, [HOLD])];
    for (let i = 0; i < 11; i++) ids.unshift(await journey(user, [pub({ Action: "StartJourney", TargetJourneyID: ids[0] })]));
    await trigger(user, l, sid, ids[0]!);
    await engine.idle();

    for (let i = 0; i < 10; i++) {
      const c = await only(user, sid, ids[i]!);
      expect(c, `J${i + 1}`).toMatchObject({ State: "Completed", Depth: i });
      expect(stepsOf(c)[0]).toMatchObject({ Outcome: "Done" });
    }
    const last = await only(user, sid, ids[10]!);
    expect(last).toMatchObject({ State: "Completed", Depth: 10 });
    expect(stepsOf(last).map((s) => [s.Action, s.Outcome, s.Reason])).toEqual([["StartJourney", "Skipped", "LoopGuard"]]);
    expect(await cursorsIn(user, sid, ids[11]!)).toHaveLength(0);
  });
});

describe("Subscribe", () => {
  it("creates a subscriber on the target list; Existing when subscribed there; PreviouslyUnsubscribed is never overridden", async () => {
    const user = await engine.user();
    const own = await list(user, "Own");
    const fresh = await list(user, "Fresh");
    const already = await list(user, "Already");
    const left = await list(user, "Left");
    const sid = await subscriber(user, own, "Sub@Example.com");
    const existing = await subscriber(user, already, "sub@example.com");
    const gone = await subscriber(user, left, "sub@example.com", { SubscriptionStatus: "Unsubscribed" });
    const j = await journey(user, [
      pub({ Action: "Subscribe", TargetListID: fresh }),
      pub({ Action: "Subscribe", TargetListID: fresh }),
      pub({ Action: "Subscribe", TargetListID: already }),
      pub({ Action: "Subscribe", TargetListID: left }),
      pub({ Action: "Subscribe", TargetListID: own }),
    ]);
    await trigger(user, own, sid, j);
    await engine.idle();

    const c = await only(user, sid, j);
    expect(c["State"]).toBe("Completed");
    const steps = stepsOf(c);
    const created = Number(steps[0]?.Detail["SubscriberID"]);
    expect(steps.map((s) => [s.Outcome, s.Reason, s.Detail["Existing"]])).toEqual([
      ["Done", "", false],
      ["Done", "", true],
      ["Done", "", true],
      ["Skipped", "PreviouslyUnsubscribed", undefined],
      ["Done", "", true],
    ]);
    expect(created).toBeGreaterThan(0);
    expect(await subscriberItem(user.userId, created)).toMatchObject({ ListID: fresh, EmailAddress: "Sub@Example.com", SubscriptionStatus: "Subscribed" });
    expect(Number((await guardOf(user.userId, fresh, "sub@example.com"))?.["SubscriberID"])).toBe(created);
    expect((await subscriberItem(user.userId, gone))?.["SubscriptionStatus"]).toBe("Unsubscribed");
    expect((await subscriberItem(user.userId, existing))?.["SubscriptionStatus"]).toBe("Subscribed");
  });
});

describe("Subscribe onto an address subscribe.create made", () => {
  it("counts the address guard as the subscriber there (Existing), never a second subscriber", async () => {
    const user = await engine.user();
    const own = await list(user, "Own");
    const target = await list(user, "Target");
    const sid = await subscriber(user, own, "guard@example.com");
    // subscriber.create alone: the address guard, without (on this branch) the engine's subscriber item.
    const made = await user.post("/api/v1/subscriber", { ListID: target, EmailAddress: "guard@example.com" });
    expect(made.status, made.text).toBe(200);
    const j = await journey(user, [pub({ Action: "Subscribe", TargetListID: target })]);
    await trigger(user, own, sid, j);
    await engine.idle();

    const c = await only(user, sid, j);
    expect(c["State"]).toBe("Completed");
    expect(stepsOf(c)[0]).toMatchObject({ Action: "Subscribe", Outcome: "Done", Detail: { Existing: true } });
    expect(Number((await guardOf(user.userId, target, "guard@example.com"))?.["SubscriberID"])).toBe(Number(made.body["SubscriberID"]));
  });
});

describe("AddTag and RemoveTag", () => {
  it("adds then removes one tag in one chain (Changed each), and skips a tag of another list (NotOnList)", async () => {
    const user = await engine.user();
    const l = await list(user);
    const other = await list(user, "Other");
    const t = await tag(user, l, "one");
    const keep = await tag(user, l, "keep");
    const foreign = await tag(user, other, "foreign");
    const sid = await subscriber(user, l, "tags@example.com", { Tags: [keep] });
    const j = await journey(user, [
      pub({ Action: "AddTag", TargetTagID: t }),
      pub({ Action: "AddTag", TargetTagID: t }),
      pub({ Action: "RemoveTag", TargetTagID: t }),
      pub({ Action: "RemoveTag", TargetTagID: t }),
      pub({ Action: "AddTag", TargetTagID: foreign }),
    ]);
    await trigger(user, l, sid, j);
    await engine.idle();

    const c = await only(user, sid, j);
    expect(c["State"]).toBe("Completed");
    expect(stepsOf(c).map((s) => [s.Action, s.Outcome, s.Reason, s.Detail])).toEqual([
      ["AddTag", "Done", "", { Changed: true }],
      ["AddTag", "Done", "", { Changed: false }],
      ["RemoveTag", "Done", "", { Changed: true }],
      ["RemoveTag", "Done", "", { Changed: false }],
      ["AddTag", "Skipped", "NotOnList", {}],
    ]);
    expect((await subscriberItem(user.userId, sid))?.["Tags"]).toEqual([keep]);
  });
});

describe("YesNo", () => {
  it("takes Yes or No by its comparison, and rejoins after it", async () => {
    const user = await engine.user();
    const l = await list(user);
    const yes = await tag(user, l, "yes");
    const no = await tag(user, l, "no");
    const after = await tag(user, l, "after");
    const j = await journey(user, [
      pub({
        Action: "YesNo",
        CriteriaLeft: "EmailAddress",
        CriteriaOperator: "Contains",
        CriteriaRight: "@YES.",
        Actions: { Yes: [pub({ Action: "AddTag", TargetTagID: yes })], No: [pub({ Action: "AddTag", TargetTagID: no })] },
      }),
      pub({ Action: "AddTag", TargetTagID: after }),
    ]);
    const a = await subscriber(user, l, "a@yes.example");
    const b = await subscriber(user, l, "b@no.example");
    await trigger(user, l, a, j);
    await trigger(user, l, b, j);
    await engine.idle();

    const ca = await only(user, a, j);
    const cb = await only(user, b, j);
    expect(stepsOf(ca)[0]).toMatchObject({ Action: "YesNo", Outcome: "Done", Reason: "", Detail: { Branch: "Yes" } });
    expect(stepsOf(cb)[0]).toMatchObject({ Action: "YesNo", Outcome: "Done", Reason: "", Detail: { Branch: "No" } });
    expect((await subscriberItem(user.userId, a))?.["Tags"]).toEqual([yes, after]);
    expect((await subscriberItem(user.userId, b))?.["Tags"]).toEqual([no, after]);
    expect([ca["State"], cb["State"]]).toEqual(["Completed", "Completed"]);
  });
});

describe("Decision", () => {
  it("takes True or False; an empty branch continues after the Decision", async () => {
    const user = await engine.user();
    const l = await list(user);
    const vip = await tag(user, l, "vip");
    const inTrue = await tag(user, l, "true");
    const after = await tag(user, l, "after");
    const j = await journey(user, [
      pub({
        Action: "Decision",
        CriteriaOperator: "and",
        Criteria: [[{ type: "tags", operator: "has this tag", value: String(vip) }]],
        Actions: { True: [pub({ Action: "AddTag", TargetTagID: inTrue })], False: [] },
      }),
      pub({ Action: "AddTag", TargetTagID: after }),
    ]);
    const a = await subscriber(user, l, "true@example.com", { Tags: [vip] });
    const b = await subscriber(user, l, "false@example.com");
    await trigger(user, l, a, j);
    await trigger(user, l, b, j);
    await engine.idle();

    const ca = await only(user, a, j);
    const cb = await only(user, b, j);
    expect(brief(ca)).toEqual(["Decision:Done", "AddTag:Done", "AddTag:Done"]);
    expect(stepsOf(ca)[0]?.Detail).toEqual({ Branch: "True" });
    expect(brief(cb)).toEqual(["Decision:Done", "AddTag:Done"]);
    expect(stepsOf(cb)[0]?.Detail).toEqual({ Branch: "False" });
    expect((await subscriberItem(user.userId, a))?.["Tags"]).toEqual([vip, inTrue, after].sort((x, y) => x - y));
    expect((await subscriberItem(user.userId, b))?.["Tags"]).toEqual([after]);
  });
});

describe("Debug", () => {
  it("records its DebugMessage; with SleepSeconds it parks like a Wait and resumes", { timeout: CLOCK_TEST_MS }, async () => {
    const user = await engine.user();
    const l = await list(user);
    const t = await tag(user, l);
    const j = await journey(user, [
      pub({ Action: "Debug", DebugMessage: "checkpoint" }),
      pub({ Action: "Debug", DebugMessage: "nap", SleepSeconds: 1200 }),
      pub({ Action: "AddTag", TargetTagID: t }),
    ]);
    const sid = await subscriber(user, l, "debug@example.com");
    await trigger(user, l, sid, j);
    await engine.idle();

    let c = await only(user, sid, j);
    expect(c["State"]).toBe("Active");
    const enrolled = Number(c["EnrolledAt"]);
    expect(stepsOf(c).map((s) => [s.Action, s.Outcome, s.Reason, s.Detail])).toEqual([
      ["Debug", "Done", "", { DebugMessage: "checkpoint" }],
      ["Debug", "Waiting", "", { Until: at(Number(c["DueAt"])) }],
    ]);
    expect(Number(c["DueAt"]) - enrolled).toBeGreaterThanOrEqual(1200);
    expect(Number(c["DueAt"]) - enrolled).toBeLessThanOrEqual(1202);

    await engine.advance(1200 - 600);
    expect((await only(user, sid, j))["State"]).toBe("Active");
    await engine.advance(603);
    c = await only(user, sid, j);
    expect(c["State"]).toBe("Completed");
    expect(brief(c)).toEqual(["Debug:Done", "Debug:Waiting", "AddTag:Done"]);
    expect(c["Passed"]).toBe(3);
  });
});

describe("Delivery actions on a stack that configures none", () => {
  it("SendEmail without a sender domain is Skipped NotConfigured, SendSMS of an unknown gateway Failed GatewayUnknown, a Webhook to a private address Failed SsrfRefused; the journey goes on", async () => {
    const user = await engine.user();
    const l = await list(user);
    const t = await tag(user, l);
    const email = await user.post("/api/v1/email", { EmailName: "E", Subject: "S", HTMLContent: "<p>hi</p>", PlainContent: "hi" });
    expect(email.status, email.text).toBe(200);
    const j = await journey(user, [
      pub({ Action: "SendEmail", EmailID: Number(email.body["EmailID"]), From: { Name: "A", Email: "a@example.com" } }),
      pub({ Action: "SendSMS", message: "hello", gateway_id: 1 }),
      pub({ Action: "Webhook", WebhookURL: "https://10.0.0.1/hook" }),
      pub({ Action: "AddTag", TargetTagID: t }),
    ]);
    const sid = await subscriber(user, l, "delivery@example.com", { PhoneNumber: "+15550100" });
    await trigger(user, l, sid, j);
    await engine.idle();

    const c = await only(user, sid, j);
    expect(c["State"]).toBe("Completed");
    expect(stepsOf(c).map((s) => [s.Action, s.Outcome, s.Reason])).toEqual([
      ["SendEmail", "Skipped", "NotConfigured"],
      ["SendSMS", "Failed", "GatewayUnknown"],
      ["Webhook", "Failed", "SsrfRefused"],
      ["AddTag", "Done", ""],
    ]);
    // The refused webhook made no attempt.
    expect(stepsOf(c)[2]!.Detail).toMatchObject({ Attempts: 0 });
  });
});

describe("Unpublished actions", () => {
  it("are passed over with nothing recorded, a Decision with its branches", async () => {
    const user = await engine.user();
    const l = await list(user);
    const [t1, t2, t3, t4, t5] = [await tag(user, l, "1"), await tag(user, l, "2"), await tag(user, l, "3"), await tag(user, l, "4"), await tag(user, l, "5")];
    const j = await journey(user, [
      pub({ Action: "AddTag", TargetTagID: t1 }),
      {
        Action: "Decision",
        Published: false,
        CriteriaOperator: "and",
        Criteria: [],
        Actions: { True: [pub({ Action: "AddTag", TargetTagID: t2 })], False: [pub({ Action: "AddTag", TargetTagID: t3 })] },
      },
      { Action: "AddTag", TargetTagID: t4, Published: false },
      pub({ Action: "AddTag", TargetTagID: t5 }),
    ]);
    const sid = await subscriber(user, l, "unpublished@example.com");
    await trigger(user, l, sid, j);
    await engine.idle();

    const c = await only(user, sid, j);
    expect(c["State"]).toBe("Completed");
    expect(brief(c)).toEqual(["AddTag:Done", "AddTag:Done"]);
    expect((await subscriberItem(user.userId, sid))?.["Tags"]).toEqual([t1, t5]);
  });
});

describe("Run_Criteria and re-entry", () => {
  it("a failing Run_Criteria exits (Exited, RunCriteria); re-entry gets a new EntryID and keeps the old cursor", { timeout: CLOCK_TEST_MS }, async () => {
    const user = await engine.user();
    const l = await list(user);
    const member = await tag(user, l, "member");
    const other = await tag(user, l, "other");
    const j = await journey(user, [pub({ Action: "RemoveTag", TargetTagID: member }), pub({ Action: "AddTag", TargetTagID: other })], {
      create: { Run_Criteria: [[{ type: "tags", operator: "has this tag", value: String(member) }]] },
    });
    const sid = await subscriber(user, l, "runcriteria@example.com", { Tags: [member] });
    await trigger(user, l, sid, j);
    await engine.idle();

    const first = await only(user, sid, j);
    expect(first).toMatchObject({ State: "Exited", EndedBy: "Exited", EndReason: "RunCriteria" });
    expect(stepsOf(first)[0]).toMatchObject({ Action: "RemoveTag", Outcome: "Done", Detail: { Changed: true } });
    // The action Run_Criteria stopped did not run: it is never recorded as Done.
    expect(stepsOf(first).slice(1).map((s) => [s.Action, s.Outcome, s.Reason])).toEqual([["AddTag", "Skipped", "RunCriteria"]]);
    expect((await subscriberItem(user.userId, sid))?.["Tags"]).toEqual([]);
    expect(await enrolmentStats(user, j)).toEqual({ Active: 0, Total: 1 });

    // Re-entry: the tag is back, the subscriber enrols anew.
    await subscriber(user, l, "runcriteria@example.com", { Tags: [member] });
    await trigger(user, l, sid, j);
    await engine.idle();
    const both = await cursorsIn(user, sid, j);
    expect(both).toHaveLength(2);
    expect(both[0]!["EntryID"]).toBe(first["EntryID"]);
    expect(both[0]).toMatchObject({ State: "Exited", EndReason: "RunCriteria", Steps: first["Steps"] });
    expect(both[1]!["EntryID"]).not.toBe(first["EntryID"]);
    expect(both[1]).toMatchObject({ State: "Exited", EndReason: "RunCriteria" });
    expect(await enrolmentStats(user, j)).toEqual({ Active: 0, Total: 2 });
  });
});

describe("Reference IDs", () => {
  it("0 is Skipped NotConfigured and a deleted record Skipped MissingRecord; the journey goes on", async () => {
    const user = await engine.user();
    const l = await list(user);
    const t = await tag(user, l, "kept");
    const doomedTag = await tag(user, l, "doomed");
    const doomedJourney = await journey(user, [HOLD]);
    const j = await journey(user, [
      pub({ Action: "AddTag", TargetTagID: 0 }),
      pub({ Action: "RemoveTag", TargetTagID: 0 }),
      pub({ Action: "UpdateCustomFieldValue", TargetCustomFieldID: 0, NewCustomFieldValue: "x" }),
      pub({ Action: "Subscribe", TargetListID: 0 }),
      pub({ Action: "Unsubscribe", TargetListID: 0 }),
      pub({ Action: "StartJourney", TargetJourneyID: 0 }),
      pub({ Action: "ExitJourney", TargetJourneyID: 0 }),
      pub({ Action: "StartJourney", TargetJourneyID: doomedJourney }),
      pub({ Action: "AddTag", TargetTagID: doomedTag }),
      pub({ Action: "AddTag", TargetTagID: t }),
    ]);
    expect((await user.post("/api/v1/journey.delete", { JourneyID: doomedJourney })).status).toBe(200);
    // No tag delete command exists: the tag's item goes from the table, as a later delete would remove it.
    const { keys } = await import("../../shared/keys.js");
    const { batchDelete } = await import("../../shared/domain/owned.js");
    await batchDelete([keys.owned("tag", user.userId, doomedTag)]);

    const sid = await subscriber(user, l, "refs@example.com");
    await trigger(user, l, sid, j);
    await engine.idle();

    const c = await only(user, sid, j);
    expect(c["State"]).toBe("Completed");
    expect(stepsOf(c).map((s) => [s.Action, s.Outcome, s.Reason])).toEqual([
      ["AddTag", "Skipped", "NotConfigured"],
      ["RemoveTag", "Skipped", "NotConfigured"],
      ["UpdateCustomFieldValue", "Skipped", "NotConfigured"],
      ["Subscribe", "Skipped", "NotConfigured"],
      ["Unsubscribe", "Skipped", "NotConfigured"],
      ["StartJourney", "Skipped", "NotConfigured"],
      ["ExitJourney", "Skipped", "NotConfigured"],
      ["StartJourney", "Skipped", "MissingRecord"],
      ["AddTag", "Skipped", "MissingRecord"],
      ["AddTag", "Done", ""],
    ]);
    expect((await subscriberItem(user.userId, sid))?.["Tags"]).toEqual([t]);
  });
});

describe("A first step that fails inside subscriber.journey.trigger", () => {
  it("still answers 200 for the committed enrolment; the chain is left to recovery and finishes", { timeout: 120_000 }, async () => {
    const user = await engine.user();
    const l = await list(user);
    const [t1, t2] = [await tag(user, l, "1"), await tag(user, l, "2")];
    const j = await journey(user, [pub({ Action: "AddTag", TargetTagID: t1 }), pub({ Action: "AddTag", TargetTagID: t2 })]);
    const sid = await subscriber(user, l, "fault@example.com");
    expect((await engine.local("POST", "/_local/faults", { Point: "after-write", Times: 1 })).status).toBe(200);
    try {
      await trigger(user, l, sid, j);
    } finally {
      await engine.local("DELETE", "/_local/faults");
    }
    expect(await enrolmentStats(user, j)).toEqual({ Active: 1, Total: 1 });
    // Recovery re-hands what was left 5 minutes or more overdue.
    await engine.advance(400);
    const c = await only(user, sid, j);
    expect(c["State"]).toBe("Completed");
    expect(brief(c)).toEqual(["AddTag:Done", "AddTag:Done"]);
    expect(await enrolmentStats(user, j)).toEqual({ Active: 0, Total: 1 });
  });
});
