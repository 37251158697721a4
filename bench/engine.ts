import { spawn } from "node:child_process";
import os from "node:os";
import { fileURLToPath } from "node:url";
import type { Section } from "./section.js";
import type { Tally } from "./engine-child.js";

/**
 * The "engine" section (ENGINE §11): write items per step (SendEmail with its Sent
 * included), enrolment overhead, bulk enrolment into SendEmail → Wait → SendEmail
 * against its floor, and timer precision on both paths. Each part runs in
 * bench/engine-child.ts, a process with an engine stack of its own: the product clock
 * and the sweeper timer are process-wide, and the timer part needs another
 * LONG_WAIT_THRESHOLD_SECONDS. `BENCH_ENGINE_PARTS=writes,timers` runs some of them.
 * The "0 reads and writes while waiting" target is a test (test/engine/waiting.test.ts),
 * and so is "0 duplicate sends in the fault tests" (test/engine/delivery.test.ts).
 */
interface ChildOut<T> {
  result: T;
  load: { start: number[]; end: number[] };
  env: Record<string, string>;
}

function runChild<T>(part: string): Promise<ChildOut<T>> {
  return new Promise((resolve, reject) => {
    const script = fileURLToPath(new URL("./engine-child.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", script, part], { stdio: ["ignore", "pipe", "inherit"], env: process.env });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.on("exit", (code) => {
      const line = out.split("\n").find((l) => l.startsWith("ENGINE-BENCH-RESULT "));
      if (code !== 0 || !line) reject(new Error(`engine bench part ${part} exited with ${code}: ${out.slice(-2000)}`));
      else resolve(JSON.parse(line.slice("ENGINE-BENCH-RESULT ".length)) as ChildOut<T>);
    });
  });
}

interface WritesResult {
  enrolments: number;
  K: number;
  runs: Record<string, { tally: Tally; plainItems: number; perEnrolment: number; ms: number; outcomes: Record<string, number>; sends: number }>;
}
interface BulkResult {
  subscribers: number;
  clients: number;
  floorMs: number;
  floorDrainMs: number;
  callsMs: number;
  totalMs: number;
  idleMs: number;
  waiting: number;
  emails: number;
  recipients: number;
  secondStep: number;
}
interface TimerPath {
  enrolments: number;
  measured: number;
  pending: number;
  createMs: number;
  p50: number;
  p99: number;
  max: number;
  min: number;
}
type TimersResult = { sweepMs: number; longWaitThreshold: number; delay: TimerPath; sweeper: TimerPath };

const f2 = (x: number) => x.toFixed(2);
const verdict = (pass: boolean) => (pass ? "PASS" : "FAIL");
const loadText = (l: { start: number[]; end: number[] }) => `load average ${l.start.join(" ")} at start, ${l.end.join(" ")} at end`;
const per = (t: Tally, n: number, cats: string[]) => cats.reduce((a, c) => a + (t.byCategory[c] ?? 0), 0) / n;
const ENGINE_CATS = ["subscriber", "membership", "cursor", "engine other", "other"];

