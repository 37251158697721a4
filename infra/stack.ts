import { CfnOutput, Duration, RemovalPolicy, Stack, Validations, type StackProps } from "aws-cdk-lib";
import { AccessLogFormat } from "aws-cdk-lib/aws-apigateway";
import * as apigw from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as iam from "aws-cdk-lib/aws-iam";
import * as logs from "aws-cdk-lib/aws-logs";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as sqs from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { GROUPS, type CommandDef, type Group } from "../shared/command.js";
import { METRICS_NAMESPACE, SERVICE } from "../shared/observability.js";
import { commands, commandsOf } from "../shared/registry.js";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { WEB_ROUTES } from "../shared/web.js";
import { ApiFunction } from "./constructs/api-function.js";
import { buildWebAssets } from "./web-assets.js";
import { TABLE } from "./table.js";

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
 * or headers: an APIKey may travel in either. $context.path is the path alone.
 */
export const ACCESS_LOG_FORMAT = {
  requestId: "$context.requestId",
  requestTime: "$context.requestTime",
  ip: "$context.identity.sourceIp",
  method: "$context.httpMethod",
  routeKey: "$context.routeKey",
  path: "$context.path",
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
    this.table.addGlobalSecondaryIndex({
      indexName: TABLE.mailIndex.name,
      partitionKey: { name: TABLE.mailIndex.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE.mailIndex.sortKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });

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

    const build = (target: Group | "legacy", id: string, served: readonly CommandDef[]): ApiFunction => {
      const f = new ApiFunction(this, id, { target, environment });
      this.grantFor(f, served);
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
        "could not read body credentials and would answer with its own 401/403.",
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
    this.eventsWorker = new ApiFunction(this, "EventsWorkerFunction", {
      target: "events-worker",
      timeout: EVENTS_WORKER_TIMEOUT,
      environment: { ...environment, EVENTS_QUEUE_URL: this.eventsQueue.queueUrl },
    });
    // It runs journey.events.ingest's core, so it gets exactly that command's grants.
    this.grantFor(this.eventsWorker, commandsOf("events"));
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

    const alarms = this.alarms();
    this.dashboard(alarms);

    new CfnOutput(this, "ApiUrl", { value: this.httpApi.apiEndpoint });
    // The ARN, not the value: the key is read with `aws secretsmanager get-secret-value`.
    new CfnOutput(this, "AdminApiKeySecretArn", { value: this.adminKey.secretArn });
    new CfnOutput(this, "EventsQueueUrl", { value: this.eventsQueue.queueUrl });
    new CfnOutput(this, "ExportsBucketName", { value: this.exportsBucket.bucketName });
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
    return made;
  }

  /** One dashboard: traffic, errors, the app's own metrics, queues and the alarms. */
  private dashboard(alarms: cloudwatch.Alarm[]): void {
    const every = [...this.functions.values(), this.eventsWorker, this.exportWorker, this.exportDlqConsumer];
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
