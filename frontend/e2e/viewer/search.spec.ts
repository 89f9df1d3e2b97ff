// The search page (/search: images with at least so many objects of each class, across all hours) and its
// downloads, against SQL over the last 30 days' tables. Serial: the first test's search (its class, URL and total)
// is what the others share, reload and narrow.
import { readFileSync } from "node:fs";
import type { Page } from "@playwright/test";
import { screenshot } from "../support/artifacts";
import { query } from "../support/cli";
import { rawGet } from "../support/http";
import { gridKeys } from "../support/pages";
import { expect, literal, PAGE_SIZE, queryGet, type Refusal, test, VIEWER_URL } from "../support/viewer";

const LAST = ["--last", "30d"];

/** A class and the least number of its objects an image must have. */
type Condition = [label: string, count: number];

/** Images with at least `count` detections of each label, at `confidence` or more: the search's definition. */
function expectedTotal(conditions: Condition[], confidence = 0): number {
  const labels = conditions.map(([label]) => literal(label)).join(", ");
  const having = conditions
    .map(([label, count]) => `count(*) FILTER (WHERE label = ${literal(label)}) >= ${count}`)
    .join(" AND ");
  const [{ n }] = query<{ n: number }>(
    LAST,
    `SELECT count(*) AS n FROM (SELECT image_key FROM detections WHERE confidence >= ${confidence} ` +
      `AND label IN (${labels}) GROUP BY image_key HAVING ${having})`,
  );
  return n;
}

/** The total of matches the page shows. */
const shownTotal = (page: Page) => page.locator(".result-total").getAttribute("data-total").then(Number);
/** The matches the chart's bars add up to. */
const barSum = (page: Page) =>
  page
    .locator(".search-chart [data-bucket]")
    .evaluateAll((bars) => bars.reduce((sum, b) => sum + Number(b.dataset.matches), 0));

