import { describe, expect, it } from "vitest";
import type { Item } from "../../shared/domain/owned.js";
import { type CriteriaData, evaluateRules, evaluateYesNo, needsOf } from "../../shared/engine/criteria-eval.js";

/** The product clock of every test: 2026-03-10 12:00:00 UTC. */
const NOW = Date.UTC(2026, 2, 10, 12, 0, 0) / 1000;

const SUBSCRIBER: Item = {
  EmailAddress: "Ada.Lovelace@Example.COM",
  ListID: 3,
  SubscriptionStatus: "Subscribed",
  SubscriptionDate: "2026-01-15 08:30:00",
  UnsubscriptionDate: "",
  BounceType: "Not Bounced",
  CustomFields: { "11": "Gold Member", "12": "10", "13": "2026-02-01", "14": "2026-02-01 10:00:00", "15": "", "16": "-1.5" },
  Tags: [1, 2, 3],
  PhoneNumber: "+15550001111",
};

/** Email states by ActionID; EmailID as the runner writes it (ingest does not, see criteria-eval.ts). */
const STATES: Item[] = [
  { SK: "M#000000000101", ActionID: 101, JourneyID: 7, EmailID: 5, Sent: true, Delivered: "2026-03-08 09:00:00", Opened: "2026-03-08", Clicked: "2026-03-09" },
  { SK: "M#000000000102", ActionID: 102, JourneyID: 7, EmailID: 6, Sent: true, Opened: "2026-01-20", Unsubscribed: "2026-01-21" },
  { SK: "M#000000000103", ActionID: 103, JourneyID: 8, EmailID: 5, Sent: true, Bounced: true, HardBounced: true },
  { SK: "M#000000000104", ActionID: 104, JourneyID: 8, EmailID: 9, Failed: true },
  { SK: "M#000000000105", ActionID: 105, JourneyID: 8, EmailID: 6, Sent: true, Opened: "2026-03-10", SpamComplaint: "2026-03-10" },
];

function data(over: Partial<CriteriaData> = {}): CriteriaData {
  return {
    subscriber: SUBSCRIBER,
    subscriberId: 42,
    memberships: new Map<number, Item>([
      [7, { ActiveEntryID: "01HZACTIVE", Version: 3 }],
      [8, { CompletedEver: true, Version: 2 }],
      [9, { ActiveEntryID: "01HZGONE", CompletedEver: true, Version: 5 }],
    ]),
    emailStates: new Map(STATES.map((s) => [Number(s["ActionID"]), s])),
    allEmailStates: STATES,
    // Journey 9 is gone: its membership is still there, and must read as neither.
    liveJourneys: new Set([7, 8]),
    now: NOW,
    ...over,
  };
}

/** One rule, evaluated alone. */
const one = (rule: Record<string, unknown>, d: CriteriaData = data()) => evaluateRules([[rule]], "and", d);
const holds = (rule: Record<string, unknown>, d?: CriteriaData) => {
  const out = one(rule, d);
  expect(out.unsupportedRules, JSON.stringify(rule)).toEqual([]);
  expect(out.noDataRules).toEqual([]);
  return out.result;
};
const field = (field_id: unknown, operator: string, value?: unknown) => ({ type: "fields", field_id, operator, value });

