import os from "node:os";
import { GetQueueAttributesCommand, SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { benchDocClient, countedEvents } from "./counters.js";
import { createBenchUser, dayAgo, seedJourneys, type BenchUser, type SeededJourney } from "./seed.js";
import type { Section } from "./section.js";
import type { BenchContext } from "./stack-context.js";
import { eachLimited, envInt, median, prng, round2 } from "./stats.js";
import { describeTx, traceTransactions, type TxStats, type TxTracer } from "./tx-trace.js";

/**
 * Ingest throughput through both doors of the one ingest core, side by side:
 * `POST /api/v1/journey.events` (500-event batches, from 1 and from 4 concurrent
 * clients by default) and the events queue (SendMessageBatch of 10-event
 * messages, consumed by the local event source mapping and the real events
 * worker). The same event mix goes through each run, for a user of its own with
 * identical journeys.
 */
const HTTP_BATCH = 500;
const MESSAGE_EVENTS = 10;
const QUEUE_SENDERS = 4;
const JOURNEYS = 6;
const ACTIONS_PER_JOURNEY = 2;
const ISPS = ["gmail.com", "yahoo.com", "outlook.com"] as const;
const DAYS = 3;
/** Warm-up subscribers are apart from the measured ones, so that no measured unique event is a repeat. */
const WARM_SUBSCRIBERS = 10_000_000;
/** The queue is declared stalled, and the measurement abandoned, after this long without progress. */
const STALL_MS = 60_000;

type Event = Record<string, unknown>;

/**
 * A subscriber's funnel on one SendEmail action: Sent, mostly Delivered, some
 * Opened (up to a day and a bit later), fewer Clicked, a few Converted (with
 * revenue). Every event is the first of its kind for its subscriber and action,
 * so each one adds exactly one to a delivery counter: the rollups' sum is the
 * number of events counted.
 *
 * The stream is in the order the events happened, as a live feed reports them.
 * Order matters to the cost: the ingest core guards a journey's LastActivityAt
 * with "older than this event", and every event that is not the journey's newest
 * so far fails that guard and costs a second transaction.
 */
function eventMix(total: number, journeys: SeededJourney[], prefix: string, firstSubscriber = 1): Event[] {
  const rand = prng(20260101);
  const days = Array.from({ length: DAYS }, (_, i) => dayAgo(DAYS - i));
  const first = Date.parse(`${days[0]}T00:00:00Z`);
  const last = Date.parse(`${days[DAYS - 1]}T23:59:59Z`);
  const stamp = (t: number) => new Date(Math.min(t, last)).toISOString().slice(0, 19).replace("T", " ");
  const MIN = 60_000;
  const events: Event[] = [];
  for (let s = firstSubscriber; events.length < total; s++) {
    const j = journeys[Math.floor(rand() * journeys.length)]!;
    const actionId = j.actionIds[Math.floor(rand() * j.actionIds.length)]!;
    const email = `sub${s}@${ISPS[s % ISPS.length]}`;
    const ev = (Type: string, t: number, extra: Event = {}): Event => ({
      EventID: `${prefix}-${s}-${Type}`,
      Type,
      JourneyID: j.journeyId,
      ActionID: actionId,
      SubscriberID: s,
      EmailAddress: email,
      OccurredAt: stamp(t),
      ...extra,
    });
    let t = first + Math.floor(rand() * DAYS) * 86_400_000 + Math.floor(rand() * 20 * 60 * MIN);
    const funnel: Event[] = [ev("Sent", t)];
    if (rand() < 0.92) {
      funnel.push(ev("Delivered", (t += MIN + Math.floor(rand() * 4 * MIN))));
      if (rand() < 0.45) {
        funnel.push(ev("Opened", (t += Math.floor(rand() * 30 * 60 * MIN))));
        if (rand() < 0.35) {
          funnel.push(ev("Clicked", (t += Math.floor(rand() * 10 * MIN))));
          if (rand() < 0.3) funnel.push(ev("Converted", (t += Math.floor(rand() * 30 * MIN)), { Amount: 500 + Math.floor(rand() * 9500) }));
        }
      }
    }
    events.push(...funnel.slice(0, total - events.length));
  }
  // Stable: one subscriber's events keep their order even when two share a second.
  return events.sort((a, b) => String(a["OccurredAt"]).localeCompare(String(b["OccurredAt"])));
}

function chunk(events: Event[], size: number): Event[][] {
  const out: Event[][] = [];
  for (let i = 0; i < events.length; i += size) out.push(events.slice(i, i + size));
  return out;
}

interface PathResult {
  path: "http" | "queue";
  events: number;
  calls: number;
  concurrency: number;
  wallMs: number;
  eventsPerSecond: number;
  /** Queue only: how long the sends took, the rest is draining. */
  sendMs?: number;
  skipped?: string;
  error?: string;
  tx?: TxStats;
  /** HTTP only: the requests behind the figure. */
  requests?: { batches: number; attempts: number; failed: { status: number; ms: number }[]; okMedianMs: number; okMaxMs: number };
}

/** A producer's attempts at one batch: a 5xx (the 29 s timeout) is re-sent, which EventIDs make safe. */
const HTTP_ATTEMPTS = 3;

interface PostOutcome {
  accepted: number;
  duplicates: number;
  rejected: unknown[];
  /** Wall time of each attempt, and the status it got. */
  attempts: { ms: number; status: number }[];
}

async function postEvents(ctx: BenchContext, user: BenchUser, events: Event[]): Promise<PostOutcome> {
  const attempts: PostOutcome["attempts"] = [];
  for (;;) {
    const t0 = performance.now();
    const res = await fetch(new URL("/api/v1/journey.events", ctx.url), {
      method: "POST",
      headers: { "content-type": "application/json", APIKey: user.apiKey },
      body: JSON.stringify({ Events: events }),
    });
    const text = await res.text();
    attempts.push({ ms: performance.now() - t0, status: res.status });
    if (res.status >= 500 && attempts.length < HTTP_ATTEMPTS) continue;
    if (res.status !== 200) throw new Error(`journey.events answered ${res.status} (attempt ${attempts.length}): ${text.slice(0, 300)}`);
    const body = JSON.parse(text) as { Accepted: number; Duplicates: number; Rejected: unknown[] };
    return { accepted: body.Accepted, duplicates: body.Duplicates, rejected: body.Rejected, attempts };
  }
}

async function viaHttp(
  ctx: BenchContext,
  doc: DynamoDBDocumentClient,
  user: BenchUser,
  journeys: SeededJourney[],
  total: number,
  tracer: TxTracer,
  clients: number,
): Promise<PathResult> {
  // Warm-up: the handler module, its clients and the connection pools, uncounted.
  await postEvents(ctx, user, eventMix(50, journeys.slice(JOURNEYS), "warm", WARM_SUBSCRIBERS));
  const table = ctx.env["TABLE_NAME"]!;
  const before = await countedEvents(doc, table, user.userId);

  const batches = chunk(eventMix(total, journeys.slice(0, JOURNEYS), "ev"), HTTP_BATCH);
  let settled = 0;
  const rejected: unknown[] = [];
  const attempts: PostOutcome["attempts"] = [];
  tracer.reset();
  const t0 = performance.now();
  await eachLimited(batches, clients, async (batch) => {
    const r = await postEvents(ctx, user, batch);
    // After a re-send, events the timed-out attempt had applied come back as duplicates.
    settled += r.accepted + r.duplicates;
    rejected.push(...r.rejected);
    attempts.push(...r.attempts);
  });
  const wallMs = performance.now() - t0;
  const tx = tracer.stats();

  // The command applies every event before it answers; the rollups must already agree.
  const counted = (await countedEvents(doc, table, user.userId)) - before;
  if (rejected.length > 0) throw new Error(`HTTP ingest rejected ${rejected.length} events, first: ${JSON.stringify(rejected[0])}`);
  if (settled !== total || counted !== total) throw new Error(`HTTP ingest: ${total} sent, ${settled} accepted or duplicate, ${counted} counted`);
  const ok = attempts.filter((a) => a.status === 200).map((a) => a.ms);
  return {
    path: "http",
    events: total,
    calls: attempts.length,
    concurrency: clients,
    wallMs,
    eventsPerSecond: total / (wallMs / 1000),
    tx,
    requests: {
      batches: batches.length,
      attempts: attempts.length,
      failed: attempts.filter((a) => a.status !== 200).map((a) => ({ status: a.status, ms: round2(a.ms) })),
      okMedianMs: ok.length ? round2(median(ok)) : 0,
      okMaxMs: ok.length ? round2(Math.max(...ok)) : 0,
    },
  };
}

async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<number> {
  const { Attributes: a = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"],
    }),
  );
  return (
    Number(a["ApproximateNumberOfMessages"] ?? 0) +
    Number(a["ApproximateNumberOfMessagesNotVisible"] ?? 0) +
    Number(a["ApproximateNumberOfMessagesDelayed"] ?? 0)
  );
}

