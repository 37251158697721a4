import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { App, Stack, Stage, type CfnElement } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { beforeAll, describe, expect, it } from "vitest";
import { GROUPS, type Group } from "../../shared/command.js";
import { commands, commandsOf } from "../../shared/registry.js";
import { RUNTIME_ENVIRONMENT, type ApiFunction } from "../../infra/constructs/api-function.js";
import { API_THROTTLE, EVENTS_WORKER_TIMEOUT, EXPORT_WORKER_TIMEOUT, JourneyApiStack, RUNNER_TIMEOUT, SWEEPER_TIMEOUT } from "../../infra/stack.js";
import { PUBLIC_ROUTES } from "../../shared/public-routes.js";
import { SES_EVENT_TYPES } from "../../shared/delivery/ses-shape.js";
import { WEB_ROUTES } from "../../shared/web.js";
import { configureSms, smsSettings } from "../../infra/sms.js";

/**
 * Assertions on the synthesized CloudFormation, not on the constructs: the template
 * is what gets deployed. Expected values come from the registry where the stack is
 * meant to follow it, and are spelled out here where the stack must not drift.
 */

type Target = Group | "legacy";
type Json = Record<string, unknown>;
interface Resource {
  Type: string;
  Properties?: Json;
  DeletionPolicy?: string;
}

// Every action a data function needs, written out so that a widened grant fails here.
const EXPECTED_TABLE_ACTIONS = [
  "dynamodb:BatchGetItem",
  "dynamodb:BatchWriteItem",
  "dynamodb:ConditionCheckItem",
  "dynamodb:DeleteItem",
  "dynamodb:GetItem",
  "dynamodb:PutItem",
  "dynamodb:Query",
  "dynamodb:TransactWriteItems",
  "dynamodb:UpdateItem",
];

let stack: JourneyApiStack;
let template: Template;
let resources: Record<string, Resource>;

const logicalId = (el: unknown): string => Stack.of(stack).getLogicalId(el as CfnElement);
const fnId = (t: Target): string => logicalId(stack.functions.get(t)?.fn.node.defaultChild);
const roleId = (t: Target): string => logicalId(stack.functions.get(t)?.fn.role?.node.defaultChild);
const fnOf = (f: ApiFunction): string => logicalId(f.fn.node.defaultChild);
const roleOf = (f: ApiFunction): string => logicalId(f.fn.role?.node.defaultChild);
const workerFnId = (): string => fnOf(stack.eventsWorker);
const workerRoleId = (): string => roleOf(stack.eventsWorker);
/** The queue consumers and the sweeper: no route, each with an entry point of its own. */
const workers = (): ApiFunction[] => [stack.eventsWorker, stack.exportWorker, stack.exportDlqConsumer, stack.runner, stack.stepsDlqConsumer, stack.sweeper, stack.sesEventsAdapter];
/** Every Lambda the stack is meant to build, by logical ID: the routed ones, the workers, the web pages and the unsubscribe link's. */
const allFnIds = (): string[] => [...targets.map(fnId), ...workers().map(fnOf), fnOf(stack.webFunction), fnOf(stack.unsubscribeFunction)];
const queueArnOf = (q: { node: { defaultChild?: unknown } }) => ({ "Fn::GetAtt": [logicalId(q.node.defaultChild), "Arn"] });
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
const ofType = (type: string): [string, Resource][] => Object.entries(resources).filter(([, r]) => r.Type === type);
const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

/** Every statement attached to a role, whether through AWS::IAM::Policy or inline. */
/** A DynamoDB grant on the table itself; the index grant (Query on MailIndex) is asserted apart. */
const onTable = (st: Statement): boolean =>
  asArray(st.Action).some((a) => a.startsWith("dynamodb:")) && !JSON.stringify(st.Resource).includes("/index/");

function statementsOf(role: string): Statement[] {
  const out: Statement[] = [];
  for (const [, r] of ofType("AWS::IAM::Policy")) {
    const roles = asArray(r.Properties?.["Roles"] as unknown[]);
    if (roles.some((x) => JSON.stringify(x) === JSON.stringify({ Ref: role }))) {
      out.push(...asArray((r.Properties?.["PolicyDocument"] as Json)["Statement"] as Statement[]));
    }
  }
  for (const p of asArray(resources[role]?.Properties?.["Policies"] as Json[])) {
    out.push(...asArray((p["PolicyDocument"] as Json)["Statement"] as Statement[]));
  }
  return out;
}

/** Every policy statement in the template, wherever it is attached. */
function allStatements(): Statement[] {
  const out: Statement[] = [];
  for (const [, r] of Object.entries(resources)) {
    if (r.Type === "AWS::IAM::Policy" || r.Type === "AWS::IAM::ManagedPolicy") {
      out.push(...asArray((r.Properties?.["PolicyDocument"] as Json)["Statement"] as Statement[]));
    }
    if (r.Type === "AWS::IAM::Role") {
      for (const p of asArray(r.Properties?.["Policies"] as Json[])) {
        out.push(...asArray((p["PolicyDocument"] as Json)["Statement"] as Statement[]));
      }
    }
  }
  return out;
}

const actionsOf = (statements: Statement[]): string[] => statements.flatMap((s) => asArray(s.Action));

/** Whether an IAM action pattern (case-insensitive, `*` and `?` wildcards) covers an action. */
function actionCovers(pattern: string, action: string): boolean {
  const body = [...pattern].map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\]/g, "\\$&"))).join("");
  return new RegExp(`^${body}$`, "i").test(action);
}

/** Whether a statement allows an action (on any resource, or on `resource` or `*`). */
function allows(st: Statement, action: string, resource?: unknown): boolean {
  if (st.Effect !== "Allow" || !asArray(st.Action).some((p) => actionCovers(p, action))) return false;
  return resource === undefined || asArray(st.Resource).some((r) => r === "*" || same(r, resource));
}

/** The roles that may perform an action (anywhere, or on `resource`), sorted. */
const rolesAllowing = (action: string, resource?: unknown): string[] =>
  ofType("AWS::IAM::Role")
    .map(([id]) => id)
    .filter((id) => statementsOf(id).some((st) => allows(st, action, resource)))
    .sort();

/** Which function a route's target integration invokes. */
function functionBehind(routeKey: string): string | undefined {
  const route = ofType("AWS::ApiGatewayV2::Route").find(([, r]) => r.Properties?.["RouteKey"] === routeKey)?.[1];
  if (!route) return undefined;
  const join = (route.Properties?.["Target"] as { "Fn::Join": [string, unknown[]] })["Fn::Join"][1];
  const integrationId = (join[1] as { Ref: string }).Ref;
  const uri = resources[integrationId]?.Properties?.["IntegrationUri"] as { "Fn::GetAtt": [string, string] };
  return uri["Fn::GetAtt"][0];
}

// What the stack is meant to build, from the registry: one function per group
// with a route, plus the dispatcher that serves every command by name.
const routedGroups = GROUPS.filter((g) => commandsOf(g).some((c) => c.route));
const targets: Target[] = [...routedGroups, "legacy"];
const servedBy = (t: Target) => (t === "legacy" ? commands : commandsOf(t));

/**
 * SendSMS's context (ENGINE §8.5, §10): two gateways and a configuration set by name. The
 * one synthesized stack carries it, since a second synthesis would cost minutes; the stack
 * without SMS context is covered in "SendSMS" below on a small stack of its own.
 */
const smsArn = (kind: string, id: string) => `arn:aws:sms-voice:eu-west-1:111122223333:${kind}/${id}`;
const SMS_CONTEXT = {
  smsGateways: {
    "0": { OriginationIdentity: smsArn("pool", "pool-default"), SenderIds: { ACME: smsArn("sender-id", "ACME/GB") } },
    "5": {
      OriginationIdentity: smsArn("phone-number", "phone-5"),
      // ACME again: one grant per ARN, however many gateways list it.
      SenderIds: { "+15551234567": smsArn("phone-number", "phone-alt"), ACME: smsArn("sender-id", "ACME/GB") },
      Users: [12],
    },
  },
  smsConfigurationSet: "journeys-sms",
  // SendEmail's (§8.1): two IDs on one domain, so the grant names it once.
  senderDomains: { "0": { Domain: "News.Example.com" }, "2": { Domain: "shop.example.com", Users: [12, 14] }, "3": { Domain: "news.example.com" } },
};

beforeAll(() => {
  // Synthesis bundles every function with esbuild; that is the slow part.
  stack = new JourneyApiStack(new App({ context: SMS_CONTEXT }), "JourneyApi");
  template = Template.fromStack(stack);
  resources = template.toJSON()["Resources"] as Record<string, Resource>;
  // About a minute alone; on the shared 2-core machine, beside the browser tests and a
  // load of 14, it took 150 s; with the engine's three functions more. Generous, and still bounded.
}, 420_000);

describe("HTTP API routes", () => {
  it("routes every registry command that has a route to its own group's function", () => {
    const routed = commands.filter((c) => c.route);
    expect(routed.length).toBeGreaterThan(0);
    for (const c of routed) {
      const key = `${c.route!.method} ${c.route!.path}`;
      expect(functionBehind(key), key).toBe(fnId(c.group));
    }
  });

  it("sends GET and POST /api.php and the $default route to the legacy dispatcher", () => {
    for (const key of ["GET /api.php", "POST /api.php", "$default"]) {
      expect(functionBehind(key), key).toBe(fnId("legacy"));
    }
  });

  it("declares no route beyond the registry's, /api.php and $default", () => {
    const declared = ofType("AWS::ApiGatewayV2::Route").map(([, r]) => r.Properties?.["RouteKey"]).sort();
    const expected = [
      ...commands.filter((c) => c.route).map((c) => `${c.route!.method} ${c.route!.path}`),
      "GET /api.php",
      "POST /api.php",
      "$default",
      ...WEB_ROUTES.map((r) => `GET ${r.path}`),
      ...PUBLIC_ROUTES.map((r) => `${r.method} ${r.path}`),
    ].sort();
    expect(declared).toEqual(expected);
  });

  it("sends GET /docs, /console, their files and /openapi.json to the web function", () => {
    expect(WEB_ROUTES.map((r) => r.path)).toEqual(["/docs", "/docs/{proxy+}", "/console", "/console/{proxy+}", "/openapi.json"]);
    for (const r of WEB_ROUTES) expect(functionBehind(`GET ${r.path}`), r.path).toBe(fnOf(stack.webFunction));
  });

  it("outputs the API URL and the admin key's ARN, never its value", () => {
    const outputs = template.toJSON()["Outputs"] as Record<string, { Value: unknown }>;
    expect(outputs["ApiUrl"]?.Value).toEqual({ "Fn::GetAtt": [logicalId(stack.httpApi.node.defaultChild), "ApiEndpoint"] });
    expect(outputs["AdminApiKeySecretArn"]?.Value).toEqual({ Ref: logicalId(stack.adminKey.node.defaultChild) });
    expect(JSON.stringify(outputs)).not.toMatch(/SecretString|resolve:secretsmanager/);
  });
});

