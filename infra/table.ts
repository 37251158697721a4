/**
 * The single table's shape, shared by the CDK stack and the local stack so the
 * two can never drift: string PK/SK, TTL on `ttl`, nothing else indexed.
 */
export const TABLE = {
  partitionKey: "PK",
  sortKey: "SK",
  ttlAttribute: "ttl",
} as const;
