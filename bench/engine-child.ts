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

async function journey(user: EngineUser, actions: Params[], create: Params = {}): Promise<number> {
  const id = Number((await ok(user.post("/api/v1/journey", { Name: `B-${Math.random().toString(36).slice(2, 8)}`, ...create })))["JourneyID"]);
  if (actions.length) await ok(user.patch("/api/v1/journey.actions", { JourneyID: id, Actions: actions.map((a) => ({ Published: true, ...a })) }));
  await ok(user.get("/api/v1/journey.enable", { JourneyID: id }));
  return id;
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

type Category = "subscriber" | "membership" | "cursor" | "engine other" | "ingest" | "ingest counters" | "journey job" | "sweeper" | "other";

/** Which item a write names. The ingest core's items: event markers, statistics (`U#n#S`), enrolment rows. */
function categoryOf(pk: string, sk: string): Category {
  if (pk.includes("#SUB#")) {
    if (sk === "S") return "subscriber";
    if (/^E#\d+#$/.test(sk)) return "membership";
    if (/^E#\d+#.+/.test(sk)) return "cursor";
    return "engine other";
  }
  if (pk === "ENGINE#SWEEP") return "sweeper";
  // The ingest core's counters, aggregated per chunk (ENGINE §11 reports them apart).
  if (/^U#\d+#S$/.test(pk)) return "ingest counters";
  if (pk.startsWith("EVT#") || /^(EN|SJ)#/.test(sk)) return "ingest";
  // The journey item: the enable's Resume job re-checks for 60 s (§5.4), a cost of the journey, not of its enrolments.
  if (/^U#\d+$/.test(pk) && /^J#\d+$/.test(sk)) return "journey job";
  return "other";
}
const shape = (pk: string, sk: string) =>
  [pk, sk].map((k) => k.replace(/[0-9A-Z]{26}/g, "<ulid>").replace(/[0-9a-f]{16,}/g, "<hex>").replace(/\d+/g, "n")).join("|");

interface Tally {
  items: number;
  transactional: number;
  byCategory: Record<string, number>;
  shapes: Record<string, number>;
  /** Write items that set or remove DueIndex / JourneyIndex keys (a lower bound on GSI propagation). */
  dueIndex: number;
  journeyIndex: number;
}

function tallyWrites() {
  let t: Tally;
  const reset = () => void (t = { items: 0, transactional: 0, byCategory: {}, shapes: {}, dueIndex: 0, journeyIndex: 0 });
  reset();
  const add = (op: Params, transactional: boolean) => {
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
  };
  const observer: DdbObserver = (command, input) => {
    const cmd = command.replace(/Command$/, "");
    if (cmd === "TransactWrite" || cmd === "TransactWriteItems") {
      for (const ti of input["TransactItems"] as Record<string, Params>[]) for (const [kind, op] of Object.entries(ti)) if (kind !== "ConditionCheck") add(op, true);
    } else if (cmd === "BatchWrite" || cmd === "BatchWriteItem") {
      for (const reqs of Object.values(input["RequestItems"] as Record<string, Record<string, Params>[]>)) for (const r of reqs) for (const op of Object.values(r)) add(op, false);
    } else if (/^(Put|Update|Delete)(Item)?$/.test(cmd)) add(input, false);
  };
  (globalThis as { __journeyDdbObserver?: DdbObserver }).__journeyDdbObserver = observer;
  return { reset, get: (): Tally => JSON.parse(JSON.stringify(t)) as Tally };
}

/** The engine's writes: every category but the sweeper's, the journey job's and the ingest core's (reported apart). */
const engineItems = (t: Tally) =>
  t.items - ["sweeper", "journey job", "ingest", "ingest counters"].reduce((a, c) => a + (t.byCategory[c] ?? 0), 0);

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
    { id: "Wait 1 day (parked, not ended)", actions: [{ Action: "Wait", WaitUnit: "days", WaitAmount: 1 }] },
    // The signal path: subscriber.create on a list with no journey, then on one with an empty
    // ListSubscription journey; the difference is the enrolment's cost (the signal entry rides the
    // create's own write in both, and its clear happens in both).
    { id: "create, list without journey", actions: [], create: true },
    { id: "create, empty ListSubscription journey", actions: [], create: true },
  ];
  const runs: Record<string, { tally: Tally; plainItems: number; perEnrolment: number; ms: number; outcomes: Record<string, number> }> = {};
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
    runs[cfg.id] = { tally, plainItems, perEnrolment: engineItems(tally) / n, ms, outcomes };
    console.error(`[engine writes] ${cfg.id}: ${(engineItems(tally) / n).toFixed(2)} write items an enrolment (${JSON.stringify(tally.byCategory)}) ${JSON.stringify(outcomes)}`);
  }
  plain.stop();
  return { enrolments: n, K, runs };
}

async function bulkPart(engine: EngineStack): Promise<unknown> {
  const n = envInt("BENCH_ENGINE_SUBSCRIBERS", 10_000);
  const user = await engine.user();
  const floorList = Number((await ok(user.post("/api/v1/list", { SubscriberListName: "Floor" })))["ListID"]);
  const list = Number((await ok(user.post("/api/v1/list", { SubscriberListName: "Bulk" })))["ListID"]);
  const j = await journey(user, [{ Action: "Wait", WaitUnit: "days", WaitAmount: 1 }], { Trigger: "ListSubscription", Trigger_ListID: list });
  await engine.idle(300_000);

  // The floor: the same clients making the same calls to a list with no journey.
  const floor = await createSubscribers(user, floorList, n, "floor");
  const floorMs = floor.ms;
  // Its signals (a ListSubscription no journey takes) are drained before the journey run starts.
  const f0 = performance.now();
  await engine.idle(600_000);
  const floorDrainMs = performance.now() - f0;

  const t0 = performance.now();
  const run = await createSubscribers(user, list, n, "bulk");
  const callsMs = performance.now() - t0;
  // Until every enrolment has run its first step: the engine Idle (queues empty, nothing due).
  await engine.idle(1_800_000);
  const totalMs = performance.now() - t0;

  let waiting = 0;
  await eachLimited(run.ids, CLIENTS, async (sid) => {
    const c = (await cursorsOf(user.userId, sid)).find((c) => Number(c["JourneyID"]) === j);
    const steps = (c?.["Steps"] as { Action: string; Outcome: string }[] | undefined) ?? [];
    if (c?.["State"] === "Active" && steps[0]?.Action === "Wait" && steps[0]?.Outcome === "Waiting") waiting++;
  });
  return { subscribers: n, clients: CLIENTS, floorMs, floorDrainMs, callsMs, totalMs, waiting };
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
  writes: { env: {}, run: writesPart },
  bulk: { env: {}, run: bulkPart },
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
