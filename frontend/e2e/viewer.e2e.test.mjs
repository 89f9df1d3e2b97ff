// Browser tests of the viewer against a running server and the pipeline's real S3 output.
//
//   VIEWER_URL=http://127.0.0.1:3001 IMGASSETS_S3_ENDPOINT_URL=… IMGASSETS_S3_ACCESS_KEY_ID=… \
//   IMGASSETS_S3_SECRET_ACCESS_KEY=… IMGASSETS_CLI=/path/to/.venv/bin/imgassets \
//   IMGASSETS_QUERY_TOKEN=… npm run test:e2e          (the query endpoint's token; the local stack's: .local/query-token)
//
// Every expectation is read from S3 (summaries, detection records) or counted with SQL over the pipeline's tables
// (`imgassets query`, same IMGASSETS_* environment; the summaries count, the tables list the images): nothing here
// knows what was ingested. Needs at least one hour summary with one image that has detections, and that hour's
// tables. Screenshots go to test-artifacts/.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { chromium } from "playwright-core";

const VIEWER_URL = (process.env.VIEWER_URL ?? "http://127.0.0.1:3001").replace(/\/+$/, "");
const BUCKET = process.env.IMGASSETS_S3_BUCKET || "imgassets";
const ARTIFACTS = new URL("../test-artifacts/", import.meta.url);
const PAGE_SIZE = 48;
const TIMELINE_HOURS = 168;
const CLI = process.env.IMGASSETS_CLI ?? "imgassets";
const QUERY_URL = (process.env.IMGASSETS_QUERY_URL || "http://127.0.0.1:3002").replace(/\/+$/, "");
/** GET on the query endpoint, as the viewer's server asks it: with its bearer token (IMGASSETS_QUERY_TOKEN). */
const queryGet = (path) =>
  fetch(`${QUERY_URL}${path}`, { headers: { Authorization: `Bearer ${process.env.IMGASSETS_QUERY_TOKEN ?? ""}` } });

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

/** A JSON object of the bucket, or null when there is none. */
async function readOptional(key) {
  try {
    return await readJson(key);
  } catch (error) {
    if (error.name === "NoSuchKey" || error.$metadata?.httpStatusCode === 404) return null;
    throw error;
  }
}

/** The summary's key of an hour partition (2026-11-25-04:00 → summaries/2026/11/25/04.json). */
const summaryKeyOf = (partition) =>
  `summaries/${partition.slice(0, 10).replaceAll("-", "/")}/${partition.slice(11, 13)}.json`;

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

/** The boxes an overlay draws (its `rect.box` elements): label, confidence and pixel geometry. */
function drawnBoxes(locator) {
  return locator.evaluateAll((nodes) =>
    nodes.map((r) => ({
      label: r.dataset.label,
      confidence: Number(r.dataset.confidence),
      x: Number(r.getAttribute("x")),
      y: Number(r.getAttribute("y")),
      w: Number(r.getAttribute("width")),
      h: Number(r.getAttribute("height")),
    })),
  );
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

/** Rows of `sql` over the tables of a range of upload hours (`range`: --last 30d, or --from … --to …). */
function sql(range, text) {
  const out = execFileSync(CLI, ["query", ...range, "--format", "json", text], {
    encoding: "utf8",
    env: process.env,
    maxBuffer: 64 * 2 ** 20,
  });
  return out.split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line));
}

/** Rows of `sql` over one hour's tables. */
const hourSql = (partition, text) => sql(["--from", partition, "--to", shiftHour(partition, 1)], text);

/** The hour grid's order: newest processed first. */
const GRID_ORDER = "ORDER BY processed_at DESC, image_key DESC";

/** `text` as a SQL string literal. */
const literal = (text) => `'${text.replaceAll("'", "''")}'`;

/** The hour partition key `hours` after `partition` (2026-11-25-04:00). */
function shiftHour(partition, hours) {
  const time = Date.parse(`${partition.slice(0, 10)}T${partition.slice(11, 13)}:00:00Z`) + hours * 3_600_000;
  const iso = new Date(time).toISOString();
  return `${iso.slice(0, 10)}-${iso.slice(11, 13)}:00`;
}

const number = (text) => Number(text.replaceAll(",", "").trim());
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** The version the stack has backfilled (its detections and comparisons) for at least one hour. */
const VERSION = "conf03";

