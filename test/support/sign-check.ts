import type { HttpRequest } from "@smithy/types";
import { expect } from "vitest";
import { signRequest, type Credentials } from "../../shared/aws-sign.js";

/**
 * Signs the request an SDK client built (its method, URL, unsigned headers and body)
 * with shared/aws-sign.ts at the client's own signing time, and expects the client's
 * Authorization. Returns our headers for further checks.
 */
export async function expectSdkAuthorization(
  sdk: HttpRequest,
  opts: { service: string; region: string; credentials: Credentials; uriEscapePath?: boolean },
): Promise<Record<string, string>> {
  const date = sdk.headers["x-amz-date"]!;
  const signingDate = new Date(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`);
  const unsigned = Object.fromEntries(
    Object.entries(sdk.headers).filter(([k]) => !["authorization", "x-amz-date", "x-amz-security-token", "host"].includes(k.toLowerCase())),
  );
  const url = new URL(`${sdk.protocol}//${sdk.hostname}${sdk.port ? `:${sdk.port}` : ""}${sdk.path}`);
  for (const [k, v] of Object.entries(sdk.query ?? {})) url.searchParams.set(k, String(v));
  const ours = await signRequest({
    method: sdk.method,
    url,
    headers: unsigned,
    body: typeof sdk.body === "string" ? sdk.body : (sdk.body as Uint8Array),
    service: opts.service,
    region: opts.region,
    credentials: opts.credentials,
    now: signingDate,
    ...(opts.uriEscapePath === undefined ? {} : { uriEscapePath: opts.uriEscapePath }),
  });
  expect(ours["authorization"]).toBe(sdk.headers["authorization"]);
  return ours;
}
