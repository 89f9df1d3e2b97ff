// A tracked camera's source page (/sources/…): what the clip's truth (JOURNEY_TRACKS) says it counts and draws.
import type { Page } from "@playwright/test";
import { truthy } from "../support/assert";
import { expect, screenshot, test, TRACKS } from "../support/journey";

/** The number a test id's element shows (thousands separators dropped). */
async function shown(page: Page, testId: string): Promise<number> {
  const element = page.getByTestId(testId);
  expect(await element.count(), `one element [data-testid="${testId}"]`).toBe(1);
  const text = (await element.innerText()).trim();
  expect(text, `[data-testid="${testId}"] shows ${JSON.stringify(text)}`).toMatch(/^[\d,]+$/);
  return Number(text.replaceAll(",", ""));
}

test.describe("a tracked camera's source page", () => {
  test.skip(TRACKS === null, "JOURNEY_TRACKS is not set: no tracked clip was ingested, so no source page to check");

  test("counts each distinct object, crossing and zone, draws the lines and zones, and strips the latest frames", async ({
    page,
    journey,
  }) => {
    truthy(TRACKS);
    const { source, unique, crossings, zones, lines, visits } = TRACKS;
    const url = `${journey.viewerUrl}/sources/${encodeURIComponent(source)}?last=24h`;
    const response = await page.goto(url);
    expect(response?.status(), url).toBe(200);
    expect((await page.locator("h1").innerText()).trim()).toBe(`Source ${source}`);

    for (const [label, count] of Object.entries(unique)) {
      expect(await shown(page, `unique-${label}`), `distinct ${label}s`).toBe(count);
    }
    for (const [line, count] of Object.entries(crossings)) {
      expect(await shown(page, `crossing-${line}-in`), `crossings of ${line} in`).toBe(count.in ?? 0);
      expect(await shown(page, `crossing-${line}-out`), `crossings of ${line} out`).toBe(count.out ?? 0);
    }
    for (const zone of zones) expect(await shown(page, `zone-${zone}-visits`), `visits of ${zone}`).toBe(visits[zone]);

    // Every crossing and visit is listed (fewer than the page's 50), each as the user drew its line or zone.
    const events = page.getByTestId("source-events");
    for (const [line, count] of Object.entries(crossings)) {
      for (const direction of ["in", "out"] as const) {
        const rows = events.locator(`tbody tr[data-kind="crossing"][data-name="${line}"][data-direction="${direction}"]`);
        expect(await rows.count(), `${line} ${direction} rows in the events table`).toBe(count[direction] ?? 0);
      }
    }
    for (const zone of zones) {
      const rows = events.locator(`tbody tr[data-kind="zone"][data-name="${zone}"]`);
      expect(await rows.count(), `${zone} rows in the events table`).toBe(visits[zone]);
    }

    const drawing = page.getByTestId("lines-zones");
    for (const line of lines) {
      expect(await drawing.locator(`[aria-label="line ${line}"]`).count(), `line ${line} is drawn`).toBe(1);
    }
    for (const zone of zones) {
      expect(await drawing.locator(`[aria-label="zone ${zone}"]`).count(), `zone ${zone} is drawn`).toBe(1);
    }

    const frames = page.getByTestId("strip-frame");
    expect((await frames.count()) >= 1, "the strip has no frame").toBe(true);
    const boxed = frames.filter({ has: page.locator("[data-track-id]") });
    expect((await boxed.count()) >= 1, "no strip frame has a box with a track id").toBe(true);
    const trackIds = await boxed
      .first()
      .locator("[data-track-id]")
      .evaluateAll((boxes) => boxes.map((box) => box.getAttribute("data-track-id")));
    expect(
      trackIds.every((id) => id && id.length >= 6),
      JSON.stringify(trackIds),
    ).toBe(true);

    await page.waitForLoadState("networkidle");
    await page.waitForFunction(() =>
      [...document.querySelectorAll<HTMLImageElement>(".lines-zones img")].every(
        (img) => img.complete && img.naturalWidth > 0,
      ),
    );
    await screenshot(page, journey, "source.png", true);

    // A frame of the strip opens its image's page.
    const key = await boxed.first().getAttribute("data-image-key");
    truthy(key, "the strip frame names no image key");
    await boxed.first().click();
    await page.waitForURL((next) => decodeURIComponent(next.pathname) === `/images/${key}`);
    await page.locator(".key code").waitFor();
    expect(await page.locator(".key code").innerText()).toBe(key);
  });
});