/** VERSION's comparisons in S3: the newest one and those of the week before it, oldest first. */
async function recentComparisons() {
  const prefix = `versions/${VERSION}/comparisons/`;
  const pattern = new RegExp(`^${prefix}\\d{4}/\\d{2}/\\d{2}/\\d{2}\\.json$`);
  const keys = [];
  let token;
  do {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }));
    for (const item of listed.Contents ?? []) if (pattern.test(item.Key)) keys.push(item.Key);
    token = listed.IsTruncated ? listed.NextContinuationToken : undefined;
  } while (token);
  assert.ok(
    keys.length > 0,
    `no comparison of ${VERSION} in S3: backfill ${VERSION}/detections and ${VERSION}/comparison from Dagster first`,
  );
  keys.sort();
  // The key's hour: versions/conf03/comparisons/2026/11/25/04.json → 2026-11-25-04:00
  const hourOf = (key) => {
    const [year, month, day, hour] = key.slice(prefix.length, -".json".length).split("/");
    return `${year}-${month}-${day}-${hour}:00`;
  };
  const weekBefore = shiftHour(hourOf(keys.at(-1)), -167);
  const comparisons = await Promise.all(keys.filter((key) => hourOf(key) >= weekBefore).map(readJson));
  return comparisons.sort((a, b) => a.partition.localeCompare(b.partition));
}

let browser;
let page;
let summaries;
/** The summaries whose hour has its tables (what the grids list), and the tables' image count of the timeline. */
let tabled;
let tabledImages;
/** Per tabled hour: images without objects, counted in its table. */
let emptyImages;
/** An image of the timeline's tables (image_key, detection_key). */
let sample;

async function screenshot(name) {
  await page.screenshot({ path: new URL(name, ARTIFACTS).pathname, fullPage: true });
}

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  summaries = await recentSummaries();
  assert.ok(summaries.length > 0, "no hour summary in S3: run the pipeline first");
  // Hours written before the tables existed (or whose tables are not written yet) have a summary but no grid.
  const range = ["--from", summaries.at(-1).partition, "--to", shiftHour(summaries[0].partition, 1)];
  const hours = sql(
    range,
    "SELECT strftime(upload_hour, '%Y-%m-%d-%H:00') AS partition, count(*) AS images, " +
      "count(*) FILTER (WHERE objects = 0) AS empty, max(image_key) AS image_key FROM images GROUP BY 1",
  );
  const perHour = new Map(hours.map((row) => [row.partition, row]));
  tabled = summaries.filter((summary) => perHour.get(summary.partition)?.images === summary.image_count);
  tabledImages = hours.reduce((sum, row) => sum + row.images, 0);
  emptyImages = new Map(hours.map((row) => [row.partition, row.empty]));
  assert.ok(tabled.length > 0, "no recent hour has its tables: run the pipeline (detection_table) first");
  [sample] = sql(range, `SELECT image_key, detection_key FROM images WHERE image_key = ${literal(hours[0].image_key)}`);
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

    // The latest uploads come from the tables of the same hours.
    const latest = await page.locator(".latest .card").count();
    assert.equal(latest, Math.min(12, tabledImages));
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
    const summary = tabled.find((s) => s.total_objects > 0);
    assert.ok(summary, "no image with detections in the recent summaries");
    await page.goto(`${VIEWER_URL}/`);
    await page.locator(`table.hours tr[data-partition="${summary.partition}"] a`).click();
    await page.waitForURL(`**/hours/${summary.partition}`);
    await page.locator(".result-count").waitFor();
    assert.equal(number(await page.locator('[data-stat="images"] b').innerText()), summary.image_count);
    // Counted here in the hour's table, not read from the summary's own field.
    assert.equal(number(await page.locator('[data-stat="empty"] b').innerText()), emptyImages.get(summary.partition));
    assert.equal(await page.locator(".grid .card").count(), Math.min(PAGE_SIZE, summary.image_count));
    const firstPage = hourSql(
      summary.partition,
      `SELECT image_key, detection_key, objects FROM images ${GRID_ORDER} LIMIT ${PAGE_SIZE}`,
    );
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
    const rects = await drawnBoxes(page.locator(".overlay rect.box"));
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
    const summary = tabled.reduce((best, s) =>
      Object.keys(s.images_with_class).length > Object.keys(best.images_with_class).length ? s : best,
    );
    const [label] = Object.entries(summary.images_with_class).sort((a, b) => b[1] - a[1])[0] ?? [];
    assert.ok(label, "no class detected in any recent hour");
    // Per image with the class, its detections of it.
    const counts = hourSql(
      summary.partition,
      `SELECT image_key, count(*) AS n FROM detections WHERE label = ${literal(label)} GROUP BY image_key`,
    ).map((row) => row.n);
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
    const summary = tabled.reduce((best, s) => (s.image_count > best.image_count ? s : best));
    const pages = Math.ceil(summary.image_count / PAGE_SIZE);
    await page.goto(`${VIEWER_URL}/hours/${summary.partition}?page=${pages}`);
    const keys = await page.locator(".grid .card").evaluateAll((cards) => cards.map((c) => c.dataset.imageKey));
    const last = hourSql(
      summary.partition,
      `SELECT image_key FROM images ${GRID_ORDER} LIMIT ${PAGE_SIZE} OFFSET ${(pages - 1) * PAGE_SIZE}`,
    );
    assert.deepEqual(keys, last.map((image) => image.image_key));
  });

  it("filters the grid by source, alone and with a class", async () => {
    const summary = tabled.reduce((best, s) =>
      Object.keys(s.source_counts ?? {}).length > Object.keys(best.source_counts ?? {}).length ? s : best,
    );
    const sources = Object.entries(summary.source_counts ?? {});
    assert.ok(sources.length > 0, "no recent summary counts sources");
    const [source, count] = sources.sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]))[0];
    const total = async (expected) => {
      await page.locator(`.result-count[data-total="${expected}"]`).waitFor({ timeout: 5_000 }).catch(() => {});
      return Number(await page.locator(".result-count").getAttribute("data-total"));
    };

    await page.goto(`${VIEWER_URL}/hours/${summary.partition}`);
    const offered = await page.locator('select[name="source"] option').evaluateAll((options) =>
      options.map((option) => option.value).filter(Boolean),
    );
    assert.deepEqual(offered, Object.keys(summary.source_counts).sort());
    await page.locator('select[name="source"]').selectOption(source);
    await page.locator("button[type=submit]").click();
    await page.waitForURL((url) => url.searchParams.get("source") === source);
    assert.equal(await total(count), count);
    assert.equal(await page.locator(".grid .card").count(), Math.min(PAGE_SIZE, count));
    const fromSource = hourSql(summary.partition, `SELECT image_key FROM images WHERE source = ${literal(source)} ${GRID_ORDER}`);
    assert.equal(fromSource.length, count, "the summary and the table agree");
    const keys = await page.locator(".grid .card").evaluateAll((cards) => cards.map((c) => c.dataset.imageKey));
    assert.deepEqual(keys, fromSource.slice(0, PAGE_SIZE).map((image) => image.image_key));

    // With a class too: both filters hold.
    const [top] = hourSql(
      summary.partition,
      `SELECT label, count(DISTINCT image_key) AS images FROM detections WHERE source = ${literal(source)} ` +
        "GROUP BY label ORDER BY images DESC, label LIMIT 1",
    );
    if (top !== undefined) {
      const { label, images: both } = top;
      await page.locator('select[name="class"]').selectOption(label);
      await page.locator("button[type=submit]").click();
      await page.waitForURL((url) => url.searchParams.get("class") === label && url.searchParams.get("source") === source);
      assert.equal(await total(both), both);
      assert.equal(await page.locator(".grid .card").count(), Math.min(PAGE_SIZE, both));
    }
    await screenshot("hour-source.png");
  });
});