test.describe("search", () => {
  test.describe.configure({ mode: "serial" });

  /** The class found on the most images of the last 30 days. */
  let label: string;
  /** The first test's search, as the query string it leads to, and its total. */
  let shared: string;
  let total: number;

  test.beforeAll(() => {
    [{ label }] = query<{ label: string; images: number }>(
      LAST,
      "SELECT label, count(DISTINCT image_key) AS images FROM detections GROUP BY label ORDER BY images DESC, label LIMIT 1",
    );
  });

  test("finds the images with a class, as many as SQL counts, paged and charted", async ({ page }) => {
    await page.goto(`${VIEWER_URL}/`);
    await page.locator(".topnav a", { hasText: "Search" }).click();
    await page.waitForURL(`${VIEWER_URL}/search`);
    await page.locator('.search-form select[name="last"]').selectOption("30d");
    const row = page.locator(".search-form .condition").first();
    await row.locator('input[name="label"]').fill(label);
    await row.locator('input[name="count"]').fill("1");
    await page.locator(".search-form button[type=submit]").click();
    // The form's rows become the canonical, shareable query: class=label:count.
    await page.waitForURL((url) => url.searchParams.getAll("class").length === 1);
    const url = new URL(page.url());
    expect(url.searchParams.get("last")).toBe("30d");
    expect(url.searchParams.getAll("class")).toStrictEqual([`${label}:1`]);
    expect(!url.searchParams.has("label") && !url.searchParams.has("count"), url.search).toBe(true);
    shared = url.search;

    total = expectedTotal([[label, 1]]);
    expect(total > 0).toBe(true);
    await page.locator(`.result-total[data-total="${total}"]`).waitFor({ timeout: 5_000 }).catch(() => {});
    expect(await shownTotal(page)).toBe(total);
    const first = await gridKeys(page);
    expect(first.length).toBe(Math.min(PAGE_SIZE, total));
    expect(await barSum(page)).toBe(total);
    expect(await page.locator(".search-chart").getAttribute("data-bucket-size")).toBe("day");
    await screenshot(page, "search.png", { fullPage: true });

    if (total > PAGE_SIZE) {
      await page.locator(".pager a[rel=next]").click();
      await page.waitForURL((u) => u.searchParams.get("page") === "2");
      // Client-side navigation changes the URL before React commits the new page.
      await page.locator('.result-total[data-page="2"]').waitFor();
      const second = await gridKeys(page);
      expect(second.length).toBe(Math.min(PAGE_SIZE, total - PAGE_SIZE));
      expect(
        second.every((key) => !first.includes(key)),
        "page 2 repeats page 1",
      ).toBe(true);
      expect(await shownTotal(page)).toBe(total);
      expect(await barSum(page)).toBe(total);
    }

    // Each card leads to its image page.
    await page.locator(".grid .card a.name").first().click();
    await page.waitForURL("**/images/images/**");
    await page.locator(".overlay svg").waitFor();
  });

  test("downloads every match as CSV and Parquet", async ({ page }) => {
    await page.goto(`${VIEWER_URL}/search${shared}`);
    const csvDownload = page.waitForEvent("download");
    await page.locator('a[data-download="csv"]').click();
    const csv = await csvDownload;
    expect(csv.suggestedFilename()).toBe("imgassets-matches.csv");
    const lines = readFileSync(await csv.path(), "utf8")
      .split("\n")
      .filter((line) => line !== "");
    expect(lines.length, "a header and one line per match").toBe(total + 1);
    expect(lines[0]).toMatch(/image_key/);
    const pageKeys = await gridKeys(page);
    const csvKeys = new Set(lines.slice(1).map((line) => line.split(",")[0].replaceAll('"', "")));
    expect(
      pageKeys.every((key) => csvKeys.has(String(key))),
      "the CSV lists the shown images",
    ).toBe(true);

    const parquetDownload = page.waitForEvent("download");
    await page.locator('a[data-download="parquet"]').click();
    const parquet = readFileSync(await (await parquetDownload).path());
    expect(parquet.subarray(0, 4).toString("latin1")).toBe("PAR1");
    expect(parquet.subarray(-4).toString("latin1")).toBe("PAR1");
  });

  test("gives the same result to a shared URL", async ({ browser, page }) => {
    const other = await browser.newPage({ viewport: page.viewportSize() });
    try {
      const response = await other.goto(`${VIEWER_URL}/search${shared}`);
      expect(response?.status()).toBe(200);
      expect(await shownTotal(other)).toBe(total);
      expect(
        await other
          .locator('.search-form input[name="label"]')
          .evaluateAll((inputs: HTMLInputElement[]) => inputs.map((i) => i.value)),
      ).toStrictEqual([label]);
    } finally {
      await other.close();
    }
    await page.goto(`${VIEWER_URL}/search${shared}`);
    await page.reload();
    expect(await shownTotal(page)).toBe(total);
  });

  test("combines conditions with AND and a minimum confidence", async ({ page }) => {
    const [partner] = query<{ label: string; images: number }>(
      LAST,
      `SELECT b.label, count(DISTINCT b.image_key) AS images FROM detections a JOIN detections b USING (image_key) ` +
        `WHERE a.label = ${literal(label)} AND b.label <> ${literal(label)} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1`,
    );
    if (partner === undefined) return; // the class never appears with another one
    await page.goto(`${VIEWER_URL}/search${shared}`);
    const rows = page.locator(".search-form .condition");
    // The button works once React has hydrated the page: click until it has.
    for (let attempt = 0; attempt < 50 && (await rows.count()) === 1; attempt += 1) {
      await page.locator(".search-form button.add").click();
      await page.waitForTimeout(100);
    }
    expect(await rows.count()).toBe(2);
    await rows.nth(1).locator('input[name="label"]').fill(partner.label);
    await rows.nth(1).locator('input[name="count"]').fill("1");
    await page.locator(".search-form button[type=submit]").click();
    await page.waitForURL((url) => url.searchParams.getAll("class").length === 2);
    const both = expectedTotal([
      [label, 1],
      [partner.label, 1],
    ]);
    await page.locator(`.result-total[data-total="${both}"]`).waitFor({ timeout: 5_000 }).catch(() => {});
    expect(await shownTotal(page)).toBe(both);
    expect(both > 0 && both <= total).toBe(true);
    expect(await barSum(page)).toBe(both);

    const url = new URL(page.url());
    url.searchParams.set("min_confidence", "0.9");
    await page.goto(url.href);
    const confident = expectedTotal(
      [
        [label, 1],
        [partner.label, 1],
      ],
      0.9,
    );
    expect(await shownTotal(page)).toBe(confident);
    expect(await page.locator(".grid .card").count()).toBe(Math.min(PAGE_SIZE, confident));
  });

  test("shows the endpoint's message for a bad condition", async ({ page }) => {
    const bad = `?last=30d&class=${encodeURIComponent(label)}:0`;
    const refusal = await queryGet(`/search${bad}`);
    expect(refusal.status).toBe(400);
    const { error } = (await refusal.json()) as Refusal;
    const response = await page.goto(`${VIEWER_URL}/search${bad}`);
    expect(response?.status()).toBe(400);
    expect(await page.locator(".search-error").innerText()).toBe(error);
    expect(await page.locator(".result-total").count()).toBe(0);
    // The form still shows the search, to correct it.
    expect(await page.locator('.search-form input[name="count"]').inputValue()).toBe("0");
    await screenshot(page, "search-refused.png", { fullPage: true });
    const download = await fetch(`${VIEWER_URL}/search/download/csv${bad}`);
    expect(download.status).toBe(400);
    expect((await rawGet(VIEWER_URL, "/search/download/xlsx?last=30d")).status).toBe(404);
  });
});
