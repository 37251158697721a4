import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { LAMBDA_RESPONSE_LIMIT_BYTES } from "../shared/http/payload-limit.js";
import { keys } from "../shared/keys.js";
import { benchDocClient } from "./counters.js";
import { createBenchUser, dayAgo, ingestAll, seedJourneys } from "./seed.js";
import type { Section } from "./section.js";
import type { BenchContext } from "./stack-context.js";
import { envInt, median, ms, p95, round2 } from "./stats.js";

/**
 * journey.list at 1,000 journeys, through the local gateway, against its floor:
 * one GetItem made directly with a DynamoDB document client against the same
 * DynamoDB Local. The goal is a list p50 within 4× the GetItem p50.
 */
const GOAL = 4;
const WARM_UPS = 3;
const DAYS = 3;
/** The paged variant's RecordsPerRequest. */
const PAGE_SIZE = 100;

/**
 * A journey.list request (with its query), or the floor when id is "getitem". A paged
 * variant asks for `pageSize` journeys from a RecordsFrom that moves on by a page at
 * every request, so its figure is per page across the whole list, not the first page's.
 */
interface Variant {
  id: string;
  label: string;
  query?: Record<string, string>;
  pageSize?: number;
}

interface Sample {
  ms: number;
  /** The body decoded (fetch undoes the gzip). */
  bytes: number;
  /** The body as sent (Content-Length: gzipped when the handler compressed it). */
  wire: number;
}

/** One DynamoDB call the handlers made, as seen by a middleware on the shared client. */
interface Call {
  name: string;
  what: string;
  start: number;
  end: number;
  items?: number;
  more?: boolean;
}

const str = (v: unknown): string => (typeof v === "object" && v !== null && "S" in v ? String((v as { S: unknown }).S) : String(v));

function describeCall(name: string, input: Record<string, unknown>): string {
  const values = input["ExpressionAttributeValues"] as Record<string, unknown> | undefined;
  if (values?.[":a"] !== undefined) {
    const from = str(values[":a"]);
    if (from.startsWith("JD#")) return `days ${from}…`;
    if (from.startsWith("JL#")) return "lifetime rollups JL#";
    return `range ${from}`;
  }
  if (values?.[":prefix"] !== undefined || values?.[":p"] !== undefined) return `prefix ${str(values[":prefix"] ?? values[":p"])}`;
  const key = input["Key"] as Record<string, unknown> | undefined;
  if (key?.["PK"] !== undefined) return `${name} ${str(key["PK"]).split("#")[0]}#…`;
  return name;
}

/** Wall time covered by at least one call: with parallel calls, the DynamoDB part of the critical path. */
function unionMs(calls: Call[]): number {
  const s = [...calls].sort((a, b) => a.start - b.start);
  let total = 0;
  let curStart = -Infinity;
  let curEnd = -Infinity;
  for (const c of s) {
    if (c.start > curEnd) {
      if (curEnd > curStart) total += curEnd - curStart;
      curStart = c.start;
      curEnd = c.end;
    } else curEnd = Math.max(curEnd, c.end);
  }
  if (curEnd > curStart) total += curEnd - curStart;
  return total;
}

