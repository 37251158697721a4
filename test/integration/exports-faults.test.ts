import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { inject } from "vitest";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { createJourney, createUser, type TestUser } from "../support/api.js";
import { captureLogs } from "../support/logs.js";

/**
 * Export faults, with the real worker module run in this process against the
 * local DynamoDB and S3 emulator. S3 faults are injected through the upload's fault hook.
 */
type Worker = (e: SQSEvent) => Promise<SQSBatchResponse>;
let worker: Worker;
let dlq: (e: SQSEvent) => Promise<SQSBatchResponse>;
let s3Faults: typeof import("../../shared/s3-upload.js").s3Faults;
let exports: typeof import("../../shared/domain/exports/exports.js");

beforeAll(async () => {
  Object.assign(process.env, inject("stackEnv"));
  ({ handler: worker } = (await import("../../functions/export-worker/index.js")) as { handler: Worker });
  ({ handler: dlq } = (await import("../../functions/export-dlq/index.js")) as { handler: (e: SQSEvent) => Promise<SQSBatchResponse> });
  ({ s3Faults } = await import("../../shared/s3-upload.js"));
  exports = await import("../../shared/domain/exports/exports.js");
});

afterEach(() => {
  delete s3Faults.before;
  vi.restoreAllMocks();
});

/** Makes the next `times` S3 operations named in `operations` fail (past their retries). */
function failS3(operations: string[], times: number) {
  let left = times;
  s3Faults.before = (operation) => {
    if (operations.includes(operation) && left > 0) {
      left--;
      throw Object.assign(new Error("injected S3 fault"), { name: "InternalError" });
    }
  };
}

const record = (userId: number, exportId: number, receiveCount: number): SQSEvent => ({
  Records: [
    {
      messageId: `m-${exportId}-${receiveCount}`,
      receiptHandle: "r",
      body: JSON.stringify({ UserID: userId, ExportID: exportId }),
      attributes: {
        ApproximateReceiveCount: String(receiveCount),
        SentTimestamp: String(Date.now()),
        SenderId: "local",
        ApproximateFirstReceiveTimestamp: String(Date.now()),
      },
      messageAttributes: {},
      md5OfBody: "",
      eventSource: "aws:sqs",
      eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:journey-exports",
      awsRegion: "us-east-1",
    },
  ],
});

async function job(user: TestUser) {
  await createJourney(user, { Name: "One" });
  await createJourney(user, { Name: "Two" });
  return exports.createExportJob(
    user.userId,
    { Command: "ExportJourneys", StatsStartDate: "2026-03-01", StatsEndDate: "2026-03-03", Status: "all", IncludeActions: false },
    new Date(),
  );
}

async function download(user: TestUser, exportId: number) {
  const res = await user.get("/api/v1/journey.export", { ExportID: exportId, download: 1 });
  expect(res.status).toBe(302);
  return (await fetch(res.headers.get("location")!)).text();
}

describe("export faults", () => {
  it("retries after S3 fails mid-upload and completes with no duplicate rows", async () => {
    captureLogs();
    const user = await createUser();
    const j = await job(user);
    failS3(["PutObject", "UploadPart", "CreateMultipartUpload"], 1);
    expect((await worker(record(user.userId, j.ExportID, 1))).batchItemFailures).toHaveLength(1);
    expect((await exports.getExportJob(user.userId, j.ExportID))?.Status).toBe("Pending");
    expect((await worker(record(user.userId, j.ExportID, 2))).batchItemFailures).toEqual([]);
    const done = await exports.getExportJob(user.userId, j.ExportID);
    expect(done).toMatchObject({ Status: "Completed", Attempts: 2 });
    const lines = (await download(user, j.ExportID)).trim().split("\r\n");
    expect(lines).toHaveLength(3);
    expect(new Set(lines).size).toBe(3);
  });

  it("marks the job Failed with an ErrorMessage after the last attempt, and the DLQ consumer fails jobs left behind", async () => {
    captureLogs();
    const user = await createUser();
    const j = await job(user);
    const max = Number(inject("stackEnv")["EXPORT_MAX_ATTEMPTS"]);
    failS3(["PutObject", "UploadPart", "CreateMultipartUpload"], 100);
    expect((await worker(record(user.userId, j.ExportID, max))).batchItemFailures).toHaveLength(1);
    const failed = await exports.getExportJob(user.userId, j.ExportID);
    expect(failed?.Status).toBe("Failed");
    expect(failed?.ErrorMessage).toMatch(/failed/);
    const envelope = (await user.get("/api/v1/journey.export", { ExportID: j.ExportID })).body["ExportJob"] as Record<string, unknown>;
    expect(envelope).toMatchObject({ Status: "Failed" });
    expect((await user.get("/api/v1/journey.export", { ExportID: j.ExportID, download: 1 })).status).toBe(409);

    // A worker that crashed on its last attempt never marked its job; the DLQ consumer does.
    const stuck = await job(user);
    await exports.claimExportJob(user.userId, stuck.ExportID, 3600, new Date());
    await dlq(record(user.userId, stuck.ExportID, max + 1));
    expect((await exports.getExportJob(user.userId, stuck.ExportID))?.Status).toBe("Failed");
  });

  it("re-claims a job whose worker was killed after its claim, once the lease runs out", async () => {
    const user = await createUser();
    const j = await job(user);
    const claimed = await exports.claimExportJob(user.userId, j.ExportID, 1, new Date());
    expect(claimed.ok).toBe(true);
    // While the lease is live, a redelivery leaves the job alone and asks to be retried.
    expect((await worker(record(user.userId, j.ExportID, 2))).batchItemFailures).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await worker(record(user.userId, j.ExportID, 3))).batchItemFailures).toEqual([]);
    expect(await exports.getExportJob(user.userId, j.ExportID)).toMatchObject({ Status: "Completed", Attempts: 2 });
  });

  it("turns the same message delivered twice into one file", async () => {
    const user = await createUser();
    const j = await job(user);
    expect((await worker(record(user.userId, j.ExportID, 1))).batchItemFailures).toEqual([]);
    const first = await exports.getExportJob(user.userId, j.ExportID);
    const text = await download(user, j.ExportID);
    expect((await worker(record(user.userId, j.ExportID, 1))).batchItemFailures).toEqual([]);
    const second = await exports.getExportJob(user.userId, j.ExportID);
    expect(second).toEqual(first);
    expect(await download(user, j.ExportID)).toBe(text);
  });
});

