import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { AssetHashType, Duration } from "aws-cdk-lib";
import { buildSync } from "esbuild";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import type { Group } from "../../shared/command.js";
import type { Config } from "../../shared/config.js";
import type { PublicTarget } from "../../shared/public-routes.js";
import { entryOf } from "../../shared/registry.js";
import { METRICS_NAMESPACE, SERVICE } from "../../shared/observability.js";
import { WEB_ASSETS_SUBDIR } from "../../shared/web.js";
import { BUNDLE, splitBuildOptions } from "../bundling.js";

/**
 * Entry points and the lock file are resolved from the repository root, not the
 * working directory, so `cdk synth`, vitest and any other caller bundle the same
 * files wherever they are started from.
 */
export const REPO_ROOT = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));

/**
 * The variables the Lambdas read through `loadConfig()`. Keyed by `Config` so a
 * renamed or misspelt variable fails the type check instead of a cold start.
 */
export type FunctionEnvironment = Pick<
  Record<keyof Config, string>,
  "TABLE_NAME" | "ADMIN_API_KEY_SECRET_ARN" | "RATE_LIMIT_PER_MINUTE" | "SESSION_TTL_SECONDS"
> &
  Partial<
    Pick<
      Record<keyof Config, string>,
      | "EVENTS_QUEUE_URL"
      | "EXPORTS_QUEUE_URL"
      | "EXPORTS_BUCKET"
      | "EXPORT_LEASE_SECONDS"
      | "EXPORT_MAX_ATTEMPTS"
      | "STEPS_QUEUE_URL"
      | "DUE_SHARDS"
      | "LONG_WAIT_THRESHOLD_SECONDS"
      | "UNSUBSCRIBE_KEYS_SECRET_ARN"
      | "PUBLIC_BASE_URL"
      | "SES_CONFIGURATION_SET"
    >
  >;

/** Queue consumers and the sweeper: Lambdas with an entry point of their own but no registry group, so no routes. */
export const WORKER_TARGETS = ["events-worker", "export-worker", "export-dlq", "engine", "sweeper", "steps-dlq", "ses-events"] as const;
export type WorkerTarget = (typeof WORKER_TARGETS)[number];

/** The static pages (/docs, /console): no registry group, no table. */
export type WebTarget = "web";

/** Same layout as the registry's `entryOf`, which knows only groups and the dispatcher. */
const entryFor = (target: Group | "legacy" | WorkerTarget | WebTarget | PublicTarget): string =>
  target === "web" || target === "unsubscribe" || (WORKER_TARGETS as readonly string[]).includes(target)
    ? `functions/${target}/index.ts`
    : entryOf(target as Group | "legacy");

/** Typed so that a change of BUNDLE.format fails here rather than bundling the wrong module format. */
const FORMAT = { esm: OutputFormat.ESM } as const;

/**
 * What every function's environment carries besides its configuration.
 *
 * No NODE_OPTIONS=--enable-source-maps: with it Node parses the 2–3 MB map at
 * import, some +30 % on every cold start. The maps are still shipped beside the
 * code (index.mjs.map); `npm run decode-stack` turns a logged stack trace back
 * into source positions (docs/operations.md).
 */
export const RUNTIME_ENVIRONMENT = {
  POWERTOOLS_SERVICE_NAME: SERVICE,
  POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
  POWERTOOLS_LOG_LEVEL: "INFO",
} as const;

/** NodejsFunction's bundling for every function, and for the benchmark's floor (bench/bundles.ts). */
export const BUNDLING = {
  minify: BUNDLE.minify,
  sourceMap: BUNDLE.sourceMap,
  format: FORMAT[BUNDLE.format],
  target: BUNDLE.target,
  externalModules: [...BUNDLE.externalModules],
  banner: BUNDLE.banner,
  // NodejsFunction has no dropLabels option; esbuild's own flag does the same.
  esbuildArgs: { "--drop-labels": BUNDLE.dropLabels.join(",") },
  // No Docker on build machines: the local esbuild from node_modules is the bundler.
  forceDockerBundling: false,
};

