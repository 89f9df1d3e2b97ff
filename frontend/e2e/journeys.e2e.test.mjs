// The README's journeys in a real browser, with the values the user gave: run by imgassets_tests/test_journeys.py
// after `imgassets ingest --source …` of a folder and a video, with
//
//   VIEWER_URL, DAGSTER_URL, IMGASSETS_CLI and the stack's IMGASSETS_* variables;
//   JOURNEY_SOURCE        the source name the user typed for the folder
//   JOURNEY_IMAGES        JSON: each of the folder's image keys → its class counts (as the images table says)
//   JOURNEY_CLASS         a class the user searches for
//   JOURNEY_VIDEO_SOURCE  the source name the user typed for the video
//   JOURNEY_VERSION       the detector version the user backfilled (`imgassets versions backfill NAME`)
//   JOURNEY_ADDED         JSON: the version the user added (`imgassets versions add NAME --onnx FILE`, then
//                         backfilled): {name, model (the file's name), layout}
//   JOURNEY_TRACKS        optional, JSON: the truth of a synthetic clip the test ingested and tracked,
//                         {source, unique: {class: distinct objects}, crossings: {line: {in, out}}, zones: [names],
//                         visits: {zone: visits},
//                         lines: [names]}; without it the source page's journey is skipped
//   SCREENSHOTS_DIR       where the README's screenshots go (docs/screenshots)
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { chromium } from "playwright-core";

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} must be set`);
  return value;
};
const VIEWER_URL = env("VIEWER_URL").replace(/\/+$/, "");
const DAGSTER_URL = env("DAGSTER_URL").replace(/\/+$/, "");
const SOURCE = env("JOURNEY_SOURCE");
/** @type {Record<string, Record<string, number>>} */
const IMAGES = JSON.parse(env("JOURNEY_IMAGES"));
const CLASS = env("JOURNEY_CLASS");
const VIDEO_SOURCE = env("JOURNEY_VIDEO_SOURCE");
const VERSION = env("JOURNEY_VERSION");
/** @type {{name: string, model: string, layout: string}} */
const ADDED = JSON.parse(env("JOURNEY_ADDED"));
const SCREENSHOTS = env("SCREENSHOTS_DIR");
/** @type {{source: string, unique: Record<string, number>, crossings: Record<string, {in: number, out: number}>, zones: string[], lines: string[]} | null} */
const TRACKS = process.env.JOURNEY_TRACKS ? JSON.parse(process.env.JOURNEY_TRACKS) : null;
const PHONE = { width: 390, height: 844 };

/** Rows of `text` over the last day's tables, as `imgassets query` gives them. */
function sql(text) {
  const out = execFileSync(env("IMGASSETS_CLI"), ["query", "--last", "1d", "--format", "json", text], {
    encoding: "utf8",
    env: process.env,
  });
  return out.split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line));
}

const keys = Object.keys(IMAGES).sort();
const withClass = keys.filter((key) => (IMAGES[key][CLASS] ?? 0) >= 1);
/** The hour partition of an image key (images/YYYY/MM/DD/HH/…). */
const hourOf = (key) => {
  const [, y, m, d, h] = key.split("/");
  return `${y}-${m}-${d}-${h}:00`;
};

let browser;
let page;

async function screenshot(name, fullPage = false) {
  await page.screenshot({ path: join(SCREENSHOTS, name), fullPage });
}

/** The page's width beyond the viewport (0 when nothing scrolls sideways). */
const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);

/** The `data` of a GraphQL request to Dagster's webserver (what its UI asks). */
async function graphql(query, variables) {
  const response = await fetch(`${DAGSTER_URL}/graphql`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  assert.ok(!body.errors, JSON.stringify(body.errors));
  return body.data;
}

/** Calls `fetch` every second until `done` accepts its value or `timeoutMs` passes; returns the last value. */
async function poll(fetch, done, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let value = await fetch();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    value = await fetch();
  }
  return value;
}

const cardKeys = () => page.locator(".grid .card").evaluateAll((cards) => cards.map((c) => c.dataset.imageKey).sort());

before(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  assert.ok(keys.length > 0 && withClass.length > 0, `the journey's images must include one with a ${CLASS}`);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
});

after(async () => {
  await browser?.close();
});

