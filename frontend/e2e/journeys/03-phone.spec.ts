// The journey's pages on a phone.
import { expect, overflow, PHONE, screenshot, test, TRACKS } from "../support/journey";
import { partitionOfImageKey } from "../support/partitions";

test.describe("on a phone", () => {
  test.use({ viewport: PHONE });

  test("shows the journey's pages without sideways scrolling", async ({ page, journey }) => {
    const { viewerUrl, source, keys, withClass } = journey;
    const pages = [
      "/",
      `/hours/${partitionOfImageKey(keys[0])}?source=${source}`,
      `/images/${withClass[0]}`,
      `/search?last=1d&source=${source}`,
      ...(TRACKS === null ? [] : [`/sources/${encodeURIComponent(TRACKS.source)}?last=24h`]),
    ];
    for (const path of pages) {
      await page.goto(`${viewerUrl}${path}`);
      expect(await overflow(page), `${path} scrolls sideways at ${PHONE.width} px`).toBe(0);
      if (path === "/") await screenshot(page, journey, "viewer-phone.png");
    }
  });
});