async function sendMessages(sqs: SQSClient, queueUrl: string, userId: number, messages: Event[][]): Promise<number> {
  const calls: Event[][][] = [];
  for (let i = 0; i < messages.length; i += 10) calls.push(messages.slice(i, i + 10));
  await eachLimited(calls, QUEUE_SENDERS, async (entries) => {
    const out = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: entries.map((events, i) => ({
          Id: String(i),
          MessageBody: JSON.stringify(events),
          MessageAttributes: { UserID: { DataType: "Number", StringValue: String(userId) } },
        })),
      }),
    );
    if (out.Failed?.length) throw new Error(`SendMessageBatch failed for ${out.Failed.length} entries: ${JSON.stringify(out.Failed[0])}`);
  });
  return calls.length;
}

/** Polls until `expected` events are counted and the queue holds nothing, or until it stops making progress. */
async function drain(sqs: SQSClient, queueUrl: string, doc: DynamoDBDocumentClient, table: string, userId: number, expected: number): Promise<void> {
  let last = -1;
  let lastProgress = performance.now();
  for (;;) {
    const counted = await countedEvents(doc, table, userId);
    if (counted >= expected && (await queueDepth(sqs, queueUrl)) === 0) return;
    if (counted !== last) {
      last = counted;
      lastProgress = performance.now();
    } else if (performance.now() - lastProgress > STALL_MS) {
      throw new Error(`the queue stopped making progress: ${counted} of ${expected} events counted, ${await queueDepth(sqs, queueUrl)} messages left`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function viaQueue(
  ctx: BenchContext,
  doc: DynamoDBDocumentClient,
  user: BenchUser,
  journeys: SeededJourney[],
  total: number,
  tracer: TxTracer,
): Promise<PathResult> {
  const queueUrl = ctx.env["EVENTS_QUEUE_URL"]!;
  const table = ctx.env["TABLE_NAME"]!;
  const sqs = new SQSClient({
    region: ctx.env["AWS_REGION"] ?? "us-east-1",
    endpoint: ctx.env["SQS_ENDPOINT"],
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  try {
    // Warm-up: the worker module and the poller's first receive, uncounted.
    const warm = chunk(eventMix(50, journeys.slice(JOURNEYS), "warm", WARM_SUBSCRIBERS), MESSAGE_EVENTS);
    const base = await countedEvents(doc, table, user.userId);
    await sendMessages(sqs, queueUrl, user.userId, warm);
    await drain(sqs, queueUrl, doc, table, user.userId, base + warm.flat().length);
    const before = await countedEvents(doc, table, user.userId);

    const messages = chunk(eventMix(total, journeys.slice(0, JOURNEYS), "ev"), MESSAGE_EVENTS);
    tracer.reset();
    const t0 = performance.now();
    const calls = await sendMessages(sqs, queueUrl, user.userId, messages);
    const sendMs = performance.now() - t0;
    await drain(sqs, queueUrl, doc, table, user.userId, before + total);
    const wallMs = performance.now() - t0;
    const tx = tracer.stats();
    const counted = (await countedEvents(doc, table, user.userId)) - before;
    if (counted !== total) throw new Error(`queue ingest: ${total} sent, ${counted} counted`);
    return {
      path: "queue",
      events: total,
      calls,
      concurrency: QUEUE_SENDERS,
      wallMs,
      sendMs,
      eventsPerSecond: total / (wallMs / 1000),
      tx,
    };
  } finally {
    sqs.destroy();
  }
}

/** HTTP client counts to measure, from BENCH_HTTP_CLIENTS ("1,4" by default). */
function httpClientCounts(): number[] {
  const raw = process.env["BENCH_HTTP_CLIENTS"] ?? "1,4";
  const out = raw.split(",").map((x) => x.trim()).filter(Boolean);
  if (out.length === 0 || out.some((x) => !/^\d+$/.test(x) || Number(x) < 1)) {
    throw new Error(`BENCH_HTTP_CLIENTS must be a comma-separated list of positive integers, got "${raw}"`);
  }
  return out.map(Number);
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

export async function benchIngest(ctx: BenchContext): Promise<Section> {
  const total = envInt("BENCH_EVENTS", 5_000);
  const clientCounts = httpClientCounts();
  const doc = benchDocClient(ctx);
  const tracer = await traceTransactions();
  const loadAtStart = os.loadavg().map((x) => x.toFixed(2)).join(" ");
  try {
    // One user per run, each with the same journeys (one more than measured: the
    // warm-up gets a journey of its own, so that it moves no measured journey's LastActivityAt).
    const setup = async () => {
      const user = await createBenchUser();
      return { user, journeys: await seedJourneys(user.userId, JOURNEYS + 1, ACTIONS_PER_JOURNEY) };
    };
    const failed = (path: PathResult["path"], clients: number, err: unknown): PathResult => ({
      path, events: total, calls: 0, concurrency: clients, wallMs: 0, eventsPerSecond: 0, error: errorText(err),
    });
    const httpRun = async (clients: number): Promise<PathResult> => {
      const { user, journeys } = await setup();
      try {
        return await viaHttp(ctx, doc, user, journeys, total, tracer, clients);
      } catch (err) {
        return failed("http", clients, err);
      } finally {
        // Whatever a timed-out request left running must finish before the next measurement.
        await tracer.quiet(2_000);
      }
    };

    // The run most likely to hit the 29 s timeout goes last, so that its leftovers disturb nothing.
    const sorted = [...clientCounts].sort((x, y) => x - y);
    const http = new Map<number, PathResult>();
    http.set(sorted[0]!, await httpRun(sorted[0]!));
    let queue: PathResult;
    if (!ctx.env["EVENTS_QUEUE_URL"]) {
      queue = { path: "queue", events: 0, calls: 0, concurrency: 0, wallMs: 0, eventsPerSecond: 0, skipped: "no events queue" };
    } else {
      const { user, journeys } = await setup();
      try {
        queue = await viaQueue(ctx, doc, user, journeys, total, tracer);
      } catch (err) {
        queue = failed("queue", QUEUE_SENDERS, err);
      }
      await tracer.quiet(2_000);
    }
    for (const c of sorted.slice(1)) http.set(c, await httpRun(c));
    const httpResults = clientCounts.map((c) => http.get(c)!);

    const mix = new Map<string, number>();
    for (const e of eventMix(total, [{ journeyId: 1, actionIds: [1] }], "ev")) mix.set(String(e["Type"]), (mix.get(String(e["Type"])) ?? 0) + 1);

    const rows: string[][] = [];
    for (const h of httpResults) {
      const label = `HTTP POST journey.events, ${h.concurrency} client${h.concurrency === 1 ? "" : "s"}`;
      if (h.error) {
        rows.push([label, String(h.events), "—", "—", "—", "not measured (see notes)"]);
        continue;
      }
      const r = h.requests!;
      rows.push([
        label,
        String(h.events),
        `${r.batches} POST × ≤${HTTP_BATCH} events${r.failed.length ? ` (+${r.failed.length} re-sent after a 5xx)` : ""}`,
        `${(r.okMedianMs / 1000).toFixed(1)} / ${(r.okMaxMs / 1000).toFixed(1)} s`,
        (h.wallMs / 1000).toFixed(2),
        h.eventsPerSecond.toFixed(1),
      ]);
    }
    const queueLabel = "events queue → worker (1 poller)";
    if (queue.skipped) rows.push([queueLabel, "—", "—", "—", "—", `skipped: ${queue.skipped}`]);
    else if (queue.error) rows.push([queueLabel, String(queue.events), "—", "—", "—", "not measured (see notes)"]);
    else
      rows.push([
        queueLabel,
        String(queue.events),
        `${queue.calls} SendMessageBatch × 10 msgs × ≤${MESSAGE_EVENTS} events, ${QUEUE_SENDERS} senders`,
        `sends ${((queue.sendMs ?? 0) / 1000).toFixed(2)} s`,
        (queue.wallMs / 1000).toFixed(2),
        queue.eventsPerSecond.toFixed(1),
      ]);

    const notes = [
      `Event mix (${total} events per run, seeded PRNG, identical for every run): ${[...mix].map(([t, c]) => `${t} ${c}`).join(", ")}; ` +
        `${JOURNEYS} journeys × ${ACTIONS_PER_JOURNEY} SendEmail actions, ${ISPS.length} ISPs, ${DAYS} days; one user per run; one stream in the order the events happened (opens up to ~30 h after the send).`,
      "HTTP: wall time from the first POST to the last response (each client posts its next batch when the previous one is answered); the command applies every event before answering, and the lifetime rollups are checked to count every event. Request time: median / max of the requests answered 200.",
      `HTTP 5xx answers (the local gateway's 29 s Lambda timeout) are re-sent up to ${HTTP_ATTEMPTS} attempts, as a producer would: EventIDs make that safe, the events the first attempt applied come back as duplicates, and the wall time includes the waste. Unlike Lambda, the local gateway does not kill a timed-out handler, so its work goes on beside the re-send.`,
      "Queue: wall time from the first SendMessageBatch until the lifetime rollups count every event and the queue is empty. The local event source mapping is ONE poller (receive ≤10 messages, run the worker, delete, repeat; the worker runs 4 records at a time); on AWS, Lambda scales out pollers and concurrent batches, so this is a one-consumer figure.",
      "Everything but DynamoDB Local (a Java child process) runs in this one Node process: clients, gateway, handlers, fauxqs, poller. One warm-up per run (50 events on a journey of its own) before timing, not counted.",
      `Load average when the section started: ${loadAtStart}; when it ended: ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}.`,
    ];
    for (const h of httpResults) if (h.error) notes.push(`HTTP with ${h.concurrency} clients could not be measured: ${h.error}`);
    if (queue.error) notes.push(`Queue path could not be measured: ${queue.error}`);

    const details = ["Transactions behind the figures (a middleware on the handlers' DynamoDB client, during the timed part only):"];
    for (const h of httpResults) if (h.tx) details.push(...describeTx(`HTTP, ${h.concurrency} client${h.concurrency === 1 ? "" : "s"}`, h.events, h.tx));
    if (queue.tx) details.push(...describeTx("queue", queue.events, queue.tx));

    const clean = (r: PathResult) => ({
      ...r,
      wallMs: round2(r.wallMs),
      eventsPerSecond: round2(r.eventsPerSecond),
      ...(r.sendMs !== undefined ? { sendMs: round2(r.sendMs) } : {}),
      ...(r.tx ? { tx: { ...r.tx, medianMs: round2(r.tx.medianMs) } } : {}),
    });
    return {
      id: "ingest",
      title: `Ingest throughput: HTTP vs events queue (${total} events per run)`,
      columns: ["path", "events", "calls", "request / send time", "wall s", "events/s"],
      align: ["l", "r", "l", "l", "r", "r"],
      rows,
      notes,
      details,
      data: { total, mix: Object.fromEntries(mix), http: httpResults.map(clean), queue: clean(queue) },
    };
  } finally {
    tracer.stop();
    doc.destroy();
  }
}
