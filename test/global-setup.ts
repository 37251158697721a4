import type { TestProject } from "vitest/node";
import { startLocalStack, type LocalStack } from "../infra/local/stack.js";

/**
 * One local stack for the whole run, exactly as `npm start` builds it, but in
 * memory and on free ports. Tests reach it only through HTTP.
 */
declare module "vitest" {
  export interface ProvidedContext {
    baseUrl: string;
    adminKey: string;
    sessionTtlSeconds: number;
    rateLimit: number;
    stackEnv: Record<string, string>;
  }
}

let stack: LocalStack | undefined;

export const SESSION_TTL_SECONDS = 3;
export const RATE_LIMIT = 100;

export default async function setup(project: TestProject) {
  stack = await startLocalStack({
    port: 0,
    rateLimitPerMinute: RATE_LIMIT,
    // Short enough for the expiry test to observe code 99999 without a clock mock.
    sessionTtlSeconds: SESSION_TTL_SECONDS,
    adminKey: "test-admin-key-0123456789abcdef",
    // One line per request would drown the test output; faults still log.
    logLevel: "WARN",
  });
  project.provide("baseUrl", stack.url);
  project.provide("adminKey", stack.adminKey);
  project.provide("sessionTtlSeconds", SESSION_TTL_SECONDS);
  project.provide("rateLimit", RATE_LIMIT);
  project.provide("stackEnv", stack.env);
  return async () => {
    await stack?.stop();
  };
}