describe("Lambda functions", () => {
  it("builds exactly one function per routed group plus the dispatcher, the seven workers, the web function and the unsubscribe function", () => {
    expect([...stack.functions.keys()].sort()).toEqual([...targets].sort());
    // The events worker, the export worker, the exports DLQ consumer, the runner, the
    // steps DLQ consumer and the SES events adapter serve queues rather than routes; the
    // sweeper runs on a schedule.
    const ids = allFnIds();
    expect(new Set(ids).size).toBe(targets.length + 9);
    expect(ofType("AWS::Lambda::Function").map(([id]) => id).sort()).toEqual([...ids].sort());
  });

  it("runs every function on Node.js 24, arm64, 512 MB with source maps, and 29 s unless it is a long-running worker", () => {
    // Only the two workers that do long batches run past API Gateway's 29 s; the exports
    // DLQ consumer only marks jobs Failed and keeps the default.
    const longRunning = new Map([
      [workerFnId(), EVENTS_WORKER_TIMEOUT.toSeconds()],
      [fnOf(stack.exportWorker), EXPORT_WORKER_TIMEOUT.toSeconds()],
      [fnOf(stack.runner), RUNNER_TIMEOUT.toSeconds()],
      [fnOf(stack.sweeper), SWEEPER_TIMEOUT.toSeconds()],
    ]);
    expect([...longRunning.values()]).toEqual([60, 300, 60, 50]);
    // CDK's own helpers (log retention, custom resources) would not be ours to configure.
    const ours = ofType("AWS::Lambda::Function").filter(([id]) => !/^(LogRetention|CustomResource|AWS679f53fac)/.test(id));
    expect(ours.map(([id]) => id).sort()).toEqual([...allFnIds()].sort());
    for (const [id, r] of ours) {
      expect(r.Properties?.["Runtime"], id).toBe("nodejs24.x");
      expect(r.Properties?.["Architectures"], id).toEqual(["arm64"]);
      expect(r.Properties?.["MemorySize"], id).toBe(512);
      expect(r.Properties?.["Timeout"], id).toBe(longRunning.get(id) ?? 29);
      const env = (r.Properties?.["Environment"] as { Variables: Record<string, unknown> }).Variables;
      // Maps are shipped but not loaded at init: --enable-source-maps costs ~30 % of a cold start.
      expect(String(env["NODE_OPTIONS"] ?? ""), id).not.toContain("--enable-source-maps");
      expect(env, id).toMatchObject({ POWERTOOLS_SERVICE_NAME: "journey-api", POWERTOOLS_METRICS_NAMESPACE: "JourneyApi", POWERTOOLS_LOG_LEVEL: "INFO" });
    }
  });

  it("packages every function from its own entry: no two share a code asset, and the split ones (dispatcher, runner) ship index.mjs with chunks", () => {
    // CDK caches a bundle by its options; a split function whose options did not name
    // its entry was once handed another's bundle (the runner shipped the dispatcher).
    const outdir = Stage.of(stack)!.assetOutdir;
    const codeOf = (id: string) => path.join(outdir, `asset.${String((resources[id]?.Properties?.["Code"] as { S3Key: string }).S3Key).replace(/\.zip$/, "")}`);
    const dirs = allFnIds().map(codeOf);
    expect(new Set(dirs).size).toBe(dirs.length);
    const entries = new Map<string, string>([
      [fnId("legacy"), "functions/legacy/index.ts"],
      [fnOf(stack.runner), "functions/engine/index.ts"],
      [fnOf(stack.eventsWorker), "functions/events-worker/index.ts"],
      [fnId("journeys"), "functions/journeys/index.ts"],
    ]);
    for (const [id, entry] of entries) {
      const dir = codeOf(id);
      const { sources } = JSON.parse(readFileSync(path.join(dir, "index.mjs.map"), "utf8")) as { sources: string[] };
      expect(sources.filter((src) => src.includes("functions/")).map((src) => src.slice(src.indexOf("functions/"))), id).toEqual([entry]);
      const split = id === fnId("legacy") || id === fnOf(stack.runner);
      expect(existsSync(path.join(dir, "chunks")), id).toBe(split);
    }
  });

  it("gives every function the configuration loadConfig() requires at cold start", () => {
    const table = logicalId(stack.table.node.defaultChild);
    const secret = logicalId(stack.adminKey.node.defaultChild);
    for (const t of targets) {
      const props = resources[fnId(t)]?.Properties;
      const env = (props?.["Environment"] as { Variables: Record<string, unknown> }).Variables;
      expect(env["TABLE_NAME"], t).toEqual({ Ref: table });
      expect(env["ADMIN_API_KEY_SECRET_ARN"], t).toEqual({ Ref: secret });
      expect(env["RATE_LIMIT_PER_MINUTE"], t).toMatch(/^[1-9]\d*$/);
      expect(env["SESSION_TTL_SECONDS"], t).toMatch(/^[1-9]\d*$/);
      // The plain key is for the local stack only; deployed functions must use the secret.
      expect(env["ADMIN_API_KEY"], t).toBeUndefined();
    }
  });

  it("logs every function, workers included, to its own log group kept for one month", () => {
    const groups = new Set<string>();
    for (const id of allFnIds()) {
      const ref = (resources[id]?.Properties?.["LoggingConfig"] as { LogGroup: { Ref: string } }).LogGroup.Ref;
      expect(resources[ref]?.Type, id).toBe("AWS::Logs::LogGroup");
      expect(resources[ref]?.Properties?.["RetentionInDays"], id).toBe(30);
      groups.add(ref);
    }
    expect(groups.size).toBe(allFnIds().length);
  });

  it("lets each function write to its own log group only, without an AWS managed policy", () => {
    for (const id of allFnIds()) {
      const role = (resources[id]?.Properties?.["Role"] as { "Fn::GetAtt": [string, string] })["Fn::GetAtt"][0];
      expect(resources[role]?.Properties?.["ManagedPolicyArns"], id).toBeUndefined();
      const group = (resources[id]?.Properties?.["LoggingConfig"] as { LogGroup: { Ref: string } }).LogGroup.Ref;
      const logStatements = statementsOf(role).filter((st) => asArray(st.Action).some((a) => a.startsWith("logs:")));
      expect(logStatements, id).toEqual([
        { Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: { "Fn::GetAtt": [group, "Arn"] } },
      ]);
    }
  });
});

describe("HTTP API stage", () => {
  const stage = () => {
    const stages = ofType("AWS::ApiGatewayV2::Stage");
    expect(stages).toHaveLength(1);
    return stages[0]![1].Properties!;
  };

  it("is the auto-deployed $default stage, throttled in front of the per-user limit", () => {
    expect(stage()["StageName"]).toBe("$default");
    expect(stage()["AutoDeploy"]).toBe(true);
    expect(stage()["DefaultRouteSettings"]).toEqual({
      ThrottlingRateLimit: API_THROTTLE.rateLimit,
      ThrottlingBurstLimit: API_THROTTLE.burstLimit,
    });
  });

  it("writes JSON access logs with request id, route, status, latency and integration error, never the query string", () => {
    const settings = stage()["AccessLogSettings"] as { DestinationArn: unknown; Format: string };
    const group = logicalId(stack.apiAccessLogs.node.defaultChild);
    expect(settings.DestinationArn).toEqual({ "Fn::GetAtt": [group, "Arn"] });
    expect(resources[group]?.Properties?.["RetentionInDays"]).toBe(90);
    const fields = Object.values(JSON.parse(settings.Format) as Record<string, string>);
    for (const v of ["$context.requestId", "$context.routeKey", "$context.status", "$context.responseLatency", "$context.integrationErrorMessage"]) {
      expect(fields).toContain(v);
    }
    // Query strings, headers and bodies may carry an APIKey.
    for (const f of fields) expect(f).not.toMatch(/query|header|request\.|body|authorizer/i);
  });
});

describe("DynamoDB table", () => {
  it("is the single pay-per-request PK/SK table with point-in-time recovery and TTL on `ttl`", () => {
    template.resourceCountIs("AWS::DynamoDB::Table", 1);
    template.hasResourceProperties("AWS::DynamoDB::Table", {
      BillingMode: "PAY_PER_REQUEST",
      KeySchema: [
        { AttributeName: "PK", KeyType: "HASH" },
        { AttributeName: "SK", KeyType: "RANGE" },
      ],
      AttributeDefinitions: [
        { AttributeName: "PK", AttributeType: "S" },
        { AttributeName: "SK", AttributeType: "S" },
        { AttributeName: "MailPK", AttributeType: "S" },
        { AttributeName: "MailSK", AttributeType: "S" },
        { AttributeName: "DuePK", AttributeType: "S" },
        { AttributeName: "DueSK", AttributeType: "S" },
        { AttributeName: "JourneyKey", AttributeType: "S" },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: "MailIndex",
          KeySchema: [
            { AttributeName: "MailPK", KeyType: "HASH" },
            { AttributeName: "MailSK", KeyType: "RANGE" },
          ],
          Projection: { ProjectionType: "ALL" },
        },
        // ENGINE §10: the sparse timer index, projecting only what a message is rebuilt from.
        {
          IndexName: "DueIndex",
          KeySchema: [
            { AttributeName: "DuePK", KeyType: "HASH" },
            { AttributeName: "DueSK", KeyType: "RANGE" },
          ],
          Projection: { ProjectionType: "INCLUDE", NonKeyAttributes: ["DueAt", "Kind", "Queued", "Version", "JourneyID", "EntryID"] },
        },
        // A journey's active and paused cursors, for the resume and purge jobs: no sort key.
        {
          IndexName: "JourneyIndex",
          KeySchema: [{ AttributeName: "JourneyKey", KeyType: "HASH" }],
          Projection: { ProjectionType: "INCLUDE", NonKeyAttributes: ["State", "Version"] },
        },
      ],
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: "ttl", Enabled: true },
    });
  });

  it("survives deletion of the stack", () => {
    template.hasResource("AWS::DynamoDB::Table", { DeletionPolicy: "Retain", UpdateReplacePolicy: "Retain" });
  });
});

describe("physical names", () => {
  it("hard-codes no physical name on any resource", () => {
    // The property through which each resource type would take a name of its own.
    const owned: Record<string, string> = {
      "AWS::DynamoDB::Table": "TableName",
      "AWS::Lambda::Function": "FunctionName",
      "AWS::IAM::Role": "RoleName",
      "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
      "AWS::Logs::LogGroup": "LogGroupName",
      "AWS::CloudWatch::Alarm": "AlarmName",
      "AWS::SecretsManager::Secret": "Name",
      "AWS::SQS::Queue": "QueueName",
      "AWS::S3::Bucket": "BucketName",
    };
    for (const [id, r] of Object.entries(resources)) {
      const key = owned[r.Type];
      if (key) expect(r.Properties?.[key], `${id}.${key}`).toBeUndefined();
      // Elsewhere these properties point at another resource, which must be by reference.
      for (const ref of ["TableName", "FunctionName", "RoleName", "LogGroupName"]) {
        expect(typeof r.Properties?.[ref], `${id}.${ref}`).not.toBe("string");
      }
    }
    expect(Object.keys(resources).some((id) => owned[resources[id]!.Type])).toBe(true);
  });
});

describe("least privilege", () => {
  it("gives the web function no permission beyond its logs, and no configuration", () => {
    // Its only grant is the one every function has: writing to its own log group.
    const group = logicalId(stack.webFunction.node.findChild("Logs").node.defaultChild);
    expect(statementsOf(roleOf(stack.webFunction))).toEqual([
      { Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: { "Fn::GetAtt": [group, "Arn"] } },
    ]);
    // No configuration: only the runtime settings every function gets (Powertools' names and level).
    const env = (resources[fnOf(stack.webFunction)]?.Properties?.["Environment"] as { Variables: Record<string, unknown> }).Variables;
    expect(Object.keys(env).sort()).toEqual(Object.keys(RUNTIME_ENVIRONMENT).sort());
  });

  it("gives the health function no DynamoDB action at all", () => {
    expect(stack.functions.has("health")).toBe(true);
    const actions = actionsOf(statementsOf(roleId("health")));
    expect(actions.filter((a) => a.toLowerCase().startsWith("dynamodb:"))).toEqual([]);
  });

  it("grants every other function exactly the table actions, on the table only", () => {
    const tableArn = { "Fn::GetAtt": [logicalId(stack.table.node.defaultChild), "Arn"] };
    for (const t of targets.filter((x) => x !== "health")) {
      const dynamo = statementsOf(roleId(t)).filter(onTable);
      expect(dynamo, t).toHaveLength(1);
      expect([...asArray(dynamo[0]!.Action)].sort(), t).toEqual(EXPECTED_TABLE_ACTIONS);
      expect(asArray(dynamo[0]!.Resource), t).toEqual([tableArn]);
      expect(dynamo[0]!.Effect, t).toBe("Allow");
    }
  });

  it("grants the indexes only to Query, each on its exact ARN: MailIndex to the data functions, DueIndex to the runner and the sweeper, JourneyIndex to the runner", () => {
    const tableArn = { "Fn::GetAtt": [logicalId(stack.table.node.defaultChild), "Arn"] };
    const indexArn = (name: string) => ({ "Fn::Join": ["", [tableArn, `/index/${name}`]] });
    const onIndex = allStatements().filter((st) => JSON.stringify(st.Resource).includes("/index/"));
    expect(onIndex.length).toBeGreaterThan(0);
    for (const st of onIndex) {
      expect(asArray(st.Action)).toEqual(["dynamodb:Query"]);
      for (const r of asArray(st.Resource)) expect([indexArn("MailIndex"), indexArn("DueIndex"), indexArn("JourneyIndex")]).toContainEqual(r);
    }
    const mailUsers = [...targets.filter((t) => t !== "health").map(roleId), roleOf(stack.eventsWorker), roleOf(stack.exportWorker), roleOf(stack.exportDlqConsumer)].sort();
    expect(rolesAllowing("dynamodb:Query", indexArn("MailIndex"))).toEqual(mailUsers);
    expect(rolesAllowing("dynamodb:Query", indexArn("DueIndex"))).toEqual([roleOf(stack.runner), roleOf(stack.sweeper)].sort());
    expect(rolesAllowing("dynamodb:Query", indexArn("JourneyIndex"))).toEqual([roleOf(stack.runner)]);
  });

  it("never grants a wildcard action", () => {
    const actions = actionsOf(allStatements());
    expect(actions.length).toBeGreaterThan(0);
    expect(actions).not.toContain("dynamodb:*");
    expect(actions).not.toContain("*");
    expect(actions.filter((a) => a.includes("*") || a.includes("?"))).toEqual([]);
    // NotAction / NotResource would grant everything but the listed: a wildcard by another name.
    const inverted = allStatements().filter((st) => "NotAction" in st || "NotResource" in st);
    expect(inverted).toEqual([]);
  });

  it("lets only functions that serve admin commands read the admin key", () => {
    const expected = targets.filter((t) => servedBy(t).some((c) => c.scope === "admin")).sort();
    // The registry's admin commands live in the admin group, and the dispatcher serves them all.
    expect(expected).toEqual(["admin", "legacy"]);
    const secret = { Ref: logicalId(stack.adminKey.node.defaultChild) };
    const readers = targets
      .filter((t) => statementsOf(roleId(t)).some((s) => asArray(s.Action).includes("secretsmanager:GetSecretValue")))
      .sort();
    expect(readers).toEqual(expected);
    for (const t of readers) {
      const reads = statementsOf(roleId(t)).filter((s) => asArray(s.Action).includes("secretsmanager:GetSecretValue"));
      for (const s of reads) expect(asArray(s.Resource), t).toEqual([secret]);
    }
    // Nothing else in the template (another role, a wildcard resource) reads the admin key either.
    const everywhere = allStatements().filter(
      (s) => asArray(s.Action).includes("secretsmanager:GetSecretValue") && !same(asArray(s.Resource), [{ Ref: logicalId(stack.unsubscribeKeys.node.defaultChild) }]),
    );
    expect(everywhere).toHaveLength(readers.length);
  });
});

