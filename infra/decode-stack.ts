import { existsSync, readFileSync, statSync } from "node:fs";
import { SourceMap } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Turns a stack trace logged by a deployed function back into source positions.
 *
 * The functions run minified and without --enable-source-maps (loading the map at
 * init costs ~30 % of a cold start), so a logged stack points into index.mjs. The
 * map ships beside the code in the deployment package (and in cdk.out), and this
 * decodes offline:
 *
 *   npm run decode-stack -- <index.mjs.map, or the folder holding it> [log file]
 *
 * Given the folder, frames in a code-split bundle's chunks (chunks/*.mjs, the
 * /api.php dispatcher) are decoded too, each with the map beside its chunk.
 *
 * The input (a file, or stdin) may be the raw stack or log lines as CloudWatch
 * shows them: a JSON line's `stack` fields are decoded.
 */
const FRAME = /(?:file:\/\/)?(?:\/var\/task\/)?((?:chunks\/)?[\w-]+\.mjs):(\d+):(\d+)/g;

/** The map of a module of the package by its path there (index.mjs, or chunks/x.mjs in a code-split bundle). */
export type MapLookup = (module: string) => SourceMap | undefined;

/** The repository-relative path of a source in the map (which records them relative to the asset folder). */
function shortSource(source: string): string {
  const plain = source.startsWith("file://") ? fileURLToPath(source) : source;
  const at = plain.search(/(?:^|\/)(?:shared|functions|infra|bench|node_modules)\//);
  return at < 0 ? plain : plain.slice(at).replace(/^\//, "");
}

/** `maps`: one map (index.mjs's), or a lookup for a code-split bundle, whose frames also point into its chunks. */
export function decodeStack(stack: string, maps: SourceMap | MapLookup): string {
  const mapOf: MapLookup = maps instanceof SourceMap ? (m) => (m === "index.mjs" ? maps : undefined) : maps;
  return stack.replace(FRAME, (whole, module: string, line: string, column: string) => {
    const map = mapOf(module);
    if (!map) return whole;
    const origin = map.findOrigin(Number(line), Number(column));
    if (!("fileName" in origin)) return whole;
    const name = origin.name ? ` ${origin.name}` : "";
    return `${shortSource(origin.fileName)}:${origin.lineNumber}:${origin.columnNumber}${name}`;
  });
}

/** Every `stack` string inside a JSON log line, or the text itself when it is not JSON. */
export function stacksIn(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const start = line.indexOf("{");
    if (start < 0) continue;
    try {
      const walk = (v: unknown): void => {
        if (v && typeof v === "object") {
          for (const [k, x] of Object.entries(v)) {
            if (k === "stack" && typeof x === "string") out.push(x);
            else walk(x);
          }
        }
      };
      walk(JSON.parse(line.slice(start)));
    } catch {
      // Not a JSON log line.
    }
  }
  return out.length ? out : [text];
}

export function loadMap(where: string): SourceMap {
  const file = existsSync(where) && statSync(where).isDirectory() ? path.join(where, "index.mjs.map") : where;
  return new SourceMap(JSON.parse(readFileSync(file, "utf8")) as ConstructorParameters<typeof SourceMap>[0]);
}

/** Every map of an unpacked deployment package, each read when a frame first points into its module. */
export function mapsIn(folder: string): MapLookup {
  const cache = new Map<string, SourceMap | undefined>();
  return (module) => {
    if (!cache.has(module)) {
      const file = path.join(folder, `${module}.map`);
      cache.set(module, existsSync(file) ? loadMap(file) : undefined);
    }
    return cache.get(module);
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const [mapPath, input] = process.argv.slice(2);
  if (!mapPath) {
    console.error("usage: npm run decode-stack -- <index.mjs.map or its folder> [file with the logged stack; stdin otherwise]");
    process.exit(2);
  }
  const text = readFileSync(input ?? 0, "utf8");
  const maps = existsSync(mapPath) && statSync(mapPath).isDirectory() ? mapsIn(mapPath) : loadMap(mapPath);
  console.log(stacksIn(text).map((s) => decodeStack(s, maps)).join("\n\n"));
}
