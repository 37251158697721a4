import { describe, expect, it } from "vitest";
import { createJourney, createUser, firstError, outcome, seedReferences, treeOf, type TestUser } from "../support/api.js";

type Action = Record<string, unknown> & { ActionID: string; Action: string; ActionParameters: Record<string, unknown> };

const update = (user: TestUser, JourneyID: unknown, Actions: unknown) => user.patch("/api/v1/journey.actions", { JourneyID, Actions });

async function setup() {
  const user = await createUser();
  const refs = await seedReferences(user);
  const other = await createJourney(user, { Name: "Other" });
  const id = await createJourney(user, { Name: "Tree" });
  return { user, refs, other, id };
}

/** One of every action type, written with lower-case keys as the builder UI may send them. */
function everyType(refs: Awaited<ReturnType<typeof seedReferences>>, other: number) {
  return [
    { action: "wait", waitunit: "Days", waitamount: "2", timeconstraintenabled: "true", dontsendbefore: "08:30", dontsendafter: "17:00", alloweddays: ["FRI", "mon"] },
    {
      action: "sendemail", emailid: refs.email, senderdomainid: 3, published: "true",
      from: { name: "Support", email: "support@example.com" }, replyto: { name: "R", email: "r@example.com" },
      cc: [{ name: "C", email: "c@example.com" }], bcc: [{ email: "b@example.com" }],
    },
    {
      action: "sendsms", Message: "Hello {{EmailAddress}}", GATEWAY_ID: 5, sender_id: "+15551234567", skip_if_no_phone: false,
      max_retry_attempts: 2, priority: "HIGH", delivery_window_enabled: true,
      delivery_window: { timezone: "Europe/Istanbul", start_time: "09:00", end_time: "18:00", days: ["sat"] },
      include_link: true, link_url: "https://example.com/offer", link_expiry_hours: 24,
      link_utm_source: "sms", link_utm_medium: "m", link_utm_campaign: "c",
    },
    {
      action: "decision", criteriaoperator: "OR",
      criteria: [[{ type: "tags", operator: "has this tag", value: String(refs.tag) }]],
      actions: {
        true: [{ action: "addtag", targettagid: refs.tag }, { action: "removetag", targettagid: refs.tag }],
        false: [{ action: "updatecustomfieldvalue", targetcustomfieldid: refs.field, newcustomfieldvalue: "Paris" }],
      },
    },
    {
      action: "yesno", criterialeft: "emailaddress", criteriaoperator: "contains", criteriaright: "@gmail", criteriaoption: "any",
      actions: { yes: [{ action: "subscribe", targetlistid: refs.list }], no: [{ action: "unsubscribe", targetlistid: refs.list }] },
    },
    { action: "startjourney", targetjourneyid: other },
    { action: "exitjourney", targetjourneyid: [other, other] },
    { action: "exitthisjourney" },
    { action: "exitallotherjourneys" },
    { action: "exitalljourneys" },
    { action: "deletesubscriber", notes: "careful" },
    { action: "webhook", webhookurl: "https://hooks.example.com/x" },
    { action: "debug", sleepseconds: 5, debugmessage: "Checkpoint reached" },
  ];
}

