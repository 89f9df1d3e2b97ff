// Browser tests of the viewer against a running server and the pipeline's real S3 output.
//
//   VIEWER_URL=http://127.0.0.1:3001 IMGASSETS_S3_ENDPOINT_URL=… IMGASSETS_S3_ACCESS_KEY_ID=… \
//   IMGASSETS_S3_SECRET_ACCESS_KEY=… npm run test:e2e
//
// Every expectation is read from S3 (summaries, detection records): nothing here knows what was ingested.
// Needs at least one hour summary with one image that has detections. Screenshots go to test-artifacts/.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { chromium } from "playwright-core";

const VIEWER_URL = (process.env.VIEWER_URL ?? "http://127.0.0.1:3001").replace(/\/+$/, "");
const BUCKET = process.env.IMGASSETS_S3_BUCKET || "imgassets";
const ARTIFACTS = new URL("../test-artifacts/", import.meta.url);
const PAGE_SIZE = 48;
const TIMELINE_HOURS = 168;

const s3 = new S3Client({
  endpoint: process.env.IMGASSETS_S3_ENDPOINT_URL || "http://127.0.0.1:8333",
  region: process.env.IMGASSETS_S3_REGION || "us-east-1",
  forcePathStyle: (process.env.IMGASSETS_S3_ADDRESSING_STYLE || "path") === "path",
  credentials: process.env.IMGASSETS_S3_ACCESS_KEY_ID
    ? {
        accessKeyId: process.env.IMGASSETS_S3_ACCESS_KEY_ID,
        secretAccessKey: process.env.IMGASSETS_S3_SECRET_ACCESS_KEY ?? "",
      }
    : undefined,
});

async function readJson(key) {
  const out = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return JSON.parse(await out.Body.transformToString());
}

/** The summaries the overview shows: the TIMELINE_HOURS hours ending at the newest one, newest first. */
async function recentSummaries() {
  const keys = [];
  let token;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: "summaries/", ContinuationToken: token }));
    for (const item of page.Contents ?? []) {
      if (/^summaries\/\d{4}\/\d{2}\/\d{2}\/\d{2}\.json$/.test(item.Key)) keys.push(item.Key);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  keys.sort().reverse();
  const hourOf = (key) => Date.parse(`${key.slice(10, 20).replaceAll("/", "-")}T${key.slice(21, 23)}:00:00Z`);
  const oldest = keys.length ? hourOf(keys[0]) - (TIMELINE_HOURS - 1) * 3_600_000 : 0;
  return Promise.all(keys.filter((key) => hourOf(key) >= oldest).map(readJson));
}

/** GET with the path sent verbatim (fetch and browsers would normalize `..` and `%2e%2e` away). */
function rawGet(path) {
  const url = new URL(VIEWER_URL);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path, method: "GET" }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

const number = (text) => Number(text.replaceAll(",", "").trim());
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

let browser;
let page;
let summaries;

async function screenshot(name) {
  await page.screenshot({ path: new URL(name, ARTIFACTS).pathname, fullPage: true });
}

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  summaries = await recentSummaries();
  assert.ok(summaries.length > 0, "no hour summary in S3: run the pipeline first");
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
});

after(async () => {
  await browser?.close();
  s3.destroy();
});

describe("overview", () => {
  it("shows the totals, hours and classes of the summaries", async () => {
    const response = await page.goto(`${VIEWER_URL}/`);
    assert.equal(response.status(), 200);
    const stat = async (name) => number(await page.locator(`[data-stat="${name}"] b`).innerText());
    const sum = (field) => summaries.reduce((total, s) => total + s[field], 0);
    assert.equal(await stat("hours"), summaries.length);
    assert.equal(await stat("images"), sum("image_count"));
    assert.equal(await stat("objects"), sum("total_objects"));
    assert.equal(await stat("rejected"), sum("rejected_count"));

    for (const summary of summaries) {
      const row = page.locator(`table.hours tr[data-partition="${summary.partition}"]`);
      assert.equal(number(await row.locator('[data-field="images"]').innerText()), summary.image_count);
      assert.equal(number(await row.locator('[data-field="objects"]').innerText()), summary.total_objects);
      assert.equal(number(await row.locator('[data-field="rejected"]').innerText()), summary.rejected_count);
      const bar = page.locator(`.chart [data-partition="${summary.partition}"]`);
      assert.equal(Number(await bar.getAttribute("data-objects")), summary.total_objects);
    }

    const classes = new Map();
    for (const summary of summaries) {
      for (const [label, count] of Object.entries(summary.class_counts)) {
        classes.set(label, (classes.get(label) ?? 0) + count);
      }
    }
    const rows = await page.locator("table.top-classes tbody tr").evaluateAll((trs) =>
      trs.map((tr) => [tr.dataset.label, Number(tr.dataset.objects)]),
    );
    assert.ok(rows.length > 0 || classes.size === 0);
    for (const [label, objects] of rows) assert.equal(objects, classes.get(label), label);
    const top = Math.max(0, ...classes.values());
    if (rows.length) assert.equal(rows[0][1], top, "the first class is the most frequent");

    const latest = await page.locator(".latest .card").count();
    assert.equal(latest, Math.min(12, sum("image_count")));
    await screenshot("overview.png");
  });

  it("revalidates by itself", async () => {
    await page.goto(`${VIEWER_URL}/`);
    const request = await page.waitForRequest((req) => req.url().includes(".data"), { timeout: 12_000 });
    assert.ok(request.url().startsWith(VIEWER_URL));
  });
});

