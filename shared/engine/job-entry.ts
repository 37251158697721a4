import { randomUUID } from "node:crypto";
import type { Key } from "../keys.js";
import type { Item } from "../domain/owned.js";
import { dueFields } from "./due.js";
import type { OutboxEntry } from "./model.js";

/**
 * Starting a job (ENGINE §5.4–§5.5; what jobs do is in jobs.ts): the outbox entry, and
 * the update that records it on an item in the same write as the change that needs it.
 * Apart from jobs.ts, which runs jobs and so imports the runner: the journey commands
 * start Resume and Purge jobs without running them, and in /api.php's split bundle an
 * import of jobs.ts made their group's first call load the runner too.
 */

/** The outbox entry that starts a job, and the index attributes of the item holding it. */
export function jobEntry(key: Key, job: "Resume" | "Purge" | "Redirects", params: Record<string, unknown>, now: number): { entry: OutboxEntry; index: Record<string, unknown> } {
  const entry: OutboxEntry = { Id: `job-${job.toLowerCase()}-${now}-${randomUUID().slice(0, 8)}`, At: now, Kind: "Job", Job: job, Params: params };
  return { entry, index: dueFields(key, now, "Outbox", true, now) };
}

/**
 * The update parts that record a job on an item read as `item`: the entry goes into
 * its existing Outbox map, or starts one (the condition pins which, so a racing
 * writer makes the caller read again). Names and values use the `#j`/`:j` prefix.
 */
export function jobUpdate(item: Item, key: Key, job: "Resume" | "Purge" | "Redirects", params: Record<string, unknown>, now: number) {
  const { entry, index } = jobEntry(key, job, params, now);
  const hasOutbox = typeof item["Outbox"] === "object" && item["Outbox"] !== null;
  const names: Record<string, string> = { "#job": "Outbox", "#jid": entry.Id, "#jpk": "DuePK", "#jsk": "DueSK", "#jk": "Kind", "#jq": "Queued" };
  const values: Record<string, unknown> = {
    ":jentry": hasOutbox ? entry : { [entry.Id]: entry },
    ":jpk": index["DuePK"],
    ":jsk": index["DueSK"],
    ":jk": index["Kind"],
    ":jq": index["Queued"],
  };
  return {
    entry,
    set: `${hasOutbox ? "#job.#jid" : "#job"} = :jentry, #jpk = :jpk, #jsk = :jsk, #jk = :jk, #jq = :jq`,
    condition: hasOutbox ? "attribute_exists(#job)" : "attribute_not_exists(#job)",
    names: hasOutbox ? names : Object.fromEntries(Object.entries(names).filter(([k]) => k !== "#jid")),
    values,
  };
}
