import type { LocalStack } from "../infra/local/stack.js";

/**
 * What the sections that talk to the service get: one local stack (DynamoDB
 * Local in memory, fauxqs, the gateway serving the real handlers, and the
 * events-queue poller when the stack has one), shared by every such section.
 */
export interface BenchContext {
  url: string;
  adminKey: string;
  env: Record<string, string>;
}

/** High enough that the limiter never throttles the bench; it still makes its one counter write per request. */
export const BENCH_RATE_LIMIT_PER_MINUTE = 1_000_000;

/**
 * Started on first use, so that the bundle section (which times cold loads)
 * runs before a Java process and a long-polling worker share the machine.
 */
export function lazyStack(): { get(): Promise<BenchContext>; stop(): Promise<void> } {
  let started: Promise<LocalStack> | undefined;
  return {
    async get() {
      started ??= import("../infra/local/stack.js").then(({ startLocalStack }) =>
        startLocalStack({ port: 0, rateLimitPerMinute: BENCH_RATE_LIMIT_PER_MINUTE }),
      );
      const stack = await started;
      // The handlers, the domain code the bench seeds through, and the clients all read this.
      Object.assign(process.env, stack.env);
      return { url: stack.url, adminKey: stack.adminKey, env: stack.env };
    },
    async stop() {
      if (!started) return;
      const stack = await started.catch(() => undefined);
      started = undefined;
      await stack?.stop();
    },
  };
}
