import * as z from "zod/mini";

/**
 * Runtime configuration, parsed from process.env by one zod schema.
 *
 * Why lazy-but-once: the CDK app and the OpenAPI generator import the command
 * registry (and so this module) without any runtime environment. Lambda entry
 * points call `loadConfig()` at module load, so a deployed function still fails
 * fast at cold start, naming the missing variable.
 */
const optionalUrl = z.optional(z.url());
/** An integer from the environment, with a default when unset. */
const envInt = (fallback: number, min: number) =>
  z.pipe(
    z.optional(z.string()),
    z.transform((s, ctx) => {
      if (s === undefined || s === "") return fallback;
      if (!/^\d+$/.test(s) || Number(s) < min) {
        ctx.issues.push({ code: "custom", message: `must be an integer of at least ${min}`, input: s });
        return z.NEVER;
      }
      return Number(s);
    }),
  );

const schema = z.object({
  TABLE_NAME: z.string().check(z.minLength(1)),
  AWS_REGION: z._default(z.string(), "us-east-1"),
  /** Endpoint overrides: set by the local stack and the tests, unset on AWS. */
  DYNAMODB_ENDPOINT: optionalUrl,
  SQS_ENDPOINT: optionalUrl,
  S3_ENDPOINT: optionalUrl,
  /** The events queue; only its producers and the local stack need the URL, so it is optional. */
  EVENTS_QUEUE_URL: optionalUrl,
  /**
   * The engine's steps queue (ENGINE §5.2, §6): every function that fires a signal,
   * starts a job or hands a step sends there. Read where it is sent (shared/engine/outbox.ts);
   * declared here so a malformed URL fails at cold start and the stack's type check knows it.
   */
  STEPS_QUEUE_URL: optionalUrl,
  /** Shards of each due-index minute bucket (§6); may only grow. Read by shared/engine/due.ts. */
  DUE_SHARDS: envInt(16, 1),
  /** Waits up to this many seconds ahead travel as SQS delays, longer ones in the due index (§6; clamped to 120–900). */
  LONG_WAIT_THRESHOLD_SECONDS: envInt(900, 1),
  /**
   * SES (ENGINE §8.3): the configuration set every SendEmail names and whose events the
   * adapter accepts (any other set's are dropped); and the SES events queue, which the
   * local sender (`DELIVERY_MODE=local`) feeds as EventBridge does on AWS.
   */
  SES_CONFIGURATION_SET: z.optional(z.string().check(z.minLength(1))),
  SES_EVENTS_QUEUE_URL: optionalUrl,
  /** CSV exports: the job queue, the bucket, how long a claim lasts and how many tries a job gets. */
  EXPORTS_QUEUE_URL: optionalUrl,
  EXPORTS_BUCKET: z.optional(z.string().check(z.minLength(1))),
  EXPORT_LEASE_SECONDS: envInt(330, 1),
  EXPORT_MAX_ATTEMPTS: envInt(3, 1),
  /** Plain admin key (local). On AWS the key lives in Secrets Manager instead. */
  ADMIN_API_KEY: z.optional(z.string().check(z.minLength(16))),
  ADMIN_API_KEY_SECRET_ARN: z.optional(z.string().check(z.minLength(1))),
  RATE_LIMIT_PER_MINUTE: envInt(100, 1),
  SESSION_TTL_SECONDS: envInt(86400, 1),
  /** How long a verified credential may be reused from memory, in ms. 0 disables the cache. */
  CREDENTIAL_CACHE_MS: envInt(5000, 0),
  /**
   * One-click unsubscribe (ENGINE §8.4, shared/delivery/unsubscribe-token.ts): where
   * links point (the API's own URL unless a stack sets another), and where the signing
   * keys live: a Secrets Manager secret on AWS, a file under DATA_DIR for `npm start`.
   * (The local stack without a data directory passes the keys inline, UNSUBSCRIBE_KEYS.)
   */
  PUBLIC_BASE_URL: optionalUrl,
  UNSUBSCRIBE_KEYS_SECRET_ARN: z.optional(z.string().check(z.minLength(1))),
  UNSUBSCRIBE_KEYS_FILE: z.optional(z.string().check(z.minLength(1))),
  /** "text": one short readable line per request (`npm start`); JSON otherwise, as on Lambda. */
  LOG_FORMAT: z.optional(z.enum(["json", "text"])),
});

export type Config = z.infer<typeof schema>;

let cached: Config | undefined;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  if (cached) return cached;
  const result = schema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues
      .map((i) => `${i.path.join(".") || "(env)"}: ${i.message}`)
      .join("; ");
    throw new Error(`Invalid configuration: ${problems}`);
  }
  if (!result.data.ADMIN_API_KEY && !result.data.ADMIN_API_KEY_SECRET_ARN) {
    throw new Error("Invalid configuration: ADMIN_API_KEY or ADMIN_API_KEY_SECRET_ARN must be set");
  }
  cached = result.data;
  return cached;
}

/** Tests and the local stack change the environment between runs of the same process. */
export function resetConfigForTests(): void {
  cached = undefined;
}
