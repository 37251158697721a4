/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import { readFileSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { baseUrl, createUser, type TestUser } from "../support/api.js";
import { launch, openPage, screenshot, type Watch } from "../support/browser.js";
import { DAYS, eventSet, statsJourney, type Fixture } from "../support/event-set.js";

/**
 * The journey console in real Chromium against the local stack. Every number the
 * page shows is compared with the API's own answer to the same question, asked
 * over HTTP by the test.
 */
const HOSTILE = "<img src=x onerror=alert(1)>";
const [D1, , D3] = DAYS;
const WINDOW = { StartDate: D1, EndDate: D3 };

let browser: Browser;
let user: TestUser;
let f: Fixture;
let hostileId: number;
let page: Page;
let watch: Watch;
/** Download URLs journey.export.get handed out: the only requests a page may make to another origin. */
const downloads: string[] = [];
const watches: Watch[] = [];

beforeAll(async () => {
  browser = await launch();
  user = await createUser();
  f = await statsJourney(user, "Welcome series");
  const events = eventSet(f, "console");
  expect((await user.post("/api/v1/journey.events", { Events: events })).status).toBe(200);
  const hostile = await user.post("/api/v1/journey", { Name: HOSTILE });
  hostileId = Number(hostile.body["JourneyID"]);
  expect(hostileId).toBeGreaterThan(0);
  // Notes and an email name are user text too.
  await user.patch("/api/v1/journey", { JourneyID: hostileId, Name: HOSTILE });
  ({ page, watch } = await openPage(browser));
  watches.push(watch);
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

async function signInWithKey(p: Page, key: string) {
  await p.goto(`${baseUrl()}/console`);
  await p.fill("#signin-key input[name=apiKey]", key);
  await p.click("#signin-key button[type=submit]");
  await p.waitForSelector("#journeys");
}

/** Sets the console's date window to the event set's three days. */
async function setWindow(p: Page) {
  await p.fill("#window input[name=start]", WINDOW.StartDate);
  await p.fill("#window input[name=end]", WINDOW.EndDate);
  await p.click("#window button[type=submit]");
}

const cellText = (p: Page, sel: string) => p.locator(sel).innerText();
const sumDays = (days: Record<string, number>[], key: string) => days.reduce((n, d) => n + Number(d[key] ?? 0), 0);

describe("journey console", () => {
  it("signs in with an API key and lists the journeys with journey.list's numbers", async () => {
    await signInWithKey(page, user.apiKey);
    await setWindow(page);
    const api = await user.get("/api/v1/journeys", { StatsStartDate: WINDOW.StartDate, StatsEndDate: WINDOW.EndDate });
    const journeys = api.body["Journeys"] as Record<string, any>[];
    expect(journeys).toHaveLength(2);
    // The window has applied once the seeded journey shows its window's sends.
    const expectedSent = sumDays(journeys.find((j) => Number(j["JourneyID"]) === f.journeyId)!["JourneyStats"]["AggregatedDaysEmailActions"], "SendCount");
    expect(expectedSent).toBe(8);
    await page.waitForFunction(
      ([id, n]) => document.querySelector(`tr[data-journey-id="${id}"] [data-col=SendCount]`)?.textContent === String(n),
      [f.journeyId, expectedSent] as const,
    );
    expect(await page.locator("#journeys tbody tr").count()).toBe(journeys.length);
    for (const j of journeys) {
      const row = `tr[data-journey-id="${j["JourneyID"]}"]`;
      const s = j["JourneyStats"];
      const days = s["AggregatedDaysEmailActions"];
      expect(await cellText(page, `${row} .journey-name`)).toBe(j["JourneyName"]);
      expect(await cellText(page, `${row} [data-col=Status]`)).toBe(j["Status"]);
      expect(await cellText(page, `${row} [data-col=Trigger]`)).toBe(j["Trigger"]);
      expect(await cellText(page, `${row} [data-col=ActiveSubscribers]`)).toBe(String(s["ActiveSubscribers"]));
      expect(await cellText(page, `${row} [data-col=TotalSubscribers]`)).toBe(String(s["TotalSubscribers"]));
      for (const k of ["SendCount", "OpenCount", "ClickCount"]) {
        expect(await cellText(page, `${row} [data-col=${k}]`), k).toBe(String(sumDays(days, k)));
      }
      // One sparkline point per day of the window.
      const points = await page.locator(`${row} svg.spark polyline`).getAttribute("points");
      expect(points?.split(" ")).toHaveLength(days.length);
    }
    const bench = (await user.get("/api/v1/account.journey.benchmark", WINDOW)).body["Benchmark"] as Record<string, number>;
    expect(await cellText(page, "[data-bench=TotalSent]")).toBe(String(bench["TotalSent"]));
    expect(await cellText(page, "[data-bench=JourneyCount]")).toBe(String(bench["JourneyCount"]));
    await screenshot(page, "console-list");
  }, 60_000);

  it("renders the hostile journey name as text, in the list and in its own view", async () => {
    expect(await cellText(page, `tr[data-journey-id="${hostileId}"] .journey-name`)).toBe(HOSTILE);
    expect(await page.locator("#journeys img").count()).toBe(0);
    await page.click(`tr[data-journey-id="${hostileId}"] .journey-name`);
    await page.waitForSelector("#journey-name");
    expect(await cellText(page, "#journey-name")).toBe(HOSTILE);
    expect(await page.locator("img").count()).toBe(0);
    expect(watch.dialogs).toEqual([]);
    await page.goto(`${baseUrl()}/console#/`);
  }, 60_000);

  it("toggles a journey's status in place, as journey.get then sees it", async () => {
    await page.waitForSelector(`tr[data-journey-id="${f.journeyId}"]`);
    const status = async () => (await user.get("/api/v1/journey", { JourneyID: f.journeyId })).body["Status"];
    expect(await status()).toBe("Disabled");
    const row = `tr[data-journey-id="${f.journeyId}"]`;
    await page.click(`${row} .toggle-status`);
    await page.waitForFunction((sel) => document.querySelector(`${sel} [data-col=Status]`)?.textContent === "Enabled", row);
    expect(await status()).toBe("Enabled");
    expect(await cellText(page, `${row} .toggle-status`)).toBe("Disable");
    await page.click(`${row} .toggle-status`);
    await page.waitForFunction((sel) => document.querySelector(`${sel} [data-col=Status]`)?.textContent === "Disabled", row);
    expect(await status()).toBe("Disabled");
  }, 60_000);

  it("draws the flow in tree order with its branches, each SendEmail carrying journey.stats.byaction's numbers", async () => {
    await page.goto(`${baseUrl()}/console#/journey/${f.journeyId}`);
    await setWindow(page);
    const journey = (await user.get("/api/v1/journey", { JourneyID: f.journeyId, ...WINDOW })).body;
    const byAction = (await user.get("/api/v1/journey.stats.byaction", { JourneyID: f.journeyId, ...WINDOW })).body["Actions"] as Record<string, any>[];
    const a1 = byAction.find((a) => Number(a["ActionID"]) === f.a1)!;
    expect(a1["Stats"]["SendCount"]).toBe(5);
    await page.waitForFunction(
      ([id, n]) => document.querySelector(`.node[data-action-id="${id}"] [data-stat=SendCount]`)?.textContent === String(n),
      [f.a1, a1["Stats"]["SendCount"]] as const,
    );
    // Every action, in the API's (pre-order) tree order.
    const actions = journey["Actions"] as Record<string, any>[];
    const drawn = await page.locator("#flow .node").evaluateAll((els) => els.map((e) => [e.getAttribute("data-action-id"), e.getAttribute("data-action")]));
    expect(drawn).toEqual(actions.map((a) => [String(a["ActionID"]), a["Action"]]));
    // The Decision's branches sit side by side: True holds A2, False is empty.
    const decision = actions.find((a) => a["Action"] === "Decision")!;
    const branches = page.locator(`.step:has(> .node[data-action-id="${decision["ActionID"]}"]) > .branches > .branch`);
    expect(await branches.evaluateAll((els) => els.map((e) => e.getAttribute("data-branch")))).toEqual(["True", "False"]);
    expect(await branches.nth(0).locator(".node").getAttribute("data-action-id")).toBe(String(f.a2));
    expect(await branches.nth(1).locator(".end").count()).toBe(1);
    const [left, right] = [await branches.nth(0).boundingBox(), await branches.nth(1).boundingBox()];
    expect(right!.x).toBeGreaterThan(left!.x + left!.width - 1);
    expect(Math.abs(right!.y - left!.y)).toBeLessThan(2);
    // Wait shows its settings.
    expect(await cellText(page, `.node[data-action="Wait"] .settings`)).toContain("WaitAmount: 1");
    for (const a of byAction) {
      const node = `.node[data-action-id="${a["ActionID"]}"]`;
      for (const k of ["SendCount", "DeliveryCount", "OpenCount", "ClickCount"]) {
        expect(await cellText(page, `${node} [data-stat=${k}]`), `${a["ActionID"]} ${k}`).toBe(String(a["Stats"][k]));
      }
      const sent = a["Stats"]["SendCount"];
      const rate = (n: number) => (sent > 0 ? `${((100 * n) / sent).toFixed(1)}%` : "–");
      expect(await cellText(page, `${node} [data-stat=OpenRate]`)).toBe(rate(a["Stats"]["OpenCount"]));
      expect(await cellText(page, `${node} [data-stat=ClickRate]`)).toBe(rate(a["Stats"]["ClickCount"]));
    }
    // The per-day chart's legend totals are journey.get's per-day series summed.
    const days = (journey["JourneyStats"] as Record<string, any>)["AggregatedDaysEmailActions"];
    expect(await page.locator(".chart figcaption .key").allInnerTexts()).toEqual([
      `Sent ${sumDays(days, "SendCount")}`,
      `Opens ${sumDays(days, "OpenCount")}`,
      `Clicks ${sumDays(days, "ClickCount")}`,
    ]);
    expect(await page.locator(".chart polyline").count()).toBe(3);
    // The ISP table is journey.stats.byisp's.
    const byIsp = (await user.get("/api/v1/journey.stats.byisp", { JourneyID: f.journeyId, ...WINDOW })).body["ByISP"] as Record<string, any>[];
    expect(byIsp.length).toBeGreaterThan(1);
    const rows = await page.locator("#isp tbody tr").evaluateAll((trs) =>
      trs.map((tr) => [tr.getAttribute("data-domain"), ...[...tr.querySelectorAll("[data-col]")].map((td) => td.textContent)]),
    );
    expect(rows).toEqual(byIsp.map((r) => [r["Domain"], ...["Sent", "Delivered", "Opened", "Clicked", "Bounced", "Unsubscribed", "Complained"].map((k) => String(r[k]))]));
    await screenshot(page, "console-journey");
  }, 60_000);

  it("lists a SendEmail action's subscribers on click, with the engagement filter", async () => {
    await page.click(`.node[data-action-id="${f.a1}"]`);
    const listed = async (filter?: string) => {
      const api = await user.get("/api/v1/journey.action.subscribers", { JourneyID: f.journeyId, ActionID: f.a1, ...(filter ? { FilterJSON: JSON.stringify([filter]) } : {}) });
      return (api.body["Subscribers"] as Record<string, string>[]).map((s) => [s["SubscriberID"], s["EmailAddress"]]);
    };
    const shown = () =>
      page.locator("#subscribers tbody tr").evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].slice(0, 2).map((td) => td.textContent)));
    const all = await listed();
    expect(all).toHaveLength(5);
    await page.waitForFunction((n) => document.querySelectorAll("#subscribers tbody tr").length === n, all.length);
    expect(await shown()).toEqual(all);
    const opened = await listed("opened");
    expect(opened.length).toBeLessThan(all.length);
    await screenshot(page, "console-journey-subscribers");
    await page.selectOption("#engagement", "opened");
    await page.waitForFunction((n) => document.querySelectorAll("#subscribers tbody tr").length === n, opened.length);
    expect(await shown()).toEqual(opened);
  }, 60_000);

  it("exports: one button submits, polls and downloads the same CSV as the API", async () => {
    await page.goto(`${baseUrl()}/console#/`);
    await page.waitForSelector(`tr[data-journey-id="${f.journeyId}"]`);
    // The finished job hands the page a presigned URL on the S3 endpoint: that URL, and no other, may be fetched elsewhere.
    page.on("response", (r) => {
      if (r.url().includes("/api/v1/journey.export?")) {
        void r.json().then((b: any) => b?.ExportJob?.DownloadURL && downloads.push(String(b.ExportJob.DownloadURL)), () => undefined);
      }
    });
    const [download] = await Promise.all([page.waitForEvent("download", { timeout: 45_000 }), page.click("#export")]);
    const exportId = /journey-export-(\d+)\.csv/.exec(download.suggestedFilename())?.[1];
    expect(exportId).toBeDefined();
    const csv = readFileSync((await download.path())!, "utf8");
    const redirect = await fetch(new URL(`/api/v1/journey.export?ExportID=${exportId}&download=1`, baseUrl()), { headers: { APIKey: user.apiKey }, redirect: "manual" });
    expect(redirect.status).toBe(302);
    const api = await (await fetch(redirect.headers.get("location")!)).text();
    expect(csv).toBe(api);
    expect(csv).toContain("Welcome series");
    expect(await cellText(page, ".export-status")).toBe("Completed");
    await expect.poll(() => downloads.length).toBeGreaterThan(0);
  }, 60_000);

  it("signs in with username and password, keeps the session in sessionStorage and headers, and signs out", async () => {
    const other = await openPage(browser);
    watches.push(other.watch);
    try {
      const p = other.page;
      await p.goto(`${baseUrl()}/console`);
      await p.fill("#signin-password input[name=username]", user.username);
      await p.fill("#signin-password input[name=password]", user.password);
      await p.click("#signin-password button[type=submit]");
      await p.waitForSelector(`tr[data-journey-id="${f.journeyId}"]`);
      const stored = JSON.parse((await p.evaluate(() => JSON.stringify(sessionStorage))) as string) as Record<string, string>;
      const creds = JSON.parse(Object.values(stored)[0]!) as { kind: string; sessionId: string };
      expect(creds.kind).toBe("session");
      expect(creds.sessionId.length).toBeGreaterThan(10);
      // The session works against the API, and never appeared in any URL the page requested.
      expect((await fetch(new URL("/api/v1/journeys?SkipStats=1", baseUrl()), { headers: { SessionID: creds.sessionId } })).status).toBe(200);
      for (const w of watches) for (const url of w.urls) expect(url).not.toContain(creds.sessionId);
      for (const url of watch.urls) expect(url).not.toContain(user.apiKey);
      expect(await p.evaluate(() => document.cookie)).toBe("");
      await p.click("#signout");
      await p.waitForSelector("#signin-key");
      expect(await p.evaluate(() => sessionStorage.length)).toBe(0);
      await p.reload();
      await p.waitForSelector("#signin-key");
    } finally {
      await other.context.close();
    }
  }, 60_000);

  it("shows the API's own error, code and text, for a wrong key", async () => {
    const other = await openPage(browser);
    watches.push(other.watch);
    try {
      await other.page.goto(`${baseUrl()}/console`);
      await other.page.fill("#signin-key input[name=apiKey]", "not-a-key");
      await other.page.click("#signin-key button[type=submit]");
      await other.page.waitForSelector(".error");
      expect(await other.page.locator(".error").innerText()).toBe("Error 99998: Invalid API key or session (HTTP 401)");
      // The browser reports the 401 itself as a console error; nothing else may appear.
      other.watch.errors = other.watch.errors.filter((e) => !/status of 401/.test(e));
    } finally {
      await other.context.close();
    }
  }, 60_000);

  it("stays usable at 1,000 journeys: the count at once, 100 rows, more on demand, and a filter", async () => {
    // Seeded in-process as journey.create stores them, 25 to a BatchWriteItem (1,000 creates
    // over HTTP would take ten minutes of rate limit).
    const big = await createUser();
    const { storable } = await import("../../shared/domain/journeys/journeys.js");
    const { nextIds } = await import("../../shared/domain/ids.js");
    const { batchPut } = await import("../../shared/domain/owned.js");
    const { keys } = await import("../../shared/keys.js");
    const first = await nextIds("Journey", 1000);
    const at = "2026-03-01 00:00:00";
    await batchPut(
      Array.from({ length: 1000 }, (_, i) => {
        const journey = {
          JourneyID: first + i, JourneyName: `Bulk ${String(i + 1).padStart(4, "0")}`, Trigger: "Manual" as const, TriggerParameters: {},
          Status: "Disabled" as const, Notes: "", CreatedAt: at, UpdatedAt: at, Trigger_Criteria: [], Run_Criteria: [],
          Run_Criteria_Operator: "and" as const, Rate_Limit_Per_Hour: 0, Rate_Limit_Per_Day: 0, Tree: { version: "", chunks: 0 },
        };
        return { ...keys.journey(big.userId, journey.JourneyID), ...storable(journey) };
      }),
    );
    const other = await openPage(browser);
    watches.push(other.watch);
    try {
      const p = other.page;
      const started = Date.now();
      await signInWithKey(p, big.apiKey);
      await p.waitForFunction(() => document.querySelector("#journey-count")?.textContent === "1000", undefined, { timeout: 30_000 });
      const shownIn = Date.now() - started;
      expect(shownIn).toBeLessThan(30_000);
      expect(await p.locator("#journeys tbody tr").count()).toBe(100);
      await p.click(".more");
      expect(await p.locator("#journeys tbody tr").count()).toBe(200);
      await p.fill(".journeys input[type=search]", "bulk 0999");
      await p.waitForFunction(() => document.querySelectorAll("#journeys tbody tr").length === 1);
      expect(await p.locator("#journeys tbody tr .journey-name").innerText()).toBe("Bulk 0999");
      await screenshot(p, "console-list-1000", false);
    } finally {
      await other.context.close();
    }
  }, 90_000);

  it("logged no console error and requested nothing from any other origin", () => {
    for (const w of watches) {
      expect(w.errors).toEqual([]);
      // The one allowed: the CSV at the presigned URL journey.export.get answered (signed anew on each read, so compared without its query).
      const path = (u: string) => u.split("?")[0];
      expect(w.foreign.filter((u) => !downloads.some((d) => path(d) === path(u)))).toEqual([]);
      expect(w.dialogs).toEqual([]);
    }
  });
});
