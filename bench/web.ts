import { readFileSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { buildWebAssets } from "../infra/web-assets.js";
import type { Section } from "./section.js";

/**
 * The pages the web function serves, built exactly as deployed (infra/web-assets.ts).
 * The console's JavaScript has a budget of 150 KB gzipped (issue 10); Swagger UI is
 * served only by /docs and is reported for information.
 */
export const CONSOLE_JS_BUDGET_GZ = 150 * 1024;

export async function benchWeb(): Promise<Section> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "journey-bench-web-"));
  try {
    const started = performance.now();
    buildWebAssets(path.join(dir, "web"));
    const buildMs = performance.now() - started;
    const files = ["console/console.js", "console/console.css", "console/index.html", "docs/swagger-ui-bundle.js", "docs/swagger-ui.css", "openapi.json"];
    const sizes = files.map((f) => {
      const bytes = readFileSync(path.join(dir, "web", f));
      return { file: f, bytes: statSync(path.join(dir, "web", f)).size, gz: gzipSync(bytes, { level: 9 }).length };
    });
    const js = sizes[0]!;
    const pass = js.gz <= CONSOLE_JS_BUDGET_GZ;
    const kb = (n: number) => (n / 1024).toFixed(1);
    return {
      id: "web",
      title: "Web pages (/console, /docs): served sizes, and the console's JavaScript against its budget",
      columns: ["file", "size KB", "gzip KB", "budget"],
      align: ["l", "r", "r", "l"],
      rows: sizes.map((s) => [s.file, kb(s.bytes), kb(s.gz), s === js ? `${pass ? "PASS" : "FAIL"} ≤ ${kb(CONSOLE_JS_BUDGET_GZ)} KB gz` : ""]),
      notes: [
        `console.js is ${kb(js.gz)} KB gzipped (${((100 * js.gz) / CONSOLE_JS_BUDGET_GZ).toFixed(0)}% of the budget); the whole build took ${buildMs.toFixed(0)} ms.`,
        "Served by the web function only: no API function's bundle carries any of it.",
      ],
      data: { files: sizes, consoleJsGz: js.gz, budgetGz: CONSOLE_JS_BUDGET_GZ, pass, buildMs },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