describe("the source the user named", () => {
  it("is listed on the overview with its images, and leads to them", async () => {
    await page.goto(`${VIEWER_URL}/`);
    const row = page.locator(`table.sources tr[data-source="${SOURCE}"]`);
    assert.equal(Number(await row.getAttribute("data-images")), keys.length);
    await screenshot("viewer-overview.png");
    await row.locator("a").click();
    await page.waitForURL((url) => url.searchParams.get("source") === SOURCE);
    await page.locator(`.result-total[data-total="${keys.length}"]`).waitFor({ timeout: 10_000 });
    assert.deepEqual(await cardKeys(), keys);
  });

  it("narrows the hour page to its images", async () => {
    const hour = hourOf(keys[0]);
    await page.goto(`${VIEWER_URL}/hours/${hour}`);
    await page.locator('select[name="source"]').selectOption(SOURCE);
    await page.locator("button[type=submit]").click();
    await page.waitForURL((url) => url.searchParams.get("source") === SOURCE);
    const expected = keys.filter((key) => hourOf(key) === hour);
    await page.locator(`.result-count[data-total="${expected.length}"]`).waitFor({ timeout: 10_000 });
    assert.deepEqual(await cardKeys(), expected);
    await page.waitForFunction(() =>
      [...document.querySelectorAll(".grid .card img")].every((img) => img.complete && img.naturalWidth > 0),
    );
    await screenshot("viewer-hour.png");
  });

  it("is named on each image's page, with the boxes of what was found", async () => {
    const key = withClass[0];
    await page.goto(`${VIEWER_URL}/images/${key}`);
    assert.equal(await page.locator('[data-field="source-name"]').innerText(), SOURCE);
    const found = await page.locator(".overlay rect.box").evaluateAll((rects) => rects.map((r) => r.dataset.label));
    const counts = {};
    for (const label of found) counts[label] = (counts[label] ?? 0) + 1;
    assert.deepEqual(counts, IMAGES[key]);
    await page.waitForFunction(() => document.querySelector(".overlay img")?.naturalWidth > 0);
    await screenshot("viewer-image.png");
  });

  it("is searched for with a class and a confidence, and downloaded", async () => {
    await page.goto(`${VIEWER_URL}/search`);
    await page.locator('.search-form select[name="last"]').selectOption("1d");
    await page.locator('.search-form input[name="source"]').fill(SOURCE);
    const row = page.locator(".search-form .condition").first();
    await row.locator('input[name="label"]').fill(CLASS);
    await row.locator('input[name="count"]').fill("1");
    await page.locator(".search-form button[type=submit]").click();
    await page.waitForURL((url) => url.searchParams.get("source") === SOURCE && url.searchParams.has("class"));
    await page.locator(`.result-total[data-total="${withClass.length}"]`).waitFor({ timeout: 10_000 });
    assert.deepEqual(await cardKeys(), withClass);
    await screenshot("viewer-search.png");

    // The confidence the user asks for: as many images as hold a CLASS that sure, counted in SQL.
    const [{ confidence }] = sql(
      `SELECT max(confidence) AS confidence FROM detections WHERE source = '${SOURCE}' AND label = '${CLASS}'`,
    );
    const url = new URL(page.url());
    url.searchParams.set("min_confidence", String(Math.floor(confidence * 100) / 100));
    await page.goto(url.toString());
    const sure = sql(
      `SELECT DISTINCT image_key FROM detections WHERE source = '${SOURCE}' AND label = '${CLASS}' ` +
        `AND confidence >= ${Math.floor(confidence * 100) / 100} ORDER BY 1`,
    ).map((r) => r.image_key);
    assert.ok(sure.length >= 1);
    assert.equal(Number(await page.locator(".result-total").getAttribute("data-total")), sure.length);
    assert.deepEqual(await cardKeys(), sure);

    const download = page.waitForEvent("download");
    await page.locator('a[data-download="csv"]').click();
    const lines = readFileSync(await (await download).path(), "utf8").split("\n").filter((line) => line !== "");
    const header = lines[0].split(",").map((name) => name.replaceAll('"', ""));
    const sourceColumn = header.indexOf("source");
    assert.ok(sourceColumn >= 0, lines[0]);
    assert.equal(lines.length - 1, sure.length);
    for (const line of lines.slice(1)) assert.equal(line.split(",")[sourceColumn].replaceAll('"', ""), SOURCE);
    const parquet = page.waitForEvent("download");
    await page.locator('a[data-download="parquet"]').click();
    const bytes = readFileSync(await (await parquet).path());
    assert.equal(bytes.subarray(0, 4).toString("latin1"), "PAR1");
    assert.ok(bytes.includes(Buffer.from(SOURCE)), "the Parquet download holds the source's rows");
  });

  it("names a video frame's source and its place in the video", async () => {
    const [frame] = sql(`SELECT image_key FROM images WHERE source = '${VIDEO_SOURCE}' ORDER BY image_key LIMIT 1`);
    assert.ok(frame, `no image of ${VIDEO_SOURCE}`);
    await page.goto(`${VIEWER_URL}/images/${frame.image_key}`);
    assert.equal(await page.locator('[data-field="source-name"]').innerText(), VIDEO_SOURCE);
    assert.match(await page.locator('[data-field="frame"]').innerText(), /^frame \d+ at \d+\.\d\d s of .*\.mp4$/);
  });
});