describe("fields", () => {
  it.each([
    ["is", "11", "gold member", true],
    ["is", "11", "Gold", false],
    ["is not", "11", "GOLD MEMBER", false],
    ["is not", "11", "silver", true],
    ["contains", "11", "LD ME", true],
    ["contains", "11", "platinum", false],
    ["does not contain", "11", "gold", false],
    ["does not contain", "11", "silver", true],
    ["begins with", "11", "GOLD", true],
    ["begins with", "11", "member", false],
    ["ends with", "11", "MEMBER", true],
    ["ends with", "11", "gold", false],
    ["is set", "11", "", true],
    ["is set", "15", "", false],
    ["is set", "99", "", false],
    ["is not set", "15", "", true],
    ["is not set", "99", "", true],
    ["is not set", "11", "", false],
  ])("text: %s on field %s with %j is %s", (op, id, value, expected) => {
    expect(holds(field(id, op, value))).toBe(expected);
  });

  it.each([
    // "10" > "9" as numbers, though "10" < "9" as text.
    ["is greater than", "12", "9", true],
    ["is less than", "12", "9", false],
    ["is greater than or equal to", "12", "10.0", true],
    ["is less than or equal to", "12", "10", true],
    ["is less than", "12", "10", false],
    ["is less than", "16", "0", true],
    ["is greater than", "12", 9.5, true],
  ])("numbers: field %s %s %j is %s", (op, id, value, expected) => {
    expect(holds(field(id, op, value))).toBe(expected);
  });

  it.each([
    ["is greater than", "13", "2026-01-31", true],
    ["is less than", "13", "2026-02-02", true],
    // A bare date on either side compares days: 2026-02-01 10:00:00 and 2026-02-01 are the same day.
    ["is greater than", "14", "2026-02-01", false],
    ["is greater than or equal to", "14", "2026-02-01", true],
    ["is less than or equal to", "14", "2026-02-01", true],
    // Both with seconds: compared to the second.
    ["is greater than", "14", "2026-02-01 09:59:59", true],
    ["is less than", "14", "2026-02-01 10:00:01", true],
    ["is less than", "14", "2026-02-01 10:00:00", false],
  ])("dates: field %s %s %j is %s", (op, id, value, expected) => {
    expect(holds(field(id, op, value))).toBe(expected);
  });

  it.each(["is less than", "is less than or equal to", "is greater than", "is greater than or equal to"])(
    "neither numbers nor dates: %s is false both ways",
    (op) => {
      expect(holds(field("11", op, "5"))).toBe(false); // text vs number
      expect(holds(field("12", op, "2026-02-01"))).toBe(false); // number vs date
      expect(holds(field("13", op, "abc"))).toBe(false); // date vs text
      expect(holds(field("13", op, "2026-02-30"))).toBe(false); // not a real date
      expect(holds(field("15", op, "1"))).toBe(false); // empty vs number
    },
  );

  it("reads EmailAddress by that name or its alias email, case-insensitive", () => {
    for (const id of ["EmailAddress", "emailaddress", "email", "EMAIL", " Email "]) {
      expect(holds(field(id, "ends with", "@example.com")), id).toBe(true);
      expect(holds(field(id, "is", "ada.lovelace@example.com")), id).toBe(true);
    }
    expect(holds(field("email", "contains", "hotmail"))).toBe(false);
  });

  it("accepts a numeric field_id and a numeric value", () => {
    expect(holds(field(12, "is", 10))).toBe(true);
  });

  it("an unknown field_id or an object value is unsupported, and false", () => {
    for (const rule of [field("FirstName", "is", "x"), field("SubscriptionStatus", "is", "Subscribed"), field("11", "is", { a: 1 })]) {
      const out = one(rule);
      expect(out.result).toBe(false);
      expect(out.unsupportedRules).toHaveLength(1);
      expect(out.unsupportedRules[0]).toMatch(/^\[0\]\[0\] fields is: /);
    }
  });
});

describe("tags", () => {
  const tags = (operator: string, value?: unknown) => ({ type: "tags", operator, value });
  it.each([
    ["has this tag", "2", true],
    ["has this tag", "4", false],
    ["has this tag", 3, true],
    ["does not have this tag", "4", true],
    ["does not have this tag", "1", false],
    ["has any of these tags", "4, 5, 3", true],
    ["has any of these tags", "4,5", false],
    ["has all of these tags", "1,2,3", true],
    ["has all of these tags", "1,2,4", false],
    ["has all of these tags", [1, "2"], true],
    ["has no tags", "", false],
  ])("%s %j is %s", (op, value, expected) => {
    expect(holds(tags(op, value))).toBe(expected);
  });

  it("has no tags holds for an empty or absent list, and a number set reads like a list", () => {
    expect(holds(tags("has no tags"), data({ subscriber: { ...SUBSCRIBER, Tags: [] } }))).toBe(true);
    expect(holds(tags("has no tags"), data({ subscriber: { ...SUBSCRIBER, Tags: undefined } }))).toBe(true);
    expect(holds(tags("has this tag", "2"), data({ subscriber: { ...SUBSCRIBER, Tags: new Set([2]) } }))).toBe(true);
  });

  it("a value that is not a list of TagIDs is unsupported", () => {
    for (const value of ["", "a,b", "1,-2", { x: 1 }]) {
      const out = one(tags("has any of these tags", value));
      expect(out.result).toBe(false);
      expect(out.unsupportedRules).toHaveLength(1);
    }
  });
});

