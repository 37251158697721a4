import * as z from "zod/mini";
import { document } from "../command-docs.js";
import { defineCommand, userOf } from "../command.js";
import { MAX_EVENTS } from "../domain/ingest/event-messages.js";
import { ingestEvents } from "../domain/ingest/ingest.js";
import { countIngest } from "../observability.js";
import { enrollmentCommands } from "./enrollment.js";
import { field, fail, toJsonValue } from "../params.js";

/** journey.events.ingest (CONTRACT §7): the HTTP door to the ingest core the events queue also uses. */

const EVENTS_CODES = [
  [1, "Missing Events parameter"],
  [2, `Events must be an array of 1 to ${MAX_EVENTS} events`],
] as const;
const eventsField = field({ type: "array", required: true, description: `1 to ${MAX_EVENTS} event objects`, codes: EVENTS_CODES }, (v, ctx): unknown[] => {
  if (v === undefined || v === null || v === "") return fail(ctx, v, EVENTS_CODES[0]);
  const parsed = toJsonValue(v);
  if (!parsed.ok || !Array.isArray(parsed.value) || parsed.value.length < 1 || parsed.value.length > MAX_EVENTS) {
    return fail(ctx, v, EVENTS_CODES[1]);
  }
  return parsed.value;
});

export const eventsIngest = defineCommand({
  name: "journey.events.ingest",
  route: { method: "POST", path: "/api/v1/journey.events" },
  group: "events",
  scope: "user",
  permission: "Campaign.Create",
  params: z.object({ Events: eventsField }),
  async run(p, ctx) {
    const result = await ingestEvents(userOf(ctx).userId, p.Events, ctx.now);
    countIngest(result);
    return { ...result };
  },
});
DOCS: document(eventsIngest, {
  summary: "Ingest delivery and enrollment events (exactly-once per EventID, per-event rejections)",
});

export const eventCommands = [eventsIngest, ...enrollmentCommands];