export interface ApiFunctionProps {
  /** Which entry point to bundle: a registry group, the /api.php dispatcher, a queue worker, the web pages or a public route's function. */
  target: Group | "legacy" | WorkerTarget | WebTarget | PublicTarget;
  /** The web function reads no configuration, so it alone passes `{}`. */
  environment: FunctionEnvironment | Record<string, never>;
  /** A directory copied beside the bundled handler as `web/` (the web function's files). */
  assets?: string;
  /** 29 s matches API Gateway's integration timeout; running longer could only waste money. */
  timeout?: Duration;
  memorySize?: number;
  /** Reserved concurrency; only the sweeper sets it (1: one run at a time, ENGINE §10). */
  reservedConcurrentExecutions?: number;
  /**
   * Bundle with code splitting: every dynamic import() becomes a chunk that is
   * loaded on first use (infra/bundling.ts). Set where it keeps a cold start small:
   * the /api.php dispatcher (one command group rather than all of them) and the
   * runner (the SES and SMS clients only once it sends). A CommonJS package imported
   * this way must be read through cjsExports() (shared/cjs-exports.ts).
   */
  splitting?: boolean;
}

/**
 * The one way this project builds a Lambda function, so runtime, architecture,
 * bundling, logging and source maps cannot drift between functions.
 */
export class ApiFunction extends Construct {
  readonly fn: NodejsFunction;
  /** The entry point, relative to the repository root. */
  readonly entry: string;

  constructor(scope: Construct, id: string, props: ApiFunctionProps) {
    super(scope, id);
    this.entry = entryFor(props.target);

    // An explicit log group (instead of the LogRetention custom resource) keeps
    // retention in CloudFormation and adds no helper Lambda to the stack.
    const logGroup = new logs.LogGroup(this, "Logs", { retention: logs.RetentionDays.ONE_MONTH });
    // A role of its own instead of the AWSLambdaBasicExecutionRole managed policy,
    // which may create any log group and write to any stream in the account: this
    // one writes to its own log group only. Every function gets it here, so a
    // function added later cannot fall back to the managed policy.
    const role = new iam.Role(this, "Role", { assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com") });
    logGroup.grantWrite(role);

    this.fn = new NodejsFunction(this, "Fn", {
      entry: path.resolve(REPO_ROOT, this.entry),
      handler: "handler",
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.resolve(REPO_ROOT, "package-lock.json"),
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(29),
      ...(props.reservedConcurrentExecutions !== undefined ? { reservedConcurrentExecutions: props.reservedConcurrentExecutions } : {}),
      logGroup,
      role,
      environment: { ...props.environment, ...RUNTIME_ENVIRONMENT },
      ...(props.splitting ? { code: splitCode(this.entry), handler: "index.handler" } : {}),
      bundling: {
        ...BUNDLING,
        ...(props.assets
          ? {
              commandHooks: {
                beforeBundling: () => [],
                beforeInstall: () => [],
                afterBundling: (_in: string, out: string) => [`cp -R "${props.assets}" "${out}/${WEB_ASSETS_SUBDIR}"`],
              },
            }
          : {}),
      },
    });
  }
}

/**
 * A code-split bundle, packaged as NodejsFunction packages its single file: the
 * repository is the asset source, the bundle the asset (hashed by its output),
 * built by the local esbuild with the options every function shares.
 */
function splitCode(entry: string): lambda.Code {
  return lambda.Code.fromAsset(REPO_ROOT, {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Never used: bundling is local, as for every other function (forceDockerBundling: false).
      image: lambda.Runtime.NODEJS_24_X.bundlingImage,
      // Never run either, but it names the entry, and that matters: CDK caches a bundle by
      // the source path and these options (tryBundle is a function, so not part of the
      // key). Without the entry in them, every split function got the first one's bundle:
      // the runner shipped the /api.php dispatcher's code.
      command: ["esbuild", entry],
      local: {
        tryBundle(outputDir) {
          buildSync(splitBuildOptions(path.resolve(REPO_ROOT, entry), outputDir, REPO_ROOT));
          return true;
        },
      },
    },
  });
}
