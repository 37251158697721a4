import { describe, expect, it } from "vitest";
import { inject } from "vitest";
import { createUser, firstError, http, outcome } from "../support/api.js";

/** Waits until at least `margin` seconds remain in the current 60-second window. */
async function awayFromWindowEdge(margin = 12) {
  const inWindow = (Date.now() / 1000) % 60;
  if (inWindow > 60 - margin) await new Promise((r) => setTimeout(r, (60 - inWindow + 0.5) * 1000));
}

describe("rate limit", () => {
  it("admits exactly the limit of concurrent calls in a window and answers 429 to the rest", async () => {
    const limit = inject("rateLimit");
    const user = await createUser();
    await awayFromWindowEdge();
    const extra = 30;
    const results = await Promise.all(
      Array.from({ length: limit + extra }, () => user.get("/api/v1/journeys", { SkipStats: 1 })),
    );
    const ok = results.filter((r) => r.status === 200);
    const limited = results.filter((r) => r.status === 429);
    expect(ok).toHaveLength(limit);
    expect(limited).toHaveLength(extra);
    // Each admitted call saw its own exact position in the window.
    const remaining = ok.map((r) => Number(r.headers.get("x-ratelimit-remaining"))).sort((a, b) => a - b);
    expect(remaining).toEqual(Array.from({ length: limit }, (_, i) => i));
    for (const r of limited) {
      expect(outcome(r)).toEqual([429, 429]);
      expect(firstError(r)?.Message).toBe("Rate limit exceeded");
      const retry = Number(r.headers.get("retry-after"));
      expect(retry).toBeGreaterThanOrEqual(1);
      expect(retry).toBeLessThanOrEqual(60);
      expect(r.headers.get("x-ratelimit-remaining")).toBe("0");
      expect(r.headers.get("x-ratelimit-limit")).toBe(String(limit));
    }
    // /api.php keeps the 429 status, unlike handler errors.
    const legacy = await user.legacy({ Command: "journey.list", SkipStats: 1 });
    expect(outcome(legacy)).toEqual([429, 429]);
    // Another user is counted separately.
    const other = await createUser();
    expect((await other.get("/api/v1/journeys", { SkipStats: 1 })).status).toBe(200);
  });

  it("carries the X-RateLimit headers on every authenticated response, errors included", async () => {
    const user = await createUser();
    await awayFromWindowEdge();
    const first = await user.get("/api/v1/journeys", { SkipStats: 1 });
    const failing = await user.get("/api/v1/journey", { JourneyID: "abc" });
    expect(first.headers.get("x-ratelimit-limit")).toBe(String(inject("rateLimit")));
    expect(Number(first.headers.get("x-ratelimit-remaining")) - Number(failing.headers.get("x-ratelimit-remaining"))).toBe(1);
    const reset = Number(failing.headers.get("x-ratelimit-reset"));
    expect(reset % 60).toBe(0);
    expect(reset).toBeGreaterThan(Date.now() / 1000);
  });

  it("limits failed logins per Username", async () => {
    const user = await createUser();
    await awayFromWindowEdge();
    const limit = inject("rateLimit");
    const attempts = await Promise.all(
      Array.from({ length: limit + 5 }, () => http.post("/api/v1/user.login", { Username: user.username, Password: "wrong" })),
    );
    expect(attempts.filter((r) => r.status === 429)).toHaveLength(5);
    expect(attempts.filter((r) => outcome(r)[1] === 3)).toHaveLength(limit);
  });
});
