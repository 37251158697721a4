import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { App, Stack } from "aws-cdk-lib";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import { build, type Metafile } from "esbuild";
import { BUNDLE } from "../infra/bundling.js";
import { BUNDLING, REPO_ROOT, RUNTIME_ENVIRONMENT } from "../infra/constructs/api-function.js";
import { JourneyApiStack } from "../infra/stack.js";
import type { Section } from "./section.js";

const run = promisify(execFile);

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const FLOOR = "floor";
/** The goal: every function within this factor of the floor, on size and on load time. */
const GOAL = 1.3;

interface Bundle {
  name: string;
  entry: string;
  file: string;
  bytes: number;
  metafile: Metafile;
}

/** A function's code as `cdk synth` packages it, with the environment the stack gives it. */
interface Deployed {
  name: string;
  entry: string;
  file: string;
  bytes: number;
  /** The shipped index.mjs.map, 0 when none. */
  mapBytes: number;
  env: Record<string, string>;
}

export interface BundleResult {
  name: string;
  entry: string;
  bytes: number;
  mapBytes: number;
  nodeOptions: string;
  sizeRatio: number;
  loadMs: { median: number; p95: number; samples: number[] };
  loadRatio: number;
  pass: boolean | null;
  /**
   * Filled only for bundles that miss the goal: who adds the most bytes over the
   * floor. Ranked by the difference, because by plain bytes every bundle's top five
   * is the same SDK the floor already carries.
   */
  topContributors?: { owner: string; bytes: number; floorBytes: number }[];
}

function rounds(): number {
  const raw = process.env["BENCH_ROUNDS"];
  if (raw === undefined || raw === "") return 15;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new Error(`BENCH_ROUNDS must be a positive integer, got "${raw}"`);
  return Number(raw);
}

/**
 * Every function exactly as the stack deploys it: the stack is synthesized and
 * each function's packaged asset (index.mjs and the map beside it) is measured,
 * loaded with the environment the template gives it (NODE_OPTIONS included). The
 * floor is bundled by NodejsFunction with the very same bundling options and
 * runtime environment, in a stack of its own.
 */
async function deployed(outdir: string): Promise<Deployed[]> {
  const app = new App({ outdir });
  const stack = new JourneyApiStack(app, "JourneyApi");
  const floorStack = new Stack(app, "BenchFloor");
  const floor = new NodejsFunction(floorStack, "Floor", {
    entry: path.join(REPO_ROOT, "bench/floor.ts"),
    handler: "handler",
    projectRoot: REPO_ROOT,
    depsLockFilePath: path.join(REPO_ROOT, "package-lock.json"),
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.ARM_64,
    environment: { TABLE_NAME: "bench", ...RUNTIME_ENVIRONMENT },
    bundling: BUNDLING,
  });
  const assembly = app.synth();

  const functions: { name: string; entry: string; stack: Stack; fn: lambda.Function }[] = [
    { name: FLOOR, entry: "bench/floor.ts", stack: floorStack, fn: floor },
    ...[...stack.functions].map(([target, f]) => ({ name: target, entry: f.entry, stack: stack as Stack, fn: f.fn })),
    ...([
      ["events-worker", stack.eventsWorker],
      ["export-worker", stack.exportWorker],
      ["export-dlq", stack.exportDlqConsumer],
      ["engine", stack.runner],
      ["sweeper", stack.sweeper],
      ["steps-dlq", stack.stepsDlqConsumer],
      ["unsubscribe", stack.unsubscribeFunction],
      ["ses-events", stack.sesEventsAdapter],
    ] as const).map(([name, f]) => ({ name, entry: f.entry, stack: stack as Stack, fn: f.fn })),
  ];
  return Promise.all(
    functions.map(async ({ name, entry, stack: s, fn }) => {
      const template = assembly.getStackByName(s.stackName).template as {
        Resources: Record<string, { Properties: { Code: { S3Key: string }; Environment?: { Variables: Record<string, unknown> } } }>;
      };
      const props = template.Resources[s.getLogicalId(fn.node.defaultChild as lambda.CfnFunction)]!.Properties;
      const assetDir = path.join(outdir, `asset.${props.Code.S3Key.replace(/\.zip$/, "")}`);
      const file = path.join(assetDir, "index.mjs");
      const map = path.join(assetDir, "index.mjs.map");
      return {
        name,
        entry,
        file,
        bytes: (await stat(file)).size,
        mapBytes: existsSync(map) ? (await stat(map)).size : 0,
        env: resolvedEnv(props.Environment?.Variables ?? {}),
      };
    }),
  );
}