describe("journeys", () => {
  const j = (operator: string, value: unknown) => ({ type: "journeys", operator, value });
  it.each([
    ["in journey", 7, true],
    ["in journey", 8, false],
    ["in journey", 10, false], // no membership at all
    ["not in journey", 7, false],
    ["not in journey", 8, true],
    ["not in journey", 10, true],
    ["completed journey", 8, true],
    ["completed journey", 7, false],
    ["completed journey", 10, false],
    // Journey 9 is gone: its membership says active and completed, yet it reads as neither.
    ["in journey", 9, false],
    ["not in journey", 9, true],
    ["completed journey", 9, false],
  ])("%s %s is %s", (op, value, expected) => {
    expect(holds(j(op, value))).toBe(expected);
  });

  it("a paused enrolment still holds its ActiveEntryID, so it is in the journey", () => {
    const d = data({ memberships: new Map([[7, { ActiveEntryID: "01HZPAUSED", CompletedEver: true }]]) });
    expect(holds(j("in journey", "7"), d)).toBe(true);
    expect(holds(j("completed journey", "7"), d)).toBe(true);
  });

  it.each([
    ["opened", 101, true],
    ["opened", 103, false],
    ["opened", 999, false],
    ["not opened", 101, false],
    ["not opened", 103, true],
    ["not opened", 999, true],
    ["clicked", 101, true],
    ["not clicked", 102, true],
    ["unsubscribed", 102, true],
    ["unsubscribed", 101, false],
    ["complained", 105, true],
    ["not complained", 105, false],
    ["not complained", 101, true],
    ["bounced", 103, true],
    ["not bounced", 103, false],
    ["not bounced", 101, true],
  ])("%s on action %s is %s (the email state of that ActionID)", (op, value, expected) => {
    expect(holds(j(op, value))).toBe(expected);
  });

  it("a value that is not an ID is unsupported", () => {
    const out = one(j("in journey", "seven"));
    expect(out).toMatchObject({ result: false, noDataRules: [] });
    expect(out.unsupportedRules).toHaveLength(1);
  });
});

describe("suppressions", () => {
  const s = (operator: string) => ({ type: "suppressions", operator });
  it.each([
    ["a sendable subscriber", {}, false],
    ["an unsubscribed one", { SubscriptionStatus: "Unsubscribed" }, true],
    ["a hard-bounced one", { SuppressedBy: "HardBounce" }, true],
    ["a complainer", { SuppressedBy: "SpamComplaint" }, true],
    ["an empty SuppressedBy", { SuppressedBy: "" }, false],
  ])("exist for %s is %s, not exist its negation", (_label, over, expected) => {
    const d = data({ subscriber: { ...SUBSCRIBER, ...over } });
    expect(holds(s("exist"), d)).toBe(expected);
    expect(holds(s("not exist"), d)).toBe(!expected);
  });
});

