/**
 * Runs one export job in a fresh process, so that its peak memory is the worker's
 * alone: `node --import tsx bench/export-child.ts <userId> <exportId>`. The
 * environment (table, S3 endpoint, bucket) comes from the parent's local stack.
 */
const [userId, exportId] = process.argv.slice(2).map(Number);
const { runExport } = await import("../shared/domain/export-job-run.js");
const { getExportJob } = await import("../shared/domain/exports.js");
const started = performance.now();
const ok = await runExport({ userId: userId!, exportId: exportId! }, 1);
const ms = performance.now() - started;
const job = await getExportJob(userId!, exportId!);
// maxRSS is in kilobytes.
console.log(JSON.stringify({ ok, ms, bytes: job?.DownloadSize ?? 0, status: job?.Status, maxRssMb: process.resourceUsage().maxRSS / 1024 }));