describe(
  "a tracked camera's source page",
  { skip: TRACKS === null ? "JOURNEY_TRACKS is not set: no tracked clip was ingested, so no source page to check" : false },
  () => {
    /** The number a test id's element shows (thousands separators dropped). */
    const shown = async (testId) => {
      const element = page.getByTestId(testId);
      assert.equal(await element.count(), 1, `one element [data-testid="${testId}"]`);
      const text = (await element.innerText()).trim();
      assert.match(text, /^[\d,]+$/, `[data-testid="${testId}"] shows ${JSON.stringify(text)}`);
      return Number(text.replaceAll(",", ""));
    };

    it("counts each distinct object, crossing and zone, draws the lines and zones, and strips the latest frames", async () => {
      const { source, unique, crossings, zones, lines, visits } = TRACKS;
      const url = `${VIEWER_URL}/sources/${encodeURIComponent(source)}?last=24h`;
      const response = await page.goto(url);
      assert.equal(response.status(), 200, url);
      assert.equal((await page.locator("h1").innerText()).trim(), `Source ${source}`);

      for (const [label, count] of Object.entries(unique)) {
        assert.equal(await shown(`unique-${label}`), count, `distinct ${label}s`);
      }
      for (const [line, count] of Object.entries(crossings)) {
        assert.equal(await shown(`crossing-${line}-in`), count.in ?? 0, `crossings of ${line} in`);
        assert.equal(await shown(`crossing-${line}-out`), count.out ?? 0, `crossings of ${line} out`);
      }
      for (const zone of zones) assert.equal(await shown(`zone-${zone}-visits`), visits[zone], `visits of ${zone}`);

      // Every crossing and visit is listed (fewer than the page's 50), each as the user drew its line or zone.
      const events = page.getByTestId("source-events");
      for (const [line, count] of Object.entries(crossings)) {
        for (const direction of ["in", "out"]) {
          const rows = events.locator(`tbody tr[data-kind="crossing"][data-name="${line}"][data-direction="${direction}"]`);
          assert.equal(await rows.count(), count[direction] ?? 0, `${line} ${direction} rows in the events table`);
        }
      }
      for (const zone of zones) {
        const rows = events.locator(`tbody tr[data-kind="zone"][data-name="${zone}"]`);
        assert.equal(await rows.count(), visits[zone], `${zone} rows in the events table`);
      }

      const drawing = page.getByTestId("lines-zones");
      for (const line of lines) {
        assert.equal(await drawing.locator(`[aria-label="line ${line}"]`).count(), 1, `line ${line} is drawn`);
      }
      for (const zone of zones) {
        assert.equal(await drawing.locator(`[aria-label="zone ${zone}"]`).count(), 1, `zone ${zone} is drawn`);
      }

      const frames = page.getByTestId("strip-frame");
      assert.ok((await frames.count()) >= 1, "the strip has no frame");
      const boxed = frames.filter({ has: page.locator("[data-track-id]") });
      assert.ok((await boxed.count()) >= 1, "no strip frame has a box with a track id");
      const trackIds = await boxed.first().locator("[data-track-id]").evaluateAll((boxes) =>
        boxes.map((box) => box.getAttribute("data-track-id")),
      );
      assert.ok(trackIds.every((id) => id && id.length >= 6), JSON.stringify(trackIds));

      await page.waitForLoadState("networkidle");
      await page.waitForFunction(() =>
        [...document.querySelectorAll(".lines-zones img")].every((img) => img.complete && img.naturalWidth > 0),
      );
      await screenshot("source.png", true);

      // A frame of the strip opens its image's page.
      const key = await boxed.first().getAttribute("data-image-key");
      assert.ok(key, "the strip frame names no image key");
      await boxed.first().click();
      await page.waitForURL((next) => decodeURIComponent(next.pathname) === `/images/${key}`);
      await page.locator(".key code").waitFor();
      assert.equal(await page.locator(".key code").innerText(), key);
    });
  },
);

describe("on a phone", () => {
  it("shows the journey's pages without sideways scrolling", async () => {
    await page.setViewportSize(PHONE);
    const pages = [
      "/",
      `/hours/${hourOf(keys[0])}?source=${SOURCE}`,
      `/images/${withClass[0]}`,
      `/search?last=1d&source=${SOURCE}`,
      ...(TRACKS === null ? [] : [`/sources/${encodeURIComponent(TRACKS.source)}?last=24h`]),
    ];
    for (const path of pages) {
      await page.goto(`${VIEWER_URL}${path}`);
      assert.equal(await overflow(), 0, `${path} scrolls sideways at ${PHONE.width} px`);
      if (path === "/") await screenshot("viewer-phone.png");
    }
    await page.setViewportSize({ width: 1280, height: 860 });
  });
});

