import { describe, expect, it } from "vitest";
import {
  ACTION_TYPES,
  type ActionNode,
  type ParseResult,
  flatten,
  MAX_ACTIONS,
  MAX_DEPTH,
  parseActions,
} from "../../shared/domain/trees/actions.js";

const JOURNEY = 77;
const parse = (input: unknown) => parseActions(input, { journeyId: JOURNEY });

function ok(input: unknown) {
  const r = parse(input);
  if (!r.ok) throw new Error(`expected success, got: ${r.message}`);
  return r;
}
function bad(input: unknown): Extract<ParseResult, { ok: false }> {
  const r = parse(input);
  if (r.ok) throw new Error("expected a failure, got success");
  expect(r.message.startsWith(r.path), `message "${r.message}" starts with its path "${r.path}"`).toBe(true);
  expect(r.message.length).toBeGreaterThan(r.path.length + 1);
  return r;
}
/** Parses one action and returns its canonical node. */
const one = (action: Record<string, unknown>): ActionNode => ok([action]).actions[0]!;
const params = (action: Record<string, unknown>) => one(action).ActionParameters;

/** Turns parsed nodes back into the input shape, to check that output saves again unchanged. */
function toInput(nodes: ActionNode[]): Record<string, unknown>[] {
  return nodes.map((n) => {
    const o: Record<string, unknown> = { ActionID: n.ActionID, Action: n.Action, Published: n.Published, Notes: n.Notes, ...n.ActionParameters };
    if (n.Branches) o["Actions"] = Object.fromEntries(Object.entries(n.Branches).map(([k, v]) => [k, toInput(v ?? [])]));
    return o;
  });
}

const ALL_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/** Every action type, written with lower-case keys and loose values. */
const LOWER_TREE = [
  {
    actionid: "10",
    action: "wait",
    published: "YES",
    notes: "first",
    waitunit: "HOURS",
    waitamount: "3",
    timeconstraintenabled: "on",
    dontsendbefore: "08:30",
    dontsendafter: "17:45",
    alloweddays: ["FRI", "mon", "fri"],
  },
  {
    actionid: 11,
    action: "sendemail",
    emailid: "5",
    senderdomainid: 9,
    from: { name: "Support", email: "support@example.com" },
    "reply-to": { email: "reply@example.com" },
    cc: [{ name: "C", email: "c@example.com" }],
    bcc: [],
  },
  {
    action: "SENDSMS",
    MESSAGE: "Hi {{EmailAddress}}",
    Gateway_ID: "4",
    sender_id: "+15551234567",
    skip_if_no_phone: "false",
    max_retry_attempts: "5",
    priority: "HIGH",
    delivery_window_enabled: 1,
    delivery_window: { TIMEZONE: "Europe/Istanbul", start_time: "09:00", end_time: "18:00", days: ["tue", "MON"] },
    include_link: true,
    link_url: "https://example.com/offer",
    link_expiry_hours: "24",
    link_utm_source: "sms",
    link_utm_medium: "text",
    link_utm_campaign: "spring",
  },
  {
    actionid: null,
    action: "decision",
    criteriaoperator: "OR",
    criteria: JSON.stringify([[{ type: "Fields", operator: "IS", field_id: 3, value: "x" }]]),
    actions: {
      true: [
        { action: "updatecustomfieldvalue", targetcustomfieldid: "8", newcustomfieldvalue: 42 },
        {
          action: "yesno",
          criterialeft: "customfield:12",
          criteriaoperator: "does NOT contain",
          criteriaright: ["c100", 101],
          criteriaoption: "ALL",
          actions: { yes: [{ action: "subscribe", targetlistid: 2 }], NO: [{ action: "unsubscribe", targetlistid: "3" }] },
        },
      ],
      FALSE: [
        { action: "addtag", targettagid: 6 },
        { action: "removetag", targettagid: "7" },
      ],
    },
  },
  { action: "startjourney", targetjourneyid: 55 },
  { action: "exitjourney", targetjourneyid: [56, "57", 56] },
  { action: "exitthisjourney" },
  { action: "exitallotherjourneys" },
  { action: "exitalljourneys" },
  { action: "deletesubscriber", published: 0 },
  { action: "webhook", webhookurl: "https://hooks.example.com/in?a=1" },
  { action: "debug", sleepseconds: "5", debugmessage: "checkpoint" },
];

const CANONICAL_TREE: ActionNode[] = [
  {
    ActionID: 10,
    Action: "Wait",
    ActionParameters: {
      WaitUnit: "hours",
      WaitAmount: 3,
      TimeConstraintEnabled: true,
      DontSendBefore: "08:30",
      DontSendAfter: "17:45",
      AllowedDays: ["mon", "fri"],
    },
    Published: true,
    Notes: "first",
  },
  {
    ActionID: 11,
    Action: "SendEmail",
    ActionParameters: {
      EmailID: 5,
      SenderDomainID: 9,
      From: { Name: "Support", Email: "support@example.com" },
      ReplyTo: { Name: "", Email: "reply@example.com" },
      CC: [{ Name: "C", Email: "c@example.com" }],
      BCC: [],
    },
    Published: false,
    Notes: "",
  },
  {
    ActionID: null,
    Action: "SendSMS",
    ActionParameters: {
      message: "Hi {{EmailAddress}}",
      gateway_id: 4,
      sender_id: "+15551234567",
      skip_if_no_phone: false,
      max_retry_attempts: 5,
      priority: "high",
      delivery_window_enabled: true,
      delivery_window: { timezone: "Europe/Istanbul", start_time: "09:00", end_time: "18:00", days: ["mon", "tue"] },
      include_link: true,
      link_url: "https://example.com/offer",
      link_expiry_hours: 24,
      link_utm_source: "sms",
      link_utm_medium: "text",
      link_utm_campaign: "spring",
    },
    Published: false,
    Notes: "",
  },
  {
    ActionID: null,
    Action: "Decision",
    ActionParameters: {
      CriteriaOperator: "or",
      Criteria: [[{ type: "fields", operator: "is", field_id: 3, value: "x" }]],
    },
    Published: false,
    Notes: "",
    Branches: {
      True: [
        {
          ActionID: null,
          Action: "UpdateCustomFieldValue",
          ActionParameters: { TargetCustomFieldID: 8, NewCustomFieldValue: "42" },
          Published: false,
          Notes: "",
        },
        {
          ActionID: null,
          Action: "YesNo",
          ActionParameters: {
            CriteriaLeft: "CustomField:12",
            CriteriaOperator: "Does not contain",
            CriteriaRight: ["c100", 101],
            CriteriaOption: "all",
          },
          Published: false,
          Notes: "",
          Branches: {
            Yes: [{ ActionID: null, Action: "Subscribe", ActionParameters: { TargetListID: 2 }, Published: false, Notes: "" }],
            No: [{ ActionID: null, Action: "Unsubscribe", ActionParameters: { TargetListID: 3 }, Published: false, Notes: "" }],
          },
        },
      ],
      False: [
        { ActionID: null, Action: "AddTag", ActionParameters: { TargetTagID: 6 }, Published: false, Notes: "" },
        { ActionID: null, Action: "RemoveTag", ActionParameters: { TargetTagID: 7 }, Published: false, Notes: "" },
      ],
    },
  },
  { ActionID: null, Action: "StartJourney", ActionParameters: { TargetJourneyID: 55 }, Published: false, Notes: "" },
  { ActionID: null, Action: "ExitJourney", ActionParameters: { TargetJourneyID: [56, 57] }, Published: false, Notes: "" },
  { ActionID: null, Action: "ExitThisJourney", ActionParameters: {}, Published: false, Notes: "" },
  { ActionID: null, Action: "ExitAllOtherJourneys", ActionParameters: {}, Published: false, Notes: "" },
  { ActionID: null, Action: "ExitAllJourneys", ActionParameters: {}, Published: false, Notes: "" },
  { ActionID: null, Action: "DeleteSubscriber", ActionParameters: {}, Published: false, Notes: "" },
  { ActionID: null, Action: "Webhook", ActionParameters: { WebhookURL: "https://hooks.example.com/in?a=1" }, Published: false, Notes: "" },
  { ActionID: null, Action: "Debug", ActionParameters: { SleepSeconds: 5, DebugMessage: "checkpoint" }, Published: false, Notes: "" },
];