describe("search", () => {
  const LAST = ["--last", "30d"];
  /** Images with at least `count` detections of each label, at `confidence` or more: the search's definition. */
  const expectedTotal = (conditions, confidence = 0) => {
    const labels = conditions.map(([label]) => literal(label)).join(", ");
    const having = conditions
      .map(([label, count]) => `count(*) FILTER (WHERE label = ${literal(label)}) >= ${count}`)
      .join(" AND ");
    const [{ n }] = sql(
      LAST,
      `SELECT count(*) AS n FROM (SELECT image_key FROM detections WHERE confidence >= ${confidence} ` +
        `AND label IN (${labels}) GROUP BY image_key HAVING ${having})`,
    );
    return n;
  };
  const shownTotal = () => page.locator(".result-total").getAttribute("data-total").then(Number);
  const cardKeys = () => page.locator(".grid .card").evaluateAll((cards) => cards.map((c) => c.dataset.imageKey));
  const barSum = () =>
    page.locator(".search-chart [data-bucket]").evaluateAll((bars) => bars.reduce((sum, b) => sum + Number(b.dataset.matches), 0));
  let label;
  let shared;
  let total;

  before(() => {
    // The class found on the most images of the last 30 days.
    [{ label }] = sql(
      LAST,
      "SELECT label, count(DISTINCT image_key) AS images FROM detections GROUP BY label ORDER BY images DESC, label LIMIT 1",
    );
  });

  it("finds the images with a class, as many as SQL counts, paged and charted", async () => {
    await page.goto(`${VIEWER_URL}/`);
    await page.locator(".topnav a", { hasText: "Search" }).click();
    await page.waitForURL(`${VIEWER_URL}/search`);
    await page.locator('.search-form select[name="last"]').selectOption("30d");
    const row = page.locator(".search-form .condition").first();
    await row.locator('input[name="label"]').fill(label);
    await row.locator('input[name="count"]').fill("1");
    await page.locator(".search-form button[type=submit]").click();
    // The form's rows become the canonical, shareable query: class=label:count.
    await page.waitForURL((url) => url.searchParams.getAll("class").length === 1);
    const url = new URL(page.url());
    assert.equal(url.searchParams.get("last"), "30d");
    assert.deepEqual(url.searchParams.getAll("class"), [`${label}:1`]);
    assert.ok(!url.searchParams.has("label") && !url.searchParams.has("count"), url.search);
    shared = url.search;

    total = expectedTotal([[label, 1]]);
    assert.ok(total > 0);
    await page.locator(`.result-total[data-total="${total}"]`).waitFor({ timeout: 5_000 }).catch(() => {});
    assert.equal(await shownTotal(), total);
    const first = await cardKeys();
    assert.equal(first.length, Math.min(PAGE_SIZE, total));
    assert.equal(await barSum(), total);
    assert.equal(await page.locator(".search-chart").getAttribute("data-bucket-size"), "day");
    await screenshot("search.png");

    if (total > PAGE_SIZE) {
      await page.locator(".pager a[rel=next]").click();
      await page.waitForURL((u) => u.searchParams.get("page") === "2");
      // Client-side navigation changes the URL before React commits the new page.
      await page.locator('.result-total[data-page="2"]').waitFor();
      const second = await cardKeys();
      assert.equal(second.length, Math.min(PAGE_SIZE, total - PAGE_SIZE));
      assert.ok(second.every((key) => !first.includes(key)), "page 2 repeats page 1");
      assert.equal(await shownTotal(), total);
      assert.equal(await barSum(), total);
    }

    // Each card leads to its image page.
    await page.locator(".grid .card a.name").first().click();
    await page.waitForURL("**/images/images/**");
    await page.locator(".overlay svg").waitFor();
  });

  it("downloads every match as CSV and Parquet", async () => {
    await page.goto(`${VIEWER_URL}/search${shared}`);
    const csvDownload = page.waitForEvent("download");
    await page.locator('a[data-download="csv"]').click();
    const csv = await csvDownload;
    assert.equal(csv.suggestedFilename(), "imgassets-matches.csv");
    const lines = readFileSync(await csv.path(), "utf8").split("\n").filter((line) => line !== "");
    assert.equal(lines.length, total + 1, "a header and one line per match");
    assert.match(lines[0], /image_key/);
    const pageKeys = await cardKeys();
    const csvKeys = new Set(lines.slice(1).map((line) => line.split(",")[0].replaceAll('"', "")));
    assert.ok(pageKeys.every((key) => csvKeys.has(key)), "the CSV lists the shown images");

    const parquetDownload = page.waitForEvent("download");
    await page.locator('a[data-download="parquet"]').click();
    const parquet = readFileSync(await (await parquetDownload).path());
    assert.equal(parquet.subarray(0, 4).toString("latin1"), "PAR1");
    assert.equal(parquet.subarray(-4).toString("latin1"), "PAR1");
  });

  it("gives the same result to a shared URL", async () => {
    const other = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      const response = await other.goto(`${VIEWER_URL}/search${shared}`);
      assert.equal(response.status(), 200);
      assert.equal(Number(await other.locator(".result-total").getAttribute("data-total")), total);
      assert.deepEqual(await other.locator('.search-form input[name="label"]').evaluateAll((inputs) => inputs.map((i) => i.value)), [
        label,
      ]);
    } finally {
      await other.close();
    }
    await page.goto(`${VIEWER_URL}/search${shared}`);
    await page.reload();
    assert.equal(await shownTotal(), total);
  });

  it("combines conditions with AND and a minimum confidence", async () => {
    const [partner] = sql(
      LAST,
      `SELECT b.label, count(DISTINCT b.image_key) AS images FROM detections a JOIN detections b USING (image_key) ` +
        `WHERE a.label = ${literal(label)} AND b.label <> ${literal(label)} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1`,
    );
    if (partner === undefined) return; // the class never appears with another one
    await page.goto(`${VIEWER_URL}/search${shared}`);
    const rows = page.locator(".search-form .condition");
    // The button works once React has hydrated the page: click until it has.
    for (let attempt = 0; attempt < 50 && (await rows.count()) === 1; attempt += 1) {
      await page.locator(".search-form button.add").click();
      await page.waitForTimeout(100);
    }
    assert.equal(await rows.count(), 2);
    await rows.nth(1).locator('input[name="label"]').fill(partner.label);
    await rows.nth(1).locator('input[name="count"]').fill("1");
    await page.locator(".search-form button[type=submit]").click();
    await page.waitForURL((url) => url.searchParams.getAll("class").length === 2);
    const both = expectedTotal([
      [label, 1],
      [partner.label, 1],
    ]);
    await page.locator(`.result-total[data-total="${both}"]`).waitFor({ timeout: 5_000 }).catch(() => {});
    assert.equal(await shownTotal(), both);
    assert.ok(both > 0 && both <= total);
    assert.equal(await barSum(), both);

    const url = new URL(page.url());
    url.searchParams.set("min_confidence", "0.9");
    await page.goto(url.href);
    const confident = expectedTotal(
      [
        [label, 1],
        [partner.label, 1],
      ],
      0.9,
    );
    assert.equal(await shownTotal(), confident);
    assert.equal(await page.locator(".grid .card").count(), Math.min(PAGE_SIZE, confident));
  });

  it("shows the endpoint's message for a bad condition", async () => {
    const bad = `?last=30d&class=${encodeURIComponent(label)}:0`;
    const refusal = await queryGet(`/search${bad}`);
    assert.equal(refusal.status, 400);
    const { error } = await refusal.json();
    const response = await page.goto(`${VIEWER_URL}/search${bad}`);
    assert.equal(response.status(), 400);
    assert.equal(await page.locator(".search-error").innerText(), error);
    assert.equal(await page.locator(".result-total").count(), 0);
    // The form still shows the search, to correct it.
    assert.equal(await page.locator('.search-form input[name="count"]').inputValue(), "0");
    await screenshot("search-refused.png");
    const download = await fetch(`${VIEWER_URL}/search/download/csv${bad}`);
    assert.equal(download.status, 400);
    assert.equal((await rawGet("/search/download/xlsx?last=30d")).status, 404);
  });
});