describe("admin key secret", () => {
  it("is generated as 40 characters without punctuation, as a plain string", () => {
    // The other secret holds the unsubscribe links' keys (asserted with them).
    template.resourceCountIs("AWS::SecretsManager::Secret", 2);
    const secret = resources[logicalId(stack.adminKey.node.defaultChild)]!;
    const gen = secret.Properties?.["GenerateSecretString"] as Json;
    expect(gen["PasswordLength"]).toBe(40);
    expect(gen["ExcludePunctuation"]).toBe(true);
    // The functions compare against SecretString itself, so no JSON template.
    expect(gen["SecretStringTemplate"]).toBeUndefined();
    expect(secret.Properties?.["SecretString"]).toBeUndefined();
  });
});

describe("alarms", () => {
  const alarms = () => ofType("AWS::CloudWatch::Alarm").map(([, r]) => r.Properties as Json);
  const firesOnFirst = (a: Json) =>
    a["Threshold"] === 1 &&
    a["ComparisonOperator"] === "GreaterThanOrEqualToThreshold" &&
    a["Period"] === 300 &&
    a["Statistic"] === "Sum";

  it("alarms on any API Gateway 5xx within 5 minutes", () => {
    const api = { Ref: logicalId(stack.httpApi.node.defaultChild) };
    const fivexx = alarms().filter(
      (a) =>
        a["Namespace"] === "AWS/ApiGateway" &&
        a["MetricName"] === "5xx" &&
        JSON.stringify(a["Dimensions"]) === JSON.stringify([{ Name: "ApiId", Value: api }]),
    );
    expect(fivexx).toHaveLength(1);
    expect(firesOnFirst(fivexx[0]!)).toBe(true);
  });

  it("alarms on errors of every function, workers included, within 5 minutes", () => {
    expect(allFnIds()).toHaveLength(targets.length + 9);
    for (const id of allFnIds()) {
      const fn = { Ref: id };
      const errors = alarms().filter(
        (a) =>
          a["Namespace"] === "AWS/Lambda" &&
          a["MetricName"] === "Errors" &&
          JSON.stringify(a["Dimensions"]) === JSON.stringify([{ Name: "FunctionName", Value: fn }]),
      );
      expect(errors, id).toHaveLength(1);
      expect(firesOnFirst(errors[0]!), id).toBe(true);
    }
  });
});

describe("alarms and dashboard", () => {
  const alarmsOf = () => ofType("AWS::CloudWatch::Alarm").map(([, r]) => r.Properties as Json);

  it("pages when ingestion falls 15 minutes behind, the API's p99 passes 5 s, or exports keep failing", () => {
    const eventsQueueName = { "Fn::GetAtt": [logicalId(stack.eventsQueue.node.defaultChild), "QueueName"] };
    const backlog = alarmsOf().filter(
      (a) => a["MetricName"] === "ApproximateAgeOfOldestMessage" && same(a["Dimensions"], [{ Name: "QueueName", Value: eventsQueueName }]),
    );
    expect(backlog).toHaveLength(1);
    expect(backlog[0]).toMatchObject({ Threshold: 900, Statistic: "Maximum", ComparisonOperator: "GreaterThanThreshold" });
    const latency = alarmsOf().filter((a) => a["MetricName"] === "Latency" && a["Namespace"] === "AWS/ApiGateway");
    expect(latency).toHaveLength(1);
    expect(latency[0]).toMatchObject({ Threshold: 5000, ExtendedStatistic: "p99", EvaluationPeriods: 3 });
    const exportFailures = alarmsOf().filter((a) => a["Namespace"] === "JourneyApi" && a["MetricName"] === "ExportFailures");
    expect(exportFailures).toHaveLength(1);
    // The dimensions the worker's EMF records carry, or the alarm would watch an empty metric.
    expect(exportFailures[0]!["Dimensions"]).toEqual([{ Name: "service", Value: "journey-api" }]);
  });

  it("has one dashboard that shows the app's metrics and every alarm", () => {
    const boards = ofType("AWS::CloudWatch::Dashboard");
    expect(boards).toHaveLength(1);
    const body = JSON.stringify(boards[0]![1].Properties?.["DashboardBody"]);
    for (const m of ["Requests", "Errors", "EventsAccepted", "EventsDuplicated", "EventsRejected", "RateLimited", "ExportRows", "ExportDuration", "ExportFailures"]) {
      expect(body, m).toContain(m);
    }
    for (const [id] of ofType("AWS::CloudWatch::Alarm")) expect(body, id).toContain(id);
  });
});

describe("events queue", () => {
  const queueId = () => logicalId(stack.eventsQueue.node.defaultChild);
  const dlqId = () => logicalId(stack.eventsDlq.node.defaultChild);
  const queueArn = () => ({ "Fn::GetAtt": [queueId(), "Arn"] });

  it("moves a message to the DLQ after 5 failed receives, and keeps it there 14 days", () => {
    const queue = resources[queueId()]?.Properties;
    expect(queue?.["RedrivePolicy"]).toEqual({ deadLetterTargetArn: { "Fn::GetAtt": [dlqId(), "Arn"] }, maxReceiveCount: 5 });
    expect(resources[dlqId()]?.Properties?.["MessageRetentionPeriod"]).toBe(14 * 24 * 3600);
    // The DLQ is a dead end: it must not redrive anywhere itself, nor collect another queue's failures.
    expect(resources[dlqId()]?.Properties?.["RedrivePolicy"]).toBeUndefined();
    const feeding = ofType("AWS::SQS::Queue").filter(([, q]) =>
      same((q.Properties?.["RedrivePolicy"] as Json | undefined)?.["deadLetterTargetArn"], { "Fn::GetAtt": [dlqId(), "Arn"] }),
    );
    expect(feeding.map(([id]) => id)).toEqual([queueId()]);
  });

  it("hides a received message longer than the worker may run (6 times its timeout)", () => {
    const visibility = resources[queueId()]?.Properties?.["VisibilityTimeout"] as number;
    const timeout = resources[workerFnId()]?.Properties?.["Timeout"] as number;
    expect(timeout).toBe(EVENTS_WORKER_TIMEOUT.toSeconds());
    expect(visibility).toBeGreaterThan(timeout);
    expect(visibility).toBe(6 * timeout);
  });

  it("encrypts both queues with SQS-managed keys and denies any call without TLS", () => {
    for (const id of [queueId(), dlqId()]) {
      expect(resources[id]?.Properties?.["SqsManagedSseEnabled"], id).toBe(true);
      const policies = ofType("AWS::SQS::QueuePolicy").filter(([, p]) =>
        asArray(p.Properties?.["Queues"] as unknown[]).some((q) => JSON.stringify(q) === JSON.stringify({ Ref: id })),
      );
      const statements = policies.flatMap(([, p]) => asArray((p.Properties?.["PolicyDocument"] as Json)["Statement"] as Json[]));
      expect(
        statements.some(
          (st) =>
            st["Effect"] === "Deny" &&
            JSON.stringify(st["Condition"]) === JSON.stringify({ Bool: { "aws:SecureTransport": "false" } }),
        ),
        id,
      ).toBe(true);
    }
  });

  it("feeds only the worker, in batches of 10, with partial batch responses", () => {
    const mappings = ofType("AWS::Lambda::EventSourceMapping").filter(([, r]) => same(r.Properties?.["EventSourceArn"], queueArn()));
    expect(mappings).toHaveLength(1);
    // Nor does the worker consume any other queue.
    const ofWorker = ofType("AWS::Lambda::EventSourceMapping").filter(([, r]) => same(r.Properties?.["FunctionName"], { Ref: workerFnId() }));
    expect(ofWorker).toHaveLength(1);
    const m = mappings[0]![1].Properties;
    expect(m?.["FunctionName"]).toEqual({ Ref: workerFnId() });
    expect(m?.["EventSourceArn"]).toEqual(queueArn());
    expect(m?.["BatchSize"]).toBe(10);
    expect(m?.["FunctionResponseTypes"]).toEqual(["ReportBatchItemFailures"]);
  });

  it("runs the worker on Node.js 24, arm64, with the configuration loadConfig() requires and the queue URL", () => {
    const props = resources[workerFnId()]?.Properties;
    expect(props?.["Runtime"]).toBe("nodejs24.x");
    expect(props?.["Architectures"]).toEqual(["arm64"]);
    const env = (props?.["Environment"] as { Variables: Record<string, unknown> }).Variables;
    expect(env["TABLE_NAME"]).toEqual({ Ref: logicalId(stack.table.node.defaultChild) });
    expect(env["ADMIN_API_KEY_SECRET_ARN"]).toEqual({ Ref: logicalId(stack.adminKey.node.defaultChild) });
    expect(env["EVENTS_QUEUE_URL"]).toEqual({ Ref: queueId() });
    expect(env["ADMIN_API_KEY"]).toBeUndefined();
    expect(env["NODE_OPTIONS"]).toBeUndefined();
  });

  it("lets only the worker receive and delete events, from the events queue only", () => {
    for (const action of ["sqs:ReceiveMessage", "sqs:DeleteMessage"]) {
      expect(rolesAllowing(action, queueArn()), action).toEqual([workerRoleId()]);
      const granted = statementsOf(workerRoleId()).filter((x) => allows(x, action));
      expect(granted, action).toHaveLength(1);
      for (const st of granted) expect(asArray(st.Resource), action).toEqual([queueArn()]);
      // Nor through a policy attached elsewhere.
      expect(allStatements().filter((st) => allows(st, action, queueArn())), action).toHaveLength(1);
    }
  });

  it("grants the worker the table actions on the table and no access to the admin key", () => {
    const statements = statementsOf(workerRoleId());
    const dynamo = statements.filter(onTable);
    expect(dynamo).toHaveLength(1);
    expect([...asArray(dynamo[0]!.Action)].sort()).toEqual(EXPECTED_TABLE_ACTIONS);
    expect(asArray(dynamo[0]!.Resource)).toEqual([{ "Fn::GetAtt": [logicalId(stack.table.node.defaultChild), "Arn"] }]);
    expect(actionsOf(statements).filter((a) => a.startsWith("secretsmanager:"))).toEqual([]);
  });

  it("alarms as soon as one message sits in the DLQ, and on any worker error", () => {
    const alarms = ofType("AWS::CloudWatch::Alarm").map(([, r]) => r.Properties as Json);
    const dlq = alarms.filter(
      (a) =>
        a["Namespace"] === "AWS/SQS" &&
        a["MetricName"] === "ApproximateNumberOfMessagesVisible" &&
        JSON.stringify(a["Dimensions"]) === JSON.stringify([{ Name: "QueueName", Value: { "Fn::GetAtt": [dlqId(), "QueueName"] } }]),
    );
    expect(dlq).toHaveLength(1);
    expect(dlq[0]!["Threshold"]).toBe(1);
    expect(dlq[0]!["ComparisonOperator"]).toBe("GreaterThanOrEqualToThreshold");
    const errors = alarms.filter(
      (a) =>
        a["MetricName"] === "Errors" &&
        JSON.stringify(a["Dimensions"]) === JSON.stringify([{ Name: "FunctionName", Value: { Ref: workerFnId() } }]),
    );
    expect(errors).toHaveLength(1);
  });

  it("outputs the events queue URL", () => {
    const outputs = template.toJSON()["Outputs"] as Record<string, { Value: unknown }>;
    expect(outputs["EventsQueueUrl"]?.Value).toEqual({ Ref: queueId() });
  });
});