describe("campaign-events", () => {
  const c = (operator: string, extra: Record<string, unknown> = {}) => ({ type: "campaign-events", operator, value: "", ...extra });
  it.each([
    ["opened", {}, true],
    ["opened", { value: [] }, true],
    ["opened", { value: 5 }, true],
    ["opened", { value: "6" }, true],
    ["opened", { value: [9] }, false], // EmailID 9's send failed, nothing opened
    ["opened", { value: [9, 6] }, true],
    ["opened", { value: 77 }, false],
    ["not opened", { value: 77 }, true],
    ["not opened", { value: 9 }, true],
    ["not opened", {}, false],
    ["clicked", { value: 5 }, true],
    ["clicked", { value: 6 }, false],
    ["not clicked", { value: 6 }, true],
    ["unsubscribed", { value: 6 }, true],
    ["not unsubscribed", { value: 5 }, true],
    ["complained", {}, true],
    ["complained", { value: 5 }, false],
    ["not complained", { value: 5 }, true],
    ["bounced", { value: 5 }, true],
    ["bounced", { value: 6 }, false],
    ["not bounced", { value: 6 }, true],
    ["delivered", { value: 5 }, true],
    ["delivered", { value: 6 }, false],
    ["not delivered", { value: 6 }, true],
    ["queued-recipients", { value: 6 }, true],
    ["queued-recipients", { value: 9 }, false],
    ["not queued-recipients", { value: 9 }, true],
    ["failed", { value: 9 }, true],
    ["failed", { value: 5 }, false],
    ["not failed", { value: 5 }, true],
  ])("%s %j is %s", (op, extra, expected) => {
    expect(holds(c(op, extra))).toBe(expected);
  });

  it("email-id narrows the EmailIDs named by value", () => {
    // EmailID 5 is sent by actions 101 (opened) and 103 (bounced, not opened).
    expect(holds(c("opened", { value: [5, 6], "email-id": 6 }))).toBe(true);
    expect(holds(c("clicked", { value: [5, 6], "email-id": 6 }))).toBe(false);
    expect(holds(c("bounced", { "email-id": "5" }))).toBe(true);
    expect(holds(c("opened", { value: [6], "email-id": 5 }))).toBe(false);
  });

  it("with no email states at all, every positive operator is false and every not is true", () => {
    const d = data({ allEmailStates: [], emailStates: new Map() });
    expect(holds(c("opened"), d)).toBe(false);
    expect(holds(c("not opened"), d)).toBe(true);
    expect(holds(c("not failed"), d)).toBe(true);
  });

  it.each([
    // Opens: action 101 on 2026-03-08, 102 on 2026-01-20, 105 on 2026-03-10 (now is 2026-03-10 12:00).
    [{ type: "in_last_x_days", value: 7 }, "opened", {}, true],
    [{ type: "in_last_x_days", value: "7" }, "opened", { value: 6 }, true],
    [{ type: "in_last_x_days", value: 30 }, "unsubscribed", {}, false],
    [{ type: "not_in_last_x_days", value: 30 }, "unsubscribed", {}, true],
    [{ type: "not_in_last_x_days", value: 7 }, "opened", { value: 5 }, false],
    // A stored day compares as a day: action 101's 2026-03-08 is the day of now - 2 days, so it is in the last 2.
    [{ type: "in_last_x_days", value: 2 }, "opened", { value: 5 }, true],
    [{ type: "in_last_x_days", value: 1 }, "opened", { value: 5 }, false],
    [{ type: "between", value: { start: "2026-01-01", end: "2026-01-31" } }, "opened", {}, true],
    [{ type: "between", value: { start: "2026-01-21", end: "2026-03-07" } }, "opened", {}, false],
    [{ type: "between", value: { start: "2026-03-08", end: "2026-03-08" } }, "opened", {}, true],
    [{ type: "not_between", value: { start: "2026-01-01", end: "2026-03-31" } }, "opened", {}, false],
    [{ type: "not_between", value: { start: "2026-03-01", end: "2026-03-31" } }, "opened", {}, true],
    [{ type: "after", value: "2026-03-09" }, "opened", {}, true],
    [{ type: "after", value: "2026-03-10" }, "opened", {}, false],
    [{ type: "before", value: "2026-01-20" }, "opened", {}, false],
    [{ type: "before", value: "2026-01-21" }, "opened", {}, true],
    [{ type: "before", value: "2026-01-21" }, "not opened", {}, false],
    [{ type: "after", value: "2026-03-09" }, "not opened", { value: 6 }, false],
    [{ type: "after", value: "2026-03-10" }, "not opened", { value: 6 }, true],
    // Bounced is stored as `true`, with no time: no window can hold it.
    [{ type: "in_last_x_days", value: 365 }, "bounced", {}, false],
    // An absent type is no filter.
    [{ type: "", value: "" }, "bounced", {}, true],
  ])("time_filter %j on %s %j is %s", (time_filter, op, extra, expected) => {
    expect(holds(c(op, { ...extra, time_filter }))).toBe(expected);
  });

  it.each([
    // Three SendEmail actions were opened (101, 102, 105); action 101 twice in the list is still one.
    [{ operator: "at_least", count: 3 }, {}, undefined, true],
    [{ operator: "at_least", count: 4 }, {}, undefined, false],
    [{ operator: "at_most", count: 2 }, {}, undefined, false],
    [{ operator: "at_most", count: "3" }, {}, undefined, true],
    [{ operator: "exactly", count: 3 }, {}, undefined, true],
    [{ operator: "exactly", count: 2 }, { value: [6, 5] }, undefined, false],
    [{ operator: "exactly", count: 2 }, { value: [6] }, undefined, true],
    [{ operator: "exactly", count: 0 }, { value: [9] }, undefined, true],
    // The time filter applies first: only 101 and 105 were opened in the last 7 days.
    [{ operator: "exactly", count: 2 }, {}, { type: "in_last_x_days", value: 7 }, true],
    [{ operator: "at_least", count: 3 }, {}, { type: "in_last_x_days", value: 7 }, false],
  ])("aggregation %j over opened %j (time_filter %j) is %s", (aggregation, extra, time_filter, expected) => {
    const d = data({ allEmailStates: [...STATES, STATES[0]!] });
    expect(holds(c("opened", { ...extra, aggregation, ...(time_filter ? { time_filter } : {}) }), d)).toBe(expected);
  });

  it("not opened with an aggregation is the negation of opened with it", () => {
    expect(holds(c("not opened", { aggregation: { operator: "at_least", count: 3 } }))).toBe(false);
    expect(holds(c("not opened", { aggregation: { operator: "at_least", count: 4 } }))).toBe(true);
  });

  it.each([
    ["delivered", { time_filter: { type: "in_last_x_days", value: 7 } }],
    ["not delivered", { aggregation: { operator: "at_least", count: 1 } }],
    ["queued-recipients", { aggregation: { operator: "at_least", count: 1 } }],
    ["failed", { time_filter: { type: "after", value: "2026-01-01" } }],
    ["opened", { time_filter: { type: "in_last_x_weeks", value: 1 } }],
    ["opened", { time_filter: { type: "between", value: { start: "2026-01-01" } } }],
    ["opened", { time_filter: { type: "after", value: "yesterday" } }],
    ["opened", { aggregation: { operator: "more_than", count: 1 } }],
    ["opened", { aggregation: { operator: "at_least", count: -1 } }],
    ["opened", { value: "five" }],
    ["opened", { value: { id: 5 } }],
    ["opened", { "email-id": "x" }],
    ["sent", {}],
  ])("%s %j is unsupported, and false", (op, extra) => {
    const out = one(c(op, extra));
    expect(out.result).toBe(false);
    expect(out.unsupportedRules).toHaveLength(1);
    expect(out.noDataRules).toEqual([]);
  });

  it("without the queried email states the rule cannot be evaluated: unsupported, not a silent false", () => {
    const out = one(c("not opened"), data({ allEmailStates: undefined }));
    expect(out.result).toBe(false);
    expect(out.unsupportedRules[0]).toMatch(/not loaded/);
  });
});

