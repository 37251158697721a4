import { CfnOutput, Duration, RemovalPolicy, Stack, Validations, type StackProps } from "aws-cdk-lib";
import { AccessLogFormat } from "aws-cdk-lib/aws-apigateway";
import * as apigw from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as events from "aws-cdk-lib/aws-events";
import * as eventTargets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import * as logs from "aws-cdk-lib/aws-logs";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as scheduler from "aws-cdk-lib/aws-scheduler";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as ses from "aws-cdk-lib/aws-ses";
import * as sqs from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { GROUPS, type CommandDef, type Group } from "../shared/command.js";
import { METRICS_NAMESPACE, SERVICE } from "../shared/observability.js";
import { commands, commandsOf } from "../shared/registry.js";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { PUBLIC_ROUTES } from "../shared/public-routes.js";
import { WEB_ROUTES } from "../shared/web.js";
import { ApiFunction } from "./constructs/api-function.js";
import { buildWebAssets } from "./web-assets.js";
import { configureSms } from "./sms.js";
import { senderDomainsFromContext } from "./delivery-config.js";
import { TABLE, TABLE_INDEXES } from "./table.js";

/** The methods and paths the /api.php dispatcher answers on, besides $default. */
export const LEGACY_ROUTES = [
  { method: "GET", path: "/api.php" },
  { method: "POST", path: "/api.php" },
] as const;

/**
 * The item-level calls shared/domain makes, plus ConditionCheckItem for guards
 * inside transactions; never Scan, table management or a wildcard. One list for
 * every data function because the registry does not record which calls a
 * command makes, and a hand-kept per-group list would drift from the code.
 */
export const TABLE_ACTIONS = [
  "dynamodb:GetItem",
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:DeleteItem",
  "dynamodb:Query",
  "dynamodb:BatchGetItem",
  "dynamodb:BatchWriteItem",
  "dynamodb:TransactWriteItems",
  "dynamodb:ConditionCheckItem",
] as const;

/**
 * A function reaches the table when any command it serves authenticates a user
 * (API key and session lookups), counts a rate limit (user or `rateLimitKey`), or
 * is an admin command (admin calls are rate limited too). Only unauthenticated,
 * un-rate-limited commands such as health are left without access.
 */
export function needsTable(defs: readonly CommandDef[]): boolean {
  return defs.some((c) => c.scope !== "none" || c.rateLimitKey !== undefined);
}

/** Only admin-scoped commands compare against the admin key in Secrets Manager. */
export function needsAdminKey(defs: readonly CommandDef[]): boolean {
  return defs.some((c) => c.scope === "admin");
}

/**
 * The events worker may run a minute. A full batch (10 messages of up to 500
 * events) is about 100 chunk transactions; measured on DynamoDB Local it takes
 * 10–13 s (docs/operations.md, "Events worker sizing"), so 60 s leaves room for
 * conflict back-off on a hot journey. The queue's visibility timeout is 6 times
 * that, AWS's advice for Lambda consumers, so that a slow batch is never handed
 * to a second invocation while the first still works on it.
 */
export const EVENTS_WORKER_TIMEOUT = Duration.seconds(60);
export const EVENTS_VISIBILITY_TIMEOUT = Duration.seconds(6 * EVENTS_WORKER_TIMEOUT.toSeconds());
export const EVENTS_MAX_RECEIVE_COUNT = 5;

/**
 * Exports run up to 5 minutes (10,000 journeys with their actions). The lease a
 * worker holds outlasts that, so a live worker is never taken over; the queue's
 * visibility timeout is 6 times the timeout, so a redelivery only comes after the
 * lease of a crashed worker has run out. Three tries, then the DLQ consumer marks
 * the job Failed.
 */
export const EXPORT_WORKER_TIMEOUT = Duration.seconds(300);
export const EXPORT_LEASE_SECONDS = 330;
export const EXPORT_VISIBILITY_TIMEOUT = Duration.seconds(6 * EXPORT_WORKER_TIMEOUT.toSeconds());
export const EXPORT_MAX_ATTEMPTS = 3;
/** Matches ExportJob.ExpiresAt (SubmittedAt + 7 days). */
export const EXPORT_RETENTION_DAYS = 7;
/**
 * The engine (ENGINE §10). The runner may run a minute (a chain hands off after 20 s,
 * or before an external call with under 25 s left); its queue hides a message 6 times
 * that, AWS's advice for Lambda consumers, so a live chain is never handed to a second
 * worker. After 5 receives a message goes to the steps DLQ, whose consumer ends the
 * enrolment (StepFailed).
 */
export const RUNNER_TIMEOUT = Duration.seconds(60);
export const STEPS_VISIBILITY_TIMEOUT = Duration.seconds(6 * RUNNER_TIMEOUT.toSeconds());
export const STEPS_MAX_RECEIVE_COUNT = 5;
/** Concurrent runner invocations, unless ENGINE_MAX_CONCURRENCY says otherwise: caps the pressure on the table (and, later, SES and SMS). */
export const DEFAULT_ENGINE_MAX_CONCURRENCY = 50;
/**
 * The sweeper runs every minute and must finish before the next run: its reserved
 * concurrency of 1 would throttle an overlapping one, which then expires (event age
 * 60 s) and the minute after catches up. A run's progress is kept per shard, so a
 * timeout loses at most the shard in hand.
 */
export const SWEEPER_TIMEOUT = Duration.seconds(50);
/**
 * The engine's settings every function that writes engine items gets, so they all
 * agree: a writer with another shard count would index items in shards the sweeper
 * never reads. DUE_SHARDS may only grow (§6).
 */
export const ENGINE_SETTINGS = { DUE_SHARDS: "16", LONG_WAIT_THRESHOLD_SECONDS: "900" } as const;
/**
 * SES events into statistics (ENGINE §8.3, §10). The adapter keeps Lambda's default
 * 29 s; its queue hides a received batch 6 times that plus the 5 s batching window, so a
 * batch still in hand is never given to a second invocation. Five receives, then the DLQ.
 */
export const SES_EVENTS_BATCH_SIZE = 100;
export const SES_EVENTS_BATCHING_WINDOW = Duration.seconds(5);
export const SES_EVENTS_VISIBILITY_TIMEOUT = Duration.seconds(6 * 29 + 5);
export const SES_EVENTS_MAX_RECEIVE_COUNT = 5;
/** What the configuration set publishes to EventBridge: every kind the adapter maps (§8.3). */
export const SES_PUBLISHED_EVENTS = [
  ses.EmailSendingEvent.SEND,
  ses.EmailSendingEvent.DELIVERY,
  ses.EmailSendingEvent.OPEN,
  ses.EmailSendingEvent.CLICK,
  ses.EmailSendingEvent.BOUNCE,
  ses.EmailSendingEvent.COMPLAINT,
  ses.EmailSendingEvent.REJECT,
  ses.EmailSendingEvent.RENDERING_FAILURE,
] as const;
/** SES reputation alarms (§10): AWS reviews an account from a 5 % bounce or 0.1 % complaint rate. */
export const SES_BOUNCE_RATE_ALARM = 0.05;
export const SES_COMPLAINT_RATE_ALARM = 0.001;

