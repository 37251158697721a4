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
/** A subscriber's own partition (the engine's state of one subscriber lives here). */
const subscriberPartition = (userId: number, subscriberId: number) => `${userPk(userId)}#SUB#${pad(subscriberId)}`;

/** Sort-key prefixes inside a user's partition. Distinct so begins_with never overlaps. */
export const PREFIX = {
  journey: "J#",
  list: "L#",
  email: "E#",
  customField: "CF#",
  tag: "T#",
  subscriber: "S#",
  /** CSV export jobs. */
  export: "X#",
  /** Email bodies live apart from their names so listing emails never reads HTML. */
  emailBody: "EB#",
} as const;

/** The table's GSI of email states (see `emailState`); infra/table.ts declares it from here. */
export const MAIL_INDEX = { name: "MailIndex", partitionKey: "MailPK", sortKey: "MailSK" } as const;
/**
 * The engine's sparse timer index (ENGINE §6): every item with pending work (a
 * cursor, an outbox, a drain) carries `DuePK = DUE#<yyyyMMddHHmm>#<shard>` and
 * `DueSK = <epoch s>#<PK>|<SK>`, so the sweeper reads one minute of one shard per query.
 */
export const DUE_INDEX = { name: "DueIndex", partitionKey: "DuePK", sortKey: "DueSK" } as const;
/** Active and paused cursors of one journey (`JourneyKey = <UserID>#<JourneyID>`): resume and purge jobs walk it. */
export const JOURNEY_INDEX = { name: "JourneyIndex", partitionKey: "JourneyKey" } as const;

