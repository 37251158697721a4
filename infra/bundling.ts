import type { BuildOptions } from "esbuild";

/**
 * esbuild settings for every Lambda bundle, shared by the CDK stack (NodejsFunction)
 * and the bundle benchmark, so that what is measured is what is deployed.
 */
export const BUNDLE = {
  target: "node24",
  format: "esm" as const,
  minify: true,
  sourceMap: true,
  /**
   * Provided by the Lambda runtime and needed only by admin calls (the admin key in
   * Secrets Manager), so it is loaded on demand instead of bundled.
   */
  externalModules: ["@aws-sdk/client-secrets-manager"],
  /**
   * Statements labelled `DOCS:` are deleted: they register the reference's texts
   * (summaries, error lists) that only the OpenAPI document reads
   * (shared/command-docs.ts), so no function carries them.
   */
  dropLabels: ["DOCS"],
  /** ESM bundles need a require() for the few CommonJS dependencies inside the SDK. */
  banner: "import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);",
} as const;

/**
 * BUNDLE as esbuild's own build options, for the builds this project runs itself (the
 * split bundles below, and the benchmark's byte attribution) rather than through
 * NodejsFunction.
 */
export const ESBUILD_OPTIONS = {
  bundle: true,
  platform: "node" as const,
  target: BUNDLE.target,
  format: BUNDLE.format,
  minify: BUNDLE.minify,
  external: [...BUNDLE.externalModules],
  // On every output file: each chunk of a split bundle is a module of its own and needs its own require().
  banner: { js: BUNDLE.banner },
  dropLabels: [...BUNDLE.dropLabels],
} satisfies BuildOptions;

/**
 * The same settings for a code-split bundle (the /api.php dispatcher and the runner):
 * `index.mjs` holds the entry and what it imports statically; every dynamic `import()`
 * (a command group, shared/command-groups.ts; the SES or SMS client) becomes a chunk under `chunks/`, with
 * the code that chunks share in chunks of their own, each with its map beside it.
 * NodejsFunction can only write one file (it passes esbuild `--outfile`), so the
 * stack packages this output itself (infra/constructs/api-function.ts).
 */
export function splitBuildOptions(entry: string, outdir: string, root: string) {
  return {
    absWorkingDir: root,
    entryPoints: { index: entry },
    outdir,
    ...ESBUILD_OPTIONS,
    splitting: true,
    sourcemap: BUNDLE.sourceMap,
    // .mjs, as NodejsFunction names its ESM output: Lambda loads it as ESM with no package.json.
    outExtension: { ".js": ".mjs" },
    chunkNames: "chunks/[name]-[hash]",
    logLevel: "warning" as const,
  } satisfies BuildOptions;
}
