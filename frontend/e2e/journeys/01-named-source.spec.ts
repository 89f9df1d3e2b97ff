// The source the user named (`imgassets ingest --source …`), followed through the overview, the hour page, the
// image page and the search with its downloads; and a video frame's source. (Files are numbered: the journeys run
// in the README's order, Dagster's re-materialization of the hour last.)
import { readFileSync } from "node:fs";
import type { Page } from "@playwright/test";
import { truthy } from "../support/assert";
import { expect, screenshot, sql, test } from "../support/journey";
import { drawnLabelCounts, gridKeys, waitForGridImages, waitForOverlayImage } from "../support/pages";
import { partitionOfImageKey } from "../support/partitions";

/** The grid's image keys, sorted. */
const cardKeys = async (page: Page) => (await gridKeys(page)).sort();

test.describe("the source the user named", () => {
  test("is listed on the overview with its images, and leads to them", async ({ page, journey }) => {
    const { viewerUrl, source, keys } = journey;
    await page.goto(`${viewerUrl}/`);
    const row = page.locator(`table.sources tr[data-source="${source}"]`);
    expect(Number(await row.getAttribute("data-images"))).toBe(keys.length);
    await screenshot(page, journey, "viewer-overview.png");
    await row.locator("a").click();
    await page.waitForURL((url) => url.searchParams.get("source") === source);
    await page.locator(`.result-total[data-total="${keys.length}"]`).waitFor({ timeout: 10_000 });
    expect(await cardKeys(page)).toStrictEqual(keys);
  });

  test("narrows the hour page to its images", async ({ page, journey }) => {
    const { viewerUrl, source, keys } = journey;
    const hour = partitionOfImageKey(keys[0]);
    await page.goto(`${viewerUrl}/hours/${hour}`);
    await page.locator('select[name="source"]').selectOption(source);
    await page.locator("button[type=submit]").click();
    await page.waitForURL((url) => url.searchParams.get("source") === source);
    const expected = keys.filter((key) => partitionOfImageKey(key) === hour);
    await page.locator(`.result-count[data-total="${expected.length}"]`).waitFor({ timeout: 10_000 });
    expect(await cardKeys(page)).toStrictEqual(expected);
    await waitForGridImages(page);
    await screenshot(page, journey, "viewer-hour.png");
  });

  test("is named on each image's page, with the boxes of what was found", async ({ page, journey }) => {
    const { viewerUrl, source, images, withClass } = journey;
    const key = withClass[0];
    await page.goto(`${viewerUrl}/images/${key}`);
    expect(await page.locator('[data-field="source-name"]').innerText()).toBe(source);
    expect(await drawnLabelCounts(page)).toStrictEqual(images[key]);
    await waitForOverlayImage(page);
    await screenshot(page, journey, "viewer-image.png");
  });

  test("is searched for with a class and a confidence, and downloaded", async ({ page, journey }) => {
    const { viewerUrl, source, className, withClass } = journey;
    await page.goto(`${viewerUrl}/search`);
    await page.locator('.search-form select[name="last"]').selectOption("1d");
    await page.locator('.search-form input[name="source"]').fill(source);
    const row = page.locator(".search-form .condition").first();
    await row.locator('input[name="label"]').fill(className);
    await row.locator('input[name="count"]').fill("1");
    await page.locator(".search-form button[type=submit]").click();
    await page.waitForURL((url) => url.searchParams.get("source") === source && url.searchParams.has("class"));
    await page.locator(`.result-total[data-total="${withClass.length}"]`).waitFor({ timeout: 10_000 });
    expect(await cardKeys(page)).toStrictEqual(withClass);
    await screenshot(page, journey, "viewer-search.png");

    // The confidence the user asks for: as many images as hold a CLASS that sure, counted in SQL.
    const [{ confidence }] = sql<{ confidence: number }>(
      `SELECT max(confidence) AS confidence FROM detections WHERE source = '${source}' AND label = '${className}'`,
    );
    const url = new URL(page.url());
    url.searchParams.set("min_confidence", String(Math.floor(confidence * 100) / 100));
    await page.goto(url.toString());
    const sure = sql<{ image_key: string }>(
      `SELECT DISTINCT image_key FROM detections WHERE source = '${source}' AND label = '${className}' ` +
        `AND confidence >= ${Math.floor(confidence * 100) / 100} ORDER BY 1`,
    ).map((r) => r.image_key);
    expect(sure.length >= 1).toBe(true);
    expect(Number(await page.locator(".result-total").getAttribute("data-total"))).toBe(sure.length);
    expect(await cardKeys(page)).toStrictEqual(sure);

    const download = page.waitForEvent("download");
    await page.locator('a[data-download="csv"]').click();
    const lines = readFileSync(await (await download).path(), "utf8")
      .split("\n")
      .filter((line) => line !== "");
    const header = lines[0].split(",").map((name) => name.replaceAll('"', ""));
    const sourceColumn = header.indexOf("source");
    expect(sourceColumn >= 0, lines[0]).toBe(true);
    expect(lines.length - 1).toBe(sure.length);
    for (const line of lines.slice(1)) expect(line.split(",")[sourceColumn].replaceAll('"', "")).toBe(source);
    const parquet = page.waitForEvent("download");
    await page.locator('a[data-download="parquet"]').click();
    const bytes = readFileSync(await (await parquet).path());
    expect(bytes.subarray(0, 4).toString("latin1")).toBe("PAR1");
    expect(bytes.includes(Buffer.from(source)), "the Parquet download holds the source's rows").toBe(true);
  });

  test("names a video frame's source and its place in the video", async ({ page, journey }) => {
    const { viewerUrl, videoSource } = journey;
    const [frame] = sql<{ image_key: string }>(
      `SELECT image_key FROM images WHERE source = '${videoSource}' ORDER BY image_key LIMIT 1`,
    );
    truthy(frame, `no image of ${videoSource}`);
    await page.goto(`${viewerUrl}/images/${frame.image_key}`);
    expect(await page.locator('[data-field="source-name"]').innerText()).toBe(videoSource);
    expect(await page.locator('[data-field="frame"]').innerText()).toMatch(/^frame \d+ at \d+\.\d\d s of .*\.mp4$/);
  });
});
