import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cursorsOf, startEngineStack, subscriber, type EngineStack, type EngineUser } from "../support/engine.js";

/**
 * SendEmail (ENGINE §8.1–§8.2), black-box on this file's own local stack with
 * `DELIVERY_MODE=local`: the message lands in `/_local/outbox`, and the step
 * records what happened. Sender domains are this stack's own: entry "0" (the
 * default) for every user, entry "7" for a user that does not exist.
 */
let engine: EngineStack;

const DOMAINS = { "0": { Domain: "news.example.com" }, "3": { Domain: "Shop.Example.com" }, "7": { Domain: "closed.example.com", Users: [999999] } };

beforeAll(async () => {
  engine = await startEngineStack({ SENDER_DOMAINS: JSON.stringify(DOMAINS) });
}, 120_000);
afterAll(async () => engine?.stop());

type Params = Record<string, unknown>;
type Step = { ActionID: number; Action: string; Outcome: string; Reason: string; Detail: Record<string, unknown> };
const pub = (a: Params): Params => ({ Published: true, ...a });
const CLOCK_TEST_MS = 120_000;

async function list(user: EngineUser): Promise<number> {
  const res = await user.post("/api/v1/list", { SubscriberListName: "Main" });
  expect(res.status, res.text).toBe(200);
  return Number(res.body["ListID"]);
}
async function email(user: EngineUser, fields: Params): Promise<number> {
  const res = await user.post("/api/v1/email", { EmailName: "E", ...fields });
  expect(res.status, res.text).toBe(200);
  return Number(res.body["EmailID"]);
}
async function journey(user: EngineUser, actions: Params[]): Promise<{ id: number; actionIds: number[] }> {
  const created = await user.post("/api/v1/journey", { Name: `D-${Math.random().toString(36).slice(2, 8)}` });
  expect(created.status, created.text).toBe(200);
  const id = Number(created.body["JourneyID"]);
  const upd = await user.patch("/api/v1/journey.actions", { JourneyID: id, Actions: actions });
  expect(upd.status, upd.text).toBe(200);
  expect((await user.get("/api/v1/journey.enable", { JourneyID: id })).status).toBe(200);
  const actionIds = ((upd.body["Actions"] as Params[]) ?? []).map((a) => Number(a["ActionID"]));
  return { id, actionIds };
}
async function trigger(user: EngineUser, listId: number, subscriberId: number, journeyId: number): Promise<void> {
  const res = await user.post("/api/v1/subscriber.journey.trigger", { JourneyID: journeyId, ListID: listId, SubscriberID: subscriberId });
  expect(res.status, res.text).toBe(200);
}
async function onlyCursor(user: EngineUser, subscriberId: number, journeyId: number): Promise<Params> {
  const found = (await cursorsOf(user.userId, subscriberId)).filter((c) => Number(c["JourneyID"]) === journeyId);
  expect(found).toHaveLength(1);
  return found[0]!;
}
const steps = (c: Params) => (c["Steps"] as Step[]).map((s) => [s.Action, s.Outcome, s.Reason]);
async function outbox(query: Params = {}): Promise<Params[]> {
  const qs = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)])).toString();
  const res = await engine.local("GET", `/_local/outbox${qs ? `?${qs}` : ""}`);
  expect(res.status, res.text).toBe(200);
  return res.body["Messages"] as Params[];
}