/** Key order matters for the stored/returned shape, so compare serialisations too. */
const deepKeys = (v: unknown): unknown =>
  Array.isArray(v) ? v.map(deepKeys) : v && typeof v === "object" ? Object.entries(v).map(([k, x]) => [k, deepKeys(x)]) : v;

describe("parseActions: a tree of every action type", () => {
  it("turns lower-case keys and loose values into the canonical tree", () => {
    const r = ok(LOWER_TREE);
    expect(r.actions).toEqual(CANONICAL_TREE);
    expect(deepKeys(r.actions)).toEqual(deepKeys(CANONICAL_TREE));
    expect(r.count).toBe(18);
    expect(r.actionIds).toEqual([10, 11]);
  });

  it("covers every action type", () => {
    const seen = flatten(ok(LOWER_TREE).actions).map((x) => x.node.Action);
    expect(new Set(seen)).toEqual(new Set(ACTION_TYPES));
  });

  it("saves its own output again unchanged", () => {
    const first = ok(LOWER_TREE);
    const second = ok(toInput(first.actions));
    expect(second.actions).toEqual(first.actions);
    expect(deepKeys(second.actions)).toEqual(deepKeys(first.actions));
    expect(second.refs).toEqual(first.refs);
  });

  it("is deterministic and JSON-serialisable", () => {
    const a = ok(LOWER_TREE);
    const b = ok(structuredClone(LOWER_TREE));
    expect(a).toEqual(b);
    expect(JSON.parse(JSON.stringify(a.actions))).toEqual(a.actions);
  });

  it("collects every referenced record with the path of its field", () => {
    expect(ok(LOWER_TREE).refs).toEqual([
      { kind: "email", id: 5, path: "Actions[1].EmailID" },
      { kind: "customField", id: 8, path: "Actions[3].Actions.True[0].TargetCustomFieldID" },
      { kind: "customField", id: 12, path: "Actions[3].Actions.True[1].CriteriaLeft" },
      { kind: "list", id: 2, path: "Actions[3].Actions.True[1].Actions.Yes[0].TargetListID" },
      { kind: "list", id: 3, path: "Actions[3].Actions.True[1].Actions.No[0].TargetListID" },
      { kind: "tag", id: 6, path: "Actions[3].Actions.False[0].TargetTagID" },
      { kind: "tag", id: 7, path: "Actions[3].Actions.False[1].TargetTagID" },
      { kind: "journey", id: 55, path: "Actions[4].TargetJourneyID" },
      { kind: "journey", id: 56, path: "Actions[5].TargetJourneyID[0]" },
      { kind: "journey", id: 57, path: "Actions[5].TargetJourneyID[1]" },
    ]);
  });

  it("accepts an empty tree", () => {
    expect(ok([])).toEqual({ ok: true, actions: [], refs: [], count: 0, actionIds: [] });
  });
});

describe("parseActions: defaults", () => {
  it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    [
      "Wait",
      { Action: "Wait", WaitUnit: "days", WaitAmount: 1 },
      { WaitUnit: "days", WaitAmount: 1, TimeConstraintEnabled: false, DontSendBefore: "09:00", DontSendAfter: "19:00", AllowedDays: ALL_DAYS },
    ],
    ["SendEmail", { Action: "SendEmail" }, { EmailID: 0, SenderDomainID: 0 }],
    [
      "SendSMS",
      { Action: "SendSMS" },
      {
        message: "",
        gateway_id: 0,
        sender_id: "",
        skip_if_no_phone: true,
        max_retry_attempts: 3,
        priority: "normal",
        delivery_window_enabled: false,
        include_link: false,
        link_url: "",
        link_expiry_hours: 72,
        link_utm_source: "",
        link_utm_medium: "",
        link_utm_campaign: "",
      },
    ],
    ["Decision", { Action: "Decision" }, { CriteriaOperator: "and", Criteria: [] }],
    ["YesNo", { Action: "YesNo", CriteriaLeft: "Opens", CriteriaOperator: "Is set" }, { CriteriaLeft: "Opens", CriteriaOperator: "Is set", CriteriaRight: "", CriteriaOption: "" }],
    ["UpdateCustomFieldValue", { Action: "UpdateCustomFieldValue" }, { TargetCustomFieldID: 0, NewCustomFieldValue: "" }],
    ["Subscribe", { Action: "Subscribe" }, { TargetListID: 0 }],
    ["Unsubscribe", { Action: "Unsubscribe" }, { TargetListID: 0 }],
    ["AddTag", { Action: "AddTag" }, { TargetTagID: 0 }],
    ["RemoveTag", { Action: "RemoveTag" }, { TargetTagID: 0 }],
    ["StartJourney", { Action: "StartJourney" }, { TargetJourneyID: 0 }],
    ["ExitJourney", { Action: "ExitJourney" }, { TargetJourneyID: 0 }],
    ["ExitThisJourney", { Action: "ExitThisJourney" }, {}],
    ["ExitAllOtherJourneys", { Action: "ExitAllOtherJourneys" }, {}],
    ["ExitAllJourneys", { Action: "ExitAllJourneys" }, {}],
    ["DeleteSubscriber", { Action: "DeleteSubscriber" }, {}],
    ["Webhook", { Action: "Webhook" }, { WebhookURL: "" }],
    ["Debug", { Action: "Debug" }, { SleepSeconds: 0, DebugMessage: "" }],
  ])("fills in the documented defaults of %s, in canonical key order", (_type, input, expected) => {
    const node = one(input);
    expect(node.ActionParameters).toEqual(expected);
    expect(Object.keys(node.ActionParameters)).toEqual(Object.keys(expected));
    expect(node.ActionID).toBeNull();
    expect(node.Published).toBe(false);
    expect(node.Notes).toBe("");
  });

  it("treats null like an absent optional field", () => {
    expect(params({ Action: "SendSMS", priority: null, link_url: null, delivery_window: null, message: null })).toMatchObject({
      priority: "normal",
      link_url: "",
      message: "",
    });
    expect(params({ Action: "SendEmail", From: null, CC: null, EmailID: null })).toEqual({ EmailID: 0, SenderDomainID: 0 });
    expect(params({ Action: "Decision", Criteria: null })).toEqual({ CriteriaOperator: "and", Criteria: [] });
  });

  it("gives Decision and YesNo both branches, empty when missing", () => {
    expect(one({ Action: "Decision" }).Branches).toEqual({ True: [], False: [] });
    expect(one({ Action: "Decision", Actions: { False: [{ Action: "ExitAllJourneys" }] } }).Branches?.True).toEqual([]);
    expect(one({ Action: "YesNo", CriteriaLeft: "Opens", CriteriaOperator: "Is set", Actions: { yes: null } }).Branches).toEqual({ Yes: [], No: [] });
    expect(Object.keys(one({ Action: "YesNo", CriteriaLeft: "Opens", CriteriaOperator: "Is", Actions: { No: [], Yes: [] } }).Branches!)).toEqual(["Yes", "No"]);
  });

  it("gives non-branching actions no Branches key", () => {
    expect("Branches" in one({ Action: "Wait", WaitUnit: "days", WaitAmount: 1 })).toBe(false);
  });
});

