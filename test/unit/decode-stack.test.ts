import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { build } from "esbuild";
import { afterAll, describe, expect, it } from "vitest";
import { BUNDLE, splitBuildOptions } from "../../infra/bundling.js";
import { decodeStack, loadMap, mapsIn, stacksIn } from "../../infra/decode-stack.js";

/**
 * A stack thrown by a minified bundle (built with the deployed esbuild settings)
 * and logged the way the functions log it, decoded back to the source line.
 */
const run = promisify(execFile);
let dir: string;
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("decode-stack", () => {
  it("maps a logged stack from the minified bundle back to the source file and line", async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "journey-decode-"));
    await writeFile(path.join(dir, "entry.ts"), 'import { explode } from "./shared-explode.js";\nexport const handler = () => explode(2);\n');
    await writeFile(
      path.join(dir, "shared-explode.ts"),
      "// padding so the throw is not on line 1\n\nexport function explode(n: number): number {\n  if (n > 1) throw new Error(`boom ${n}`);\n  return n;\n}\n",
    );
    const out = path.join(dir, "asset", "index.mjs");
    await build({
      entryPoints: [path.join(dir, "entry.ts")],
      outfile: out,
      bundle: true,
      platform: "node",
      format: BUNDLE.format,
      target: BUNDLE.target,
      minify: BUNDLE.minify,
      sourcemap: BUNDLE.sourceMap,
      logLevel: "warning",
    });
    // In a plain node process: vitest's own process maps stacks through source maps.
    const script = "try { (await import(process.argv[1])).handler(); } catch (e) { process.stdout.write(e.stack); }";
    const { stdout: stack } = await run(process.execPath, ["--input-type=module", "-e", script, pathToFileURL(out).href], { env: {} });
    // Minified and without --enable-source-maps: the raw stack points into index.mjs.
    expect(stack).toMatch(/index\.mjs:1:\d+/);
    const logLine = JSON.stringify({ level: "ERROR", message: "unhandled fault", error: { name: "Error", message: "boom 2", stack } });
    const decoded = stacksIn(`2026-12-02T00:00:00Z\t${logLine}`).map((s) => decodeStack(s, loadMap(path.dirname(out))));
    expect(decoded).toHaveLength(1);
    expect(decoded[0]).toMatch(/shared-explode\.ts:4:\d+/);
    expect(decoded[0]).not.toMatch(/index\.mjs:1:/);
  });

  it("maps frames in a code-split bundle's chunks (the /api.php dispatcher) with the map beside each chunk", async () => {
    dir ??= await mkdtemp(path.join(os.tmpdir(), "journey-decode-"));
    const src = path.join(dir, "split");
    await mkdir(src, { recursive: true });
    await writeFile(path.join(src, "entry.ts"), 'export const handler = async () => (await import("./lazy-group.js")).explode(3);\n');
    await writeFile(
      path.join(src, "lazy-group.ts"),
      "// padding\n// so the throw is\n// on line 5\nexport function explode(n: number): number {\n  if (n > 1) throw new Error(`boom ${n}`);\n  return n;\n}\n",
    );
    const out = path.join(src, "asset");
    await build(splitBuildOptions(path.join(src, "entry.ts"), out, src));
    const script = "try { await (await import(process.argv[1])).handler(); } catch (e) { process.stdout.write(e.stack); }";
    const { stdout: stack } = await run(process.execPath, ["--input-type=module", "-e", script, pathToFileURL(path.join(out, "index.mjs")).href], { env: {} });
    expect(stack).toMatch(/chunks\/lazy-group-\w+\.mjs:\d+:\d+/);
    const decoded = decodeStack(stack, mapsIn(out));
    expect(decoded).toMatch(/lazy-group\.ts:5:\d+/);
    expect(decoded).not.toMatch(/chunks\/lazy-group-\w+\.mjs:/);
  });
});
