import { beforeEach, describe, expect, it, vi } from "vitest";
import { EmfMetrics } from "../../shared/observability.js";

/** The EMF writer (shared/observability.ts): the records Powertools Metrics wrote, in the lines CloudWatch reads. */
function records(fn: () => void): Record<string, unknown>[] {
  const lines: string[] = [];
  vi.spyOn(process.stdout, "write").mockImplementation(((chunk: string) => lines.push(chunk)) as never);
  try {
    fn();
  } finally {
    vi.restoreAllMocks();
  }
  return lines.join("").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

// The test run's environment may turn metrics off, as the local stack does.
beforeEach(() => {
  process.env["POWERTOOLS_METRICS_DISABLED"] = "false";
  delete process.env["POWERTOOLS_METRICS_NAMESPACE"];
});

describe("EMF metrics", () => {
  it("write one record per flush: namespace, service plus added dimensions, each metric's unit and value", () => {
    const m = new EmfMetrics();
    const [r] = records(() => {
      m.addMetric("EventsAccepted", "Count", 3);
      m.addDimensions({ command: "journey.events.ingest", statusClass: "2xx" });
      m.addMetric("Requests", "Count", 1);
      m.addMetric("ExportDuration", "Milliseconds", 12);
      m.flush();
    });
    expect(r).toEqual({
      _aws: {
        Timestamp: expect.any(Number),
        CloudWatchMetrics: [
          {
            Namespace: "JourneyApi",
            Dimensions: [["service", "command", "statusClass"]],
            Metrics: [
              { Name: "EventsAccepted", Unit: "Count" },
              { Name: "Requests", Unit: "Count" },
              { Name: "ExportDuration", Unit: "Milliseconds" },
            ],
          },
        ],
      },
      service: "journey-api",
      command: "journey.events.ingest",
      statusClass: "2xx",
      EventsAccepted: 3,
      Requests: 1,
      ExportDuration: 12,
    });
  });

  it("keep every value of a metric counted more than once, and start over after a flush (dimensions too)", () => {
    const m = new EmfMetrics();
    const out = records(() => {
      m.addDimensions({ command: "x" });
      m.addMetric("EventsAccepted", "Count", 1);
      m.addMetric("EventsAccepted", "Count", 4);
      m.flush();
      m.addMetric("ExportRows", "Count", 7);
      m.flush();
      m.flush();
    });
    expect(out).toHaveLength(2);
    expect(out[0]).toMatchObject({ EventsAccepted: [1, 4], command: "x" });
    expect((out[1]!["_aws"] as { CloudWatchMetrics: { Dimensions: string[][] }[] }).CloudWatchMetrics[0]!.Dimensions).toEqual([["service"]]);
    expect(out[1]).not.toHaveProperty("command");
    expect(out[1]).toMatchObject({ ExportRows: 7 });
  });

  it("flush before a metric passes EMF's 100 values", () => {
    const m = new EmfMetrics();
    const out = records(() => {
      for (let i = 0; i < 150; i++) m.addMetric("EventsAccepted", "Count", i);
      m.flush();
    });
    expect(out.map((r) => (r["EventsAccepted"] as number[]).length)).toEqual([100, 50]);
  });

  it("write nothing when POWERTOOLS_METRICS_DISABLED is true, and honour POWERTOOLS_METRICS_NAMESPACE", () => {
    process.env["POWERTOOLS_METRICS_DISABLED"] = "true";
    const off = new EmfMetrics();
    expect(records(() => (off.addMetric("Requests", "Count", 1), off.flush()))).toEqual([]);
    process.env["POWERTOOLS_METRICS_DISABLED"] = "false";
    process.env["POWERTOOLS_METRICS_NAMESPACE"] = "Other";
    const other = new EmfMetrics();
    const [r] = records(() => (other.addMetric("Requests", "Count", 1), other.flush()));
    expect((r!["_aws"] as { CloudWatchMetrics: { Namespace: string }[] }).CloudWatchMetrics[0]!.Namespace).toBe("Other");
  });
});
