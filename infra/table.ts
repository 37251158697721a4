import { MAIL_INDEX } from "../shared/keys.js";

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
} as const;
