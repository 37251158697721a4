import { lambdaContext } from "./gateway.js";

/**
 * The local stand-in for the sweeper's EventBridge Scheduler schedule: the deployed
 * handler, invoked every LOCAL_SWEEP_MS instead of every minute (ENGINE §9), one
 * run at a time, as the function's reserved concurrency of 1 makes it on AWS.
 */
export function startSweeper(everyMs: number): { stop(): Promise<void> } {
  let running: Promise<unknown> | undefined;
  let stopped = false;
  const tick = () => {
    if (running || stopped) return;
    running = import("../../functions/sweeper/index.js")
      .then((m) => m.handler({}, lambdaContext("journey-api-sweeper")))
      .catch((err: unknown) => console.error(JSON.stringify({ level: "error", msg: "local sweeper run failed", error: String(err) })))
      .finally(() => (running = undefined));
  };
  const timer = setInterval(tick, Math.max(100, everyMs));
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