describe("parseActions: common fields", () => {
  it.each([
    [true, true], ["true", true], ["TRUE", true], [1, true], ["1", true], ["yes", true], ["On", true],
    [false, false], ["false", false], ["False", false], [0, false], ["0", false], ["no", false], ["OFF", false],
    [undefined, false], [null, false], ["", false],
  ])("reads Published %j as %j", (value, expected) => {
    expect(one({ Action: "ExitThisJourney", Published: value }).Published).toBe(expected);
  });

  it.each([["maybe"], [2], [-1], ["y"], [{}], [[]], ["tru"]])("rejects Published %j", (value) => {
    const r = bad([{ Action: "ExitThisJourney", Published: value }]);
    expect(r.path).toBe("Actions[0].Published");
  });

  it("keeps Notes up to 2000 characters and accepts numbers as text", () => {
    expect(one({ Action: "ExitThisJourney", Notes: "n".repeat(2000) }).Notes).toHaveLength(2000);
    expect(one({ Action: "ExitThisJourney", Notes: 12 }).Notes).toBe("12");
  });

  it.each([["n".repeat(2001)], [{}], [true], [["x"]]])("rejects Notes %#", (value) => {
    expect(bad([{ Action: "ExitThisJourney", Notes: value }]).path).toBe("Actions[0].Notes");
  });

  it.each([[undefined], [null], [""], [0], ["0"]])("treats ActionID %j as a new action", (value) => {
    const r = ok([{ Action: "ExitThisJourney", ActionID: value }]);
    expect(r.actions[0]!.ActionID).toBeNull();
    expect(r.actionIds).toEqual([]);
  });

  it("reads ActionID from a number or a digit string", () => {
    const r = ok([{ Action: "ExitThisJourney", ActionID: 5 }, { Action: "ExitThisJourney", actionid: "6" }]);
    expect(r.actions.map((a) => a.ActionID)).toEqual([5, 6]);
    expect(r.actionIds).toEqual([5, 6]);
  });

  it.each([[-1], [1.5], ["12abc"], ["1e3"], ["-3"], [true], [{}], [[1]], ["007"]])("rejects ActionID %j", (value) => {
    expect(bad([{ Action: "ExitThisJourney", ActionID: value }]).path).toBe("Actions[0].ActionID");
  });

  it("rejects an ActionID used twice, on the second occurrence", () => {
    const r = bad([
      { Action: "ExitThisJourney", ActionID: 5 },
      { Action: "Decision", ActionID: 6, Actions: { False: [{ Action: "Debug", ActionID: "5" }] } },
    ]);
    expect(r.path).toBe("Actions[1].Actions.False[0].ActionID");
    expect(r.message).toMatch(/5/);
  });

  it("lists every ActionID in tree pre-order", () => {
    const r = ok([
      { Action: "Decision", ActionID: 3, Actions: { True: [{ Action: "Debug", ActionID: 9 }], False: [{ Action: "Debug", ActionID: 1 }] } },
      { Action: "Debug", ActionID: 2 },
      { Action: "Debug" },
    ]);
    expect(r.actionIds).toEqual([3, 9, 1, 2]);
  });
});

describe("parseActions: structure errors", () => {
  it.each([[{}], ["[]"], [null], [undefined], [5]])("rejects a non-array Actions %j", (value) => {
    const r = parseActions(value, { journeyId: 1 });
    expect(r).toMatchObject({ ok: false, path: "Actions" });
    if (!r.ok) expect(r.message.startsWith("Actions ")).toBe(true);
  });

  it.each([[null], [[]], ["Wait"], [3], [[{ Action: "Wait" }]]])("rejects an element that is not an object: %j", (value) => {
    expect(bad([{ Action: "ExitThisJourney" }, value]).path).toBe("Actions[1]");
  });

  it.each([[{}], [{ Action: "" }], [{ Action: null }], [{ ActionID: 3, Notes: "x" }]])("rejects a missing Action: %j", (value) => {
    const r = bad([value]);
    expect(r.path).toBe("Actions[0].Action");
    expect(r.message).toMatch(/required/);
  });

  it.each([["Sleep"], ["send_email"], [5], [["Wait"]], [{ name: "Wait" }]])("rejects an unknown Action %j", (value) => {
    expect(bad([{ Action: value }]).path).toBe("Actions[0].Action");
  });

  it("rejects an Action given twice in different case", () => {
    expect(bad([{ Action: "Wait", action: "Wait" }]).path).toBe("Actions[0].Action");
  });

  it("rejects an unknown key, naming it as given", () => {
    const r = bad([{ Action: "Wait", WaitUnit: "days", WaitAmount: 1, waitAmounts: 2 }]);
    expect(r.path).toBe("Actions[0].waitAmounts");
  });

  it("rejects a field that belongs to another action type", () => {
    expect(bad([{ Action: "AddTag", TargetListID: 3 }]).path).toBe("Actions[0].TargetListID");
    expect(bad([{ Action: "SendEmail", message: "hi" }]).path).toBe("Actions[0].message");
  });

  it("rejects a field given twice in different case, naming the canonical field", () => {
    const r = bad([{ Action: "AddTag", TargetTagID: 3, targettagid: 4 }]);
    expect(r.path).toBe("Actions[0].TargetTagID");
  });

  it("rejects ReplyTo given both as ReplyTo and Reply-To", () => {
    expect(bad([{ Action: "SendEmail", ReplyTo: { Email: "a@b.co" }, "Reply-To": { Email: "a@b.co" } }]).path).toBe("Actions[0].ReplyTo");
  });

  it("matches SendSMS fields case-insensitively but only in snake_case", () => {
    expect(params({ Action: "SendSMS", GATEWAY_ID: 4, Link_Expiry_Hours: 2 })).toMatchObject({ gateway_id: 4, link_expiry_hours: 2 });
    expect(bad([{ Action: "SendSMS", GatewayID: 4 }]).path).toBe("Actions[0].GatewayID");
  });

  it("rejects nested Actions on a type without branches", () => {
    expect(bad([{ Action: "Wait", WaitUnit: "days", WaitAmount: 1, Actions: { True: [] } }]).path).toBe("Actions[0].Actions");
  });

  it.each([
    ["Decision", { Actions: [] }, "Actions[0].Actions"],
    ["Decision", { Actions: "x" }, "Actions[0].Actions"],
    ["Decision", { Actions: { True: {} } }, "Actions[0].Actions.True"],
    ["Decision", { Actions: { false: "x" } }, "Actions[0].Actions.False"],
    ["Decision", { Actions: { Yes: [] } }, "Actions[0].Actions.Yes"],
    ["Decision", { Actions: { True: [], true: [] } }, "Actions[0].Actions.True"],
    ["YesNo", { Actions: { True: [] } }, "Actions[0].Actions.True"],
    ["YesNo", { Actions: { no: 1 } }, "Actions[0].Actions.No"],
  ])("rejects a malformed branch on %s: %j", (type, extra, path) => {
    const base = type === "YesNo" ? { CriteriaLeft: "Opens", CriteriaOperator: "Is set" } : {};
    expect(bad([{ Action: type, ...base, ...extra }]).path).toBe(path);
  });

  it("reports an error inside a branch with the branch's canonical name", () => {
    const r = bad([
      { Action: "Debug" },
      { Action: "Decision", actions: { true: [{ Action: "Debug" }, { Action: "Wait", WaitUnit: "weeks", WaitAmount: 1 }] } },
    ]);
    expect(r.path).toBe("Actions[1].Actions.True[1].WaitUnit");
    expect(r.message).toBe("Actions[1].Actions.True[1].WaitUnit must be one of seconds, minutes, hours, days");
  });

  it("reports the first error in tree pre-order", () => {
    const r = bad([
      { Action: "Decision", Actions: { True: [{ Action: "Debug", SleepSeconds: -1 }], False: [{ Action: "Debug", SleepSeconds: -2 }] } },
      { Action: "Debug", SleepSeconds: -3 },
    ]);
    expect(r.path).toBe("Actions[0].Actions.True[0].SleepSeconds");
  });
});

