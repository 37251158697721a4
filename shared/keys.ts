/**
 * Every DynamoDB key in the service is built here, and only here.
 *
 * Tenancy is in the key: every item a user owns lives under `U#<userId>` (or a
 * partition derived from it), so a read with another user's ID cannot reach it.
 * Numeric IDs are zero-padded so that sort keys order numerically.
 */
export type Key = { PK: string; SK: string };

const pad = (id: number) => String(id).padStart(12, "0");

const userPk = (userId: number) => `U#${userId}`;

/** Sort-key prefixes inside a user's partition. Distinct so begins_with never overlaps. */
export const PREFIX = {
  journey: "J#",
  list: "L#",
  email: "E#",
  customField: "CF#",
  tag: "T#",
  subscriber: "S#",
} as const;

export type OwnedKind = keyof typeof PREFIX;

export const keys = {
  /** Global atomic counter behind one kind of integer ID. */
  counter: (name: string): Key => ({ PK: `COUNTER#${name}`, SK: "COUNTER" }),

  user: (userId: number): Key => ({ PK: userPk(userId), SK: "PROFILE" }),
  /** Uniqueness guards; the username item also carries what login needs. */
  username: (username: string): Key => ({ PK: `UNAME#${username.toLowerCase()}`, SK: "UNIQUE" }),
  userEmail: (email: string): Key => ({ PK: `UEMAIL#${email.toLowerCase()}`, SK: "UNIQUE" }),

  /** Credentials are addressed by the SHA-256 digest of the secret, never the secret. */
  apiKey: (digestHex: string): Key => ({ PK: `APIKEY#${digestHex}`, SK: "APIKEY" }),
  session: (digestHex: string): Key => ({ PK: `SESSION#${digestHex}`, SK: "SESSION" }),

  /** One fixed-window rate-limit counter per owner and window start (epoch seconds). */
  rateWindow: (owner: string, windowStart: number): Key => ({ PK: `RATE#${owner}`, SK: `W#${windowStart}` }),

  owned: (kind: OwnedKind, userId: number, id: number): Key => ({ PK: userPk(userId), SK: PREFIX[kind] + pad(id) }),
  ownedPrefix: (kind: OwnedKind, userId: number) => ({ PK: userPk(userId), prefix: PREFIX[kind] }),
  /** Parse the numeric ID back out of an owned item's sort key. */
  idFromSk: (sk: string): number => Number(sk.slice(sk.indexOf("#") + 1)),

  /** Uniqueness of an address within a list; the value is the SubscriberID. */
  subscriberAddress: (userId: number, listId: number, emailDigest: string): Key => ({
    PK: userPk(userId),
    SK: `SADDR#${pad(listId)}#${emailDigest}`,
  }),

  journey: (userId: number, journeyId: number): Key => ({ PK: userPk(userId), SK: PREFIX.journey + pad(journeyId) }),
  /** Partition holding everything that belongs to one journey (actions, rollups, enrollments). */
  journeyPartition: (userId: number, journeyId: number): string => `${userPk(userId)}#J#${pad(journeyId)}`,
};
