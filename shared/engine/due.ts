import { createHash } from "node:crypto";
import { keys, type Key } from "../keys.js";

/**
 * The due index (ENGINE §6): where an item with pending work is found by the
 * sweeper. Every engine writer indexes the item it writes with `dueFields`, and
 * drops it from the index (`DUE_REMOVE`) when nothing is left pending.
 */

/** Shards of every minute bucket; may only grow (§6). */
export const dueShards = (): number => {
  const n = Number(process.env["DUE_SHARDS"] ?? 16);
  return Number.isInteger(n) && n > 0 ? n : 16;
};

/** Waits up to this far ahead travel as SQS delays; longer ones live only in the index. */
export const longWaitThreshold = (): number => {
  const n = Number(process.env["LONG_WAIT_THRESHOLD_SECONDS"] ?? 900);
  return Number.isInteger(n) ? Math.min(900, Math.max(120, n)) : 900;
};

export type DueKind = "Step" | "Outbox" | "Drain";

export const shardOf = (key: Key, shards = dueShards()): number =>
  createHash("sha256").update(`${key.PK}|${key.SK}`).digest().readUInt32BE(0) % shards;

/** `yyyyMMddHHmm` of an epoch second. */
export function minuteOf(epoch: number): string {
  const iso = new Date(epoch * 1000).toISOString();
  return iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) + iso.slice(14, 16);
}

/**
 * The index attributes of an item due at `due` (epoch s), never earlier than the
 * writing second `now`. `Queued`: a message for it is on its way or a live worker
 * holds it, so only recovery hands it again.
 */
export function dueFields(key: Key, due: number, kind: DueKind, queued: boolean, now: number): Record<string, unknown> {
  const at = Math.max(due, now);
  return {
    DuePK: keys.dueBucket(minuteOf(at), shardOf(key)),
    DueSK: `${String(at).padStart(11, "0")}#${key.PK}|${key.SK}`,
    Kind: kind,
    Queued: queued,
  };
}

/** Attribute names a write removes when it leaves nothing pending. */
export const DUE_REMOVE = ["DuePK", "DueSK", "Kind", "Queued"] as const;

/** Epoch seconds of a DueSK. */
export const dueOfSk = (dueSk: string): number => Number(dueSk.slice(0, dueSk.indexOf("#")));

/** The item key a DueSK names. */
export function keyOfDueSk(dueSk: string): Key {
  const rest = dueSk.slice(dueSk.indexOf("#") + 1);
  const bar = rest.lastIndexOf("|");
  return { PK: rest.slice(0, bar), SK: rest.slice(bar + 1) };
}