describe("SendEmail", () => {
  it("sends one personalised message with the unsubscribe headers and tags, and records Done {MessageId, EmailID}", async () => {
    const user = await engine.user();
    const l = await list(user);
    const field = await user.post("/api/v1/customfield", { SubscriberListID: l, FieldName: "Name" });
    const fieldId = Number(field.body["CustomFieldID"]);
    const e = await email(user, {
      Subject: "Hi %subscriber:emailaddress%",
      HTMLContent: `<p>Dear %Subscriber:CustomField${fieldId}%, %Unknown:Tag%</p><a href="%Link:Unsubscribe%">Unsubscribe</a> <a href="https://example.com">shop</a>`,
      PlainContent: `Dear %Subscriber:CustomField${fieldId}% (#%Subscriber:SubscriberID%)`,
    });
    const j = await journey(user, [
      pub({ Action: "SendEmail", EmailID: e, From: { Name: "News Desk", Email: "desk@news.example.com" }, ReplyTo: { Name: "R", Email: "r@news.example.com" }, CC: [{ Name: "C", Email: "c@example.org" }], BCC: [] }),
    ]);
    const sid = await subscriber(user, l, "reader@example.com", { CustomFields: { [String(fieldId)]: "<b>Ann & Co</b>" } });
    await trigger(user, l, sid, j.id);
    await engine.idle();

    const sent = await outbox({ JourneyID: j.id });
    expect(sent).toHaveLength(1);
    const m = sent[0]!;
    expect(m).toMatchObject({
      Channel: "email",
      From: "News Desk <desk@news.example.com>",
      ReplyTo: ["R <r@news.example.com>"],
      To: ["reader@example.com"],
      CC: ["C <c@example.org>"],
      BCC: [],
      Subject: "Hi reader@example.com",
      TextBody: `Dear <b>Ann & Co</b> (#${sid})`,
      Tags: { UserID: String(user.userId), JourneyID: String(j.id), ActionID: String(j.actionIds[0]), SubscriberID: String(sid) },
    });
    // The field's value is escaped in HTML; unknown tags stay; only the unsubscribe link is untracked.
    const html = String(m["HTMLBody"]);
    expect(html).toContain("Dear &lt;b&gt;Ann &amp; Co&lt;/b&gt;, %Unknown:Tag%");
    const headers = m["Headers"] as Record<string, string>;
    expect(headers["List-Unsubscribe-Post"]).toBe("List-Unsubscribe=One-Click");
    const link = /^<(.+)>$/.exec(headers["List-Unsubscribe"]!)![1]!;
    expect(link).toMatch(/\/unsubscribe\/\S+$/);
    expect(html).toContain(`<a href="${link}" ses:no-track>Unsubscribe</a>`);
    expect(html).toContain(`<a href="https://example.com">shop</a>`);

    const c = await onlyCursor(user, sid, j.id);
    expect(c["State"]).toBe("Completed");
    const [step] = c["Steps"] as Step[];
    expect(step).toMatchObject({ Action: "SendEmail", Outcome: "Done", Reason: "", Detail: { MessageId: m["MessageId"], EmailID: e } });
    expect(c["Intent"]).toBeUndefined();
  });

  it("skips or fails without sending: NotConfigured, MissingRecord, EmptyContent, SenderDomainUnknown, SenderNotAllowed", async () => {
    const user = await engine.user();
    const l = await list(user);
    const good = await email(user, { Subject: "S", PlainContent: "p" });
    const empty = await email(user, { Subject: "", HTMLContent: "<p>x</p>" });
    const noBody = await email(user, { Subject: "S" });
    const gone = await email(user, { Subject: "S", PlainContent: "p" });
    const from = { Name: "A", Email: "a@news.example.com" };
    const j = await journey(user, [
      pub({ Action: "SendEmail", EmailID: 0, From: from }),
      pub({ Action: "SendEmail", EmailID: gone, From: from }),
      pub({ Action: "SendEmail", EmailID: empty, From: from }),
      pub({ Action: "SendEmail", EmailID: noBody, From: from }),
      pub({ Action: "SendEmail", EmailID: good, SenderDomainID: 5, From: from }),
      pub({ Action: "SendEmail", EmailID: good, SenderDomainID: 7, From: { Email: "a@closed.example.com" } }),
      pub({ Action: "SendEmail", EmailID: good, SenderDomainID: 3, From: { Email: "a@news.example.com" } }),
      // Entry "3"'s domain is matched case-insensitively: this one sends.
      pub({ Action: "SendEmail", EmailID: good, SenderDomainID: 3, From: { Email: "a@shop.EXAMPLE.com" } }),
    ]);
    // Deleted after the tree named it: the step finds it gone.
    const deleted = await user.post("/api/v1/email.delete", { EmailID: gone });
    expect(deleted.status, deleted.text).toBe(200);
    const sid = await subscriber(user, l, "skips@example.com");
    await trigger(user, l, sid, j.id);
    await engine.idle();
    const c = await onlyCursor(user, sid, j.id);
    expect(steps(c)).toEqual([
      ["SendEmail", "Skipped", "NotConfigured"],
      ["SendEmail", "Skipped", "MissingRecord"],
      ["SendEmail", "Failed", "EmptyContent"],
      ["SendEmail", "Failed", "EmptyContent"],
      ["SendEmail", "Failed", "SenderDomainUnknown"],
      ["SendEmail", "Failed", "SenderDomainUnknown"],
      ["SendEmail", "Failed", "SenderNotAllowed"],
      ["SendEmail", "Done", ""],
    ]);
    expect(c["State"]).toBe("Completed");
    expect(await outbox({ JourneyID: j.id })).toHaveLength(1);
  });
});