type Case = [label: string, action: Record<string, unknown>, path: string, message?: RegExp];
const W = { Action: "Wait", WaitUnit: "days", WaitAmount: 1 };
const YN = { Action: "YesNo", CriteriaLeft: "EmailAddress", CriteriaOperator: "Contains" };
const SMS_WINDOW = { timezone: "UTC", start_time: "09:00", end_time: "18:00" };

const INVALID: Case[] = [
  // Wait
  ["Wait without WaitUnit", { Action: "Wait", WaitAmount: 1 }, "Actions[0].WaitUnit", /required/],
  ["Wait with an empty WaitUnit", { ...W, WaitUnit: "" }, "Actions[0].WaitUnit", /required/],
  ["Wait with WaitUnit weeks", { ...W, WaitUnit: "weeks" }, "Actions[0].WaitUnit", /seconds, minutes, hours, days/],
  ["Wait with a numeric WaitUnit", { ...W, WaitUnit: 3 }, "Actions[0].WaitUnit"],
  ["Wait without WaitAmount", { Action: "Wait", WaitUnit: "days" }, "Actions[0].WaitAmount", /required/],
  ["Wait with a negative WaitAmount", { ...W, WaitAmount: -2 }, "Actions[0].WaitAmount"],
  ["Wait with a fractional WaitAmount", { ...W, WaitAmount: 1.5 }, "Actions[0].WaitAmount"],
  ["Wait with WaitAmount 12abc", { ...W, WaitAmount: "12abc" }, "Actions[0].WaitAmount"],
  ["Wait with WaitAmount over 1,000,000", { ...W, WaitAmount: 1_000_001 }, "Actions[0].WaitAmount", /1000000/],
  ["Wait with a non-boolean TimeConstraintEnabled", { ...W, TimeConstraintEnabled: "sometimes" }, "Actions[0].TimeConstraintEnabled"],
  ["Wait with DontSendBefore 24:00", { ...W, DontSendBefore: "24:00" }, "Actions[0].DontSendBefore", /HH:MM/],
  ["Wait with DontSendBefore 9:00", { ...W, DontSendBefore: "9:00" }, "Actions[0].DontSendBefore"],
  ["Wait with DontSendBefore 09:60", { ...W, DontSendBefore: "09:60" }, "Actions[0].DontSendBefore"],
  ["Wait with a numeric DontSendBefore", { ...W, DontSendBefore: 900 }, "Actions[0].DontSendBefore"],
  ["Wait with DontSendAfter 7pm", { ...W, DontSendAfter: "7pm" }, "Actions[0].DontSendAfter"],
  ["Wait with DontSendAfter equal to DontSendBefore", { ...W, DontSendBefore: "10:00", DontSendAfter: "10:00" }, "Actions[0].DontSendAfter", /later/],
  ["Wait with DontSendAfter before DontSendBefore", { ...W, DontSendBefore: "20:00", DontSendAfter: "08:00" }, "Actions[0].DontSendAfter", /later/],
  ["Wait with DontSendAfter before the default DontSendBefore", { ...W, DontSendAfter: "08:00" }, "Actions[0].DontSendAfter", /later/],
  ["Wait with DontSendBefore after the default DontSendAfter", { ...W, DontSendBefore: "20:00" }, "Actions[0].DontSendAfter", /later/],
  ["Wait with empty AllowedDays", { ...W, AllowedDays: [] }, "Actions[0].AllowedDays", /at least one/],
  ["Wait with AllowedDays as a string", { ...W, AllowedDays: "mon,tue" }, "Actions[0].AllowedDays"],
  ["Wait with AllowedDays holding monday", { ...W, AllowedDays: ["mon", "monday"] }, "Actions[0].AllowedDays[1]"],
  ["Wait with AllowedDays holding a number", { ...W, AllowedDays: [1] }, "Actions[0].AllowedDays[0]"],
  // SendEmail
  ["SendEmail with a negative EmailID", { Action: "SendEmail", EmailID: -1 }, "Actions[0].EmailID"],
  ["SendEmail with EmailID abc", { Action: "SendEmail", EmailID: "abc" }, "Actions[0].EmailID"],
  ["SendEmail with a fractional SenderDomainID", { Action: "SendEmail", SenderDomainID: 2.5 }, "Actions[0].SenderDomainID"],
  ["SendEmail with From as a string", { Action: "SendEmail", From: "a@b.co" }, "Actions[0].From"],
  ["SendEmail with From without Email", { Action: "SendEmail", From: { Name: "x" } }, "Actions[0].From.Email", /required/],
  ["SendEmail with From with an invalid Email", { Action: "SendEmail", From: { Email: "not-an-address" } }, "Actions[0].From.Email", /valid email/],
  ["SendEmail with From with a numeric Email", { Action: "SendEmail", From: { Email: 5 } }, "Actions[0].From.Email"],
  ["SendEmail with From with a long Name", { Action: "SendEmail", From: { Name: "n".repeat(201), Email: "a@b.co" } }, "Actions[0].From.Name", /200/],
  ["SendEmail with From with an object Name", { Action: "SendEmail", From: { Name: {}, Email: "a@b.co" } }, "Actions[0].From.Name"],
  ["SendEmail with From with an unknown key", { Action: "SendEmail", From: { Email: "a@b.co", Adress: "x" } }, "Actions[0].From.Adress"],
  ["SendEmail with Reply-To without Email", { Action: "SendEmail", "Reply-To": {} }, "Actions[0].ReplyTo.Email"],
  ["SendEmail with ReplyTo as an array", { Action: "SendEmail", ReplyTo: [{ Email: "a@b.co" }] }, "Actions[0].ReplyTo"],
  ["SendEmail with CC as an object", { Action: "SendEmail", CC: { Email: "a@b.co" } }, "Actions[0].CC"],
  ["SendEmail with an invalid CC address", { Action: "SendEmail", CC: [{ Email: "a@b.co" }, { Email: "x" }] }, "Actions[0].CC[1].Email"],
  ["SendEmail with a CC entry that is not an object", { Action: "SendEmail", CC: ["a@b.co"] }, "Actions[0].CC[0]"],
  ["SendEmail with 51 BCC entries", { Action: "SendEmail", BCC: Array.from({ length: 51 }, () => ({ Email: "a@b.co" })) }, "Actions[0].BCC", /50/],
  ["SendEmail with a BCC entry without Email", { Action: "SendEmail", BCC: [{ Name: "x" }] }, "Actions[0].BCC[0].Email"],
  // SendSMS
  ["SendSMS with a 1601-character message", { Action: "SendSMS", message: "m".repeat(1601) }, "Actions[0].message", /1600/],
  ["SendSMS with an object message", { Action: "SendSMS", message: { text: "x" } }, "Actions[0].message"],
  ["SendSMS with a negative gateway_id", { Action: "SendSMS", gateway_id: -4 }, "Actions[0].gateway_id"],
  ["SendSMS with a 33-character sender_id", { Action: "SendSMS", sender_id: "s".repeat(33) }, "Actions[0].sender_id", /32/],
  ["SendSMS with a non-boolean skip_if_no_phone", { Action: "SendSMS", skip_if_no_phone: "perhaps" }, "Actions[0].skip_if_no_phone"],
  ["SendSMS with max_retry_attempts 11", { Action: "SendSMS", max_retry_attempts: 11 }, "Actions[0].max_retry_attempts", /0 to 10/],
  ["SendSMS with max_retry_attempts -1", { Action: "SendSMS", max_retry_attempts: -1 }, "Actions[0].max_retry_attempts"],
  ["SendSMS with priority urgent", { Action: "SendSMS", priority: "urgent" }, "Actions[0].priority", /normal, high/],
  ["SendSMS with a non-boolean delivery_window_enabled", { Action: "SendSMS", delivery_window_enabled: "2" }, "Actions[0].delivery_window_enabled"],
  ["SendSMS with delivery_window as a string", { Action: "SendSMS", delivery_window: "09:00-18:00" }, "Actions[0].delivery_window"],
  ["SendSMS with an unknown time zone", { Action: "SendSMS", delivery_window: { ...SMS_WINDOW, timezone: "Mars/Olympus" } }, "Actions[0].delivery_window.timezone", /time zone/],
  ["SendSMS with an offset time zone", { Action: "SendSMS", delivery_window: { ...SMS_WINDOW, timezone: "+01:00" } }, "Actions[0].delivery_window.timezone"],
  ["SendSMS with a numeric time zone", { Action: "SendSMS", delivery_window: { ...SMS_WINDOW, timezone: 3 } }, "Actions[0].delivery_window.timezone"],
  ["SendSMS without start_time", { Action: "SendSMS", delivery_window: { end_time: "18:00" } }, "Actions[0].delivery_window.start_time", /required/],
  ["SendSMS without end_time", { Action: "SendSMS", delivery_window: { start_time: "09:00" } }, "Actions[0].delivery_window.end_time", /required/],
  ["SendSMS with start_time 25:00", { Action: "SendSMS", delivery_window: { ...SMS_WINDOW, start_time: "25:00" } }, "Actions[0].delivery_window.start_time"],
  ["SendSMS with end_time before start_time", { Action: "SendSMS", delivery_window: { ...SMS_WINDOW, start_time: "18:00", end_time: "09:00" } }, "Actions[0].delivery_window.end_time", /later/],
  ["SendSMS with end_time equal to start_time", { Action: "SendSMS", delivery_window: { ...SMS_WINDOW, end_time: "09:00" } }, "Actions[0].delivery_window.end_time"],
  ["SendSMS with empty days", { Action: "SendSMS", delivery_window: { ...SMS_WINDOW, days: [] } }, "Actions[0].delivery_window.days", /at least one/],
  ["SendSMS with an invalid day", { Action: "SendSMS", delivery_window: { ...SMS_WINDOW, days: ["mon", "xyz"] } }, "Actions[0].delivery_window.days[1]"],
  ["SendSMS with an unknown delivery_window key", { Action: "SendSMS", delivery_window: { ...SMS_WINDOW, tz: "UTC" } }, "Actions[0].delivery_window.tz"],
  ["SendSMS with a non-boolean include_link", { Action: "SendSMS", include_link: "x" }, "Actions[0].include_link"],
  ["SendSMS with include_link and no link_url", { Action: "SendSMS", include_link: true }, "Actions[0].link_url", /required/],
  ["SendSMS with include_link and an empty link_url", { Action: "SendSMS", include_link: "yes", link_url: "" }, "Actions[0].link_url", /required/],
  ["SendSMS with an ftp link_url", { Action: "SendSMS", link_url: "ftp://example.com/x" }, "Actions[0].link_url"],
  ["SendSMS with a relative link_url", { Action: "SendSMS", link_url: "/offer" }, "Actions[0].link_url"],
  ["SendSMS with a javascript link_url", { Action: "SendSMS", link_url: "javascript:alert(1)" }, "Actions[0].link_url"],
  ["SendSMS with a link_url holding a space", { Action: "SendSMS", link_url: "https://exa mple.com" }, "Actions[0].link_url"],
  ["SendSMS with a 2049-character link_url", { Action: "SendSMS", link_url: `https://example.com/${"a".repeat(2029)}` }, "Actions[0].link_url", /2048/],
  ["SendSMS with an object link_url", { Action: "SendSMS", link_url: {} }, "Actions[0].link_url"],
  ["SendSMS with link_expiry_hours 0", { Action: "SendSMS", link_expiry_hours: 0 }, "Actions[0].link_expiry_hours", /1 to 8760/],
  ["SendSMS with link_expiry_hours 8761", { Action: "SendSMS", link_expiry_hours: 8761 }, "Actions[0].link_expiry_hours"],
  ["SendSMS with a 201-character link_utm_source", { Action: "SendSMS", link_utm_source: "u".repeat(201) }, "Actions[0].link_utm_source", /200/],
  ["SendSMS with an array link_utm_medium", { Action: "SendSMS", link_utm_medium: ["x"] }, "Actions[0].link_utm_medium"],
  ["SendSMS with a 201-character link_utm_campaign", { Action: "SendSMS", link_utm_campaign: "u".repeat(201) }, "Actions[0].link_utm_campaign"],
  // Decision
  ["Decision with CriteriaOperator xor", { Action: "Decision", CriteriaOperator: "xor" }, "Actions[0].CriteriaOperator", /and, or/],
  ["Decision with Criteria as an object", { Action: "Decision", Criteria: { type: "fields" } }, "Actions[0].Criteria", /array/],
  ["Decision with Criteria as invalid JSON text", { Action: "Decision", Criteria: "[[{" }, "Actions[0].Criteria", /JSON/],
  ["Decision with an empty criteria group", { Action: "Decision", Criteria: [[]] }, "Actions[0].Criteria[0]"],
  ["Decision with an unknown criteria type", { Action: "Decision", Criteria: [[{ type: "colour", operator: "is" }]] }, "Actions[0].Criteria[0][0].type"],
  ["Decision with a wrong criteria operator", { Action: "Decision", Criteria: '[[{"type":"tags","operator":"is"}]]' }, "Actions[0].Criteria[0][0].operator"],
  ["Decision with a fields rule without field_id", { Action: "Decision", Criteria: [[{ type: "fields", operator: "is" }]] }, "Actions[0].Criteria[0][0].field_id"],
  // YesNo
  ["YesNo without CriteriaLeft", { Action: "YesNo", CriteriaOperator: "Is" }, "Actions[0].CriteriaLeft", /required/],
  ["YesNo with an unknown CriteriaLeft", { ...YN, CriteriaLeft: "FirstName" }, "Actions[0].CriteriaLeft"],
  ["YesNo with CustomField:0", { ...YN, CriteriaLeft: "CustomField:0" }, "Actions[0].CriteriaLeft"],
  ["YesNo with CustomField:abc", { ...YN, CriteriaLeft: "CustomField:abc" }, "Actions[0].CriteriaLeft"],
  ["YesNo with CustomField: and no ID", { ...YN, CriteriaLeft: "CustomField:" }, "Actions[0].CriteriaLeft"],
  ["YesNo with a numeric CriteriaLeft", { ...YN, CriteriaLeft: 5 }, "Actions[0].CriteriaLeft"],
  ["YesNo without CriteriaOperator", { Action: "YesNo", CriteriaLeft: "Opens" }, "Actions[0].CriteriaOperator", /required/],
  ["YesNo with CriteriaOperator Equals", { ...YN, CriteriaOperator: "Equals" }, "Actions[0].CriteriaOperator", /Equals to/],
  ["YesNo with a 1001-character CriteriaRight", { ...YN, CriteriaRight: "r".repeat(1001) }, "Actions[0].CriteriaRight", /1000/],
  ["YesNo with an object CriteriaRight", { ...YN, CriteriaRight: { a: 1 } }, "Actions[0].CriteriaRight"],
  ["YesNo with 101 CriteriaRight items", { ...YN, CriteriaRight: Array.from({ length: 101 }, (_, i) => `c${i}`) }, "Actions[0].CriteriaRight", /100/],
  ["YesNo with an object in CriteriaRight", { ...YN, CriteriaRight: ["c1", { id: 2 }] }, "Actions[0].CriteriaRight[1]"],
  ["YesNo with a boolean in CriteriaRight", { ...YN, CriteriaRight: [true] }, "Actions[0].CriteriaRight[0]"],
  ["YesNo with a long string in CriteriaRight", { ...YN, CriteriaRight: ["r".repeat(1001)] }, "Actions[0].CriteriaRight[0]"],
  ["YesNo with CriteriaOption some", { ...YN, CriteriaOption: "some" }, "Actions[0].CriteriaOption", /any/],
  ["YesNo with a numeric CriteriaOption", { ...YN, CriteriaOption: 1 }, "Actions[0].CriteriaOption"],
  // UpdateCustomFieldValue
  ["UpdateCustomFieldValue with TargetCustomFieldID -1", { Action: "UpdateCustomFieldValue", TargetCustomFieldID: -1 }, "Actions[0].TargetCustomFieldID"],
  ["UpdateCustomFieldValue with TargetCustomFieldID 1e3", { Action: "UpdateCustomFieldValue", TargetCustomFieldID: "1e3" }, "Actions[0].TargetCustomFieldID"],
  ["UpdateCustomFieldValue with a 1001-character value", { Action: "UpdateCustomFieldValue", NewCustomFieldValue: "v".repeat(1001) }, "Actions[0].NewCustomFieldValue", /1000/],
  ["UpdateCustomFieldValue with an object value", { Action: "UpdateCustomFieldValue", NewCustomFieldValue: { v: 1 } }, "Actions[0].NewCustomFieldValue"],
  ["UpdateCustomFieldValue with a boolean value", { Action: "UpdateCustomFieldValue", NewCustomFieldValue: true }, "Actions[0].NewCustomFieldValue"],
  // Lists and tags
  ["Subscribe with TargetListID 1.5", { Action: "Subscribe", TargetListID: 1.5 }, "Actions[0].TargetListID"],
  ["Unsubscribe with TargetListID -3", { Action: "Unsubscribe", TargetListID: "-3" }, "Actions[0].TargetListID"],
  ["AddTag with TargetTagID abc", { Action: "AddTag", TargetTagID: "abc" }, "Actions[0].TargetTagID"],
  ["RemoveTag with TargetTagID as an array", { Action: "RemoveTag", TargetTagID: [1] }, "Actions[0].TargetTagID"],
  // Journeys
  ["StartJourney with TargetJourneyID -1", { Action: "StartJourney", TargetJourneyID: -1 }, "Actions[0].TargetJourneyID"],
  ["StartJourney with its own journey", { Action: "StartJourney", TargetJourneyID: JOURNEY }, "Actions[0].TargetJourneyID", /may not start its own journey/],
  ["StartJourney with its own journey as text", { Action: "StartJourney", TargetJourneyID: String(JOURNEY) }, "Actions[0].TargetJourneyID", /own journey/],
  ["StartJourney with an array", { Action: "StartJourney", TargetJourneyID: [5] }, "Actions[0].TargetJourneyID"],
  ["ExitJourney with TargetJourneyID abc", { Action: "ExitJourney", TargetJourneyID: "abc" }, "Actions[0].TargetJourneyID"],
  ["ExitJourney with an empty array", { Action: "ExitJourney", TargetJourneyID: [] }, "Actions[0].TargetJourneyID", /1 to 100/],
  ["ExitJourney with 101 IDs", { Action: "ExitJourney", TargetJourneyID: Array.from({ length: 101 }, (_, i) => i + 1) }, "Actions[0].TargetJourneyID"],
  ["ExitJourney with -1 in the array", { Action: "ExitJourney", TargetJourneyID: [4, -1] }, "Actions[0].TargetJourneyID[1]"],
  ["ExitJourney with a bad item in the array", { Action: "ExitJourney", TargetJourneyID: [4, 5, "x"] }, "Actions[0].TargetJourneyID[2]"],
  // Field-less types
  ["ExitThisJourney with a field", { Action: "ExitThisJourney", TargetJourneyID: 5 }, "Actions[0].TargetJourneyID"],
  ["ExitAllOtherJourneys with a field", { Action: "ExitAllOtherJourneys", Foo: 1 }, "Actions[0].Foo"],
  ["ExitAllJourneys with a field", { Action: "ExitAllJourneys", WaitUnit: "days" }, "Actions[0].WaitUnit"],
  ["DeleteSubscriber with a field", { Action: "DeleteSubscriber", TargetListID: 2 }, "Actions[0].TargetListID"],
  // Webhook
  ["Webhook with an http URL", { Action: "Webhook", WebhookURL: "http://example.com/hook" }, "Actions[0].WebhookURL", /https/],
  ["Webhook with a non-URL", { Action: "Webhook", WebhookURL: "not a url" }, "Actions[0].WebhookURL"],
  ["Webhook with a URL without host", { Action: "Webhook", WebhookURL: "https://" }, "Actions[0].WebhookURL"],
  ["Webhook with https:/// and no host", { Action: "Webhook", WebhookURL: "https:///path" }, "Actions[0].WebhookURL"],
  ["Webhook with a 2049-character URL", { Action: "Webhook", WebhookURL: `https://example.com/${"a".repeat(2029)}` }, "Actions[0].WebhookURL", /2048/],
  ["Webhook with a numeric URL", { Action: "Webhook", WebhookURL: 5 }, "Actions[0].WebhookURL"],
  // Debug
  ["Debug with SleepSeconds 3601", { Action: "Debug", SleepSeconds: 3601 }, "Actions[0].SleepSeconds", /0 to 3600/],
  ["Debug with SleepSeconds -1", { Action: "Debug", SleepSeconds: -1 }, "Actions[0].SleepSeconds"],
  ["Debug with SleepSeconds 2.5", { Action: "Debug", SleepSeconds: 2.5 }, "Actions[0].SleepSeconds"],
  ["Debug with a 1001-character DebugMessage", { Action: "Debug", DebugMessage: "d".repeat(1001) }, "Actions[0].DebugMessage", /1000/],
  ["Debug with an object DebugMessage", { Action: "Debug", DebugMessage: {} }, "Actions[0].DebugMessage"],
];

