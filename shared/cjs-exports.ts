/**
 * The exports of a CommonJS package loaded with a dynamic `import()`, however it was
 * loaded. Every AWS SDK v3 client resolves to its `dist-cjs` build here, and:
 * - Node itself, and esbuild's one-file bundle, give the named exports plus `default`;
 * - esbuild's code-split bundle (infra/bundling.ts, the runner's and /api.php's) turns
 *   the package into a chunk whose only export is `default`: destructuring a name from
 *   it gives `undefined`, and the first send would fail with "is not a constructor".
 * `default` is the package's `module.exports` in all three, so it is taken when present.
 */
export function cjsExports<T extends object>(mod: T): T {
  const d = (mod as { default?: unknown }).default;
  return d !== null && typeof d === "object" ? (d as T) : mod;
}