/**
 * The template's variables with CloudFormation references (table name, queue URLs,
 * ARNs) replaced by placeholders of the right shape, so that loadConfig() accepts
 * them at import. Lambda itself sets AWS_REGION.
 */
function resolvedEnv(vars: Record<string, unknown>): Record<string, string> {
  const env: Record<string, string> = { AWS_REGION: "us-east-1" };
  for (const [k, v] of Object.entries(vars)) {
    env[k] = typeof v === "string" ? v : k.endsWith("_URL") ? "https://sqs.us-east-1.amazonaws.com/000000000000/bench" : `bench-${k.toLowerCase()}`;
  }
  return env;
}

export async function bundle(dir: string, name: string, entry: string): Promise<Bundle> {
  const file = path.join(dir, `${name}.mjs`);
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [path.join(ROOT, entry)],
    outfile: file,
    bundle: true,
    platform: "node",
    target: BUNDLE.target,
    format: BUNDLE.format,
    minify: BUNDLE.minify,
    external: [...BUNDLE.externalModules],
    banner: { js: BUNDLE.banner },
    dropLabels: [...BUNDLE.dropLabels],
    // Used for byte attribution and by the export bench, which runs the code but
    // does not time its load; the load benchmark measures the synthesized assets.
    sourcemap: false,
    // Metadata only; it does not change the emitted code.
    metafile: true,
    logLevel: "warning",
  });
  return { name, entry, file, bytes: (await stat(file)).size, metafile: result.metafile };
}

/**
 * One cold module load, in a fresh process so that nothing is cached in V8 or in
 * the module map. Process start-up is left out of the timing: it is the same for
 * every bundle and Lambda's own init is not ours to tune.
 */
async function coldLoad(file: string, env: Record<string, string>): Promise<number> {
  const script =
    "const t0 = performance.now(); await import(process.argv[1]); " +
    "process.stdout.write(JSON.stringify({ ms: performance.now() - t0 }));";
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script, pathToFileURL(file).href], {
    // Exactly the function's environment from the template (NODE_OPTIONS included, as
    // it changes what a load costs) and nothing of the parent's: tsx's loader,
    // NODE_COMPILE_CACHE or the machine's AWS_* settings would skew the load.
    env,
    timeout: 60_000,
  });
  const ms = (JSON.parse(stdout) as { ms: unknown }).ms;
  if (typeof ms !== "number") throw new Error(`unexpected output from load of ${file}: ${stdout}`);
  return ms;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nearest rank; with fewer than 20 samples that is the maximum. */
function p95(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.ceil(0.95 * s.length) - 1]!;
}

/** Whose code the bytes are: an npm package, or a project folder. */
function ownerOf(input: string): string {
  const at = input.lastIndexOf("node_modules/");
  if (at < 0) return input.split("/").slice(0, -1).join("/") || input;
  const [first = "", second = ""] = input.slice(at + "node_modules/".length).split("/");
  return first.startsWith("@") ? `${first}/${second}` : first;
}

function bytesByOwner(b: Bundle): Map<string, number> {
  const totals = new Map<string, number>();
  for (const out of Object.values(b.metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(out.inputs)) {
      const owner = ownerOf(input);
      totals.set(owner, (totals.get(owner) ?? 0) + bytesInOutput);
    }
  }
  return totals;
}

const kb = (bytes: number) => (bytes / 1024).toFixed(1);
const ratio = (r: number) => `${r.toFixed(2)}×`;

