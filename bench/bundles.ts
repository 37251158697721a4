import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { App, Stack } from "aws-cdk-lib";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import { build, type Metafile } from "esbuild";
import { ESBUILD_OPTIONS } from "../infra/bundling.js";
import { GROUPS, type Group } from "../shared/command.js";
import { commandsOf } from "../shared/registry.js";
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
  /** Every .mjs of the package, index.mjs included: more than one for a code-split bundle. */
  modules: string[];
}

/**
 * What the first request to one group of a code-split bundle (the /api.php
 * dispatcher) costs. Each sample is a fresh process: import index.mjs (timed as
 * every bundle's load), one call that loads no group (so the middleware's own
 * first run is not counted against the group), then two calls of one of the
 * group's commands, unauthenticated so nothing leaves the process. The lazy
 * import cost is the first of those calls less the second.
 */
interface GroupFirstCall {
  group: Group;
  command: string;
  /** The group's files that the first call loaded, beyond those loaded at init. */
  bytes: number;
  mapBytes: number;
  files: number;
  lazyMs: { median: number; p95: number };
  /** Per round: the import plus the lazy import, a cold start whose first request is for this group. */
  coldStartMs: { median: number; p95: number };
}

/**
 * What the first use of one lazy chunk of a split bundle that is not a dispatcher
 * (the runner: the SES or SMS client, on its first send) costs. Each sample is a
 * fresh process: import index.mjs (timed as every bundle's load), then import the
 * chunk, as the code's own dynamic import() does on first use.
 */
interface LazyChunk {
  /** The chunk's file, relative to the package. */
  file: string;
  /** Whose code it is: the package (or project folder) most of its map's sources belong to. */
  owner: string;
  /** The files its import loaded beyond those loaded at init (the chunk and what it alone imports). */
  bytes: number;
  mapBytes: number;
  files: number;
  lazyMs: { median: number; p95: number };
}