/**
 * Registry groups whose commands fire signals, start jobs or hand first steps to the
 * steps queue: subscriber commands (reference), enrolment and ingest (events),
 * enable/delete's resume and purge jobs (journeys), tree edits' redirect job (actions).
 * The /api.php dispatcher serves all of them.
 */
export const STEP_PRODUCER_GROUPS: readonly Group[] = ["reference", "events", "journeys", "actions"];
/**
 * Groups that end an enrolment synchronously (subscriber.journey.exit / remove) and so
 * deliver its end events to the events queue from the command (shared/engine/fanout.ts).
 */
export const EVENT_SENDER_GROUPS: readonly Group[] = ["events"];

/** S3 server access logs and API access logs: long enough to answer "who fetched what" after an incident. */
export const ACCESS_LOG_RETENTION_DAYS = 90;

/**
 * API Gateway's stage throttle: a first, coarse guard in front of the per-owner
 * limit (RATE_LIMIT_PER_MINUTE), which needs a DynamoDB write to count. It only
 * has to stop a flood before it reaches Lambda: 500 requests/s steady at up to
 * ~1 s each stays under the account's default 1,000 concurrent executions, and
 * far under API Gateway's regional 10,000/s. The burst absorbs a client
 * reconnecting at once. Over the limit, API Gateway answers 429 itself.
 */
export const API_THROTTLE = { rateLimit: 500, burstLimit: 1000 } as const;

/**
 * What API Gateway writes per request to the access log. Never the query string
 * or headers: an APIKey may travel in either. Nor the path: an unsubscribe link's
 * path is its token (ENGINE §8.4), a credential for one subscriber; the route key
 * (`POST /unsubscribe/{token}`, `GET /api/v1/journey`) names the request enough.
 */
export const ACCESS_LOG_FORMAT = {
  requestId: "$context.requestId",
  requestTime: "$context.requestTime",
  ip: "$context.identity.sourceIp",
  method: "$context.httpMethod",
  routeKey: "$context.routeKey",
  status: "$context.status",
  responseLength: "$context.responseLength",
  latencyMs: "$context.responseLatency",
  integrationLatencyMs: "$context.integrationLatency",
  integrationStatus: "$context.integrationStatus",
  integrationError: "$context.integrationErrorMessage",
  error: "$context.error.message",
} as const;

/** Groups that get their own Lambda: those with a v1 route. The rest are reachable only through /api.php. */
export function routedGroups(): Group[] {
  return GROUPS.filter((g) => commandsOf(g).some((c) => c.route !== undefined));
}

export interface JourneyApiStackProps extends StackProps {
  /** Requests per owner per minute (RATE_LIMIT_PER_MINUTE). */
  rateLimitPerMinute?: number;
  /** Session lifetime in seconds (SESSION_TTL_SECONDS). */
  sessionTtlSeconds?: number;
  /**
   * The runner's event source MaximumConcurrency (2–1000). Otherwise the context value
   * `engineMaxConcurrency` (`cdk deploy -c engineMaxConcurrency=20`), then the
   * ENGINE_MAX_CONCURRENCY environment variable, then 50.
   */
  engineMaxConcurrency?: number;
}

/**
 * Where unsubscribe links point (PUBLIC_BASE_URL): the context value `publicBaseUrl`
 * (`cdk deploy -c publicBaseUrl=https://mail.example.com`, e.g. a custom domain of the
 * API), else undefined and the API's own URL is used.
 */
export function publicBaseUrl(scope: Construct): string | undefined {
  const raw: unknown = scope.node.tryGetContext("publicBaseUrl");
  if (raw === undefined || raw === "") return undefined;
  let url: URL | undefined;
  try {
    url = new URL(String(raw));
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "https:" && url.protocol !== "http:") || url.search || url.hash) {
    throw new Error(`publicBaseUrl must be an http(s) URL without query or fragment, got "${String(raw)}"`);
  }
  return String(raw).replace(/\/+$/, "");
}

/** The runner's MaximumConcurrency from the props, the context or the environment (see JourneyApiStackProps). */
export function engineMaxConcurrency(scope: Construct, props: JourneyApiStackProps): number {
  const raw = props.engineMaxConcurrency ?? scope.node.tryGetContext("engineMaxConcurrency") ?? process.env["ENGINE_MAX_CONCURRENCY"];
  const n = raw === undefined || raw === "" ? DEFAULT_ENGINE_MAX_CONCURRENCY : Number(raw);
  // SQS event sources accept 2 to 1000.
  if (!Number.isInteger(n) || n < 2 || n > 1000) throw new Error(`ENGINE_MAX_CONCURRENCY must be an integer from 2 to 1000, got "${String(raw)}"`);
  return n;
}

/**
 * How many of TABLE_INDEXES the table declares: all, unless the context value
 * `tableIndexes` says fewer. DynamoDB (and so CloudFormation) creates one GSI per
 * table update, so a table deployed before the engine takes DueIndex and
 * JourneyIndex in two deploys (docs/operations.md, "Upgrading a stack to the engine").
 */
function declaredIndexes(scope: Construct): typeof TABLE_INDEXES {
  const raw = scope.node.tryGetContext("tableIndexes");
  if (raw === undefined || raw === "") return TABLE_INDEXES;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > TABLE_INDEXES.length) throw new Error(`tableIndexes must be 1 to ${TABLE_INDEXES.length}, got "${String(raw)}"`);
  return TABLE_INDEXES.slice(0, n);
}

export class JourneyApiStack extends Stack {
  readonly table: dynamodb.Table;
  readonly adminKey: secretsmanager.Secret;
  readonly httpApi: apigw.HttpApi;
  readonly functions = new Map<Group | "legacy", ApiFunction>();
  readonly eventsQueue: sqs.Queue;
  readonly eventsDlq: sqs.Queue;
  readonly eventsWorker: ApiFunction;
  readonly exportsBucket: s3.Bucket;
  readonly accessLogsBucket: s3.Bucket;
  readonly apiAccessLogs: logs.LogGroup;
  readonly exportsQueue: sqs.Queue;
  readonly exportsDlq: sqs.Queue;
  readonly exportWorker: ApiFunction;
  readonly exportDlqConsumer: ApiFunction;
  readonly webFunction: ApiFunction;
  /** One-click unsubscribe (ENGINE §8.4): the public function and its links' signing keys. */
  readonly unsubscribeFunction: ApiFunction;
  readonly unsubscribeKeys: secretsmanager.Secret;
  readonly stepsQueue: sqs.Queue;
  readonly stepsDlq: sqs.Queue;
  readonly runner: ApiFunction;
  readonly stepsDlqConsumer: ApiFunction;
  readonly sweeper: ApiFunction;
  readonly sweeperSchedule: scheduler.CfnSchedule;
  readonly schedulerRole: iam.Role;
  /** The runner's event source MaximumConcurrency. */
  readonly engineMaxConcurrency: number;
  /** Every SendEmail names this set (SES_CONFIGURATION_SET); its events feed the adapter. */
  readonly sesConfigurationSet: ses.ConfigurationSet;
  readonly sesEventsRule: events.Rule;
  readonly sesEventsQueue: sqs.Queue;
  readonly sesEventsDlq: sqs.Queue;
  readonly sesEventsAdapter: ApiFunction;