describe("rules without a data source", () => {
  it.each([
    { type: "segments", operator: "belongs to", value: "S1" },
    { type: "segments", operator: "does not belong to", value: "S1" },
    { type: "website-events", event: "pageView", operator: "happened", event_parameter: "", value: "" },
    { type: "website-events", event: "pageView", operator: "did not happen", event_parameter: "", value: "" },
    { type: "website-events", event: "pageView", operator: "did not happen in the last X days", event_parameter: "", value: "30" },
    { type: "website-events", event: "identify", operator: "does not equal", event_parameter: "emailAddress", value: "x" },
    { type: "website-events", event: "pageView", operator: "is not set", event_parameter: "$pageTitle" },
  ])("%j is false, negations included, and named in noDataRules", (rule) => {
    const out = one(rule);
    expect(out).toEqual({ result: false, noDataRules: [`[0][0] ${rule.type} ${rule.operator}`], unsupportedRules: [] });
  });

  it("a no-data rule fails its group, and an OR can still hold through another group", () => {
    const groups = [
      [{ type: "segments", operator: "does not belong to", value: "S1" }, { type: "tags", operator: "has this tag", value: "1" }],
      [field("email", "ends with", "@example.com")],
    ];
    expect(evaluateRules(groups, "or", data())).toEqual({ result: true, noDataRules: ["[0][0] segments does not belong to"], unsupportedRules: [] });
    expect(evaluateRules(groups, "and", data()).result).toBe(false);
  });
});

