import { randomUUID } from "node:crypto";
import { expect } from "vitest";
import { adminKey, http, type ApiResponse, type TestUser } from "./api.js";

/**
 * Observing the engine from outside on the suite's shared stack: a trigger fires
 * when it enrols the subscriber into an Enabled journey listening for it, so the
 * tests count enrolments (subscriber.get's SubscriberJourneys) instead of reading
 * signals off the steps queue, which the local runner consumes.
 */
type Params = Record<string, unknown>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retries `probe` (which throws until it holds, e.g. with `expect`) for up to `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let wait = 200; ; wait = Math.min(1_000, wait * 2)) {
    try {
      return await probe();
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await sleep(wait);
  }
}

/**
 * Waits until the steps queue is empty (`/_local/engine`: nothing visible or in
 * flight, twice in a row), so that "nothing fired" is asserted after whatever was
 * fired has run: commands and ingest hand their signals to that queue before they
 * answer. Not the whole of Idle: an outbox left for the recovery pass keeps DueNow
 * up for minutes on a shared stack. Other test files share the stack and may keep
 * the queue busy: past the timeout it returns anyway, having waited long enough for
 * a signal to have been handled.
 */
export async function settled(timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let streak = 0;
  await sleep(300);
  while (Date.now() < deadline) {
    const res = await http.get("/_local/engine", {}, { AdminAPIKey: adminKey() });
    const busy = Number(res.body?.["StepsVisible"] ?? 1) + Number(res.body?.["StepsInFlight"] ?? 1);
    streak = res.status === 200 && busy === 0 ? streak + 1 : 0;
    if (streak >= 2) return;
    await sleep(250);
  }
}

/** A call that must succeed; a rate-limited one (the suite's 100 a minute) waits for the next window. */
export async function ok(call: () => Promise<ApiResponse>): Promise<ApiResponse> {
  for (let attempt = 0; ; attempt++) {
    const res = await call();
    if (res.status === 429 && attempt < 70) {
      await sleep(1_000);
      continue;
    }
    expect(res.status, res.text).toBe(200);
    return res;
  }
}

export type Tree = "none" | "wait";
const TREES: Record<Tree, Params[]> = {
  // No published action: each enrolment completes at once, so every firing counts one more (re-entry, §4.4).
  none: [],
  // The enrolment stays active a day.
  wait: [{ Action: "Wait", WaitUnit: "days", WaitAmount: 1, Published: true }],
};

/** A journey with that trigger and tree, Enabled unless told otherwise. */
export async function triggerJourney(user: TestUser, trigger: Params, opts: { tree?: Tree; enabled?: boolean; name?: string; criteria?: unknown } = {}): Promise<number> {
  const created = await ok(() =>
    user.post("/api/v1/journey", {
      Name: opts.name ?? `T ${randomUUID().slice(0, 6)}`,
      ...trigger,
      ...(opts.criteria !== undefined ? { Trigger_Criteria: opts.criteria } : {}),
    }),
  );
  const id = Number(created.body["JourneyID"]);
  const tree = TREES[opts.tree ?? "none"];
  if (tree.length > 0) await ok(() => user.patch("/api/v1/journey.actions", { JourneyID: id, Actions: tree }));
  if (opts.enabled !== false) await ok(() => user.get("/api/v1/journey.enable", { JourneyID: id }));
  return id;
}

export interface Enrolment {
  JourneyID: number;
  EntryID: string;
  State?: string;
  EndedBy?: string;
}

/** Every enrolment of a subscriber that subscriber.get lists (in progress, and ended in the last 30 days). */
export async function enrolmentsOf(user: TestUser, list: number, sub: number): Promise<Enrolment[]> {
  const res = await ok(() => user.get("/api/v1/subscriber", { ListID: list, SubscriberID: sub }));
  const j = res.body["SubscriberJourneys"] as { InProgress: Enrolment[]; Completed: Enrolment[] };
  return [...j.InProgress, ...j.Completed];
}

/** How many enrolments the subscriber has had in each journey (journeys never entered left out). */
export async function countsOf(user: TestUser, list: number, sub: number): Promise<Record<number, number>> {
  const counts: Record<number, number> = {};
  for (const e of await enrolmentsOf(user, list, sub)) counts[e.JourneyID] = (counts[e.JourneyID] ?? 0) + 1;
  return counts;
}

/**
 * Waits until the subscriber's enrolment counts are `expected` (journeys absent from
 * it: none), then lets the engine settle and checks again, so that a late extra
 * enrolment still fails the test.
 */
export async function expectCounts(user: TestUser, list: number, sub: number, expected: Record<number, number>, label = ""): Promise<void> {
  await eventually(async () => expect(await countsOf(user, list, sub), label).toEqual(expected));
  await settled();
  expect(await countsOf(user, list, sub), label).toEqual(expected);
}
