import { ACTION_STAT_KEYS, EMAIL_ACTION_KEYS } from "./domain/stats/stats.js";

/**
 * The shapes of success bodies, by command, for the OpenAPI document (CONTRACT §8).
 * test/api/openapi-live.test.ts validates live answers against them, so a shape
 * here that drifts from what a command answers fails the suite. A command without
 * an entry is declared only as the envelope (an object with `Success: true`).
 */
type Schema = Record<string, unknown>;

const obj = (properties: Record<string, Schema>, required = Object.keys(properties)): Schema => ({ type: "object", required, properties });
const int: Schema = { type: "integer" };
const num: Schema = { type: "number" };
const str: Schema = { type: "string" };
const idText: Schema = { type: "string", pattern: "^[1-9][0-9]*$", description: "An ID, as text" };
const date: Schema = { type: "string", pattern: "^\\d{4}-\\d{2}-\\d{2}$" };
const dateTime: Schema = { type: "string", pattern: "^\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}$" };
const nullable = (s: Schema): Schema => ({ oneOf: [s, { type: "null" }] });
const counters = (keys: readonly string[]): Schema => obj(Object.fromEntries(keys.map((k) => [k, num])));
const arrayOf = (items: Schema): Schema => ({ type: "array", items });

const emailActions = counters(EMAIL_ACTION_KEYS);
const daysRevenue = arrayOf(obj({ Date: date, Amount: num }));

const journeyStats = obj(
  {
    ActiveSubscribers: int,
    TotalSubscribers: int,
    AggregatedEmailActions: emailActions,
    AggregatedDaysEmailActions: arrayOf({ ...emailActions, required: ["Date", ...EMAIL_ACTION_KEYS], properties: { Date: date, ...(emailActions["properties"] as object) } }),
    TotalRevenue: num,
    DaysRevenue: daysRevenue,
    LastTriggeredAt: nullable(dateTime),
    LastActivityAt: nullable(dateTime),
    TotalEnrolledLifetime: int,
  },
  ["ActiveSubscribers", "TotalSubscribers", "AggregatedEmailActions", "AggregatedDaysEmailActions", "TotalRevenue", "DaysRevenue"],
);

const journeyFields = {
  JourneyID: idText,
  JourneyName: str,
  Trigger: str,
  TriggerParameters: { type: "object" },
  Status: { enum: ["Enabled", "Disabled"] },
  Notes: str,
  CreatedAt: dateTime,
  UpdatedAt: dateTime,
  Trigger_Criteria: { type: "array" },
  Run_Criteria: { type: "array" },
  Run_Criteria_Operator: str,
  Rate_Limit_Per_Hour: int,
  Rate_Limit_Per_Day: int,
};
const journey = obj(journeyFields);

const DAILY_STATS = arrayOf(obj({ Date: date, SendCount: num, OpenCount: num, ClickCount: num, TotalRevenue: num }));
const action = obj(
  {
    ActionID: idText,
    Action: str,
    ActionParameters: { type: "object" },
    Published: { type: "boolean" },
    Notes: str,
    ParentActionID: int,
    Branch: nullable(str),
    OrderNo: int,
    Stats: counters(ACTION_STAT_KEYS),
    DailyStats: DAILY_STATS,
    Revenue: num,
    DaysRevenue: daysRevenue,
  },
  ["ActionID", "Action", "ActionParameters", "Published", "Notes", "ParentActionID", "Branch", "OrderNo"],
);

const exportJob = obj(
  {
    ExportID: int,
    Module: str,
    Status: { enum: ["Pending", "Processing", "Completed", "Failed"] },
    ExportOptions: obj({ Command: str, StatsStartDate: date, StatsEndDate: date, Status: str, IncludeActions: { type: "boolean" } }),
    SubmittedAt: str,
    DownloadURL: str,
  },
  ["ExportID", "Module", "Status", "ExportOptions", "SubmittedAt"],
);

/** Shapes several commands share, declared once under components/schemas and referenced. */
export const SHARED_SCHEMAS: Record<string, Schema> = { Journey: journey, Action: action, JourneyStats: journeyStats };
const ref = (name: keyof typeof SHARED_SCHEMAS & string): Schema => ({ $ref: `#/components/schemas/${name}` });