describe("queues and their consumers", () => {
  it("declares exactly the events, exports, steps and SES events queues and their DLQs", () => {
    const expected = [stack.eventsQueue, stack.eventsDlq, stack.exportsQueue, stack.exportsDlq, stack.stepsQueue, stack.stepsDlq, stack.sesEventsQueue, stack.sesEventsDlq].map((q) =>
      logicalId(q.node.defaultChild),
    );
    expect(ofType("AWS::SQS::Queue").map(([id]) => id).sort()).toEqual([...expected].sort());
  });

  it("connects each queue to one consumer: events → events worker, exports → export worker, exports DLQ → DLQ consumer, steps → runner, steps DLQ → its consumer, SES events → adapter", () => {
    const pairs = ofType("AWS::Lambda::EventSourceMapping")
      .map(([, r]) => JSON.stringify([r.Properties?.["EventSourceArn"], r.Properties?.["FunctionName"]]))
      .sort();
    const expected = [
      [queueArnOf(stack.eventsQueue), { Ref: fnOf(stack.eventsWorker) }],
      [queueArnOf(stack.exportsQueue), { Ref: fnOf(stack.exportWorker) }],
      [queueArnOf(stack.exportsDlq), { Ref: fnOf(stack.exportDlqConsumer) }],
      [queueArnOf(stack.stepsQueue), { Ref: fnOf(stack.runner) }],
      [queueArnOf(stack.stepsDlq), { Ref: fnOf(stack.stepsDlqConsumer) }],
      [queueArnOf(stack.sesEventsQueue), { Ref: fnOf(stack.sesEventsAdapter) }],
    ]
      .map((p) => JSON.stringify(p))
      .sort();
    // The events and SES events DLQs have no consumer: their messages wait for a manual redrive.
    expect(pairs).toEqual(expected);
  });

  it("grants receive and delete only to the six consumers, each on its own queue", () => {
    const consumers: [ApiFunction, unknown][] = [
      [stack.eventsWorker, queueArnOf(stack.eventsQueue)],
      [stack.exportWorker, queueArnOf(stack.exportsQueue)],
      [stack.exportDlqConsumer, queueArnOf(stack.exportsDlq)],
      [stack.runner, queueArnOf(stack.stepsQueue)],
      [stack.stepsDlqConsumer, queueArnOf(stack.stepsDlq)],
      [stack.sesEventsAdapter, queueArnOf(stack.sesEventsQueue)],
    ];
    for (const action of ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]) {
      expect(rolesAllowing(action), action).toEqual(consumers.map(([f]) => roleOf(f)).sort());
      for (const [f, arn] of consumers) {
        const granted = statementsOf(roleOf(f)).filter((st) => allows(st, action));
        expect(granted.flatMap((st) => asArray(st.Resource)), `${roleOf(f)} ${action}`).toEqual([arn]);
      }
      // Nor through a policy attached elsewhere.
      expect(allStatements().filter((st) => allows(st, action)), action).toHaveLength(consumers.length);
    }
  });
});

describe("exports bucket", () => {
  const bucketId = () => logicalId(stack.exportsBucket.node.defaultChild);
  const bucket = () => resources[bucketId()]!;
  const bucketArn = () => ({ "Fn::GetAtt": [bucketId(), "Arn"] });
  const bucketPolicyStatements = (): Json[] =>
    ofType("AWS::S3::BucketPolicy")
      .filter(([, p]) => same(p.Properties?.["Bucket"], { Ref: bucketId() }))
      .flatMap(([, p]) => asArray((p.Properties?.["PolicyDocument"] as Json)["Statement"] as Json[]));

  it("is the only bucket besides its access log bucket", () => {
    const logs = logicalId(stack.accessLogsBucket.node.defaultChild);
    expect(ofType("AWS::S3::Bucket").map(([id]) => id).sort()).toEqual([bucketId(), logs].sort());
  });

  it("writes server access logs to a private bucket that keeps them 90 days", () => {
    const logs = logicalId(stack.accessLogsBucket.node.defaultChild);
    expect(bucket().Properties?.["LoggingConfiguration"]).toEqual({ DestinationBucketName: { Ref: logs }, LogFilePrefix: "exports-bucket/" });
    const target = resources[logs]!.Properties!;
    expect(target["PublicAccessBlockConfiguration"]).toEqual(bucket().Properties?.["PublicAccessBlockConfiguration"]);
    expect((target["LifecycleConfiguration"] as { Rules: Json[] }).Rules).toEqual([{ ExpirationInDays: 90, Status: "Enabled" }]);
  });

  it("blocks all public access", () => {
    expect(bucket().Properties?.["PublicAccessBlockConfiguration"]).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    // No ACL or website hosting that could open it up another way.
    expect(bucket().Properties?.["AccessControl"]).toBeUndefined();
    expect(bucket().Properties?.["WebsiteConfiguration"]).toBeUndefined();
  });

  it("denies every request without TLS in its bucket policy, and allows nothing there", () => {
    const statements = bucketPolicyStatements();
    const tls = statements.filter(
      (st) =>
        st["Effect"] === "Deny" &&
        same(st["Principal"], { AWS: "*" }) &&
        asArray(st["Action"] as string | string[]).includes("s3:*") &&
        same(st["Condition"], { Bool: { "aws:SecureTransport": "false" } }),
    );
    expect(tls).toHaveLength(1);
    // On the bucket itself and on every object.
    expect(asArray(tls[0]!["Resource"])).toEqual([bucketArn(), { "Fn::Join": ["", [bucketArn(), "/*"]] }]);
    // Access comes from the roles' own policies; the bucket policy only ever denies.
    expect(statements.filter((st) => st["Effect"] !== "Deny")).toEqual([]);
  });

  it("encrypts objects at rest with S3-managed keys", () => {
    expect(bucket().Properties?.["BucketEncryption"]).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
    });
  });

  it("expires every object after 7 days and aborts incomplete multipart uploads after 1 day", () => {
    const rules = (bucket().Properties?.["LifecycleConfiguration"] as { Rules: Json[] }).Rules;
    // One unfiltered rule: it applies to the whole bucket, not to a prefix the worker might not use.
    expect(rules).toEqual([
      { AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, ExpirationInDays: 7, Status: "Enabled" },
    ]);
  });

  it("outputs the bucket name", () => {
    const outputs = template.toJSON()["Outputs"] as Record<string, { Value: unknown }>;
    expect(outputs["ExportsBucketName"]?.Value).toEqual({ Ref: bucketId() });
  });
});

describe("export access", () => {
  const bucketArn = () => ({ "Fn::GetAtt": [logicalId(stack.exportsBucket.node.defaultChild), "Arn"] });
  const exportObjects = () => ({ "Fn::Join": ["", [bucketArn(), "/exports/*"]] });
  const presigners = () => [roleId("exports"), roleId("legacy")].sort();

  it("lets only the export worker write export files, under exports/ only", () => {
    for (const action of ["s3:PutObject", "s3:AbortMultipartUpload"]) {
      expect(rolesAllowing(action), action).toEqual([roleOf(stack.exportWorker)]);
      const granted = statementsOf(roleOf(stack.exportWorker)).filter((st) => allows(st, action));
      expect(granted.flatMap((st) => asArray(st.Resource)), action).toEqual([exportObjects()]);
      expect(allStatements().filter((st) => allows(st, action)), action).toHaveLength(1);
    }
  });

  it("lets no role delete export files or change the bucket", () => {
    for (const action of [
      "s3:DeleteObject",
      "s3:DeleteObjectVersion",
      "s3:DeleteBucket",
      "s3:PutBucketPolicy",
      "s3:PutLifecycleConfiguration",
      "s3:PutBucketPublicAccessBlock",
    ]) {
      expect(allStatements().filter((st) => allows(st, action)), action).toEqual([]);
    }
  });

  it("lets only the exports group and the dispatcher read export files (to presign downloads), under exports/ only", () => {
    expect(stack.functions.has("exports")).toBe(true);
    expect(rolesAllowing("s3:GetObject")).toEqual(presigners());
    for (const role of presigners()) {
      const granted = statementsOf(role).filter((st) => allows(st, "s3:GetObject"));
      expect(granted.flatMap((st) => asArray(st.Resource)), role).toEqual([exportObjects()]);
    }
    expect(allStatements().filter((st) => allows(st, "s3:GetObject"))).toHaveLength(2);
  });

  it("grants no S3 action beyond the worker's writes and the presigners' reads", () => {
    const s3ByRole = Object.fromEntries(
      ofType("AWS::IAM::Role")
        .map(([id]) => [id, actionsOf(statementsOf(id)).filter((a) => a.toLowerCase().startsWith("s3:")).sort()] as const)
        .filter(([, actions]) => actions.length > 0),
    );
    expect(s3ByRole).toEqual({
      [roleOf(stack.exportWorker)]: ["s3:AbortMultipartUpload", "s3:PutObject"],
      [roleId("exports")]: ["s3:GetObject"],
      [roleId("legacy")]: ["s3:GetObject"],
    });
    const everywhere = actionsOf(allStatements()).filter((a) => a.toLowerCase().startsWith("s3:"));
    expect(everywhere).toHaveLength(4);
  });

  it("lets only the exports group and the dispatcher send to the exports queue, and nobody to a DLQ", () => {
    const queue = queueArnOf(stack.exportsQueue);
    expect(rolesAllowing("sqs:SendMessage", queue)).toEqual(presigners());
    for (const role of presigners()) {
      // The dispatcher also sends to the steps and events queues (asserted with the engine);
      // the statement that names the exports queue names nothing else.
      const granted = statementsOf(role).filter((st) => allows(st, "sqs:SendMessage", queue));
      expect(granted.flatMap((st) => asArray(st.Resource)), role).toEqual([queue]);
      // grantSendMessages: exactly these three on this queue, no sqs:* or other wildcard.
      const sqsActions = actionsOf(statementsOf(role).filter((st) => asArray(st.Resource).some((r) => same(r, queue))))
        .filter((a) => a.startsWith("sqs:"))
        .sort();
      expect(sqsActions, role).toEqual(["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"]);
    }
    expect(allStatements().filter((st) => allows(st, "sqs:SendMessage", queue))).toHaveLength(2);
    for (const dlq of [stack.exportsDlq, stack.eventsDlq]) {
      expect(allStatements().filter((st) => allows(st, "sqs:SendMessage", queueArnOf(dlq)))).toEqual([]);
    }
  });
});

