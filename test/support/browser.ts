import { existsSync, mkdirSync } from "node:fs";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { baseUrl } from "./api.js";

/**
 * Real Chromium for the browser tests: Debian's `chromium` package, driven by
 * playwright-core (Playwright's own browser download cannot be reached here).
 * A missing browser fails the run with what to install; it never skips.
 */
export const CHROMIUM = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";

export const MISSING_CHROMIUM =
  `Chromium was not found at ${CHROMIUM}. The browser tests need it: install Debian's package ` +
  "with `apt-get install -y chromium` (or point CHROMIUM_PATH at a Chromium binary).";

export async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(MISSING_CHROMIUM);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    // Without the background-networking flags Chromium keeps dialling Google services,
    // which a closed network refuses and which would count as requests to other hosts.
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** What a page did that a test must see: console errors, uncaught exceptions, dialogs, and requests elsewhere. */
export interface Watch {
  errors: string[];
  foreign: string[];
  dialogs: string[];
  urls: string[];
}

/**
 * A fresh context (its own sessionStorage) on the local stack. Every request to
 * another origin is recorded in `foreign`; a test that lets one through (the
 * export's presigned download, which the API itself hands out) says so explicitly.
 */
export async function openPage(browser: Browser): Promise<{ context: BrowserContext; page: Page; watch: Watch }> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 }, acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const origin = new URL(baseUrl()).origin;
  const watch: Watch = { errors: [], foreign: [], dialogs: [], urls: [] };
  page.on("console", (m) => {
    if (m.type() === "error") watch.errors.push(m.text());
  });
  page.on("pageerror", (e) => watch.errors.push(String(e)));
  page.on("dialog", (d) => {
    watch.dialogs.push(d.message());
    void d.dismiss();
  });
  context.on("request", (r) => {
    const url = r.url();
    watch.urls.push(url);
    if (url.startsWith("data:")) return;
    if (new URL(url).origin !== origin) watch.foreign.push(url);
  });
  return { context, page, watch };
}

/** Screenshots go to test-results/ (gitignored) for a person to look at. */
export async function screenshot(page: Page, name: string, fullPage = true): Promise<string> {
  const dir = new URL("../../test-results/", import.meta.url);
  mkdirSync(dir, { recursive: true });
  const path = new URL(`${name}.png`, dir).pathname;
  await page.screenshot({ path, fullPage });
  return path;
}