describe("Dagster's UI", () => {
  it("shows the assets of the imgassets code location and the sensor's runs", async () => {
    await page.goto(`${DAGSTER_URL}/locations/imgassets/asset-groups/image_analytics`);
    // Dagster's UI greets a new browser with a community dialog once.
    const skip = page.getByRole("button", { name: "Skip" });
    await skip.waitFor({ timeout: 10_000 }).then(() => skip.click(), () => undefined);
    await page.getByText("detection_summary").first().waitFor({ timeout: 60_000 });
    assert.match(await page.locator("body").innerText(), /Asset Group in\s+imgassets\n/);
    await page.waitForTimeout(1_500); // the graph's layout settles
    await screenshot("dagster-assets.png");
    await page.goto(`${DAGSTER_URL}/runs`);
    await page.getByText("imgassets/trigger: kafka").first().waitFor({ timeout: 60_000 });
    await screenshot("dagster-runs.png");
  });

  it("materializes the user's hour again from the Materialize dialog, and the source stays", async () => {
    const hour = hourOf(keys[0]);
    const launched = Date.now() / 1000;
    await page.goto(`${DAGSTER_URL}/locations/imgassets/asset-groups/image_analytics`);
    await page.getByRole("button", { name: /Materialize all/ }).click();
    const partitions = page.getByPlaceholder("No matching partitions");
    await partitions.fill(hour);
    await partitions.press("Enter");
    // In the dialog: behind it, on the day's first hour, each asset of the graph also reads "1 partition".
    await page.getByRole("dialog").getByText("1 partition", { exact: true }).waitFor();
    await page.getByRole("button", { name: /^Launch (1 run|backfill)$/ }).click();
    const run = await poll(async () => {
      const { runsOrError } = await graphql(
        `query ($hour: String!) { runsOrError(filter: {tags: [{key: "dagster/partition", value: $hour}]}) {
           ... on Runs { results { runId status creationTime tags { key value } } } } }`,
        { hour },
      );
      return runsOrError.results.find(
        (r) => r.creationTime >= launched && !r.tags.some((t) => t.key === "imgassets/trigger"),
      );
    }, (found) => ["SUCCESS", "FAILURE", "CANCELED"].includes(found?.status), 240_000);
    assert.equal(run?.status, "SUCCESS", JSON.stringify(run));
    // The run read every image of the hour from S3, without Kafka: the name came from the stored image.
    const rows = sql(`SELECT image_key, source, run_id FROM images WHERE source = '${SOURCE}' ORDER BY 1`);
    const inHour = rows.filter((row) => hourOf(row.image_key) === hour);
    assert.deepEqual(inHour.map((row) => row.image_key), keys.filter((key) => hourOf(key) === hour));
    assert.ok(inHour.every((row) => row.run_id === run.runId), "the hour's table was rewritten by that run");
  });

  it("leads from a version's backfill to its compare page", async () => {
    await page.goto(`${VIEWER_URL}/compare?version=${VERSION}&last=1d`);
    assert.match(await page.locator('[data-testid="compare-title"]').innerText(), new RegExp(`^Compare ${VERSION} with`));
    assert.ok(Number(await page.locator(".result-total").getAttribute("data-hours")) >= 1, "no hour compared");
    await screenshot("viewer-compare.png");
  });

  it("compares a model added with `versions add` with the active version", async () => {
    await page.goto(`${VIEWER_URL}/compare?version=${ADDED.name}&last=1d`);
    const title = await page.locator('[data-testid="compare-title"]').innerText();
    assert.match(title, new RegExp(`^Compare ${ADDED.name} with default`));
    const described = await page.getByText(`layout ${ADDED.layout}, weights ${ADDED.model}`).count();
    assert.ok(described >= 1, `the page does not describe ${ADDED.name} as its ${ADDED.layout} model ${ADDED.model}`);
    assert.ok(Number(await page.locator(".result-total").getAttribute("data-hours")) >= 1, "no hour compared");
    for (const name of ["precision", "recall"]) {
      const value = Number(await page.locator(`[data-stat="${name}"]`).first().getAttribute("data-value"));
      // The same network read as a YOLOv8 export with letterboxing: close to the active version, not equal.
      assert.ok(value > 0.5 && value <= 1, `${name} ${value}`);
    }
  });
});