describe("journey.actions.update", () => {
  it("round-trips a tree of every action type: lower-case keys in, canonical out, flat pre-order", async () => {
    const { user, refs, other, id } = await setup();
    const res = await update(user, id, everyType(refs, other));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ Success: true, JourneyID: String(id), JourneyName: "Tree" });
    const actions = res.body["Actions"] as Action[];
    expect(actions.map((a) => [a.Action, a["Branch"], a["OrderNo"]])).toEqual([
      ["Wait", "", 1], ["SendEmail", "", 2], ["SendSMS", "", 3], ["Decision", "", 4],
      ["AddTag", "True", 1], ["RemoveTag", "True", 2], ["UpdateCustomFieldValue", "False", 1],
      ["YesNo", "", 5], ["Subscribe", "Yes", 1], ["Unsubscribe", "No", 1],
      ["StartJourney", "", 6], ["ExitJourney", "", 7], ["ExitThisJourney", "", 8], ["ExitAllOtherJourneys", "", 9],
      ["ExitAllJourneys", "", 10], ["DeleteSubscriber", "", 11], ["Webhook", "", 12], ["Debug", "", 13],
    ]);
    const byType = Object.fromEntries(actions.map((a) => [a.Action, a]));
    expect(byType["Wait"]!.ActionParameters).toEqual({
      WaitUnit: "days", WaitAmount: 2, TimeConstraintEnabled: true, DontSendBefore: "08:30", DontSendAfter: "17:00", AllowedDays: ["mon", "fri"],
    });
    expect(byType["SendEmail"]).toMatchObject({
      Published: true,
      ActionParameters: {
        EmailID: refs.email, SenderDomainID: 3, From: { Name: "Support", Email: "support@example.com" },
        ReplyTo: { Name: "R", Email: "r@example.com" }, CC: [{ Name: "C", Email: "c@example.com" }], BCC: [{ Name: "", Email: "b@example.com" }],
      },
    });
    expect(Object.keys(byType["SendSMS"]!.ActionParameters)).toEqual([
      "message", "gateway_id", "sender_id", "skip_if_no_phone", "max_retry_attempts", "priority", "delivery_window_enabled",
      "delivery_window", "include_link", "link_url", "link_expiry_hours", "link_utm_source", "link_utm_medium", "link_utm_campaign",
    ]);
    expect(byType["SendSMS"]!.ActionParameters).toMatchObject({ gateway_id: 5, priority: "high", delivery_window: { timezone: "Europe/Istanbul", days: ["sat"] } });
    expect(byType["Decision"]!.ActionParameters).toEqual({ CriteriaOperator: "or", Criteria: [[{ type: "tags", operator: "has this tag", value: String(refs.tag) }]] });
    expect(byType["YesNo"]!.ActionParameters).toMatchObject({ CriteriaLeft: "EmailAddress", CriteriaOption: "any" });
    expect(byType["ExitJourney"]!.ActionParameters).toEqual({ TargetJourneyID: [other] });
    expect(byType["DeleteSubscriber"]).toMatchObject({ Notes: "careful", ActionParameters: {} });
    const decisionId = Number(byType["Decision"]!.ActionID);
    expect(byType["AddTag"]!["ParentActionID"]).toBe(decisionId);
    expect(byType["Wait"]!["ParentActionID"]).toBe(0);
    // journey.get returns the very same list.
    expect(treeOf((await user.get("/api/v1/journey", { JourneyID: id })).body)).toEqual(actions);
  });

  it("keeps resent ActionIDs, creates null ones and deletes the ones left out", async () => {
    const { user, refs, id } = await setup();
    const first = (await update(user, id, [
      { Action: "Wait", WaitUnit: "days", WaitAmount: 1 },
      { Action: "SendEmail", EmailID: refs.email },
      { Action: "Webhook" },
    ])).body["Actions"] as Action[];
    const [wait, send, hook] = first;
    const second = await update(user, id, [
      { ActionID: send!.ActionID, Action: "SendEmail", EmailID: refs.email, Notes: "moved first" },
      { ActionID: null, Action: "ExitThisJourney" },
      { ActionID: Number(wait!.ActionID), Action: "Wait", WaitUnit: "hours", WaitAmount: 5 },
    ]);
    expect(second.status).toBe(200);
    const actions = second.body["Actions"] as Action[];
    expect(actions[0]).toMatchObject({ ActionID: send!.ActionID, Notes: "moved first", OrderNo: 1 });
    expect(actions[2]).toMatchObject({ ActionID: wait!.ActionID, ActionParameters: { WaitUnit: "hours", WaitAmount: 5 } });
    expect(actions[1]!.ActionID).not.toBe(hook!.ActionID);
    expect(actions.map((a) => a.ActionID)).not.toContain(hook!.ActionID);
    // A deleted action cannot be brought back by its old ID.
    const revived = await update(user, id, [{ ActionID: hook!.ActionID, Action: "Webhook" }]);
    expect(outcome(revived)).toEqual([422, 6]);
  });

  it.each([
    ["Wait", { Action: "Wait", WaitAmount: 1 }, "WaitUnit"],
    ["Wait", { Action: "Wait", WaitUnit: "weeks", WaitAmount: 1 }, "WaitUnit"],
    ["Wait", { Action: "Wait", WaitUnit: "days", WaitAmount: -1 }, "WaitAmount"],
    ["Wait", { Action: "Wait", WaitUnit: "days", WaitAmount: 1, DontSendBefore: "25:00" }, "DontSendBefore"],
    ["Wait", { Action: "Wait", WaitUnit: "days", WaitAmount: 1, DontSendBefore: "10:00", DontSendAfter: "09:00" }, "DontSendAfter"],
    ["Wait", { Action: "Wait", WaitUnit: "days", WaitAmount: 1, AllowedDays: [] }, "AllowedDays"],
    ["Wait", { Action: "Wait", WaitUnit: "days", WaitAmount: 1, AllowedDays: ["funday"] }, "AllowedDays"],
    ["SendEmail", { Action: "SendEmail", EmailID: -1 }, "EmailID"],
    ["SendEmail", { Action: "SendEmail", EmailID: 999999999 }, "EmailID"],
    ["SendEmail", { Action: "SendEmail", From: { Name: "x", Email: "not-an-address" } }, "From.Email"],
    ["SendEmail", { Action: "SendEmail", ReplyTo: { Email: "a@b" } }, "ReplyTo.Email"],
    ["SendEmail", { Action: "SendEmail", CC: [{ Email: "ok@example.com" }, { Email: "bad" }] }, "CC[1].Email"],
    ["SendEmail", { Action: "SendEmail", BCC: "x@example.com" }, "BCC"],
    ["SendSMS", { Action: "SendSMS", priority: "urgent" }, "priority"],
    ["SendSMS", { Action: "SendSMS", gateway_id: "abc" }, "gateway_id"],
    ["SendSMS", { Action: "SendSMS", include_link: true }, "link_url"],
    ["SendSMS", { Action: "SendSMS", delivery_window: { start_time: "10:00", end_time: "09:00", days: ["mon"] } }, "delivery_window.end_time"],
    ["SendSMS", { Action: "SendSMS", delivery_window: { timezone: "Mars/Olympus", start_time: "09:00", end_time: "10:00", days: ["mon"] } }, "delivery_window.timezone"],
    ["Decision", { Action: "Decision", CriteriaOperator: "xor" }, "CriteriaOperator"],
    ["Decision", { Action: "Decision", Criteria: [[{ type: "planets", operator: "is" }]] }, "Criteria"],
    ["YesNo", { Action: "YesNo", CriteriaLeft: "Shoe size", CriteriaOperator: "Is" }, "CriteriaLeft"],
    ["YesNo", { Action: "YesNo", CriteriaLeft: "EmailAddress", CriteriaOperator: "Smells like" }, "CriteriaOperator"],
    ["UpdateCustomFieldValue", { Action: "UpdateCustomFieldValue", TargetCustomFieldID: 999999999 }, "TargetCustomFieldID"],
    ["Subscribe", { Action: "Subscribe", TargetListID: 999999999 }, "TargetListID"],
    ["Unsubscribe", { Action: "Unsubscribe", TargetListID: "list" }, "TargetListID"],
    ["AddTag", { Action: "AddTag", TargetTagID: 999999999 }, "TargetTagID"],
    ["RemoveTag", { Action: "RemoveTag", TargetTagID: 1.5 }, "TargetTagID"],
    ["StartJourney", { Action: "StartJourney", TargetJourneyID: 999999999 }, "TargetJourneyID"],
    ["ExitJourney", { Action: "ExitJourney", TargetJourneyID: ["a"] }, "TargetJourneyID[0]"],
    ["Webhook", { Action: "Webhook", WebhookURL: "http://insecure.example.com" }, "WebhookURL"],
    ["Debug", { Action: "Debug", SleepSeconds: -1 }, "SleepSeconds"],
    ["any type", { Action: "Teleport" }, "Action"],
    ["any type", { Action: "Wait", WaitUnit: "days", WaitAmount: 1, Colour: "red" }, "Colour"],
    ["any type", { Action: "ExitAllJourneys", Published: "maybe" }, "Published"],
  ])("%s: rejects %j with code 6 naming Actions[1].Actions.True[0].%s, and changes nothing", async (_type, bad, field) => {
    const { user, refs, id } = await setup();
    const good = await update(user, id, [{ Action: "SendEmail", EmailID: refs.email, Published: true }]);
    expect(good.status).toBe(200);
    const before = (await user.get("/api/v1/journey", { JourneyID: id })).text;
    const res = await update(user, id, [
      { Action: "Wait", WaitUnit: "days", WaitAmount: 1 },
      { Action: "Decision", Actions: { True: [bad], False: [] } },
    ]);
    expect(outcome(res)).toEqual([422, 6]);
    expect(firstError(res)?.Message).toContain(`Actions[1].Actions.True[0].${field}`);
    expect((await user.get("/api/v1/journey", { JourneyID: id })).text).toBe(before);
  });

  it("refuses a StartJourney that targets its own journey, and references to another user's records", async () => {
    const { user, id } = await setup();
    const self = await update(user, id, [{ Action: "StartJourney", TargetJourneyID: id }]);
    expect(outcome(self)).toEqual([422, 6]);
    expect(firstError(self)?.Message).toContain("Actions[0].TargetJourneyID");
    const stranger = await createUser();
    const theirs = await seedReferences(stranger);
    const foreign = await update(user, id, [{ Action: "SendEmail", EmailID: theirs.email }]);
    expect(outcome(foreign)).toEqual([422, 6]);
    expect(firstError(foreign)?.Message).toContain("Actions[0].EmailID");
  });

  it("refuses an ActionID of another journey", async () => {
    const { user, id, other } = await setup();
    const theirs = (await update(user, other, [{ Action: "ExitThisJourney" }])).body["Actions"] as Action[];
    const res = await update(user, id, [{ ActionID: theirs[0]!.ActionID, Action: "ExitThisJourney" }]);
    expect(outcome(res)).toEqual([422, 6]);
    expect(firstError(res)?.Message).toContain("Actions[0].ActionID");
  });

  it("saves a 500-action tree atomically and rejects 501 actions or a depth of 21", async () => {
    const { user, id } = await setup();
    const big = Array.from({ length: 500 }, (_, i) => ({ Action: "Debug", DebugMessage: `step ${i}`, SleepSeconds: i % 60 }));
    const res = await update(user, id, big);
    expect(res.status).toBe(200);
    expect(res.body["Actions"]).toHaveLength(500);
    const got = await user.get("/api/v1/journey", { JourneyID: id });
    expect(got.body["Actions"]).toEqual(res.body["Actions"]);

    const before = got.text;
    expect(outcome(await update(user, id, [...big, { Action: "ExitThisJourney" }]))).toEqual([422, 6]);
    const nest = (depth: number): Record<string, unknown> =>
      depth === 1 ? { Action: "ExitThisJourney" } : { Action: "Decision", Actions: { True: [nest(depth - 1)], False: [] } };
    expect(outcome(await update(user, id, [nest(21)]))).toEqual([422, 6]);
    expect((await user.get("/api/v1/journey", { JourneyID: id })).text).toBe(before);
    expect((await update(user, id, [nest(20)])).status).toBe(200);
  });

  it("resolves concurrent replacements to one whole tree, never a mix", async () => {
    const { user, id } = await setup();
    const tree = (tag: string) => Array.from({ length: 30 }, (_, i) => ({ Action: "Debug", DebugMessage: `${tag}-${i}` }));
    const results = await Promise.all(["a", "b", "c", "d"].map((t) => update(user, id, tree(t))));
    expect(results.every((r) => r.status === 200)).toBe(true);
    const final = treeOf((await user.get("/api/v1/journey", { JourneyID: id })).body) as Action[];
    expect(final).toHaveLength(30);
    const tags = new Set(final.map((a) => String(a.ActionParameters["DebugMessage"]).split("-")[0]));
    expect(tags.size).toBe(1);
  });

  it.each([
    [{ Actions: [] }, 422, 1],
    [{ JourneyID: 1 }, 422, 2],
    [{ JourneyID: "abc", Actions: [] }, 422, 3],
    [{ JourneyID: 1, Actions: "not json" }, 422, 4],
    [{ JourneyID: 1, Actions: { Action: "Wait" } }, 422, 4],
    [{ JourneyID: 999999999, Actions: [] }, 404, 5],
  ])("answers %j with %i / code %i, on v1 and /api.php", async (params, status, code) => {
    const user = await createUser();
    expect(outcome(await user.patch("/api/v1/journey.actions", params))).toEqual([status, code]);
    expect(outcome(await user.legacy({ Command: "journey.actions.update", ...params }))).toEqual([200, code]);
  });

  it("accepts Actions as a JSON string in a form body, and an empty tree", async () => {
    const { user, id } = await setup();
    const res = await user.legacy({ Command: "journey.actions.update", JourneyID: id, Actions: JSON.stringify([{ action: "exitthisjourney" }]) });
    expect(res.status).toBe(200);
    expect((res.body["Actions"] as Action[])[0]!.Action).toBe("ExitThisJourney");
    const empty = await update(user, id, []);
    expect(empty.body["Actions"]).toEqual([]);
    expect(treeOf((await user.get("/api/v1/journey", { JourneyID: id })).body)).toEqual([]);
  });

  it("hides a journey's tree from other users (404/5)", async () => {
    const { user, id } = await setup();
    await update(user, id, [{ Action: "ExitThisJourney" }]);
    const stranger = await createUser();
    expect(outcome(await update(stranger, id, []))).toEqual([404, 5]);
    expect(treeOf((await user.get("/api/v1/journey", { JourneyID: id })).body)).toHaveLength(1);
  });
});