export async function benchEngine(): Promise<Section> {
  const parts = (process.env["BENCH_ENGINE_PARTS"] ?? "writes,bulk,timers").split(",").map((s) => s.trim());
  const rows: string[][] = [];
  const notes: string[] = [];
  const details: string[] = [];
  const data: Record<string, unknown> = { cpus: os.cpus().length };

  if (parts.includes("writes")) {
    const w = await runChild<WritesResult>("writes");
    data["writes"] = w;
    const { enrolments: n, K, runs } = w.result;
    const empty = runs["empty"]!;
    // The engine's own items (the ingest core's apart, the sweeper's watermarks left out).
    const eng = (id: string) => per(runs[id]!.tally, n, ENGINE_CATS);
    const ing = (id: string) => per(runs[id]!.tally, n, ["ingest", "ingest counters"]);
    const ingText = (id: string) => `${f2(per(runs[id]!.tally, n, ["ingest"]))} + ${f2(per(runs[id]!.tally, n, ["ingest counters"]))} counters`;
    const step = (one: string, many: string, limit: number, label: string) => {
      const single = eng(one) - eng("empty");
      const chained = (eng(many) - eng("empty")) / K;
      rows.push([
        `write items per ${label} step`,
        `${f2(single)} alone; ${f2(chained)} each of ${K} in a row`,
        `≤ ${limit}`,
        verdict(single <= limit && chained <= limit),
      ]);
    };
    step("Wait 1 s", `Wait 1 s ×${K}`, 1, "Wait");
    step("AddTag", `AddTag ×${K}`, 2, "AddTag");
    step("RemoveTag", `RemoveTag ×${K}`, 2, "RemoveTag");
    step("UpdateCustomFieldValue", `UpdateCustomFieldValue ×${K}`, 2, "UpdateCustomFieldValue");
    if (runs["SendEmail"] && runs[`SendEmail ×${K}`]) {
      // ENGINE §11, §13.9: the engine's items over the empty journey's (the intent write), plus
      // what the ingest core writes for the Sent: its dedup item and the email state that sets
      // `Sent`. Counters, the Delivered and MailIndex are reported apart, per send.
      const role = (id: string, r: string) => runs[id]!.tally.roles[r] ?? 0;
      const cost = (id: string) => {
        const r = runs[id]!;
        const sends = r.sends;
        const engine = ((eng(id) - eng("empty")) * n) / sends;
        // Items of failed (cancelled) requests are billed too, so they count.
        const marker = (role(id, "marker Sent") + role(id, "marker Sent (failed)")) / sends;
        const state = (role(id, "email state sets Sent") + role(id, "email state sets Sent (failed)")) / sends;
        return { sends, engine, marker, state, total: engine + marker + state };
      };
      const one = cost("SendEmail"), many = cost(`SendEmail ×${K}`);
      rows.push([
        "write items per SendEmail step, with its Sent event",
        `${f2(one.total)} alone (intent ${f2(one.engine)} + Sent: dedup item ${f2(one.marker)}, email state ${f2(one.state)}); ${f2(many.total)} each of ${K} in a row (${f2(many.engine)} + ${f2(many.marker)} + ${f2(many.state)})`,
        "≤ 3",
        verdict(one.total <= 3 && many.total <= 3 && one.sends === n && many.sends === n * K),
      ]);
      const apart = (id: string) => {
        const r = runs[id]!, t = r.tally, s = r.sends;
        const counters = ((t.byCategory["ingest counters"] ?? 0) - (empty.tally.byCategory["ingest counters"] ?? 0)) / s;
        const delivered = ["marker Delivered", "marker Delivered (failed)", "email state other", "email state other (failed)"].reduce((a, r) => a + role(id, r), 0) / s;
        return (
          `${id}: ${s} sends; Sent put on the events queue ${f2((t.queued["Sent"] ?? 0) / s)}× a send (${t.sentIds.twice} of ${t.sentIds.distinct} EventIDs twice, ${t.sentIds.more} more); ` +
          `Sent dedup items committed ${role(id, "marker Sent")}, in failed requests ${role(id, "marker Sent (failed)")} (${t.sentDuplicateAttempts} of them a duplicate's); ` +
          `counters ${f2(counters)}, Delivered ${f2(delivered)}, MailIndex-key writes ${f2(t.mailIndex / s)} a send; failed-request items in the run ${t.failedItems}`
        );
      };
      const dupFree = (id: string) => {
        const t = runs[id]!.tally;
        return role(id, "marker Sent") === t.sentIds.distinct && t.sentIds.distinct === runs[id]!.sends && t.sentIds.twice === runs[id]!.sends && t.sentDuplicateAttempts === 0;
      };
      rows.push([
        "… per send, reported apart: the duplicate Sent, counters, Delivered, MailIndex",
        `${apart("SendEmail")}. ${apart(`SendEmail ×${K}`)}`,
        "every Sent twice; the duplicate: 0 writes",
        verdict(dupFree("SendEmail") && dupFree(`SendEmail ×${K}`)),
      ]);
    }
    const overhead = eng("empty");
    rows.push([
      "enrolment overhead, no published action (signal → end)",
      `${f2(overhead)} engine + ingest core ${ingText("empty")} = ${f2(overhead + ing("empty"))}`,
      "≤ 10, reported",
      verdict(overhead + ing("empty") <= 10),
    ]);
    const noJ = "create, list without journey", withJ = "create, empty ListSubscription journey";
    if (runs[noJ] && runs[withJ]) {
      const d = (cats: string[]) => per(runs[withJ]!.tally, n, cats) - per(runs[noJ]!.tally, n, cats);
      const e = d(ENGINE_CATS), i = d(["ingest", "ingest counters"]);
      // The signal's clear is a write of the subscriber item that happens with or without a journey
      // (the subscriber's other write is the create's own put, which carries the signal entry).
      const clear = per(runs[noJ]!.tally, n, ["subscriber"]) - 1;
      rows.push([
        "enrolment overhead, signal path (subscriber.create → ListSubscription → end)",
        `${f2(e)} engine + ${f2(i)} ingest core = ${f2(e + i)}, + ${f2(clear)} signal clear, paid with or without a journey`,
        "≤ 10, reported",
        verdict(e + i + clear <= 10),
      ]);
    }
    const park = "Wait 1 day (parked, not ended)";
    rows.push([`enrolment parked in a Wait 1 day (signal → Waiting)`, `${f2(eng(park))} engine + ingest core ${ingText(park)}`, "—", "—"]);
    const gsi = (id: string) => `${f2(runs[id]!.tally.dueIndex / n)} DueIndex, ${f2(runs[id]!.tally.journeyIndex / n)} JourneyIndex`;
    rows.push(["GSI-key writes an enrolment (lower bound on propagation)", `empty: ${gsi("empty")}; Wait 1 s ×${K}: ${gsi(`Wait 1 s ×${K}`)}`, "reported apart", "—"]);
    notes.push(
      `SendEmail: the local sender (\`DELIVERY_MODE=local\`, \`SENDER_DOMAINS\` entry "0") puts each email in the outbox and SES-shaped Send and Delivery events on the local SES events queue, which the adapter (functions/ses-events) maps onto the events queue; the runner puts its own Sent there too, under the same EventID. The step's cost is the engine's items over the empty journey's (the intent write; the answer folds into the next cursor write) divided by the sends counted in the outbox, plus the ingest core's items for the Sent: its event marker (the dedup item, \`EVT#\` with Type Sent) and the email-state write (\`M#<ActionID>\`) that sets \`Sent\`, whether it creates the state or the Delivered did. Counter items (\`U#n#S\`, the action's \`D#\`/\`L#\`/\`IA#\` rollups) are aggregated per chunk and reported apart, as are the Delivered (its marker, and the email state when it comes first) and the writes that set \`MailPK\` (MailIndex propagation). Each Sent was put on the events queue twice (counted by wrapping the process's \`fetch\`, through which shared/domain/sqs-send.ts sends): the dedup items written equal the distinct Sent EventIDs, so the second copy wrote nothing.`,
    `Write items: a middleware on \`ddb()\` (the one client of the handlers, the runner, the events worker and the sweeper, all in the bench's child process) over ${n} enrolments a journey (subscriber.journey.trigger from 16 clients, until \`/_local/engine\` is Idle twice in a row). A step's cost is the journey's items an enrolment minus the empty journey's (enrolment and end); "alone" is one action, "in a row" ${K} consecutive actions of the type divided by ${K}. ENGINE §5.2 lets consecutive internal actions share one transaction, which would put the chained figure below the single one; here both are equal (each step wrote its own cursor update). Wait is a \`Wait 1 s\` (the API refuses WaitAmount 0, which ENGINE §6 allows), so the enrolment still ends and the end cancels out; its cost includes the delayed handoff (a Wait is not instant).`,
      `Engine items are those in the subscriber's partition (subscriber item: the signal entry and its clear; cursor; membership) plus any other item (the \`Subscriber\` ID counter and the address guard on the create path); ingest-core items (event markers \`EVT#\`, enrolment rows \`EN#\`/\`SJ#\`, email states \`M#\`, and apart its counters \`U#n#S\` and the actions' rollups, aggregated per chunk) are counted apart; the sweeper's watermarks and the journey item's writes (the enable's Resume job re-checks for 60 s, spilling into the next journey's count) are left out. The API's rate-limit counter is excluded, as in write-items.ts. Transactional items cost 2 WRU on AWS; the counts here are items.`,
      `GSI-key writes: write items whose request sets or removes \`DuePK\` (DueIndex) or \`JourneyKey\` (JourneyIndex); on AWS each such write to an indexed item also writes the index (a key change costs a delete and a put there), so this is a lower bound on propagation, billed apart.`,
      `Writes run: ${loadText(w.load)}.`,
    );
    for (const [id, r] of Object.entries(runs)) {
      const cats = Object.entries(r.tally.byCategory).map(([c, v]) => `${c} ${f2(v / n)}`).join(", ");
      details.push(`${id.padEnd(34)} ${f2(r.perEnrolment)} items/enrolment (${cats}; plain counter ${f2(r.plainItems / n)}; ${(r.ms / 1000).toFixed(1)} s) — ${Object.entries(r.outcomes).map(([k, v]) => `${v}× ${k}`).join("; ")}`);
    }
    details.push("", `Write items by item shape, empty journey, ${n} enrolments:`);
    for (const [s, v] of Object.entries(empty.tally.shapes).sort((a, b) => b[1] - a[1])) details.push(`  ${String(v).padStart(6)}  ${s}`);
  }

  if (parts.includes("bulk")) {
    const b = await runChild<BulkResult>("bulk");
    data["bulk"] = b;
    const r = b.result;
    const ratio = r.totalMs / r.floorMs;
    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    rows.push([
      `bulk: ${r.subscribers.toLocaleString("en-US")} subscriber.create, ${r.clients} clients, ListSubscription journey SendEmail → Wait 1 day → SendEmail, until the ${r.subscribers.toLocaleString("en-US")}th first-step email`,
      `${s(r.totalMs)} vs floor ${s(r.floorMs)} = ${f2(ratio)}× (calls alone ${s(r.callsMs)}; Idle at ${s(r.idleMs)}; ${r.waiting} of ${r.subscribers} cursors SendEmail:Done, Wait:Waiting; ${r.emails} emails to ${r.recipients} subscribers)`,
      "≤ 3×",
      verdict(ratio <= 3 && r.waiting === r.subscribers && r.emails === r.subscribers && r.recipients === r.subscribers && r.secondStep === 0),
    ]);
    notes.push(
      `Bulk: the floor is the same ${r.clients} clients making the same ${r.subscribers} calls to a list with no journey, in the same process and stack, first; its ListSubscription signals (which no journey takes) were drained (${s(r.floorDrainMs)} after its last call) before the journey run started. The journey run is timed from its first call to the moment the local outbox (read in process, polled every 100 ms) holds the ${r.subscribers}th email of the journey's first action; then, once \`/_local/engine\` was Idle (the Sent and Delivered events ingested), every cursor was read back and the outbox counted (one email per subscriber, none from the second step). \`BENCH_ENGINE_SUBSCRIBERS\` (default 10,000) sets the number. Run: ${loadText(b.load)}.`,
    );
  }

  if (parts.includes("timers")) {
    const t = await runChild<TimersResult>("timers");
    data["timers"] = t;
    const limit = t.result.sweepMs / 1000 + 10;
    for (const [id, label] of [["delay", "Wait 30 s (SQS delay)"], ["sweeper", "Wait 3 min (sweeper)"]] as const) {
      const p = t.result[id];
      rows.push([
        `timer lateness, ${label}, ${p.enrolments} enrolments: p50 / p99 / max`,
        `${p.p50} / ${p.p99} / ${p.max} s (min ${p.min}; ${p.measured} measured, ${p.pending} not run)`,
        `p99 ≤ LOCAL_SWEEP_MS + 10 s = ${limit} s`,
        verdict(p.p99 <= limit && p.pending === 0),
      ]);
    }
    notes.push(
      `Timers: real time, no clock move; LONG_WAIT_THRESHOLD_SECONDS=${t.result.longWaitThreshold}, LOCAL_SWEEP_MS=${t.result.sweepMs}. Each enrolment comes from subscriber.create on a ListSubscription list (16 clients), into Wait → Debug; lateness = the Debug step record's \`At\` − the Wait record's \`Until\` (its DueAt), both to the second, so ±1 s. Create time: delay path ${(t.result.delay.createMs / 1000).toFixed(1)} s, sweeper path ${(t.result.sweeper.createMs / 1000).toFixed(1)} s (the 3-minute enrolments were made first, so the two paths fire apart). Run: ${loadText(t.load)}.`,
    );
  }

  rows.push([
    "duplicate sends in the delivery fault tests",
    "asserted by test/engine/delivery.test.ts (a worker killed after the intent write; a worker killed after SES accepted; duplicate delivery of every step message), not benched",
    "0",
    "test",
  ]);
  notes.push(
    `"Reads and writes for a waiting enrolment = 0" is asserted by test/engine/waiting.test.ts, not benched. The machine has ${os.cpus().length} cores shared with other agents' test runs: timings are noisy.`,
  );
  return {
    id: "engine",
    title: "Engine (ENGINE §11): write items per step (SendEmail included), enrolment overhead, bulk enrolment with delivery, timer precision",
    columns: ["measure", "measured", "target", "result"],
    rows,
    notes,
    details,
    data,
  };
}
