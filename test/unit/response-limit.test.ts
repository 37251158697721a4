import { randomBytes } from "node:crypto";
import * as z from "zod/mini";
import { beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { defineCommand } from "../../shared/command.js";
import { flag, raw } from "../../shared/params.js";
import { LAMBDA_RESPONSE_LIMIT_BYTES, lambdaPayloadBytes } from "../../shared/http/payload-limit.js";
import { buildEvent, lambdaContext, toHttp } from "../../infra/local/gateway.js";
import type { Handler } from "../support/in-process.js";

/**
 * The 6 MB check at its exact edge, on the shared HTTP stack every function runs
 * and on the local gateway. Lambda counts the proxy result as JSON.stringify
 * writes it, so the edge is found by growing a body one byte at a time from a
 * measured baseline. The command is a stand-in defined here: no real command
 * answers a body of a chosen size.
 */
const LIMIT = 6 * 1024 * 1024 + 100;

const big = defineCommand({
  name: "test.big",
  route: { method: "GET", path: "/api/v1/test.big" },
  group: "health",
  scope: "none",
  params: z.object({
    N: raw({ type: "integer" }),
    Quote: flag(),
    Random: flag(),
  }),
  async run(p) {
    const n = Number(p.N);
    // Random base64 barely compresses: it stays too large even gzipped.
    const pad = p.Random ? randomBytes(Math.ceil((n * 3) / 4)).toString("base64").slice(0, n) : (p.Quote ? '"' : "x").repeat(n);
    return { Pad: pad };
  },
});

let handler: Handler;
const call = async (query: Record<string, string | number>, headers: Record<string, string> = {}) => {
  const rawQuery = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)])).toString();
  return handler(buildEvent({ method: "GET", path: "/api/v1/test.big", rawQuery, routeKey: "GET /api/v1/test.big", headers }), lambdaContext("test"));
};
const errorOf = (r: { body?: string }) => (JSON.parse(r.body ?? "{}") as { Errors?: { Code: number; Message: string }[] }).Errors?.[0];

beforeAll(async () => {
  Object.assign(process.env, inject("stackEnv"));
  const { httpHandler } = await import("../../shared/http/lambda.js");
  handler = httpHandler([big], "v1");
});

describe("the shared HTTP stack's response limit", () => {
  it("is Lambda's: 6 MiB + 100 bytes", () => {
    expect(LAMBDA_RESPONSE_LIMIT_BYTES).toBe(LIMIT);
  });

  it("answers a result of exactly the limit, and 413 / 99997 one byte over", async () => {
    const base = lambdaPayloadBytes(await call({ N: 0 }));
    const atLimit = await call({ N: LIMIT - base });
    expect(atLimit.statusCode).toBe(200);
    expect(lambdaPayloadBytes(atLimit)).toBe(LIMIT);
    const over = await call({ N: LIMIT - base + 1 });
    expect(over.statusCode).toBe(413);
    expect(errorOf(over)?.Code).toBe(99997);
    expect(errorOf(over)?.Message).toContain(`${LIMIT + 1} bytes`);
    expect(errorOf(over)?.Message).toContain("Accept-Encoding: gzip");
  });

  it("counts the body as Lambda serialises it: a quote costs four bytes, not one", async () => {
    // About 1.6 M quotes: a 3.2 MB body, but over 6 MB once escaped twice (in the body's JSON, then in the result's).
    const res = await call({ N: 1_600_000, Quote: 1 });
    expect(res.statusCode).toBe(413);
  });

  it("sends a body too large plain gzipped to a client that accepts gzip", async () => {
    const res = await call({ N: 10_000_000 }, { "accept-encoding": "gzip, deflate" });
    expect(res.statusCode).toBe(200);
    expect(res.headers?.["Content-Encoding"]).toBe("gzip");
    expect(lambdaPayloadBytes(res)).toBeLessThan(LIMIT);
  });

  it("answers 413 when the body does not fit even gzipped, and does not suggest gzip", async () => {
    const res = await call({ N: 7_000_000, Random: 1 }, { "accept-encoding": "gzip" });
    expect(res.statusCode).toBe(413);
    expect(errorOf(res)?.Code).toBe(99997);
    expect(errorOf(res)?.Message).toContain("even gzipped");
    expect(errorOf(res)?.Message).not.toContain("Accept-Encoding");
  });
});

describe("the local gateway's response limit", () => {
  const result = (n: number) => ({ statusCode: 200, headers: { "Content-Type": "application/json" }, body: "x".repeat(n) });
  const base = lambdaPayloadBytes(result(0));

  it("delivers a result of exactly the limit", () => {
    const reply = toHttp(result(LIMIT - base));
    expect(reply.status).toBe(200);
    expect(reply.body.length).toBe(LIMIT - base);
  });

  it("fails one byte over as API Gateway does, with its own 500 and not the API's envelope", () => {
    const reply = toHttp(result(LIMIT - base + 1));
    expect(reply.status).toBe(500);
    expect(JSON.parse(reply.body.toString("utf8"))).toEqual({ message: "Internal Server Error" });
  });
});
