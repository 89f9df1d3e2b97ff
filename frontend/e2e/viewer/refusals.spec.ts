// What the viewer refuses (keys outside the image layout, through its pages and its media) and how it serves its
// media and a missing image.
import { screenshot } from "../support/artifacts";
import { rawGet } from "../support/http";
import { summaryKeyOf } from "../support/partitions";
import { BUCKET } from "../support/s3";
import { expect, test, VIEWER_URL } from "../support/viewer";

test.describe("refusals and missing objects", () => {
  test("refuses keys outside the image layout", async ({ pipeline }) => {
    const summaryKey = summaryKeyOf(pipeline.summaries[0].partition);
    const image = pipeline.sample;
    const hourDir = image.image_key.slice(0, image.image_key.lastIndexOf("/"));
    const paths = [
      `/images/images/../${summaryKey}`,
      `/images/images/%2e%2e/${summaryKey}`,
      `/images/%2e%2e%2f${summaryKey}`,
      `/images/${summaryKey}`,
      `/images/${image.detection_key}`,
      `/media/original/${summaryKey}`,
      `/media/original/images/../${summaryKey}`,
      `/media/original/${hourDir}/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f${summaryKey}`,
      `/media/original/${image.detection_key}`,
      `/media/thumbnail/thumbnails/${image.image_key.slice("images/".length)}.jpg`,
      `/media/original/${BUCKET}/${image.image_key}`,
      `/media/original/..%2f${BUCKET}%2f${image.image_key}`,
      `/media/original/%2F${image.image_key}`,
    ];
    for (const path of paths) {
      const { status, body } = await rawGet(VIEWER_URL, path);
      expect(status === 400 || status === 404, `${path} → ${status}`).toBe(true);
      expect(!body.includes("imgassets.summary.") && !body.includes("imgassets.detections.v1"), path).toBe(true);
    }
  });

  test("serves images and thumbnails with their type and cache headers", async ({ pipeline }) => {
    const image = pipeline.sample;
    for (const kind of ["original", "thumbnail"]) {
      const response = await fetch(`${VIEWER_URL}/media/${kind}/${image.image_key}`);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toMatch(/^image\//);
      expect(response.headers.get("cache-control")).toMatch(/max-age=\d+/);
      expect((await response.arrayBuffer()).byteLength > 0).toBe(true);
    }
  });

  test("shows a 404 page for an image that does not exist", async ({ page, pipeline }) => {
    const image = pipeline.sample;
    const missing = image.image_key.replace(/\/[0-9a-f]{12}-[^/]+$/, "/000000000000-does-not-exist.jpg");
    const response = await page.goto(`${VIEWER_URL}/images/${missing}`);
    expect(response?.status()).toBe(404);
    expect(await page.locator("h1").innerText()).toMatch(/404/);
    await screenshot(page, "missing-image.png", { fullPage: true });
    expect((await rawGet(VIEWER_URL, `/media/original/${missing}`)).status).toBe(404);
  });
});