describe("journey.actions.published", () => {
  it("flips Published per action and answers the reference shape", async () => {
    const { user, refs, id } = await setup();
    const actions = (await update(user, id, [
      { Action: "SendEmail", EmailID: refs.email },
      { Action: "Wait", WaitUnit: "days", WaitAmount: 1, Published: true },
    ])).body["Actions"] as Action[];
    const res = await user.patch("/api/v1/journey.actions.published", {
      JourneyID: id,
      Actions: [{ actionid: Number(actions[0]!.ActionID), published: "true" }, { ActionID: actions[1]!.ActionID, Published: false }],
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      Success: true,
      JourneyID: String(id),
      JourneyName: "Tree",
      Actions: [{ ActionID: actions[0]!.ActionID, Published: "true" }, { ActionID: actions[1]!.ActionID, Published: "false" }],
    });
    const got = treeOf((await user.get("/api/v1/journey", { JourneyID: id })).body) as Action[];
    expect(got.map((a) => a["Published"])).toEqual([true, false]);
    expect(got.map((a) => a.ActionID)).toEqual(actions.map((a) => a.ActionID));
  });

  it("changes nothing when one action is unknown (code 6)", async () => {
    const { user, id } = await setup();
    const actions = (await update(user, id, [{ Action: "ExitThisJourney" }])).body["Actions"] as Action[];
    const before = (await user.get("/api/v1/journey", { JourneyID: id })).text;
    const res = await user.patch("/api/v1/journey.actions.published", {
      JourneyID: id,
      Actions: [{ ActionID: actions[0]!.ActionID, Published: true }, { ActionID: 999999999, Published: true }],
    });
    expect(outcome(res)).toEqual([404, 6]);
    expect(firstError(res)?.Message).toBe("Action not found");
    expect((await user.get("/api/v1/journey", { JourneyID: id })).text).toBe(before);
  });

  it.each([
    [{ Actions: [] }, 422, 1],
    [{ JourneyID: 1 }, 422, 2],
    [{ JourneyID: "x", Actions: [] }, 422, 3],
    [{ JourneyID: 1, Actions: "{}" }, 422, 4],
    [{ JourneyID: 999999999, Actions: [] }, 404, 5],
  ])("answers %j with %i / code %i", async (params, status, code) => {
    const user = await createUser();
    expect(outcome(await user.patch("/api/v1/journey.actions.published", params))).toEqual([status, code]);
    expect(outcome(await user.legacy({ Command: "journey.actions.published", ...params }))).toEqual([200, code]);
  });
});