describe("parseActions: invalid fields", () => {
  it.each(INVALID)("rejects %s", (_label, action, path, message) => {
    const r = bad([action]);
    expect(r.path).toBe(path);
    if (message) expect(r.message).toMatch(message);
  });

  it.each(INVALID.slice(0, 40))("reports the nested path when %s sits in a branch", (_label, action, path) => {
    const r = bad([{ Action: "Debug" }, { Action: "YesNo", CriteriaLeft: "Opens", CriteriaOperator: "Is set", Actions: { No: [{ Action: "Debug" }, action] } }]);
    expect(r.path).toBe(path.replace("Actions[0]", "Actions[1].Actions.No[1]"));
  });
});

describe("parseActions: valid field values", () => {
  it("accepts the Wait boundaries", () => {
    expect(params({ Action: "Wait", WaitUnit: " Seconds ", WaitAmount: "1000000", DontSendBefore: "00:00", DontSendAfter: "23:59" })).toMatchObject({
      WaitUnit: "seconds",
      WaitAmount: 1_000_000,
      DontSendBefore: "00:00",
      DontSendAfter: "23:59",
    });
  });

  it("orders AllowedDays by the week and drops duplicates", () => {
    expect(params({ ...W, AllowedDays: ["SUN", "wed", "Mon", "sun", "wed"] }).AllowedDays).toEqual(["mon", "wed", "sun"]);
  });

  it("keeps 0 references as not configured, with no refs", () => {
    const r = ok([
      { Action: "SendEmail", EmailID: 0, SenderDomainID: "0" },
      { Action: "SendSMS", gateway_id: "0" },
      { Action: "Subscribe", TargetListID: "0" },
      { Action: "AddTag", TargetTagID: 0 },
      { Action: "UpdateCustomFieldValue", TargetCustomFieldID: 0 },
      { Action: "StartJourney", TargetJourneyID: 0 },
      { Action: "ExitJourney", TargetJourneyID: "" },
    ]);
    expect(r.refs).toEqual([]);
    expect(r.actions.map((a) => Object.values(a.ActionParameters)[0])).toEqual([0, "", 0, 0, 0, 0, 0]);
    expect(r.actions[1]!.ActionParameters["gateway_id"]).toBe(0);
  });

  it("does not collect SenderDomainID or gateway_id as refs", () => {
    const r = ok([{ Action: "SendEmail", SenderDomainID: 4 }, { Action: "SendSMS", gateway_id: 5 }]);
    expect(r.refs).toEqual([]);
  });

  it("includes SendEmail address fields only when given, in canonical order", () => {
    const p = params({ Action: "SendEmail", bcc: [{ EMAIL: "b@example.com" }], From: { Email: "f@example.com", NAME: "F" }, EmailID: 3 });
    expect(p).toEqual({ EmailID: 3, SenderDomainID: 0, From: { Name: "F", Email: "f@example.com" }, BCC: [{ Name: "", Email: "b@example.com" }] });
    expect(Object.keys(p)).toEqual(["EmailID", "SenderDomainID", "From", "BCC"]);
    expect(params({ Action: "SendEmail", "reply-to": { email: "r@example.com" } })).toHaveProperty("ReplyTo", { Name: "", Email: "r@example.com" });
    expect(params({ Action: "SendEmail", "Reply-To": { email: "r@example.com" } })).toHaveProperty("ReplyTo");
  });

  it("accepts 50 CC entries", () => {
    expect(params({ Action: "SendEmail", CC: Array.from({ length: 50 }, (_, i) => ({ Email: `u${i}@example.com` })) }).CC).toHaveLength(50);
  });

  it("fills the delivery window defaults and keeps the zone as given", () => {
    expect(params({ Action: "SendSMS", delivery_window: { start_time: "08:00", end_time: "20:00" } }).delivery_window).toEqual({
      timezone: "UTC",
      start_time: "08:00",
      end_time: "20:00",
      days: ALL_DAYS,
    });
    expect(params({ Action: "SendSMS", delivery_window: { ...SMS_WINDOW, timezone: "America/New_York" } }).delivery_window).toMatchObject({
      timezone: "America/New_York",
    });
  });

  it("accepts an http link_url without include_link, and an empty one", () => {
    expect(params({ Action: "SendSMS", link_url: "http://example.com/a" }).link_url).toBe("http://example.com/a");
    expect(params({ Action: "SendSMS", include_link: false, link_url: "" }).link_url).toBe("");
  });

  it("accepts SendSMS boundaries", () => {
    expect(
      params({ Action: "SendSMS", message: "m".repeat(1600), sender_id: "s".repeat(32), max_retry_attempts: 0, link_expiry_hours: 8760 }),
    ).toMatchObject({ max_retry_attempts: 0, link_expiry_hours: 8760 });
    expect(params({ Action: "SendSMS", max_retry_attempts: "10" }).max_retry_attempts).toBe(10);
  });

  it("accepts Decision criteria as JSON text or an array, and [] as empty", () => {
    const rule = { type: "tags", operator: "has this tag", value: 3 };
    expect(params({ Action: "Decision", Criteria: JSON.stringify([[rule]]) }).Criteria).toEqual([[rule]]);
    expect(params({ Action: "Decision", Criteria: [[rule]] }).Criteria).toEqual([[rule]]);
    expect(params({ Action: "Decision", Criteria: "[]" }).Criteria).toEqual([]);
    expect(params({ Action: "Decision", Criteria: [], CriteriaOperator: "AND" })).toEqual({ CriteriaOperator: "and", Criteria: [] });
  });

  it.each([
    ["subscriberid", "SubscriberID"],
    ["EMAILADDRESS", "EmailAddress"],
    ["bouncetype", "BounceType"],
    ["subscriptionstatus", "SubscriptionStatus"],
    ["subscriptiondate", "SubscriptionDate"],
    ["subscriptionip", "SubscriptionIP"],
    ["optindate", "OptInDate"],
    ["opens", "Opens"],
    ["CLICKS", "Clicks"],
    ["CUSTOMFIELD:7", "CustomField:7"],
  ])("reads YesNo CriteriaLeft %s as %s", (given, canonical) => {
    expect(params({ ...YN, CriteriaLeft: given }).CriteriaLeft).toBe(canonical);
  });

  it.each([
    "Contains", "Does not contain", "Begins with", "Ends with", "Equals to", "Is greater than", "Is smaller than",
    "Is before", "Is after", "Is set", "Is not set", "Is", "Is not", "At most", "At least", "Only",
  ])("reads YesNo CriteriaOperator %s in any case", (operator) => {
    expect(params({ ...YN, CriteriaOperator: operator.toUpperCase() }).CriteriaOperator).toBe(operator);
  });

  it("reads YesNo CriteriaRight as text, numbers included, and CriteriaOption in any case", () => {
    expect(params({ ...YN, CriteriaRight: 42 }).CriteriaRight).toBe("42");
    expect(params({ ...YN, CriteriaRight: "@gmail", CriteriaOption: "Any" })).toMatchObject({ CriteriaRight: "@gmail", CriteriaOption: "any" });
    expect(params({ ...YN, CriteriaRight: [], CriteriaOption: "" })).toMatchObject({ CriteriaRight: [], CriteriaOption: "" });
  });

  it("accepts a single ExitJourney ID as a number or text, and the journey itself", () => {
    expect(params({ Action: "ExitJourney", TargetJourneyID: "12" }).TargetJourneyID).toBe(12);
    expect(params({ Action: "ExitJourney", TargetJourneyID: JOURNEY }).TargetJourneyID).toBe(JOURNEY);
  });

  it("keeps 0 entries of ExitJourney's array (not configured, C§11; the engine ignores them) without a reference", () => {
    const r = ok([{ Action: "ExitJourney", TargetJourneyID: [4, 0] }]);
    expect(r.actions[0]!.ActionParameters["TargetJourneyID"]).toEqual([4, 0]);
    expect(r.refs).toEqual([{ kind: "journey", id: 4, path: "Actions[0].TargetJourneyID[0]" }]);
  });

  it("de-duplicates ExitJourney IDs, keeps their order, and refers to each once", () => {
    const r = ok([{ Action: "ExitJourney", TargetJourneyID: [9, "3", 9, 3, 4] }]);
    expect(r.actions[0]!.ActionParameters["TargetJourneyID"]).toEqual([9, 3, 4]);
    expect(r.refs).toEqual([
      { kind: "journey", id: 9, path: "Actions[0].TargetJourneyID[0]" },
      { kind: "journey", id: 3, path: "Actions[0].TargetJourneyID[1]" },
      { kind: "journey", id: 4, path: "Actions[0].TargetJourneyID[4]" },
    ]);
  });

  it("accepts 100 ExitJourney IDs", () => {
    expect(params({ Action: "ExitJourney", TargetJourneyID: Array.from({ length: 100 }, (_, i) => i + 1) }).TargetJourneyID).toHaveLength(100);
  });

  it("lets StartJourney name another journey", () => {
    expect(ok([{ Action: "StartJourney", TargetJourneyID: JOURNEY + 1 }]).refs).toEqual([
      { kind: "journey", id: JOURNEY + 1, path: "Actions[0].TargetJourneyID" },
    ]);
  });

  it("keeps UpdateCustomFieldValue text as given, numbers as their text", () => {
    expect(params({ Action: "UpdateCustomFieldValue", NewCustomFieldValue: 1.5 }).NewCustomFieldValue).toBe("1.5");
    expect(params({ Action: "UpdateCustomFieldValue", NewCustomFieldValue: "v".repeat(1000) }).NewCustomFieldValue).toHaveLength(1000);
  });

  it("accepts Debug boundaries", () => {
    expect(params({ Action: "Debug", SleepSeconds: "3600", DebugMessage: "d".repeat(1000) })).toMatchObject({ SleepSeconds: 3600 });
  });
});