  constructor(scope: Construct, id: string, props: JourneyApiStackProps = {}) {
    super(scope, id, props);

    this.table = new dynamodb.Table(this, "Table", {
      partitionKey: { name: TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TABLE.ttlAttribute,
      // Users, keys and journeys live only here; a stack deletion must not take them along.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // The same list the local stack creates (infra/table.ts): MailIndex projects
    // everything; DueIndex and JourneyIndex only what the sweeper and the jobs read.
    for (const index of declaredIndexes(this)) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: dynamodb.AttributeType.STRING },
        ...(index.sortKey ? { sortKey: { name: index.sortKey, type: dynamodb.AttributeType.STRING } } : {}),
        ...(index.include
          ? { projectionType: dynamodb.ProjectionType.INCLUDE, nonKeyAttributes: [...index.include] }
          : { projectionType: dynamodb.ProjectionType.ALL }),
      });
    }
    this.engineMaxConcurrency = engineMaxConcurrency(this, props);

    // The functions read the raw SecretString as the key, so no JSON template.
    this.adminKey = new secretsmanager.Secret(this, "AdminApiKey", {
      description: "Admin API key for the Journey API (AdminAPIKey)",
      generateSecretString: { passwordLength: 40, excludePunctuation: true },
    });

    Validations.of(this.adminKey).acknowledge({
      id: "AwsSolutions-SMG4",
      reason:
        "A plain API key handed to operators: Secrets Manager has no hosted rotation for it, and rotating it " +
        "is a deliberate operator step (put-secret-value, then new containers read it), documented in docs/operations.md.",
    });

