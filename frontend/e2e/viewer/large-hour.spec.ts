// The largest hour's page: how fast the server answers and the browser loads it (printed, not asserted).
import { screenshot } from "../support/artifacts";
import { median, PAGE_SIZE, test, VIEWER_URL } from "../support/viewer";

test.describe("large hour", () => {
  test("loads the largest hour page quickly (figures printed, not asserted)", async ({ page, pipeline }) => {
    const summary = pipeline.tabled.reduce((best, s) => (s.image_count > best.image_count ? s : best));
    const url = `${VIEWER_URL}/hours/${summary.partition}`;
    const server: number[] = [];
    for (let run = 0; run < 5; run += 1) {
      const start = performance.now();
      const response = await fetch(url);
      await response.text();
      server.push(performance.now() - start);
    }
    const browserRuns: { ttfb: number; domContentLoaded: number; load: number }[] = [];
    for (let run = 0; run < 3; run += 1) {
      await page.goto(url, { waitUntil: "load" });
      browserRuns.push(
        await page.evaluate(() => {
          const [nav] = performance.getEntriesByType("navigation") as PerformanceNavigationTiming[];
          return { ttfb: nav.responseStart, domContentLoaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd };
        }),
      );
    }
    let clientNavigation = NaN;
    if (summary.image_count > PAGE_SIZE) {
      const start = performance.now();
      await page.locator(".pager a[rel=next]").click();
      await page.waitForURL((u) => u.searchParams.get("page") === "2");
      await page.locator(".grid .card").first().waitFor();
      clientNavigation = performance.now() - start;
    }
    const ms = (value: number) => `${value.toFixed(1)} ms`;
    console.log(
      `hour page ${summary.partition} (${summary.image_count} images, ${PAGE_SIZE} per page): ` +
        `server response median ${ms(median(server))} (${server.map(ms).join(", ")}); ` +
        `browser TTFB ${ms(median(browserRuns.map((r) => r.ttfb)))}, ` +
        `DOMContentLoaded ${ms(median(browserRuns.map((r) => r.domContentLoaded)))}, ` +
        `load ${ms(median(browserRuns.map((r) => r.load)))}; ` +
        `client-side navigation to page 2 ${ms(clientNavigation)}`,
    );
    await screenshot(page, "large-hour.png", { fullPage: true });
  });
});