export async function benchListLatency(ctx: BenchContext): Promise<Section> {
  const journeyCount = envInt("BENCH_LIST_JOURNEYS", 1_000);
  const n = envInt("BENCH_LIST_REQUESTS", 30);
  const doc = benchDocClient(ctx);
  const table = ctx.env["TABLE_NAME"]!;
  try {
    // ---- Seed: one user, N journeys of one SendEmail action, a few events over a few days.
    const seedStart = performance.now();
    const user = await createBenchUser();
    const journeys = await seedJourneys(user.userId, journeyCount, 1, 16);
    const days = Array.from({ length: DAYS }, (_, i) => dayAgo(DAYS + 2 - i));
    const events: Record<string, unknown>[] = [];
    journeys.forEach((j, i) => {
      const sub = (k: number) => i * 10 + k;
      const base = { JourneyID: j.journeyId };
      const mail = { ...base, ActionID: j.actionIds[0]! };
      const email = (k: number) => `s${sub(k)}@${["gmail.com", "yahoo.com", "outlook.com"][(i + k) % 3]}`;
      events.push(
        { EventID: `l-${i}-e1`, Type: "Enrolled", ...base, SubscriberID: sub(1), EmailAddress: email(1), OccurredAt: `${days[0]} 09:00:00` },
        { EventID: `l-${i}-s1`, Type: "Sent", ...mail, SubscriberID: sub(1), EmailAddress: email(1), OccurredAt: `${days[0]} 09:01:00` },
        { EventID: `l-${i}-d1`, Type: "Delivered", ...mail, SubscriberID: sub(1), EmailAddress: email(1), OccurredAt: `${days[0]} 09:02:00` },
        { EventID: `l-${i}-s2`, Type: "Sent", ...mail, SubscriberID: sub(2), EmailAddress: email(2), OccurredAt: `${days[1]} 10:00:00` },
        { EventID: `l-${i}-o1`, Type: "Opened", ...mail, SubscriberID: sub(1), EmailAddress: email(1), OccurredAt: `${days[2]} 11:00:00` },
      );
    });
    await ingestAll(user.userId, events, 4);
    const seedMs = performance.now() - seedStart;

    // ---- Measure, interleaved: each round makes one request of every variant, so a
    // slow spell of the machine is shared rather than landing on one variant.
    const window = { StatsStartDate: days[0]!, StatsEndDate: days[DAYS - 1]! };
    const variants: Variant[] = [
      { id: "default", label: "journey.list (default 31-day window)", query: {} },
      { id: "page", label: `journey.list, one page of ${PAGE_SIZE} (default window; RecordsFrom moves on a page each request)`, query: {}, pageSize: PAGE_SIZE },
      { id: "window", label: `journey.list (StatsStartDate..EndDate, ${DAYS} days)`, query: window },
      { id: "skip", label: "journey.list SkipStats=1", query: { SkipStats: "1" } },
      { id: "getitem", label: "floor: GetItem (document client, direct)" },
    ];
    const floorKey = keys.journey(user.userId, journeys[Math.floor(journeys.length / 2)]!.journeyId);
    const listUrl = (q: Record<string, string>) => {
      const u = new URL("/api/v1/journeys", ctx.url);
      for (const [k, v] of Object.entries(q)) u.searchParams.set(k, v);
      return u;
    };
    let pageTurn = 0;
    const queryOf = (v: Variant): Record<string, string> => {
      if (!v.pageSize) return v.query ?? {};
      const from = (pageTurn++ * v.pageSize) % journeyCount;
      return { ...v.query, RecordsPerRequest: String(v.pageSize), RecordsFrom: String(from) };
    };
    const firstBody = new Map<string, string>();
    const encodings = new Set<string>();
    const once = async (v: Variant): Promise<Sample> => {
      if (v.id === "getitem") {
        const t0 = performance.now();
        const out = await doc.send(new GetCommand({ TableName: table, Key: floorKey }));
        const t = performance.now() - t0;
        if (!out.Item) throw new Error("GetItem floor: the seeded journey was not found");
        const bytes = JSON.stringify(out.Item).length;
        return { ms: t, bytes, wire: bytes };
      }
      const url = listUrl(queryOf(v));
      const t0 = performance.now();
      const res = await fetch(url, { headers: { APIKey: user.apiKey } });
      const buf = await res.arrayBuffer();
      const t = performance.now() - t0;
      if (res.status !== 200) throw new Error(`${v.label} answered ${res.status}: ${Buffer.from(buf).toString("utf8").slice(0, 300)}`);
      if (!firstBody.has(v.id)) firstBody.set(v.id, Buffer.from(buf).toString("utf8"));
      encodings.add(res.headers.get("content-encoding") ?? "none");
      return { ms: t, bytes: buf.byteLength, wire: Number(res.headers.get("content-length") ?? buf.byteLength) };
    };
    const samples = new Map<string, Sample[]>(variants.map((v) => [v.id, []]));
    for (let round = 0; round < WARM_UPS + n; round++) {
      for (const v of variants) {
        const s = await once(v);
        if (round >= WARM_UPS) samples.get(v.id)!.push(s);
      }
    }

    // ---- Sanity: every journey listed, the stats add up to what was seeded.
    for (const v of variants) {
      if (v.id === "getitem") continue;
      const body = JSON.parse(firstBody.get(v.id)!) as {
        Journeys: { JourneyStats?: { AggregatedEmailActions: Record<string, number>; AggregatedDaysEmailActions: Record<string, number>[] } }[];
        TotalJourneys?: number;
      };
      // The first page (RecordsFrom 0) holds pageSize journeys; an unpaged list holds them all.
      const listed = Math.min(v.pageSize ?? journeyCount, journeyCount);
      if (body.Journeys.length !== listed) throw new Error(`${v.label}: ${body.Journeys.length} journeys listed, ${listed} expected`);
      if (v.pageSize && body.TotalJourneys !== journeyCount) throw new Error(`${v.label}: TotalJourneys ${body.TotalJourneys}, ${journeyCount} seeded`);
      if (v.id === "skip") {
        if (body.Journeys.some((j) => j.JourneyStats)) throw new Error("SkipStats=1 still returned JourneyStats");
        continue;
      }
      const lifetimeSent = body.Journeys.reduce((s, j) => s + Number(j.JourneyStats?.AggregatedEmailActions["SendCount"] ?? 0), 0);
      const windowSent = body.Journeys.reduce(
        (s, j) => s + (j.JourneyStats?.AggregatedDaysEmailActions ?? []).reduce((t, d) => t + Number(d["SendCount"] ?? 0), 0),
        0,
      );
      if (lifetimeSent !== 2 * listed || windowSent !== 2 * listed) {
        throw new Error(`${v.label}: SendCount lifetime ${lifetimeSent}, in window ${windowSent}; expected ${2 * listed} each`);
      }
    }

    // ---- Where the time goes: a few more requests with a tracing middleware on the
    // handlers' own DynamoDB client (the gateway runs them in this process), removed after.
    const details = await trace(ctx, user.apiKey, variants, (v) => listUrl(queryOf(v)), firstBody);

    const floorP50 = median(samples.get("getitem")!.map((s) => s.ms));
    const results = variants.map((v) => {
      const xs = samples.get(v.id)!;
      const times = xs.map((s) => s.ms);
      const p50 = median(times);
      const ratio = p50 / floorP50;
      return {
        id: v.id,
        label: v.label,
        p50,
        p95: p95(times),
        ratio,
        bytes: median(xs.map((s) => s.bytes)),
        wire: median(xs.map((s) => s.wire)),
        pass: v.id === "getitem" ? null : ratio <= GOAL,
        samples: times.map(round2),
      };
    });

    return {
      id: "list-latency",
      title: `journey.list latency at ${journeyCount.toLocaleString("en-US")} journeys, relative to one GetItem`,
      columns: ["request", "p50 ms", "p95 ms", "×GetItem p50", "response bytes", `goal ≤${GOAL}×`],
      align: ["l", "r", "r", "r", "r", "l"],
      rows: results.map((r) => [
        r.label,
        ms(r.p50),
        ms(r.p95),
        `${r.ratio.toFixed(1)}×`,
        r.id === "getitem" ? `(item ${r.bytes})` : r.bytes.toLocaleString("en-US"),
        r.pass === null ? "—" : r.pass ? "PASS" : "FAIL",
      ]),
      notes: [
        `Seeded in-process through the domain functions in ${(seedMs / 1000).toFixed(1)} s: one user, ${journeyCount} enabled journeys with one SendEmail action each, ` +
          `${events.length} events (Enrolled, Sent ×2, Delivered, Opened per journey) on ${days.join(", ")}.`,
        `${n} sequential requests per row after ${WARM_UPS} uncounted warm-ups, interleaved round by round; list requests go through the local HTTP gateway with an APIKey header (rate limit raised so it never throttles); p95 is nearest-rank${n < 20 ? " (the maximum with so few samples)" : ""}.`,
        "The floor is one GetItem of a journey item, made directly with a DynamoDBDocumentClient against the same DynamoDB Local: no HTTP, no auth, no rate-limit write.",
        `Goal: journey.list p50 within ${GOAL}× the GetItem p50.`,
        pagedNote(results, journeyCount),
        `Response bytes are the body decoded; fetch sends Accept-Encoding: gzip, and bodies came back with Content-Encoding: ${[...encodings].join(", ")}.` +
          results
            .filter((r) => r.id !== "getitem" && r.bytes > LAMBDA_RESPONSE_LIMIT_BYTES)
            .map(
              (r) =>
                ` ${r.label} is ${(r.bytes / 2 ** 20).toFixed(1)} MiB decoded, ${(r.wire / 1024).toFixed(0)} KiB gzipped on the wire: over Lambda's 6 MB response limit uncompressed, ` +
                "so a client that does not accept gzip gets 413 / 99997 (page, narrow the window or SkipStats=1) instead of API Gateway's 5xx.",
            )
            .join(""),
      ],
      details,
      data: { journeys: journeyCount, requests: n, warmUps: WARM_UPS, goal: GOAL, seedMs: round2(seedMs), days, results },
    };
  } finally {
    doc.destroy();
  }
}