/** The action's statistics in journey.get (C§7's counts). */
async function actionStats(user: EngineUser, journeyId: number, actionId: number): Promise<Record<string, number>> {
  const res = await user.get("/api/v1/journey", { JourneyID: journeyId });
  expect(res.status, res.text).toBe(200);
  return (res.body["Actions"] as Params[]).find((a) => Number(a["ActionID"]) === actionId)!["Stats"] as Record<string, number>;
}

describe("SES events round trip (§8.3)", () => {
  it("a send's Send and Delivery count once each; an injected Open counts and fires an EmailOpen journey", async () => {
    const user = await engine.user();
    const l = await list(user);
    const e = await email(user, { Subject: "S", PlainContent: "p" });
    const j = await journey(user, [pub({ Action: "SendEmail", EmailID: e, From: { Email: "a@news.example.com" } })]);
    const opened = await user.post("/api/v1/journey", { Name: "On open", Trigger: "EmailOpen", Trigger_EmailID: e });
    const openedId = Number(opened.body["JourneyID"]);
    expect((await user.patch("/api/v1/journey.actions", { JourneyID: openedId, Actions: [pub({ Action: "Wait", WaitUnit: "days", WaitAmount: 30 })] })).status).toBe(200);
    expect((await user.get("/api/v1/journey.enable", { JourneyID: openedId })).status).toBe(200);
    const sid = await subscriber(user, l, "roundtrip@example.com");
    await trigger(user, l, sid, j.id);
    await engine.idle();
    // The runner's Sent and the adapter's (from SES's Send event) share one EventID: one Sent.
    expect(await actionStats(user, j.id, j.actionIds[0]!)).toMatchObject({ SendCount: 1, DeliveryCount: 1, OpenCount: 0 });
    const [m] = await outbox({ JourneyID: j.id });
    const injected = await engine.local("POST", "/_local/ses/events", { MessageId: m!["MessageId"], Type: "Open" });
    expect(injected.status, injected.text).toBe(200);
    await engine.idle();
    expect(await actionStats(user, j.id, j.actionIds[0]!)).toMatchObject({ SendCount: 1, DeliveryCount: 1, OpenCount: 1 });
    const enrolled = (await cursorsOf(user.userId, sid)).filter((c) => Number(c["JourneyID"]) === openedId);
    expect(enrolled).toHaveLength(1);
  });
});

describe("suppression from what happened to the address (§3.1, §8.1)", () => {
  it("a hard bounce, a complaint and an unsubscribe each stop later sends (Skipped Suppressed, SuppressedBy); a resubscribe clears only Unsubscribed", { timeout: 180_000 }, async () => {
    const user = await engine.user();
    const l = await list(user);
    const e = await email(user, { Subject: "S", PlainContent: "p" });
    const j = await journey(user, [pub({ Action: "SendEmail", EmailID: e, From: { Email: "a@news.example.com" } })]);
    const send = async (sid: number) => {
      await trigger(user, l, sid, j.id);
      await engine.idle();
    };
    const lastStep = async (sid: number) => {
      const cursors = (await cursorsOf(user.userId, sid)).filter((c) => Number(c["JourneyID"]) === j.id);
      const newest = cursors.sort((a, b) => String(b["EntryID"]).localeCompare(String(a["EntryID"])))[0]!;
      return (newest["Steps"] as Step[]).at(-1)!;
    };
    const bounced = await subscriber(user, l, "hard@example.com");
    const complained = await subscriber(user, l, "angry@example.com");
    const left = await subscriber(user, l, "gone@example.com");
    for (const sid of [bounced, complained, left]) await send(sid);
    const sent = await outbox({ JourneyID: j.id });
    expect(sent).toHaveLength(3);
    const idOf = (sid: number) => sent.find((m) => (m["Tags"] as Record<string, string>)["SubscriberID"] === String(sid))!["MessageId"];
    // What SES reports, through the adapter, and what the subscriber does.
    expect((await engine.local("POST", "/_local/ses/events", { MessageId: idOf(bounced), Type: "Bounce", BounceType: "Permanent" })).status).toBe(200);
    expect((await engine.local("POST", "/_local/ses/events", { MessageId: idOf(complained), Type: "Complaint" })).status).toBe(200);
    expect((await user.post("/api/v1/subscriber.unsubscribe", { ListID: l, SubscriberID: left })).status).toBe(200);
    await engine.idle();

    for (const [sid, by] of [[bounced, "HardBounce"], [complained, "SpamComplaint"], [left, "Unsubscribed"]] as const) {
      await send(sid);
      expect(await lastStep(sid), by).toMatchObject({ Outcome: "Skipped", Reason: "Suppressed", Detail: { SuppressedBy: by } });
    }
    expect(await outbox({ JourneyID: j.id })).toHaveLength(3);

    // A resubscribe is explicit consent again: it clears Unsubscribed, never a hard bounce.
    for (const sid of [left, bounced]) {
      const res = await user.patch("/api/v1/subscriber", { SubscriberID: sid, SubscriberListID: l, SubscriptionStatus: "Subscribed" });
      expect(res.status, res.text).toBe(200);
      await send(sid);
    }
    expect(await lastStep(left)).toMatchObject({ Outcome: "Done" });
    expect(await lastStep(bounced)).toMatchObject({ Outcome: "Skipped", Reason: "Suppressed", Detail: { SuppressedBy: "HardBounce" } });
    expect(await outbox({ JourneyID: j.id })).toHaveLength(4);
  });
});