describe("hour and image pages", () => {
  it("clicks into an hour, then an image, and draws its detections", async () => {
    const summary = summaries.find((s) => s.images.some((image) => image.objects > 0));
    assert.ok(summary, "no image with detections in the recent summaries");
    await page.goto(`${VIEWER_URL}/`);
    await page.locator(`table.hours tr[data-partition="${summary.partition}"] a`).click();
    await page.waitForURL(`**/hours/${summary.partition}`);
    await page.locator(".result-count").waitFor();
    assert.equal(number(await page.locator('[data-stat="images"] b').innerText()), summary.image_count);
    // Counted here from the images themselves, not read from the summary's own field.
    const empty = summary.images.filter((image) => Object.keys(image.counts).length === 0).length;
    assert.equal(number(await page.locator('[data-stat="empty"] b').innerText()), empty);
    assert.equal(await page.locator(".grid .card").count(), Math.min(PAGE_SIZE, summary.image_count));
    const firstPage = summary.images.slice(0, PAGE_SIZE);
    const shownKeys = await page.locator(".grid .card").evaluateAll((cards) => cards.map((c) => c.dataset.imageKey));
    assert.deepEqual(shownKeys, firstPage.map((image) => image.image_key));
    await page.waitForFunction(() =>
      [...document.querySelectorAll(".grid .card img")].slice(0, 8).every((img) => img.complete && img.naturalWidth > 0),
    );
    for (const rejected of summary.rejected.slice(0, 20)) {
      const row = page.locator(`.rejected tr[data-image-key="${rejected.image_key}"] .reason`);
      assert.equal(await row.innerText(), rejected.reason);
    }
    await screenshot("hour.png");

    const target = firstPage.reduce((best, image) => (image.objects > best.objects ? image : best));
    await page.locator(`.card[data-image-key="${target.image_key}"] a.name`).click();
    await page.waitForURL(`**/images/${target.image_key}`);
    const record = await readJson(target.detection_key);
    const svg = page.locator(".overlay svg");
    assert.equal(await svg.getAttribute("viewBox"), `0 0 ${record.image_width} ${record.image_height}`);
    await page.waitForFunction(() => {
      const img = document.querySelector(".overlay img");
      return img?.complete && img.naturalWidth > 0;
    });
    const rects = await page.locator(".overlay rect.box").evaluateAll((nodes) =>
      nodes.map((r) => ({
        label: r.dataset.label,
        confidence: Number(r.dataset.confidence),
        x: Number(r.getAttribute("x")),
        y: Number(r.getAttribute("y")),
        w: Number(r.getAttribute("width")),
        h: Number(r.getAttribute("height")),
      })),
    );
    assert.deepEqual(
      rects,
      record.detections.map((d) => ({ label: d.label, confidence: d.confidence, ...d.box })),
    );
    const runLink = await page.locator('[data-field="dagster-run"]').getAttribute("href");
    assert.ok(runLink.endsWith(`/runs/${record.provenance.dagster_run_id}`), runLink);
    assert.equal(await page.locator("table.detections tbody tr").count(), record.detections.length);
    await screenshot("image.png");

    // Hiding a class removes its boxes; the confidence slider removes the weak ones.
    const label = record.detections[0].label;
    await page.locator(`input[name="class-toggle"][value="${label}"]`).uncheck();
    const visible = record.detections.filter((d) => d.label !== label);
    assert.equal(await page.locator(".overlay rect.box").count(), visible.length);
    await page.locator('input[name="min-confidence"]').fill("0.9");
    assert.equal(
      await page.locator(".overlay rect.box").count(),
      visible.filter((d) => d.confidence >= 0.9).length,
    );
  });

  it("narrows the grid by class and minimum count", async () => {
    const summary = summaries.reduce((best, s) =>
      Object.keys(s.images_with_class).length > Object.keys(best.images_with_class).length ? s : best,
    );
    const [label] = Object.entries(summary.images_with_class).sort((a, b) => b[1] - a[1])[0] ?? [];
    assert.ok(label, "no class detected in any recent hour");
    const counts = summary.images.map((image) => image.counts[label] ?? 0);
    const min = Math.max(...counts);
    const cards = () => page.locator(".grid .card").count();
    // Client-side navigation changes the URL before React commits the new page: wait for the count to settle.
    const total = async (expected) => {
      await page.locator(`.result-count[data-total="${expected}"]`).waitFor({ timeout: 5_000 }).catch(() => {});
      return Number(await page.locator(".result-count").getAttribute("data-total"));
    };

    await page.goto(`${VIEWER_URL}/hours/${summary.partition}`);
    await page.locator('select[name="class"]').selectOption(label);
    await page.locator("button[type=submit]").click();
    await page.waitForURL((url) => url.searchParams.get("class") === label);
    const withClass = counts.filter((count) => count >= 1).length;
    assert.equal(withClass, summary.images_with_class[label]);
    assert.equal(await total(withClass), withClass);
    assert.equal(await cards(), Math.min(PAGE_SIZE, withClass));

    await page.locator('input[name="min"]').fill(String(min));
    await page.locator("button[type=submit]").click();
    await page.waitForURL((url) => url.searchParams.get("min") === String(min));
    const atLeast = counts.filter((count) => count >= min).length;
    assert.equal(await total(atLeast), atLeast);
    assert.equal(await cards(), Math.min(PAGE_SIZE, atLeast));
    assert.ok(atLeast <= withClass && withClass <= summary.image_count);
    await screenshot("hour-filtered.png");

    await page.goto(`${VIEWER_URL}/hours/${summary.partition}?class=${encodeURIComponent(label)}&min=${min + 1}`);
    assert.equal(await cards(), 0);
  });

  it("paginates by 48", async () => {
    const summary = summaries.reduce((best, s) => (s.image_count > best.image_count ? s : best));
    const pages = Math.ceil(summary.image_count / PAGE_SIZE);
    await page.goto(`${VIEWER_URL}/hours/${summary.partition}?page=${pages}`);
    const keys = await page.locator(".grid .card").evaluateAll((cards) => cards.map((c) => c.dataset.imageKey));
    assert.deepEqual(keys, summary.images.slice((pages - 1) * PAGE_SIZE).map((image) => image.image_key));
  });
});

