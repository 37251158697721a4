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
