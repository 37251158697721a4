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
  otherErrors: Record<string, number>;
  /** Median time of one TransactWriteItems call, committed or not. */
  medianMs: number;
  /** Other DynamoDB calls the handlers made (reads, the rate-limit counter). */
  otherCalls: number;
}

export async function traceTransactions(): Promise<{ reset(): void; stats(): TxStats; stop(): void }> {
  const { ddb } = await import("../shared/aws.js");
  const client = ddb();
  const NAME = "bench-tx-trace";
  let s = { attempts: 0, committed: 0, conflicts: 0, conditions: 0, otherErrors: {} as Record<string, number>, times: [] as number[], otherCalls: 0 };
  const reset = () => {
    s = { attempts: 0, committed: 0, conflicts: 0, conditions: 0, otherErrors: {}, times: [], otherCalls: 0 };
  };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (!String(context.commandName).startsWith("TransactWrite")) {
        s.otherCalls++;
        return next(args);
      }
      const t0 = performance.now();
      s.attempts++;
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
          if (process.env["BENCH_TX_DEBUG"]) {
            const items = (args.input as { TransactItems?: Record<string, { ConditionExpression?: string }>[] }).TransactItems ?? [];
            reasons.forEach((r, i) => {
              if (r.Code === "ConditionalCheckFailed") {
                const it = items[i] ?? {};
                const op = Object.values(it)[0];
                console.log("guard failed:", op?.ConditionExpression);
              }
            });
          }
        } else {
          s.otherErrors[name] = (s.otherErrors[name] ?? 0) + 1;
        }
        throw err;
      } finally {
        s.times.push(performance.now() - t0);
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
      otherErrors: { ...s.otherErrors },
      medianMs: s.times.length ? median(s.times) : 0,
      otherCalls: s.otherCalls,
    }),
    stop: () => void client.middlewareStack.remove(NAME),
  };
}

export function describeTx(label: string, events: number, t: TxStats): string {
  const other = Object.entries(t.otherErrors).map(([k, v]) => `${k} ${v}`).join(", ");
  return (
    `  ${label}: ${t.attempts} TransactWriteItems for ${events} events (${(t.attempts / Math.max(events, 1)).toFixed(2)} per event): ` +
    `${t.committed} committed, ${t.conflicts} cancelled by a conflict (back-off and retry), ${t.conditions} by a guard/marker condition` +
    `${other ? `, errors: ${other}` : ""}; median ${t.medianMs.toFixed(1)} ms per call; ${t.otherCalls} other DynamoDB calls`
  );
}
