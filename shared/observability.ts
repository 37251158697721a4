import { Logger } from "@aws-lambda-powertools/logger";
import type { MiddlewareObj } from "@middy/core";

/**
 * The one logger and the one metrics sink of every function. The logger is
 * Powertools for AWS Lambda's; log level and service name come from the
 * environment (POWERTOOLS_LOG_LEVEL, POWERTOOLS_SERVICE_NAME). Metrics are
 * CloudWatch EMF lines in one namespace, flushed at the end of each invocation by
 * the small writer below (docs/architecture.md: Powertools Metrics cost 10.7 KB of
 * every bundle and put /api.php over its size budget).
 *
 * Nothing here takes a request, a body or parameters: callers pass the few
 * fields worth logging, so a credential cannot reach a log by accident.
 */
export const SERVICE = "journey-api";
export const METRICS_NAMESPACE = "JourneyApi";

/** The units this service's metrics use (CloudWatch's names). */
export type MetricUnit = "Count" | "Bytes" | "Milliseconds";

/** CloudWatch EMF's limit of values per metric in one record; a record is flushed before a metric passes it. */
const MAX_VALUES = 100;

/**
 * What an invocation counted, written as one CloudWatch embedded-metric-format
 * line by `flush()`, as Powertools Metrics writes it: the `service` dimension plus
 * any added ones, each metric's value (an array if it was counted more than once),
 * and nothing at all when nothing was counted. Reads the variables Powertools
 * Metrics reads: POWERTOOLS_METRICS_NAMESPACE and POWERTOOLS_METRICS_DISABLED
 * (the local stack sets it: the records would bury the request lines).
 */
export class EmfMetrics {
  private readonly namespace = process.env["POWERTOOLS_METRICS_NAMESPACE"] || METRICS_NAMESPACE;
  private readonly disabled = /^(1|true|yes|on)$/i.test(process.env["POWERTOOLS_METRICS_DISABLED"] ?? "");
  private values = new Map<string, { unit: MetricUnit; values: number[] }>();
  private dimensions: Record<string, string> = {};

  addDimensions(dimensions: Record<string, string>): void {
    Object.assign(this.dimensions, dimensions);
  }

  addMetric(name: string, unit: MetricUnit, value: number): void {
    if ((this.values.get(name)?.values.length ?? 0) >= MAX_VALUES) this.flush();
    const metric = this.values.get(name) ?? { unit, values: [] };
    metric.values.push(value);
    this.values.set(name, metric);
  }

  /** Writes what was counted (unless disabled) and starts over, dimensions included. */
  flush(): void {
    const counted = [...this.values];
    const dimensions = { service: SERVICE, ...this.dimensions };
    this.values = new Map();
    this.dimensions = {};
    if (this.disabled || counted.length === 0) return;
    const record = {
      _aws: {
        Timestamp: Date.now(),
        CloudWatchMetrics: [
          {
            Namespace: this.namespace,
            Dimensions: [Object.keys(dimensions)],
            Metrics: counted.map(([Name, { unit }]) => ({ Name, Unit: unit })),
          },
        ],
      },
      ...dimensions,
      ...Object.fromEntries(counted.map(([name, { values }]) => [name, values.length === 1 ? values[0] : values])),
    };
    process.stdout.write(`${JSON.stringify(record)}\n`);
  }
}

/**
 * Built on first use, not at import: the CDK app and the local stack import the
 * command registry (and so this module) before a function's environment is set,
 * and the logger and the metrics read their settings (log level, metrics
 * disabled) when built.
 */
let log: Logger | undefined;
let sink: EmfMetrics | undefined;
export const logger = (): Logger => (log ??= new Logger({ serviceName: SERVICE }));
export const metrics = (): EmfMetrics => (sink ??= new EmfMetrics());

/**
 * Flushes the invocation's metrics when the handler returns or throws. Used right
 * after the logger's middleware, so it runs after every other middleware's
 * `after` and `onError` (middy runs those in reverse) and sees all they counted.
 */
export function flushMetrics<E, R>(): MiddlewareObj<E, R> {
  const flush = () => {
    metrics().flush();
    for (const sink of byDimensions.values()) sink.flush();
    byDimensions.clear();
  };
  return { name: "journey-api-metrics", after: flush, onError: flush };
}

/**
 * Metrics with dimensions of their own (the engine's StepsExecuted by Action and
 * Outcome, enrolments by Reason): one record per dimension set, flushed with the
 * invocation's other metrics.
 */
const byDimensions = new Map<string, EmfMetrics>();
export function countBy(dimensions: Record<string, string>, name: string, unit: MetricUnit, value: number): void {
  const key = JSON.stringify(dimensions);
  let sink = byDimensions.get(key);
  if (!sink) {
    sink = new EmfMetrics();
    byDimensions.set(key, sink);
  }
  sink.addDimensions(dimensions);
  sink.addMetric(name, unit, value);
}

/** The error of an unexpected fault, as a log field: name, message and stack, nothing else. */
export function faultOf(err: unknown): { name: string; message: string; stack?: string } | string {
  return err instanceof Error ? { name: err.name, message: err.message, ...(err.stack ? { stack: err.stack } : {}) } : String(err);
}

/** What journey.events.ingest and the events worker count, per call or message. */
export function countIngest(result: { Accepted: number; Duplicates: number; Rejected: readonly unknown[] }): void {
  metrics().addMetric("EventsAccepted", "Count", result.Accepted);
  metrics().addMetric("EventsDuplicated", "Count", result.Duplicates);
  metrics().addMetric("EventsRejected", "Count", result.Rejected.length);
}

/**
 * One export attempt: what it wrote and how long it took; or that it failed (and
 * will be retried, or failed the job on its last try); or that the DLQ consumer
 * gave a job up after every try crashed.
 */
export function countExport(outcome: { rows: number; bytes: number; ms: number } | "failed" | "gave up"): void {
  if (outcome === "failed" || outcome === "gave up") {
    metrics().addMetric(outcome === "failed" ? "ExportFailures" : "ExportsAbandoned", "Count", 1);
    return;
  }
  metrics().addMetric("ExportRows", "Count", outcome.rows);
  metrics().addMetric("ExportBytes", "Bytes", outcome.bytes);
  metrics().addMetric("ExportDuration", "Milliseconds", outcome.ms);
}

export interface RequestLine {
  command?: string;
  route: string;
  status: number;
  errorCode?: number;
  durationMs: number;
  userId?: number;
}

/**
 * The one line per HTTP request, and its metrics: requests and errors by command
 * and status class, and rate-limited calls. Locally (`npm start`, LOG_FORMAT=text)
 * the line is short and readable instead of JSON.
 */
export function logRequest(line: RequestLine, textFormat: boolean): void {
  const statusClass = `${Math.floor(line.status / 100)}xx`;
  const command = line.command ?? "unknown";
  metrics().addDimensions({ command, statusClass });
  metrics().addMetric("Requests", "Count", 1);
  // /api.php answers errors with HTTP 200, so an error is whatever carries an error code.
  metrics().addMetric("Errors", "Count", line.errorCode !== undefined || line.status >= 500 ? 1 : 0);
  if (line.status === 429) metrics().addMetric("RateLimited", "Count", 1);

  if (textFormat) {
    const who = line.userId !== undefined ? ` user=${line.userId}` : "";
    const code = line.errorCode !== undefined ? ` error=${line.errorCode}` : "";
    process.stdout.write(`${line.status} ${line.route} ${command}${code}${who} ${line.durationMs}ms\n`);
    return;
  }
  const level = line.status >= 500 ? "error" : "info";
  logger()[level]("request", { ...line });
}
