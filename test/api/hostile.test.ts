import { describe, expect, it } from "vitest";
import { commands } from "../../shared/registry.js";
import { canonicalNames } from "../../shared/http/validate.js";
import { adminKey, createJourney, createUser, http, type ApiResponse } from "../support/api.js";

/**
 * Hostile input on every command of the registry: huge strings, objects where
 * scalars belong, unicode, negative and absurd numbers. The service must answer
 * with a documented envelope, never a 5xx.
 */
const HOSTILE: unknown[] = [
  "x".repeat(100 * 1024),
  { $gt: "", nested: { deep: [1, 2, 3] } },
  [1, "two", { three: 3 }],
  "💥 \u0000 \u202e مرحبا 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
  -1,
  1e308,
  true,
  "1 OR 1=1; DROP TABLE journeys",
];

async function send(def: (typeof commands)[number], params: Record<string, unknown>, auth: Record<string, string>): Promise<ApiResponse[]> {
  // Every command is reachable through /api.php with a JSON body, which carries any value.
  const legacy = http.raw("POST", "/api.php", JSON.stringify({ Command: def.name, ...params, ...auth }), { "content-type": "application/json" });
  if (!def.route) return [await legacy];
  const { method, path } = def.route;
  if (method === "GET") {
    // A query string carries text only, and URLs have a size limit: send what fits.
    const query = Object.fromEntries(
      Object.entries(params)
        .map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)] as const)
        .filter(([, v]) => v.length < 2048),
    );
    return Promise.all([legacy, http.get(path, query, auth)]);
  }
  return Promise.all([legacy, http.raw(method, path, JSON.stringify(params), { "content-type": "application/json", ...auth })]);
}

describe("hostile input", () => {
  it.each(commands.map((c) => [c.name, c] as const))("%s never answers a 5xx", async (_name, def) => {
    const user = await createUser();
    const auth: Record<string, string> = def.scope === "admin" ? { AdminAPIKey: adminKey() } : def.scope === "user" ? { APIKey: user.apiKey } : {};
    const names = [...canonicalNames(def.params).values()];
    const journeyId = names.includes("JourneyID") ? await createJourney(user) : undefined;
    const failures: string[] = [];
    for (const value of HOSTILE) {
      const everything = Object.fromEntries(names.map((n) => [n, value]));
      const variants = [everything];
      if (journeyId !== undefined) variants.push({ ...everything, JourneyID: journeyId });
      for (const params of variants) {
        for (const res of await send(def, params, auth)) {
          if (res.status >= 500 || typeof res.body?.["Success"] !== "boolean") {
            if (!(def.bareSuccess && res.status === 200)) failures.push(`${res.status} ${res.text.slice(0, 200)}`);
          }
        }
      }
    }
    expect(failures).toEqual([]);
  });
});
