import { loadConfig } from "../../config.js";
import { uploadStream } from "../../s3-upload.js";
import { keys } from "../../keys.js";
import { datesBetween } from "../../time.js";
import { countExport, faultOf, logger } from "../../observability.js";
import { exportLines } from "./export-csv.js";
import { claimExportJob, completeExportJob, failExportJob, releaseExportJob, renewExportLease, type ExportMessage } from "./exports.js";

const PART_SIZE = 5 * 1024 * 1024;

/**
 * One delivery of an export message: claim, stream the CSV into a multipart
 * upload, complete. Returns true when the message is done (finished, or nothing
 * left to do), false to have it delivered again.
 */
export async function runExport(message: ExportMessage, receiveCount: number, now = () => new Date()): Promise<boolean> {
  const cfg = loadConfig();
  const claim = await claimExportJob(message.userId, message.exportId, cfg.EXPORT_LEASE_SECONDS, now());
  if (!claim.ok) {
    // Finished or gone: a redelivery has nothing to do. Leased to a live worker: try again later.
    return claim.job === undefined || claim.job.Status === "Completed" || claim.job.Status === "Failed";
  }
  const { job, token } = claim;
  const options = job.ExportOptions;
  const window = {
    start: options.StatsStartDate,
    end: options.StatsEndDate,
    dates: datesBetween(options.StatsStartDate, options.StatsEndDate),
  };
  let bytes = 0;
  let rows = 0;
  const started = Date.now();
  async function* body() {
    for await (const line of exportLines(message.userId, options, window)) {
      const chunk = Buffer.from(line, "utf8");
      bytes += chunk.length;
      rows++;
      yield chunk;
    }
  }
  // Renew the lease while streaming: only a worker that stopped renewing can be taken over.
  const heartbeat = setInterval(() => {
    renewExportLease(message.userId, message.exportId, token, cfg.EXPORT_LEASE_SECONDS, now()).catch(() => undefined);
  }, Math.max(500, (cfg.EXPORT_LEASE_SECONDS * 1000) / 3));
  try {
    if (!cfg.EXPORTS_BUCKET) throw new Error("EXPORTS_BUCKET is not set");
    // Parts of 5 MB, two in flight: the upload's memory is bounded whatever the account's size.
    await uploadStream({
      bucket: cfg.EXPORTS_BUCKET,
      key: keys.exportObject(message.userId, message.exportId),
      region: cfg.AWS_REGION,
      ...(cfg.S3_ENDPOINT ? { endpoint: cfg.S3_ENDPOINT } : {}),
      body: body(),
      partSize: PART_SIZE,
      contentType: "text/csv; charset=utf-8",
      contentDisposition: `attachment; filename="journey-export-${message.exportId}.csv"`,
    });
    await completeExportJob(message.userId, message.exportId, token, bytes, now());
    // Rows without the header line.
    countExport({ rows: Math.max(0, rows - 1), bytes, ms: Date.now() - started });
    return true;
  } catch (err) {
    countExport("failed");
    logger().error("export attempt failed", { exportId: message.exportId, receiveCount, error: faultOf(err) });
    if (receiveCount >= cfg.EXPORT_MAX_ATTEMPTS) {
      await failExportJob(message.userId, message.exportId, token, "The export failed; please submit it again", now());
    } else {
      await releaseExportJob(message.userId, message.exportId, token, now());
    }
    return false;
  } finally {
    clearInterval(heartbeat);
  }
}