    // Who fetched which export (S3 server access logs). Private; the log lines carry
    // presigned URLs' query strings, whose credentials expire within the hour.
    this.accessLogsBucket = new s3.Bucket(this, "AccessLogsBucket", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      lifecycleRules: [{ expiration: Duration.days(ACCESS_LOG_RETENTION_DAYS) }],
    });
    Validations.of(this.accessLogsBucket).acknowledge({
      id: "AwsSolutions-S1",
      reason: "This bucket is the server access log target; logging it would only log the log deliveries.",
    });

    // CSV exports (CONTRACT §9): a private bucket whose objects expire with the job,
    // a job queue with a DLQ.
    this.exportsBucket = new s3.Bucket(this, "ExportsBucket", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: "exports-bucket/",
      lifecycleRules: [
        { expiration: Duration.days(EXPORT_RETENTION_DAYS), abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
    this.exportsDlq = new sqs.Queue(this, "ExportsDlq", {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    this.exportsQueue = new sqs.Queue(this, "ExportsQueue", {
      visibilityTimeout: EXPORT_VISIBILITY_TIMEOUT,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.exportsDlq, maxReceiveCount: EXPORT_MAX_ATTEMPTS },
    });

    // The events queue (CONTRACT §7): the same ingest core as journey.events.ingest.
    this.eventsDlq = new sqs.Queue(this, "EventsDlq", {
      // The longest SQS allows: time to find the fault and redrive by hand.
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    this.eventsQueue = new sqs.Queue(this, "EventsQueue", {
      visibilityTimeout: EVENTS_VISIBILITY_TIMEOUT,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.eventsDlq, maxReceiveCount: EVENTS_MAX_RECEIVE_COUNT },
    });

    // The engine's steps queue (ENGINE §5.2, §10), declared like the others: SSE, TLS only.
    this.stepsDlq = new sqs.Queue(this, "StepsDlq", {
      // The longest SQS allows; its consumer empties it, but a record it cannot handle waits here.
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    this.stepsQueue = new sqs.Queue(this, "StepsQueue", {
      visibilityTimeout: STEPS_VISIBILITY_TIMEOUT,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.stepsDlq, maxReceiveCount: STEPS_MAX_RECEIVE_COUNT },
    });

    const environment = {
      TABLE_NAME: this.table.tableName,
      ADMIN_API_KEY_SECRET_ARN: this.adminKey.secretArn,
      RATE_LIMIT_PER_MINUTE: String(props.rateLimitPerMinute ?? 100),
      SESSION_TTL_SECONDS: String(props.sessionTtlSeconds ?? 86400),
      EXPORTS_QUEUE_URL: this.exportsQueue.queueUrl,
      EXPORTS_BUCKET: this.exportsBucket.bucketName,
      EXPORT_LEASE_SECONDS: String(EXPORT_LEASE_SECONDS),
      EXPORT_MAX_ATTEMPTS: String(EXPORT_MAX_ATTEMPTS),
    };

    const engineEnvironment = { ...ENGINE_SETTINGS, STEPS_QUEUE_URL: this.stepsQueue.queueUrl };
    const eventsEnvironment = { EVENTS_QUEUE_URL: this.eventsQueue.queueUrl };
    const build = (target: Group | "legacy", id: string, served: readonly CommandDef[]): ApiFunction => {
      const producer = target === "legacy" || STEP_PRODUCER_GROUPS.includes(target);
      const sendsEvents = target === "legacy" || EVENT_SENDER_GROUPS.includes(target);
      const f = new ApiFunction(this, id, {
        target,
        // The dispatcher serves every group: split, it loads only the one it is called for.
        splitting: target === "legacy",
        environment: { ...environment, ...(producer ? engineEnvironment : {}), ...(sendsEvents ? eventsEnvironment : {}) },
      });
      this.grantFor(f, served);
      if (producer) this.stepsQueue.grantSendMessages(f.fn);
      if (sendsEvents) this.eventsQueue.grantSendMessages(f.fn);
      this.functions.set(target, f);
      return f;
    };

    // The dispatcher serves every command by name, so it needs the union of all grants.
    const legacy = build("legacy", "LegacyFunction", commands);
    const legacyIntegration = new HttpLambdaIntegration("LegacyIntegration", legacy.fn);

    // Anything API Gateway does not route goes to the dispatcher, which answers
    // the legacy "wrong method" (100001) or "unknown command" (100003) errors.
    this.httpApi = new apigw.HttpApi(this, "HttpApi", { defaultIntegration: legacyIntegration, createDefaultStage: false });
    this.apiAccessLogs = new logs.LogGroup(this, "ApiAccessLogs", { retention: logs.RetentionDays.THREE_MONTHS });
    this.httpApi.addStage("DefaultStage", {
      stageName: "$default",
      autoDeploy: true,
      throttle: API_THROTTLE,
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(this.apiAccessLogs),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FORMAT)),
      },
    });
    // Applies to every route, including those added later.
    Validations.of(this.httpApi).acknowledge({
      id: "AwsSolutions-APIG4",
      reason:
        "By design every command authenticates itself (APIKey or session, in the query, body or header, as the " +
        "legacy /api.php contract requires) and answers the contract's own error codes; a Gateway authorizer " +
        "could not read body credentials and would answer with its own 401/403. The public one-click unsubscribe " +
        "routes (ENGINE §8.4) take no credential by design: a mail client posts them unattended (RFC 8058), and " +
        "their signed token, verified by the function, is what authorises the one change they make.",
    });
    for (const r of LEGACY_ROUTES) {
      this.httpApi.addRoutes({ path: r.path, methods: [apigw.HttpMethod[r.method]], integration: legacyIntegration });
    }

    for (const group of routedGroups()) {
      const served = commandsOf(group);
      const f = build(group, `${pascal(group)}Function`, served);
      const integration = new HttpLambdaIntegration(`${pascal(group)}Integration`, f.fn);
      for (const c of served) {
        if (!c.route) continue;
        this.httpApi.addRoutes({ path: c.route.path, methods: [apigw.HttpMethod[c.route.method]], integration });
      }
    }

    // /docs, /console and /openapi.json: a function of their own with no grants, so the
    // API bundles do not carry Swagger UI or the console. The files are built at synth.
    this.webFunction = new ApiFunction(this, "WebFunction", {
      target: "web",
      environment: {},
      assets: buildWebAssets(path.join(mkdtempSync(path.join(tmpdir(), "journey-web-")), "web")),
    });
    const webIntegration = new HttpLambdaIntegration("WebIntegration", this.webFunction.fn);
    for (const r of WEB_ROUTES) {
      this.httpApi.addRoutes({ path: r.path, methods: [apigw.HttpMethod.GET], integration: webIntegration });
    }

    // ---- One-click unsubscribe (ENGINE §8.4, §10) ----
    // The signing keys: {"<kid>": "<key>"}, the highest kid signs, every kid verifies
    // (shared/delivery/unsubscribe-token.ts). Generated with kid 1; rotation adds a kid.
    this.unsubscribeKeys = new secretsmanager.Secret(this, "UnsubscribeKeys", {
      description: 'Signing keys of one-click unsubscribe links: {"<kid>": "<key>"}; the highest kid signs, all verify',
      generateSecretString: { secretStringTemplate: "{}", generateStringKey: "1", passwordLength: 64, excludePunctuation: true },
    });
    Validations.of(this.unsubscribeKeys).acknowledge({
      id: "AwsSolutions-SMG4",
      reason:
        "Rotation adds a key under a new kid and keeps the old ones, so that links already in inboxes stay valid; " +
        "Secrets Manager's hosted rotation would replace the value and break them. The operator step is documented in docs/operations.md.",
    });
    const linkEnvironment = {
      UNSUBSCRIBE_KEYS_SECRET_ARN: this.unsubscribeKeys.secretArn,
      PUBLIC_BASE_URL: publicBaseUrl(this) ?? this.httpApi.apiEndpoint,
    };
    // Its own small bundle: the token, the subscriber write and an SQS send. It does not
    // sign links, so it gets the secret but not PUBLIC_BASE_URL.
    this.unsubscribeFunction = new ApiFunction(this, "UnsubscribeFunction", {
      target: "unsubscribe",
      environment: { ...environment, ...engineEnvironment, ...eventsEnvironment, UNSUBSCRIBE_KEYS_SECRET_ARN: this.unsubscribeKeys.secretArn },
    });
    // The subscriber's read-decide-write (BatchGetItem, TransactWriteItems) and its outbox
    // delivery; the ListUnsubscription signal to the steps queue, Unsubscribed to the events queue.
    this.grantTable(this.unsubscribeFunction, TABLE_ACTIONS);
    this.stepsQueue.grantSendMessages(this.unsubscribeFunction.fn);
    this.eventsQueue.grantSendMessages(this.unsubscribeFunction.fn);
    this.unsubscribeKeys.grantRead(this.unsubscribeFunction.fn);
    const unsubscribeIntegration = new HttpLambdaIntegration("UnsubscribeIntegration", this.unsubscribeFunction.fn);
    for (const r of PUBLIC_ROUTES) {
      this.httpApi.addRoutes({ path: r.path, methods: [apigw.HttpMethod[r.method]], integration: unsubscribeIntegration });
    }

    this.eventsWorker = new ApiFunction(this, "EventsWorkerFunction", {
      target: "events-worker",
      timeout: EVENTS_WORKER_TIMEOUT,
      environment: { ...environment, ...engineEnvironment, EVENTS_QUEUE_URL: this.eventsQueue.queueUrl },
    });
    // It runs journey.events.ingest's core, so it gets exactly that command's grants,
    // and the steps queue for the signals ingest fires (ENGINE §4.1).
    this.grantFor(this.eventsWorker, commandsOf("events"));
    this.stepsQueue.grantSendMessages(this.eventsWorker.fn);
    this.eventsWorker.fn.addEventSource(
      new SqsEventSource(this.eventsQueue, { batchSize: 10, reportBatchItemFailures: true }),
    );

    // The worker alone writes export files; it reads the same rollups as the stats commands.
    this.exportWorker = new ApiFunction(this, "ExportWorkerFunction", {
      target: "export-worker",
      timeout: EXPORT_WORKER_TIMEOUT,
      environment,
    });
    this.grantFor(this.exportWorker, commandsOf("exports"));
    // Exact actions (grantPut would add wildcards such as s3:Abort*).
    this.grantExportObjects(this.exportWorker, ["s3:PutObject", "s3:AbortMultipartUpload"]);
    this.exportWorker.fn.addEventSource(
      new SqsEventSource(this.exportsQueue, { batchSize: 1, reportBatchItemFailures: true }),
    );
    // Whatever reaches the DLQ failed every try, maybe by crashing: its job is marked Failed.
    this.exportDlqConsumer = new ApiFunction(this, "ExportDlqFunction", { target: "export-dlq", environment });
    this.grantFor(this.exportDlqConsumer, commandsOf("exports"));
    this.exportDlqConsumer.fn.addEventSource(
      new SqsEventSource(this.exportsDlq, { batchSize: 10, reportBatchItemFailures: true }),
    );
    // Submitting queues a job; downloads are presigned with the function's own role, so
    // it may read the export objects, and only those.
    for (const target of ["exports", "legacy"] as const) {
      const f = this.functions.get(target);
      if (!f) continue;
      this.exportsQueue.grantSendMessages(f.fn);
      this.grantExportObjects(f, ["s3:GetObject"]);
    }

    // ---- The engine (ENGINE §5, §6, §10) ----
    const dueIndexArn = `${this.table.tableArn}/index/${TABLE.dueIndex.name}`;
    const journeyIndexArn = `${this.table.tableArn}/index/${TABLE.journeyIndex.name}`;

    // The runner: every kind of steps message (steps, signals, jobs, outboxes).
    this.runner = new ApiFunction(this, "EngineFunction", {
      target: "engine",
      timeout: RUNNER_TIMEOUT,
      // Split: the SES and SMS clients (shared/delivery) become chunks loaded on the first
      // send, so a cold start that only waits, decides and tags does not load them.
      splitting: true,
      // It signs the unsubscribe links of the emails it sends (ENGINE §8.1, §8.4).
      environment: { ...environment, ...engineEnvironment, ...eventsEnvironment, ...linkEnvironment },
    });
    this.unsubscribeKeys.grantRead(this.runner.fn);
    this.grantTable(this.runner, TABLE_ACTIONS);
    // Its jobs find a journey's cursors through JourneyIndex; DueIndex as §10 lists it
    // ("the table and its indexes"). Query only, each on its exact ARN.
    this.runner.fn.addToRolePolicy(new iam.PolicyStatement({ actions: ["dynamodb:Query"], resources: [dueIndexArn, journeyIndexArn] }));
    this.stepsQueue.grantSendMessages(this.runner.fn);
    this.eventsQueue.grantSendMessages(this.runner.fn);
    // SendSMS (§8.5): context smsGateways / smsConfigurationSet → its environment, and
    // sms-voice:SendTextMessage on exactly the ARNs they list (infra/sms.ts).
    configureSms(this, this.runner.fn);
    this.runner.fn.addEventSource(
      new SqsEventSource(this.stepsQueue, {
        batchSize: 10,
        reportBatchItemFailures: true,
        maxConcurrency: this.engineMaxConcurrency,
      }),
    );

    // The steps DLQ's consumer: ends an enrolment whose step failed every delivery. It
    // writes engine items (so it shares DUE_SHARDS) and sends only end events.
    this.stepsDlqConsumer = new ApiFunction(this, "StepsDlqFunction", {
      target: "steps-dlq",
      environment: { ...environment, ...ENGINE_SETTINGS, ...eventsEnvironment },
    });
    this.grantTable(this.stepsDlqConsumer, TABLE_ACTIONS);
    this.eventsQueue.grantSendMessages(this.stepsDlqConsumer.fn);
    this.stepsDlqConsumer.fn.addEventSource(
      new SqsEventSource(this.stepsDlq, { batchSize: 10, reportBatchItemFailures: true }),
    );

    // The sweeper: its watermarks (get, put), recovery moves (update), DueIndex
    // queries, and hand-offs to the steps queue; nothing else.
    this.sweeper = new ApiFunction(this, "SweeperFunction", {
      target: "sweeper",
      timeout: SWEEPER_TIMEOUT,
      reservedConcurrentExecutions: 1,
      environment: { ...environment, ...engineEnvironment },
    });
    this.grantTable(this.sweeper, ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]);
    this.sweeper.fn.addToRolePolicy(new iam.PolicyStatement({ actions: ["dynamodb:Query"], resources: [dueIndexArn] }));
    this.stepsQueue.grantSendMessages(this.sweeper.fn);
    // A run that fails or arrives late is not retried: the next minute catches up (§6).
    this.sweeper.fn.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.seconds(60) });

    // EventBridge Scheduler invokes it every minute, through a role that may invoke
    // the sweeper and nothing else, and only for schedules of this account.
    this.schedulerRole = new iam.Role(this, "SweeperSchedulerRole", {
      assumedBy: new iam.ServicePrincipal("scheduler.amazonaws.com", {
        conditions: { StringEquals: { "aws:SourceAccount": this.account } },
      }),
      description: "EventBridge Scheduler: invokes the engine's sweeper",
    });
    this.schedulerRole.addToPolicy(
      new iam.PolicyStatement({ actions: ["lambda:InvokeFunction"], resources: [this.sweeper.fn.functionArn] }),
    );
    this.sweeperSchedule = new scheduler.CfnSchedule(this, "SweeperSchedule", {
      description: "The engine's minute sweeper (ENGINE §6)",
      scheduleExpression: "rate(1 minute)",
      flexibleTimeWindow: { mode: "OFF" },
      state: "ENABLED",
      target: {
        arn: this.sweeper.fn.functionArn,
        roleArn: this.schedulerRole.roleArn,
        // No retries and no backlog: a minute missed is caught up by the next run.
        retryPolicy: { maximumRetryAttempts: 0, maximumEventAgeInSeconds: 60 },
      },
    });

    // ---- SES events into statistics (ENGINE §8.3, §10) ----
    // The configuration set every SendEmail names: reputation metrics for the alarms,
    // bounces and complaints on the account-level suppression list, TLS required to the
    // receiving server, and every event kind published to the default EventBridge bus.
    this.sesConfigurationSet = new ses.ConfigurationSet(this, "SesConfigurationSet", {
      reputationMetrics: true,
      suppressionReasons: ses.SuppressionReasons.BOUNCES_AND_COMPLAINTS,
      tlsPolicy: ses.ConfigurationSetTlsPolicy.REQUIRE,
    });
    this.sesConfigurationSet.addEventDestination("ToEventBridge", {
      destination: ses.EventDestination.eventBus(events.EventBus.fromEventBusName(this, "DefaultEventBus", "default")),
      events: [...SES_PUBLISHED_EVENTS],
    });
    this.sesEventsDlq = new sqs.Queue(this, "SesEventsDlq", {
      // The longest SQS allows: these are deliveries and engagement never counted.
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    this.sesEventsQueue = new sqs.Queue(this, "SesEventsQueue", {
      visibilityTimeout: SES_EVENTS_VISIBILITY_TIMEOUT,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.sesEventsDlq, maxReceiveCount: SES_EVENTS_MAX_RECEIVE_COUNT },
    });
    // Only this set's events: the rule matches the tag SES puts on every message it sends
    // with the set. The target adds the queue policy, which admits EventBridge for this
    // rule alone (aws:SourceArn).
    this.sesEventsRule = new events.Rule(this, "SesEventsRule", {
      description: "SES events of the Journey API's configuration set → the SES events queue (ENGINE §8.3)",
      eventPattern: {
        source: ["aws.ses"],
        detail: { mail: { tags: { "ses:configuration-set": [this.sesConfigurationSet.configurationSetName] } } },
      },
      targets: [new eventTargets.SqsQueue(this.sesEventsQueue)],
    });
    // The adapter: maps SES events onto the events queue, and marks Reject and
    // RenderingFailure on email states (an update, guarded by the journey's existence).
    this.sesEventsAdapter = new ApiFunction(this, "SesEventsFunction", {
      target: "ses-events",
      environment: { ...environment, ...eventsEnvironment, SES_CONFIGURATION_SET: this.sesConfigurationSet.configurationSetName },
    });
    this.grantTable(this.sesEventsAdapter, ["dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"]);
    this.eventsQueue.grantSendMessages(this.sesEventsAdapter.fn);
    this.sesEventsAdapter.fn.addEventSource(
      new SqsEventSource(this.sesEventsQueue, {
        batchSize: SES_EVENTS_BATCH_SIZE,
        maxBatchingWindow: SES_EVENTS_BATCHING_WINDOW,
        reportBatchItemFailures: true,
      }),
    );

    // ---- SendEmail (ENGINE §8.1, §10) ----
    // The runner sends only from the configured sender domains (verified in SES outside the
    // stack), and only through this configuration set, so every message reports its events.
    const senderDomains = senderDomainsFromContext(this);
    this.runner.fn.addEnvironment("SENDER_DOMAINS", JSON.stringify(senderDomains));
    this.runner.fn.addEnvironment("SES_CONFIGURATION_SET", this.sesConfigurationSet.configurationSetName);
    const sendingDomains = [...new Set(Object.values(senderDomains).map((d) => d.Domain))].sort();
    if (sendingDomains.length > 0) {
      this.runner.fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ["ses:SendEmail"],
          resources: [
            ...sendingDomains.map((d) => this.formatArn({ service: "ses", resource: "identity", resourceName: d })),
            this.formatArn({ service: "ses", resource: "configuration-set", resourceName: this.sesConfigurationSet.configurationSetName }),
          ],
        }),
      );
    }

    const alarms = this.alarms();
    this.dashboard(alarms);

    new CfnOutput(this, "ApiUrl", { value: this.httpApi.apiEndpoint });
    // The ARN, not the value: the key is read with `aws secretsmanager get-secret-value`.
    new CfnOutput(this, "AdminApiKeySecretArn", { value: this.adminKey.secretArn });
    // Rotating the link keys adds a kid to this secret (docs/operations.md).
    new CfnOutput(this, "UnsubscribeKeysSecretArn", { value: this.unsubscribeKeys.secretArn });
    new CfnOutput(this, "EventsQueueUrl", { value: this.eventsQueue.queueUrl });
    new CfnOutput(this, "ExportsBucketName", { value: this.exportsBucket.bucketName });
    // For an operator inspecting or redriving what the DLQ consumer could not handle (docs/operations.md).
    new CfnOutput(this, "StepsDlqUrl", { value: this.stepsDlq.queueUrl });
    // The runner's SES_CONFIGURATION_SET (§8.1) is this name; the SES events DLQ is for redriving by hand.
    new CfnOutput(this, "SesConfigurationSetName", { value: this.sesConfigurationSet.configurationSetName });
    new CfnOutput(this, "SesEventsDlqUrl", { value: this.sesEventsDlq.queueUrl });
  }

  /** Exact item-level actions on the table itself (never its indexes, which are granted one by one). */
  private grantTable(f: ApiFunction, actions: readonly string[]): void {
    f.fn.addToRolePolicy(new iam.PolicyStatement({ actions: [...actions], resources: [this.table.tableArn] }));
  }

  private grantFor(f: ApiFunction, served: readonly CommandDef[]): void {
    if (needsTable(served)) {
      // Explicit actions rather than grantReadWriteData, which also grants
      // Scan, DescribeTable and friends that no command uses.
      f.fn.addToRolePolicy(
        new iam.PolicyStatement({ actions: [...TABLE_ACTIONS], resources: [this.table.tableArn] }),
      );
      // The one GSI, by its exact ARN, for queries only (action recipients, journey purge).
      f.fn.addToRolePolicy(
        new iam.PolicyStatement({ actions: ["dynamodb:Query"], resources: [`${this.table.tableArn}/index/${TABLE.mailIndex.name}`] }),
      );
    }
    if (needsAdminKey(served)) this.adminKey.grantRead(f.fn);
  }

  /**
   * Export files are named per user and job at run time (exports/<user>/<job>/…csv),
   * so `exports/*` is as narrow as a static policy gets; the wildcard is
   * acknowledged here, for exactly this resource, and nowhere else.
   */
  private grantExportObjects(f: ApiFunction, actions: string[]): void {
    f.fn.addToRolePolicy(new iam.PolicyStatement({ actions, resources: [this.exportsBucket.arnForObjects("exports/*")] }));
    const bucketId = this.getLogicalId(this.exportsBucket.node.defaultChild as s3.CfnBucket);
    Validations.of(f).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/exports/*]`,
      reason: "Export object keys are chosen per user and job at run time; the exports/ prefix is the narrowest static scope.",
    });
  }

  /** A custom metric the functions emit (EMF, shared/observability.ts), summed over 5 minutes. */
  private appMetric(name: string, dimensions: Record<string, string> = {}, statistic = "Sum"): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: name,
      dimensionsMap: { service: SERVICE, ...dimensions },
      statistic,
      period: Duration.minutes(5),
    });
  }

  private alarms(): cloudwatch.Alarm[] {
    const made: cloudwatch.Alarm[] = [];
    const common = {
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      // No traffic is not an outage; without this an idle API would sit in INSUFFICIENT_DATA.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    };
    made.push(new cloudwatch.Alarm(this, "Api5xxAlarm", {
      ...common,
      alarmDescription: "The HTTP API answered at least one 5xx in 5 minutes",
      metric: this.httpApi.metricServerError({ period: Duration.minutes(5), statistic: "Sum" }),
    }));
    const workers = [
      ["events-worker", this.eventsWorker],
      ["export-worker", this.exportWorker],
      ["export-dlq", this.exportDlqConsumer],
      ["web", this.webFunction],
      ["engine", this.runner],
      ["steps-dlq", this.stepsDlqConsumer],
      ["sweeper", this.sweeper],
      ["unsubscribe", this.unsubscribeFunction],
      ["ses-events", this.sesEventsAdapter],
    ] as const;
    for (const [target, f] of [...this.functions, ...workers]) {
      made.push(new cloudwatch.Alarm(this, `${pascal(target)}ErrorsAlarm`, {
        ...common,
        alarmDescription: `The ${target} Lambda failed at least once in 5 minutes`,
        metric: f.fn.metricErrors({ period: Duration.minutes(5), statistic: "Sum" }),
      }));
    }
    // Anything in the DLQ is an event that was never counted.
    made.push(new cloudwatch.Alarm(this, "EventsDlqAlarm", {
      ...common,
      alarmDescription: "Events reached the events DLQ after 5 failed deliveries",
      metric: this.eventsDlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: "Maximum" }),
    }));
    // The DLQ consumer empties its queue within seconds, so the queue's depth would
    // rarely show anything: every invocation of the consumer is a job that failed every try.
    made.push(new cloudwatch.Alarm(this, "ExportsDlqAlarm", {
      ...common,
      alarmDescription: "Export jobs reached the exports DLQ after every try failed",
      metric: this.exportDlqConsumer.fn.metricInvocations({ period: Duration.minutes(5), statistic: "Sum" }),
    }));
    // Ingestion falling behind: events wait in the queue, statistics go stale.
    made.push(new cloudwatch.Alarm(this, "EventsBacklogAlarm", {
      alarmDescription: "The oldest message in the events queue has waited over 15 minutes",
      metric: this.eventsQueue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5), statistic: "Maximum" }),
      threshold: 15 * 60,
      evaluationPeriods: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }));
    // Slow for everyone, not one slow call: p99 over 5 s for 15 minutes.
    made.push(new cloudwatch.Alarm(this, "ApiLatencyAlarm", {
      alarmDescription: "HTTP API p99 latency over 5 s for 15 minutes",
      metric: this.httpApi.metricLatency({ period: Duration.minutes(5), statistic: "p99" }),
      threshold: 5000,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }));
    // Attempts are retried, so one failure is noise; several in 15 minutes is S3 or the table in trouble.
    made.push(new cloudwatch.Alarm(this, "ExportFailuresAlarm", {
      alarmDescription: "At least 5 export attempts failed in 15 minutes",
      metric: this.appMetric("ExportFailures").with({ period: Duration.minutes(15) }),
      threshold: 5,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }));
    made.push(...this.engineAlarms(common));
    made.push(...this.sesAlarms(common));
    return made;
  }

  /** ENGINE §10's alarms for the runner and the sweeper, and for sends (§8.2). */
  private engineAlarms(common: Pick<cloudwatch.AlarmProps, "threshold" | "evaluationPeriods" | "comparisonOperator" | "treatMissingData">): cloudwatch.Alarm[] {
    const made: cloudwatch.Alarm[] = [];
    // The DLQ consumer empties its queue within seconds, so its depth would rarely
    // show: every invocation is a steps message that failed 5 deliveries.
    made.push(new cloudwatch.Alarm(this, "StepsDlqAlarm", {
      ...common,
      alarmDescription: "Steps messages reached the steps DLQ after 5 failed deliveries (enrolments ended StepFailed, or dropped)",
      metric: this.stepsDlqConsumer.fn.metricInvocations({ period: Duration.minutes(5), statistic: "Sum" }),
    }));
    // ...and what it cannot handle stays there, retried every 30 s (the DLQ's visibility
    // timeout). Not the DLQ's age of oldest message: SQS keeps a message's original
    // enqueue time when it moves it to a DLQ, so a Step that failed over 15 minutes would
    // look stuck on arrival.
    made.push(new cloudwatch.Alarm(this, "StepsDlqStuckAlarm", {
      alarmDescription: "The steps DLQ consumer failed on its messages 10 times in 15 minutes: they stay in the DLQ",
      metric: this.appMetric("StepsDeadLetterFailed").with({ period: Duration.minutes(15) }),
      threshold: 10,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }));
    made.push(new cloudwatch.Alarm(this, "SweeperLagAlarm", {
      alarmDescription: "The sweeper had 2 or more missed minutes to catch up on: timers run late",
      metric: this.appMetric("SweeperLagMinutes", {}, "Maximum"),
      threshold: 2,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }));
    made.push(new cloudwatch.Alarm(this, "StepLatenessAlarm", {
      alarmDescription: "p99 of step start − DueAt over 60 s for 15 minutes: timers run late (ENGINE §6's target)",
      metric: this.appMetric("StepLateness", {}, "p99").with({ period: Duration.minutes(5) }),
      threshold: 60_000,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }));
    made.push(new cloudwatch.Alarm(this, "SweeperRecoveredAlarm", {
      alarmDescription: "The sweeper recovered over 100 lost entries in 15 minutes: lost handoffs or failing workers",
      metric: this.appMetric("SweeperRecovered").with({ period: Duration.minutes(15) }),
      threshold: 100,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }));
    // §8.2: an Unconfirmed send may be a lost email; any one is worth a look (docs/operations.md says how to read it).
    const sendsBy = (metric: string) =>
      new cloudwatch.MathExpression({
        expression: "FILL(email, 0) + FILL(sms, 0) + FILL(webhook, 0)",
        usingMetrics: Object.fromEntries(["email", "sms", "webhook"].map((ch) => [ch, this.appMetric(metric, { Channel: ch }).with({ period: Duration.minutes(15) })])),
        period: Duration.minutes(15),
        label: metric,
      });
    made.push(new cloudwatch.Alarm(this, "SendsUnconfirmedAlarm", {
      alarmDescription: "A send had no answer, or its worker died around the call, in the last 15 minutes: an email or SMS may be lost (ENGINE §8.2)",
      metric: sendsBy("SendsUnconfirmed"),
      threshold: 0,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }));
    // One throttled minute is SES smoothing a burst; throttling in three 5-minute periods running is a quota too small.
    made.push(new cloudwatch.Alarm(this, "SendsThrottledAlarm", {
      alarmDescription: "SES or SMS throttled sends for 15 minutes: raise the sending quota or lower engineMaxConcurrency",
      metric: new cloudwatch.MathExpression({
        expression: "FILL(email, 0) + FILL(sms, 0)",
        usingMetrics: { email: this.appMetric("SendsThrottled", { Channel: "email" }), sms: this.appMetric("SendsThrottled", { Channel: "sms" }) },
        period: Duration.minutes(5),
        label: "SendsThrottled",
      }),
      threshold: 0,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }));
    // A sweeper that is not invoked at all (schedule disabled or broken) reports no
    // lag and no errors; only its missing invocations show it. Missing data breaches here.
    made.push(new cloudwatch.Alarm(this, "SweeperStoppedAlarm", {
      alarmDescription: "The sweeper was not invoked for 10 minutes: waits past 15 minutes and recovery have stopped",
      metric: this.sweeper.fn.metricInvocations({ period: Duration.minutes(5), statistic: "Sum" }),
      threshold: 1,
      evaluationPeriods: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    }));
    return made;
  }

  /** A reputation rate (0–1) SES publishes for the configuration set, at its worst over 15 minutes. */
  private sesReputation(metricName: string): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: "AWS/SES",
      metricName,
      dimensionsMap: { "ses:configuration-set": this.sesConfigurationSet.configurationSetName },
      statistic: "Maximum",
      period: Duration.minutes(15),
    });
  }

  /** ENGINE §10's SES alarms: the SES events DLQ, and the configuration set's reputation. */
  private sesAlarms(common: Pick<cloudwatch.AlarmProps, "threshold" | "evaluationPeriods" | "comparisonOperator" | "treatMissingData">): cloudwatch.Alarm[] {
    const made: cloudwatch.Alarm[] = [];
    // Nothing consumes the SES events DLQ: whatever is there was never counted.
    made.push(new cloudwatch.Alarm(this, "SesEventsDlqAlarm", {
      ...common,
      alarmDescription: "SES events reached the SES events DLQ after 5 failed deliveries: sends, deliveries or engagement not counted",
      metric: this.sesEventsDlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: "Maximum" }),
    }));
    // The set's own reputation metrics (reputationMetrics on): the rates SES computes over
    // a representative volume; at 10 % bounces or 0.5 % complaints it may pause sending.
    made.push(new cloudwatch.Alarm(this, "SesBounceRateAlarm", {
      alarmDescription: "SES bounce rate of the Journey API's configuration set over 5 %",
      metric: this.sesReputation("Reputation.BounceRate"),
      threshold: SES_BOUNCE_RATE_ALARM,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }));
    made.push(new cloudwatch.Alarm(this, "SesComplaintRateAlarm", {
      alarmDescription: "SES complaint rate of the Journey API's configuration set over 0.1 %",
      metric: this.sesReputation("Reputation.ComplaintRate"),
      threshold: SES_COMPLAINT_RATE_ALARM,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }));
    return made;
  }

  /** One dashboard: traffic, errors, the app's own metrics, queues and the alarms. */
  private dashboard(alarms: cloudwatch.Alarm[]): void {
    const every = [
      ...this.functions.values(),
      this.eventsWorker,
      this.exportWorker,
      this.exportDlqConsumer,
      this.runner,
      this.stepsDlqConsumer,
      this.sweeper,
      this.unsubscribeFunction,
      this.sesEventsAdapter,
    ];
    const byCommand = (metric: string) =>
      new cloudwatch.MathExpression({
        expression: `SEARCH('{${METRICS_NAMESPACE},service,command,statusClass} MetricName="${metric}"', 'Sum', 300)`,
        label: "",
        period: Duration.minutes(5),
      });
    const api = (m: cloudwatch.Metric, label: string) => m.with({ label, period: Duration.minutes(5) });
    new cloudwatch.Dashboard(this, "Dashboard", {
      widgets: [
        [
          new cloudwatch.GraphWidget({
            title: "API requests and errors",
            left: [
              api(this.httpApi.metricCount({ statistic: "Sum" }), "requests"),
              api(this.httpApi.metricClientError({ statistic: "Sum" }), "4xx"),
              api(this.httpApi.metricServerError({ statistic: "Sum" }), "5xx"),
            ],
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: "API latency (ms)",
            left: ["p50", "p99"].map((p) => api(this.httpApi.metricLatency({ statistic: p }), p)),
            width: 8,
          }),
          new cloudwatch.AlarmStatusWidget({ title: "Alarms", alarms, width: 8 }),
        ],
        [
          new cloudwatch.GraphWidget({ title: "Requests by command and status class", left: [byCommand("Requests")], width: 12 }),
          new cloudwatch.GraphWidget({ title: "Errors by command and status class", left: [byCommand("Errors")], width: 12 }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: "Events",
            left: ["EventsAccepted", "EventsDuplicated", "EventsRejected"].map((m) => this.appMetric(m)),
            right: [this.appMetric("RateLimited")],
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: "Exports",
            left: ["ExportRows", "ExportFailures", "ExportsAbandoned"].map((m) => this.appMetric(m)),
            right: [this.appMetric("ExportDuration", {}, "p90")],
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: "Queues",
            left: [
              this.eventsQueue.metricApproximateNumberOfMessagesVisible({ label: "events visible" }),
              this.eventsDlq.metricApproximateNumberOfMessagesVisible({ label: "events DLQ" }),
              this.exportsQueue.metricApproximateNumberOfMessagesVisible({ label: "exports visible" }),
            ],
            right: [this.eventsQueue.metricApproximateAgeOfOldestMessage({ label: "events oldest (s)" })],
            width: 8,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: "Engine: steps queue",
            left: [
              this.stepsQueue.metricApproximateNumberOfMessagesVisible({ label: "steps visible" }),
              this.stepsQueue.metricApproximateNumberOfMessagesNotVisible({ label: "steps in flight" }),
              this.stepsQueue.metricApproximateNumberOfMessagesDelayed({ label: "steps delayed" }),
            ],
            right: [
              this.stepsDlq.metricApproximateNumberOfMessagesVisible({ label: "steps DLQ" }),
              this.appMetric("StepsDeadLettered"),
              this.appMetric("StepsDeadLetterDropped"),
              this.appMetric("StepsDeadLetterFailed"),
            ],
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: "Engine: runner",
            left: [
              this.runner.fn.metricInvocations({ label: "invocations", period: Duration.minutes(5) }),
              this.runner.fn.metricErrors({ label: "errors", period: Duration.minutes(5) }),
            ],
            right: [
              this.runner.fn.metricDuration({ label: "duration p99 (ms)", statistic: "p99", period: Duration.minutes(5) }),
              this.runner.fn.metric("ConcurrentExecutions", { label: "concurrent", statistic: "Maximum", period: Duration.minutes(5) }),
            ],
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: "Engine: sweeper",
            left: [this.appMetric("SweeperHanded"), this.appMetric("SweeperRecovered")],
            right: [this.appMetric("SweeperLagMinutes", {}, "Maximum")],
            width: 8,
          }),
        ],
        [
          // Sends by outcome and channel (§8.2), and webhook calls by status class (§8.6).
          new cloudwatch.GraphWidget({
            title: "Engine: sends by Channel",
            left: ["SendsAccepted", "SendsSuppressed", "SendsRefused"].map(
              (m) => new cloudwatch.MathExpression({ expression: `SEARCH('{${METRICS_NAMESPACE},service,Channel} MetricName="${m}"', 'Sum', 300)`, label: "", period: Duration.minutes(5) }),
            ),
            right: ["SendsThrottled", "SendsUnconfirmed"].map(
              (m) => new cloudwatch.MathExpression({ expression: `SEARCH('{${METRICS_NAMESPACE},service,Channel} MetricName="${m}"', 'Sum', 300)`, label: "", period: Duration.minutes(5) }),
            ),
            width: 12,
          }),
          new cloudwatch.GraphWidget({
            title: "Engine: webhooks",
            left: [new cloudwatch.MathExpression({ expression: `SEARCH('{${METRICS_NAMESPACE},service,StatusClass} MetricName="WebhookCalls"', 'Sum', 300)`, label: "", period: Duration.minutes(5) })],
            right: [new cloudwatch.MathExpression({ expression: `SEARCH('{${METRICS_NAMESPACE},service,Reason} MetricName="WebhookRefused"', 'Sum', 300)`, label: "", period: Duration.minutes(5) })],
            width: 12,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: "SES events by Type",
            left: ["SesEventsMapped", "SesEventsDropped"].map(
              (m) =>
                new cloudwatch.MathExpression({
                  expression: `SEARCH('{${METRICS_NAMESPACE},service,Type} MetricName="${m}"', 'Sum', 300)`,
                  label: "",
                  period: Duration.minutes(5),
                }),
            ),
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: "SES events queue",
            left: [
              this.sesEventsQueue.metricApproximateNumberOfMessagesVisible({ label: "SES events visible" }),
              this.sesEventsDlq.metricApproximateNumberOfMessagesVisible({ label: "SES events DLQ" }),
            ],
            right: [this.sesEventsQueue.metricApproximateAgeOfOldestMessage({ label: "SES events oldest (s)" })],
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: "SES reputation",
            left: ["Reputation.BounceRate", "Reputation.ComplaintRate"].map((m) => this.sesReputation(m)),
            width: 8,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: "Lambda errors and throttles",
            left: every.map((f) => f.fn.metricErrors({ label: `${f.node.id} errors`, period: Duration.minutes(5) })),
            right: every.map((f) => f.fn.metricThrottles({ label: `${f.node.id} throttles`, period: Duration.minutes(5) })),
            width: 12,
          }),
          new cloudwatch.GraphWidget({
            title: "Lambda duration p99 (ms)",
            left: every.map((f) => f.fn.metricDuration({ label: f.node.id, statistic: "p99", period: Duration.minutes(5) })),
            width: 12,
          }),
        ],
      ],
    });
  }
}

function pascal(s: string): string {
  return s
    .split("-")
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join("");
}
