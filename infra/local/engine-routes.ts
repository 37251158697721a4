import { readFileSync, writeFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { timingSafeEqual } from "node:crypto";
import { GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import { ddb, tableName } from "../../shared/aws.js";
import { clockOffsetSeconds, productEpoch, setClockOffsetSeconds } from "../../shared/clock.js";
import { DUE_INDEX } from "../../shared/keys.js";
import { dueOfSk, dueShards } from "../../shared/engine/due.js";
import { armFault, clearFaults, FAULT_POINTS, type FaultPoint } from "../../shared/engine/faults.js";
import { hand, recover, RECOVERY_LAG_MINUTES, writeMark } from "../../shared/engine/sweeper.js";
import { localRechecksPending } from "../../shared/engine/jobs.js";
import type { Item } from "../../shared/domain/owned.js";
import { clearOutbox, outboxMessage, readOutbox, type OutboxQuery } from "../../shared/delivery/local-outbox.js";
import { putLocalSesEvents, sesMailOf } from "../../shared/delivery/local-ses.js";
import { sesEvent, type BounceType, type SesEventType } from "../../shared/delivery/ses-shape.js";
import { formatDateTime, parseDateTime } from "../../shared/time.js";

/**
 * The engine's local-only test surface (ENGINE §9): `/_local/clock`,
 * `/_local/engine`, `/_local/faults`, `/_local/outbox` and `/_local/ses/events`. It exists only in the local gateway and
 * only under ENGINE_LOCAL_ROUTES=1: outside the command registry, so neither CDK
 * nor `/api.php` can ever serve it. Every route needs the AdminAPIKey header.
 */
export interface EngineRoutesOptions {
  adminKey: string;
  sqsEndpoint: string;
  region: string;
  queues: { steps: string; events: string; sesEvents?: string };
  /** Where the clock offset survives a restart (under DATA_DIR); none keeps it in memory. */
  clockFile?: string;
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Content-Length": String(Buffer.byteLength(text)) });
  res.end(text);
};

const invalid = (res: ServerResponse, name: string) =>
  json(res, 422, { Success: false, Errors: [{ Code: 1, Message: `Invalid ${name} parameter` }] });

function adminOk(req: IncomingMessage, key: string): boolean {
  const given = req.headers["adminapikey"];
  if (typeof given !== "string") return false;
  const a = Buffer.from(given);
  const b = Buffer.from(key);
  return a.length === b.length && timingSafeEqual(a, b);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8").trim();
  if (text === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The kinds `/_local/ses/events` injects: everything SES publishes after the Send, which the local sender puts itself. */
const INJECTED_SES_TYPES: readonly SesEventType[] = ["Delivery", "Open", "Click", "Bounce", "Complaint", "Reject", "RenderingFailure"];

/**
 * `POST /_local/ses/events`: one SES event for a message of the local outbox, put on the
 * SES events queue exactly as the local sender puts its own, so it travels the adapter
 * and ingest as SES's would. Recipients default to the To address; a CC's are allowed,
 * which the adapter must then drop (§8.3's recipient rule).
 */
async function injectSesEvent(res: ServerResponse, body: unknown): Promise<void> {
  const o = body && typeof body === "object" && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
  const messageId = o?.["MessageId"];
  if (typeof messageId !== "string" || messageId === "") return invalid(res, "MessageId");
  const type = o?.["Type"];
  if (typeof type !== "string" || !INJECTED_SES_TYPES.includes(type as SesEventType)) return invalid(res, "Type");
  const link = o?.["Link"];
  if (link !== undefined && (typeof link !== "string" || link === "")) return invalid(res, "Link");
  const bounceType = o?.["BounceType"];
  if (bounceType !== undefined && bounceType !== "Permanent" && bounceType !== "Transient") return invalid(res, "BounceType");
  const recipients = o?.["Recipients"];
  if (
    recipients !== undefined &&
    (!Array.isArray(recipients) || recipients.length === 0 || recipients.length > 50 || recipients.some((r) => typeof r !== "string" || r === ""))
  ) {
    return invalid(res, "Recipients");
  }
  const message = outboxMessage(messageId);
  if (!message || message.Channel !== "email") {
    return json(res, 404, { Success: false, Errors: [{ Code: 2, Message: "Message not found in the local outbox" }] });
  }
  const event = sesEvent(sesMailOf(message), {
    type: type as SesEventType,
    at: new Date(productEpoch() * 1000),
    ...(recipients !== undefined ? { recipients: recipients as string[] } : {}),
    ...(bounceType !== undefined ? { bounceType: bounceType as BounceType } : {}),
    ...(link !== undefined ? { link } : {}),
  });
  await putLocalSesEvents([event]);
  json(res, 200, { Queued: 1 });
}

/** Every due-index entry (one paginated Scan of the index: local only). */
async function allDueEntries(): Promise<Item[]> {
  const items: Item[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await ddb().send(new ScanCommand({ TableName: tableName(), IndexName: DUE_INDEX.name, ExclusiveStartKey: start }));
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}

/**
 * After the clock moved: hands every entry due by now + 60 s, Queued ones included
 * (their delayed messages were timed on the old clock), moving those 5 minutes or
 * more overdue as recovery does, then moves both watermarks past what was handed.
 */
async function handAfterClockMove(now: number): Promise<number> {
  let handed = 0;
  for (const entry of await allDueEntries()) {
    const due = dueOfSk(String(entry["DueSK"]));
    if (due > now + 60) continue;
    if (due <= now - RECOVERY_LAG_MINUTES * 60) {
      if (await recover(entry, now)) handed += 1;
    } else {
      await hand(entry, now);
      handed += 1;
    }
  }
  const m = Math.floor(now / 60);
  await Promise.all(
    Array.from({ length: dueShards() }, async (_, shard) => {
      await writeMark("primary", shard, m + 1);
      await writeMark("recovery", shard, m - RECOVERY_LAG_MINUTES);
    }),
  );
  return handed;
}

const positive = (v: string | null): number | undefined | null => {
  if (v === null) return undefined;
  return /^\d+$/.test(v) && Number(v) > 0 ? Number(v) : null;
};

/** `GET /_local/outbox` (filters: Channel, To, JourneyID, SubscriberID, AfterSeq) and `DELETE /_local/outbox` (§9). */
function outboxRoute(req: IncomingMessage, res: ServerResponse, method: string): void {
  if (method === "DELETE") return json(res, 200, { Deleted: clearOutbox() });
  const q = new URL(req.url ?? "/", "http://local").searchParams;
  const channel = q.get("Channel");
  if (channel !== null && channel !== "email" && channel !== "sms") return invalid(res, "Channel");
  const to = q.get("To");
  if (to !== null && to.trim() === "") return invalid(res, "To");
  const query: OutboxQuery = {};
  if (channel) query.Channel = channel;
  if (to) query.To = to.trim();
  for (const name of ["JourneyID", "SubscriberID"] as const) {
    const n = positive(q.get(name));
    if (n === null) return invalid(res, name);
    if (n !== undefined) query[name] = n;
  }
  const after = q.get("AfterSeq");
  if (after !== null) {
    if (!/^\d+$/.test(after)) return invalid(res, "AfterSeq");
    query.AfterSeq = Number(after);
  }
  return json(res, 200, readOutbox(query));
}

export function engineRoutes(opts: EngineRoutesOptions) {
  const sqs = new SQSClient({ endpoint: opts.sqsEndpoint, region: opts.region, credentials: { accessKeyId: "local", secretAccessKey: "local" } });
  if (opts.clockFile) {
    try {
      const saved = JSON.parse(readFileSync(opts.clockFile, "utf8")) as { OffsetSeconds?: number };
      if (Number.isInteger(saved.OffsetSeconds) && saved.OffsetSeconds! > 0) setClockOffsetSeconds(saved.OffsetSeconds!);
    } catch {
      // No saved clock yet.
    }
  }
  const saveClock = () => {
    if (opts.clockFile) writeFileSync(opts.clockFile, JSON.stringify({ OffsetSeconds: clockOffsetSeconds() }));
  };
  const clockView = () => ({ Now: formatDateTime(new Date(productEpoch() * 1000)), OffsetSeconds: clockOffsetSeconds() });

  async function counts(url: string) {
    const out = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"],
      }),
    );
    const a = out.Attributes ?? {};
    return {
      visible: Number(a["ApproximateNumberOfMessages"] ?? 0),
      inFlight: Number(a["ApproximateNumberOfMessagesNotVisible"] ?? 0),
      delayed: Number(a["ApproximateNumberOfMessagesDelayed"] ?? 0),
    };
  }

  /** Handles a `/_local/...` request; false when the path is not one of these routes. */
  return async function handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    if (!path.startsWith("/_local/")) return false;
    const route = path.slice("/_local/".length);
    const method = (req.method ?? "GET").toUpperCase();
    const known = { clock: ["GET", "POST"], engine: ["GET"], faults: ["POST", "DELETE"], outbox: ["GET", "DELETE"], "ses/events": ["POST"] } as Record<string, string[]>;
    if (!known[route]?.includes(method)) return false;
    if (!adminOk(req, opts.adminKey)) {
      json(res, 401, { Success: false, Errors: [{ Code: 99998, Message: "Authentication failed" }] });
      return true;
    }
    if (route === "clock" && method === "GET") return json(res, 200, clockView()), true;
    if (route === "outbox") return outboxRoute(req, res, method), true;
    if (route === "clock") {
      const body = await readJson(req);
      const o = body && typeof body === "object" && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
      if (!o) return invalid(res, "AdvanceSeconds"), true;
      const hasAdvance = "AdvanceSeconds" in o;
      const hasSet = "SetNow" in o;
      if (hasAdvance === hasSet) return invalid(res, hasSet ? "SetNow" : "AdvanceSeconds"), true;
      const nowMs = Date.now();
      let offset: number;
      if (hasAdvance) {
        const n = o["AdvanceSeconds"];
        if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > 315_360_000) return invalid(res, "AdvanceSeconds"), true;
        offset = clockOffsetSeconds() + n;
      } else {
        const at = typeof o["SetNow"] === "string" ? parseDateTime(o["SetNow"]) : undefined;
        const target = at ? Math.floor(at.getTime() / 1000) : undefined;
        if (target === undefined || target < productEpoch()) return invalid(res, "SetNow"), true;
        // The offset that makes now() the start of that second.
        offset = target - Math.floor(nowMs / 1000);
        if (offset < clockOffsetSeconds()) offset = clockOffsetSeconds();
      }
      setClockOffsetSeconds(offset);
      saveClock();
      const handed = await handAfterClockMove(productEpoch());
      return json(res, 200, { ...clockView(), Handed: handed }), true;
    }
    if (route === "engine") {
      const [steps, events, ses] = await Promise.all([
        counts(opts.queues.steps),
        counts(opts.queues.events),
        opts.queues.sesEvents ? counts(opts.queues.sesEvents) : Promise.resolve({ visible: 0, inFlight: 0, delayed: 0 }),
      ]);
      const now = productEpoch();
      const dueNow = (await allDueEntries()).filter((e) => dueOfSk(String(e["DueSK"])) <= now).length;
      // A resume or purge job's periodic re-checks are delayed messages that do not count against Idle (§5.4).
      steps.delayed = Math.max(0, steps.delayed - localRechecksPending());
      const busy = [steps, events, ses].some((q) => q.visible + q.inFlight + q.delayed > 0);
      return (
        json(res, 200, {
          Now: formatDateTime(new Date(now * 1000)),
          Idle: !busy && dueNow === 0,
          StepsVisible: steps.visible,
          StepsInFlight: steps.inFlight,
          StepsDelayed: steps.delayed,
          EventsVisible: events.visible,
          DueNow: dueNow,
        }),
        true
      );
    }
    if (route === "ses/events") return await injectSesEvent(res, await readJson(req)), true;
    if (method === "DELETE") {
      clearFaults();
      return json(res, 200, { Cleared: true }), true;
    }
    const body = (await readJson(req)) as Record<string, unknown> | undefined;
    const point = body?.["Point"];
    if (typeof point !== "string" || !FAULT_POINTS.includes(point as FaultPoint)) return invalid(res, "Point"), true;
    const times = body?.["Times"] ?? 1;
    if (typeof times !== "number" || !Number.isInteger(times) || times < 1 || times > 1000) return invalid(res, "Times"), true;
    armFault(point as FaultPoint, times);
    return json(res, 200, { Armed: { Point: point, Times: times } }), true;
  };
}