/** A chain of Decisions, each nested in its parent's True branch, `depth` levels deep in all. */
function chain(depth: number): unknown[] {
  let inner: unknown[] = [{ Action: "Debug" }];
  for (let d = depth - 1; d >= 1; d--) inner = [{ Action: "Decision", Actions: { True: inner } }];
  return inner;
}
const debugs = (n: number) => Array.from({ length: n }, () => ({ Action: "Debug" }));

describe("parseActions: limits", () => {
  it("exposes the limits of the contract", () => {
    expect(MAX_ACTIONS).toBe(500);
    expect(MAX_DEPTH).toBe(20);
  });

  it("accepts 500 actions at the top level and rejects 501", () => {
    expect(ok(debugs(500)).count).toBe(500);
    const r = bad(debugs(501));
    expect(r.path).toBe("Actions");
    expect(r.message).toMatch(/500/);
  });

  it("counts actions across the whole tree", () => {
    const tree = (n: number) => [
      { Action: "Debug" },
      { Action: "Decision", Actions: { True: debugs(n), False: [{ Action: "YesNo", CriteriaLeft: "Opens", CriteriaOperator: "Is set", Actions: { No: debugs(100) } }] } },
    ];
    // 1 + 1 + n + 1 + 100
    expect(ok(tree(397)).count).toBe(500);
    const r = bad(tree(398));
    expect(r.path).toBe("Actions");
    expect(r.message).toMatch(/500/);
  });

  it("fails fast on a hostile 100,000-element input, before looking at any element", () => {
    const input = Array.from({ length: 100_000 }, () => null);
    const started = performance.now();
    const r = bad(input);
    expect(r.path).toBe("Actions");
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it("fails fast on a hostile branch, before looking at its elements", () => {
    const r = bad([{ Action: "Decision", Actions: { True: Array.from({ length: 100_000 }, () => 5) } }]);
    expect(r.path).toBe("Actions");
  });

  it("accepts a nesting depth of 20 and rejects 21, naming the offending node", () => {
    const r20 = ok(chain(20));
    expect(r20.count).toBe(20);
    expect(flatten(r20.actions).at(-1)!.node.Action).toBe("Debug");
    const r = bad(chain(21));
    expect(r.path).toBe(`Actions[0]${".Actions.True[0]".repeat(20)}`);
    expect(r.message).toMatch(/20/);
  });

  it("allows an empty branch on a node at depth 20", () => {
    const tree = chain(20);
    let leaf = tree[0] as { Actions?: { True: unknown[] } };
    while (leaf.Actions) leaf = leaf.Actions.True[0] as typeof leaf;
    Object.assign(leaf, { Action: "YesNo", CriteriaLeft: "Opens", CriteriaOperator: "Is set", Actions: { Yes: [], No: [] } });
    expect(ok(tree).count).toBe(20);
  });

  it("stops at depth 21 on a hostile deep input", () => {
    const r = bad(chain(5000));
    expect(r.path).toBe(`Actions[0]${".Actions.True[0]".repeat(20)}`);
  });
});

describe("flatten", () => {
  it("lists the tree in pre-order with parents, branches and 1-based order numbers", () => {
    const { actions } = ok([
      { Action: "Debug", DebugMessage: "a" },
      {
        Action: "Decision",
        Notes: "b",
        Actions: {
          False: [{ Action: "Debug", DebugMessage: "b.f1" }],
          True: [
            { Action: "YesNo", CriteriaLeft: "Opens", CriteriaOperator: "Is set", Notes: "b.t1", Actions: { No: [{ Action: "Debug", DebugMessage: "b.t1.n1" }], Yes: [{ Action: "Debug", DebugMessage: "b.t1.y1" }] } },
            { Action: "Debug", DebugMessage: "b.t2" },
          ],
        },
      },
      { Action: "Debug", DebugMessage: "c" },
    ]);
    const label = (n: ActionNode) => (n.ActionParameters["DebugMessage"] as string | undefined) ?? n.Notes;
    expect(flatten(actions).map((x) => [label(x.node), x.parentIndex, x.branch, x.orderNo])).toEqual([
      ["a", null, "", 1],
      ["b", null, "", 2],
      ["b.t1", 1, "True", 1],
      ["b.t1.y1", 2, "Yes", 1],
      ["b.t1.n1", 2, "No", 1],
      ["b.t2", 1, "True", 2],
      ["b.f1", 1, "False", 1],
      ["c", null, "", 3],
    ]);
  });

  it("returns the parsed nodes themselves and one entry per counted action", () => {
    const r = ok(LOWER_TREE);
    const flat = flatten(r.actions);
    expect(flat).toHaveLength(r.count);
    expect(flat[0]!.node).toBe(r.actions[0]);
  });

  it("returns nothing for an empty tree", () => {
    expect(flatten([])).toEqual([]);
  });
});

describe("Wait of no time", () => {
  it("accepts WaitAmount 0 (ENGINE §6: a Wait that still applies its window)", () => {
    const out = parseActions([{ Action: "Wait", WaitUnit: "minutes", WaitAmount: 0 }], { journeyId: JOURNEY });
    expect(out.ok && out.actions[0]?.ActionParameters["WaitAmount"]).toBe(0);
  });
});
