import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import { BUNDLE } from "../../infra/bundling.js";
import { BUNDLING } from "../../infra/constructs/api-function.js";
import { docsOf } from "../../shared/command-docs.js";
import { commands } from "../../shared/registry.js";

/**
 * The reference's texts (summaries, error lists) are registered in `DOCS:`
 * statements that the Lambda bundles drop (shared/command-docs.ts): every command
 * has them for the OpenAPI document, and no deployed function carries them.
 */
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** /api.php's entry, which imports every command, bundled as the stack bundles it. */
async function legacyBundle(dropLabels: string[]): Promise<string> {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [path.join(ROOT, "functions/legacy/index.ts")],
    bundle: true,
    write: false,
    outfile: "index.mjs",
    platform: "node",
    target: BUNDLE.target,
    format: BUNDLE.format,
    minify: BUNDLE.minify,
    external: [...BUNDLE.externalModules],
    banner: { js: BUNDLE.banner },
    dropLabels,
    logLevel: "warning",
  });
  return result.outputFiles[0]!.text;
}

describe("command docs", () => {
  it("every command has a summary, run unbundled", () => {
    for (const def of commands) expect(docsOf(def).summary, def.name).not.toBe("");
  });

  it("the stack's bundling drops the DOCS: statements, and with them every summary and the docs-only error lists", async () => {
    expect(BUNDLING.esbuildArgs).toEqual({ "--drop-labels": "DOCS" });
    const [deployed, withDocs] = await Promise.all([legacyBundle([...BUNDLE.dropLabels]), legacyBundle([])]);
    // The check means something only if the texts do reach a bundle that keeps the statements.
    expect(withDocs).toContain("Create a journey (starts Disabled)");
    expect(withDocs).toContain("the message starts with the offending path");
    for (const def of commands) expect(deployed, def.name).not.toContain(JSON.stringify(docsOf(def).summary).slice(1, -1));
    expect(deployed).not.toContain("the message starts with the offending path");
  }, 60_000);
});
