// The hour page (/hours/…: its grid, filters and pages, from the hour's table) and the image page (/images/…: the
// detection record's boxes).
import type { Page } from "@playwright/test";
import type { DetectionRecord, ImageRow } from "../../app/lib/records";
import { screenshot } from "../support/artifacts";
import { truthy } from "../support/assert";
import { drawnBoxes, gridKeys, waitForGridImages, waitForOverlayImage } from "../support/pages";
import { expect, GRID_ORDER, hourSql, literal, number, PAGE_SIZE, test, VIEWER_URL } from "../support/viewer";

/** The total the grid shows, once it is `expected` (client-side navigation changes the URL before React commits
 * the new page: wait for the count to settle), or whatever it settled on. */
async function gridTotal(page: Page, expected: number): Promise<number> {
  await page.locator(`.result-count[data-total="${expected}"]`).waitFor({ timeout: 5_000 }).catch(() => {});
  return Number(await page.locator(".result-count").getAttribute("data-total"));
}

test.describe("hour and image pages", () => {
  test("clicks into an hour, then an image, and draws its detections", async ({ page, bucket, pipeline }) => {
    const { tabled, emptyImages } = pipeline;
    const summary = tabled.find((s) => s.total_objects > 0);
    truthy(summary, "no image with detections in the recent summaries");
    await page.goto(`${VIEWER_URL}/`);
    await page.locator(`table.hours tr[data-partition="${summary.partition}"] a`).click();
    await page.waitForURL(`**/hours/${summary.partition}`);
    await page.locator(".result-count").waitFor();
    expect(number(await page.locator('[data-stat="images"] b').innerText())).toBe(summary.image_count);
    // Counted here in the hour's table, not read from the summary's own field.
    expect(number(await page.locator('[data-stat="empty"] b').innerText())).toBe(emptyImages.get(summary.partition));
    expect(await page.locator(".grid .card").count()).toBe(Math.min(PAGE_SIZE, summary.image_count));
    const firstPage = hourSql<Pick<ImageRow, "image_key" | "detection_key" | "objects">>(
      summary.partition,
      `SELECT image_key, detection_key, objects FROM images ${GRID_ORDER} LIMIT ${PAGE_SIZE}`,
    );
    expect(await gridKeys(page)).toStrictEqual(firstPage.map((image) => image.image_key));
    await waitForGridImages(page, 8);
    for (const rejected of summary.rejected.slice(0, 20)) {
      const row = page.locator(`.rejected tr[data-image-key="${rejected.image_key}"] .reason`);
      expect(await row.innerText()).toBe(rejected.reason);
    }
    await screenshot(page, "hour.png", { fullPage: true });

    const target = firstPage.reduce((best, image) => (image.objects > best.objects ? image : best));
    await page.locator(`.card[data-image-key="${target.image_key}"] a.name`).click();
    await page.waitForURL(`**/images/${target.image_key}`);
    const record = await bucket.readJson<DetectionRecord>(target.detection_key);
    const svg = page.locator(".overlay svg");
    expect(await svg.getAttribute("viewBox")).toBe(`0 0 ${record.image_width} ${record.image_height}`);
    await waitForOverlayImage(page);
    const rects = await drawnBoxes(page.locator(".overlay rect.box"));
    expect(rects).toStrictEqual(record.detections.map((d) => ({ label: d.label, confidence: d.confidence, ...d.box })));
    const runLink = await page.locator('[data-field="dagster-run"]').getAttribute("href");
    expect(runLink?.endsWith(`/runs/${record.provenance.dagster_run_id}`), String(runLink)).toBe(true);
    expect(await page.locator("table.detections tbody tr").count()).toBe(record.detections.length);
    await screenshot(page, "image.png", { fullPage: true });

    // Hiding a class removes its boxes; the confidence slider removes the weak ones.
    const label = record.detections[0].label;
    await page.locator(`input[name="class-toggle"][value="${label}"]`).uncheck();
    const visible = record.detections.filter((d) => d.label !== label);
    expect(await page.locator(".overlay rect.box").count()).toBe(visible.length);
    await page.locator('input[name="min-confidence"]').fill("0.9");
    expect(await page.locator(".overlay rect.box").count()).toBe(visible.filter((d) => d.confidence >= 0.9).length);
  });

  test("narrows the grid by class and minimum count", async ({ page, pipeline }) => {
    const summary = pipeline.tabled.reduce((best, s) =>
      Object.keys(s.images_with_class).length > Object.keys(best.images_with_class).length ? s : best,
    );
    const [label] = Object.entries(summary.images_with_class).sort((a, b) => b[1] - a[1])[0] ?? [];
    truthy(label, "no class detected in any recent hour");
    // Per image with the class, its detections of it.
    const counts = hourSql<{ image_key: string; n: number }>(
      summary.partition,
      `SELECT image_key, count(*) AS n FROM detections WHERE label = ${literal(label)} GROUP BY image_key`,
    ).map((row) => row.n);
    const min = Math.max(...counts);
    const cards = () => page.locator(".grid .card").count();

    await page.goto(`${VIEWER_URL}/hours/${summary.partition}`);
    await page.locator('select[name="class"]').selectOption(label);
    await page.locator("button[type=submit]").click();
    await page.waitForURL((url) => url.searchParams.get("class") === label);
    const withClass = counts.filter((count) => count >= 1).length;
    expect(withClass).toBe(summary.images_with_class[label]);
    expect(await gridTotal(page, withClass)).toBe(withClass);
    expect(await cards()).toBe(Math.min(PAGE_SIZE, withClass));

    await page.locator('input[name="min"]').fill(String(min));
    await page.locator("button[type=submit]").click();
    await page.waitForURL((url) => url.searchParams.get("min") === String(min));
    const atLeast = counts.filter((count) => count >= min).length;
    expect(await gridTotal(page, atLeast)).toBe(atLeast);
    expect(await cards()).toBe(Math.min(PAGE_SIZE, atLeast));
    expect(atLeast <= withClass && withClass <= summary.image_count).toBe(true);
    await screenshot(page, "hour-filtered.png", { fullPage: true });

    await page.goto(`${VIEWER_URL}/hours/${summary.partition}?class=${encodeURIComponent(label)}&min=${min + 1}`);
    expect(await cards()).toBe(0);
  });

  test("paginates by 48", async ({ page, pipeline }) => {
    const summary = pipeline.tabled.reduce((best, s) => (s.image_count > best.image_count ? s : best));
    const pages = Math.ceil(summary.image_count / PAGE_SIZE);
    await page.goto(`${VIEWER_URL}/hours/${summary.partition}?page=${pages}`);
    const keys = await gridKeys(page);
    const last = hourSql<Pick<ImageRow, "image_key">>(
      summary.partition,
      `SELECT image_key FROM images ${GRID_ORDER} LIMIT ${PAGE_SIZE} OFFSET ${(pages - 1) * PAGE_SIZE}`,
    );
    expect(keys).toStrictEqual(last.map((image) => image.image_key));
  });

  test("filters the grid by source, alone and with a class", async ({ page, pipeline }) => {
    const summary = pipeline.tabled.reduce((best, s) =>
      Object.keys(s.source_counts ?? {}).length > Object.keys(best.source_counts ?? {}).length ? s : best,
    );
    const sources = Object.entries(summary.source_counts ?? {});
    expect(sources.length > 0, "no recent summary counts sources").toBe(true);
    const [source, count] = sources.sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]))[0];

    await page.goto(`${VIEWER_URL}/hours/${summary.partition}`);
    const offered = await page
      .locator('select[name="source"] option')
      .evaluateAll((options: HTMLOptionElement[]) => options.map((option) => option.value).filter(Boolean));
    expect(offered).toStrictEqual(Object.keys(summary.source_counts ?? {}).sort());
    await page.locator('select[name="source"]').selectOption(source);
    await page.locator("button[type=submit]").click();
    await page.waitForURL((url) => url.searchParams.get("source") === source);
    expect(await gridTotal(page, count)).toBe(count);
    expect(await page.locator(".grid .card").count()).toBe(Math.min(PAGE_SIZE, count));
    const fromSource = hourSql<Pick<ImageRow, "image_key">>(
      summary.partition,
      `SELECT image_key FROM images WHERE source = ${literal(source)} ${GRID_ORDER}`,
    );
    expect(fromSource.length, "the summary and the table agree").toBe(count);
    const keys = await gridKeys(page);
    expect(keys).toStrictEqual(fromSource.slice(0, PAGE_SIZE).map((image) => image.image_key));

    // With a class too: both filters hold.
    const [top] = hourSql<{ label: string; images: number }>(
      summary.partition,
      `SELECT label, count(DISTINCT image_key) AS images FROM detections WHERE source = ${literal(source)} ` +
        "GROUP BY label ORDER BY images DESC, label LIMIT 1",
    );
    if (top !== undefined) {
      const { label, images: both } = top;
      await page.locator('select[name="class"]').selectOption(label);
      await page.locator("button[type=submit]").click();
      await page.waitForURL((url) => url.searchParams.get("class") === label && url.searchParams.get("source") === source);
      expect(await gridTotal(page, both)).toBe(both);
      expect(await page.locator(".grid .card").count()).toBe(Math.min(PAGE_SIZE, both));
    }
    await screenshot(page, "hour-source.png", { fullPage: true });
  });
});
