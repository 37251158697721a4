import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DdbObserver } from "../../shared/aws.js";
import { cursorsOf, startEngineStack, subscriber, type EngineStack } from "../support/engine.js";

/**
 * ENGINE §11: a waiting enrolment costs 0 reads and 0 writes between its scheduling
 * write and its due minute. A subscriber waits a day; for ~10 s of real time, while
 * the local sweeper ticks every LOCAL_SWEEP_MS (500 ms here), every DynamoDB call of
 * the process is recorded through the process-wide observer of shared/aws.ts (the
 * handlers and the sweeper run in this process, possibly as another instance of that
 * module, which is why the observer lives on globalThis). No call may name the
 * subscriber's partition, its cursor, or bring the cursor back in a result, and the
 * sweeper's calls must be due-index queries and watermark reads and writes only.
 */
let engine: EngineStack;
beforeAll(async () => {
  engine = await startEngineStack();
}, 120_000);
afterAll(async () => {
  delete (globalThis as { __journeyDdbObserver?: DdbObserver }).__journeyDdbObserver;
  await engine?.stop();
});

interface Call {
  command: string;
  /** The partitions and item keys the request names (`PK|SK`, or `PK|*` for a Query). */
  keys: string[];
  index?: string;
  /** Item keys in the response (Query and Get results). */
  returned: string[];
}

const keyText = (k: unknown): string => {
  const o = (k ?? {}) as { PK?: unknown; SK?: unknown };
  return `${String(o.PK)}|${String(o.SK)}`;
};

/** Every key a request names, whatever its shape. */
function keysOf(command: string, input: Record<string, unknown>): string[] {
  const out: string[] = [];
  if (input["Key"]) out.push(keyText(input["Key"]));
  if (input["Item"]) out.push(keyText(input["Item"]));
  const values = input["ExpressionAttributeValues"] as Record<string, unknown> | undefined;
  if (command.startsWith("Query") && values?.[":pk"] !== undefined) out.push(`${String(values[":pk"])}|*`);
  for (const t of (input["TransactItems"] as Record<string, { Key?: unknown; Item?: unknown }>[] | undefined) ?? []) {
    for (const op of Object.values(t)) out.push(keyText(op.Key ?? op.Item));
  }
  for (const table of Object.values((input["RequestItems"] as Record<string, unknown> | undefined) ?? {})) {
    if (Array.isArray(table)) {
      // BatchWrite: [{PutRequest: {Item}} | {DeleteRequest: {Key}}]
      for (const r of table as Record<string, { Item?: unknown; Key?: unknown }>[]) for (const op of Object.values(r)) out.push(keyText(op.Key ?? op.Item));
    } else {
      // BatchGet: {Keys: [...]}
      for (const k of ((table as { Keys?: unknown[] }).Keys ?? [])) out.push(keyText(k));
    }
  }
  return out;
}

function returnedOf(output: Record<string, unknown> | undefined): string[] {
  if (!output) return [];
  const items = [...((output["Items"] as unknown[] | undefined) ?? []), ...(output["Item"] ? [output["Item"]] : [])];
  for (const rs of Object.values((output["Responses"] as Record<string, unknown[]> | undefined) ?? {})) if (Array.isArray(rs)) items.push(...rs);
  return items.map(keyText);
}