describe("exports queue", () => {
  const queueId = () => logicalId(stack.exportsQueue.node.defaultChild);
  const dlqId = () => logicalId(stack.exportsDlq.node.defaultChild);
  const workerId = () => fnOf(stack.exportWorker);
  const consumerId = () => fnOf(stack.exportDlqConsumer);
  const envOf = (id: string) => (resources[id]?.Properties?.["Environment"] as { Variables: Record<string, unknown> }).Variables;
  const mappingsFrom = (id: string) =>
    ofType("AWS::Lambda::EventSourceMapping").filter(([, r]) => same(r.Properties?.["EventSourceArn"], { "Fn::GetAtt": [id, "Arn"] }));

  it("hides a received job longer than the worker may run (1800 s against 300 s)", () => {
    const visibility = resources[queueId()]?.Properties?.["VisibilityTimeout"] as number;
    const timeout = resources[workerId()]?.Properties?.["Timeout"] as number;
    expect(timeout).toBe(300);
    expect(visibility).toBe(1800);
    expect(visibility).toBeGreaterThan(timeout);
  });

  it("gives the worker a lease that outlasts its timeout and runs out before the message reappears", () => {
    const lease = Number(envOf(workerId())["EXPORT_LEASE_SECONDS"]);
    expect(lease).toBe(330);
    expect(lease).toBeGreaterThan(resources[workerId()]?.Properties?.["Timeout"] as number);
    expect(lease).toBeLessThan(resources[queueId()]?.Properties?.["VisibilityTimeout"] as number);
  });

  it("moves a job to its DLQ after 3 failed receives, the attempt count the worker is told", () => {
    expect(resources[queueId()]?.Properties?.["RedrivePolicy"]).toEqual({
      deadLetterTargetArn: { "Fn::GetAtt": [dlqId(), "Arn"] },
      maxReceiveCount: 3,
    });
    // The worker marks the job Failed on its last try; it must agree with the queue on which one that is.
    expect(envOf(workerId())["EXPORT_MAX_ATTEMPTS"]).toBe("3");
    // The DLQ is a dead end for exports only, and keeps what it gets 14 days.
    expect(resources[dlqId()]?.Properties?.["RedrivePolicy"]).toBeUndefined();
    expect(resources[dlqId()]?.Properties?.["MessageRetentionPeriod"]).toBe(14 * 24 * 3600);
    const feeding = ofType("AWS::SQS::Queue").filter(([, q]) =>
      same((q.Properties?.["RedrivePolicy"] as Json | undefined)?.["deadLetterTargetArn"], { "Fn::GetAtt": [dlqId(), "Arn"] }),
    );
    expect(feeding.map(([id]) => id)).toEqual([queueId()]);
  });

  it("encrypts the queue and its DLQ with SQS-managed keys and denies any call without TLS", () => {
    for (const id of [queueId(), dlqId()]) {
      expect(resources[id]?.Properties?.["SqsManagedSseEnabled"], id).toBe(true);
      const statements = ofType("AWS::SQS::QueuePolicy")
        .filter(([, p]) => asArray(p.Properties?.["Queues"] as unknown[]).some((q) => same(q, { Ref: id })))
        .flatMap(([, p]) => asArray((p.Properties?.["PolicyDocument"] as Json)["Statement"] as Json[]));
      expect(
        statements.some(
          (st) => st["Effect"] === "Deny" && same(st["Condition"], { Bool: { "aws:SecureTransport": "false" } }),
        ),
        id,
      ).toBe(true);
      expect(statements.filter((st) => st["Effect"] !== "Deny"), id).toEqual([]);
    }
  });

  it("hands the worker one job at a time, with partial batch responses", () => {
    const mappings = mappingsFrom(queueId());
    expect(mappings).toHaveLength(1);
    const m = mappings[0]![1].Properties;
    expect(m?.["FunctionName"]).toEqual({ Ref: workerId() });
    expect(m?.["BatchSize"]).toBe(1);
    expect(m?.["FunctionResponseTypes"]).toEqual(["ReportBatchItemFailures"]);
  });

  it("feeds the DLQ to the DLQ consumer in batches of 10, within the DLQ's visibility timeout", () => {
    const mappings = mappingsFrom(dlqId());
    expect(mappings).toHaveLength(1);
    const m = mappings[0]![1].Properties;
    expect(m?.["FunctionName"]).toEqual({ Ref: consumerId() });
    expect(m?.["BatchSize"]).toBe(10);
    expect(m?.["FunctionResponseTypes"]).toEqual(["ReportBatchItemFailures"]);
    // Lambda refuses a mapping whose function may run longer than the queue hides a message (SQS default 30 s).
    const visibility = (resources[dlqId()]?.Properties?.["VisibilityTimeout"] as number | undefined) ?? 30;
    expect(resources[consumerId()]?.Properties?.["Timeout"] as number).toBeLessThanOrEqual(visibility);
  });

  it("runs the export worker and the DLQ consumer on Node.js 24, arm64, with the table, bucket and queue they need", () => {
    for (const id of [workerId(), consumerId()]) {
      const props = resources[id]?.Properties;
      expect(props?.["Runtime"], id).toBe("nodejs24.x");
      expect(props?.["Architectures"], id).toEqual(["arm64"]);
      const env = envOf(id);
      expect(env["TABLE_NAME"], id).toEqual({ Ref: logicalId(stack.table.node.defaultChild) });
      expect(env["EXPORTS_BUCKET"], id).toEqual({ Ref: logicalId(stack.exportsBucket.node.defaultChild) });
      expect(env["EXPORTS_QUEUE_URL"], id).toEqual({ Ref: queueId() });
      expect(env["ADMIN_API_KEY"], id).toBeUndefined();
      expect(env["NODE_OPTIONS"], id).toBeUndefined();
    }
  });

  it("grants the export worker and the DLQ consumer the table actions on the table and no access to the admin key", () => {
    for (const f of [stack.exportWorker, stack.exportDlqConsumer]) {
      const statements = statementsOf(roleOf(f));
      const dynamo = statements.filter(onTable);
      expect(dynamo, roleOf(f)).toHaveLength(1);
      expect([...asArray(dynamo[0]!.Action)].sort(), roleOf(f)).toEqual(EXPECTED_TABLE_ACTIONS);
      expect(asArray(dynamo[0]!.Resource), roleOf(f)).toEqual([{ "Fn::GetAtt": [logicalId(stack.table.node.defaultChild), "Arn"] }]);
      expect(actionsOf(statements).filter((a) => a.startsWith("secretsmanager:")), roleOf(f)).toEqual([]);
    }
  });

  it("alarms as soon as one job reaches the exports DLQ (each consumer invocation is one)", () => {
    const dlq = ofType("AWS::CloudWatch::Alarm")
      .map(([, r]) => r.Properties as Json)
      .filter(
        (a) =>
          a["Namespace"] === "AWS/Lambda" &&
          a["MetricName"] === "Invocations" &&
          same(a["Dimensions"], [{ Name: "FunctionName", Value: { Ref: consumerId() } }]),
      );
    expect(dlq).toHaveLength(1);
    expect(dlq[0]!["Threshold"]).toBe(1);
    expect(dlq[0]!["ComparisonOperator"]).toBe("GreaterThanOrEqualToThreshold");
    expect(dlq[0]!["EvaluationPeriods"]).toBe(1);
  });
});

