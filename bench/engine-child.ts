import os from "node:os";
import type { DdbObserver } from "../shared/aws.js";
import { cursorsOf, startEngineStack, type EngineStack, type EngineUser } from "../test/support/engine.js";
import { BENCH_RATE_LIMIT_PER_MINUTE } from "./stack-context.js";
import { eachLimited, envInt } from "./stats.js";
import { countWrites } from "./write-items.js";

/**
 * One part of the "engine" bench section (ENGINE §11), run in a process of its own
 * with an engine stack of its own (started as test/support/engine.ts does): the
 * product clock and the sweeper timer are process-wide, so they must not be shared
 * with the other sections' stack, and the timer part needs another
 * LONG_WAIT_THRESHOLD_SECONDS. The runner, the events worker and the sweeper run in
 * this process (infra/local/poller.ts), so a middleware on `ddb()` sees their writes.
 * Prints one line `ENGINE-BENCH-RESULT {json}` for bench/engine.ts.
 */
type Params = Record<string, unknown>;
const CLIENTS = 16;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function ok(p: Promise<{ status: number; text: string; body: Params }>): Promise<Params> {
  const r = await p;
  if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${r.text.slice(0, 300)}`);
  return r.body;
}

/** A journey with these actions, published and enabled; its ID and its actions' IDs, in order. */
async function journeyWithActions(user: EngineUser, actions: Params[], create: Params = {}): Promise<{ id: number; actionIds: number[] }> {
  const id = Number((await ok(user.post("/api/v1/journey", { Name: `B-${Math.random().toString(36).slice(2, 8)}`, ...create })))["JourneyID"]);
  let actionIds: number[] = [];
  if (actions.length) {
    const body = await ok(user.patch("/api/v1/journey.actions", { JourneyID: id, Actions: actions.map((a) => ({ Published: true, ...a })) }));
    actionIds = ((body["Actions"] as Params[] | undefined) ?? []).map((a) => Number(a["ActionID"]));
  }
  await ok(user.get("/api/v1/journey.enable", { JourneyID: id }));
  return { id, actionIds };
}
const journey = async (user: EngineUser, actions: Params[], create: Params = {}) => (await journeyWithActions(user, actions, create)).id;

/** The stack's one sender domain (SENDER_DOMAINS entry "0", set for the parts that send) and an email to send. */
const SENDER_DOMAINS = { "0": { Domain: "news.example.com" } };
async function sendEmailAction(user: EngineUser): Promise<Params> {
  const email = await ok(
    user.post("/api/v1/email", {
      EmailName: "Bench",
      Subject: "Hello %Subscriber:EmailAddress%",
      HTMLContent: '<p>Hello</p><a href="%Link:Unsubscribe%">Unsubscribe</a>',
      PlainContent: "Hello",
    }),
  );
  return { Action: "SendEmail", EmailID: Number(email["EmailID"]), From: { Name: "Bench", Email: "bench@news.example.com" } };
}

/** `n` subscriber.create calls on `list` from CLIENTS clients; the SubscriberIDs and the wall time. */
async function createSubscribers(user: EngineUser, list: number, n: number, prefix: string): Promise<{ ids: number[]; ms: number }> {
  const ids: number[] = new Array(n);
  const t0 = performance.now();
  await eachLimited(Array.from({ length: n }, (_, i) => i), CLIENTS, async (i) => {
    ids[i] = Number((await ok(user.post("/api/v1/subscriber", { ListID: list, EmailAddress: `${prefix}${i}@example.com` })))["SubscriberID"]);
  });
  return { ids, ms: performance.now() - t0 };
}

// ---- Write items, classified by the item each one names ----

type Category = "subscriber" | "membership" | "cursor" | "engine other" | "ingest" | "email state" | "ingest counters" | "journey job" | "sweeper" | "other";

/**
 * Which item a write names. The ingest core's items: event markers, enrolment rows,
 * email states (`M#<ActionID>` in the subscriber's partition) and, apart, statistics
 * (`U#n#S`, and an action's rollups `D#`/`L#`/`IA#` in the journey's partition).
 */
function categoryOf(pk: string, sk: string): Category {
  if (pk.includes("#SUB#") && sk.startsWith("M#")) return "email state";
  if (pk.includes("#SUB#")) {
    if (sk === "S") return "subscriber";
    if (/^E#\d+#$/.test(sk)) return "membership";
    if (/^E#\d+#.+/.test(sk)) return "cursor";
    return "engine other";
  }
  if (pk === "ENGINE#SWEEP") return "sweeper";
  // The ingest core's counters, aggregated per chunk (ENGINE §11 reports them apart).
  if (/^U#\d+#S$/.test(pk)) return "ingest counters";
  if (/^U#\d+#J#\d+$/.test(pk) && /^(D#|L#|IA#)/.test(sk)) return "ingest counters";
  if (pk.startsWith("EVT#") || /^(EN|SJ)#/.test(sk)) return "ingest";
  // The journey item: the enable's Resume job re-checks for 60 s (§5.4), a cost of the journey, not of its enrolments.
  if (/^U#\d+$/.test(pk) && /^J#\d+$/.test(sk)) return "journey job";
  return "other";
}
const shape = (pk: string, sk: string) =>
  [pk, sk].map((k) => k.replace(/[0-9A-Z]{26}/g, "<ulid>").replace(/[0-9a-f]{16,}/g, "<hex>").replace(/\d+/g, "n")).join("|");

/** A part's write tally; the parent process reads it back (bench/engine.ts). */
export interface Tally {
  items: number;
  transactional: number;
  byCategory: Record<string, number>;
  shapes: Record<string, number>;
  /** Write items that set or remove DueIndex / JourneyIndex keys (a lower bound on GSI propagation). */
  dueIndex: number;
  journeyIndex: number;
  /** Write items that set `MailPK` (the email state's MailIndex keys). */
  mailIndex: number;
  /**
   * The ingest core's markers by event Type (`marker Sent`, …) and its email-state writes,
   * by whether they set the `Sent` flag: what a Sent costs, apart from a Delivered's.
   */
  roles: Record<string, number>;
  /** Items of write requests that failed (a cancelled transaction, a failed condition): billed all the same. */
  failedItems: number;
  /** Sent markers in failed requests after that EventID's marker had committed: a duplicate Sent that cost a write. */
  sentDuplicateAttempts: number;
  /** Events put on the events queue, by Type (the runner's Sent and the SES adapter's alike). */
  queued: Record<string, number>;
  /** Sent EventIDs put on the events queue: distinct, and how many were put twice or more. */
  sentIds: { distinct: number; twice: number; more: number };
}

function tallyWrites() {
  let t: Tally;
  let sentIds = new Map<string, number>();
  let sentCommitted = new Set<string>();
  const reset = () => {
    t = {
      items: 0, transactional: 0, byCategory: {}, shapes: {}, dueIndex: 0, journeyIndex: 0, mailIndex: 0,
      roles: {}, failedItems: 0, sentDuplicateAttempts: 0, queued: {}, sentIds: { distinct: 0, twice: 0, more: 0 },
    };
    sentIds = new Map();
    sentCommitted = new Set();
  };
  reset();
  const role = (r: string) => void (t.roles[r] = (t.roles[r] ?? 0) + 1);
  const add = (op: Params, transactional: boolean, failed: boolean) => {
    const key = (op["Key"] ?? op["Item"]) as { PK?: string; SK?: string } | undefined;
    const pk = String(key?.PK ?? ""), sk = String(key?.SK ?? "");
    if (pk.startsWith("RATE#")) return; // the API's rate limiter: per request, not per event (as write-items.ts)
    const c = categoryOf(pk, sk);
    t.items++;
    if (transactional) t.transactional++;
    t.byCategory[c] = (t.byCategory[c] ?? 0) + 1;
    const s = shape(pk, sk);
    t.shapes[s] = (t.shapes[s] ?? 0) + 1;
    const text = JSON.stringify(op);
    if (c !== "sweeper" && text.includes("DuePK")) t.dueIndex++;
    if (text.includes("JourneyKey")) t.journeyIndex++;
    if (text.includes("MailPK")) t.mailIndex++;
    if (failed) t.failedItems++;
    const tail = failed ? " (failed)" : "";
    if (pk.startsWith("EVT#")) {
      const marker = (op["Item"] as Params | undefined) ?? {};
      role(`marker ${String(marker["Type"] ?? "?")}${tail}`);
      if (marker["Type"] === "Sent") {
        // A Sent marker in a failed request after its EventID's marker committed: the duplicate
        // copy got as far as a (cancelled, billed) transaction. Before it: a conflict's retry.
        const id = String(marker["EventID"]);
        if (!failed) sentCommitted.add(id);
        else if (sentCommitted.has(id)) t.sentDuplicateAttempts++;
      }
    }
    if (c === "email state") {
      const names = Object.values((op["ExpressionAttributeNames"] as Record<string, string> | undefined) ?? {});
      role(`${names.includes("Sent") ? "email state sets Sent" : "email state other"}${tail}`);
    }
  };
  // The observer sees failed calls too, with no output.
  const observer: DdbObserver = (command, input, output) => {
    const cmd = command.replace(/Command$/, "");
    const failed = output === undefined;
    if (cmd === "TransactWrite" || cmd === "TransactWriteItems") {
      for (const ti of input["TransactItems"] as Record<string, Params>[]) for (const [kind, op] of Object.entries(ti)) if (kind !== "ConditionCheck") add(op, true, failed);
    } else if (cmd === "BatchWrite" || cmd === "BatchWriteItem") {
      for (const reqs of Object.values(input["RequestItems"] as Record<string, Record<string, Params>[]>)) for (const r of reqs) for (const op of Object.values(r)) add(op, false, failed);
    } else if (/^(Put|Update|Delete)(Item)?$/.test(cmd)) add(input, false, failed);
  };
  (globalThis as { __journeyDdbObserver?: DdbObserver }).__journeyDdbObserver = observer;
  watchEventsQueue((events) => {
    for (const e of events) {
      const type = String(e["Type"]);
      t.queued[type] = (t.queued[type] ?? 0) + 1;
      if (type === "Sent") sentIds.set(String(e["EventID"]), (sentIds.get(String(e["EventID"])) ?? 0) + 1);
    }
  });
  return {
    reset,
    get: (): Tally => {
      const counts = [...sentIds.values()];
      t.sentIds = { distinct: counts.length, twice: counts.filter((c) => c === 2).length, more: counts.filter((c) => c > 2).length };
      return JSON.parse(JSON.stringify(t)) as Tally;
    },
  };
}

/**
 * Every event put on the events queue, seen by wrapping this process's `fetch`:
 * shared/domain/sqs-send.ts sends SQS messages with it (the runner's own Sent and the
 * SES events adapter's mapped events both go that way), so the bench can tell that
 * each Sent arrived twice without touching the product code.
 */
function watchEventsQueue(onEvents: (events: Params[]) => void): void {
  const g = globalThis as { __benchFetchWrapped?: boolean };
  if (g.__benchFetchWrapped) return;
  g.__benchFetchWrapped = true;
  const original = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const res = await original(input, init);
    const body = init?.body;
    const queue = process.env["EVENTS_QUEUE_URL"];
    if (res.ok && queue && typeof body === "string" && body.includes('"QueueUrl"')) {
      try {
        const payload = JSON.parse(body) as { QueueUrl?: string; MessageBody?: string };
        if (payload.QueueUrl === queue && payload.MessageBody) onEvents(((JSON.parse(payload.MessageBody) as { Events?: Params[] }).Events ?? []));
      } catch {
        // Not an SQS message of ours: nothing to count.
      }
    }
    return res;
  };
}

/** The engine's writes: every category but the sweeper's, the journey job's and the ingest core's (reported apart). */
const engineItems = (t: Tally) =>
  t.items - ["sweeper", "journey job", "ingest", "email state", "ingest counters"].reduce((a, c) => a + (t.byCategory[c] ?? 0), 0);

// ---- Parts ----

async function writesPart(engine: EngineStack): Promise<unknown> {
  const n = envInt("BENCH_ENGINE_STEP_ENROLMENTS", 200);
  const K = 5;
  const user = await engine.user();
  const list = Number((await ok(user.post("/api/v1/list", { SubscriberListName: "Steps" })))["ListID"]);
  const tags = [];
  for (let i = 0; i <= K; i++) tags.push(Number((await ok(user.post("/api/v1/subscriber.tags", { ListID: list, TagName: `t${i}` })))["TagID"]));
  const fields = [];
  for (let i = 0; i <= K; i++) fields.push(Number((await ok(user.post("/api/v1/customfield", { SubscriberListID: list, FieldName: `f${i}` })))["CustomFieldID"]));
  const { ids } = await createSubscribers(user, list, n, "steps");
  const send = await sendEmailAction(user);
  await engine.idle(300_000);

  const t = tallyWrites();
  // Also the plain counter of bench/write-items.ts on the same client, as a cross-check of the totals.
  const { ddb } = await import("../shared/aws.js");
  const plain = countWrites(ddb());
  // The API refuses WaitAmount 0 (ENGINE §6 allows it), so the shortest Wait: 1 s, an SQS delay.
  const wait1 = { Action: "Wait", WaitUnit: "seconds", WaitAmount: 1 };
  const configs: { id: string; actions: Params[]; create?: boolean }[] = [
    { id: "empty", actions: [] },
    { id: "Wait 1 s", actions: [wait1] },
    { id: `Wait 1 s ×${K}`, actions: Array(K).fill(wait1) },
    { id: "AddTag", actions: [{ Action: "AddTag", TargetTagID: tags[0] }] },
    { id: `AddTag ×${K}`, actions: tags.slice(1).map((id) => ({ Action: "AddTag", TargetTagID: id })) },
    { id: "RemoveTag", actions: [{ Action: "RemoveTag", TargetTagID: tags[0] }] },
    { id: `RemoveTag ×${K}`, actions: tags.slice(1).map((id) => ({ Action: "RemoveTag", TargetTagID: id })) },
    { id: "UpdateCustomFieldValue", actions: [{ Action: "UpdateCustomFieldValue", TargetCustomFieldID: fields[0], NewCustomFieldValue: "Paris" }] },
    {
      id: `UpdateCustomFieldValue ×${K}`,
      actions: fields.slice(1).map((id, i) => ({ Action: "UpdateCustomFieldValue", TargetCustomFieldID: id, NewCustomFieldValue: `v${i}` })),
    },
    // Each send also brings its Sent twice (the runner's and the SES adapter's Send) and a Delivered.
    { id: "SendEmail", actions: [send] },
    { id: `SendEmail ×${K}`, actions: Array(K).fill(send) },
    { id: "Wait 1 day (parked, not ended)", actions: [{ Action: "Wait", WaitUnit: "days", WaitAmount: 1 }] },
    // The signal path: subscriber.create on a list with no journey, then on one with an empty
    // ListSubscription journey; the difference is the enrolment's cost (the signal entry rides the
    // create's own write in both, and its clear happens in both).
    { id: "create, list without journey", actions: [], create: true },
    { id: "create, empty ListSubscription journey", actions: [], create: true },
  ];
  const { readOutbox } = await import("../shared/delivery/local-outbox.js");
  const runs: Record<string, { tally: Tally; plainItems: number; perEnrolment: number; ms: number; outcomes: Record<string, number>; sends: number }> = {};
  for (const cfg of configs) {
    let enrolled = ids;
    let j = 0;
    const t0 = performance.now();
    if (cfg.create) {
      const own = Number((await ok(user.post("/api/v1/list", { SubscriberListName: cfg.id })))["ListID"]);
      if (cfg.id.includes("ListSubscription")) j = await journey(user, cfg.actions, { Trigger: "ListSubscription", Trigger_ListID: own });
      await engine.idle(300_000);
      t.reset();
      plain.reset();
      enrolled = (await createSubscribers(user, own, n, `c${Object.keys(runs).length}-`)).ids;
    } else {
      j = await journey(user, cfg.actions);
      // The enable's Resume job writes the journey item; let it settle outside the count.
      await engine.idle(300_000);
      t.reset();
      plain.reset();
      await eachLimited(ids, CLIENTS, async (sid) => void (await ok(user.post("/api/v1/subscriber.journey.trigger", { JourneyID: j, ListID: list, SubscriberID: sid }))));
    }
    await engine.idle(300_000);
    const ms = performance.now() - t0;
    const tally = t.get();
    const plainItems = plain.items();
    // Every enrolment ran as configured: its step records' outcomes, summed.
    const outcomes: Record<string, number> = {};
    await eachLimited(enrolled, CLIENTS, async (sid) => {
      for (const c of (await cursorsOf(user.userId, sid)).filter((c) => Number(c["JourneyID"]) === j)) {
        const key = `${String(c["State"])}: ${(c["Steps"] as { Action: string; Outcome: string }[]).map((s) => `${s.Action}:${s.Outcome}`).join(",") || "-"}`;
        outcomes[key] = (outcomes[key] ?? 0) + 1;
      }
    });
    // The emails the local sender put in the outbox for this journey (ENGINE §9).
    const sends = j ? readOutbox({ JourneyID: j }).Messages.length : 0;
    runs[cfg.id] = { tally, plainItems, perEnrolment: engineItems(tally) / n, ms, outcomes, sends };
    console.error(
      `[engine writes] ${cfg.id}: ${(engineItems(tally) / n).toFixed(2)} write items an enrolment (${JSON.stringify(tally.byCategory)}) ${JSON.stringify(outcomes)}` +
        (sends ? ` ${sends} sends, ${JSON.stringify(tally.roles)} queued ${JSON.stringify(tally.queued)} ${JSON.stringify(tally.sentIds)}` : ""),
    );
  }
  plain.stop();
  return { enrolments: n, K, runs };
}

/**
 * ENGINE §11's bulk target: a ListSubscription journey SendEmail → Wait 1 day → SendEmail,
 * and `n` subscriber.create calls from CLIENTS clients, timed from the first call to the
 * n-th first-step email in the local outbox (read in process: the outbox store is
 * process-wide, and the runner runs here), against the floor of the same calls to a
 * list with no journey, made first in the same stack.
 */
async function bulkPart(engine: EngineStack): Promise<unknown> {
  const n = envInt("BENCH_ENGINE_SUBSCRIBERS", 10_000);
  const { readOutbox } = await import("../shared/delivery/local-outbox.js");
  const user = await engine.user();
  const floorList = Number((await ok(user.post("/api/v1/list", { SubscriberListName: "Floor" })))["ListID"]);
  const list = Number((await ok(user.post("/api/v1/list", { SubscriberListName: "Bulk" })))["ListID"]);
  const send = await sendEmailAction(user);
  const { id: j, actionIds } = await journeyWithActions(user, [send, { Action: "Wait", WaitUnit: "days", WaitAmount: 1 }, send], {
    Trigger: "ListSubscription",
    Trigger_ListID: list,
  });
  const first = String(actionIds[0]);
  await engine.idle(300_000);

  // The floor: the same clients making the same calls to a list with no journey.
  const floor = await createSubscribers(user, floorList, n, "floor");
  const floorMs = floor.ms;
  // Its signals (a ListSubscription no journey takes) are drained before the journey run starts.
  const f0 = performance.now();
  await engine.idle(600_000);
  const floorDrainMs = performance.now() - f0;

  // The first step's emails, counted as the local sender appends them (AfterSeq: only the new ones each time).
  let seen = 0;
  let afterSeq = readOutbox().LastSeq;
  const poll = () => {
    const { Messages, LastSeq } = readOutbox({ JourneyID: j, AfterSeq: afterSeq });
    seen += Messages.filter((m) => m.Tags["ActionID"] === first).length;
    afterSeq = LastSeq;
  };
  const t0 = performance.now();
  let callsMs = 0;
  const calls = createSubscribers(user, list, n, "bulk").then((r) => ((callsMs = performance.now() - t0), r));
  let totalMs = 0;
  const deadline = Date.now() + 3_600_000;
  while (Date.now() < deadline) {
    poll();
    if (seen >= n) {
      totalMs = performance.now() - t0;
      break;
    }
    await sleep(100);
  }
  const run = await calls;
  if (!totalMs) throw new Error(`only ${seen} of ${n} first-step emails after an hour`);
  // The rest settles (the Sent and Delivered events, the Wait's parking) before the cursors are read.
  await engine.idle(1_800_000);
  const idleMs = performance.now() - t0;

  let waiting = 0;
  await eachLimited(run.ids, CLIENTS, async (sid) => {
    const c = (await cursorsOf(user.userId, sid)).find((c) => Number(c["JourneyID"]) === j);
    const steps = ((c?.["Steps"] as { Action: string; Outcome: string }[] | undefined) ?? []).map((s) => `${s.Action}:${s.Outcome}`).join(",");
    if (c?.["State"] === "Active" && steps === "SendEmail:Done,Wait:Waiting") waiting++;
  });
  // Every first-step email once: as many messages as distinct subscribers, and no second step yet.
  const sent = readOutbox({ JourneyID: j }).Messages;
  const emails = sent.filter((m) => m.Tags["ActionID"] === first).length;
  const recipients = new Set(sent.map((m) => m.Tags["SubscriberID"])).size;
  return { subscribers: n, clients: CLIENTS, floorMs, floorDrainMs, callsMs, totalMs, idleMs, waiting, emails, recipients, secondStep: sent.length - emails };
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
}

async function timersPart(engine: EngineStack): Promise<unknown> {
  const n = envInt("BENCH_ENGINE_TIMER_ENROLMENTS", 1000);
  const { parseDateTime } = await import("../shared/time.js");
  const epochOf = (text: string) => Math.floor(parseDateTime(text)!.getTime() / 1000);
  const user = await engine.user();
  const paths = [
    { id: "sweeper", wait: { WaitUnit: "minutes", WaitAmount: 3 } },
    { id: "delay", wait: { WaitUnit: "seconds", WaitAmount: 30 } },
  ];
  const made: { id: string; journeyId: number; ids: number[]; createMs: number }[] = [];
  // The 3-minute path first: its enrolments fire after the 30-second path's have finished.
  for (const p of paths) {
    const list = Number((await ok(user.post("/api/v1/list", { SubscriberListName: p.id })))["ListID"]);
    const j = await journey(user, [{ Action: "Wait", ...p.wait }, { Action: "Debug", DebugMessage: "after the wait" }], { Trigger: "ListSubscription", Trigger_ListID: list });
    const { ids, ms } = await createSubscribers(user, list, n, p.id);
    made.push({ id: p.id, journeyId: j, ids, createMs: ms });
  }
  const out: Record<string, unknown> = {};
  for (const m of made) {
    const deadline = Date.now() + 900_000;
    let lateness: number[] = [];
    let pending = m.ids.length;
    // Real time only: no clock move. Read the cursors once most should be done, then until all are.
    while (pending > 0 && Date.now() < deadline) {
      await sleep(5_000);
      await engine.idle(900_000);
      lateness = [];
      pending = 0;
      await eachLimited(m.ids, CLIENTS, async (sid) => {
        const c = (await cursorsOf(user.userId, sid)).find((c) => Number(c["JourneyID"]) === m.journeyId);
        const steps = (c?.["Steps"] as { Action: string; At: string; Detail: { Until?: string } }[] | undefined) ?? [];
        const wait = steps.find((s) => s.Action === "Wait");
        const after = steps.find((s) => s.Action === "Debug");
        if (!wait?.Detail.Until || !after) return void pending++;
        lateness.push(epochOf(after.At) - epochOf(wait.Detail.Until));
      });
    }
    out[m.id] = {
      enrolments: m.ids.length,
      measured: lateness.length,
      pending,
      createMs: m.createMs,
      p50: percentile(lateness, 0.5),
      p99: percentile(lateness, 0.99),
      max: Math.max(...lateness),
      min: Math.min(...lateness),
    };
    console.error(`[engine timers] ${m.id}: ${JSON.stringify(out[m.id])}`);
  }
  return { sweepMs: Number(process.env["LOCAL_SWEEP_MS"]), longWaitThreshold: Number(process.env["LONG_WAIT_THRESHOLD_SECONDS"]), ...out };
}

const PARTS: Record<string, { env: Record<string, string>; run: (e: EngineStack) => Promise<unknown> }> = {
  // The local sender (DELIVERY_MODE=local, the local stack's default) with one sender domain, entry "0".
  writes: { env: { SENDER_DOMAINS: JSON.stringify(SENDER_DOMAINS) }, run: writesPart },
  bulk: { env: { SENDER_DOMAINS: JSON.stringify(SENDER_DOMAINS) }, run: bulkPart },
  // Waits over 120 s live only in the due index and are handed by the sweeper; shorter ones travel as SQS delays.
  timers: { env: { LONG_WAIT_THRESHOLD_SECONDS: "120" }, run: timersPart },
};

const part = PARTS[process.argv[2] ?? ""];
if (!part) throw new Error(`usage: engine-child.ts ${Object.keys(PARTS).join("|")}`);
const load0 = os.loadavg();
const engine = await startEngineStack(part.env, { rateLimitPerMinute: BENCH_RATE_LIMIT_PER_MINUTE });
let result: unknown;
try {
  result = await part.run(engine);
} finally {
  await engine.stop();
}
const load = { start: load0.map((x) => +x.toFixed(2)), end: os.loadavg().map((x) => +x.toFixed(2)) };
process.stdout.write(`\nENGINE-BENCH-RESULT ${JSON.stringify({ result, load, env: { LOCAL_SWEEP_MS: process.env["LOCAL_SWEEP_MS"], LONG_WAIT_THRESHOLD_SECONDS: process.env["LONG_WAIT_THRESHOLD_SECONDS"] } })}\n`);
process.exit(0);
