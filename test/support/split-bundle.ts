import type { Metafile } from "esbuild";

/**
 * Reading a code-split build's metafile (infra/bundling.ts): which source files a
 * cold start loads, and which are in the package at all.
 */

/** An output and, transitively, what it imports statically: what importing it loads. */
export function staticClosure(metafile: Metafile, output: string): Set<string> {
  const seen = new Set<string>();
  const walk = (out: string) => {
    if (seen.has(out)) return;
    seen.add(out);
    for (const imp of metafile.outputs[out]?.imports ?? []) if (imp.kind === "import-statement" && !imp.external) walk(imp.path);
  };
  walk(output);
  return seen;
}

/** The outputs a module load reads: index.mjs and what it imports statically. */
export function outputsAtInit(metafile: Metafile): Set<string> {
  const entry = Object.keys(metafile.outputs).find((o) => o.endsWith("/index.mjs") || o === "index.mjs");
  if (!entry) throw new Error(`no index.mjs among ${Object.keys(metafile.outputs).join(", ")}`);
  return staticClosure(metafile, entry);
}

/** The output that holds a source file. */
export function outputOf(metafile: Metafile, input: string): string {
  const out = Object.keys(metafile.outputs).find((o) => input in (metafile.outputs[o]?.inputs ?? {}));
  if (!out) throw new Error(`${input} is in no output`);
  return out;
}

/** The source files bundled into the given outputs (every output when none are given). */
export const inputsOf = (metafile: Metafile, outputs: Iterable<string> = Object.keys(metafile.outputs)): string[] =>
  [...outputs].flatMap((o) => Object.keys(metafile.outputs[o]?.inputs ?? {}));
