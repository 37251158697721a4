import { beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { createUser, firstError, outcome, type TestUser } from "../support/api.js";
import { DAYS, eventSet, statsJourney, type Fixture } from "../support/event-set.js";

/** Submits an export, waits for the worker, and downloads the CSV through the 302. */
async function exportCsv(user: TestUser, params: Record<string, unknown>) {
  const submit = await user.post("/api/v1/journey.export", params);
  expect(submit.status).toBe(200);
  const exportId = Number(submit.body["ExportID"]);
  let job: Record<string, unknown> = {};
  for (let i = 0; i < 100; i++) {
    job = (await user.get("/api/v1/journey.export", { ExportID: exportId })).body["ExportJob"] as Record<string, unknown>;
    if (job["Status"] === "Completed" || job["Status"] === "Failed") break;
    await new Promise((r) => setTimeout(r, 200));
  }
  expect(job["Status"]).toBe("Completed");
  const redirect = await user.get("/api/v1/journey.export", { ExportID: exportId, download: 1 });
  expect(redirect.status).toBe(302);
  const location = redirect.headers.get("location")!;
  const file = await fetch(location);
  expect(file.status).toBe(200);
  expect(file.headers.get("content-type")).toMatch(/^text\/csv/);
  expect(file.headers.get("content-disposition")).toBe(`attachment; filename="journey-export-${exportId}.csv"`);
  const text = await file.text();
  expect(Buffer.byteLength(text)).toBe(job["DownloadSize"]);
  return { exportId, job, text, location };
}

/** RFC 4180 parsing, enough for the test: quoted cells, doubled quotes, CRLF records. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") row.push(cell), (cell = "");
    else if (c === "\r" && text[i + 1] === "\n") row.push(cell), rows.push(row), (row = []), (cell = ""), i++;
    else cell += c;
  }
  return rows;
}

const WINDOW = { StatsStartDate: DAYS[0], StatsEndDate: DAYS[2] };
let user: TestUser;
let f: Fixture;
let quiet: number;

beforeAll(async () => {
  user = await createUser();
  f = await statsJourney(user, '=HYPERLINK("x")');
  await user.post("/api/v1/journey.events", { Events: eventSet(f, "x") });
  await user.get("/api/v1/journey.enable", { JourneyID: f.journeyId });
  quiet = Number((await user.post("/api/v1/journey", { Name: "Quiet, \"quoted\"\nname" })).body["JourneyID"]);
}, 60_000);

describe("journey.export.submit / journey.export.get", () => {
  it("exports every journey with the window's figures, matching the stats reads", async () => {
    const { text, job } = await exportCsv(user, WINDOW);
    expect(job).toMatchObject({
      Module: "JourneyExport",
      Status: "Completed",
      ExportOptions: { Command: "ExportJourneys", StatsStartDate: DAYS[0], StatsEndDate: DAYS[2], Status: "all", IncludeActions: false },
    });
    for (const field of ["SubmittedAt", "StartedAt", "UpdatedAt", "FinishedAt", "ExpiresAt"]) expect(job[field]).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    expect(String(job["DownloadURL"])).toContain("X-Amz-Signature=");
    expect(text.charCodeAt(0)).not.toBe(0xfeff);
    const rows = parseCsv(text);
    expect(rows[0]).toEqual([
      "JourneyID", "JourneyName", "Status", "Trigger", "CreatedAt", "ActiveSubscribers", "TotalSubscribers", "SendCount",
      "DeliveryCount", "OpenCount", "ClickCount", "BounceCount", "UnsubscribeCount", "SpamComplaintCount", "ConversionCount",
      "TotalRevenue", "OpenRate", "ClickRate",
    ]);
    const got = (await user.get("/api/v1/journey", { JourneyID: f.journeyId, StartDate: DAYS[0], EndDate: DAYS[2] })).body;
    const stats = got["JourneyStats"] as Record<string, unknown>;
    const days = stats["AggregatedDaysEmailActions"] as Record<string, number>[];
    const sum = (k: string) => days.reduce((n, d) => n + d[k]!, 0);
    expect(rows[1]).toEqual([
      String(f.journeyId), '\'=HYPERLINK("x")', "Enabled", "Manual", String(got["CreatedAt"]),
      String(stats["ActiveSubscribers"]), String(stats["TotalSubscribers"]),
      String(sum("SendCount")), String(sum("DeliveryCount")), String(sum("OpenCount")), String(sum("ClickCount")),
      String(sum("BounceCount")), String(sum("UnsubscribeCount")), String(sum("SpamComplaintCount")), String(sum("ConversionCount")),
      Number(stats["TotalRevenue"]).toFixed(2), (sum("OpenCount") / sum("SendCount")).toFixed(4), (sum("ClickCount") / sum("SendCount")).toFixed(4),
    ]);
    expect(rows[1]).toEqual([String(f.journeyId), '\'=HYPERLINK("x")', "Enabled", "Manual", String(got["CreatedAt"]), "3", "6", "8", "4", "3", "1", "2", "1", "1", "1", "24.99", "0.3750", "0.1250"]);
    expect(rows[2]![1]).toBe('Quiet, "quoted"\nname');
    expect(rows[2]!.slice(5)).toEqual(["0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0.00", "0.0000", "0.0000"]);
    expect(rows).toHaveLength(3);
    // The raw text guards the formula and quotes per RFC 4180.
    expect(text).toContain(`,"'=HYPERLINK(""x"")",`);
  });

  it("adds one row per SendEmail action with IncludeActions, and filters by Status", async () => {
    const { text } = await exportCsv(user, { ...WINDOW, IncludeActions: "yes", Status: "enabled" });
    const rows = parseCsv(text);
    expect(rows[0]![0]).toBe("RowType");
    expect(rows[0]!.slice(-3)).toEqual(["ActionID", "EmailID", "EmailName"]);
    expect(rows.map((r) => r[0])).toEqual(["RowType", "Journey", "Action", "Action"]);
    const byAction = (await user.get("/api/v1/journey.stats.byaction", { JourneyID: f.journeyId, StartDate: DAYS[0], EndDate: DAYS[2] })).body["Actions"] as Record<string, unknown>[];
    for (const row of rows.slice(2)) {
      const stats = byAction.find((a) => String(a["ActionID"]) === row[19])!["Stats"] as Record<string, number>;
      expect(row.slice(8, 15)).toEqual([stats["SendCount"], stats["DeliveryCount"], stats["OpenCount"], stats["ClickCount"], stats["BounceCount"], stats["UnsubscribeCount"], stats["SpamComplaintCount"]].map(String));
      expect(row[16]).toBe(stats["TotalRevenue"]!.toFixed(2));
      expect(row.slice(20)).toEqual([String(f.emailId), "Welcome"]);
    }
    const disabled = parseCsv((await exportCsv(user, { ...WINDOW, Status: "Disabled" })).text);
    expect(disabled.slice(1).map((r) => r[0])).toEqual([String(quiet)]);
  });

  it.each([
    [{ StatsStartDate: "2026-02-30" }, 1],
    [{ StatsEndDate: "x" }, 2],
    [{ StatsStartDate: "2026-03-02", StatsEndDate: "2026-03-01" }, 3],
    [{ Status: "Paused" }, 4],
  ])("submit answers %j with code %i", async (params, code) => {
    expect(outcome(await user.post("/api/v1/journey.export", params))).toEqual([422, code]);
    expect(outcome(await user.legacy({ Command: "journey.export.submit", ...params }))).toEqual([200, code]);
  });

  it("answers codes 1 and 2 for a missing or invalid ExportID, and 404/3 for another user's job", async () => {
    expect(outcome(await user.get("/api/v1/journey.export", {}))).toEqual([422, 1]);
    expect(outcome(await user.get("/api/v1/journey.export", { ExportID: "0" }))).toEqual([422, 2]);
    const mine = Number((await user.post("/api/v1/journey.export", {})).body["ExportID"]);
    const stranger = await createUser();
    const res = await stranger.get("/api/v1/journey.export", { ExportID: mine });
    expect(outcome(res)).toEqual([404, 3]);
    expect(firstError(res)?.Message).toBe("Export job not found");
    expect(outcome(await stranger.get("/api/v1/journey.export", { ExportID: mine, download: 1 }))).toEqual([404, 3]);
  });

  it("answers 409/5 when a download is asked before the job completes", async () => {
    Object.assign(process.env, inject("stackEnv"));
    const { createExportJob } = await import("../../shared/domain/exports/exports.js");
    // A job nobody has queued stays Pending.
    const job = await createExportJob(user.userId, { Command: "ExportJourneys", StatsStartDate: DAYS[0], StatsEndDate: DAYS[2], Status: "all", IncludeActions: false }, new Date());
    const res = await user.get("/api/v1/journey.export", { ExportID: job.ExportID, download: "1" });
    expect(outcome(res)).toEqual([409, 5]);
    expect(firstError(res)?.Message).toBe("Export job is not completed yet");
    const envelope = (await user.get("/api/v1/journey.export", { ExportID: job.ExportID })).body["ExportJob"] as Record<string, unknown>;
    expect(envelope).toMatchObject({ Status: "Pending", StartedAt: null, FinishedAt: null, DownloadSize: null });
    expect(envelope).not.toHaveProperty("DownloadURL");
  });
});