describe("compare page", () => {
  /** The comparisons read from S3: the newest one and those of the week before it, oldest first. */
  let comparisons;
  let from;
  let to;
  /** Every disagreement of those hours, and the page's URL for them. */
  let disagreements;
  let compareUrl;
  const stat = (name) => page.locator(`[data-stat="${name}"]`);
  const boxes = (layer) => page.locator(`.overlay rect.box[data-layer="${layer}"]`);

  before(async () => {
    comparisons = await recentComparisons();
    from = comparisons[0].partition;
    to = shiftHour(comparisons.at(-1).partition, 1);
    disagreements = comparisons.flatMap((c) => c.disagreements);
    compareUrl = `${VIEWER_URL}/compare?version=${VERSION}&from=${from}&to=${to}`;
  });

  it("is in the navigation, and opens on a version other than the active one", async () => {
    const { active, versions } = await (await queryGet("/versions")).json();
    await page.goto(`${VIEWER_URL}/`);
    await page.locator(".topnav a", { hasText: "Compare" }).click();
    await page.waitForURL((url) => url.pathname === "/compare" && url.searchParams.has("version"));
    const chosen = new URL(page.url()).searchParams.get("version");
    assert.notEqual(chosen, active);
    assert.ok(versions.some((version) => version.name === chosen && !version.active), chosen);
    await page.locator('[data-testid="compare-title"]').waitFor();
    assert.match(await page.locator('[data-testid="compare-title"]').innerText(), new RegExp(`with ${active} \\(active\\)`));
  });

  it("shows the totals, classes and both timelines of the comparisons in S3", async () => {
    const response = await page.goto(compareUrl);
    assert.equal(response.status(), 200);
    const sum = (field) => comparisons.reduce((total, c) => total + c[field], 0);
    const value = async (name) => stat(name).getAttribute("data-value");
    for (const field of ["images", "objects_a", "objects_b", "matched"]) {
      assert.equal(Number(await value(field)), sum(field), field);
      assert.equal(number(await stat(field).locator("b").innerText()), sum(field), field);
    }
    assert.equal(Number(await value("disagreements")), disagreements.length);
    // Precision and recall of the whole range: B's matched boxes over B's, over A's ("—" when there are none).
    for (const [name, whole] of [
      ["precision", sum("objects_b")],
      ["recall", sum("objects_a")],
    ]) {
      if (whole === 0) {
        assert.equal(await value(name), "");
        assert.equal(await stat(name).locator("b").innerText(), "—");
      } else {
        assert.ok(Math.abs(Number(await value(name)) - sum("matched") / whole) < 1e-3, name);
      }
    }
    assert.match(await page.locator('[data-testid="compare-title"]').innerText(), new RegExp(`Compare ${VERSION} with`));
    // Each side's detector, as configured now (the comparisons keep the one they were made with).
    assert.notEqual((await page.locator('[data-field="detector_a"]').innerText()).trim(), "");
    assert.notEqual((await page.locator('[data-field="detector_b"]').innerText()).trim(), "");

    // One pair of bars per hour compared, each linking to its hour.
    const bars = await page.locator(".compare-chart [data-partition]").evaluateAll((links) =>
      links.map((a) => ({
        partition: a.dataset.partition,
        a: Number(a.dataset.objectsA),
        b: Number(a.dataset.objectsB),
        href: a.getAttribute("href"),
      })),
    );
    assert.equal(bars.length, comparisons.length);
    assert.deepEqual(
      bars,
      comparisons.map((c) => ({ partition: c.partition, a: c.objects_a, b: c.objects_b, href: `/hours/${c.partition}` })),
    );
    assert.equal(await page.locator(".compare-chart rect.series-a").count(), comparisons.length);
    assert.equal(await page.locator(".compare-chart rect.series-b").count(), comparisons.length);

    const classes = new Map();
    for (const agreement of comparisons.flatMap((c) => c.classes)) {
      const total = classes.get(agreement.label) ?? { a: 0, b: 0, matched: 0 };
      for (const field of ["a", "b", "matched"]) total[field] += agreement[field];
      classes.set(agreement.label, total);
    }
    const rows = await page.locator("table.compare-classes tbody tr").evaluateAll((trs) =>
      trs.map((tr) => [tr.dataset.label, { a: Number(tr.dataset.a), b: Number(tr.dataset.b), matched: Number(tr.dataset.matched) }]),
    );
    assert.deepEqual(new Map(rows), classes);

    // The first page of disagreements, largest difference first.
    const differences = await page.locator('table.disagreements td[data-field="difference"]').allInnerTexts();
    assert.deepEqual(
      differences.map(Number),
      disagreements.map((d) => d.difference).sort((x, y) => y - x).slice(0, PAGE_SIZE),
    );
    await screenshot("compare.png");
  });

  it("sorts the disagreements by the boxes only the version has", async (t) => {
    if (disagreements.length === 0) {
      t.skip(`${VERSION} agrees with the active version on every image of ${from} … ${to}`);
      return;
    }
    await page.goto(`${compareUrl}&page=2`);
    await page.locator('[data-testid="sort-only_b"]').click();
    await page.waitForURL((url) => url.searchParams.get("sort") === "only_b");
    assert.equal(new URL(page.url()).searchParams.get("page"), null, "a new order starts at page 1");
    // Client-side navigation changes the URL before React commits the new page.
    await page.locator('table.disagreements[data-sort="only_b"][data-page="1"]').waitFor();
    const onlyB = (await page.locator('table.disagreements td[data-field="only_b"]').allInnerTexts()).map(Number);
    assert.equal(onlyB.length, Math.min(PAGE_SIZE, disagreements.length));
    assert.ok(onlyB.every((value, index) => index === 0 || onlyB[index - 1] >= value), `not descending: ${onlyB}`);
    assert.deepEqual(onlyB, disagreements.map((d) => d.only_b).sort((x, y) => y - x).slice(0, PAGE_SIZE));
    const rows = await page.locator('[data-testid="disagreement"]').evaluateAll((trs) =>
      trs.map((tr) => [tr.dataset.imageKey, Number(tr.querySelector('[data-field="only_b"]').textContent)]),
    );
    const expected = new Map(disagreements.map((d) => [d.image_key, d.only_b]));
    for (const [key, shown] of rows) assert.equal(shown, expected.get(key), key);
    await screenshot("compare-sorted.png");
  });

  it("draws both versions' boxes of a disagreement, and hides either set", async (t) => {
    if (disagreements.length === 0) {
      t.skip(`${VERSION} agrees with the active version on every image of ${from} … ${to}`);
      return;
    }
    await page.goto(compareUrl);
    const first = page.locator('[data-testid="disagreement"]').first();
    const key = await first.getAttribute("data-image-key");
    await first.locator('[data-testid="disagreement-link"]').click();
    await page.waitForURL((url) => url.pathname === `/compare/images/${key}`);
    assert.equal(new URL(page.url()).searchParams.get("version"), VERSION);

    const detectionKey = `${key.replace(/^images\//, "detections/")}.json`;
    const [recordA, recordB] = await Promise.all([
      readOptional(detectionKey),
      readOptional(`versions/${VERSION}/${detectionKey}`),
    ]);
    assert.ok(recordA || recordB, `neither version has a record of ${key}`);
    const drawn = (record) =>
      (record?.detections ?? []).map((d) => ({ label: d.label, confidence: d.confidence, ...d.box }));
    const a = drawn(recordA);
    const b = drawn(recordB);
    await page.locator(".overlay svg").waitFor();
    const sized = recordA ?? recordB;
    assert.equal(await page.locator(".overlay svg").getAttribute("viewBox"), `0 0 ${sized.image_width} ${sized.image_height}`);
    const rects = (layer) => drawnBoxes(boxes(layer));
    assert.deepEqual(await rects("a"), a);
    assert.deepEqual(await rects("b"), b);
    // Two styles: B's boxes are dashed, A's are not.
    assert.equal(await page.locator(".overlay rect.box.dashed:not([data-layer='b'])").count(), 0);
    assert.equal(await page.locator(".overlay rect.box.dashed[data-layer='b']").count(), b.length);
    for (const [side, record] of [
      ["a", recordA],
      ["b", recordB],
    ]) {
      const list = page.locator(`[data-testid="detections-${side}"]`);
      if (record === null) {
        assert.equal(await list.locator(`[data-testid="no-record-${side}"]`).count(), 1, side);
      } else {
        assert.equal(await list.locator("tbody tr").count(), record.detections.length, side);
      }
    }
    await page.waitForFunction(() => {
      const img = document.querySelector(".overlay img");
      return img?.complete && img.naturalWidth > 0;
    });
    await screenshot("compare-image.png");

    /** Waits until the page draws `countA` boxes of A and `countB` of B (the toggle's links navigate). */
    const drawsBoxes = async (countA, countB) => {
      await page
        .waitForFunction(
          ([wantA, wantB]) =>
            document.querySelectorAll('.overlay rect.box[data-layer="a"]').length === wantA &&
            document.querySelectorAll('.overlay rect.box[data-layer="b"]').length === wantB,
          [countA, countB],
          { timeout: 5_000 },
        )
        .catch(() => {});
      assert.deepEqual([await boxes("a").count(), await boxes("b").count()], [countA, countB]);
    };
    await page.locator('[data-testid="show-a"]').click();
    await page.waitForURL((url) => url.searchParams.get("show") === "a");
    await drawsBoxes(a.length, 0);
    await page.locator('[data-testid="show-b"]').click();
    await page.waitForURL((url) => url.searchParams.get("show") === "b");
    await drawsBoxes(0, b.length);
    await screenshot("compare-image-b.png");
    await page.locator('[data-testid="show-both"]').click();
    await page.waitForURL((url) => !url.searchParams.has("show"));
    await drawsBoxes(a.length, b.length);

    // Back to the same comparison, and on to the image's own page.
    const back = new URL(await page.locator('[data-testid="back-to-compare"]').getAttribute("href"), VIEWER_URL);
    assert.equal(back.pathname, "/compare");
    assert.equal(back.searchParams.get("version"), VERSION);
    assert.equal(back.searchParams.get("from"), from);
    assert.equal(await page.locator('[data-testid="image-page"]').getAttribute("href"), `/images/${key}`);
  });

  it("shows the endpoint's message for the active version", async () => {
    const { active } = await (await queryGet("/versions")).json();
    const refusal = await queryGet(`/versions/${active}/compare?last=7d`);
    assert.equal(refusal.status, 400);
    const { error } = await refusal.json();
    const response = await page.goto(`${VIEWER_URL}/compare?version=${active}&last=7d`);
    assert.equal(response.status(), 400);
    assert.equal(await page.locator('[data-testid="compare-error"]').innerText(), error);
    assert.equal(await page.locator("[data-stat]").count(), 0);
    // The chooser still offers the versions to compare.
    const offered = await page.locator('[data-testid="version-select"] option').evaluateAll((options) => options.map((o) => o.value));
    assert.ok(offered.includes(VERSION), offered.join(", "));
    await screenshot("compare-refused.png");
  });
});