describe("joining groups", () => {
  const T = field("11", "is set");
  const F = field("15", "is set");
  it.each([
    ["or", [[T], [F]], true],
    ["or", [[F], [F]], false],
    ["or", [[T, F], [F]], false], // rules inside a group are ANDed
    ["or", [[T, T], [F]], true],
    ["and", [[T], [F]], false],
    ["and", [[T], [T, T]], true],
    ["and", [[T, F], [T]], false],
    ["or", [[T]], true],
    ["and", [[F]], false],
  ])("%s of %j is %s", (op, groups, expected) => {
    expect(evaluateRules(groups as unknown[][], op as "and" | "or", data()).result).toBe(expected);
  });

  it("empty criteria hold for both operators", () => {
    for (const op of ["and", "or"] as const) {
      expect(evaluateRules([], op, data())).toEqual({ result: true, noDataRules: [], unsupportedRules: [] });
    }
  });

  it("names every unsupported or no-data rule, not just the first, and never throws on malformed criteria", () => {
    const groups = [[{ type: "bogus", operator: "x" }, "not a rule", { type: "segments", operator: "belongs to" }], "not a group", [null]];
    const out = evaluateRules(groups as unknown as unknown[][], "or", data());
    expect(out.result).toBe(false);
    expect(out.noDataRules).toEqual(["[0][2] segments belongs to"]);
    expect(out.unsupportedRules).toEqual(["[0][0] bogus x: unknown type", "[0][1] ?: not a rule object", "[1] not an array of rules", "[2][0] ?: not a rule object"]);
    expect(evaluateRules("nope" as unknown as unknown[][], "and", data())).toMatchObject({ result: false });
  });

  it("reads type and operator case-insensitively, as stored criteria may be hand-written", () => {
    expect(holds({ type: "Tags", operator: "Has This Tag", value: "1" })).toBe(true);
  });
});