export type OwnedKind = "journey" | "list" | "email" | "customField" | "tag" | "subscriber" | "export";

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
  /** Partition holding everything that belongs to one journey (action tree, rollups, enrollments). */
  journeyPartition: (userId: number, journeyId: number): string => `${userPk(userId)}#J#${pad(journeyId)}`,

  // ---- Statistics (see docs/data-model.md, "Statistics") ----

  /** Partition of a user's per-journey rollups that list-wide reads scan by range. */
  userStats: (userId: number): string => `${userPk(userId)}#S`,
  /** Journey lifetime counters and LastActivityAt. */
  journeyLifetime: (userId: number, journeyId: number): Key => ({ PK: `${userPk(userId)}#S`, SK: `JL#${pad(journeyId)}#C` }),
  /** Journey enrollment counters and LastTriggeredAt. */
  journeyEnrollment: (userId: number, journeyId: number): Key => ({ PK: `${userPk(userId)}#S`, SK: `JL#${pad(journeyId)}#E` }),
  /**
   * Sort-key range of the journeys' lifetime and enrollment rollups in the user's
   * stats partition: every journey's, or (for a journey.list page) only those of
   * JourneyIDs `fromId`..`toId`, which the zero-padded IDs keep contiguous.
   */
  journeyLifetimes: (userId: number, ids?: { fromId: number; toId: number }) => ({
    PK: `${userPk(userId)}#S`,
    from: ids ? `JL#${pad(ids.fromId)}#` : "JL#",
    to: ids ? `JL#${pad(ids.toId)}#~` : "JL#~",
  }),
  /** Sort-key range of every journey's days from `start` to `end` in the date-first series. */
  journeyDaysByUser: (userId: number, start: string, end: string) => ({
    PK: `${userPk(userId)}#S`,
    from: `JD#${start}`,
    to: `JD#${end}#~`,
  }),
  /** A journey's day in the user-wide, date-first series (journey.list, benchmark). */
  journeyDayByUser: (userId: number, date: string, journeyId: number): Key => ({
    PK: `${userPk(userId)}#S`,
    SK: `JD#${date}#${pad(journeyId)}`,
  }),
  /** An action's day in the journey's partition; the journey's day is the sum of its actions' (journey.get). */
  actionDay: (userId: number, journeyId: number, date: string, actionId: number): Key => ({
    PK: `${userPk(userId)}#J#${pad(journeyId)}`,
    SK: `D#${date}#A#${pad(actionId)}`,
  }),
  actionLifetime: (userId: number, journeyId: number, actionId: number): Key => ({
    PK: `${userPk(userId)}#J#${pad(journeyId)}`,
    SK: `L#A#${pad(actionId)}`,
  }),
  actionIspLifetime: (userId: number, journeyId: number, actionId: number, isp: string): Key => ({
    PK: `${userPk(userId)}#J#${pad(journeyId)}`,
    SK: `L#AI#${pad(actionId)}#${isp}`,
  }),
  journeyIspLifetime: (userId: number, journeyId: number, isp: string): Key => ({
    PK: `${userPk(userId)}#J#${pad(journeyId)}`,
    SK: `L#JI#${isp}`,
  }),
  actionIspDay: (userId: number, journeyId: number, date: string, actionId: number, isp: string): Key => ({
    PK: `${userPk(userId)}#J#${pad(journeyId)}`,
    SK: `IA#${date}#${pad(actionId)}#${isp}`,
  }),
  /**
   * One subscriber's email state on one SendEmail action (ENGINE's `M#<ActionID>`):
   * Sent/Bounced flags and the first day of each unique kind (CONTRACT §7). It lives
   * in the subscriber's partition, where the engine reads it beside the subscriber's
   * other state; `journey.action.subscribers` finds it through `mailIndex`.
   */
  emailState: (userId: number, subscriberId: number, actionId: number): Key => ({
    PK: subscriberPartition(userId, subscriberId),
    SK: `M#${pad(actionId)}`,
  }),
  /**
   * The `MailIndex` GSI keys an email state carries: one journey's states, sorted by
   * action then subscriber, so one action's recipients are one key range and a
   * journey's purge finds them all.
   */
  mailIndex: (userId: number, journeyId: number, actionId: number, subscriberId: number) => ({
    MailPK: `${userPk(userId)}#J#${pad(journeyId)}`,
    MailSK: `${pad(actionId)}#${pad(subscriberId)}`,
  }),
  mailIndexPrefix: (userId: number, journeyId: number, actionId?: number) => ({
    MailPK: `${userPk(userId)}#J#${pad(journeyId)}`,
    prefix: actionId === undefined ? "" : `${pad(actionId)}#`,
  }),
  // ---- The engine (ENGINE §5.1; docs/engine.md) ----

  /**
   * A subscriber (ENGINE §3.1): the item lives in the subscriber's own partition,
   * beside its memberships, cursors and email states, so a step's transaction
   * touches one partition per subscriber and bulk subscribing spreads over many.
   */
  subscriber: (userId: number, subscriberId: number): Key => ({ PK: subscriberPartition(userId, subscriberId), SK: "S" }),
  /** The partition of one subscriber's engine state (query it for cursors and email states). */
  subscriberPartition: (userId: number, subscriberId: number): string => subscriberPartition(userId, subscriberId),
  /** Membership of a subscriber in a journey: `ActiveEntryID`, `CompletedEver`, `Version`. */
  membership: (userId: number, subscriberId: number, journeyId: number): Key => ({
    PK: subscriberPartition(userId, subscriberId),
    SK: `E#${pad(journeyId)}#`,
  }),
  /** One enrolment's cursor; EntryIDs are ULIDs, so a journey's cursors sort by enrolment time after its membership. */
  cursor: (userId: number, subscriberId: number, journeyId: number, entryId: string): Key => ({
    PK: subscriberPartition(userId, subscriberId),
    SK: `E#${pad(journeyId)}#${entryId}`,
  }),
  /** Sort-key prefix of a subscriber's memberships and cursors (all journeys, or one). */
  enginePrefix: (userId: number, subscriberId: number, journeyId?: number) => ({
    PK: subscriberPartition(userId, subscriberId),
    prefix: journeyId === undefined ? "E#" : `E#${pad(journeyId)}#`,
  }),
  /** Parses a cursor's or membership's sort key: JourneyID and EntryID ("" for a membership). */
  parseEngineSk: (sk: string): { journeyId: number; entryId: string } => {
    const [, jid, entryId] = sk.split("#");
    return { journeyId: Number(jid), entryId: entryId ?? "" };
  },
  /**
   * An outbox overflow item (ENGINE §5.5): entries that would take an item's
   * `Outbox` past 64 KB live in `OB#<ULID>` beside it, in its own partition.
   */
  outboxOverflow: (owner: Key, ulid: string): Key => ({ PK: owner.PK, SK: `OB#${ulid}` }),
  isOutboxOverflow: (key: Key): boolean => key.SK.startsWith("OB#"),
  /** `JourneyIndex` value of a journey's live cursors. */
  journeyIndexKey: (userId: number, journeyId: number): string => `${userId}#${journeyId}`,
  /**
   * The trigger index (ENGINE §4.2): one entry per Enabled journey under its
   * (Trigger, value), so the journeys a firing trigger enrols into are one Query of
   * `triggerPrefix`. (ENGINE describes one item listing the journeys; an entry per
   * journey is put and deleted idempotently in the status change's transaction, and
   * is read with the same one call.) RevenueHit entries have value "" and carry T.
   */
  triggerEntry: (userId: number, trigger: string, value: string | number, journeyId: number): Key => ({
    PK: `${userPk(userId)}#TRG`,
    SK: `T#${trigger}#${value}#${pad(journeyId)}`,
  }),
  triggerPrefix: (userId: number, trigger: string, value: string | number) => ({
    PK: `${userPk(userId)}#TRG`,
    prefix: `T#${trigger}#${value}#`,
  }),
  /** A rate-limited journey's admission counts, backlog size and drain (ENGINE §4.5). */
  journeyRate: (userId: number, journeyId: number): Key => ({ PK: `${userPk(userId)}#J#${pad(journeyId)}`, SK: "RATE" }),
  /** A deferred enrolment, in arrival order (the signal's `At`, then its SignalID). */
  backlogRow: (userId: number, journeyId: number, at: number, signalId: string): Key => ({
    PK: `${userPk(userId)}#J#${pad(journeyId)}`,
    SK: `RB#${String(at).padStart(11, "0")}#${signalId}`,
  }),
  backlogPrefix: (userId: number, journeyId: number) => ({ PK: `${userPk(userId)}#J#${pad(journeyId)}`, prefix: "RB#" }),
  /** Where a deleted action sends the cursors waiting in it (ENGINE §5.4); immutable once written. */
  redirect: (userId: number, journeyId: number, actionId: number): Key => ({
    PK: `${userPk(userId)}#J#${pad(journeyId)}`,
    SK: `RD#${pad(actionId)}`,
  }),
  /** A deleted journey's marker, whose outbox holds the purge job. */
  journeyTombstone: (userId: number, journeyId: number): Key => ({ PK: userPk(userId), SK: `JDEL#${pad(journeyId)}` }),
  /** The sweeper's per-shard watermarks (primary and recovery passes). */
  sweepMark: (pass: "primary" | "recovery", shard: number): Key => ({ PK: "ENGINE#SWEEP", SK: `${pass}#${String(shard).padStart(4, "0")}` }),
  /** One minute bucket of one shard of the due index. */
  dueBucket: (minute: string, shard: number): string => `DUE#${minute}#${shard}`,

  /** A subscriber's entry in a journey (Active or ended). */
  enrollment: (userId: number, journeyId: number, subscriberId: number): Key => ({
    PK: `${userPk(userId)}#J#${pad(journeyId)}`,
    SK: `EN#${pad(subscriberId)}`,
  }),
  /** The same entry seen from the subscriber (subscriber.journey.list). */
  subscriberJourney: (userId: number, subscriberId: number, journeyId: number): Key => ({
    PK: userPk(userId),
    SK: `SJ#${pad(subscriberId)}#${pad(journeyId)}`,
  }),
  subscriberJourneyPrefix: (userId: number, subscriberId: number) => ({ PK: userPk(userId), prefix: `SJ#${pad(subscriberId)}#` }),
  /** Account-wide suppression of a subscriber (unsubscribed, complained or hard-bounced anywhere). */
  suppression: (userId: number, subscriberId: number): Key => ({ PK: userPk(userId), SK: `SUP#${pad(subscriberId)}` }),
  /** Exactly-once marker of an ingested EventID (unique per user); expires after EVENT_MARKER_TTL_DAYS. */
  eventMarker: (userId: number, eventIdDigest: string): Key => ({ PK: `EVT#${userId}#${eventIdDigest}`, SK: "EVT" }),

  /** Where a finished export lives: scoped to its user and job. */
  exportObject: (userId: number, exportId: number): string => `exports/${userId}/${exportId}/journey-export-${exportId}.csv`,

  emailBody: (userId: number, emailId: number): Key => ({ PK: userPk(userId), SK: PREFIX.emailBody + pad(emailId) }),

  /**
   * One chunk of a journey's action tree at one version. A tree is written under a
   * fresh version and made current by flipping `TreeVersion` on the journey item,
   * so a replacement of any size is atomic for readers.
   */
  treeChunk: (userId: number, journeyId: number, version: string, chunk: number): Key => ({
    PK: `${userPk(userId)}#J#${pad(journeyId)}`,
    SK: `TREE#${version}#${String(chunk).padStart(4, "0")}`,
  }),

  /**
   * A SendEmail action in the user's index, tagged with the tree version it belongs
   * to. It sorts right after its journey's item (`J#<id>`), so one query returns a
   * journey with its SendEmail actions, and one query returns all of them.
   */
  sendEmail: (userId: number, journeyId: number, version: string, actionId: number): Key => ({
    PK: userPk(userId),
    SK: `${PREFIX.journey}${pad(journeyId)}#SE#${version}#${pad(actionId)}`,
  }),
  /** Prefix of one journey's SendEmail index entries. */
  sendEmailPrefix: (userId: number, journeyId: number) => ({
    PK: userPk(userId),
    prefix: `${PREFIX.journey}${pad(journeyId)}#SE#`,
  }),
  /** Sort-key range holding a journey's item and its SendEmail index entries. */
  journeyRange: (userId: number, journeyId: number) => ({
    PK: userPk(userId),
    from: `${PREFIX.journey}${pad(journeyId)}`,
    to: `${PREFIX.journey}${pad(journeyId)}#~`,
  }),
  /** True for a journey item's sort key, false for the index entries that share its prefix. */
  isJourneySk: (sk: string): boolean => /^J#\d{12}$/.test(sk),
};