describe("a waiting enrolment", () => {
  it("costs no read and no write while it waits, and the sweeper only queries the due index and its watermarks", { timeout: 240_000 }, async () => {
    const user = await engine.user();
    const list = Number((await user.post("/api/v1/list", { SubscriberListName: "W" })).body["ListID"]);
    const created = await user.post("/api/v1/journey", { Name: "Wait a day" });
    const journeyId = Number(created.body["JourneyID"]);
    const upd = await user.patch("/api/v1/journey.actions", {
      JourneyID: journeyId,
      Actions: [
        { Action: "Wait", WaitUnit: "days", WaitAmount: 1, Published: true },
        { Action: "Debug", DebugMessage: "after the wait", Published: true },
      ],
    });
    expect(upd.status, upd.text).toBe(200);
    expect((await user.get("/api/v1/journey.enable", { JourneyID: journeyId })).status).toBe(200);
    const sid = await subscriber(user, list, "waiting@example.com");
    const trig = await user.post("/api/v1/subscriber.journey.trigger", { JourneyID: journeyId, ListID: list, SubscriberID: sid });
    expect(trig.status, trig.text).toBe(200);
    await engine.idle();

    const { keys } = await import("../../shared/keys.js");
    const partition = keys.subscriberPartition(user.userId, sid);
    const [cursor] = await cursorsOf(user.userId, sid);
    expect(cursor?.["State"]).toBe("Active");
    expect((cursor?.["Steps"] as { Action: string; Outcome: string }[]).map((s) => `${s.Action}:${s.Outcome}`)).toEqual(["Wait:Waiting"]);
    const cursorKey = keyText(cursor);
    // journey.enable started a Resume job, whose re-checks (every LOCAL_SWEEP_MS) run until a pass
    // 60 s after the enable finds nothing: a cost of the journey, not of the enrolment. The window
    // starts once the job has cleared its entry from the journey item's outbox.
    const { getConsistent } = await import("../../shared/engine/store.js");
    const deadline = Date.now() + 150_000;
    const jobs = async () => Object.values(((await getConsistent(keys.journey(user.userId, journeyId)))?.["Outbox"] ?? {}) as { Kind?: string }[]).filter((e) => e.Kind === "Job");
    while ((await jobs()).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2000));
    expect(await jobs(), "the enable's Resume job still running").toEqual([]);
    await engine.idle();

    // The sweeper's primary and recovery passes query the due index once a product minute (the
    // clock is not moved here, so once a real minute); its other ticks read the watermarks. The
    // 10 s window straddles a minute boundary so that it holds both kinds of call.
    const second = new Date().getUTCSeconds();
    await new Promise((r) => setTimeout(r, (((55 - second) % 60) + 60) % 60 * 1000));

    const calls: Call[] = [];
    (globalThis as { __journeyDdbObserver?: DdbObserver }).__journeyDdbObserver = (command, input, output) => {
      calls.push({ command, keys: keysOf(command, input), returned: returnedOf(output), ...(input["IndexName"] ? { index: String(input["IndexName"]) } : {}) });
    };
    const sweepMs = Number(process.env["LOCAL_SWEEP_MS"]);
    await new Promise((r) => setTimeout(r, 10_000));
    delete (globalThis as { __journeyDdbObserver?: DdbObserver }).__journeyDdbObserver;

    // The sweeper ran: its watermark reads on every tick, and a minute's due-index queries (16 shards).
    const dueQueries = calls.filter((c) => c.command.startsWith("Query") && c.index === "DueIndex");
    expect(calls.length, "calls in the window").toBeGreaterThanOrEqual(Math.floor(10_000 / sweepMs / 2));
    expect(dueQueries.length, `due-index queries; calls: ${JSON.stringify(calls.slice(0, 5))}`).toBeGreaterThanOrEqual(16);

    const touching = calls.filter((c) => c.keys.some((k) => k.startsWith(`${partition}|`)) || c.returned.includes(cursorKey));
    expect(touching, "calls that named or returned the waiting subscriber's items").toEqual([]);

    // Everything else is the sweeper's: due-index queries and its per-shard watermarks (ENGINE#SWEEP).
    const watermark = (k: string) => k.startsWith("ENGINE#SWEEP|");
    const other = calls.filter((c) => !(c.command.startsWith("Query") && c.index === "DueIndex") && !(c.keys.length > 0 && c.keys.every(watermark)));
    expect(other, "calls other than due-index queries and watermark reads/writes").toEqual([]);

    // The cursor is untouched: same Version, still waiting.
    const [after] = await cursorsOf(user.userId, sid);
    expect(after?.["Version"]).toBe(cursor?.["Version"]);
    console.log(
      `waiting enrolment: ${calls.length} DynamoDB calls in 10 s (${dueQueries.length} due-index queries, ${calls.length - dueQueries.length} watermark calls), 0 on the subscriber's partition`,
    );
  });
});
