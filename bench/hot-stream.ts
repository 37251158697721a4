import { prng } from "./stats.js";

/**
 * The "hot journey" delivery stream: one journey, its SendEmail actions, N
 * subscribers over three ISPs and the given days. Per (subscriber, action): Sent,
 * then Delivered (or, for ~2 %, a hard Bounce), ~50 % Opened with repeat opens,
 * ~20 % Clicked (some twice), some Converted with revenue, ~1 % Unsubscribed.
 * Ordered as a live feed reports it (by OccurredAt). Shared by `npm run bench`
 * and the tests that assert its write count and its exact totals.
 */
export type StreamEvent = Record<string, unknown> & { EventID: string; Type: string; SubscriberID: number; ActionID: number; OccurredAt: string };

export const HOT_ISPS = ["gmail.com", "yahoo.com", "outlook.com"] as const;

export function hotStream(opts: {
  journeyId: number;
  actionIds: number[];
  subscribers: number;
  days: string[];
  prefix: string;
  seed?: number;
  firstSubscriber?: number;
}): StreamEvent[] {
  const rand = prng(opts.seed ?? 20261202);
  const out: StreamEvent[] = [];
  const first = opts.firstSubscriber ?? 1;
  for (let s = first; s < first + opts.subscribers; s++) {
    const email = `sub${s}@${HOT_ISPS[s % HOT_ISPS.length]}`;
    opts.actionIds.forEach((actionId, k) => {
      const day = opts.days[(s + k) % opts.days.length]!;
      // Seconds into the day; the funnel stays inside it (so every unique kind counts on the send's day).
      let t = Math.floor(rand() * 12 * 3600);
      let n = 0;
      const ev = (Type: string, extra: Record<string, unknown> = {}) => {
        t += 1 + Math.floor(rand() * 600);
        const hh = String(Math.floor(t / 3600)).padStart(2, "0");
        const mm = String(Math.floor((t % 3600) / 60)).padStart(2, "0");
        const ss = String(t % 60).padStart(2, "0");
        out.push({
          EventID: `${opts.prefix}-${s}-${actionId}-${++n}`,
          Type,
          JourneyID: opts.journeyId,
          ActionID: actionId,
          SubscriberID: s,
          EmailAddress: email,
          OccurredAt: `${day} ${hh}:${mm}:${ss}`,
          ...extra,
        });
      };
      ev("Sent");
      if (rand() < 0.02) {
        ev("Bounced", { BounceType: "Hard" });
        return;
      }
      ev("Delivered");
      if (rand() < 0.5) {
        ev("Opened");
        if (rand() < 0.4) ev("Opened");
        if (rand() < 0.15) ev("Opened");
        if (rand() < 0.4) {
          ev("Clicked");
          if (rand() < 0.3) ev("Clicked");
          if (rand() < 0.15) ev("Converted", { Amount: 100 + Math.floor(rand() * 9900) });
        }
      }
      if (rand() < 0.01) ev("Unsubscribed");
    });
  }
  // Stable: one subscriber's events keep their order when two share a second.
  return out.sort((a, b) => a.OccurredAt.localeCompare(b.OccurredAt));
}

const COUNTER: Record<string, string> = {
  Sent: "SendCount",
  Delivered: "DeliveryCount",
  Opened: "OpenCount",
  Clicked: "ClickCount",
  Converted: "ConversionCount",
  Bounced: "BounceCount",
  Unsubscribed: "UnsubscribeCount",
};
const UNIQUE = new Set(["Opened", "Clicked", "Converted", "Unsubscribed"]);

/** The lifetime counters the stream adds up to under CONTRACT §7 (revenue in currency units). */
export function streamTotals(events: StreamEvent[]): Record<string, number> {
  const totals: Record<string, number> = {
    SendCount: 0, DeliveryCount: 0, OpenCount: 0, ClickCount: 0, ConversionCount: 0, BrowserViewCount: 0,
    ForwardCount: 0, BounceCount: 0, UnsubscribeCount: 0, SpamComplaintCount: 0, TotalRevenue: 0,
  };
  const seen = new Set<string>();
  let cents = 0;
  for (const e of events) {
    if (e.Type === "Converted") cents += Number(e["Amount"] ?? 0);
    const key = `${e.ActionID}#${e.SubscriberID}#${e.Type}`;
    if (UNIQUE.has(e.Type)) {
      if (seen.has(key)) continue;
      seen.add(key);
    }
    totals[COUNTER[e.Type]!]! += 1;
  }
  totals["TotalRevenue"] = cents / 100;
  return totals;
}
