import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { startFauxqs } from "fauxqs";
import { newSigningKeysJson } from "../../shared/delivery/unsubscribe-token.js";
import { buildWebAssets } from "../web-assets.js";
import { ensureTable, startDynamo } from "./dynamodb.js";
import { startGateway } from "./gateway.js";
import { startPoller } from "./poller.js";
import { engineRoutes } from "./engine-routes.js";
import { startSweeper } from "./sweeper-timer.js";

/**
 * The whole service on one machine: DynamoDB Local, the fauxqs SQS/S3 emulator,
 * the table, and the local gateway serving the registry's routes to the real
 * handlers. `npm start` and the vitest globalSetup both run this.
 */
export interface LocalStackOptions {
  /** Gateway port; 0 picks a free one. */
  port: number;
  /** Where DynamoDB Local keeps its data; undefined keeps it in memory (tests). */
  dataDir?: string;
  adminKey?: string;
  rateLimitPerMinute?: number;
  sessionTtlSeconds?: number;
  tableName?: string;
  /** POWERTOOLS_LOG_LEVEL for the handlers (default INFO). */
  logLevel?: string;
  /** Where the /docs and /console files are built (default .build/web). */
  webDir?: string;
  /** Where the product clock's offset is kept across restarts (ENGINE §9); none keeps it in memory. */
  clockFile?: string;
  /**
   * Where the unsubscribe links' signing keys are kept across restarts (created on first
   * use); none generates a key set in memory and hands it to the handlers inline.
   */
  unsubscribeKeysFile?: string;
  /** Where unsubscribe links point (PUBLIC_BASE_URL); default: this gateway's own URL. */
  publicBaseUrl?: string;
  /**
   * A queue consumer's handler module in place of `functions/<name>/index.ts`, by
   * function name ("engine", …): a test runs a bundle as CDK packages it this way.
   */
  handlerModules?: Partial<Record<string, string>>;
}

export interface LocalStack {
  url: string;
  adminKey: string;
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** Long enough for a batch on a busy DynamoDB Local to finish before its messages reappear. */
const LOCAL_VISIBILITY_TIMEOUT_SECONDS = 5;
const LOCAL_EXPORT_VISIBILITY_SECONDS = 6;
const LOCAL_EXPORT_LEASE_SECONDS = 3;
const LOCAL_EXPORT_ATTEMPTS = 3;
const LOCAL_STEPS_VISIBILITY_SECONDS = 10;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export async function startLocalStack(opts: LocalStackOptions): Promise<LocalStack> {
  const dynamo = await startDynamo(await freePort(), opts.dataDir);
  const stops: (() => Promise<void> | void)[] = [() => void dynamo.process.kill("SIGTERM")];
  try {
    const fauxqs = await startFauxqs({ port: 0, logger: false });
    stops.unshift(() => fauxqs.stop());

    // As in CDK: a DLQ after 5 receives. The visibility timeout is seconds rather
    // than CDK's 6 minutes so that a failed record is retried while one waits.
    const dlq = fauxqs.createQueue("journey-events-dlq");
    const eventsQueue = fauxqs.createQueue("journey-events", {
      attributes: {
        VisibilityTimeout: String(LOCAL_VISIBILITY_TIMEOUT_SECONDS),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.queueArn, maxReceiveCount: 5 }),
      },
    });