describe("YesNo", () => {
  const yn = (CriteriaLeft: string, CriteriaOperator: string, CriteriaRight: unknown = "", d: CriteriaData = data()) =>
    evaluateYesNo({ CriteriaLeft, CriteriaOperator, CriteriaRight, CriteriaOption: "" }, d);
  const yes = (left: string, op: string, right?: unknown, d?: CriteriaData) => {
    const out = yn(left, op, right, d);
    expect(out.unsupportedRules, `${left} ${op}`).toEqual([]);
    expect(out.noDataRules).toEqual([]);
    return out.result;
  };

  it.each([
    ["EmailAddress", "Equals to", "ada.lovelace@example.com", true],
    ["EmailAddress", "Is", "ADA.LOVELACE@EXAMPLE.COM", true],
    ["EmailAddress", "Is not", "ada.lovelace@example.com", false],
    ["EmailAddress", "Contains", "LOVELACE", true],
    ["EmailAddress", "Does not contain", "lovelace", false],
    ["EmailAddress", "Begins with", "ada.", true],
    ["EmailAddress", "Ends with", "@gmail.com", false],
    ["EmailAddress", "Is greater than", "a", false], // neither numbers nor dates
    ["EmailAddress", "Is smaller than", "z", false],
    ["EmailAddress", "Is before", "2026-01-01", false],
    ["EmailAddress", "Is after", "2026-01-01", false],
    ["EmailAddress", "Is set", "", true],
    ["EmailAddress", "Is not set", "", false],
    ["SubscriberID", "Equals to", "42", true],
    ["SubscriberID", "Is", 42, true],
    ["SubscriberID", "Is not", "43", true],
    ["SubscriberID", "Contains", "4", true],
    ["SubscriberID", "Does not contain", "4", false],
    ["SubscriberID", "Begins with", "4", true],
    ["SubscriberID", "Ends with", "3", false],
    ["SubscriberID", "Is greater than", "9", true], // 42 > 9 as numbers
    ["SubscriberID", "Is smaller than", "100", true],
    ["SubscriberID", "Is before", "2026-01-01", false],
    ["SubscriberID", "Is after", "2026-01-01", false],
    ["SubscriberID", "Is set", "", true],
    ["SubscriberID", "Is not set", "", false],
    ["CustomField:11", "Equals to", "GOLD MEMBER", true],
    ["CustomField:11", "Is", "gold", false],
    ["CustomField:11", "Is not", "gold", true],
    ["CustomField:11", "Contains", "old mem", true],
    ["CustomField:11", "Does not contain", "old mem", false],
    ["CustomField:11", "Begins with", "gold", true],
    ["CustomField:11", "Ends with", "member", true],
    ["CustomField:12", "Is greater than", "9", true],
    ["CustomField:12", "Is smaller than", "9", false],
    ["CustomField:13", "Is greater than", "2026-01-31", true],
    ["CustomField:13", "Is before", "2026-02-02", true],
    ["CustomField:14", "Is after", "2026-02-01 09:00:00", true],
    ["CustomField:14", "Is after", "2026-02-01", false], // a bare date compares days
    ["CustomField:12", "Is before", "20", false], // dates only: numbers do not compare
    ["CustomField:15", "Is set", "", false],
    ["CustomField:99", "Is not set", "", true],
    ["customfield:11", "Is set", "", true],
    ["SubscriptionIP", "Is set", "", false],
    ["SubscriptionIP", "Is not set", "", true],
    ["SubscriptionIP", "Equals to", "", true],
    ["SubscriptionIP", "Is", "10.0.0.1", false],
    ["SubscriptionIP", "Is not", "10.0.0.1", true],
    ["SubscriptionIP", "Contains", "10.", false],
    ["SubscriptionIP", "Does not contain", "10.", true],
    ["SubscriptionIP", "Begins with", "10", false],
    ["SubscriptionIP", "Ends with", "1", false],
    ["SubscriptionIP", "Is greater than", "1", false],
    ["SubscriptionIP", "Is smaller than", "1", false],
    ["SubscriptionIP", "Is before", "2026-01-01", false],
    ["SubscriptionIP", "Is after", "2026-01-01", false],
  ])("%s %s %j is %s", (left, op, right, expected) => {
    expect(yes(left, op, right)).toBe(expected);
  });

  it.each([
    ["BounceType", "Is", "not bounced", true],
    ["BounceType", "Equals to", "Hard", false],
    ["BounceType", "Is not", "Hard", true],
    ["SubscriptionStatus", "Is", "subscribed", true],
    ["SubscriptionStatus", "Equals to", "Unsubscribed", false],
    ["SubscriptionStatus", "Is not", "Unsubscribed", true],
  ])("%s %s %j is %s (the stored value, case-insensitive)", (left, op, right, expected) => {
    expect(yes(left, op, right)).toBe(expected);
  });

  it("BounceType absent from the item reads as Not Bounced", () => {
    const d = data({ subscriber: { ...SUBSCRIBER, BounceType: undefined } });
    expect(yes("BounceType", "Is", "Not Bounced", d)).toBe(true);
    expect(yes("BounceType", "Is", "Hard", data({ subscriber: { ...SUBSCRIBER, BounceType: "Hard" } }))).toBe(true);
  });

  it.each([
    // SubscriptionDate is 2026-01-15 08:30:00.
    ["SubscriptionDate", "Is before", "2026-01-16", true],
    ["SubscriptionDate", "Is before", "2026-01-15", false], // same day
    ["SubscriptionDate", "Is after", "2026-01-15", false],
    ["SubscriptionDate", "Is after", "2026-01-14", true],
    ["SubscriptionDate", "Is after", "2026-01-15 08:29:59", true], // with seconds
    ["SubscriptionDate", "Is before", "2026-01-15 08:30:00", false],
    ["SubscriptionDate", "Is before", "soon", false],
    ["SubscriptionDate", "Is set", "", true],
    ["SubscriptionDate", "Is not set", "", false],
    ["OptInDate", "Is before", "2026-01-16", true],
    ["OptInDate", "Is after", "2026-01-16", false],
    ["OptInDate", "Is set", "", true],
    ["OptInDate", "Is not set", "", false],
  ])("%s %s %j is %s", (left, op, right, expected) => {
    expect(yes(left, op, right)).toBe(expected);
  });

  it("SubscriptionDate absent is not set", () => {
    const d = data({ subscriber: { ...SUBSCRIBER, SubscriptionDate: "" } });
    expect(yes("SubscriptionDate", "Is not set", "", d)).toBe(true);
    expect(yes("OptInDate", "Is before", "2030-01-01", d)).toBe(false);
  });

  it.each([
    // Opened: actions 101, 102, 105 (3); clicked: 101 (1). A duplicate state of 101 counts once.
    ["Opens", "At least", "3", true],
    ["Opens", "At least", 4, false],
    ["Opens", "At most", "3", true],
    ["Opens", "At most", "2", false],
    ["Opens", "Only", "3", true],
    ["Opens", "Equals to", "2", false],
    ["Clicks", "At least", "1", true],
    ["Clicks", "At most", "0", false],
    ["Clicks", "Only", "1", true],
    ["Clicks", "Equals to", "0", false],
  ])("%s %s %j is %s (distinct SendEmail actions)", (left, op, right, expected) => {
    expect(yes(left, op, right, data({ allEmailStates: [...STATES, STATES[0]!] }))).toBe(expected);
  });

  it.each([
    ["Opens", "At least", ["c100", "c101"], "any"],
    ["Clicks", "Only", ["a100"], "all"],
    ["Opens", "At most", "c100, c101", ""],
    ["Clicks", "Equals to", "a7", "any"],
    ["Opens", "Is", ["c100"], ""], // no data whatever the operator
    ["EmailAddress", "Is not", ["c100"], ""], // negations included
  ])("%s %s %j (CriteriaOption %j) names campaigns or autoresponders: false, in NoDataRules", (left, op, right, option) => {
    const out = evaluateYesNo({ CriteriaLeft: left, CriteriaOperator: op, CriteriaRight: right, CriteriaOption: option }, data());
    expect(out).toEqual({ result: false, noDataRules: [`${left} ${op}`], unsupportedRules: [] });
  });

  it("a text left compares c-prefixed text as text", () => {
    expect(yes("EmailAddress", "Contains", "c100")).toBe(false);
    expect(yes("CustomField:11", "Is not", "c100")).toBe(true);
  });

  it.each([
    ["BounceType", "Contains", "Hard"],
    ["SubscriptionStatus", "Is set", ""],
    ["SubscriptionDate", "Is", "2026-01-15"],
    ["SubscriptionDate", "Is greater than", "2026-01-01"],
    ["OptInDate", "Contains", "2026"],
    ["Opens", "Is", "3"],
    ["Clicks", "Is greater than", "1"],
    ["Opens", "At least", "three"],
    ["EmailAddress", "At least", "1"],
    ["CustomField:11", "Only", "1"],
    ["SubscriptionIP", "At most", "1"],
    ["FirstName", "Is", "Ada"],
    ["EmailAddress", "Sounds like", "Ada"],
    ["EmailAddress", "Is", [1, 2]],
  ])("%s %s %j is outside the table: false, in UnsupportedRules", (left, op, right) => {
    const out = yn(left, op, right);
    expect(out.result).toBe(false);
    expect(out.noDataRules).toEqual([]);
    expect(out.unsupportedRules).toHaveLength(1);
    expect(out.unsupportedRules[0]!.startsWith(`${left} ${op}: `)).toBe(true);
  });

  it("Opens without the queried email states is unsupported; malformed params never throw", () => {
    expect(yn("Opens", "At least", "1", data({ allEmailStates: undefined })).unsupportedRules).toHaveLength(1);
    expect(evaluateYesNo(null, data())).toMatchObject({ result: false });
    expect(evaluateYesNo({ CriteriaLeft: 5 }, data()).unsupportedRules).toHaveLength(1);
  });
});

