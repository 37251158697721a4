import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { build, type Metafile } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { splitBuildOptions } from "../../infra/bundling.js";
import { GROUPS } from "../../shared/command.js";
import { commandsOf, entryOf } from "../../shared/registry.js";
import { inputsOf, outputOf, outputsAtInit, staticClosure } from "../support/split-bundle.js";

/**
 * The /api.php dispatcher's code-split bundle, built with the options the stack
 * packages it with (infra/bundling.ts): a cold start must load neither a command
 * nor the engine, and every group's chunks must load and answer in a plain Node
 * process, as Lambda runs them (no tsx, nothing of the repository on the path).
 */
const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

let dir: string;
let metafile: Metafile;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "journey-legacy-"));
  const result = await build({ ...splitBuildOptions(path.join(ROOT, entryOf("legacy")), dir, ROOT), metafile: true });
  metafile = result.metafile;
}, 120_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the /api.php dispatcher's split bundle", () => {
  it("loads at cold start neither a command module nor the engine: those are chunks loaded on a group's first call", () => {
    const atInit = inputsOf(metafile, outputsAtInit(metafile));
    expect(atInit.some((i) => i.startsWith("functions/legacy/"))).toBe(true);
    expect(atInit.filter((i) => i.startsWith("shared/commands/") || i.startsWith("shared/engine/"))).toEqual([]);
    // ...and they are in the package all the same, reached by dynamic import.
    const all = inputsOf(metafile);
    expect(all.some((i) => i.startsWith("shared/commands/journeys"))).toBe(true);
    expect(all.some((i) => i.startsWith("shared/engine/"))).toBe(true);
  });

  it("loads the runner only for the groups that run steps: a journey, subscriber, admin or stats command's first call does not", () => {
    // Shared modules become shared chunks: a group that needed one small export of the
    // jobs module (starting a job) used to load the whole runner with it.
    const loadedBy = (...modules: string[]) => {
      const outs = new Set(modules.flatMap((m) => [...staticClosure(metafile, outputOf(metafile, m))]));
      return inputsOf(metafile, outs).filter((i) => i.startsWith("shared/engine/"));
    };
    const runner = ["shared/engine/runner.ts", "shared/engine/step-actions.ts", "shared/engine/enrol.ts"];
    for (const group of [["shared/commands/journeys.ts", "shared/commands/clone.ts"], ["shared/commands/reference.ts", "shared/commands/subscribers.ts"], ["shared/commands/admin.ts"], ["shared/commands/stats.ts"]]) {
      expect(loadedBy(...group).filter((i) => runner.includes(i)), group.join(" + ")).toEqual([]);
    }
    // The actions group runs a tree edit's Redirects job, and ingest enrols: they do load it.
    expect(loadedBy("shared/commands/actions.ts")).toContain("shared/engine/runner.ts");
  });

  it("answers a command of every group from its chunks, in a plain node process as Lambda loads it", async () => {
    // One command per group, unauthenticated: refused before any I/O, after its group has loaded.
    const probes = GROUPS.map((g) => {
      const defs = commandsOf(g);
      return (defs.find((d) => d.scope !== "none" && !d.rateLimitKey) ?? defs[0])!.name;
    });
    const script = `
      const { handler } = await import(process.argv[1]);
      const out = {};
      for (const command of process.argv.slice(2)) {
        const r = await handler({ version: "2.0", routeKey: "GET /api.php", rawPath: "/api.php", rawQueryString: "Command=" + command,
          headers: {}, requestContext: { http: { method: "GET", path: "/api.php" }, requestId: "t" }, isBase64Encoded: false },
          { functionName: "legacy", awsRequestId: "t", invokedFunctionArn: "arn", memoryLimitInMB: "512", functionVersion: "1", getRemainingTimeInMillis: () => 29000 });
        out[command] = [r.statusCode, JSON.parse(r.body)];
      }
      process.stdout.write("\\n@@" + JSON.stringify(out));
    `;
    const env = {
      PATH: process.env["PATH"] ?? "",
      AWS_REGION: "us-east-1",
      TABLE_NAME: "legacy-bundle-test",
      ADMIN_API_KEY_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:000000000000:secret:admin",
      RATE_LIMIT_PER_MINUTE: "100",
      SESSION_TTL_SECONDS: "86400",
      POWERTOOLS_LOG_LEVEL: "ERROR",
    };
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script, pathToFileURL(path.join(dir, "index.mjs")).href, ...probes], {
      env,
      timeout: 60_000,
    });
    const answers = JSON.parse(stdout.slice(stdout.lastIndexOf("\n@@") + 3)) as Record<string, [number, Record<string, unknown>]>;
    expect(answers["health"]).toEqual([200, { Status: "ok" }]);
    for (const command of probes.filter((c) => c !== "health")) {
      const [status, body] = answers[command]!;
      // Legacy statuses: 200 with Success false and the command's own first error (99998 no credentials, 1 no username).
      expect([command, status, body["Success"]]).toEqual([command, 200, false]);
      const code = (body["Errors"] as { Code: number }[] | undefined)?.[0]?.Code;
      expect([command, code]).toEqual([command, command === "user.login" ? 1 : 99998]);
    }
  }, 120_000);
});