    // Exports: a queue whose DLQ takes a job after EXPORT_MAX_ATTEMPTS deliveries, and
    // a bucket. Visibility outlasts the worker's lease so a crashed claim is re-claimed
    // on the next delivery; the lease is short so that takes seconds, not minutes.
    const exportsDlq = fauxqs.createQueue("journey-exports-dlq");
    const exportsQueue = fauxqs.createQueue("journey-exports", {
      attributes: {
        VisibilityTimeout: String(LOCAL_EXPORT_VISIBILITY_SECONDS),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: exportsDlq.queueArn, maxReceiveCount: LOCAL_EXPORT_ATTEMPTS }),
      },
    });
    const bucket = fauxqs.createBucket("journey-exports").bucketName;

    // The engine's steps queue (ENGINE §9: visibility 10 s locally) and its DLQ.
    const stepsDlq = fauxqs.createQueue("journey-steps-dlq");
    const stepsQueue = fauxqs.createQueue("journey-steps", {
      attributes: {
        VisibilityTimeout: String(LOCAL_STEPS_VISIBILITY_SECONDS),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: stepsDlq.queueArn, maxReceiveCount: 5 }),
      },
    });

    // The SES events queue (ENGINE §8.3, §9): the local sender puts SES-shaped events
    // here as the EventBridge rule does on AWS, and the adapter maps them onto the events queue.
    const sesEventsDlq = fauxqs.createQueue("journey-ses-events-dlq");
    const sesEventsQueue = fauxqs.createQueue("journey-ses-events", {
      attributes: {
        VisibilityTimeout: String(LOCAL_VISIBILITY_TIMEOUT_SECONDS),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: sesEventsDlq.queueArn, maxReceiveCount: 5 }),
      },
    });

    const adminKey = opts.adminKey ?? randomBytes(24).toString("base64url");
    // The port is fixed before the environment is built: links signed by any handler name this gateway.
    const port = opts.port || (await freePort());
    const tableName = opts.tableName ?? "journey-api";
    const env: Record<string, string> = {
      TABLE_NAME: tableName,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "local",
      AWS_SECRET_ACCESS_KEY: "local",
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      SQS_ENDPOINT: fauxqs.address,
      S3_ENDPOINT: fauxqs.address,
      EVENTS_QUEUE_URL: eventsQueue.queueUrl,
      EXPORTS_QUEUE_URL: exportsQueue.queueUrl,
      STEPS_QUEUE_URL: stepsQueue.queueUrl,
      STEPS_DLQ_URL: stepsDlq.queueUrl,
      SES_EVENTS_QUEUE_URL: sesEventsQueue.queueUrl,
      SES_CONFIGURATION_SET: process.env["SES_CONFIGURATION_SET"] ?? "journey-local",
      EXPORTS_BUCKET: bucket,
      EXPORT_LEASE_SECONDS: String(LOCAL_EXPORT_LEASE_SECONDS),
      EXPORT_MAX_ATTEMPTS: String(LOCAL_EXPORT_ATTEMPTS),
      ADMIN_API_KEY: adminKey,
      RATE_LIMIT_PER_MINUTE: String(opts.rateLimitPerMinute ?? 100),
      SESSION_TTL_SECONDS: String(opts.sessionTtlSeconds ?? 86400),
      POWERTOOLS_LOG_LEVEL: opts.logLevel ?? "INFO",
      // EMF lines are for CloudWatch; locally they would bury the request lines.
      POWERTOOLS_METRICS_DISABLED: "true",
      // The engine's local settings (ENGINE §9), unless the environment chose others.
      ENGINE_LOCAL_ROUTES: process.env["ENGINE_LOCAL_ROUTES"] ?? "1",
      LOCAL_SWEEP_MS: process.env["LOCAL_SWEEP_MS"] ?? "2000",
      LONG_WAIT_THRESHOLD_SECONDS: process.env["LONG_WAIT_THRESHOLD_SECONDS"] ?? "900",
      DUE_SHARDS: process.env["DUE_SHARDS"] ?? "16",
      // Every email and SMS goes to the local outbox (`/_local/outbox`), never to SES or SMS (§9). Sender
      // domains, SMS_GATEWAYS and SMS_CONFIGURATION_SET come from the environment (docs/operations.md).
      DELIVERY_MODE: process.env["DELIVERY_MODE"] ?? "local",
      SENDER_DOMAINS: process.env["SENDER_DOMAINS"] ?? "{}",
      // Built on every start so the pages always match the sources (esbuild takes well under a second).
      WEB_ASSETS_DIR: buildWebAssets(opts.webDir ?? fileURLToPath(new URL("../../.build/web", import.meta.url))),
      // One-click unsubscribe (ENGINE §8.4): links name this gateway; keys from a file
      // under DATA_DIR (npm start), else inline, so the test processes verify each other's links.
      PUBLIC_BASE_URL: opts.publicBaseUrl ?? `http://127.0.0.1:${port}`,
      ...(opts.unsubscribeKeysFile ? { UNSUBSCRIBE_KEYS_FILE: opts.unsubscribeKeysFile } : { UNSUBSCRIBE_KEYS: newSigningKeysJson() }),
    };
    // A key set left in the environment by an earlier stack of this process must not shadow the file.
    if (opts.unsubscribeKeysFile) delete process.env["UNSUBSCRIBE_KEYS"];
    // The handlers read their configuration from the environment, as on Lambda.
    Object.assign(process.env, env);
    await ensureTable(dynamo.endpoint, tableName);

    const local =
      env["ENGINE_LOCAL_ROUTES"] === "1"
        ? engineRoutes({
            adminKey,
            sqsEndpoint: fauxqs.address,
            region: env["AWS_REGION"]!,
            queues: { steps: stepsQueue.queueUrl, events: eventsQueue.queueUrl, sesEvents: sesEventsQueue.queueUrl },
            ...(opts.clockFile ? { clockFile: opts.clockFile } : {}),
          })
        : undefined;
    const gateway = await startGateway(port, new URL("../../", import.meta.url).href, local);
    stops.unshift(() => new Promise<void>((r) => gateway.server.close(() => r())));
    gateway.server.closeIdleConnections?.();

    // Each queue's consumer runs the very handler CDK deploys, polled as Lambda's event source would.
    const consume = (fn: string, queueUrl: string, batchSize: number, extra: { waitTimeSeconds?: number } = {}) => {
      const poller = startPoller({
        name: `journey-api-${fn}`,
        queueUrl,
        handlerModule: opts.handlerModules?.[fn] ?? new URL(`../../functions/${fn}/index.ts`, import.meta.url).href,
        batchSize,
        endpoint: fauxqs.address,
        region: env["AWS_REGION"]!,
        ...extra,
      });
      stops.unshift(() => poller.stop());
    };
    consume("events-worker", eventsQueue.queueUrl, 10);
    consume("export-worker", exportsQueue.queueUrl, 1);
    consume("export-dlq", exportsDlq.queueUrl, 10);
    // The engine (ENGINE §9): the runner on the steps queue, and the sweeper on a timer.
    consume("engine", stepsQueue.queueUrl, 10, { waitTimeSeconds: 1 });
    // Its DLQ's consumer, as deployed: a Step that failed every delivery ends its enrolment (§10).
    consume("steps-dlq", stepsDlq.queueUrl, 10);
    // The SES events adapter (ENGINE §8.3), as deployed minus the batch size: SQS hands at most 10 a receive.
    consume("ses-events", sesEventsQueue.queueUrl, 10);
    const sweeper = startSweeper(Number(env["LOCAL_SWEEP_MS"]));
    stops.unshift(() => sweeper.stop());

    return {
      url: gateway.url,
      adminKey,
      env,
      async stop() {
        for (const stop of stops) await stop();
      },
    };
  } catch (err) {
    for (const stop of stops) await stop();
    throw err;
  }
}
