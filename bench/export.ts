import { spawn } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { bundle } from "./bundles.js";
import type { Section } from "./section.js";
import type { BenchContext } from "./stack-context.js";

/**
 * CSV export at scale: N journeys × 5 SendEmail actions with IncludeActions, run by
 * the deployed worker bundle in a fresh child process (so peak RSS is the worker's), at
 * 1,000 and at 10,000 journeys. Goal: at most 256 MB, and flat between the two.
 * Accounts are seeded straight into the table through the domain code: the tree
 * writer, the journey item, and rollup items in the stored format.
 */
const ACTIONS = 5;
const DAYS = ["2026-03-01", "2026-03-02", "2026-03-03"];

async function seed(journeys: number): Promise<number> {
  const { createUser } = await import("../shared/domain/users/users.js");
  const { createEmail } = await import("../shared/domain/emails.js");
  const { nextIds } = await import("../shared/domain/ids.js");
  const { storable } = await import("../shared/domain/journeys/journeys.js");
  const { writeTreeVersion } = await import("../shared/domain/trees/tree-store.js");
  const { batchPut } = await import("../shared/domain/owned.js");
  const { keys } = await import("../shared/keys.js");
  const tag = `${journeys}-${Date.now()}`;
  const { userId } = await createUser({ username: `bench-${tag}`, password: "x", email: `bench-${tag}@example.com`, permissions: ["Campaign.Create"], now: new Date() });
  const emailId = await createEmail(userId, { EmailName: "Bench email", Subject: "S", HTMLContent: "", PlainContent: "" });
  const firstJourney = await nextIds("Journey", journeys);
  const firstAction = await nextIds("Action", journeys * ACTIONS);
  const counters = (n: number) => ({ SendCount: 10 * n, DeliveryCount: 9 * n, OpenCount: 4 * n, ClickCount: n, TotalRevenue: 123 * n });
  const one = async (j: number) => {
    const journeyId = firstJourney + j;
    const ids = Array.from({ length: ACTIONS }, (_, i) => firstAction + j * ACTIONS + i);
    const tree = ids.map((ActionID, i) => ({
      ActionID, Action: "SendEmail" as const, ActionParameters: { EmailID: emailId, SenderDomainID: 0 },
      Published: true, Notes: "", ParentActionID: 0, Branch: "" as const, OrderNo: i + 1,
    }));
    const { pointer } = await writeTreeVersion(userId, journeyId, tree);
    const at = "2026-03-01 00:00:00";
    const items: Record<string, unknown>[] = [
      {
        ...keys.journey(userId, journeyId),
        ...storable({
          JourneyID: journeyId, JourneyName: `Bench journey ${j}, "quoted"`, Trigger: "Manual", TriggerParameters: {},
          Status: j % 2 ? "Enabled" : "Disabled", Notes: "", CreatedAt: at, UpdatedAt: at, Trigger_Criteria: [],
          Run_Criteria: [], Run_Criteria_Operator: "and", Rate_Limit_Per_Hour: 0, Rate_Limit_Per_Day: 0, Tree: pointer,
        }),
      },
      { ...keys.journeyEnrollment(userId, journeyId), JourneyID: journeyId, ActiveSubscribers: 3, TotalSubscribers: 5, TotalEnrolledLifetime: 4 },
    ];
    for (const date of DAYS) {
      for (const aid of ids) items.push({ ...keys.actionDay(userId, journeyId, date, aid), Date: date, ActionID: aid, ...counters(1) });
    }
    await batchPut(items);
  };
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < journeys) await one(next++);
  }));
  return userId;
}

function runChild(env: Record<string, string>, bundleFile: string, userId: number, exportId: number): Promise<{ ok: boolean; ms: number; maxRssMb: number }> {
  return new Promise((resolve, reject) => {
    const script = fileURLToPath(new URL("./export-child.mjs", import.meta.url));
    // Lambda sizes V8's heap from the function's memory; on this 24 GB machine V8 would
    // defer collection and report garbage as peak memory. The cap is the heap a
    // 256 MB function gets, so an export that needs more would crash here too.
    const heap = process.env["BENCH_EXPORT_HEAP_MB"] ?? "160";
    const child = spawn(process.execPath, [`--max-old-space-size=${heap}`, script, bundleFile, String(userId), String(exportId)], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.on("exit", (code) => {
      const line = out.trim().split("\n").at(-1) ?? "";
      if (code !== 0) reject(new Error(`export child exited with ${code}: ${out}`));
      else resolve(JSON.parse(line));
    });
  });
}

export async function benchExport(ctx: BenchContext): Promise<Section> {
  const { createExportJob, getExportJob } = await import("../shared/domain/exports/exports.js");
  // The deployed artifact, built as CDK builds it: what runs on Lambda is what is measured.
  const dir = await mkdtemp(path.join(tmpdir(), "journey-export-bench-"));
  const worker = await bundle(dir, "export-worker", "functions/export-worker/index.ts");
  const sizes = (process.env["BENCH_EXPORT_JOURNEYS"] ?? "1000,10000").split(",").map(Number);
  const rows: string[][] = [];
  const data: unknown[] = [];
  for (const journeys of sizes) {
    const seedStart = performance.now();
    const userId = await seed(journeys);
    const seedMs = performance.now() - seedStart;
    const job = await createExportJob(
      userId,
      { Command: "ExportJourneys", StatsStartDate: DAYS[0]!, StatsEndDate: DAYS[2]!, Status: "all", IncludeActions: true },
      new Date(),
    );
    const r = await runChild(ctx.env, worker.file, userId, job.ExportID);
    const done = await getExportJob(userId, job.ExportID);
    const csvRows = journeys * (1 + ACTIONS);
    const result = {
      journeys, csvRows, seconds: r.ms / 1000, rowsPerSecond: csvRows / (r.ms / 1000), bytes: done?.DownloadSize ?? 0,
      peakRssMb: r.maxRssMb, status: done?.Status ?? "missing", seedSeconds: seedMs / 1000,
    };
    data.push(result);
    rows.push([
      String(journeys), String(csvRows), (r.ms / 1000).toFixed(1), Math.round(result.rowsPerSecond).toLocaleString("en-US"),
      (result.bytes / 1024 / 1024).toFixed(1), r.maxRssMb.toFixed(0), result.status, r.maxRssMb <= 256 ? "PASS" : "FAIL",
    ]);
  }
  const mems = (data as { peakRssMb: number }[]).map((d) => d.peakRssMb);
  const flat = mems.length > 1 ? Math.max(...mems) / Math.min(...mems) : 1;
  return {
    id: "export",
    title: `CSV export (${ACTIONS} SendEmail actions a journey, IncludeActions, worker in a fresh process)`,
    columns: ["journeys", "CSV rows", "seconds", "rows/s", "file MB", "peak RSS MB", "job", "≤ 256 MB"],
    align: ["r", "r", "r", "r", "r", "r", "l", "l"],
    rows,
    notes: [
      `Peak RSS from the largest to the smallest account: ${flat.toFixed(2)}× (goal: flat).`,
      "Rows are streamed into an S3 multipart upload (5 MB parts, two in flight) on the local emulator.",
      `The worker is the esbuild bundle CDK deploys, invoked with an SQS event in a fresh process, V8's old space capped at ${process.env["BENCH_EXPORT_HEAP_MB"] ?? "160"} MB (the heap of a 256 MB Lambda).`,
    ],
    data,
  };
}