describe("the local clock across a 3-day wait", () => {
  it("sends nothing after 2 days; one more day and a second delivers the second email and completes the enrolment", { timeout: 180_000 }, async () => {
    const user = await engine.user();
    const l = await list(user);
    const e = await email(user, { Subject: "S", PlainContent: "p" });
    const send = pub({ Action: "SendEmail", EmailID: e, From: { Email: "a@news.example.com" } });
    const j = await journey(user, [send, pub({ Action: "Wait", WaitUnit: "days", WaitAmount: 3 }), send]);
    const sid = await subscriber(user, l, "patient@example.com");
    await trigger(user, l, sid, j.id);
    await engine.idle();
    const active = async () => ((await user.get("/api/v1/journey", { JourneyID: j.id })).body["JourneyStats"] as Record<string, number>)["ActiveSubscribers"];
    expect(await outbox({ JourneyID: j.id })).toHaveLength(1);
    expect(await active()).toBe(1);
    await engine.advance(2 * 86_400);
    expect(await outbox({ JourneyID: j.id })).toHaveLength(1);
    expect((await onlyCursor(user, sid, j.id))["State"]).toBe("Active");
    await engine.advance(86_400 + 1);
    expect(await outbox({ JourneyID: j.id })).toHaveLength(2);
    const c = await onlyCursor(user, sid, j.id);
    expect(c["State"]).toBe("Completed");
    expect(steps(c)).toEqual([
      ["SendEmail", "Done", ""],
      ["Wait", "Waiting", ""],
      ["SendEmail", "Done", ""],
    ]);
    await expect.poll(active, { timeout: 30_000 }).toBe(0);
    // SetNow before now is refused, and the clock never goes back.
    const back = await engine.local("POST", "/_local/clock", { SetNow: "2000-01-01 00:00:00" });
    expect(back.status).toBe(422);
  });
});