describe("engine (ENGINE §10, the runner's part)", () => {
  const stepsId = () => logicalId(stack.stepsQueue.node.defaultChild);
  const stepsDlqId = () => logicalId(stack.stepsDlq.node.defaultChild);
  const tableArn = () => ({ "Fn::GetAtt": [logicalId(stack.table.node.defaultChild), "Arn"] });
  const indexArn = (name: string) => ({ "Fn::Join": ["", [tableArn(), `/index/${name}`]] });
  const envOf = (id: string) => (resources[id]?.Properties?.["Environment"] as { Variables: Record<string, unknown> }).Variables;
  const mappingOf = (queueId: string) => {
    const found = ofType("AWS::Lambda::EventSourceMapping").filter(([, r]) => same(r.Properties?.["EventSourceArn"], { "Fn::GetAtt": [queueId, "Arn"] }));
    expect(found).toHaveLength(1);
    return found[0]![1].Properties!;
  };
  const dynamoOf = (f: ApiFunction) =>
    statementsOf(roleOf(f))
      .filter((st) => asArray(st.Action).some((a) => a.startsWith("dynamodb:")))
      .map((st) => ({ actions: [...asArray(st.Action)].sort(), resources: asArray(st.Resource) }));
  const sqsSendTargets = (f: ApiFunction) =>
    statementsOf(roleOf(f))
      .filter((st) => allows(st, "sqs:SendMessage"))
      .flatMap((st) => asArray(st.Resource))
      .map((r) => JSON.stringify(r))
      .sort();
  /** The functions that fire signals, start jobs or hand steps (§10: "every signal producer"). */
  const producers = (): ApiFunction[] => [
    ...(["reference", "events", "journeys", "actions", "legacy"] as const).map((t) => stack.functions.get(t)!),
    stack.eventsWorker,
  ];

  describe("steps queue and DLQ", () => {
    it("hides a received message 360 s, 6 times the runner's 60 s timeout", () => {
      expect(resources[stepsId()]?.Properties?.["VisibilityTimeout"]).toBe(360);
      expect(resources[fnOf(stack.runner)]?.Properties?.["Timeout"]).toBe(60);
    });

    it("moves a message to the steps DLQ after 5 receives; the DLQ keeps it 14 days and is fed by nothing else", () => {
      expect(resources[stepsId()]?.Properties?.["RedrivePolicy"]).toEqual({ deadLetterTargetArn: { "Fn::GetAtt": [stepsDlqId(), "Arn"] }, maxReceiveCount: 5 });
      expect(resources[stepsDlqId()]?.Properties?.["MessageRetentionPeriod"]).toBe(14 * 24 * 3600);
      expect(resources[stepsDlqId()]?.Properties?.["RedrivePolicy"]).toBeUndefined();
      const feeding = ofType("AWS::SQS::Queue").filter(([, q]) =>
        same((q.Properties?.["RedrivePolicy"] as Json | undefined)?.["deadLetterTargetArn"], { "Fn::GetAtt": [stepsDlqId(), "Arn"] }),
      );
      expect(feeding.map(([id]) => id)).toEqual([stepsId()]);
    });

    it("encrypts both with SQS-managed keys and denies any call without TLS, allowing nothing in the queue policy", () => {
      for (const id of [stepsId(), stepsDlqId()]) {
        expect(resources[id]?.Properties?.["SqsManagedSseEnabled"], id).toBe(true);
        const statements = ofType("AWS::SQS::QueuePolicy")
          .filter(([, p]) => asArray(p.Properties?.["Queues"] as unknown[]).some((q) => same(q, { Ref: id })))
          .flatMap(([, p]) => asArray((p.Properties?.["PolicyDocument"] as Json)["Statement"] as Json[]));
        expect(statements.some((st) => st["Effect"] === "Deny" && same(st["Condition"], { Bool: { "aws:SecureTransport": "false" } })), id).toBe(true);
        expect(statements.filter((st) => st["Effect"] !== "Deny"), id).toEqual([]);
      }
    });

    it("outputs the steps DLQ's URL for operators", () => {
      const outputs = template.toJSON()["Outputs"] as Record<string, { Value: unknown }>;
      expect(outputs["StepsDlqUrl"]?.Value).toEqual({ Ref: stepsDlqId() });
    });
  });

  describe("runner", () => {
    it("consumes the steps queue: batch 10, ReportBatchItemFailures, MaximumConcurrency 50", () => {
      const m = mappingOf(stepsId());
      expect(m["FunctionName"]).toEqual({ Ref: fnOf(stack.runner) });
      expect(m["BatchSize"]).toBe(10);
      expect(m["FunctionResponseTypes"]).toEqual(["ReportBatchItemFailures"]);
      expect(m["ScalingConfig"]).toEqual({ MaximumConcurrency: 50 });
      expect(stack.engineMaxConcurrency).toBe(50);
    });

    it("takes MaximumConcurrency from the props, the context or ENGINE_MAX_CONCURRENCY, within 2–1000", async () => {
      const { engineMaxConcurrency } = await import("../../infra/stack.js");
      expect(engineMaxConcurrency(new App(), {})).toBe(50);
      expect(engineMaxConcurrency(new App({ context: { engineMaxConcurrency: "20" } }), {})).toBe(20);
      expect(engineMaxConcurrency(new App({ context: { engineMaxConcurrency: "20" } }), { engineMaxConcurrency: 7 })).toBe(7);
      const before = process.env["ENGINE_MAX_CONCURRENCY"];
      process.env["ENGINE_MAX_CONCURRENCY"] = "300";
      try {
        expect(engineMaxConcurrency(new App(), {})).toBe(300);
      } finally {
        if (before === undefined) delete process.env["ENGINE_MAX_CONCURRENCY"];
        else process.env["ENGINE_MAX_CONCURRENCY"] = before;
      }
      for (const bad of ["1", "1001", "ten", "2.5"]) expect(() => engineMaxConcurrency(new App({ context: { engineMaxConcurrency: bad } }), {}), bad).toThrow(/ENGINE_MAX_CONCURRENCY/);
    });

    it("reads and writes the table, and queries DueIndex and JourneyIndex on their exact ARNs only", () => {
      expect(dynamoOf(stack.runner)).toEqual([
        { actions: EXPECTED_TABLE_ACTIONS, resources: [tableArn()] },
        { actions: ["dynamodb:Query"], resources: [indexArn("DueIndex"), indexArn("JourneyIndex")] },
      ]);
    });

    it("sends to the steps and events queues, and reads no secret but the unsubscribe links' keys", () => {
      expect(sqsSendTargets(stack.runner)).toEqual([queueArnOf(stack.stepsQueue), queueArnOf(stack.eventsQueue)].map((q) => JSON.stringify(q)).sort());
      const secrets = statementsOf(roleOf(stack.runner)).filter((st) => asArray(st.Action).some((a) => a.startsWith("secretsmanager:")));
      expect(secrets.flatMap((st) => asArray(st.Resource))).toEqual([{ Ref: logicalId(stack.unsubscribeKeys.node.defaultChild) }]);
      const env = envOf(fnOf(stack.runner));
      expect(env["STEPS_QUEUE_URL"]).toEqual({ Ref: stepsId() });
      expect(env["EVENTS_QUEUE_URL"]).toEqual({ Ref: logicalId(stack.eventsQueue.node.defaultChild) });
    });
  });

  describe("steps DLQ consumer", () => {
    it("consumes the steps DLQ in batches of 10 with partial batch responses, within the DLQ's visibility timeout", () => {
      const m = mappingOf(stepsDlqId());
      expect(m["FunctionName"]).toEqual({ Ref: fnOf(stack.stepsDlqConsumer) });
      expect(m["BatchSize"]).toBe(10);
      expect(m["FunctionResponseTypes"]).toEqual(["ReportBatchItemFailures"]);
      const visibility = (resources[stepsDlqId()]?.Properties?.["VisibilityTimeout"] as number | undefined) ?? 30;
      expect(resources[fnOf(stack.stepsDlqConsumer)]?.Properties?.["Timeout"] as number).toBeLessThanOrEqual(visibility);
    });

    it("reads and writes the table (no index), sends to the events queue only, and reads no secret", () => {
      expect(dynamoOf(stack.stepsDlqConsumer)).toEqual([{ actions: EXPECTED_TABLE_ACTIONS, resources: [tableArn()] }]);
      expect(sqsSendTargets(stack.stepsDlqConsumer)).toEqual([JSON.stringify(queueArnOf(stack.eventsQueue))]);
      expect(actionsOf(statementsOf(roleOf(stack.stepsDlqConsumer))).filter((a) => a.startsWith("secretsmanager:"))).toEqual([]);
      const env = envOf(fnOf(stack.stepsDlqConsumer));
      expect(env["STEPS_QUEUE_URL"]).toBeUndefined();
      expect(env["EVENTS_QUEUE_URL"]).toEqual({ Ref: logicalId(stack.eventsQueue.node.defaultChild) });
    });
  });

  describe("sweeper", () => {
    it("runs one at a time (reserved concurrency 1), never retried: MaximumRetryAttempts 0, MaximumEventAgeInSeconds 60", () => {
      const fn = fnOf(stack.sweeper);
      expect(resources[fn]?.Properties?.["ReservedConcurrentExecutions"]).toBe(1);
      const configs = ofType("AWS::Lambda::EventInvokeConfig");
      expect(configs).toHaveLength(1);
      expect(configs[0]![1].Properties).toEqual({ FunctionName: { Ref: fn }, Qualifier: "$LATEST", MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 });
      // Nothing else is reserved: the rest of the account's concurrency stays shared.
      const reserved = ofType("AWS::Lambda::Function").filter(([, r]) => r.Properties?.["ReservedConcurrentExecutions"] !== undefined);
      expect(reserved.map(([id]) => id)).toEqual([fn]);
    });

    it("is run every minute by an EventBridge Scheduler schedule, flexible window off, no retries", () => {
      const schedules = ofType("AWS::Scheduler::Schedule");
      expect(schedules).toHaveLength(1);
      const p = schedules[0]![1].Properties!;
      expect(p["ScheduleExpression"]).toBe("rate(1 minute)");
      expect(p["FlexibleTimeWindow"]).toEqual({ Mode: "OFF" });
      expect(p["State"]).toBe("ENABLED");
      expect(p["Target"]).toEqual({
        Arn: { "Fn::GetAtt": [fnOf(stack.sweeper), "Arn"] },
        RoleArn: { "Fn::GetAtt": [logicalId(stack.schedulerRole.node.defaultChild), "Arn"] },
        RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 },
      });
      // No event source: the schedule is its only trigger.
      expect(ofType("AWS::Lambda::EventSourceMapping").filter(([, r]) => same(r.Properties?.["FunctionName"], { Ref: fnOf(stack.sweeper) }))).toEqual([]);
    });

    it("invokes through a role that Scheduler alone assumes, for this account, and that may invoke only the sweeper", () => {
      const role = logicalId(stack.schedulerRole.node.defaultChild);
      expect(statementsOf(role)).toEqual([{ Effect: "Allow", Action: "lambda:InvokeFunction", Resource: { "Fn::GetAtt": [fnOf(stack.sweeper), "Arn"] } }]);
      const trust = (resources[role]?.Properties?.["AssumeRolePolicyDocument"] as { Statement: Json[] }).Statement;
      expect(trust).toEqual([
        {
          Action: "sts:AssumeRole",
          Effect: "Allow",
          Principal: { Service: "scheduler.amazonaws.com" },
          Condition: { StringEquals: { "aws:SourceAccount": { Ref: "AWS::AccountId" } } },
        },
      ]);
      // Nobody else may invoke a function through IAM (API Gateway uses resource policies).
      expect(rolesAllowing("lambda:InvokeFunction")).toEqual([role]);
    });

    it("keeps its watermarks and moves entries (get, put, update on the table), queries DueIndex only, and sends to the steps queue only", () => {
      expect(dynamoOf(stack.sweeper)).toEqual([
        { actions: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"], resources: [tableArn()] },
        { actions: ["dynamodb:Query"], resources: [indexArn("DueIndex")] },
      ]);
      expect(sqsSendTargets(stack.sweeper)).toEqual([JSON.stringify(queueArnOf(stack.stepsQueue))]);
      expect(actionsOf(statementsOf(roleOf(stack.sweeper))).filter((a) => a.startsWith("secretsmanager:"))).toEqual([]);
    });
  });

  describe("producers and settings", () => {
    it("lets every signal and job producer, the runner and the sweeper send to the steps queue, and nobody else", () => {
      // The unsubscribe link fires ListUnsubscription (ENGINE §3.3, §8.4).
      const all = [...producers(), stack.runner, stack.sweeper, stack.unsubscribeFunction];
      expect(rolesAllowing("sqs:SendMessage", queueArnOf(stack.stepsQueue))).toEqual(all.map(roleOf).sort());
      for (const f of all) {
        expect(envOf(fnOf(f))["STEPS_QUEUE_URL"], f.node.id).toEqual({ Ref: stepsId() });
      }
      // Every function with the URL may use it, and the DLQs take no direct sends.
      const withUrl = ofType("AWS::Lambda::Function").filter(([id]) => envOf(id)?.["STEPS_QUEUE_URL"] !== undefined).map(([id]) => id).sort();
      expect(withUrl).toEqual(all.map(fnOf).sort());
      expect(allStatements().filter((st) => allows(st, "sqs:SendMessage", queueArnOf(stack.stepsDlq)))).toEqual([]);
    });

    it("lets only the functions that deliver events send to the events queue: enrolment commands, the runner, the DLQ consumer, the unsubscribe link, the SES events adapter", () => {
      const senders = [stack.functions.get("events")!, stack.functions.get("legacy")!, stack.runner, stack.stepsDlqConsumer, stack.unsubscribeFunction, stack.sesEventsAdapter].map(roleOf).sort();
      expect(rolesAllowing("sqs:SendMessage", queueArnOf(stack.eventsQueue))).toEqual(senders);
    });

    it("gives every function that writes engine items the same DUE_SHARDS (16) and LONG_WAIT_THRESHOLD_SECONDS (900)", () => {
      const writers = [...producers(), stack.runner, stack.sweeper, stack.stepsDlqConsumer, stack.unsubscribeFunction].map(fnOf);
      for (const id of writers) expect(envOf(id), id).toMatchObject({ DUE_SHARDS: "16", LONG_WAIT_THRESHOLD_SECONDS: "900" });
      const withShards = ofType("AWS::Lambda::Function").filter(([id]) => envOf(id)?.["DUE_SHARDS"] !== undefined).map(([id]) => id).sort();
      expect(withShards).toEqual([...writers].sort());
    });
  });

  describe("never deployed (§9)", () => {
    it("gives no function a local-only setting: ENGINE_LOCAL_ROUTES, WEBHOOK_ALLOW_LOOPBACK, WEBHOOK_DNS_OVERRIDES, LOCAL_SWEEP_MS, DELIVERY_MODE=local", () => {
      const fns = ofType("AWS::Lambda::Function");
      expect(fns.length).toBe(allFnIds().length);
      for (const [id] of fns) {
        const env = envOf(id) ?? {};
        for (const name of ["ENGINE_LOCAL_ROUTES", "WEBHOOK_ALLOW_LOOPBACK", "WEBHOOK_DNS_OVERRIDES", "LOCAL_SWEEP_MS", "STEPS_DLQ_URL"]) {
          expect(env[name], `${id} ${name}`).toBeUndefined();
        }
        expect(env["DELIVERY_MODE"], id).not.toBe("local");
        // Nor the local stack's endpoint overrides or plain admin key.
        for (const name of ["DYNAMODB_ENDPOINT", "SQS_ENDPOINT", "S3_ENDPOINT", "ADMIN_API_KEY"]) expect(env[name], `${id} ${name}`).toBeUndefined();
      }
      // And not as a value hidden in another variable either.
      expect(JSON.stringify(fns)).not.toMatch(/ENGINE_LOCAL_ROUTES|WEBHOOK_ALLOW_LOOPBACK|WEBHOOK_DNS_OVERRIDES|LOCAL_SWEEP_MS/);
    });

    it("declares no /_local route", () => {
      const keys = ofType("AWS::ApiGatewayV2::Route").map(([, r]) => String(r.Properties?.["RouteKey"]));
      expect(keys.length).toBeGreaterThan(0);
      expect(keys.filter((k) => k.includes("/_local"))).toEqual([]);
    });
  });

  describe("alarms and dashboard", () => {
    const alarms = () => ofType("AWS::CloudWatch::Alarm").map(([, r]) => r.Properties as Json);
    const appAlarm = (metric: string) => {
      const found = alarms().filter((a) => a["Namespace"] === "JourneyApi" && a["MetricName"] === metric);
      expect(found, metric).toHaveLength(1);
      // The dimension the functions' EMF records carry, or the alarm would watch an empty metric.
      expect(found[0]!["Dimensions"], metric).toEqual([{ Name: "service", Value: "journey-api" }]);
      return found[0]!;
    };
    const lambdaAlarms = (f: ApiFunction, metric: string) =>
      alarms().filter((a) => a["Namespace"] === "AWS/Lambda" && a["MetricName"] === metric && same(a["Dimensions"], [{ Name: "FunctionName", Value: { Ref: fnOf(f) } }]));

    it("pages as soon as one message reaches the steps DLQ, and when its consumer keeps failing on what is there", () => {
      const reached = lambdaAlarms(stack.stepsDlqConsumer, "Invocations");
      expect(reached).toHaveLength(1);
      expect(reached[0]).toMatchObject({ Threshold: 1, ComparisonOperator: "GreaterThanOrEqualToThreshold", EvaluationPeriods: 1, Statistic: "Sum" });
      expect(appAlarm("StepsDeadLetterFailed")).toMatchObject({ Threshold: 10, ComparisonOperator: "GreaterThanOrEqualToThreshold", Statistic: "Sum", Period: 900 });
    });

    it("pages on SweeperLagMinutes ≥ 2, SweeperRecovered > 100 in 15 minutes, sweeper errors, and a sweeper that stopped running", () => {
      expect(appAlarm("SweeperLagMinutes")).toMatchObject({ Threshold: 2, ComparisonOperator: "GreaterThanOrEqualToThreshold", Statistic: "Maximum" });
      expect(appAlarm("SweeperRecovered")).toMatchObject({ Threshold: 100, ComparisonOperator: "GreaterThanThreshold", Statistic: "Sum", Period: 900 });
      // ENGINE §10: StepLateness p99 over 60 s for 3 × 5 minutes.
      expect(appAlarm("StepLateness")).toMatchObject({ Threshold: 60_000, ComparisonOperator: "GreaterThanThreshold", ExtendedStatistic: "p99", Period: 300, EvaluationPeriods: 3 });
      for (const f of [stack.sweeper, stack.runner, stack.stepsDlqConsumer]) expect(lambdaAlarms(f, "Errors"), f.node.id).toHaveLength(1);
      const stopped = lambdaAlarms(stack.sweeper, "Invocations");
      expect(stopped).toHaveLength(1);
      expect(stopped[0]).toMatchObject({ Threshold: 1, ComparisonOperator: "LessThanThreshold", TreatMissingData: "breaching" });
    });

    it("shows the engine's rows on the dashboard", () => {
      const body = JSON.stringify(ofType("AWS::CloudWatch::Dashboard")[0]![1].Properties?.["DashboardBody"]);
      for (const m of ["SweeperHanded", "SweeperRecovered", "SweeperLagMinutes", "StepsDeadLettered", "Engine: steps queue", "Engine: runner", "Engine: sweeper"]) {
        expect(body, m).toContain(m);
      }
    });
  });
});

