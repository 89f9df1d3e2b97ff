// The viewer as the container deployment serves it (imgassets_tests/test_containers.py starts it): a user signs in,
// opens the hour of the photos they ingested, sees each of them, and sees the boxes on one.
//
//   VIEWER_URL=… VIEWER_USER=… VIEWER_PASSWORD=… HOUR=… SOURCE=… IMAGES='{"images/…": {"dog": 1}}' \
//     node --test e2e/deploy.e2e.test.mjs
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { chromium } from "playwright-core";

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} must be set`);
  return value;
};
const VIEWER_URL = env("VIEWER_URL").replace(/\/+$/, "");
const HOUR = env("HOUR");
const SOURCE = env("SOURCE");
/** @type {Record<string, Record<string, number>>} label counts of each image, from its detection record */
const IMAGES = JSON.parse(env("IMAGES"));

let browser;
let page;

describe("the viewer container", () => {
  before(async () => {
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
    });
    page = await browser.newPage();
  });
  after(async () => {
    await browser?.close();
  });

  it("asks for a login, refuses a wrong password, and admits the right one", async () => {
    await page.goto(`${VIEWER_URL}/hours/${HOUR}?source=${SOURCE}`);
    assert.match(new URL(page.url()).pathname, /\/login$/);
    await page.locator('input[name="user"]').fill(env("VIEWER_USER"));
    await page.locator('input[name="password"]').fill("not the password");
    await page.locator("button[type=submit]").click();
    await page.locator('input[name="password"]').waitFor();
    assert.match(new URL(page.url()).pathname, /\/login$/);
    await page.locator('input[name="password"]').fill(env("VIEWER_PASSWORD"));
    await page.locator("button[type=submit]").click();
    await page.waitForURL((url) => url.pathname === `/hours/${HOUR}`);
  });

  it("shows every photo of the source in its hour", async () => {
    const expected = Object.keys(IMAGES).sort();
    await page.locator(`.result-count[data-total="${expected.length}"]`).waitFor({ timeout: 20_000 });
    const shown = await page.locator(".grid .card").evaluateAll((cards) => cards.map((c) => c.dataset.imageKey));
    assert.deepEqual(shown.sort(), expected);
    await page.waitForFunction(() =>
      [...document.querySelectorAll(".grid .card img")].every((img) => img.complete && img.naturalWidth > 0),
    );
  });

  it("draws the detector's boxes on an image", async () => {
    const [key, counts] = Object.entries(IMAGES).find(([, found]) => Object.keys(found).length > 0);
    await page.goto(`${VIEWER_URL}/images/${key}`);
    const labels = await page.locator(".overlay rect.box").evaluateAll((rects) => rects.map((r) => r.dataset.label));
    const drawn = {};
    for (const label of labels) drawn[label] = (drawn[label] ?? 0) + 1;
    assert.deepEqual(drawn, counts);
    await page.waitForFunction(() => document.querySelector(".overlay img")?.naturalWidth > 0);
  });
});