describe("refusals and missing objects", () => {
  it("refuses keys outside the image layout", async () => {
    const summaryKey = `summaries/${summaries[0].partition.slice(0, 10).replaceAll("-", "/")}/${summaries[0].partition.slice(11, 13)}.json`;
    const [image] = summaries.find((s) => s.images.length)?.images ?? [];
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
      const { status, body } = await rawGet(path);
      assert.ok(status === 400 || status === 404, `${path} → ${status}`);
      assert.ok(!body.includes("imgassets.summary.v1") && !body.includes("imgassets.detections.v1"), path);
    }
  });

  it("serves images and thumbnails with their type and cache headers", async () => {
    const [image] = summaries.find((s) => s.images.length).images;
    for (const kind of ["original", "thumbnail"]) {
      const response = await fetch(`${VIEWER_URL}/media/${kind}/${image.image_key}`);
      assert.equal(response.status, 200);
      assert.match(response.headers.get("content-type"), /^image\//);
      assert.match(response.headers.get("cache-control"), /max-age=\d+/);
      assert.ok((await response.arrayBuffer()).byteLength > 0);
    }
  });

  it("shows a 404 page for an image that does not exist", async () => {
    const [image] = summaries.find((s) => s.images.length).images;
    const missing = image.image_key.replace(/\/[0-9a-f]{12}-[^/]+$/, "/000000000000-does-not-exist.jpg");
    const response = await page.goto(`${VIEWER_URL}/images/${missing}`);
    assert.equal(response.status(), 404);
    assert.match(await page.locator("h1").innerText(), /404/);
    await screenshot("missing-image.png");
    assert.equal((await rawGet(`/media/original/${missing}`)).status, 404);
  });
});

describe("large hour", () => {
  it("loads the largest hour page quickly (figures printed, not asserted)", async () => {
    const summary = summaries.reduce((best, s) => (s.image_count > best.image_count ? s : best));
    const url = `${VIEWER_URL}/hours/${summary.partition}`;
    const server = [];
    for (let run = 0; run < 5; run += 1) {
      const start = performance.now();
      const response = await fetch(url);
      await response.text();
      server.push(performance.now() - start);
    }
    const browserRuns = [];
    for (let run = 0; run < 3; run += 1) {
      await page.goto(url, { waitUntil: "load" });
      browserRuns.push(
        await page.evaluate(() => {
          const [nav] = performance.getEntriesByType("navigation");
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
    const ms = (value) => `${value.toFixed(1)} ms`;
    console.log(
      `hour page ${summary.partition} (${summary.image_count} images, ${PAGE_SIZE} per page): ` +
        `server response median ${ms(median(server))} (${server.map(ms).join(", ")}); ` +
        `browser TTFB ${ms(median(browserRuns.map((r) => r.ttfb)))}, ` +
        `DOMContentLoaded ${ms(median(browserRuns.map((r) => r.domContentLoaded)))}, ` +
        `load ${ms(median(browserRuns.map((r) => r.load)))}; ` +
        `client-side navigation to page 2 ${ms(clientNavigation)}`,
    );
    await screenshot("large-hour.png");
  });
});