describe("one-click unsubscribe (ENGINE §8.4, §10)", () => {
  const tableArn = () => ({ "Fn::GetAtt": [logicalId(stack.table.node.defaultChild), "Arn"] });
  const secretRef = () => ({ Ref: logicalId(stack.unsubscribeKeys.node.defaultChild) });
  const envOf = (f: ApiFunction) => (resources[fnOf(f)]?.Properties?.["Environment"] as { Variables: Record<string, unknown> }).Variables;
  const secretReads = (f: ApiFunction) =>
    statementsOf(roleOf(f))
      .filter((st) => asArray(st.Action).some((a) => a.startsWith("secretsmanager:")))
      .map((st) => ({ actions: [...asArray(st.Action)].sort(), resources: asArray(st.Resource) }));

  it("routes GET and POST /unsubscribe/{token} to a function of its own, outside the registry", () => {
    expect(PUBLIC_ROUTES.map((r) => `${r.method} ${r.path}`)).toEqual(["GET /unsubscribe/{token}", "POST /unsubscribe/{token}"]);
    for (const r of PUBLIC_ROUTES) expect(functionBehind(`${r.method} ${r.path}`)).toBe(fnOf(stack.unsubscribeFunction));
    expect(commands.some((c) => c.route?.path.startsWith("/unsubscribe"))).toBe(false);
    expect(stack.unsubscribeFunction.entry).toBe("functions/unsubscribe/index.ts");
    // Only those two routes reach it: nothing else, $default included, invokes it.
    const behind = ofType("AWS::ApiGatewayV2::Route").filter(([, r]) => functionBehind(String(r.Properties?.["RouteKey"])) === fnOf(stack.unsubscribeFunction));
    expect(behind.map(([, r]) => r.Properties?.["RouteKey"]).sort()).toEqual(["GET /unsubscribe/{token}", "POST /unsubscribe/{token}"]);
  });

  it("generates the signing keys as the JSON object {\"1\": <64 characters>}, rotated by adding a kid, and outputs the secret's ARN", () => {
    const secret = resources[logicalId(stack.unsubscribeKeys.node.defaultChild)]!;
    expect(secret.Type).toBe("AWS::SecretsManager::Secret");
    expect(secret.Properties?.["GenerateSecretString"]).toEqual({ SecretStringTemplate: "{}", GenerateStringKey: "1", PasswordLength: 64, ExcludePunctuation: true });
    expect(secret.Properties?.["SecretString"]).toBeUndefined();
    const outputs = template.toJSON()["Outputs"] as Record<string, { Value: unknown }>;
    expect(outputs["UnsubscribeKeysSecretArn"]?.Value).toEqual(secretRef());
  });

  it("reads and writes the table (no index), sends to the steps and events queues, and reads only the link keys", () => {
    const dynamo = statementsOf(roleOf(stack.unsubscribeFunction)).filter((st) => asArray(st.Action).some((a) => a.startsWith("dynamodb:")));
    expect(dynamo.map((st) => ({ actions: [...asArray(st.Action)].sort(), resources: asArray(st.Resource) }))).toEqual([{ actions: EXPECTED_TABLE_ACTIONS, resources: [tableArn()] }]);
    const sends = statementsOf(roleOf(stack.unsubscribeFunction)).filter((st) => allows(st, "sqs:SendMessage")).flatMap((st) => asArray(st.Resource));
    expect(sends.map((r) => JSON.stringify(r)).sort()).toEqual([queueArnOf(stack.stepsQueue), queueArnOf(stack.eventsQueue)].map((q) => JSON.stringify(q)).sort());
    expect(secretReads(stack.unsubscribeFunction)).toEqual([{ actions: ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"], resources: [secretRef()] }]);
    // No receive, no S3, no invoke: a public function gets nothing more.
    const actions = actionsOf(statementsOf(roleOf(stack.unsubscribeFunction)));
    expect(actions.filter((a) => !/^(dynamodb|sqs|secretsmanager|logs):/.test(a))).toEqual([]);
    expect(actions.filter((a) => a.startsWith("sqs:") && !["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"].includes(a))).toEqual([]);
  });

  it("lets only the runner (which signs) and the unsubscribe function (which verifies) read the keys", () => {
    expect(rolesAllowing("secretsmanager:GetSecretValue", secretRef())).toEqual([roleOf(stack.runner), roleOf(stack.unsubscribeFunction)].sort());
    expect(secretReads(stack.runner)).toEqual([{ actions: ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"], resources: [secretRef()] }]);
  });

  it("tells both where the keys are; the runner also gets PUBLIC_BASE_URL, the API's own URL by default", () => {
    expect(envOf(stack.unsubscribeFunction)).toMatchObject({
      UNSUBSCRIBE_KEYS_SECRET_ARN: secretRef(),
      EVENTS_QUEUE_URL: { Ref: logicalId(stack.eventsQueue.node.defaultChild) },
      STEPS_QUEUE_URL: { Ref: logicalId(stack.stepsQueue.node.defaultChild) },
    });
    // It verifies links but never makes one.
    expect(envOf(stack.unsubscribeFunction)["PUBLIC_BASE_URL"]).toBeUndefined();
    expect(envOf(stack.runner)).toMatchObject({
      UNSUBSCRIBE_KEYS_SECRET_ARN: secretRef(),
      PUBLIC_BASE_URL: { "Fn::GetAtt": [logicalId(stack.httpApi.node.defaultChild), "ApiEndpoint"] },
    });
    // The keys themselves are never in any function's environment.
    for (const id of allFnIds()) expect(Object.keys((resources[id]?.Properties?.["Environment"] as { Variables: Json }).Variables), id).not.toContain("UNSUBSCRIBE_KEYS");
  });

  it("takes PUBLIC_BASE_URL from the context value publicBaseUrl, an http(s) URL", async () => {
    const { publicBaseUrl } = await import("../../infra/stack.js");
    expect(publicBaseUrl(new App())).toBeUndefined();
    expect(publicBaseUrl(new App({ context: { publicBaseUrl: "https://mail.example.com/" } }))).toBe("https://mail.example.com");
    expect(publicBaseUrl(new App({ context: { publicBaseUrl: "https://example.com/news" } }))).toBe("https://example.com/news");
    for (const bad of ["mail.example.com", "ftp://example.com", "https://example.com/?a=1", "https://example.com/#x"]) {
      expect(() => publicBaseUrl(new App({ context: { publicBaseUrl: bad } })), bad).toThrow(/publicBaseUrl/);
    }
  });

  it("alarms on its errors within 5 minutes", () => {
    const errors = ofType("AWS::CloudWatch::Alarm")
      .map(([, r]) => r.Properties as Json)
      .filter((a) => a["Namespace"] === "AWS/Lambda" && a["MetricName"] === "Errors" && same(a["Dimensions"], [{ Name: "FunctionName", Value: { Ref: fnOf(stack.unsubscribeFunction) } }]));
    expect(errors).toHaveLength(1);
  });
});

describe("SendSMS (ENGINE §8.5, §10)", () => {
  const envOf = (id: string) => (resources[id]?.Properties?.["Environment"] as { Variables: Record<string, unknown> }).Variables;
  const smsStatements = (role: string) => statementsOf(role).filter((st) => asArray(st.Action).some((a) => a.toLowerCase().startsWith("sms-voice:")));
  const configurationSetArn = {
    "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":sms-voice:", { Ref: "AWS::Region" }, ":", { Ref: "AWS::AccountId" }, ":configuration-set/journeys-sms"]],
  };

  it("gives the runner SMS_GATEWAYS (the context, as canonical JSON) and SMS_CONFIGURATION_SET", () => {
    const env = envOf(fnOf(stack.runner));
    expect(JSON.parse(env["SMS_GATEWAYS"] as string)).toEqual({
      "0": { OriginationIdentity: smsArn("pool", "pool-default"), SenderIds: { ACME: smsArn("sender-id", "ACME/GB") } },
      "5": { OriginationIdentity: smsArn("phone-number", "phone-5"), SenderIds: { "+15551234567": smsArn("phone-number", "phone-alt"), ACME: smsArn("sender-id", "ACME/GB") }, Users: [12] },
    });
    expect(env["SMS_CONFIGURATION_SET"]).toBe("journeys-sms");
  });

  it("grants the runner sms-voice:SendTextMessage on exactly the listed ARNs and the configuration set, once each", () => {
    expect(smsStatements(roleOf(stack.runner))).toEqual([
      {
        Effect: "Allow",
        Action: "sms-voice:SendTextMessage",
        Resource: [smsArn("pool", "pool-default"), smsArn("sender-id", "ACME/GB"), smsArn("phone-number", "phone-5"), smsArn("phone-number", "phone-alt"), configurationSetArn],
      },
    ]);
  });

  it("gives no other role an sms-voice action, and no other function the SMS settings", () => {
    const others = ofType("AWS::IAM::Role").map(([id]) => id).filter((id) => id !== roleOf(stack.runner));
    for (const id of others) expect(smsStatements(id), id).toEqual([]);
    expect(allStatements().filter((st) => JSON.stringify(st.Action).includes("sms-voice")).length).toBe(1);
    const withSms = ofType("AWS::Lambda::Function").filter(([id]) => envOf(id)?.["SMS_GATEWAYS"] !== undefined || envOf(id)?.["SMS_CONFIGURATION_SET"] !== undefined);
    expect(withSms.map(([id]) => id)).toEqual([fnOf(stack.runner)]);
  });

  describe("the context, on a small stack (no bundling)", () => {
    /** A stack holding one inline function configured by configureSms; its template, or the error synthesis raised. */
    function small(context: Record<string, unknown>) {
      const s = new Stack(new App({ context }), "Small");
      const fn = new lambda.Function(s, "Fn", { runtime: lambda.Runtime.NODEJS_24_X, handler: "index.handler", code: lambda.Code.fromInline("exports.handler = async () => {}") });
      configureSms(s, fn);
      const json = Template.fromStack(s).toJSON() as { Resources: Record<string, Resource> };
      const fnRes = Object.values(json.Resources).find((r) => r.Type === "AWS::Lambda::Function")!;
      const statements = Object.values(json.Resources)
        .filter((r) => r.Type === "AWS::IAM::Policy")
        .flatMap((r) => asArray((r.Properties?.["PolicyDocument"] as Json)["Statement"] as Statement[]));
      return { env: ((fnRes.Properties?.["Environment"] as { Variables?: Json } | undefined)?.Variables ?? {}) as Json, statements };
    }
    const gateway = { "1": { OriginationIdentity: smsArn("pool", "pool-1") } };

    it("without SMS context adds no variable and no grant", () => {
      const { env, statements } = small({});
      expect(env).toEqual({});
      expect(statements).toEqual([]);
    });

    it("takes the gateways as a JSON string too (cdk deploy -c smsGateways='{...}'), and a configuration set ARN as it is", () => {
      const setArn = "arn:aws:sms-voice:eu-west-1:111122223333:configuration-set/other-set";
      const { env, statements } = small({ smsGateways: JSON.stringify(gateway), smsConfigurationSet: setArn });
      expect(JSON.parse(env["SMS_GATEWAYS"] as string)).toEqual({ "1": { OriginationIdentity: smsArn("pool", "pool-1"), SenderIds: {} } });
      expect(env["SMS_CONFIGURATION_SET"]).toBe(setArn);
      expect(statements).toEqual([{ Effect: "Allow", Action: "sms-voice:SendTextMessage", Resource: [smsArn("pool", "pool-1"), setArn] }]);
    });

    it("a configuration set without gateways sets the variable but grants nothing: there is nothing to send from", () => {
      const { env, statements } = small({ smsConfigurationSet: "journeys-sms" });
      expect(env).toEqual({ SMS_CONFIGURATION_SET: "journeys-sms" });
      expect(statements).toEqual([]);
    });

    it("refuses at synth time an identity the grant could not name: a bare phone number, another service's ARN, a wildcard", () => {
      const bad: [unknown, RegExp][] = [
        [{ "1": { OriginationIdentity: "+15551234567" } }, /"1"\.OriginationIdentity is "\+15551234567", not an End User Messaging SMS ARN.*describe-phone-numbers/],
        [{ "1": { OriginationIdentity: smsArn("pool", "pool-1"), SenderIds: { ACME: "ACME" } } }, /"1"\.SenderIds\["ACME"\] is "ACME", not an End User Messaging SMS ARN/],
        [{ "1": { OriginationIdentity: "arn:aws:ses:eu-west-1:111122223333:identity/example.com" } }, /not an End User Messaging SMS ARN/],
        [{ "1": { OriginationIdentity: "arn:aws:sms-voice:eu-west-1:111122223333:pool/*" } }, /not an End User Messaging SMS ARN/],
        [{ "1": { OriginationIdentity: "arn:aws:sms-voice:eu-west-1:111122223333:configuration-set/x" } }, /not an End User Messaging SMS ARN/],
        [{ "x": { OriginationIdentity: smsArn("pool", "pool-1") } }, /Invalid smsGateways context: "x" is not a gateway ID/],
        ["{oops", /Invalid smsGateways context: not JSON/],
      ];
      for (const [smsGateways, message] of bad) expect(() => smsSettings(new App({ context: { smsGateways } })), JSON.stringify(smsGateways)).toThrow(message);
      for (const smsConfigurationSet of ["has space", "arn:aws:sms-voice:eu-west-1:111122223333:pool/pool-1", "*"]) {
        expect(() => smsSettings(new App({ context: { smsGateways: gateway, smsConfigurationSet } })), smsConfigurationSet).toThrow(/Invalid smsConfigurationSet context/);
      }
    });
  });
});

describe("SES events into statistics (ENGINE §8.3, §10)", () => {
  const setId = () => logicalId(stack.sesConfigurationSet.node.defaultChild);
  const queueId = () => logicalId(stack.sesEventsQueue.node.defaultChild);
  const dlqId = () => logicalId(stack.sesEventsDlq.node.defaultChild);
  const ruleId = () => logicalId(stack.sesEventsRule.node.defaultChild);
  const adapterId = () => fnOf(stack.sesEventsAdapter);
  const tableArn = () => ({ "Fn::GetAtt": [logicalId(stack.table.node.defaultChild), "Arn"] });
  const policyStatements = (queue: string) =>
    ofType("AWS::SQS::QueuePolicy")
      .filter(([, p]) => asArray(p.Properties?.["Queues"] as unknown[]).some((q) => same(q, { Ref: queue })))
      .flatMap(([, p]) => asArray((p.Properties?.["PolicyDocument"] as Json)["Statement"] as Json[]));
  const alarms = () => ofType("AWS::CloudWatch::Alarm").map(([, r]) => r.Properties as Json);

  it("declares one configuration set: reputation metrics on, BOUNCE and COMPLAINT suppressed, TLS required", () => {
    const sets = ofType("AWS::SES::ConfigurationSet");
    expect(sets.map(([id]) => id)).toEqual([setId()]);
    expect(sets[0]![1].Properties).toEqual({
      DeliveryOptions: { TlsPolicy: "REQUIRE" },
      ReputationOptions: { ReputationMetricsEnabled: true },
      SuppressionOptions: { SuppressedReasons: ["BOUNCE", "COMPLAINT"] },
    });
  });

  it("publishes the eight kinds the adapter maps to the default EventBridge bus, and nowhere else", () => {
    const destinations = ofType("AWS::SES::ConfigurationSetEventDestination");
    expect(destinations).toHaveLength(1);
    const p = destinations[0]![1].Properties!;
    expect(p["ConfigurationSetName"]).toEqual({ Ref: setId() });
    const d = p["EventDestination"] as Json;
    expect(d["Enabled"]).toBe(true);
    expect(d["EventBridgeDestination"]).toEqual({
      EventBusArn: { "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":events:", { Ref: "AWS::Region" }, ":", { Ref: "AWS::AccountId" }, ":event-bus/default"]] },
    });
    // CloudFormation's spelling of SEND … RENDERING_FAILURE: one per kind the adapter knows.
    const kinds = SES_EVENT_TYPES.map((t) => t.charAt(0).toLowerCase() + t.slice(1));
    expect([...(d["MatchingEventTypes"] as string[])].sort()).toEqual([...kinds].sort());
    expect(Object.keys(d).sort()).toEqual(["Enabled", "EventBridgeDestination", "MatchingEventTypes"]);
  });

  it("routes only aws.ses events of this configuration set, by rule on the default bus, to the SES events queue", () => {
    const rules = ofType("AWS::Events::Rule");
    expect(rules.map(([id]) => id)).toEqual([ruleId()]);
    const p = rules[0]![1].Properties!;
    expect(p["EventBusName"]).toBeUndefined();
    expect(p["EventPattern"]).toEqual({ source: ["aws.ses"], detail: { mail: { tags: { "ses:configuration-set": [{ Ref: setId() }] } } } });
    expect(p["Targets"]).toEqual([{ Arn: { "Fn::GetAtt": [queueId(), "Arn"] }, Id: "Target0" }]);
  });

  it("admits only this rule to the queue: EventBridge, conditioned on the rule's ARN, and denies calls without TLS", () => {
    const statements = policyStatements(queueId());
    expect(statements.some((st) => st["Effect"] === "Deny" && same(st["Condition"], { Bool: { "aws:SecureTransport": "false" } }))).toBe(true);
    const allowed = statements.filter((st) => st["Effect"] === "Allow");
    expect(allowed).toEqual([
      {
        Effect: "Allow",
        Principal: { Service: "events.amazonaws.com" },
        Action: ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"],
        Condition: { ArnEquals: { "aws:SourceArn": { "Fn::GetAtt": [ruleId(), "Arn"] } } },
        Resource: { "Fn::GetAtt": [queueId(), "Arn"] },
      },
    ]);
    // Nothing else may send there, through any role.
    expect(rolesAllowing("sqs:SendMessage", queueArnOf(stack.sesEventsQueue))).toEqual([]);
  });

  it("encrypts the queue and its DLQ, moves a message to the DLQ after 5 receives and keeps it 14 days", () => {
    for (const id of [queueId(), dlqId()]) expect(resources[id]?.Properties?.["SqsManagedSseEnabled"], id).toBe(true);
    expect(resources[queueId()]?.Properties?.["RedrivePolicy"]).toEqual({ deadLetterTargetArn: { "Fn::GetAtt": [dlqId(), "Arn"] }, maxReceiveCount: 5 });
    expect(resources[dlqId()]?.Properties?.["MessageRetentionPeriod"]).toBe(14 * 24 * 3600);
    const dlqStatements = policyStatements(dlqId());
    expect(dlqStatements.some((st) => st["Effect"] === "Deny" && same(st["Condition"], { Bool: { "aws:SecureTransport": "false" } }))).toBe(true);
    expect(dlqStatements.filter((st) => st["Effect"] !== "Deny")).toEqual([]);
    const feeding = ofType("AWS::SQS::Queue").filter(([, q]) => same((q.Properties?.["RedrivePolicy"] as Json | undefined)?.["deadLetterTargetArn"], { "Fn::GetAtt": [dlqId(), "Arn"] }));
    expect(feeding.map(([id]) => id)).toEqual([queueId()]);
  });

  it("feeds the adapter in batches of 100 within 5 s, with partial batch responses, hidden longer than 6 runs and the window", () => {
    const mappings = ofType("AWS::Lambda::EventSourceMapping").filter(([, r]) => same(r.Properties?.["EventSourceArn"], queueArnOf(stack.sesEventsQueue)));
    expect(mappings).toHaveLength(1);
    expect(mappings[0]![1].Properties).toMatchObject({
      FunctionName: { Ref: adapterId() },
      BatchSize: 100,
      MaximumBatchingWindowInSeconds: 5,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
    const timeout = resources[adapterId()]?.Properties?.["Timeout"] as number;
    expect(resources[queueId()]?.Properties?.["VisibilityTimeout"] as number).toBeGreaterThanOrEqual(6 * timeout + 5);
  });

  it("lets the adapter update email states (UpdateItem, ConditionCheckItem on the table) and send to the events queue, nothing more", () => {
    const statements = statementsOf(roleOf(stack.sesEventsAdapter));
    const dynamo = statements.filter((st) => asArray(st.Action).some((a) => a.startsWith("dynamodb:")));
    expect(dynamo.map((st) => ({ actions: [...asArray(st.Action)].sort(), resources: asArray(st.Resource) }))).toEqual([
      { actions: ["dynamodb:ConditionCheckItem", "dynamodb:UpdateItem"], resources: [tableArn()] },
    ]);
    const sends = statements.filter((st) => allows(st, "sqs:SendMessage")).flatMap((st) => asArray(st.Resource));
    expect(sends).toEqual([queueArnOf(stack.eventsQueue)]);
    expect(actionsOf(statements).filter((a) => a.startsWith("secretsmanager:") || a.startsWith("ses:") || a.startsWith("s3:"))).toEqual([]);
  });

  it("tells the adapter the configuration set and the events queue", () => {
    const env = (resources[adapterId()]?.Properties?.["Environment"] as { Variables: Record<string, unknown> }).Variables;
    expect(env["SES_CONFIGURATION_SET"]).toEqual({ Ref: setId() });
    expect(env["EVENTS_QUEUE_URL"]).toEqual({ Ref: logicalId(stack.eventsQueue.node.defaultChild) });
    expect(env["TABLE_NAME"]).toEqual({ Ref: logicalId(stack.table.node.defaultChild) });
  });

  it("outputs the configuration set's name (the runner's SES_CONFIGURATION_SET) and the SES events DLQ's URL", () => {
    const outputs = template.toJSON()["Outputs"] as Record<string, { Value: unknown }>;
    expect(outputs["SesConfigurationSetName"]?.Value).toEqual({ Ref: setId() });
    expect(outputs["SesEventsDlqUrl"]?.Value).toEqual({ Ref: dlqId() });
  });

  it("alarms on SES's bounce rate over 5 %, complaint rate over 0.1 %, one message in the SES events DLQ, and adapter errors", () => {
    const reputation = (metric: string) => alarms().filter((a) => a["Namespace"] === "AWS/SES" && a["MetricName"] === metric);
    for (const [metric, threshold] of [["Reputation.BounceRate", 0.05], ["Reputation.ComplaintRate", 0.001]] as const) {
      const found = reputation(metric);
      expect(found, metric).toHaveLength(1);
      expect(found[0], metric).toMatchObject({ Threshold: threshold, ComparisonOperator: "GreaterThanThreshold", Dimensions: [{ Name: "ses:configuration-set", Value: { Ref: setId() } }] });
    }
    const dlq = alarms().filter(
      (a) => a["Namespace"] === "AWS/SQS" && a["MetricName"] === "ApproximateNumberOfMessagesVisible" && same(a["Dimensions"], [{ Name: "QueueName", Value: { "Fn::GetAtt": [dlqId(), "QueueName"] } }]),
    );
    expect(dlq).toHaveLength(1);
    expect(dlq[0]).toMatchObject({ Threshold: 1, ComparisonOperator: "GreaterThanOrEqualToThreshold" });
    const errors = alarms().filter((a) => a["MetricName"] === "Errors" && same(a["Dimensions"], [{ Name: "FunctionName", Value: { Ref: adapterId() } }]));
    expect(errors).toHaveLength(1);
  });

  it("shows SesEventsMapped and SesEventsDropped by Type, the SES events queues and SES reputation on the dashboard", () => {
    const body = JSON.stringify(ofType("AWS::CloudWatch::Dashboard")[0]![1].Properties?.["DashboardBody"]);
    for (const m of ["SesEventsMapped", "SesEventsDropped", "SES events queue", "Reputation.BounceRate", "Reputation.ComplaintRate"]) expect(body, m).toContain(m);
  });
});

/** An alarm's logical ID from its construct ID. */
const logicalIdOfAlarm = (id: string): string => logicalId(stack.node.findChild(id).node.defaultChild);

describe("SendEmail (ENGINE §8.1, §10)", () => {
  const envOf = (f: ApiFunction) => (resources[fnOf(f)]?.Properties?.["Environment"] as { Variables: Record<string, unknown> }).Variables;
  const sesArn = (resource: string) => ({
    "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":ses:", { Ref: "AWS::Region" }, ":", { Ref: "AWS::AccountId" }, `:${resource}`]],
  });

  it("gives the runner SENDER_DOMAINS (the context, domains lower-cased) and the configuration set's name", () => {
    const env = envOf(stack.runner);
    expect(JSON.parse(env["SENDER_DOMAINS"] as string)).toEqual({
      "0": { Domain: "news.example.com" },
      "2": { Domain: "shop.example.com", Users: [12, 14] },
      "3": { Domain: "news.example.com" },
    });
    expect(env["SES_CONFIGURATION_SET"]).toEqual({ Ref: logicalId(stack.sesConfigurationSet.node.defaultChild) });
  });

  it("lets only the runner call ses:SendEmail, on each configured domain's identity and the configuration set, nothing else", () => {
    const sends = allStatements().filter((st) => asArray(st.Action).some((a) => a.toLowerCase().startsWith("ses:")));
    expect(sends).toHaveLength(1);
    expect(asArray(sends[0]!.Action)).toEqual(["ses:SendEmail"]);
    const configSet = { "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":ses:", { Ref: "AWS::Region" }, ":", { Ref: "AWS::AccountId" }, ":configuration-set/", { Ref: logicalId(stack.sesConfigurationSet.node.defaultChild) }]] };
    expect(asArray(sends[0]!.Resource)).toEqual([sesArn("identity/news.example.com"), sesArn("identity/shop.example.com"), configSet]);
    expect(rolesAllowing("ses:SendEmail")).toEqual([roleOf(stack.runner)]);
  });

  it("refuses at synth time a sender domain that is not a domain, an ID that is not a number, Users that are not UserIDs", async () => {
    const { senderDomainsFromContext } = await import("../../infra/delivery-config.js");
    expect(senderDomainsFromContext(new App())).toEqual({});
    expect(senderDomainsFromContext(new App({ context: { senderDomains: '{"0":{"Domain":"a.example.com"}}' } }))).toEqual({ "0": { Domain: "a.example.com" } });
    for (const bad of [{ "0": { Domain: "*.example.com" } }, { x: { Domain: "a.example.com" } }, { "1": { Domain: "a.example.com", Users: ["12"] } }, { "1": {} }, []]) {
      expect(() => senderDomainsFromContext(new App({ context: { senderDomains: bad } })), JSON.stringify(bad)).toThrow(/senderDomains/);
    }
  });

  it("alarms on any Unconfirmed send in 15 minutes and on throttling sustained for 15 minutes", () => {
    const alarm = (id: string) => resources[logicalIdOfAlarm(id)]?.Properties as Json;
    const unconfirmed = alarm("SendsUnconfirmedAlarm");
    expect(unconfirmed).toMatchObject({ Threshold: 0, ComparisonOperator: "GreaterThanThreshold", EvaluationPeriods: 1 });
    expect(JSON.stringify(unconfirmed["Metrics"])).toContain("FILL(email, 0) + FILL(sms, 0) + FILL(webhook, 0)");
    expect(JSON.stringify(unconfirmed["Metrics"])).toContain("SendsUnconfirmed");
    const throttled = alarm("SendsThrottledAlarm");
    expect(throttled).toMatchObject({ Threshold: 0, ComparisonOperator: "GreaterThanThreshold", EvaluationPeriods: 3 });
    expect(JSON.stringify(throttled["Metrics"])).toContain("SendsThrottled");
  });

  it("shows sends by channel and webhook calls on the dashboard", () => {
    const body = JSON.stringify(ofType("AWS::CloudWatch::Dashboard")[0]![1].Properties?.["DashboardBody"]);
    for (const m of ["SendsAccepted", "SendsSuppressed", "SendsRefused", "SendsThrottled", "SendsUnconfirmed", "WebhookCalls", "WebhookRefused"]) expect(body, m).toContain(m);
  });
});