export async function benchBundles(): Promise<Section> {
  const n = rounds();
  const dir = await mkdtemp(path.join(os.tmpdir(), "journey-bench-"));
  try {
    // Synthesized outside the repository, so a bundle cannot quietly resolve a package
    // from node_modules at run time that it would not find on Lambda.
    const bundles = await deployed(path.join(dir, "cdk.out"));

    // Interleaved rounds, so that a slow spell of the machine (another process, a
    // thermal step) is shared by every bundle instead of landing on one. The first
    // round warms the OS file cache and is not counted, as on Lambda the code is
    // already on local disk when the runtime imports it.
    const samples = new Map<string, number[]>(bundles.map((b) => [b.name, []]));
    for (let round = 0; round <= n; round++) {
      for (const b of bundles) {
        const ms = await coldLoad(b.file, b.env);
        if (round > 0) samples.get(b.name)!.push(ms);
      }
    }

    const floor = bundles.find((b) => b.name === FLOOR)!;
    const floorMedian = median(samples.get(FLOOR)!);

    const results: BundleResult[] = bundles.map((b) => {
      const xs = samples.get(b.name)!;
      const sizeRatio = b.bytes / floor.bytes;
      const loadRatio = median(xs) / floorMedian;
      const isFloor = b.name === FLOOR;
      const pass = isFloor ? null : sizeRatio < GOAL && loadRatio < GOAL;
      return {
        name: b.name,
        entry: b.entry,
        bytes: b.bytes,
        mapBytes: b.mapBytes,
        nodeOptions: b.env["NODE_OPTIONS"] ?? "",
        sizeRatio,
        loadMs: { median: median(xs), p95: p95(xs), samples: xs.map((x) => Math.round(x * 100) / 100) },
        loadRatio,
        pass,
      };
    });

    // Who adds the bytes, for the bundles that miss the goal only: CDK's bundling
    // keeps no metafile, so the same entry is bundled again with esbuild for it.
    const failing = results.filter((r) => r.pass === false);
    if (failing.length) {
      const attribution = path.join(dir, "attribution");
      const floorOwners = bytesByOwner(await bundle(attribution, FLOOR, floor.entry));
      for (const r of failing) {
        r.topContributors = [...bytesByOwner(await bundle(attribution, r.name, r.entry))]
          .map(([owner, bytes]) => ({ owner, bytes, floorBytes: floorOwners.get(owner) ?? 0 }))
          .sort((x, y) => y.bytes - y.floorBytes - (x.bytes - x.floorBytes))
          .slice(0, 5);
      }
    }

    const details: string[] = [];
    for (const r of results.filter((x) => x.topContributors)) {
      details.push(`${r.name}: top 5 contributors by KB added over the floor (added: KB here / KB in floor)`);
      for (const c of r.topContributors!) {
        const added = `+${kb(c.bytes - c.floorBytes)}`;
        details.push(`  ${c.owner.padEnd(40)} ${added.padStart(7)}: ${kb(c.bytes).padStart(7)} / ${kb(c.floorBytes).padStart(7)}`);
      }
    }
    const nodeOptions = [...new Set(results.map((r) => r.nodeOptions))];

    return {
      id: "bundles",
      title: "Deployed bundle size and cold module load, relative to the floor (DynamoDB document client only)",
      columns: ["bundle", "size KB", "map KB", "size ×floor", "load ms (median)", "load ms (p95)", "load ×floor", `goal <${GOAL}×`],
      align: ["l", "r", "r", "r", "r", "r", "r", "l"],
      rows: results.map((r) => [
        r.name,
        kb(r.bytes),
        kb(r.mapBytes),
        ratio(r.sizeRatio),
        r.loadMs.median.toFixed(1),
        r.loadMs.p95.toFixed(1),
        ratio(r.loadRatio),
        r.pass === null ? "—" : r.pass ? "PASS" : "FAIL",
      ]),
      notes: [
        "As deployed: the stack is synthesized and each function's packaged asset (index.mjs, with its index.mjs.map beside it as shipped) is loaded with the environment the template gives it; the floor is bundled by NodejsFunction with the same bundling options and runtime environment.",
        `NODE_OPTIONS in the functions' environment: ${nodeOptions.map((o) => (o === "" ? "(unset)" : `\`${o}\``)).join(", ")}.`,
        `${n} interleaved round${n === 1 ? "" : "s"} after one uncounted warm-up round; each load is a fresh \`node\` process timing \`await import()\` of the bundle.`,
        `p95 is nearest-rank${n < 20 ? `, which with ${n} sample${n === 1 ? "" : "s"} is the slowest load` : ""}.`,
        `Goal: under ${GOAL}× the floor on both size (code, not the map) and median load time.`,
      ],
      details,
      data: { rounds: n, goal: GOAL, bundles: results },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
