import { median } from "./stats.js";

/**
 * Counts the ingest core's DynamoDB transactions, as a middleware on the
 * handlers' own document client (the gateway and the local poller run the
 * handlers in this process): how many attempts it took to apply the events and
 * why attempts were cancelled. Installed only around a measurement.
 */
export interface TxStats {
  attempts: number;
  committed: number;
  /** Cancelled because another transaction held one of the items (retried after a back-off). */
  conflicts: number;
  /** Cancelled only by a guard or marker condition (retried at once without the guard, or a duplicate). */
  conditions: number;
  /** Which conditions failed, by ConditionExpression. */
  failedConditions: Record<string, number>;
  otherErrors: Record<string, number>;
  /** Median time of one TransactWriteItems call, committed or not. */
  medianMs: number;
  /** Other DynamoDB calls the handlers made (reads, the rate-limit counter). */
  otherCalls: number;
}

export interface TxTracer {
  reset(): void;
  stats(): TxStats;
  /**
   * Resolves once no transaction has been in flight for `ms`. The local gateway's
   * 29 s timeout answers the client but, unlike Lambda, does not stop the handler,
   * whose remaining work would otherwise leak into the next measurement.
   */
  quiet(ms: number, capMs?: number): Promise<void>;
  stop(): void;
}

export async function traceTransactions(): Promise<TxTracer> {
  const { ddb } = await import("../shared/aws.js");
  const client = ddb();
  const NAME = "bench-tx-trace";
  let s = {
    attempts: 0,
    committed: 0,
    conflicts: 0,
    conditions: 0,
    failedConditions: {} as Record<string, number>,
    otherErrors: {} as Record<string, number>,
    times: [] as number[],
    otherCalls: 0,
  };
  const reset = () => {
    s = { attempts: 0, committed: 0, conflicts: 0, conditions: 0, failedConditions: {}, otherErrors: {}, times: [], otherCalls: 0 };
  };
  let inFlight = 0;
  let lastEnd = performance.now();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (!String(context.commandName).startsWith("TransactWrite")) {
        s.otherCalls++;
        return next(args);
      }
      const t0 = performance.now();
      s.attempts++;
      inFlight++;
      try {
        const out = await next(args);
        s.committed++;
        return out;
      } catch (err) {
        const name = (err as { name?: string }).name ?? "Error";
        const reasons = (err as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
        if (name === "TransactionCanceledException" && reasons.some((r) => r.Code && r.Code !== "None" && r.Code !== "ConditionalCheckFailed")) {
          s.conflicts++;
        } else if (name === "TransactionCanceledException") {
          s.conditions++;
          const items = (args.input as { TransactItems?: Record<string, { ConditionExpression?: string }>[] }).TransactItems ?? [];
          reasons.forEach((r, i) => {
            if (r.Code !== "ConditionalCheckFailed") return;
            const expr = Object.values(items[i] ?? {})[0]?.ConditionExpression ?? "?";
            s.failedConditions[expr] = (s.failedConditions[expr] ?? 0) + 1;
          });
        } else {
          s.otherErrors[name] = (s.otherErrors[name] ?? 0) + 1;
        }
        throw err;
      } finally {
        inFlight--;
        lastEnd = performance.now();
        s.times.push(lastEnd - t0);
      }
    },
    { step: "initialize", name: NAME },
  );
  return {
    reset,
    stats: () => ({
      attempts: s.attempts,
      committed: s.committed,
      conflicts: s.conflicts,
      conditions: s.conditions,
      failedConditions: { ...s.failedConditions },
      otherErrors: { ...s.otherErrors },
      medianMs: s.times.length ? median(s.times) : 0,
      otherCalls: s.otherCalls,
    }),
    async quiet(ms: number, capMs = 180_000) {
      const deadline = performance.now() + capMs;
      while (performance.now() < deadline && (inFlight > 0 || performance.now() - lastEnd < ms)) {
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    stop: () => void client.middlewareStack.remove(NAME),
  };
}

export function describeTx(label: string, events: number, t: TxStats): string[] {
  const other = Object.entries(t.otherErrors).map(([k, v]) => `${k} ${v}`).join(", ");
  const conditions = Object.entries(t.failedConditions)
    .sort(([, a], [, b]) => b - a)
    .map(([expr, n]) => `      ${String(n).padStart(6)} × ${expr}`);
  return [
    `  ${label}: ${t.attempts} TransactWriteItems for ${events} events (${(t.attempts / Math.max(events, 1)).toFixed(2)} per event): ` +
    `${t.committed} committed, ${t.conflicts} cancelled by a conflict (back-off and retry), ${t.conditions} by a guard/marker condition` +
    `${other ? `, errors: ${other}` : ""}; median ${t.medianMs.toFixed(1)} ms per call; ${t.otherCalls} other DynamoDB calls`,
    ...(conditions.length ? ["    failed conditions:", ...conditions] : []),
  ];
}
