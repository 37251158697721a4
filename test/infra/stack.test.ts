import { App, Stack, type CfnElement } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { GROUPS, type Group } from "../../shared/command.js";
import { commands, commandsOf } from "../../shared/registry.js";
import { EVENTS_WORKER_TIMEOUT, JourneyApiStack } from "../../infra/stack.js";

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
const workerFnId = (): string => logicalId(stack.eventsWorker.fn.node.defaultChild);
const workerRoleId = (): string => logicalId(stack.eventsWorker.fn.role?.node.defaultChild);
const ofType = (type: string): [string, Resource][] => Object.entries(resources).filter(([, r]) => r.Type === type);
const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

/** Every statement attached to a role, whether through AWS::IAM::Policy or inline. */
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

beforeAll(() => {
  // Synthesis bundles every function with esbuild; that is the slow part.
  stack = new JourneyApiStack(new App(), "JourneyApi");
  template = Template.fromStack(stack);
  resources = template.toJSON()["Resources"] as Record<string, Resource>;
}, 120_000);

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
    ].sort();
    expect(declared).toEqual(expected);
  });

  it("outputs the API URL and the admin key's ARN, never its value", () => {
    const outputs = template.toJSON()["Outputs"] as Record<string, { Value: unknown }>;
    expect(outputs["ApiUrl"]?.Value).toEqual({ "Fn::GetAtt": [logicalId(stack.httpApi.node.defaultChild), "ApiEndpoint"] });
    expect(outputs["AdminApiKeySecretArn"]?.Value).toEqual({ Ref: logicalId(stack.adminKey.node.defaultChild) });
    expect(JSON.stringify(outputs)).not.toMatch(/SecretString|resolve:secretsmanager/);
  });
});

describe("Lambda functions", () => {
  it("builds exactly one function per routed group plus the dispatcher", () => {
    expect([...stack.functions.keys()].sort()).toEqual([...targets].sort());
    // Plus the events worker, which serves the queue rather than a route.
    expect(ofType("AWS::Lambda::Function")).toHaveLength(targets.length + 1);
  });

  it("runs every function on Node.js 24, arm64, 512 MB and 29 s with source maps", () => {
    // CDK's own helpers (log retention, custom resources) would not be ours to configure.
    // The events worker has its own timeout; the events queue tests cover it.
    const ours = ofType("AWS::Lambda::Function").filter(
      ([id]) => !/^(LogRetention|CustomResource|AWS679f53fac)/.test(id) && id !== workerFnId(),
    );
    expect(ours.length).toBe(targets.length);
    for (const [id, r] of ours) {
      expect(r.Properties?.["Runtime"], id).toBe("nodejs24.x");
      expect(r.Properties?.["Architectures"], id).toEqual(["arm64"]);
      expect(r.Properties?.["MemorySize"], id).toBe(512);
      expect(r.Properties?.["Timeout"], id).toBe(29);
      const env = (r.Properties?.["Environment"] as { Variables: Record<string, unknown> }).Variables;
      expect(env["NODE_OPTIONS"], id).toContain("--enable-source-maps");
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

  it("logs every function to its own log group kept for one month", () => {
    const groups = new Set<string>();
    for (const t of targets) {
      const ref = (resources[fnId(t)]?.Properties?.["LoggingConfig"] as { LogGroup: { Ref: string } }).LogGroup.Ref;
      expect(resources[ref]?.Type, t).toBe("AWS::Logs::LogGroup");
      expect(resources[ref]?.Properties?.["RetentionInDays"], t).toBe(30);
      groups.add(ref);
    }
    expect(groups.size).toBe(targets.length);
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
  it("gives the health function no DynamoDB action at all", () => {
    expect(stack.functions.has("health")).toBe(true);
    const actions = actionsOf(statementsOf(roleId("health")));
    expect(actions.filter((a) => a.toLowerCase().startsWith("dynamodb:"))).toEqual([]);
  });

  it("grants every other function exactly the table actions, on the table only", () => {
    const tableArn = { "Fn::GetAtt": [logicalId(stack.table.node.defaultChild), "Arn"] };
    for (const t of targets.filter((x) => x !== "health")) {
      const dynamo = statementsOf(roleId(t)).filter((s) => asArray(s.Action).some((a) => a.startsWith("dynamodb:")));
      expect(dynamo, t).toHaveLength(1);
      expect([...asArray(dynamo[0]!.Action)].sort(), t).toEqual(EXPECTED_TABLE_ACTIONS);
      expect(asArray(dynamo[0]!.Resource), t).toEqual([tableArn]);
      expect(dynamo[0]!.Effect, t).toBe("Allow");
    }
  });

  it("never grants a wildcard action", () => {
    const actions = actionsOf(allStatements());
    expect(actions.length).toBeGreaterThan(0);
    expect(actions).not.toContain("dynamodb:*");
    expect(actions).not.toContain("*");
    expect(actions.filter((a) => a.includes("*"))).toEqual([]);
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
    // Nothing else in the template (another role, a wildcard resource) reads secrets either.
    const everywhere = allStatements().filter((s) => asArray(s.Action).includes("secretsmanager:GetSecretValue"));
    expect(everywhere).toHaveLength(readers.length);
  });
});

describe("admin key secret", () => {
  it("is generated as 40 characters without punctuation, as a plain string", () => {
    template.resourceCountIs("AWS::SecretsManager::Secret", 1);
    const [, secret] = ofType("AWS::SecretsManager::Secret")[0]!;
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

  it("alarms on errors of every function within 5 minutes", () => {
    for (const t of targets) {
      const fn = { Ref: fnId(t) };
      const errors = alarms().filter(
        (a) =>
          a["Namespace"] === "AWS/Lambda" &&
          a["MetricName"] === "Errors" &&
          JSON.stringify(a["Dimensions"]) === JSON.stringify([{ Name: "FunctionName", Value: fn }]),
      );
      expect(errors, t).toHaveLength(1);
      expect(firesOnFirst(errors[0]!), t).toBe(true);
    }
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
    // The DLQ is a dead end: it must not redrive anywhere itself.
    expect(resources[dlqId()]?.Properties?.["RedrivePolicy"]).toBeUndefined();
    expect(ofType("AWS::SQS::Queue")).toHaveLength(2);
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
    const mappings = ofType("AWS::Lambda::EventSourceMapping");
    expect(mappings).toHaveLength(1);
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
    expect(env["NODE_OPTIONS"]).toContain("--enable-source-maps");
  });

  it("lets only the worker receive and delete events, from the events queue only", () => {
    for (const action of ["sqs:ReceiveMessage", "sqs:DeleteMessage"]) {
      const holders = ofType("AWS::IAM::Role").filter(([id]) => statementsOf(id).some((st) => asArray(st.Action).includes(action)));
      expect(holders.map(([id]) => id), action).toEqual([workerRoleId()]);
      for (const st of statementsOf(workerRoleId()).filter((x) => asArray(x.Action).includes(action))) {
        expect(asArray(st.Resource), action).toEqual([queueArn()]);
      }
      // Nor through a policy attached elsewhere.
      expect(allStatements().filter((st) => asArray(st.Action).includes(action)), action).toHaveLength(1);
    }
  });

  it("grants the worker the table actions on the table and no access to the admin key", () => {
    const statements = statementsOf(workerRoleId());
    const dynamo = statements.filter((st) => asArray(st.Action).some((a) => a.startsWith("dynamodb:")));
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