describe("needsOf", () => {
  it("names the journeys, actions and the query the rules read", () => {
    const trigger = [[{ type: "journeys", operator: "in journey", value: "7" }, { type: "fields", field_id: "email", operator: "is set" }]];
    const run = [[{ type: "journeys", operator: "not opened", value: 101 }], [{ type: "journeys", operator: "completed journey", value: 3 }]];
    const decision = { CriteriaOperator: "and", Criteria: [[{ type: "journeys", operator: "clicked", value: 55 }, { type: "journeys", operator: "not in journey", value: 7 }]] };
    expect(needsOf(trigger, run, decision)).toEqual({ journeyIds: [3, 7], actionIds: [55, 101], queryEmailStates: false });
  });

  it("asks for the query only for campaign-events and YesNo counts", () => {
    expect(needsOf([[{ type: "campaign-events", operator: "opened", value: "" }]]).queryEmailStates).toBe(true);
    expect(needsOf({ CriteriaLeft: "Opens", CriteriaOperator: "At least", CriteriaRight: "2" }).queryEmailStates).toBe(true);
    expect(needsOf({ CriteriaLeft: "Clicks", CriteriaOperator: "At least", CriteriaRight: ["c1"] }).queryEmailStates).toBe(false);
    expect(needsOf({ CriteriaLeft: "EmailAddress", CriteriaOperator: "Is", CriteriaRight: "2" }).queryEmailStates).toBe(false);
    expect(needsOf({ Trigger_Criteria: [], Run_Criteria: [[{ type: "campaign-events", operator: "failed" }]] }).queryEmailStates).toBe(true);
  });

  it("needs nothing for empty or malformed sources", () => {
    expect(needsOf([], null, "x", [["x"]], [[{ type: "journeys", operator: "in journey", value: "x" }]])).toEqual({
      journeyIds: [],
      actionIds: [],
      queryEmailStates: false,
    });
  });
});
