/// <reference lib="dom" />
import { randomUUID } from "node:crypto";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createUser } from "../support/api.js";
import { launch, openPage, screenshot } from "../support/browser.js";
import { ok } from "../support/enrolments.js";

/**
 * The one-click unsubscribe page (ENGINE §8.4) in real Chromium: it renders under its
 * own strict CSP (no violation, its hashed style applied), and its button posts back
 * to the link, which unsubscribes.
 */
let browser: Browser;

beforeAll(async () => {
  browser = await launch();
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

describe("the unsubscribe page", () => {
  it("renders under its CSP without a violation, and its button unsubscribes", async () => {
    Object.assign(process.env, inject("stackEnv"));
    const { unsubscribeUrl } = await import("../../shared/delivery/unsubscribe-token.js");
    const user = await createUser();
    const list = Number((await ok(() => user.post("/api/v1/list", { SubscriberListName: "Browser list" }))).body["ListID"]);
    const sub = Number((await ok(() => user.post("/api/v1/subscriber", { ListID: list, EmailAddress: `b-${randomUUID().slice(0, 8)}@example.com` }))).body["SubscriberID"]);
    const status = async () => ((await ok(() => user.get("/api/v1/subscriber", { ListID: list, SubscriberID: sub }))).body as Record<string, any>)["SubscriberInformation"]["SubscriptionStatus"];
    // No journey of this user: the link's event is rejected, which changes nothing the page shows.
    const url = await unsubscribeUrl(user.userId, sub, 1, 1);

    const { page, watch } = await openPage(browser);
    const violations: string[] = [];
    page.on("console", (msg) => {
      if (/Content Security Policy|Refused to/i.test(msg.text())) violations.push(msg.text());
    });
    const res = await page.goto(url);
    expect(res?.status()).toBe(200);
    await expect(page.title()).resolves.toBe("Unsubscribe");
    // The style block ran under the CSP (allowed by its hash), so the button is styled.
    const button = page.locator("button[type=submit]");
    expect(await button.evaluate((b) => getComputedStyle(b).backgroundColor)).toBe("rgb(31, 95, 191)");
    await screenshot(page, "unsubscribe-page", false);
    expect(await status()).toBe("Subscribed");

    await Promise.all([page.waitForURL(url, { waitUntil: "load" }), button.click()]);
    await expect(page.locator("body").innerText()).resolves.toBe("You have been unsubscribed.");
    await screenshot(page, "unsubscribe-done", false);
    expect(await status()).toBe("Unsubscribed");

    expect(violations).toEqual([]);
    expect(watch.errors).toEqual([]);
    expect(watch.foreign).toEqual([]);
    // Nothing but the page itself and its own POST (no script, style sheet, font or image).
    expect(new Set(watch.urls.filter((u) => !u.endsWith("/favicon.ico")))).toEqual(new Set([url]));
    await page.context().close();
  }, 60_000);
});
