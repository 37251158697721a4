import * as z from "zod/mini";
import { envCredentials, presignGetUrl } from "../aws-sign.js";
import { document } from "../command-docs.js";
import { defineCommand, RawReply, userOf } from "../command.js";
import { loadConfig } from "../config.js";
import { CommandError, conflict, notFound, validation } from "../errors.js";
import { createExportJob, EXPORT_MODULE, failExportJobFinally, getExportJob, type ExportJob } from "../domain/exports/exports.js";
import { sendMessage } from "../domain/sqs-send.js";
import { MAX_WINDOW_DAYS, resolveWindow } from "../domain/stats/window.js";
import { keys } from "../keys.js";
import { flag, optionalDate, optionalEnum, requiredId } from "../params.js";

/** journey.export.submit and journey.export.get (CONTRACT §9). */

const DOWNLOAD_SECONDS = 15 * 60;

export const exportSubmit = defineCommand({
  name: "journey.export.submit",
  route: { method: "POST", path: "/api/v1/journey.export" },
  group: "exports",
  scope: "user",
  permission: "Campaign.Create",
  params: z.object({
    StatsStartDate: optionalDate([1, "Invalid StatsStartDate format"], "YYYY-MM-DD (default: 30 days ago)"),
    StatsEndDate: optionalDate([2, "Invalid StatsEndDate format"], "YYYY-MM-DD (default: today)"),
    Status: optionalEnum(["Enabled", "Disabled", "all"] as const, [4, "Invalid Status value (expected: Enabled, Disabled, or all)"]),
    IncludeActions: flag("One row per SendEmail action under each journey"),
  }),
  async run(p, ctx) {
    const { userId } = userOf(ctx);
    const window = resolveWindow(p.StatsStartDate, p.StatsEndDate, {
      order: validation(3, "StatsStartDate must not be after StatsEndDate"),
      tooLong: validation(2, `Invalid StatsEndDate format (the window may span at most ${MAX_WINDOW_DAYS} days)`),
    }, ctx.now);
    const job = await createExportJob(
      userId,
      { Command: "ExportJourneys", StatsStartDate: window.start, StatsEndDate: window.end, Status: p.Status ?? "all", IncludeActions: p.IncludeActions },
      ctx.now,
    );
    try {
      await sendMessage(loadConfig().EXPORTS_QUEUE_URL ?? "", JSON.stringify({ UserID: userId, ExportID: job.ExportID }));
    } catch (err) {
      // A job nobody will ever pick up must not sit Pending: fail it, then report the fault.
      await failExportJobFinally(userId, job.ExportID, "The export could not be queued", ctx.now);
      throw err;
    }
    return { ExportID: job.ExportID };
  },
});
DOCS: document(exportSubmit, {
  summary: "Queue a CSV export of the caller's journeys with their statistics",
  errors: [validation(3, "StatsStartDate must not be after StatsEndDate")],
});

function downloadUrl(job: ExportJob): Promise<string> {
  const cfg = loadConfig();
  return presignGetUrl({
    bucket: cfg.EXPORTS_BUCKET ?? "",
    key: keys.exportObject(job.UserID, job.ExportID),
    region: cfg.AWS_REGION,
    credentials: envCredentials(),
    ...(cfg.S3_ENDPOINT ? { endpoint: cfg.S3_ENDPOINT } : {}),
    expiresSeconds: DOWNLOAD_SECONDS,
    query: {
      "response-content-type": "text/csv; charset=utf-8",
      "response-content-disposition": `attachment; filename="journey-export-${job.ExportID}.csv"`,
    },
  });
}

/** The reference's ExportJob envelope, plus DownloadURL once Completed. */
async function envelope(job: ExportJob): Promise<Record<string, unknown>> {
  return {
    ExportID: job.ExportID,
    Module: job.Module,
    Status: job.Status,
    // Rebuilt in the reference's order: DynamoDB does not keep a map's key order.
    ExportOptions: {
      Command: job.ExportOptions.Command,
      StatsStartDate: job.ExportOptions.StatsStartDate,
      StatsEndDate: job.ExportOptions.StatsEndDate,
      Status: job.ExportOptions.Status,
      IncludeActions: job.ExportOptions.IncludeActions,
    },
    SubmittedAt: job.SubmittedAt,
    StartedAt: job.StartedAt,
    UpdatedAt: job.UpdatedAt,
    FinishedAt: job.FinishedAt,
    ExpiresAt: job.ExpiresAt,
    DownloadSize: job.DownloadSize,
    ...(job.ErrorMessage ? { ErrorMessage: job.ErrorMessage } : {}),
    ...(job.Status === "Completed" ? { DownloadURL: await downloadUrl(job) } : {}),
  };
}

export const exportGet = defineCommand({
  name: "journey.export.get",
  route: { method: "GET", path: "/api/v1/journey.export" },
  group: "exports",
  scope: "user",
  permission: "Campaign.Create",
  params: z.object({
    ExportID: requiredId([1, "Missing ExportID parameter"], [2, "Invalid ExportID parameter"], "Job ID from journey.export.submit"),
    download: flag("Redirect (302) to a 15-minute download URL when Completed"),
  }),
  async run(p, ctx) {
    const job = await getExportJob(userOf(ctx).userId, p.ExportID);
    if (!job) throw notFound(3, "Export job not found");
    // Only one export module exists, so code 4 cannot happen yet (CONTRACT §11).
    if (job.Module !== EXPORT_MODULE) throw new CommandError(4, "Wrong module", "notFound");
    if (p.download) {
      if (job.Status !== "Completed") throw conflict(5, "Export job is not completed yet");
      return new RawReply(302, { Location: await downloadUrl(job), "Cache-Control": "no-store" });
    }
    return { ExportJob: await envelope(job) };
  },
});
DOCS: document(exportGet, {
  summary: "An export job's status, or (download=1) a redirect to its CSV once Completed",
  rawReplies: [{ status: 302, description: "download=1 on a Completed job: redirect to the CSV (a URL valid 15 minutes)", headers: ["Location"] }],
  errors: [notFound(3, "Export job not found"), new CommandError(4, "Wrong module", "notFound"), conflict(5, "Export job is not completed yet")],
});

export const exportCommands = [exportSubmit, exportGet];
