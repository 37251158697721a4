import type { TestUser } from "./api.js";

/**
 * A fixed delivery-event set for the statistics tests: three days, three ISPs,
 * duplicate EventIDs, repeated opens by one subscriber, Converted events with
 * amounts, and Enrolled/Completed/Exited events. `prefix` keeps EventIDs unique
 * per journey (EventIDs are unique per user).
 */
export const DAYS = ["2026-03-01", "2026-03-02", "2026-03-03"] as const;
const [D1, D2, D3] = DAYS;

/** What the set adds up to (CONTRACT §7), worked out by hand. */
export const zero = {
  SendCount: 0, DeliveryCount: 0, OpenCount: 0, ClickCount: 0, ConversionCount: 0, BrowserViewCount: 0,
  ForwardCount: 0, BounceCount: 0, UnsubscribeCount: 0, SpamComplaintCount: 0, TotalRevenue: 0,
};
export const ALL_TIME = {
  SendCount: 8, DeliveryCount: 4, OpenCount: 3, ClickCount: 1, ConversionCount: 1, BrowserViewCount: 1,
  ForwardCount: 1, BounceCount: 2, UnsubscribeCount: 1, SpamComplaintCount: 1, TotalRevenue: 24.99,
};
export const BY_DAY = [
  { Date: D1, ...zero, SendCount: 5, DeliveryCount: 4, BounceCount: 1, OpenCount: 1, BrowserViewCount: 1 },
  { Date: D2, ...zero, SendCount: 3, BounceCount: 1, OpenCount: 1, ClickCount: 1, ConversionCount: 1, ForwardCount: 1, TotalRevenue: 19.99 },
  { Date: D3, ...zero, OpenCount: 1, UnsubscribeCount: 1, SpamComplaintCount: 1, TotalRevenue: 5 },
];


const address: Record<number, string> = {
  1: "ann@gmail.com",
  2: "bob@GMAIL.com",
  3: "cem@yahoo.com",
  4: "dan@outlook.com",
  5: "eve@yahoo.com",
  6: "fay@gmail.com",
};

export interface Fixture {
  journeyId: number;
  a1: number;
  a2: number;
  emailId: number;
}

export function eventSet(f: Fixture, prefix: string): Record<string, unknown>[] {
  let n = 0;
  const ev = (Type: string, s: number, day: string, extra: Record<string, unknown> = {}, id?: string) => ({
    EventID: id ?? `${prefix}-${++n}`,
    Type,
    JourneyID: f.journeyId,
    SubscriberID: s,
    ...(Type === "Completed" || Type === "Exited" ? {} : { EmailAddress: address[s] }),
    OccurredAt: `${day} 1${(n % 10)}:00:00`,
    ...extra,
  });
  const a1 = { ActionID: f.a1 };
  const a2 = { ActionID: f.a2 };
  return [
    // Enrollment: five subscribers, s1 twice while active.
    ...[1, 2, 3, 4, 5].map((s) => ev("Enrolled", s, D1)),
    ev("Enrolled", 1, D2),
    // A1 on day 1: five sends, four deliveries, one hard bounce.
    ...[1, 2, 3, 4, 5].map((s) => ev("Sent", s, D1, a1)),
    ...[1, 2, 3, 4].map((s) => ev("Delivered", s, D1, a1)),
    ev("Bounced", 5, D1, { ...a1, BounceType: "Hard" }),
    // A2 on day 2: three sends, a soft bounce.
    ...[1, 2, 3].map((s) => ev("Sent", s, D2, a2)),
    ev("Bounced", 3, D2, { ...a2, BounceType: "soft" }),
    // Opens: s1 opens A1 on day 1 and again on day 2 (counts once, on day 1).
    ev("Opened", 1, D1, a1),
    ev("Opened", 1, D2, a1),
    ev("Opened", 2, D2, a1),
    ev("Opened", 1, D3, a2),
    ev("Clicked", 1, D2, a1),
    ev("BrowserViewed", 2, D1, a1),
    ev("Forwarded", 3, D2, a1),
    // Two conversions by s1: revenue counts both, the conversion once.
    ev("Converted", 1, D2, { ...a1, Amount: 1999 }),
    ev("Converted", 1, D3, { ...a1, Amount: 500 }),
    ev("Unsubscribed", 4, D3, a1),
    ev("SpamComplaint", 2, D3, a2),
    // Leaving: s2 completes, s3 exits, s6 was never in the journey.
    ev("Completed", 2, D3),
    ev("Exited", 3, D3),
    ev("Exited", 6, D3),
    // Duplicates of earlier EventIDs change nothing.
    ev("Sent", 1, D1, a1, `${prefix}-6`),
    ev("Opened", 2, D2, a1, `${prefix}-23`),
  ];
}

/** Creates a journey with Wait, SendEmail (A1), Decision → SendEmail (A2), ready for `eventSet`. */
export async function statsJourney(user: TestUser, name = "Stats"): Promise<Fixture> {
  const emailId = Number((await user.post("/api/v1/email", { EmailName: "Welcome", Subject: "Hi" })).body["EmailID"]);
  const journeyId = Number((await user.post("/api/v1/journey", { Name: name })).body["JourneyID"]);
  const res = await user.patch("/api/v1/journey.actions", {
    JourneyID: journeyId,
    Actions: [
      { Action: "Wait", WaitUnit: "days", WaitAmount: 1 },
      { Action: "SendEmail", EmailID: emailId, Published: true },
      { Action: "Decision", Actions: { True: [{ Action: "SendEmail", EmailID: emailId, Published: true }], False: [] } },
    ],
  });
  const actions = res.body["Actions"] as { ActionID: string; Action: string }[];
  const sends = actions.filter((a) => a.Action === "SendEmail").map((a) => Number(a.ActionID));
  return { journeyId, a1: sends[0]!, a2: sends[1]!, emailId };
}