/** The paged figure beside the unpaged one: what one page costs, and what a walk of every page adds up to. */
function pagedNote(results: { id: string; p50: number }[], journeyCount: number): string {
  const page = results.find((r) => r.id === "page")!;
  const whole = results.find((r) => r.id === "default")!;
  const pages = Math.ceil(journeyCount / PAGE_SIZE);
  return (
    `Paged: one page of ${PAGE_SIZE} has a p50 of ${ms(page.p50)} ms against ${ms(whole.p50)} ms for the unpaged list (${(page.p50 / whole.p50).toFixed(2)}×); ` +
    `every page reads all ${journeyCount} journey items (DynamoDB cannot skip to an offset) but only its own rollups, so a walk of all ${pages} pages costs about ${ms(page.p50 * pages)} ms.`
  );
}

const TRACE_REQUESTS = 5;

async function trace(
  ctx: BenchContext,
  apiKey: string,
  variants: Variant[],
  urlOf: (v: Variant) => URL,
  firstBody: Map<string, string>,
): Promise<string[]> {
  const aws = await import("../shared/aws.js");
  const client = aws.ddb();
  const calls: Call[] = [];
  const NAME = "bench-list-trace";
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const start = performance.now();
      const out = await next(args);
      const o = out.output as { Items?: unknown[]; LastEvaluatedKey?: unknown };
      calls.push({
        name: String(context.commandName).replace(/Command$/, ""),
        what: describeCall(String(context.commandName).replace(/Command$/, ""), args.input as Record<string, unknown>),
        start,
        end: performance.now(),
        ...(o.Items ? { items: o.Items.length, more: o.LastEvaluatedKey !== undefined } : {}),
      });
      return out;
    },
    { step: "initialize", name: NAME },
  );
  const lines: string[] = [
    `Where the time goes (median of ${TRACE_REQUESTS} traced requests per variant, after the timed ones; DynamoDB calls seen by a middleware on the handlers' client):`,
  ];
  try {
    for (const v of variants) {
      if (v.id === "getitem") continue;
      const per: { total: number; ddb: number; calls: Call[] }[] = [];
      for (let i = 0; i < TRACE_REQUESTS; i++) {
        calls.splice(0);
        const t0 = performance.now();
        const res = await fetch(urlOf(v), { headers: { APIKey: apiKey } });
        await res.arrayBuffer();
        const total = performance.now() - t0;
        per.push({ total, ddb: unionMs(calls), calls: [...calls] });
      }
      if (per.every((p) => p.calls.length === 0)) {
        lines.push(`  ${v.label}: no DynamoDB calls captured (the handlers use another client instance); trace skipped`);
        continue;
      }
      const total = median(per.map((p) => p.total));
      const dd = median(per.map((p) => p.ddb));
      lines.push(`  ${v.label}: ${ms(total)} ms at the client; DynamoDB critical path ${ms(dd)} ms; the rest (HTTP, handler JS, JSON) ${ms(total - dd)} ms`);
      // Group the calls by what they read; pages of one query share a label.
      const byWhat = new Map<string, { count: number; items: number; ms: number[] }>();
      for (const p of per) {
        const local = new Map<string, { count: number; items: number; ms: number }>();
        for (const c of p.calls) {
          const g = local.get(c.what) ?? { count: 0, items: 0, ms: 0 };
          g.count++;
          g.items += c.items ?? 0;
          g.ms += c.end - c.start;
          local.set(c.what, g);
        }
        for (const [what, g] of local) {
          const agg = byWhat.get(what) ?? { count: g.count, items: g.items, ms: [] };
          agg.ms.push(g.ms);
          byWhat.set(what, agg);
        }
      }
      for (const [what, g] of byWhat) {
        lines.push(
          `    ${what.padEnd(30)} ${String(g.count).padStart(2)} call${g.count === 1 ? " " : "s"}  ${String(g.items).padStart(5)} items  ${ms(median(g.ms)).padStart(7)} ms (sum of its calls, median)`,
        );
      }
      const body = firstBody.get(v.id);
      if (body) {
        const t0 = performance.now();
        const parsed = JSON.parse(body) as unknown;
        const parseMs = performance.now() - t0;
        const t1 = performance.now();
        JSON.stringify(parsed);
        const stringifyMs = performance.now() - t1;
        lines.push(
          `    JSON of ${Buffer.byteLength(body).toLocaleString("en-US")} bytes: JSON.stringify ${ms(stringifyMs)} ms, JSON.parse ${ms(parseMs)} ms (one run here, as a guide to the handler's serialising cost)`,
        );
      }
    }
  } finally {
    client.middlewareStack.remove(NAME);
  }
  return lines;
}
