import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { buildSync } from "esbuild";

/**
 * Builds the files the web function serves into `outDir`:
 *
 *   console/  index.html, console.css, console.js (web/console/main.ts bundled by esbuild)
 *   docs/     index.html, docs.js, docs.css and Swagger UI's bundle and stylesheet from npm
 *   openapi.json  the committed docs/openapi.json (a unit test keeps it equal to the registry)
 *
 * Nothing here is committed: `npm start`/the tests build into .build/web, and the
 * CDK stack builds into a temporary directory at synth that the web function's
 * bundling copies beside its handler. Synchronous, because CDK constructs are.
 */
const REPO = path.resolve(fileURLToPath(new URL("..", import.meta.url)));
const require = createRequire(import.meta.url);

/** esbuild settings for the console: what `npm run bench` measures is what ships. */
export const CONSOLE_BUILD = {
  entryPoints: [path.join(REPO, "web/console/main.ts")],
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  legalComments: "none",
} as const;

export function buildWebAssets(outDir: string): string {
  rmSync(outDir, { recursive: true, force: true });
  for (const d of ["console", "docs"]) mkdirSync(path.join(outDir, d), { recursive: true });
  buildSync({ ...CONSOLE_BUILD, entryPoints: [...CONSOLE_BUILD.entryPoints], outfile: path.join(outDir, "console/console.js"), logLevel: "error" });
  const copy = (from: string, to: string) => copyFileSync(from, path.join(outDir, to));
  copy(path.join(REPO, "web/console/index.html"), "console/index.html");
  copy(path.join(REPO, "web/console/console.css"), "console/console.css");
  copy(path.join(REPO, "web/docs/index.html"), "docs/index.html");
  copy(path.join(REPO, "web/docs/docs.js"), "docs/docs.js");
  copy(path.join(REPO, "web/docs/docs.css"), "docs/docs.css");
  const swagger = path.dirname(require.resolve("swagger-ui-dist/package.json"));
  copy(path.join(swagger, "swagger-ui-bundle.js"), "docs/swagger-ui-bundle.js");
  copy(path.join(swagger, "swagger-ui.css"), "docs/swagger-ui.css");
  copy(path.join(REPO, "docs/openapi.json"), "openapi.json");
  return outDir;
}

// `tsx infra/web-assets.ts <dir>`: build by hand, e.g. to look at the files.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(buildWebAssets(path.resolve(process.argv[2] ?? ".build/web")));
}
