import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEngineStack, type EngineStack, type EngineUser } from "../support/engine.js";

/**
 * The local sender's SES events and `POST /_local/ses/events` (ENGINE §9), on a stack of
 * this file's own: the outbox lives in the stack's process, which is this one, so the
 * test sends through `localSendEmail` itself, as the runner's SendEmail does under
 * `DELIVERY_MODE=local`, then injects engagement through the route, and reads the
 * numbers back through the API.
 */
let engine: EngineStack;
let user: EngineUser;
let journeyId: number;
let actionId: number;
const subs: Record<string, number> = {};
const messageIds: Record<string, string> = {};

beforeAll(async () => {
  engine = await startEngineStack();
  user = await engine.user();
  const emailId = Number((await user.post("/api/v1/email", { EmailName: "Welcome", Subject: "Hi" })).body["EmailID"]);
  journeyId = Number((await user.post("/api/v1/journey", { Name: "SES local" })).body["JourneyID"]);
  const res = await user.patch("/api/v1/journey.actions", { JourneyID: journeyId, Actions: [{ Action: "SendEmail", EmailID: emailId, Published: true }] });
  actionId = Number((res.body["Actions"] as { ActionID: string }[])[0]!.ActionID);
  const list = Number((await user.post("/api/v1/list", { SubscriberListName: "L" })).body["ListID"]);
  for (const address of ["ann@gmail.com", "bounce@simulator.amazonses.com", "complaint@simulator.amazonses.com"]) {
    subs[address] = Number((await user.post("/api/v1/subscriber", { ListID: list, EmailAddress: address })).body["SubscriberID"]);
  }

  // What the runner's SendEmail hands the local sender (§8.1), with a CC on every message.
  const { localSendEmail } = await import("../../shared/delivery/local-ses.js");
  const { productEpoch } = await import("../../shared/clock.js");
  for (const [address, subscriberId] of Object.entries(subs)) {
    const sent = await localSendEmail(
      {
        From: "News <news@news.example.com>",
        ReplyTo: [],
        To: address,
        CC: ["carl@outlook.com"],
        BCC: [],
        Subject: "Hi",
        HTMLBody: "<p>Hi</p>",
        Headers: {},
        Tags: { UserID: String(user.userId), JourneyID: String(journeyId), ActionID: String(actionId), SubscriberID: String(subscriberId), EntryID: "01JH0000000000000000000000" },
      },
      productEpoch(),
    );
    expect(sent.kind).toBe("accepted");
    messageIds[address] = (sent as { messageId: string }).messageId;
  }
  await engine.idle();
}, 180_000);
afterAll(async () => engine?.stop());

const stats = async () => {
  const res = await user.get("/api/v1/journey", { JourneyID: journeyId });
  return (res.body["Actions"] as Record<string, unknown>[]).find((a) => Number(a["ActionID"]) === actionId)!["Stats"] as Record<string, number>;
};
const inject = (body: Record<string, unknown>) => engine.local("POST", "/_local/ses/events", body);
const recipients = async (filter?: string[]) =>
  (await user.get("/api/v1/journey.action.subscribers", { JourneyID: journeyId, ActionID: actionId, ...(filter ? { FilterJSON: JSON.stringify(filter) } : {}) })).body[
    "Subscribers"
  ] as { SubscriberID: string; EmailAddress: string; Suppressed: boolean }[];

describe("the local sender's SES events", () => {
  it("count each send's Send and Delivery, the simulator's bounce (no delivery) and its complaint (after a delivery)", async () => {
    expect(await stats()).toEqual({ SendCount: 3, DeliveryCount: 2, OpenCount: 0, ClickCount: 0, BounceCount: 1, UnsubscribeCount: 0, SpamComplaintCount: 1, TotalRevenue: 0 });
    const listed = await recipients();
    expect(listed.map((s) => [s.EmailAddress, s.Suppressed])).toEqual([
      ["ann@gmail.com", false],
      ["bounce@simulator.amazonses.com", true],
      ["complaint@simulator.amazonses.com", true],
    ]);
  });
});

describe("POST /_local/ses/events", () => {
  it("queues an Open, two Clicks on different links and a hard Bounce for a sent message, counted per CONTRACT §7", async () => {
    const id = messageIds["ann@gmail.com"]!;
    for (const body of [
      { MessageId: id, Type: "Open" },
      { MessageId: id, Type: "Open" },
      { MessageId: id, Type: "Click", Link: "https://shop.example.com/a" },
      { MessageId: id, Type: "Click", Link: "https://shop.example.com/b" },
    ]) {
      const res = await inject(body);
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({ Queued: 1 });
    }
    await engine.idle();
    expect(await stats()).toMatchObject({ SendCount: 3, DeliveryCount: 2, OpenCount: 1, ClickCount: 1, BounceCount: 1 });
    expect((await recipients(["clicked"])).map((s) => s.EmailAddress)).toEqual(["ann@gmail.com"]);
    expect((await recipients())[0]).toMatchObject({ EmailAddress: "ann@gmail.com", Suppressed: false });

    // A Delivery and a Bounce for the CC count nothing (the recipient rule).
    expect((await inject({ MessageId: id, Type: "Delivery", Recipients: ["carl@outlook.com"] })).body).toEqual({ Queued: 1 });
    expect((await inject({ MessageId: id, Type: "Bounce", BounceType: "Permanent", Recipients: ["carl@outlook.com"] })).body).toEqual({ Queued: 1 });
    await engine.idle();
    expect(await stats()).toMatchObject({ DeliveryCount: 2, BounceCount: 1 });
    expect((await recipients())[0]).toMatchObject({ EmailAddress: "ann@gmail.com", Suppressed: false });

    // The subscriber's own hard bounce counts, and suppresses.
    expect((await inject({ MessageId: id, Type: "Bounce", BounceType: "Permanent" })).body).toEqual({ Queued: 1 });
    await engine.idle();
    expect(await stats()).toMatchObject({ BounceCount: 2 });
    expect((await recipients())[0]).toMatchObject({ EmailAddress: "ann@gmail.com", Suppressed: true });
  });

  it("marks the email state Failed for a Reject", async () => {
    const id = messageIds["ann@gmail.com"]!;
    expect((await inject({ MessageId: id, Type: "Reject" })).body).toEqual({ Queued: 1 });
    await engine.idle();
    const { keys } = await import("../../shared/keys.js");
    const { getConsistent } = await import("../../shared/engine/store.js");
    const state = await getConsistent(keys.emailState(user.userId, subs["ann@gmail.com"]!, actionId));
    expect(state).toMatchObject({ FailedBy: "Reject", Sent: true });
    expect(String(state?.["Failed"])).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
  });

  it("answers 404, code 2, for a MessageId the outbox does not hold", async () => {
    const res = await inject({ MessageId: "local-unknown", Type: "Open" });
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ Success: false, Errors: [{ Code: 2 }] });
  });
});