const bulkFields = { ProcessedJourneyIDs: arrayOf(int), FailedJourneyIDs: arrayOf(int) };
const bulk = obj(bulkFields);

const SHAPES: Record<string, Schema> = {
  health: obj({ Status: { const: "ok" } }),
  "user.login": obj({ SessionID: str, UserInfo: obj({ UserID: int, Username: str, EmailAddress: str }) }),
  "journey.create": obj({ JourneyID: int, Journey: ref("Journey") }),
  "journey.update": obj({ Journey: ref("Journey") }),
  "journey.enable": obj({ Journey: ref("Journey") }),
  "journey.disable": obj({ Journey: ref("Journey") }),
  "journey.get": obj({ ...journeyFields, Actions: arrayOf(ref("Action")), JourneyStats: ref("JourneyStats") }),
  // TotalJourneys only answers a paged call (RecordsPerRequest/RecordsFrom).
  "journey.list": obj(
    { Journeys: arrayOf(obj({ ...journeyFields, JourneyStats: ref("JourneyStats") }, Object.keys(journeyFields))), TotalJourneys: int },
    ["Journeys"],
  ),
  "journey.stats.byisp": obj({
    ByISP: arrayOf(obj({ Domain: str, Sent: int, Delivered: int, Opened: int, Clicked: int, Bounced: int, Unsubscribed: int, Complained: int })),
  }),
  "journey.stats.byaction": obj({
    Actions: arrayOf(
      obj({
        ActionID: int,
        Action: { const: "SendEmail" },
        EmailID: int,
        EmailName: str,
        OrderNo: int,
        Stats: counters(ACTION_STAT_KEYS),
        DailyStats: DAILY_STATS,
      }),
    ),
  }),
  "account.journey.benchmark": obj({
    StartDate: date,
    EndDate: date,
    Benchmark: counters(["OpenRate", "ClickRate", "ClickToOpenRate", "BounceRate", "UnsubscribeRate", "ComplaintRate", "RevenuePerSubscriber", "JourneyCount", "TotalSent"]),
  }),
  "journey.action.subscribers": obj({
    ErrorCode: { const: 0 },
    ErrorText: { const: "" },
    Subscribers: arrayOf(obj({ SubscriberID: idText, EmailAddress: str, Suppressed: { type: "boolean" } })),
    TotalSubscribers: int,
  }),
  "journey.export.submit": obj({ ExportID: int }),
  "user.create": obj({ ErrorCode: { const: 0 }, UserID: int, APIKey: str }),
  "list.create": obj({ ErrorCode: { const: 0 }, ListID: int }),
  "lists.get": obj({ Lists: arrayOf(obj({ ListID: int, Name: str })), TotalListCount: int }),
  "email.create": obj({ ErrorCode: { const: 0 }, EmailID: int }),
  "email.get": obj({ Email: obj({ EmailID: int, EmailName: str, Subject: str, HTMLContent: str, PlainContent: str }) }),
  "emails.get": obj({ Emails: arrayOf(obj({ EmailID: int, EmailName: str, Subject: str })), TotalEmailCount: int }),
  "email.delete": obj({ ErrorCode: { const: 0 }, EmailID: int }),
  "customfield.create": obj({ ErrorCode: { const: 0 }, CustomFieldID: int }),
  "customfields.get": obj({ CustomFields: arrayOf(obj({ CustomFieldID: int, FieldName: str, ListID: int })) }),
  "subscriber.tags.create": obj({ ErrorCode: { const: 0 }, TagID: int }),
  "subscriber.tags.get": obj({ Tags: arrayOf(obj({ TagID: int, TagName: str, ListID: int })) }),
  "subscriber.create": obj({ ErrorCode: { const: 0 }, SubscriberID: int }),
  "subscriber.get": obj({
    ErrorCode: { const: 0 },
    SubscriberInformation: obj({
      SubscriberID: int,
      ListID: int,
      EmailAddress: str,
      SubscriptionStatus: { enum: ["Subscribed", "Unsubscribed"] },
      SubscriptionDate: nullable(dateTime),
      UnsubscriptionDate: nullable(dateTime),
      BounceType: { enum: ["Not Bounced", "Soft", "Hard"] },
      PhoneNumber: nullable(str),
      CustomFields: { type: "object", additionalProperties: str },
    }),
    Suppressed: { type: "boolean" },
    SubscriberTags: arrayOf(obj({ TagID: int, TagName: str })),
    TotalRevenue: num,
    SubscriberJourneys: obj({
      InProgress: arrayOf(
        obj({
          JourneyID: int,
          JourneyName: str,
          EntryID: str,
          State: { enum: ["Active", "Paused"] },
          RelActionID: int,
          SnoozedUntil: nullable(dateTime),
          EnrolledAt: dateTime,
          CurrentStep: int,
          TotalSteps: int,
        }),
      ),
      Completed: arrayOf(
        obj({
          JourneyID: int,
          JourneyName: str,
          EntryID: str,
          EndedBy: { enum: ["Completed", "Exited"] },
          EndReason: str,
          RelActionID: { const: 0 },
          EnrolledAt: dateTime,
          CompletedAt: dateTime,
          CurrentStep: int,
          TotalSteps: int,
        }),
      ),
    }),
  }),
  "subscriber.update": obj({ ErrorCode: { const: 0 }, ErrorText: { const: "" } }),
  "subscriber.tag": obj({ ErrorCode: { const: 0 } }),
  "subscriber.untag": obj({ ErrorCode: { const: 0 } }),
  "subscriber.unsubscribe": obj({ ErrorCode: { const: 0 } }),
  "subscriber.get.activity": obj({
    ErrorCode: { const: 0 },
    Activity: arrayOf(
      obj({
        ActivityType: { enum: ["JourneyEnrolled", "JourneyStep", "JourneyEnded"] },
        JourneyID: int,
        EntryID: str,
        ActionID: int,
        Action: str,
        Outcome: str,
        Reason: str,
        Detail: { type: "object" },
        ActivityDate: dateTime,
      }),
    ),
  }),
  "journey.delete": obj({ JourneyID: int }),
  "journeys.enable": bulk,
  "journeys.disable": bulk,
  "journey.actions.update": obj({ JourneyID: idText, JourneyName: str, Actions: arrayOf(ref("Action")) }),
  "journey.actions.published": obj({ JourneyID: idText, JourneyName: str, Actions: arrayOf(ref("Action")) }),
  "journey.clone": obj({ Journey: ref("Journey"), Actions: arrayOf(ref("Action")) }),
  "journeys.clone": obj({ ...bulkFields, ClonedJourneys: arrayOf(obj({ SourceJourneyID: int, NewJourneyID: int })) }),
  "journey.copytouser": obj({ JourneyID: int, EmailsCopied: { type: "array" }, ResourcesReset: { type: "array" } }),
  "journey.sendemailactions": obj({
    Actions: arrayOf(obj({ ActionID: int, JourneyID: int, JourneyName: str, EmailName: str, Subject: str, OrderNo: int, Published: { type: "boolean" } })),
  }),
  "journey.events.ingest": obj({ Accepted: int, Duplicates: int, Rejected: { type: "array" } }),
  "subscriber.journey.trigger": obj({ JourneyIDs: arrayOf(int), ListID: int, SubscriberID: int }),
  "subscriber.journey.remove": obj({ JourneyIDs: arrayOf(int), ListID: int, SubscriberID: int }),
  "subscriber.journey.exit": obj({ JourneyID: int, ListID: int, SubscriberID: int }),
  "subscriber.journey.list": obj({
    ListID: int,
    SubscriberID: int,
    Journeys: arrayOf(obj({ JourneyID: int, JourneyName: str, Status: str, JoinedAt: str })),
  }),
  "journey.export.get": obj({ ExportJob: exportJob }),
};

export function successShape(command: string): Schema {
  return SHAPES[command] ?? { type: "object" };
}

/** The commands whose success body has a declared shape (the live test checks each of them is exercised). */
export const SHAPED_COMMANDS = Object.keys(SHAPES);