describe("at most once (§8.2)", () => {
  it("a worker killed after the intent write sends nothing and records Unconfirmed; the next step still runs", { timeout: CLOCK_TEST_MS }, async () => {
    const user = await engine.user();
    const l = await list(user);
    const tag = Number((await user.post("/api/v1/subscriber.tags", { ListID: l, TagName: "after" })).body["TagID"]);
    const e = await email(user, { Subject: "S", PlainContent: "p" });
    const j = await journey(user, [pub({ Action: "SendEmail", EmailID: e, From: { Email: "a@news.example.com" } }), pub({ Action: "AddTag", TargetTagID: tag })]);
    const sid = await subscriber(user, l, "crash1@example.com");
    expect((await engine.local("POST", "/_local/faults", { Point: "after-intent", Times: 1 })).status).toBe(200);
    await trigger(user, l, sid, j.id);
    // The intent is written; the worker died before the call, and its message is stale now.
    await expect.poll(async () => (await onlyCursor(user, sid, j.id))["Intent"], { timeout: 30_000 }).toMatchObject({ ActionID: j.actionIds[0], Action: "SendEmail" });
    // Recovery takes the entry once it is 5 minutes overdue (the clock route does as recovery does).
    await engine.advance(6 * 60);
    const c = await onlyCursor(user, sid, j.id);
    expect(steps(c)).toEqual([
      ["SendEmail", "Unconfirmed", "IntentWithoutResult"],
      ["AddTag", "Done", ""],
    ]);
    expect(c["State"]).toBe("Completed");
    expect(c["Intent"]).toBeUndefined();
    expect(await outbox({ JourneyID: j.id })).toHaveLength(0);
    expect(await actionStats(user, j.id, j.actionIds[0]!)).toMatchObject({ SendCount: 0 });
  });

  it("a worker killed after SES accepted leaves exactly one message, recorded Unconfirmed, never resent", { timeout: CLOCK_TEST_MS }, async () => {
    const user = await engine.user();
    const l = await list(user);
    const e = await email(user, { Subject: "S", PlainContent: "p" });
    const j = await journey(user, [pub({ Action: "SendEmail", EmailID: e, From: { Email: "a@news.example.com" } })]);
    const sid = await subscriber(user, l, "crash2@example.com");
    expect((await engine.local("POST", "/_local/faults", { Point: "after-send", Times: 1 })).status).toBe(200);
    await trigger(user, l, sid, j.id);
    await expect.poll(async () => (await outbox({ JourneyID: j.id })).length, { timeout: 30_000 }).toBe(1);
    await engine.advance(6 * 60);
    const c = await onlyCursor(user, sid, j.id);
    expect(steps(c)).toEqual([["SendEmail", "Unconfirmed", "IntentWithoutResult"]]);
    expect(c["State"]).toBe("Completed");
    expect(await outbox({ JourneyID: j.id })).toHaveLength(1);
    // The worker died before sending its Sent: SES's own Send event records it, exactly once.
    expect(await actionStats(user, j.id, j.actionIds[0]!)).toMatchObject({ SendCount: 1, DeliveryCount: 1 });
  });

  it("duplicate delivery of every step message sends each email once", async () => {
    const user = await engine.user();
    const l = await list(user);
    const e = await email(user, { Subject: "S", PlainContent: "p" });
    const j = await journey(user, [
      pub({ Action: "SendEmail", EmailID: e, From: { Email: "a@news.example.com" } }),
      pub({ Action: "SendEmail", EmailID: e, From: { Email: "b@news.example.com" } }),
    ]);
    const sids = [];
    for (let i = 0; i < 5; i++) sids.push(await subscriber(user, l, `dup${i}@example.com`));
    expect((await engine.local("POST", "/_local/faults", { Point: "duplicate-delivery", Times: 50 })).status).toBe(200);
    for (const sid of sids) await trigger(user, l, sid, j.id);
    await engine.idle();
    await engine.local("DELETE", "/_local/faults");
    expect(await outbox({ JourneyID: j.id })).toHaveLength(10);
    for (const sid of sids) {
      const c = await onlyCursor(user, sid, j.id);
      expect(steps(c)).toEqual([
        ["SendEmail", "Done", ""],
        ["SendEmail", "Done", ""],
      ]);
    }
  });
});

describe("/_local/outbox", () => {
  it("filters by Channel, To, JourneyID, SubscriberID and AfterSeq, answers 422 for a bad filter and 401 without the key, and empties on DELETE", async () => {
    const user = await engine.user();
    const l = await list(user);
    const e = await email(user, { Subject: "S", PlainContent: "p" });
    const j = await journey(user, [pub({ Action: "SendEmail", EmailID: e, From: { Email: "a@news.example.com" } })]);
    const a = await subscriber(user, l, "Filter.A@example.com");
    const b = await subscriber(user, l, "filter.b@example.com");
    await trigger(user, l, a, j.id);
    await trigger(user, l, b, j.id);
    await engine.idle();
    const both = await outbox({ JourneyID: j.id, Channel: "email" });
    expect(both.map((m) => (m["To"] as string[])[0]).sort()).toEqual(["Filter.A@example.com", "filter.b@example.com"]);
    expect(await outbox({ To: "filter.a@EXAMPLE.com" })).toHaveLength(1);
    expect((await outbox({ SubscriberID: b }))[0]!["To"]).toEqual(["filter.b@example.com"]);
    expect(await outbox({ JourneyID: j.id, Channel: "sms" })).toHaveLength(0);
    const first = Math.min(...both.map((m) => Number(m["Seq"])));
    expect(await outbox({ JourneyID: j.id, AfterSeq: first })).toHaveLength(1);
    for (const [name, value] of [["Channel", "fax"], ["JourneyID", "x"], ["SubscriberID", "0"], ["AfterSeq", "-1"]]) {
      const res = await engine.local("GET", `/_local/outbox?${name}=${value}`);
      expect(res.status, name).toBe(422);
      expect(res.body).toEqual({ Success: false, Errors: [{ Code: 1, Message: `Invalid ${name} parameter` }] });
    }
    const anonymous = await fetch(new URL("/_local/outbox", engine.url));
    expect(anonymous.status).toBe(401);
    const deleted = await engine.local("DELETE", "/_local/outbox");
    expect(Number(deleted.body["Deleted"])).toBeGreaterThanOrEqual(2);
    const after = await engine.local("GET", "/_local/outbox");
    expect(after.body["Messages"]).toEqual([]);
    expect(Number(after.body["LastSeq"])).toBeGreaterThanOrEqual(2);
  });
});