describe("journey.sendemailactions", () => {
  it("lists published SendEmail actions of enabled journeys by default, with the escape hatches", async () => {
    const { user, refs, id, other } = await setup();
    const orphanEmail = Number((await user.post("/api/v1/email", { EmailName: "Gone", Subject: "x" })).body["EmailID"]);
    const tree = (await update(user, id, [
      { Action: "SendEmail", EmailID: refs.email, Published: true },
      { Action: "Decision", Actions: { True: [{ Action: "SendEmail", EmailID: orphanEmail, Published: true }], False: [{ Action: "SendEmail", EmailID: refs.email }] } },
      { Action: "Wait", WaitUnit: "days", WaitAmount: 1, Published: true },
    ])).body["Actions"] as Action[];
    const otherTree = (await update(user, other, [{ Action: "SendEmail", EmailID: refs.email, Published: true }])).body["Actions"] as Action[];
    expect((await user.post("/api/v1/email.delete", { EmailID: orphanEmail })).status).toBe(200);

    const none = await user.get("/api/v1/journey.sendemailactions");
    expect(none.body).toEqual({ Success: true, Actions: [] });

    await user.get("/api/v1/journey.enable", { JourneyID: id });
    const sends = tree.filter((a) => a.Action === "SendEmail");
    const res = await user.get("/api/v1/journey.sendemailactions");
    expect(res.body["Actions"]).toEqual([
      { ActionID: Number(sends[0]!.ActionID), JourneyID: id, JourneyName: "Tree", EmailName: "Welcome", Subject: "Hello", OrderNo: 1, Published: true },
      { ActionID: Number(sends[1]!.ActionID), JourneyID: id, JourneyName: "Tree", EmailName: "", Subject: "", OrderNo: 1, Published: true },
    ]);
    const all = await user.get("/api/v1/journey.sendemailactions", { IncludeDisabled: 1, IncludeUnpublished: "yes" });
    expect((all.body["Actions"] as { ActionID: number }[]).map((a) => a.ActionID)).toEqual([
      Number(otherTree[0]!.ActionID),
      ...sends.map((a) => Number(a.ActionID)),
    ].sort((a, b) => (a === Number(otherTree[0]!.ActionID) ? (other < id ? -1 : 1) : 0) || 0));
    const one = await user.get("/api/v1/journey.sendemailactions", { JourneyID: id, IncludeUnpublished: 1 });
    expect((one.body["Actions"] as unknown[]).length).toBe(3);
    const flags = await user.get("/api/v1/journey.sendemailactions", { IncludeDisabled: "2", IncludeUnpublished: "" });
    expect(flags.body["Actions"]).toEqual(res.body["Actions"]);
  });

  it("answers Actions: [] for another user's JourneyID, and code 1 for an invalid one", async () => {
    const { user, refs, id } = await setup();
    await update(user, id, [{ Action: "SendEmail", EmailID: refs.email, Published: true }]);
    await user.get("/api/v1/journey.enable", { JourneyID: id });
    const stranger = await createUser();
    expect((await stranger.get("/api/v1/journey.sendemailactions", { JourneyID: id, IncludeDisabled: 1 })).body).toEqual({ Success: true, Actions: [] });
    expect(outcome(await user.get("/api/v1/journey.sendemailactions", { JourneyID: "x" }))).toEqual([422, 1]);
    expect(outcome(await user.legacy({ Command: "journey.sendemailactions", JourneyID: "-4" }))).toEqual([200, 1]);
  });

  it("drops a deleted journey's actions at once", async () => {
    const { user, refs, id } = await setup();
    await update(user, id, [{ Action: "SendEmail", EmailID: refs.email, Published: true }]);
    await user.get("/api/v1/journey.enable", { JourneyID: id });
    expect((await user.get("/api/v1/journey.sendemailactions")).body["Actions"]).toHaveLength(1);
    await user.post("/api/v1/journey.delete", { JourneyID: id });
    expect((await user.get("/api/v1/journey.sendemailactions", { IncludeDisabled: 1, IncludeUnpublished: 1 })).body["Actions"]).toEqual([]);
  });
});

describe("journey.get EmailID filter", () => {
  it("accepts the ActionID of a SendEmail action of the journey and refuses any other (code 7)", async () => {
    const { user, refs, id } = await setup();
    const actions = (await update(user, id, [{ Action: "SendEmail", EmailID: refs.email }, { Action: "ExitThisJourney" }])).body["Actions"] as Action[];
    expect((await user.get("/api/v1/journey", { JourneyID: id, EmailID: actions[0]!.ActionID })).status).toBe(200);
    expect(outcome(await user.get("/api/v1/journey", { JourneyID: id, EmailID: actions[1]!.ActionID }))).toEqual([422, 7]);
  });
});
