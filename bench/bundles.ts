import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { build, type Metafile } from "esbuild";
import { BUNDLE } from "../infra/bundling.js";
import { GROUPS } from "../shared/command.js";
import { entryOf } from "../shared/registry.js";
import { WORKER_TARGETS } from "../infra/constructs/api-function.js";
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

export interface BundleResult {
  name: string;
  entry: string;
  bytes: number;
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

function entries(): { name: string; entry: string }[] {
  // A group may be declared before its Lambda exists; only what is deployable is measured.
  const groups = GROUPS.filter((g) => existsSync(path.join(ROOT, entryOf(g)))).map((g) => ({ name: g, entry: entryOf(g) }));
  // Queue workers are functions too; they are measured beside the API groups.
  const workers = WORKER_TARGETS.map((w) => ({ name: w, entry: `functions/${w}/index.ts` }));
  return [{ name: FLOOR, entry: "bench/floor.ts" }, ...groups, { name: "legacy", entry: entryOf("legacy") }, ...workers];
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
    // The deployed map is a separate .map file, so it is not part of the code size.
    // Node reads it at import only under --enable-source-maps, which the deployed
    // functions do set (infra/constructs/api-function.ts). Left out here so that the
    // ratios compare code; absolute load times therefore understate a deployed cold
    // start by reading and parsing a 2–3 MB map.
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
async function coldLoad(file: string): Promise<number> {
  const script =
    "const t0 = performance.now(); await import(process.argv[1]); " +
    "process.stdout.write(JSON.stringify({ ms: performance.now() - t0 }));";
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script, pathToFileURL(file).href], {
    // A clean environment: NODE_OPTIONS (tsx's loader) or NODE_COMPILE_CACHE from the
    // parent would change what a load costs, and AWS_* settings of the machine running
    // the bench must not reach the SDK. Lambda sets the region; config needs the other two.
    env: { TABLE_NAME: "bench", ADMIN_API_KEY: "bench-admin-key-0123456789", AWS_REGION: "us-east-1" },
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
    // Outside the repository, so a bundle cannot quietly resolve a package from
    // node_modules at run time that it would not find on Lambda.
    const bundles = await Promise.all(entries().map((e) => bundle(dir, e.name, e.entry)));

    // Interleaved rounds, so that a slow spell of the machine (another process, a
    // thermal step) is shared by every bundle instead of landing on one. The first
    // round warms the OS file cache and is not counted, as on Lambda the code is
    // already on local disk when the runtime imports it.
    const samples = new Map<string, number[]>(bundles.map((b) => [b.name, []]));
    for (let round = 0; round <= n; round++) {
      for (const b of bundles) {
        const ms = await coldLoad(b.file);
        if (round > 0) samples.get(b.name)!.push(ms);
      }
    }

    const floor = bundles.find((b) => b.name === FLOOR)!;
    const floorMedian = median(samples.get(FLOOR)!);
    const floorOwners = bytesByOwner(floor);

    const results: BundleResult[] = bundles.map((b) => {
      const xs = samples.get(b.name)!;
      const sizeRatio = b.bytes / floor.bytes;
      const loadRatio = median(xs) / floorMedian;
      const isFloor = b.name === FLOOR;
      const pass = isFloor ? null : sizeRatio < GOAL && loadRatio < GOAL;
      const result: BundleResult = {
        name: b.name,
        entry: b.entry,
        bytes: b.bytes,
        sizeRatio,
        loadMs: { median: median(xs), p95: p95(xs), samples: xs.map((x) => Math.round(x * 100) / 100) },
        loadRatio,
        pass,
      };
      if (pass === false) {
        result.topContributors = [...bytesByOwner(b)]
          .map(([owner, bytes]) => ({ owner, bytes, floorBytes: floorOwners.get(owner) ?? 0 }))
          .sort((x, y) => y.bytes - y.floorBytes - (x.bytes - x.floorBytes))
          .slice(0, 5);
      }
      return result;
    });

    const details: string[] = [];
    for (const r of results.filter((x) => x.topContributors)) {
      details.push(`${r.name}: top 5 contributors by KB added over the floor (added: KB here / KB in floor)`);
      for (const c of r.topContributors!) {
        const added = `+${kb(c.bytes - c.floorBytes)}`;
        details.push(`  ${c.owner.padEnd(40)} ${added.padStart(7)}: ${kb(c.bytes).padStart(7)} / ${kb(c.floorBytes).padStart(7)}`);
      }
    }

    return {
      id: "bundles",
      title: "Bundle size and cold module load, relative to the floor (DynamoDB document client only)",
      columns: ["bundle", "size KB", "size ×floor", "load ms (median)", "load ms (p95)", "load ×floor", `goal <${GOAL}×`],
      align: ["l", "r", "r", "r", "r", "r", "l"],
      rows: results.map((r) => [
        r.name,
        kb(r.bytes),
        ratio(r.sizeRatio),
        r.loadMs.median.toFixed(1),
        r.loadMs.p95.toFixed(1),
        ratio(r.loadRatio),
        r.pass === null ? "—" : r.pass ? "PASS" : "FAIL",
      ]),
      notes: [
        `${n} interleaved round${n === 1 ? "" : "s"} after one uncounted warm-up round; each load is a fresh \`node\` process timing \`await import()\` of the minified ESM bundle (no source map).`,
        `p95 is nearest-rank${n < 20 ? `, which with ${n} sample${n === 1 ? "" : "s"} is the slowest load` : ""}.`,
        `Goal: under ${GOAL}× the floor on both size and median load time.`,
      ],
      details,
      data: { rounds: n, goal: GOAL, bundles: results },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
