// The viewer as the container deployment serves it (imgassets_tests/test_containers.py starts it), in one browser
// session (serial): a user signs in, opens the hour of the photos they ingested, sees each of them, and sees the
// boxes on one.
//
//   VIEWER_URL=… VIEWER_USER=… VIEWER_PASSWORD=… HOUR=… SOURCE=… IMAGES='{"images/…": {"dog": 1}}' \
//     npx playwright test --project deploy
import { expect, type Page, test } from "@playwright/test";
import { requireEnv, truthy, withoutTrailingSlash } from "../support/assert";
import { drawnLabelCounts, gridKeys, waitForGridImages, waitForOverlayImage } from "../support/pages";

test.describe("the viewer container", () => {
  test.describe.configure({ mode: "serial" });

  let viewerUrl: string;
  let hour: string;
  let source: string;
  /** Label counts of each image, from its detection record. */
  let images: Record<string, Record<string, number>>;
  let page: Page;

  test.beforeAll(async ({ browser }) => {
    viewerUrl = withoutTrailingSlash(requireEnv("VIEWER_URL"));
    hour = requireEnv("HOUR");
    source = requireEnv("SOURCE");
    images = JSON.parse(requireEnv("IMAGES")) as typeof images;
    page = await browser.newPage();
  });

  test.afterAll(async () => {
    await page?.close();
  });

  test("asks for a login, refuses a wrong password, and admits the right one", async () => {
    await page.goto(`${viewerUrl}/hours/${hour}?source=${source}`);
    expect(new URL(page.url()).pathname).toMatch(/\/login$/);
    await page.locator('input[name="user"]').fill(requireEnv("VIEWER_USER"));
    await page.locator('input[name="password"]').fill("not the password");
    await page.locator("button[type=submit]").click();
    await page.locator('input[name="password"]').waitFor();
    expect(new URL(page.url()).pathname).toMatch(/\/login$/);
    await page.locator('input[name="password"]').fill(requireEnv("VIEWER_PASSWORD"));
    await page.locator("button[type=submit]").click();
    await page.waitForURL((url) => url.pathname === `/hours/${hour}`);
  });

  test("shows every photo of the source in its hour", async () => {
    const expected = Object.keys(images).sort();
    await page.locator(`.result-count[data-total="${expected.length}"]`).waitFor({ timeout: 20_000 });
    const shown = await gridKeys(page);
    expect(shown.sort()).toStrictEqual(expected);
    await waitForGridImages(page);
  });

  test("draws the detector's boxes on an image", async () => {
    const found = Object.entries(images).find(([, counts]) => Object.keys(counts).length > 0);
    truthy(found, "no image with detections");
    const [key, counts] = found;
    await page.goto(`${viewerUrl}/images/${key}`);
    expect(await drawnLabelCounts(page)).toStrictEqual(counts);
    await waitForOverlayImage(page);
  });
});
