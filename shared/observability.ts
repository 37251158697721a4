import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";

/**
 * The one logger and the one metrics sink of every function (Powertools for AWS
 * Lambda). Log level and service name come from the environment
 * (POWERTOOLS_LOG_LEVEL, POWERTOOLS_SERVICE_NAME); metrics are CloudWatch EMF
 * lines in one namespace, flushed at the end of each invocation.
 *
 * Nothing here takes a request, a body or parameters: callers pass the few
 * fields worth logging, so a credential cannot reach a log by accident.
 */
export const SERVICE = "journey-api";
export const METRICS_NAMESPACE = "JourneyApi";

/**
 * Built on first use, not at import: the CDK app and the local stack import the
 * command registry (and so this module) before a function's environment is set,
 * and Powertools reads its settings (log level, metrics disabled) when built.
 */
let log: Logger | undefined;
let sink: Metrics | undefined;
export const logger = (): Logger => (log ??= new Logger({ serviceName: SERVICE }));
export const metrics = (): Metrics => (sink ??= new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE }));

/** The error of an unexpected fault, as a log field: name, message and stack, nothing else. */
export function faultOf(err: unknown): { name: string; message: string; stack?: string } | string {
  return err instanceof Error ? { name: err.name, message: err.message, ...(err.stack ? { stack: err.stack } : {}) } : String(err);
}

/** What journey.events.ingest and the events worker count, per call or message. */
export function countIngest(result: { Accepted: number; Duplicates: number; Rejected: readonly unknown[] }): void {
  metrics().addMetric("EventsAccepted", MetricUnit.Count, result.Accepted);
  metrics().addMetric("EventsDuplicated", MetricUnit.Count, result.Duplicates);
  metrics().addMetric("EventsRejected", MetricUnit.Count, result.Rejected.length);
}

/**
 * One export attempt: what it wrote and how long it took; or that it failed (and
 * will be retried, or failed the job on its last try); or that the DLQ consumer
 * gave a job up after every try crashed.
 */
export function countExport(outcome: { rows: number; bytes: number; ms: number } | "failed" | "gave up"): void {
  if (outcome === "failed" || outcome === "gave up") {
    metrics().addMetric(outcome === "failed" ? "ExportFailures" : "ExportsAbandoned", MetricUnit.Count, 1);
    return;
  }
  metrics().addMetric("ExportRows", MetricUnit.Count, outcome.rows);
  metrics().addMetric("ExportBytes", MetricUnit.Bytes, outcome.bytes);
  metrics().addMetric("ExportDuration", MetricUnit.Milliseconds, outcome.ms);
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
  metrics().addMetric("Requests", MetricUnit.Count, 1);
  // /api.php answers errors with HTTP 200, so an error is whatever carries an error code.
  metrics().addMetric("Errors", MetricUnit.Count, line.errorCode !== undefined || line.status >= 500 ? 1 : 0);
  if (line.status === 429) metrics().addMetric("RateLimited", MetricUnit.Count, 1);

  if (textFormat) {
    const who = line.userId !== undefined ? ` user=${line.userId}` : "";
    const code = line.errorCode !== undefined ? ` error=${line.errorCode}` : "";
    process.stdout.write(`${line.status} ${line.route} ${command}${code}${who} ${line.durationMs}ms\n`);
    return;
  }
  const level = line.status >= 500 ? "error" : "info";
  logger()[level]("request", { ...line });
}
