/// <reference lib="dom" />
import { readFileSync } from "node:fs";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commands } from "../../shared/registry.js";
import { baseUrl } from "../support/api.js";
import { launch, openPage, screenshot } from "../support/browser.js";

/** /docs (Swagger UI on the registry's OpenAPI document) in real Chromium, and the pages' HTTP headers. */
let browser: Browser;

beforeAll(async () => {
  browser = await launch();
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

describe("/docs, /console and /openapi.json", () => {
  it("serves the committed OpenAPI document", async () => {
    const res = await fetch(new URL("/openapi.json", baseUrl()));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await res.json()).toEqual(JSON.parse(readFileSync(new URL("../../docs/openapi.json", import.meta.url), "utf8")));
  });

  it("sends a Content-Security-Policy with no inline script and no remote origin on both pages", async () => {
    for (const path of ["/docs", "/console", "/console/console.js", "/docs/swagger-ui-bundle.js"]) {
      const res = await fetch(new URL(path, baseUrl()));
      expect(res.status, path).toBe(200);
      const csp = res.headers.get("content-security-policy") ?? "";
      expect(csp, path).toMatch(/default-src 'none'/);
      expect(csp, path).toMatch(/script-src 'self'(;|$)/);
      expect(csp, path).not.toMatch(/https?:|\*|'unsafe-eval'/);
      expect(res.headers.get("x-content-type-options"), path).toBe("nosniff");
    }
    // Nothing outside the two pages' own directories is served.
    for (const path of ["/console/..%2Fopenapi.json", "/console/nope.js", "/docs/../package.json"]) {
      expect((await fetch(new URL(path, baseUrl()))).status, path).not.toBe(200);
    }
  });

  it("shows every command by name, each operation with its /api.php form, errors and curl example", async () => {
    const { page, watch } = await openPage(browser);
    await page.goto(`${baseUrl()}/docs`);
    await page.waitForSelector(".opblock", { timeout: 30_000 });
    await screenshot(page, "docs-index", false);
    const text = await page.locator("#swagger-ui").innerText();
    for (const c of commands) expect(text, c.name).toContain(c.name);
    // Every routed command is an operation, shown by its name (the operationId).
    const ids = await page.locator(".opblock-summary-operation-id").allInnerTexts();
    for (const c of commands.filter((x) => x.route)) expect(ids, c.name).toContain(c.name);
    // The auth schemes are declared: Authorize lists them.
    await page.click(".btn.authorize");
    const schemes = await page.locator(".auth-container h4").allInnerTexts();
    expect(schemes.join(" ")).toMatch(/APIKey[\s\S]*SessionID[\s\S]*AdminAPIKey/);
    await page.locator(".modal-ux .close-modal").click();
    await page.locator(".modal-ux").waitFor({ state: "detached" });
    // One operation opened: its /api.php form, error codes and curl example.
    const op = page.locator(".opblock").filter({ has: page.locator(".opblock-summary-operation-id", { hasText: /^journey\.get$/ }) });
    await op.locator(".opblock-summary").click();
    await op.locator(".opblock-description-wrapper").waitFor();
    const body = await op.innerText();
    expect(body).toContain("Command=journey.get");
    expect(body).toContain("Missing JourneyID parameter");
    expect(body).toContain('curl -s "$API/api/v1/journey?JourneyID=1" -H "APIKey: $KEY"');
    await screenshot(page, "docs", false);
    await op.scrollIntoViewIfNeeded();
    await screenshot(page, "docs-journey-get", false);
    expect(watch.errors).toEqual([]);
    expect(watch.foreign).toEqual([]);
    await page.context().close();
  }, 60_000);
});