describe("refusals and missing objects", () => {
  it("refuses keys outside the image layout", async () => {
    const summaryKey = summaryKeyOf(summaries[0].partition);
    const image = sample;
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
      assert.ok(!body.includes("imgassets.summary.") && !body.includes("imgassets.detections.v1"), path);
    }
  });

  it("serves images and thumbnails with their type and cache headers", async () => {
    const image = sample;
    for (const kind of ["original", "thumbnail"]) {
      const response = await fetch(`${VIEWER_URL}/media/${kind}/${image.image_key}`);
      assert.equal(response.status, 200);
      assert.match(response.headers.get("content-type"), /^image\//);
      assert.match(response.headers.get("cache-control"), /max-age=\d+/);
      assert.ok((await response.arrayBuffer()).byteLength > 0);
    }
  });

  it("shows a 404 page for an image that does not exist", async () => {
    const image = sample;
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
    const summary = tabled.reduce((best, s) => (s.image_count > best.image_count ? s : best));
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

describe("phone width", () => {
  const PHONE = { width: 390, height: 844 };
  let phone;
  /** Per kind of page: its path, the element it has once rendered, and its status. */
  const kinds = {};

  before(async () => {
    phone = await browser.newPage({ viewport: PHONE });
    const comparisons = await recentComparisons();
    const [disagreement] = comparisons.flatMap((c) => c.disagreements);
    const compared = `from=${comparisons[0].partition}&to=${shiftHour(comparisons.at(-1).partition, 1)}`;
    // An hour with images of a class, searched for that class over that hour: one result at least.
    const searched = tabled.find((s) => Object.keys(s.images_with_class).length > 0);
    assert.ok(searched, "no class detected in any recent hour");
    const [label] = Object.keys(searched.images_with_class);
    const minute = (partition) => `${partition.slice(0, 10)}T${partition.slice(11)}`;
    const searchRange = `from=${minute(searched.partition)}&to=${minute(shiftHour(searched.partition, 1))}`;
    // The newest hour without a summary before the newest one with.
    let empty = shiftHour(summaries[0].partition, -1);
    while ((await readOptional(summaryKeyOf(empty))) !== null) empty = shiftHour(empty, -1);
    Object.assign(kinds, {
      overview: { path: "/", ready: '[data-stat="images"]' },
      hour: { path: `/hours/${tabled[0].partition}`, ready: ".result-count" },
      image: { path: `/images/${sample.image_key}`, ready: ".overlay svg" },
      search: { path: `/search?${searchRange}&class=${encodeURIComponent(label)}:1`, ready: ".grid .card" },
      compare: { path: `/compare?version=${VERSION}&${compared}`, ready: '[data-testid="compare-title"]' },
      "compare image": {
        path: `/compare/images/${disagreement?.image_key ?? sample.image_key}?version=${VERSION}&${compared}`,
        ready: ".overlay svg",
      },
      "empty hour": { path: `/hours/${empty}`, ready: '[data-testid="empty-hour"]' },
      "not found": { path: "/no/such/page", ready: ".error", status: 404 },
    });
  });

  after(() => phone?.close());

  for (const kind of ["overview", "hour", "image", "search", "compare", "compare image", "empty hour", "not found"]) {
    it(`shows the ${kind} page without scrolling sideways, with the navigation in view`, async () => {
      const { path, ready, status = 200 } = kinds[kind];
      const response = await phone.goto(`${VIEWER_URL}${path}`, { waitUntil: "load" });
      assert.equal(response.status(), status, `${kind}: ${path}`);
      await phone.locator(ready).first().waitFor();
      const { scrollWidth, innerWidth } = await phone.evaluate(() => ({
        scrollWidth: document.documentElement.scrollWidth,
        innerWidth: window.innerWidth,
      }));
      assert.ok(
        scrollWidth <= innerWidth,
        `the ${kind} page (${path}) is ${scrollWidth} px wide in a ${innerWidth} px wide window`,
      );

      // Every link of the header within the window, and on the header (its text is light on the header's dark).
      const header = await phone.locator(".topbar").boundingBox();
      const within = (box, area) =>
        box.x >= area.x &&
        box.y >= area.y &&
        box.x + box.width <= area.x + area.width &&
        box.y + box.height <= area.y + area.height;
      const links = phone.locator(".topnav a");
      assert.deepEqual(await links.allInnerTexts(), ["Overview", "Search", "Compare"]);
      for (const link of await links.all()) {
        const [name, box] = [await link.innerText(), await link.boundingBox()];
        assert.ok(await link.isVisible(), `${kind}: ${name} is hidden`);
        assert.ok(
          within(box, { x: 0, y: 0, ...PHONE }),
          `${kind}: the ${name} link (${JSON.stringify(box)}) is not inside the ${innerWidth}×${PHONE.height} window`,
        );
        assert.ok(within(box, header), `${kind}: the ${name} link is outside the header (${JSON.stringify(header)})`);
      }
      if (kind === "empty hour") {
        assert.match(await phone.locator('[data-testid="empty-hour"]').innerText(), /No images in this hour/);
        assert.equal(await phone.locator(".crumbs a[rel=prev], .crumbs a[rel=next]").count(), 2);
      }
      const file = new URL(`phone-${kind.replace(" ", "-")}.png`, ARTIFACTS).pathname;
      await phone.screenshot({ path: file, fullPage: true });
    });
  }
});