export interface SplitResult {
  /** All .mjs files of the package, and their maps. */
  totalBytes: number;
  totalMapBytes: number;
  files: number;
  /** index.mjs and what it imports statically: what the module load loads. */
  initBytes: number;
  initMapBytes: number;
  initFiles: number;
  initLoadMs: { median: number; p95: number };
  /** The dispatcher: every group's first call. */
  groups?: GroupFirstCall[];
  /** The groups behind the dispatcher's row: the most bytes, and the slowest cold start. */
  sizeGroup?: Group;
  loadGroup?: Group;
  /** Any other split bundle: each chunk that the module load does not load. */
  lazy?: LazyChunk[];
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
   * Code-split bundles only. The dispatcher's row is a cold start through its first
   * request, for the group that costs most; any other split bundle's row is its module
   * load, and its lazy chunks are in the details (see the notes).
   */
  split?: SplitResult;
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
      ["web", stack.webFunction],
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
      const modules = (await readdir(assetDir, { recursive: true }))
        .filter((f) => f.endsWith(".mjs"))
        .map((f) => path.join(assetDir, f));
      return {
        name,
        entry,
        file,
        bytes: (await stat(file)).size,
        mapBytes: existsSync(map) ? (await stat(map)).size : 0,
        env: resolvedEnv(props.Environment?.Variables ?? {}),
        modules,
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
    ...ESBUILD_OPTIONS,
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

/** An API Gateway v2 event for /api.php, as the local gateway builds it. */
const apiEvent = (command: string) => ({
  version: "2.0",
  routeKey: "GET /api.php",
  rawPath: "/api.php",
  rawQueryString: `Command=${encodeURIComponent(command)}`,
  headers: {},
  requestContext: { http: { method: "GET", path: "/api.php" }, requestId: "bench" },
  isBase64Encoded: false,
});

/** In a sample's child: with `trace` "1", a resolve hook puts every file URL loaded in `seen`. */
const TRACE_LOADS = `const seen = new Set();
if (trace === "1") {
  const { registerHooks } = await import("node:module");
  if (!registerHooks) throw new Error("tracing a split bundle's loads needs module.registerHooks (Node >= 22.15)");
  registerHooks({ resolve: (s, c, next) => { const r = next(s, c); if (r.url.startsWith("file:")) seen.add(r.url); return r; } });
}`;

/**
 * The child of a first-call sample (see GroupFirstCall). Its result goes to stdout
 * after a marker, since the handler's own log lines go there too. With `trace`,
 * a resolve hook lists the files loaded (Node ≥ 22.15), in a run of its own so
 * that the hook costs no timed sample anything.
 */
const FIRST_CALL = `
const [file, warmEvent, event, trace] = process.argv.slice(1);
${TRACE_LOADS}
const ctx = { functionName: "bench", functionVersion: "$LATEST", invokedFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:bench",
  memoryLimitInMB: "512", awsRequestId: "bench", getRemainingTimeInMillis: () => 29000, callbackWaitsForEmptyEventLoop: false };
const t0 = performance.now();
const { handler } = await import(file);
const t1 = performance.now();
const init = [...seen];
await handler(JSON.parse(warmEvent), ctx);
const t2 = performance.now();
const first = await handler(JSON.parse(event), ctx);
const t3 = performance.now();
const second = await handler(JSON.parse(event), ctx);
const t4 = performance.now();
process.stdout.write("\\n@@bench " + JSON.stringify({ importMs: t1 - t0, firstMs: t3 - t2, secondMs: t4 - t3,
  status: [first.statusCode, second.statusCode], body: String(first.body).slice(0, 200), init, loaded: [...seen].filter((u) => !init.includes(u)) }) + "\\n");
`;

interface FirstCallSample {
  importMs: number;
  firstMs: number;
  secondMs: number;
  status: number[];
  body: string;
  init: string[];
  loaded: string[];
}

async function firstCall(file: string, env: Record<string, string>, command: string, trace: boolean): Promise<FirstCallSample> {
  const args = ["--input-type=module", "-e", FIRST_CALL, pathToFileURL(file).href, JSON.stringify(apiEvent("bench.nothing")), JSON.stringify(apiEvent(command)), trace ? "1" : "0"];
  const { stdout } = await run(process.execPath, args, { env, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
  const at = stdout.lastIndexOf("\n@@bench ");
  if (at < 0) throw new Error(`no result from the first call of ${command} in ${file}: ${stdout.slice(-500)}`);
  const out = JSON.parse(stdout.slice(at + "\n@@bench ".length)) as FirstCallSample;
  // A 5xx would mean the sample timed a failure (a missing chunk, a network call), not a load.
  if (out.status.some((st) => st >= 500)) throw new Error(`first call of ${command} answered ${out.status.join(", ")}: ${out.body}`);
  return out;
}

/**
 * The child of a lazy-chunk sample (see LazyChunk); with `trace`, the files loaded
 * are listed as in FIRST_CALL, in a run of its own.
 */
const LAZY_IMPORT = `
const [file, chunk, trace] = process.argv.slice(1);
${TRACE_LOADS}
const t0 = performance.now();
await import(file);
const t1 = performance.now();
const init = [...seen];
await import(chunk);
const t2 = performance.now();
process.stdout.write("\\n@@bench " + JSON.stringify({ importMs: t1 - t0, lazyMs: t2 - t1, init, loaded: [...seen].filter((u) => !init.includes(u)) }) + "\\n");
`;

interface LazySample {
  importMs: number;
  lazyMs: number;
  init: string[];
  loaded: string[];
}

async function lazyImport(file: string, chunk: string, env: Record<string, string>, trace: boolean): Promise<LazySample> {
  const args = ["--input-type=module", "-e", LAZY_IMPORT, pathToFileURL(file).href, pathToFileURL(chunk).href, trace ? "1" : "0"];
  const { stdout } = await run(process.execPath, args, { env, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
  const at = stdout.lastIndexOf("\n@@bench ");
  if (at < 0) throw new Error(`no result from the lazy import of ${chunk}: ${stdout.slice(-500)}`);
  return JSON.parse(stdout.slice(at + "\n@@bench ".length)) as LazySample;
}

/** A chunk's owner, from its shipped map: the package (or project folder) that most of its sources belong to. */
async function chunkOwner(file: string): Promise<string> {
  const map = `${file}.map`;
  if (!existsSync(map)) return "?";
  const { sources = [] } = JSON.parse(await readFile(map, "utf8")) as { sources?: string[] };
  const counts = new Map<string, number>();
  for (const src of sources) {
    // Sources are relative to the map, which sits in the synthesized asset outside the repository.
    const owner = ownerOf(path.relative(REPO_ROOT, path.resolve(path.dirname(file), src)));
    counts.set(owner, (counts.get(owner) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? "?";
}

/** The command a group's first-call sample calls: one that needs credentials, so that it is refused before any I/O. */
function probeOf(group: Group): string {
  const defs = commandsOf(group);
  const def = defs.find((d) => d.scope !== "none" && !d.rateLimitKey) ?? defs[0];
  if (!def) throw new Error(`group ${group} has no command`);
  return def.name;
}

async function bytesOf(files: string[]): Promise<{ bytes: number; mapBytes: number }> {
  let bytes = 0;
  let mapBytes = 0;
  for (const f of files) {
    bytes += (await stat(f)).size;
    if (existsSync(`${f}.map`)) mapBytes += (await stat(`${f}.map`)).size;
  }
  return { bytes, mapBytes };
}

/** What every split bundle's result holds: its whole package, and what its module load reads (`init`, file URLs). */
async function splitPackage(b: Deployed, init: string[], loads: number[]) {
  const initSize = await bytesOf(init.map((u) => fileURLToPath(u)));
  const total = await bytesOf(b.modules);
  return {
    totalBytes: total.bytes,
    totalMapBytes: total.mapBytes,
    files: b.modules.length,
    initBytes: initSize.bytes,
    initMapBytes: initSize.mapBytes,
    initFiles: init.length,
    initLoadMs: { median: median(loads), p95: p95(loads) },
  };
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
    // A code-split bundle loads more on its first request: which files each group's
    // first call loads is traced once, and each group's first call is timed in every round.
    const dispatcher = (b: Deployed) => b.name === "legacy";
    const splits = bundles.filter((b) => b.modules.length > 1 && dispatcher(b));
    const traces = new Map<string, Map<Group, FirstCallSample>>();
    for (const b of splits) {
      const perGroup = new Map<Group, FirstCallSample>();
      for (const g of GROUPS) perGroup.set(g, await firstCall(b.file, b.env, probeOf(g), true));
      traces.set(b.name, perGroup);
    }
    const firstCalls = new Map<string, Map<Group, FirstCallSample[]>>(
      splits.map((b) => [b.name, new Map(GROUPS.map((g) => [g, [] as FirstCallSample[]]))]),
    );
    // Any other split bundle (the runner): the chunks its module load does not load are
    // found by one traced import, what each loads is traced once, and each chunk's first
    // import is timed in every round.
    const lazyTraces = new Map<string, { init: string[]; chunks: Map<string, LazySample> }>();
    const lazySamples = new Map<string, Map<string, number[]>>();
    for (const b of bundles.filter((x) => x.modules.length > 1 && !dispatcher(x))) {
      // Importing index.mjs as the "chunk" loads nothing more: the run only lists init.
      const init = (await lazyImport(b.file, b.file, b.env, true)).init;
      const atInit = new Set(init.map((u) => fileURLToPath(u)));
      const chunks = new Map<string, LazySample>();
      for (const m of b.modules.filter((x) => !atInit.has(x)).sort()) chunks.set(m, await lazyImport(b.file, m, b.env, true));
      lazyTraces.set(b.name, { init, chunks });
      lazySamples.set(b.name, new Map([...chunks.keys()].map((c) => [c, [] as number[]])));
    }
    for (let round = 0; round <= n; round++) {
      for (const b of bundles) {
        const ms = await coldLoad(b.file, b.env);
        if (round > 0) samples.get(b.name)!.push(ms);
        for (const [chunk, xs] of lazySamples.get(b.name) ?? []) {
          const sample = await lazyImport(b.file, chunk, b.env, false);
          if (round > 0) xs.push(sample.lazyMs);
        }
        if (!firstCalls.has(b.name)) continue;
        for (const g of GROUPS) {
          const sample = await firstCall(b.file, b.env, probeOf(g), false);
          if (round > 0) firstCalls.get(b.name)!.get(g)!.push(sample);
        }
      }
    }

    const floor = bundles.find((b) => b.name === FLOOR)!;
    const floorMedian = median(samples.get(FLOOR)!);

    const summary = (xs: number[]) => ({ median: median(xs), p95: p95(xs) });
    const results: BundleResult[] = await Promise.all(
      bundles.map(async (b) => {
        let xs = samples.get(b.name)!;
        let { bytes, mapBytes } = b;
        let split: SplitResult | undefined;
        const trace = traces.get(b.name);
        const lazyTrace = lazyTraces.get(b.name);
        if (lazyTrace) {
          // The row is the module load: a chunk is loaded only by the code that needs it
          // (the SES client by the first SendEmail), and what that costs is in the details.
          const base = await splitPackage(b, lazyTrace.init, xs);
          const lazy: LazyChunk[] = [];
          for (const [chunk, t] of lazyTrace.chunks) {
            const loaded = t.loaded.map((u) => fileURLToPath(u));
            lazy.push({
              file: path.relative(path.dirname(b.file), chunk),
              owner: await chunkOwner(chunk),
              ...(await bytesOf(loaded)),
              files: loaded.length,
              lazyMs: summary(lazySamples.get(b.name)!.get(chunk)!),
            });
          }
          split = { ...base, lazy: lazy.sort((x, y) => y.bytes - x.bytes) };
          bytes = base.initBytes;
          mapBytes = base.initMapBytes;
        }
        if (trace) {
          // The files a module load reads are the same whichever group is called later.
          const base = await splitPackage(b, [...trace.values()][0]!.init, xs);
          const groups: GroupFirstCall[] = [];
          for (const g of GROUPS) {
            const loaded = trace.get(g)!.loaded.map((u) => fileURLToPath(u));
            const runs = firstCalls.get(b.name)!.get(g)!;
            const cold = runs.map((r) => r.importMs + (r.firstMs - r.secondMs));
            groups.push({
              group: g,
              command: probeOf(g),
              ...(await bytesOf(loaded)),
              files: loaded.length,
              lazyMs: summary(runs.map((r) => r.firstMs - r.secondMs)),
              coldStartMs: summary(cold),
            });
          }
          const sizeGroup = groups.reduce((a, c) => (c.bytes > a.bytes ? c : a));
          const loadGroup = groups.reduce((a, c) => (c.lazyMs.median > a.lazyMs.median ? c : a));
          split = { ...base, groups, sizeGroup: sizeGroup.group, loadGroup: loadGroup.group };
          // The row is a cold start through its first request, for the group that costs most:
          // the module load, sampled as every other bundle's, plus that group's median lazy
          // import. (Each group's own import + lazy samples, in the details, carry the noise
          // of nine more sets of imports: the slowest of nine noisy medians would overstate it.)
          bytes = base.initBytes + sizeGroup.bytes;
          mapBytes = base.initMapBytes + sizeGroup.mapBytes;
          const lazy = loadGroup.lazyMs.median;
          xs = xs.map((x) => x + lazy);
        }
        const sizeRatio = bytes / floor.bytes;
        const loadRatio = median(xs) / floorMedian;
        const isFloor = b.name === FLOOR;
        const pass = isFloor ? null : sizeRatio < GOAL && loadRatio < GOAL;
        return {
          name: b.name,
          entry: b.entry,
          bytes,
          mapBytes,
          nodeOptions: b.env["NODE_OPTIONS"] ?? "",
          sizeRatio,
          loadMs: { median: median(xs), p95: p95(xs), samples: xs.map((x) => Math.round(x * 100) / 100) },
          loadRatio,
          pass,
          ...(split ? { split } : {}),
        };
      }),
    );

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
    for (const r of results.filter((x) => x.split)) {
      const sp = r.split!;
      const f = floor.bytes;
      details.push(
        `${r.name}: code-split, ${sp.files} modules, ${kb(sp.totalBytes)} KB in all (${ratio(sp.totalBytes / f)}; maps ${kb(sp.totalMapBytes)} KB).`,
        `  module load (index.mjs and its static imports, ${sp.initFiles} files): ${kb(sp.initBytes)} KB (${ratio(sp.initBytes / f)}), ` +
          `${sp.initLoadMs.median.toFixed(1)} ms median (${ratio(sp.initLoadMs.median / floorMedian)}), p95 ${sp.initLoadMs.p95.toFixed(1)} ms`,
      );
      if (sp.lazy) {
        details.push(
          `  lazy chunks, each loaded on first use: the files its import loads beyond init, that import (after the module load), and a cold start whose first message uses it (module load + import):`,
          `  ${"owner".padEnd(38)} ${"files".padStart(5)} ${"+KB".padStart(7)} ${"cold KB".padStart(8)} ${"×floor".padStart(6)} ${"lazy ms".padStart(8)} ${"p95".padStart(6)} ${"cold ms".padStart(8)} ${"×floor".padStart(6)}`,
        );
        for (const c of sp.lazy) {
          const cold = sp.initBytes + c.bytes;
          const coldMs = sp.initLoadMs.median + c.lazyMs.median;
          details.push(
            `  ${c.owner.padEnd(38)} ${String(c.files).padStart(5)} ${`+${kb(c.bytes)}`.padStart(7)} ${kb(cold).padStart(8)} ${ratio(cold / f).padStart(6)} ` +
              `${c.lazyMs.median.toFixed(1).padStart(8)} ${c.lazyMs.p95.toFixed(1).padStart(6)} ${coldMs.toFixed(1).padStart(8)} ${ratio(coldMs / floorMedian).padStart(6)}`,
          );
        }
        details.push(`  the "${r.name}" row: its module load; a chunk is loaded only by the step that needs it.`);
        continue;
      }
      details.push(
        `  first request to each group: the files it loads beyond init, the lazy import (first call less a warm one), and import + lazy import:`,
        `  ${"group".padEnd(10)} ${"command".padEnd(28)} ${"files".padStart(5)} ${"+KB".padStart(7)} ${"cold KB".padStart(8)} ${"×floor".padStart(6)} ${"lazy ms".padStart(8)} ${"p95".padStart(6)} ${"cold ms".padStart(8)} ${"×floor".padStart(6)}`,
      );
      for (const g of sp.groups ?? []) {
        const cold = sp.initBytes + g.bytes;
        details.push(
          `  ${g.group.padEnd(10)} ${g.command.padEnd(28)} ${String(g.files).padStart(5)} ${`+${kb(g.bytes)}`.padStart(7)} ${kb(cold).padStart(8)} ${ratio(cold / f).padStart(6)} ` +
            `${g.lazyMs.median.toFixed(1).padStart(8)} ${g.lazyMs.p95.toFixed(1).padStart(6)} ${g.coldStartMs.median.toFixed(1).padStart(8)} ${ratio(g.coldStartMs.median / floorMedian).padStart(6)}`,
        );
      }
      details.push(
        `  the "${r.name}" row: size = init + ${sp.sizeGroup} (the most bytes); load = each module load + the median lazy import of ${sp.loadGroup} (the slowest).`,
      );
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
        "The /api.php dispatcher is code-split (one chunk per command group, loaded on the group's first call), and every request needs a group, so it is judged on what a cold start loads: " +
          "its row's size is index.mjs with its static imports plus the chunks of the group that adds the most, and its load is its module load (sampled as " +
          "every bundle's) plus the median lazy import of the slowest group's first call. The details give its total size, its module load alone and every group's first call.",
        "The runner is code-split too, but most of its messages need no chunk: the SES and SMS clients are loaded by the first SendEmail or SendSMS only. Its row is its module load, " +
          "and the details give each lazy chunk: its import time (in a fresh process after the module load, in every round) and a cold start whose first message needs it.",
      ],
      details,
      data: { rounds: n, goal: GOAL, bundles: results },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
