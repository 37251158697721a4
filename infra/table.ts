import { DUE_INDEX, JOURNEY_INDEX, MAIL_INDEX } from "../shared/keys.js";

/**
 * The single table's shape, shared by the CDK stack and the local stack so the
 * two can never drift: string PK/SK, TTL on `ttl`, and one sparse GSI.
 */
export const TABLE = {
  partitionKey: "PK",
  sortKey: "SK",
  ttlAttribute: "ttl",
  /**
   * Email states (`M#<ActionID>`) live in their subscriber's partition, so the
   * recipients of one action are found through this index (journey.action.subscribers,
   * and a deleted journey's purge). Only email states carry its keys.
   */
  mailIndex: MAIL_INDEX,
  /**
   * The engine's timer index (ENGINE §6, §10): one minute bucket of one shard per
   * query. It projects only what the sweeper rebuilds a message from.
   */
  dueIndex: { ...DUE_INDEX, include: ["DueAt", "Kind", "Queued", "Version", "JourneyID", "EntryID"] },
  /** Active and paused cursors of one journey, for the resume and purge jobs (ENGINE §5.4, §10). */
  journeyIndex: { ...JOURNEY_INDEX, include: ["State", "Version"] },
} as const;

/** Every GSI of the table, in a shape both the CDK stack and the local stack read. */
export const TABLE_INDEXES: readonly { name: string; partitionKey: string; sortKey?: string; include?: readonly string[] }[] = [
  TABLE.mailIndex,
  TABLE.dueIndex,
  TABLE.journeyIndex,
];
